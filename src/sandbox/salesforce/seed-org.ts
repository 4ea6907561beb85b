/**
 * Seeds a realistic, pre-existing Salesforce org from generated Leadpipe people, deterministically (one
 * seed and a fresh sandbox → the same records, ids and manifest), so tests and the demo can prove that a
 * sync finds what is already there, routes Contact before Lead, and respects what humans set:
 *
 * - a share of the people who have a business email exist as Contacts under it (default 20% of all
 *   people), some with a human-set Title and/or Phone that differs from Leadpipe's, some with the email
 *   typed in mixed case (Salesforce keeps the case; matching must not care);
 * - some of those Contacts came from a converted Lead (default 30%): the Lead has the same email,
 *   IsConverted true and ConvertedContactId pointing at the Contact (it must never be written);
 * - a few of those Contacts also have an unconverted Lead under the same email (default 5%): the same
 *   person as Lead and Contact, which the Contact must win;
 * - a share of the other people exist as unconverted Leads under their primary email (default 15%), some
 *   with a human-set Title or a Rating;
 * - a share of the distinct company domains exist as Accounts with Website = the domain (default 40%),
 *   some named differently by a human; most of their Contacts point at them (AccountId);
 * - Opportunities on some Contacts' Accounts (with an OpportunityContactRole for the Contact) and on some
 *   Accounts alone: open without priority, open with a human-set Leadpipe_Priority__c 'High' or 'Low',
 *   and closed (Closed Won / Closed Lost, sometimes with a stale priority). Priorities are only set when
 *   the org has the field (`customFields` on, or installed).
 *
 * Records go through the sandbox's seeding API (no HTTP, no API allocation, no duplicate rules).
 */
import {
  allocateKinds,
  COMPANY_RENAMES,
  DEFAULT_KIND_WEIGHTS,
  HUMAN_TITLES,
  isFreshPerson,
  sampleShare,
  SEED_RECORD_KINDS,
  shareOption,
  titleCase,
  type SeedRecordKind,
} from '../seed-helpers';
import type { GeneratedRow, LeadpipeResultRow } from '../generate-people';
import { createRandom } from '../random';
import { isValidEmail, OPEN_STAGES } from './schema';
import type { SalesforceSandbox, SeedFields } from './types';

export const SEED_OPPORTUNITY_KINDS = SEED_RECORD_KINDS;
export type SeedOpportunityKind = SeedRecordKind;

export interface SeedOrgOptions {
  seed: number | string;
  /** Share of all people that exist as Contacts under their business email (default 0.2; only people with one qualify). */
  contactShare?: number;
  /** Share of those Contacts that came from a converted Lead (default 0.3). */
  convertedLeadShare?: number;
  /** Share of those Contacts that also have an unconverted Lead under the same email (default 0.05). */
  leadAndContactShare?: number;
  /** Share of all people that exist (only) as unconverted Leads (default 0.15). */
  leadShare?: number;
  /** Share of distinct company domains that exist as Accounts (default 0.4). */
  accountShare?: number;
  /** Share of Contacts (and of Leads) with a human-set Title differing from Leadpipe's (default 0.5). */
  humanTitleShare?: number;
  /** Share of Contacts with a human-set Phone differing from Leadpipe's (default 0.3). */
  humanPhoneShare?: number;
  /** Share of Leads with a human-set Rating (default 0.3). */
  humanRatingShare?: number;
  /** Share of Contacts and Leads whose email is stored in mixed case (default 0.1). */
  mixedCaseEmailShare?: number;
  /** Share of Accounts a human named differently from Leadpipe's company name (default 0.3). */
  renamedAccountShare?: number;
  /** Share of Contacts whose domain has an Account that point at it (default 0.8). */
  contactAccountShare?: number;
  /** Share of Contacts with an Opportunity and a contact role (default 0.3). */
  contactOpportunityShare?: number;
  /** Share of Accounts with an Opportunity of their own, without contact roles (default 0.2). */
  accountOpportunityShare?: number;
  /** Relative weights of the Opportunity kinds (default 35/15/20/15/15 %); each kind once when there are enough. */
  opportunityKinds?: Partial<Record<SeedOpportunityKind, number>>;
  /** The day Opportunity close dates are relative to (ms; default now). */
  today?: number;
}

