/**
 * A CRM sandbox's records by natural keys, without ids and timestamps, so two sandboxes that were synced
 * the same run can be compared field by field (chaos scenarios, crash loops), and the duplicates a sync
 * must never make: two contacts or leads of one email, two companies of one key.
 */
import type { HubspotSandbox } from './hubspot/types';
import type { SalesforceObjectType, SalesforceSandbox } from './salesforce/types';

const HUBSPOT_VOLATILE = new Set(['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_lastmodifieddate']);
/** Ids of records a sync creates, and timestamps, differ between two orgs; seeded records keep their ids. */
const SALESFORCE_VOLATILE = /^(Id|CreatedDate|LastModifiedDate|SystemModstamp|attributes)$/;

/** One line per record: its stable fields as sorted JSON, plus what it is associated with (by natural key). */
export type CrmSnapshot = Record<string, string[]>;

function line(fields: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b))));
}

export function hubspotSnapshot(sb: HubspotSandbox): CrmSnapshot {
  const clean = (props: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(props).filter(([k]) => !HUBSPOT_VOLATILE.has(k)));
  const contacts = sb.listContacts();
  const companies = sb.listCompanies();
  const contactKey = new Map(contacts.map((c) => [c.id, c.properties.email ?? `id:${c.id}`]));
  const companyKey = new Map(companies.map((c) => [c.id, c.properties.leadpipe_company_key ?? c.properties.domain ?? c.properties.name ?? `id:${c.id}`]));
  const keys = (ids: readonly string[], names: Map<string, string>): string[] => ids.map((id) => names.get(id) ?? `id:${id}`).sort();
  return {
    contacts: contacts.map((c) => line({ ...clean(c.properties), '@companies': keys(sb.associatedIds('contacts', c.id, 'companies'), companyKey) })).sort(),
    companies: companies.map((c) => line(clean(c.properties))).sort(),
    deals: sb
      .listDeals()
      .map((d) => line({ ...clean(d.properties), '@contacts': keys(sb.associatedIds('deals', d.id, 'contacts'), contactKey), '@companies': keys(sb.associatedIds('deals', d.id, 'companies'), companyKey) }))
      .sort(),
  };
}

export function salesforceSnapshot(sb: SalesforceSandbox): CrmSnapshot {
  const out: CrmSnapshot = {};
  const types: SalesforceObjectType[] = ['Lead', 'Contact', 'Account', 'Opportunity'];
  for (const type of types) out[type] = sb.list(type).map((r) => line(Object.fromEntries(Object.entries(r).filter(([k]) => !SALESFORCE_VOLATILE.test(k))))).sort();
  return out;
}

/** What differs between two snapshots: at most `max` lines, each naming the collection and the record. */
export function snapshotDifferences(expected: CrmSnapshot, actual: CrmSnapshot, max = 10): string[] {
  const out: string[] = [];
  for (const name of [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()) {
    const want = new Map<string, number>();
    for (const l of expected[name] ?? []) want.set(l, (want.get(l) ?? 0) + 1);
    const extra: string[] = [];
    for (const l of actual[name] ?? []) {
      const n = want.get(l) ?? 0;
      if (n > 0) want.set(l, n - 1);
      else extra.push(l);
    }
    const missing = [...want].flatMap(([l, n]) => Array<string>(n).fill(l));
    if (missing.length > 0 || extra.length > 0) out.push(`${name}: ${missing.length} expected record(s) missing or different, ${extra.length} unexpected`);
    for (const l of missing.slice(0, max)) out.push(`  - ${name} expected ${l}`);
    for (const l of extra.slice(0, max)) out.push(`  + ${name} got ${l}`);
  }
  return out;
}

function repeated(values: Iterable<string>): string[] {
  const seen = new Map<string, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([v, n]) => `${v} ×${n}`);
}

/** Contacts sharing an email, companies sharing orbit-sync's key or a domain (compare with the list before the sync). */
export function hubspotDuplicates(sb: HubspotSandbox): string[] {
  const contacts = repeated(sb.listContacts().flatMap((c) => (c.properties.email ? [c.properties.email.toLowerCase()] : []))).map((d) => `contact email ${d}`);
  const companies = sb.listCompanies();
  const keys = repeated(companies.flatMap((c) => (c.properties.leadpipe_company_key ? [c.properties.leadpipe_company_key] : []))).map((d) => `company key ${d}`);
  const domains = repeated(companies.flatMap((c) => (c.properties.domain ? [c.properties.domain.toLowerCase()] : []))).map((d) => `company domain ${d}`);
  return [...contacts, ...keys, ...domains];
}

/**
 * Leads and Contacts sharing an email (an unconverted Lead next to a Contact of the same email counts),
 * Leads sharing orbit-sync's hashed email. A seeded org may already hold some: compare with the list
 * taken before the sync.
 */
export function salesforceDuplicates(sb: SalesforceSandbox): string[] {
  const emails = [
    ...sb.list('Lead').filter((l) => l.IsConverted !== true),
    ...sb.list('Contact'),
  ].flatMap((r) => (typeof r.Email === 'string' && r.Email !== '' ? [r.Email.toLowerCase()] : []));
  const hashes = sb.list('Lead').flatMap((l) => (typeof l.Leadpipe_Hashed_Email__c === 'string' && l.Leadpipe_Hashed_Email__c !== '' ? [l.Leadpipe_Hashed_Email__c] : []));
  return [...repeated(emails).map((d) => `lead/contact email ${d}`), ...repeated(hashes).map((d) => `lead hashed email ${d}`)];
}
