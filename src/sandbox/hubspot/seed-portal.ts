/**
 * Seeds a realistic, pre-existing HubSpot portal from generated Leadpipe people, deterministically (one
 * seed → the same records, ids and manifest), so tests and the demo can prove that a sync finds what is
 * already there and respects what humans set:
 *
 * - a share of people already exist as contacts under their primaryContactEmail (default 20%), some with
 *   a human-set job title and/or phone that differs from Leadpipe's;
 * - a share exist only under their personal email (default 5% of people, among those whose personal
 *   email differs from the primary one);
 * - a share of the distinct company domains exist as companies found by `domain` (default 40%), named by
 *   a human (sometimes differently from Leadpipe's name), most of their seeded contacts associated;
 * - some of those contacts and companies have deals: open without priority, open with a human-set
 *   `high`, open with `low`, and closed (closedwon / closedlost), associated to the contact, the company
 *   or both.
 *
 * Records are seeded through the sandbox's seeding API (no HTTP, no rate limit).
 */
import type { GeneratedRow, LeadpipeResultRow } from '../generate-people';
import { createRandom, type Random } from '../random';
import { OPEN_DEAL_STAGES } from './schema';
import type { HubspotSandbox } from './types';

export const SEED_DEAL_KINDS = ['open-no-priority', 'open-high', 'open-low', 'closed-won', 'closed-lost'] as const;
export type SeedDealKind = (typeof SEED_DEAL_KINDS)[number];

export interface SeedPortalOptions {
  seed: number | string;
  /** Share of people that exist as contacts under their primary email (default 0.2). */
  contactShare?: number;
  /** Share of people that exist only under their (different) personal email (default 0.05). */
  personalEmailShare?: number;
  /** Share of distinct company domains that exist as companies (default 0.4). */
  companyShare?: number;
  /** Share of primary-email contacts with a human-set job title differing from Leadpipe's (default 0.5). */
  humanJobTitleShare?: number;
  /** Share of primary-email contacts with a human-set phone differing from Leadpipe's (default 0.3). */
  humanPhoneShare?: number;
  /** Share of seeded companies a human named differently from Leadpipe's company name (default 0.3). */
  renamedCompanyShare?: number;
  /** Share of primary-email contacts whose company exists that are associated with it (default 0.8). */
  contactCompanyShare?: number;
  /** Share of primary-email contacts that have a deal (default 0.3). */
  contactDealShare?: number;
  /** Share of seeded companies with a deal of their own, associated to the company only (default 0.2). */
  companyDealShare?: number;
  /** Relative weights of the deal kinds (default 35/15/20/15/15 %); each kind gets at least one deal when there are enough. */
  dealKinds?: Partial<Record<SeedDealKind, number>>;
}

export interface SeededDeal {
  id: string;
  kind: SeedDealKind;
  stage: string;
  closed: boolean;
  /** hs_priority as seeded, or null when unset. */
  priority: string | null;
  contactIds: string[];
  companyIds: string[];
}

export interface SeedPortalManifest {
  /** Contacts seeded under a primaryContactEmail: lower-cased email → contact id. */
  contactsByEmail: Record<string, string>;
  /** Contacts seeded only under a personal email (lower-cased). */
  personalEmailContacts: Array<{ primaryEmail: string; personalEmail: string; contactId: string }>;
  /** Lower-cased domain → company id. */
  companiesByDomain: Record<string, string>;
  deals: SeededDeal[];
  /** Primary-email contacts with a human-set value that differs from Leadpipe's. */
  humanContactFields: Array<{ contactId: string; email: string; jobtitle?: string; phone?: string }>;
  /** Companies whose human-set name differs from Leadpipe's company name. */
  renamedCompanies: Array<{ companyId: string; domain: string; name: string; leadpipeName: string }>;
  /** Contact → company associations seeded (primary). */
  contactCompanies: Array<{ contactId: string; companyId: string }>;
}

const DEFAULT_DEAL_WEIGHTS: Record<SeedDealKind, number> = {
  'open-no-priority': 0.35,
  'open-high': 0.15,
  'open-low': 0.2,
  'closed-won': 0.15,
  'closed-lost': 0.15,
};

