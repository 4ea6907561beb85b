/**
 * Per-connection overrides an admin sets through the admin API (issue #5): what a sync of this connection
 * does differently from config/:
 *
 * - `mode`: `create` (default) makes a record for every person of the run; `updateOnly` only enriches
 *   records the CRM already has, and holds the others' intent until a record is created (webhooks).
 * - `createMinScore`: in `create` mode, people under this score are not created but held the same way.
 * - `priority`: the deal/opportunity thresholds (`minScore`, `medium`, `high`).
 * - `policies`: a mapped property's overwrite policy (`always` | `ifEmpty`). Match keys (policy `never`)
 *   and the identity properties (hashed email, company key) cannot be changed.
 */
import { z } from 'zod';
import type { Config } from '../config';
import type { CreatePolicy } from '../destinations/destination';
import { SyncError } from '../lib/errors';
import type { Mapping, MappingEntry } from '../mapping/mapping-schema';
import type { Crm } from '../store/schema';

const score = z.number().int('must be a whole number').min(1, 'must be 1–100').max(100, 'must be 1–100');

export const OverridesSchema = z.strictObject({
  mode: z.enum(['create', 'updateOnly']).optional(),
  createMinScore: score.optional(),
  priority: z.strictObject({ minScore: score.optional(), medium: score.optional(), high: score.optional() }).optional(),
  policies: z.record(z.string().min(1), z.enum(['always', 'ifEmpty'])).optional(),
});
export type Overrides = z.infer<typeof OverridesSchema>;

const IDENTITY_SOURCES = new Set(['email', 'hashedEmail', 'company.key']);

function mappingEntries(mapping: Mapping): MappingEntry[] {
  return [...mapping.contact, ...(mapping.lead ?? []), ...mapping.company];
}

/** Every problem with the overrides, each naming its field; empty when they are valid for this mapping. */
export function overrideProblems(raw: unknown, mapping: Mapping, base: Config, crm: Crm): string[] {
  const parsed = OverridesSchema.safeParse(raw);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.') || 'overrides'}: ${i.message}`);
  const problems: string[] = [];
  const entries = mappingEntries(mapping);
  for (const property of Object.keys(parsed.data.policies ?? {})) {
    const entry = entries.find((e) => e.property === property);
    if (!entry) problems.push(`policies.${property}: not a property of config/mappings/${crm}.json`);
    else if (entry.policy === 'never' || IDENTITY_SOURCES.has(entry.source)) problems.push(`policies.${property}: an identity property; its policy cannot be changed`);
  }
  const settings = crm === 'hubspot' ? base.hubspot.priority : base.salesforce.priority;
  const priority = { ...settings, ...parsed.data.priority };
  if (priority.high < priority.medium) problems.push(`priority: high (${priority.high}) must be ≥ medium (${priority.medium})`);
  return problems;
}

export function parseOverrides(raw: unknown, mapping: Mapping, base: Config, crm: Crm): Overrides {
  const problems = overrideProblems(raw, mapping, base, crm);
  if (problems.length > 0) throw new SyncError('BAD_REQUEST', `Invalid overrides: ${problems.join('; ')}`);
  return OverridesSchema.parse(raw);
}

export interface Effective {
  config: Config;
  mapping: Mapping;
  createPolicy: CreatePolicy | undefined;
}

/** The config, mapping and create policy a sync of this connection runs with. */
export function applyOverrides(base: Config, mapping: Mapping, overrides: Overrides, crm: Crm): Effective {
  const policies = overrides.policies ?? {};
  const withPolicy = (list: MappingEntry[]): MappingEntry[] => list.map((e) => (policies[e.property] ? { ...e, policy: policies[e.property] as MappingEntry['policy'] } : e));
  const effectiveMapping: Mapping = {
    ...mapping,
    contact: withPolicy(mapping.contact),
    company: withPolicy(mapping.company),
    ...(mapping.lead && { lead: withPolicy(mapping.lead) }),
  };
  const priority = overrides.priority ?? {};
  const config: Config =
    crm === 'hubspot'
      ? { ...base, hubspot: { ...base.hubspot, priority: { ...base.hubspot.priority, ...priority } } }
      : { ...base, salesforce: { ...base.salesforce, priority: { ...base.salesforce.priority, ...priority } } };
  const min = overrides.createMinScore;
  const createPolicy: CreatePolicy | undefined =
    overrides.mode === 'updateOnly' ? () => false : min !== undefined ? (p) => p.person.score >= min : undefined;
  return { config, mapping: effectiveMapping, createPolicy };
}