export interface SeededOpportunity {
  id: string;
  kind: SeedOpportunityKind;
  stage: string;
  closed: boolean;
  /** Leadpipe_Priority__c as seeded, or null. */
  priority: string | null;
  accountId: string | null;
  /** Contacts with a contact role on it. */
  contactIds: string[];
  contactRoleIds: string[];
}

export interface SeedOrgManifest {
  /** Lower-cased business email → Contact id. */
  contactsByEmail: Record<string, string>;
  /** Lower-cased primary email → unconverted Lead id (people who exist only as Leads). */
  leadsByEmail: Record<string, string>;
  /** Converted Leads: same email as their Contact. */
  convertedLeads: Array<{ leadId: string; email: string; contactId: string; accountId: string | null }>;
  /** People who are both an unconverted Lead and a Contact under the same email. */
  leadAndContact: Array<{ email: string; leadId: string; contactId: string }>;
  /** Lower-cased domain → Account id. */
  accountsByDomain: Record<string, string>;
  renamedAccounts: Array<{ accountId: string; domain: string; name: string; leadpipeName: string }>;
  /** Contacts with a human-set value that differs from Leadpipe's. */
  humanContactFields: Array<{ contactId: string; email: string; Title?: string; Phone?: string }>;
  /** Unconverted Leads with a human-set value. */
  humanLeadFields: Array<{ leadId: string; email: string; Title?: string; Rating?: string }>;
  /** Records whose email is stored in mixed case (`stored`), with its lower-cased form. */
  mixedCaseEmails: Array<{ type: 'Contact' | 'Lead'; id: string; stored: string; email: string }>;
  contactAccounts: Array<{ contactId: string; accountId: string }>;
  opportunities: SeededOpportunity[];
}


const RATINGS = ['Hot', 'Warm', 'Cold'] as const;
const OPPORTUNITY_SUFFIXES: readonly string[] = ['New business', 'Expansion', 'Renewal', 'Pilot', 'Platform upgrade'];
const ROLES: readonly string[] = ['Decision Maker', 'Economic Buyer', 'Evaluator', 'Influencer', 'Technical Buyer'];
/** Salesforce's placeholder for a required value nobody provided. */
const NOT_PROVIDED = '[not provided]';
const DAY_MS = 86_400_000;





/** `jane.doe@acme.com` → `Jane.Doe@Acme.com`. */
function mixedCase(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  const cap = (s: string): string => s.replace(/(^|[._-])([a-z])/g, (_m, sep: string, ch: string) => `${sep}${ch.toUpperCase()}`);
  const mixed = `${cap(local)}@${cap(domain)}`;
  return mixed === email ? email.toUpperCase() : mixed;
}


/**
 * Seeds the org from people generated by `generatePeople` (rows of kind 'person' without `duplicateOf`;
 * other rows are skipped) and returns what it seeded.
 */
