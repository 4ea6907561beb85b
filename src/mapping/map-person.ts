/**
 * Maps one `IntentPerson` onto CRM properties through a mapping file. Pure: the run's date comes in
 * `context.intentAt`, never from the clock, so the same person and run always give the same payload.
 *
 * Values are strings, the way HubSpot's API takes them (`properties: { [k: string]: string }` in
 * `SimplePublicObjectBatchInputUpsert`, specs/hubspot/crm-contacts-v3.json): numbers as decimal
 * strings, datetimes as ISO 8601 UTC (HubSpot accepts ISO 8601 or epoch ms for `datetime`:
 * reference/hubspot.md §5, props-guide). An empty source value produces no property at all, so a write
 * can never blank a CRM field.
 */
import { SyncError } from '../lib/errors';
import type { IntentPerson } from '../ingest/types';
import type { Mapping, MappingEntry, MappingSource } from './mapping-schema';

export interface MapContext {
  runId: string;
  audienceId: string;
  audienceName?: string;
  /** The run's date/time as ISO 8601 (e.g. the run's completedAt). */
  intentAt: string;
}

export type MappedPerson = {
  contact: Record<string, string>;
  /** Salesforce: the person as a Lead (present when the mapping has a `lead` list). */
  lead?: Record<string, string>;
  /** Present when the person has a company domain: without it there is no company key to match on. */
  company?: Record<string, string>;
};

export type IntentTier = 'hot' | 'warm' | 'cold';

/** Topics are stored as one text property, joined for people to read and for "contains" list filters. */
export const TOPIC_SEPARATOR = '; ';

export function intentTier(score: number, tiers: Mapping['tiers']): IntentTier {
  if (score >= tiers.hot) return 'hot';
  if (score >= tiers.warm) return 'warm';
  return 'cold';
}

/** The domain-derived unique key a company is upserted on (domain is already a bare lower-case host). */
export function companyKey(domain: string): string {
  return domain.trim().toLowerCase();
}

function readSource(source: MappingSource, person: IntentPerson, mapping: Mapping, context: MapContext): string | number | undefined {
  switch (source) {
    case 'email':
      return person.emails[0]?.address;
    case 'hashedEmail':
      return person.hashedEmail ?? person.key;
    case 'firstName':
    case 'lastName':
    case 'fullName':
    case 'jobTitle':
    case 'headline':
    case 'seniority':
    case 'department':
    case 'phone':
    case 'linkedinUrl':
      return person[source];
    case 'company.name':
      return person.company.name;
    case 'company.domain':
      return person.company.domain;
    case 'company.industry':
      return person.company.industry;
    case 'company.key':
      return person.company.domain === undefined ? undefined : companyKey(person.company.domain);
    case 'intent.score':
      return person.score;
    case 'intent.topics':
      return person.topics.join(TOPIC_SEPARATOR);
    case 'intent.topicCount':
      return person.topics.length;
    case 'intent.tier':
      return intentTier(person.score, mapping.tiers);
    case 'context.intentAt':
      return context.intentAt;
    case 'context.audience':
      return context.audienceName?.trim() || context.audienceId;
    case 'context.audienceId':
      return context.audienceId;
    case 'context.runId':
      return context.runId;
  }
}

/** Formats a value for the CRM; `undefined` for an empty value (which is then omitted). */
function formatValue(value: string | number | undefined, entry: MappingEntry): string | undefined {
  if (value === undefined) return undefined;
  switch (entry.type) {
    case 'number': {
      const n = typeof value === 'number' ? value : Number(value.trim());
      if (typeof value === 'string' && value.trim() === '') return undefined;
      if (!Number.isFinite(n)) {
        throw new SyncError('INTERNAL', `mapping "${entry.property}": ${entry.source} is not a number`);
      }
      return String(n);
    }
    case 'datetime': {
      const text = String(value).trim();
      if (text === '') return undefined;
      const ms = Date.parse(text);
      if (Number.isNaN(ms)) {
        throw new SyncError('INTERNAL', `mapping "${entry.property}": ${entry.source} is not an ISO 8601 date/time (got "${text}")`);
      }
      return new Date(ms).toISOString();
    }
    case 'string':
    case 'enumeration': {
      const text = String(value).trim();
      return text === '' ? undefined : text;
    }
  }
}

function mapEntries(entries: readonly MappingEntry[], person: IntentPerson, mapping: Mapping, context: MapContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const value = formatValue(readSource(entry.source, person, mapping, context), entry);
    if (value !== undefined) out[entry.property] = value;
  }
  return out;
}

export function mapPerson(person: IntentPerson, mapping: Mapping, context: MapContext): MappedPerson {
  const mapped: MappedPerson = { contact: mapEntries(mapping.contact, person, mapping, context) };
  if (mapping.lead.length > 0) mapped.lead = mapEntries(mapping.lead, person, mapping, context);
  if (person.company.domain !== undefined && mapping.company.length > 0) mapped.company = mapEntries(mapping.company, person, mapping, context);
  return mapped;
}