const HUMAN_TITLES: readonly string[] = [
  'Head of Growth',
  'Director, Demand Generation',
  'VP Revenue',
  'Sales Lead',
  'Marketing Ops Lead',
  'Chief of Staff',
  'Partner',
  'Managing Director',
  'IT Manager',
  'Procurement Lead',
];

const COMPANY_RENAMES: ReadonlyArray<(name: string) => string> = [
  (n) => `${n}, Inc.`,
  (n) => `${n} LLC`,
  (n) => `${n} Holdings`,
  (n) => `${n} (HQ)`,
  (n) => `${n} Corp.`,
];

const DEAL_SUFFIXES: readonly string[] = ['New business', 'Expansion', 'Renewal', 'Pilot', 'Platform upgrade'];

function titleCase(text: string): string {
  return text.replace(/(^|[\s'-])(\p{L})/gu, (_m, sep: string, ch: string) => `${sep}${ch.toUpperCase()}`);
}

function share(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`seedPortalFromPeople: ${name} must be between 0 and 1, got ${v}`);
  return v;
}

/** Exactly round(n × share) elements, drawn without replacement. */
function sampleShare<T>(rng: Random, items: readonly T[], fraction: number): T[] {
  return rng.sample(items, Math.round(items.length * fraction));
}

/** `count` deal kinds in proportion to the weights, each present once when count allows, shuffled. */
function dealKinds(rng: Random, count: number, weights: Record<SeedDealKind, number>): SeedDealKind[] {
  const kinds = SEED_DEAL_KINDS.filter((k) => weights[k] > 0);
  if (count === 0 || kinds.length === 0) return [];
  const total = kinds.reduce((s, k) => s + weights[k], 0);
  const out: SeedDealKind[] = count >= kinds.length ? [...kinds] : [];
  const rest = count - out.length;
  const exact = kinds.map((k) => ({ k, x: (rest * weights[k]) / total }));
  for (const { k, x } of exact) for (let i = 0; i < Math.floor(x); i++) out.push(k);
  const byRemainder = [...exact].sort((a, b) => b.x - Math.floor(b.x) - (a.x - Math.floor(a.x)));
  for (let i = 0; out.length < count; i++) out.push((byRemainder[i % byRemainder.length] as { k: SeedDealKind }).k);
  return rng.shuffle(out);
}

function isPersonRow(row: GeneratedRow): row is Extract<GeneratedRow, { kind: 'person' }> {
  return row.kind === 'person' && row.duplicateOf === null;
}

/**
 * Seeds the portal from people generated by `generatePeople` (rows of kind 'person' without
 * `duplicateOf`; other rows are skipped) and returns what it seeded.
 */
export function seedPortalFromPeople(sandbox: HubspotSandbox, rows: Iterable<GeneratedRow>, options: SeedPortalOptions): SeedPortalManifest {
  const rng = createRandom(`hubspot-portal\u0000${String(options.seed)}`);
  const contactShare = share('contactShare', options.contactShare, 0.2);
  const personalShare = share('personalEmailShare', options.personalEmailShare, 0.05);
  const companyShare = share('companyShare', options.companyShare, 0.4);
  const jobTitleShare = share('humanJobTitleShare', options.humanJobTitleShare, 0.5);
  const phoneShare = share('humanPhoneShare', options.humanPhoneShare, 0.3);
  const renamedShare = share('renamedCompanyShare', options.renamedCompanyShare, 0.3);
  const contactCompanyShare = share('contactCompanyShare', options.contactCompanyShare, 0.8);
  const contactDealShare = share('contactDealShare', options.contactDealShare, 0.3);
  const companyDealShare = share('companyDealShare', options.companyDealShare, 0.2);
  const weights = { ...DEFAULT_DEAL_WEIGHTS, ...options.dealKinds };
  for (const k of SEED_DEAL_KINDS) if (!(weights[k] >= 0)) throw new RangeError(`seedPortalFromPeople: dealKinds.${k} must be >= 0`);

  // People, once per primary email, in row order.
  const people: LeadpipeResultRow[] = [];
  const emails = new Set<string>();
  for (const row of rows) {
    if (!isPersonRow(row)) continue;
    const email = row.person.primaryContactEmail.trim().toLowerCase();
    if (email === '' || emails.has(email)) continue;
    emails.add(email);
    people.push(row.person);
  }
  const personalOf = (p: LeadpipeResultRow): string | null => {
    const personal = p.personalEmail?.trim().toLowerCase() ?? '';
    return personal !== '' && personal !== p.primaryContactEmail.trim().toLowerCase() && !emails.has(personal) ? personal : null;
  };

  // Who and what exists already.
  const primaryPeople = sampleShare(rng, people, contactShare);
  const chosen = new Set(primaryPeople);
  const personalCandidates = people.filter((p) => !chosen.has(p) && personalOf(p) !== null);
  const personalPeople = rng.sample(personalCandidates, Math.min(personalCandidates.length, Math.round(people.length * personalShare)));

  const leadpipeNames = new Map<string, string>();
  for (const p of people) {
    const domain = p.company.domain?.trim().toLowerCase();
    if (domain && !leadpipeNames.has(domain)) leadpipeNames.set(domain, p.company.name ?? domain.split('.')[0] ?? domain);
  }
  const seededDomains = sampleShare(rng, [...leadpipeNames.keys()], companyShare);

  const manifest: SeedPortalManifest = {
    contactsByEmail: {},
    personalEmailContacts: [],
    companiesByDomain: {},
    deals: [],
    humanContactFields: [],
    renamedCompanies: [],
    contactCompanies: [],
  };

  // Companies.
  const renamed = new Set(sampleShare(rng, seededDomains, renamedShare));
  const companyInputs = seededDomains.map((domain) => {
    const leadpipeName = leadpipeNames.get(domain) ?? domain;
    const humanName = titleCase(leadpipeName);
    const name = renamed.has(domain) ? rng.pick(COMPANY_RENAMES)(humanName) : humanName;
    return { domain, leadpipeName, name };
  });
  const humanNameOf = new Map(companyInputs.map((c) => [c.domain, c.name]));
  const companies = sandbox.seedCompanies(companyInputs.map((c) => ({ properties: { name: c.name, domain: c.domain } })));
  companies.forEach((company, i) => {
    const input = companyInputs[i];
    if (!input) return;
    manifest.companiesByDomain[input.domain] = company.id;
    if (renamed.has(input.domain)) manifest.renamedCompanies.push({ companyId: company.id, domain: input.domain, name: input.name, leadpipeName: input.leadpipeName });
  });

  // Contacts under the primary email, some with human-set fields.
  const withTitle = new Set(sampleShare(rng, primaryPeople, jobTitleShare));
  const withPhone = new Set(sampleShare(rng, primaryPeople, phoneShare));
  const nameProps = (p: LeadpipeResultRow): Record<string, string> => ({
    ...(p.firstName ? { firstname: titleCase(p.firstName) } : {}),
    ...(p.lastName ? { lastname: titleCase(p.lastName) } : {}),
  });
  const contactInputs = primaryPeople.map((p) => {
    const email = p.primaryContactEmail.trim().toLowerCase();
    const human: { jobtitle?: string; phone?: string } = {};
    if (withTitle.has(p)) {
      const leadpipeTitle = (p.jobTitle ?? '').toLowerCase();
      human.jobtitle = rng.pick(HUMAN_TITLES.filter((t) => t.toLowerCase() !== leadpipeTitle));
    }
    if (withPhone.has(p)) {
      let phone = `+1 415 555 01${String(rng.int(0, 99)).padStart(2, '0')}`;
      if (phone.replace(/\D/g, '') === (p.phone ?? '').replace(/\D/g, '')) phone = '+1 415 555 0199';
      human.phone = phone;
    }
    const companyName = humanNameOf.get(p.company.domain?.trim().toLowerCase() ?? '');
    return { email, person: p, human, properties: { email, ...nameProps(p), ...(companyName ? { company: companyName } : {}), ...human } };
  });
  const contacts = sandbox.seedContacts(contactInputs.map((c) => ({ properties: c.properties })));
  const contactIdOf = new Map<LeadpipeResultRow, string>();
  contacts.forEach((contact, i) => {
    const input = contactInputs[i];
    if (!input) return;
    manifest.contactsByEmail[input.email] = contact.id;
    contactIdOf.set(input.person, contact.id);
    if (input.human.jobtitle !== undefined || input.human.phone !== undefined) {
      manifest.humanContactFields.push({ contactId: contact.id, email: input.email, ...input.human });
    }
  });

  // Contacts under the personal email only.
  const personalInputs = personalPeople.map((p) => ({ person: p, personalEmail: personalOf(p) ?? '' }));
  const personalContacts = sandbox.seedContacts(personalInputs.map((c) => ({ properties: { email: c.personalEmail, ...nameProps(c.person) } })));
  personalContacts.forEach((contact, i) => {
    const input = personalInputs[i];
    if (!input) return;
    manifest.personalEmailContacts.push({ primaryEmail: input.person.primaryContactEmail.trim().toLowerCase(), personalEmail: input.personalEmail, contactId: contact.id });
  });

  // Contact → company associations.
  const companyIdOf = (p: LeadpipeResultRow): string | undefined => {
    const domain = p.company.domain?.trim().toLowerCase();
    return domain ? manifest.companiesByDomain[domain] : undefined;
  };
  const withCompany = primaryPeople.filter((p) => companyIdOf(p) !== undefined);
  for (const p of sampleShare(rng, withCompany, contactCompanyShare)) {
    const contactId = contactIdOf.get(p);
    const companyId = companyIdOf(p);
    if (contactId === undefined || companyId === undefined) continue;
    sandbox.associate('contacts', contactId, 'companies', companyId, { primary: true });
    manifest.contactCompanies.push({ contactId, companyId });
  }

  // Deals: on contacts (with their company or not) and on companies alone.
  const slots: Array<{ contactIds: string[]; companyIds: string[]; title: string }> = [];
  for (const p of sampleShare(rng, primaryPeople, contactDealShare)) {
    const contactId = contactIdOf.get(p);
    if (contactId === undefined) continue;
    const companyId = companyIdOf(p);
    const both = companyId !== undefined && rng.chance(0.5);
    const who = titleCase(p.company.name ?? p.fullName ?? p.primaryContactEmail);
    slots.push({ contactIds: [contactId], companyIds: both ? [companyId] : [], title: who });
  }
  for (const domain of sampleShare(rng, seededDomains, companyDealShare)) {
    const companyId = manifest.companiesByDomain[domain];
    if (companyId === undefined) continue;
    slots.push({ contactIds: [], companyIds: [companyId], title: titleCase(leadpipeNames.get(domain) ?? domain) });
  }
  const kinds = dealKinds(rng, slots.length, weights);
  const dealInputs = slots.map((slot, i) => {
    const kind = kinds[i] ?? 'open-no-priority';
    const closed = kind === 'closed-won' || kind === 'closed-lost';
    const stage = kind === 'closed-won' ? 'closedwon' : kind === 'closed-lost' ? 'closedlost' : rng.pick(OPEN_DEAL_STAGES);
    const priority = kind === 'open-high' ? 'high' : kind === 'open-low' ? 'low' : closed ? rng.pick([null, 'low', 'medium']) : null;
    return {
      kind,
      stage,
      closed,
      priority,
      slot,
      properties: {
        dealname: `${slot.title} – ${rng.pick(DEAL_SUFFIXES)}`,
        pipeline: 'default',
        dealstage: stage,
        amount: String(rng.int(2, 120) * 500),
        ...(priority === null ? {} : { hs_priority: priority }),
      },
    };
  });
  const deals = sandbox.seedDeals(
    dealInputs.map((d) => ({ properties: d.properties, associations: { contacts: d.slot.contactIds, companies: d.slot.companyIds } })),
  );
  deals.forEach((deal, i) => {
    const input = dealInputs[i];
    if (!input) return;
    manifest.deals.push({
      id: deal.id,
      kind: input.kind,
      stage: input.stage,
      closed: input.closed,
      priority: input.priority,
      contactIds: input.slot.contactIds,
      companyIds: input.slot.companyIds,
    });
  });
  return manifest;
}