export function seedOrgFromPeople(sandbox: SalesforceSandbox, rows: Iterable<GeneratedRow>, options: SeedOrgOptions): SeedOrgManifest {
  const rng = createRandom(`salesforce-org\u0000${String(options.seed)}`);
  const contactShare = shareOption('seedOrgFromPeople', 'contactShare', options.contactShare, 0.2);
  const convertedShare = shareOption('seedOrgFromPeople', 'convertedLeadShare', options.convertedLeadShare, 0.3);
  const leadAndContactShare = shareOption('seedOrgFromPeople', 'leadAndContactShare', options.leadAndContactShare, 0.05);
  const leadShare = shareOption('seedOrgFromPeople', 'leadShare', options.leadShare, 0.15);
  const accountShare = shareOption('seedOrgFromPeople', 'accountShare', options.accountShare, 0.4);
  const titleShare = shareOption('seedOrgFromPeople', 'humanTitleShare', options.humanTitleShare, 0.5);
  const phoneShare = shareOption('seedOrgFromPeople', 'humanPhoneShare', options.humanPhoneShare, 0.3);
  const ratingShare = shareOption('seedOrgFromPeople', 'humanRatingShare', options.humanRatingShare, 0.3);
  const mixedShare = shareOption('seedOrgFromPeople', 'mixedCaseEmailShare', options.mixedCaseEmailShare, 0.1);
  const renamedShare = shareOption('seedOrgFromPeople', 'renamedAccountShare', options.renamedAccountShare, 0.3);
  const contactAccountShare = shareOption('seedOrgFromPeople', 'contactAccountShare', options.contactAccountShare, 0.8);
  const contactOppShare = shareOption('seedOrgFromPeople', 'contactOpportunityShare', options.contactOpportunityShare, 0.3);
  const accountOppShare = shareOption('seedOrgFromPeople', 'accountOpportunityShare', options.accountOpportunityShare, 0.2);
  const weights = { ...DEFAULT_KIND_WEIGHTS, ...options.opportunityKinds };
  for (const k of SEED_OPPORTUNITY_KINDS) if (!(weights[k] >= 0)) throw new RangeError(`seedOrgFromPeople: opportunityKinds.${k} must be >= 0`);
  const hasPriority = sandbox.hasField('Opportunity', 'Leadpipe_Priority__c');
  if (!hasPriority) {
    weights['open-high'] = 0;
    weights['open-low'] = 0;
  }
  const today = options.today ?? Date.now();

  // People, once per primary email, in row order; only emails Salesforce accepts.
  const people: LeadpipeResultRow[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    if (!isFreshPerson(row)) continue;
    const email = row.person.primaryContactEmail.trim().toLowerCase();
    if (email === '' || seen.has(email) || !isValidEmail(email)) continue;
    seen.add(email);
    people.push(row.person);
  }
  const emailOf = (p: LeadpipeResultRow): string => p.primaryContactEmail.trim().toLowerCase();
  const domainOf = (p: LeadpipeResultRow): string | undefined => p.company.domain?.trim().toLowerCase() || undefined;

  // Who exists already.
  const withBusinessEmail = people.filter((p) => p.businessEmail !== null && p.businessEmail.trim().toLowerCase() === emailOf(p));
  const contactPeople = rng.sample(withBusinessEmail, Math.min(withBusinessEmail.length, Math.round(people.length * contactShare)));
  const isContact = new Set(contactPeople);
  const convertedPeople = sampleShare(rng, contactPeople, convertedShare);
  const converted = new Set(convertedPeople);
  const bothPeople = sampleShare(
    rng,
    contactPeople.filter((p) => !converted.has(p)),
    leadAndContactShare,
  );
  const others = people.filter((p) => !isContact.has(p));
  const leadPeople = rng.sample(others, Math.min(others.length, Math.round(people.length * leadShare)));

  const leadpipeNames = new Map<string, string>();
  for (const p of people) {
    const domain = domainOf(p);
    if (domain && !leadpipeNames.has(domain)) leadpipeNames.set(domain, p.company.name ?? domain.split('.')[0] ?? domain);
  }
  const seededDomains = sampleShare(rng, [...leadpipeNames.keys()], accountShare);

  const manifest: SeedOrgManifest = {
    contactsByEmail: {},
    leadsByEmail: {},
    convertedLeads: [],
    leadAndContact: [],
    accountsByDomain: {},
    renamedAccounts: [],
    humanContactFields: [],
    humanLeadFields: [],
    mixedCaseEmails: [],
    contactAccounts: [],
    opportunities: [],
  };

  // Accounts.
  const renamed = new Set(sampleShare(rng, seededDomains, renamedShare));
  const accountInputs = seededDomains.map((domain) => {
    const leadpipeName = leadpipeNames.get(domain) ?? domain;
    const humanName = titleCase(leadpipeName);
    return { domain, leadpipeName, name: renamed.has(domain) ? rng.pick(COMPANY_RENAMES)(humanName) : humanName };
  });
  const accounts = sandbox.seedAccounts(accountInputs.map((a) => ({ fields: { Name: a.name, Website: a.domain } })));
  accounts.forEach((account, i) => {
    const input = accountInputs[i];
    if (!input) return;
    manifest.accountsByDomain[input.domain] = account.Id;
    if (renamed.has(input.domain)) manifest.renamedAccounts.push({ accountId: account.Id, domain: input.domain, name: input.name, leadpipeName: input.leadpipeName });
  });
  const accountIdOf = (p: LeadpipeResultRow): string | undefined => {
    const domain = domainOf(p);
    return domain === undefined ? undefined : manifest.accountsByDomain[domain];
  };
  const accountNameOf = new Map(accountInputs.map((a) => [a.domain, a.name]));

  // Contacts (under the business email), some with human-set fields and an Account.
  const mixed = new Set(sampleShare(rng, [...contactPeople, ...leadPeople], mixedShare));
  const withTitle = new Set(sampleShare(rng, contactPeople, titleShare));
  const withPhone = new Set(sampleShare(rng, contactPeople, phoneShare));
  const withAccount = new Set(
    sampleShare(
      rng,
      contactPeople.filter((p) => accountIdOf(p) !== undefined),
      contactAccountShare,
    ),
  );
  const nameFields = (p: LeadpipeResultRow): SeedFields => ({
    ...(p.firstName ? { FirstName: titleCase(p.firstName) } : {}),
    LastName: p.lastName ? titleCase(p.lastName) : NOT_PROVIDED,
  });
  const humanTitle = (p: LeadpipeResultRow): string => rng.pick(HUMAN_TITLES.filter((t) => t.toLowerCase() !== (p.jobTitle ?? '').toLowerCase()));
  const contactInputs = contactPeople.map((p) => {
    const email = emailOf(p);
    const human: { Title?: string; Phone?: string } = {};
    if (withTitle.has(p)) human.Title = humanTitle(p);
    if (withPhone.has(p)) {
      let phone = `+1 415 555 01${String(rng.int(0, 99)).padStart(2, '0')}`;
      if (phone.replace(/\D/g, '') === (p.phone ?? '').replace(/\D/g, '')) phone = '+1 415 555 0199';
      human.Phone = phone;
    }
    const accountId = withAccount.has(p) ? accountIdOf(p) : undefined;
    const stored = mixed.has(p) ? mixedCase(email) : email;
    return { p, email, stored, human, accountId, fields: { ...nameFields(p), Email: stored, ...human, ...(accountId ? { AccountId: accountId } : {}) } };
  });
  const contacts = sandbox.seedContacts(contactInputs.map((c) => ({ fields: c.fields })));
  const contactIdOf = new Map<LeadpipeResultRow, string>();
  contacts.forEach((contact, i) => {
    const input = contactInputs[i];
    if (!input) return;
    manifest.contactsByEmail[input.email] = contact.Id;
    contactIdOf.set(input.p, contact.Id);
    if (input.human.Title !== undefined || input.human.Phone !== undefined) manifest.humanContactFields.push({ contactId: contact.Id, email: input.email, ...input.human });
    if (input.stored !== input.email) manifest.mixedCaseEmails.push({ type: 'Contact', id: contact.Id, stored: input.stored, email: input.email });
    if (input.accountId) manifest.contactAccounts.push({ contactId: contact.Id, accountId: input.accountId });
  });

  // Leads: converted ones (pointing at their Contact), duplicates of Contacts, and people only Leads.
  const companyOf = (p: LeadpipeResultRow): string => {
    const domain = domainOf(p);
    return (domain && accountNameOf.get(domain)) || (p.company.name ? titleCase(p.company.name) : (domain ?? NOT_PROVIDED));
  };
  const leadFields = (p: LeadpipeResultRow, email: string): SeedFields => ({ ...nameFields(p), Email: email, Company: companyOf(p) });
  // A converted Lead points at its Contact and at the Contact's Account (when it has one).
  const convertedInputs = convertedPeople.map((p) => ({ p, contactId: contactIdOf.get(p) ?? '' }));
  const convertedLeads = sandbox.seedLeads(convertedInputs.map((c) => ({ fields: leadFields(c.p, emailOf(c.p)), converted: { contactId: c.contactId } })));
  convertedLeads.forEach((lead, i) => {
    const input = convertedInputs[i];
    if (!input) return;
    manifest.convertedLeads.push({ leadId: lead.Id, email: emailOf(input.p), contactId: input.contactId, accountId: typeof lead.ConvertedAccountId === 'string' ? lead.ConvertedAccountId : null });
  });
  const bothLeads = sandbox.seedLeads(bothPeople.map((p) => ({ fields: leadFields(p, emailOf(p)) })));
  bothLeads.forEach((lead, i) => {
    const p = bothPeople[i];
    if (p) manifest.leadAndContact.push({ email: emailOf(p), leadId: lead.Id, contactId: contactIdOf.get(p) ?? '' });
  });
  const leadTitle = new Set(sampleShare(rng, leadPeople, titleShare));
  const leadRating = new Set(sampleShare(rng, leadPeople, ratingShare));
  const leadInputs = leadPeople.map((p) => {
    const email = emailOf(p);
    const stored = mixed.has(p) ? mixedCase(email) : email;
    const human: { Title?: string; Rating?: string } = {};
    if (leadTitle.has(p)) human.Title = humanTitle(p);
    if (leadRating.has(p)) human.Rating = rng.pick(RATINGS);
    return { p, email, stored, human, fields: { ...leadFields(p, stored), ...human } };
  });
  const leads = sandbox.seedLeads(leadInputs.map((l) => ({ fields: l.fields })));
  leads.forEach((lead, i) => {
    const input = leadInputs[i];
    if (!input) return;
    manifest.leadsByEmail[input.email] = lead.Id;
    if (input.human.Title !== undefined || input.human.Rating !== undefined) manifest.humanLeadFields.push({ leadId: lead.Id, email: input.email, ...input.human });
    if (input.stored !== input.email) manifest.mixedCaseEmails.push({ type: 'Lead', id: lead.Id, stored: input.stored, email: input.email });
  });

  // Opportunities: on Contacts (their Account when they have one, a contact role) and on Accounts alone.
  const slots: Array<{ accountId: string | null; contactIds: string[]; title: string }> = [];
  for (const p of sampleShare(rng, contactPeople, contactOppShare)) {
    const contactId = contactIdOf.get(p);
    if (contactId === undefined) continue;
    const accountId = withAccount.has(p) ? (accountIdOf(p) ?? null) : null;
    slots.push({ accountId, contactIds: [contactId], title: titleCase(p.company.name ?? p.fullName ?? emailOf(p)) });
  }
  for (const domain of sampleShare(rng, seededDomains, accountOppShare)) {
    const accountId = manifest.accountsByDomain[domain];
    if (accountId !== undefined) slots.push({ accountId, contactIds: [], title: titleCase(leadpipeNames.get(domain) ?? domain) });
  }
  const kinds = allocateKinds(rng, slots.length, SEED_OPPORTUNITY_KINDS, weights);
  const oppInputs = slots.map((slot, i) => {
    const kind = kinds[i] ?? 'open-no-priority';
    const closed = kind === 'closed-won' || kind === 'closed-lost';
    const stage = kind === 'closed-won' ? 'Closed Won' : kind === 'closed-lost' ? 'Closed Lost' : rng.pick(OPEN_STAGES);
    const priority = !hasPriority ? null : kind === 'open-high' ? 'High' : kind === 'open-low' ? 'Low' : closed ? rng.pick([null, 'Low', 'Medium', 'High']) : null;
    const closeDate = new Date(today + (closed ? -rng.int(10, 200) : rng.int(10, 120)) * DAY_MS).toISOString().slice(0, 10);
    const fields: SeedFields = {
      Name: `${slot.title} – ${rng.pick(OPPORTUNITY_SUFFIXES)}`,
      StageName: stage,
      CloseDate: closeDate,
      Amount: rng.int(2, 120) * 500,
      ...(slot.accountId !== null ? { AccountId: slot.accountId } : {}),
      ...(priority !== null ? { Leadpipe_Priority__c: priority } : {}),
    };
    const roles = slot.contactIds.map((contactId) => ({ contactId, role: rng.pick(ROLES), isPrimary: true }));
    return { kind, stage, closed, priority, slot, fields, roles };
  });
  const opportunities = sandbox.seedOpportunities(oppInputs.map((o) => ({ fields: o.fields, contactRoles: o.roles })));
  const rolesByOpportunity = new Map<string, string[]>();
  for (const role of sandbox.list('OpportunityContactRole')) {
    const oppId = role.OpportunityId;
    if (typeof oppId === 'string') rolesByOpportunity.set(oppId, [...(rolesByOpportunity.get(oppId) ?? []), role.Id]);
  }
  opportunities.forEach((opp, i) => {
    const input = oppInputs[i];
    if (!input) return;
    manifest.opportunities.push({
      id: opp.Id,
      kind: input.kind,
      stage: input.stage,
      closed: input.closed,
      priority: input.priority,
      accountId: input.slot.accountId,
      contactIds: input.slot.contactIds,
      contactRoleIds: rolesByOpportunity.get(opp.Id) ?? [],
    });
  });
  return manifest;
}
