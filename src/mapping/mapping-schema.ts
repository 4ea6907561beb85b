/**
 * The shape of `config/mappings/<destination>.json` (DESIGN.md, "Field mapping and overwrite policy").
 *
 * Each entry maps one source (a canonical person field, or an expression such as the joined topics) to
 * one CRM property, with an overwrite policy and the value type the CRM property has. The file is
 * parsed once at start-up; `parseMapping` reports every problem in one `FixConfigurationError`, each
 * line naming the entry (`contact[3] "leadpipe_intent_score" → policy: …`) so an admin editing the file
 * knows which line to fix.
 */
import { z } from 'zod';
import { FixConfigurationError } from '../lib/errors';

/** `always`: write whenever the value changed. `ifEmpty`: only into an empty CRM field. `never`: match key, never written. */
export const MAPPING_POLICIES = ['always', 'ifEmpty', 'never'] as const;
export type MappingPolicy = (typeof MAPPING_POLICIES)[number];

/**
 * What an entry can read. Person fields use the canonical names of `src/ingest/types.ts`; the rest are
 * expressions computed by `mapPerson` from the person and the run context.
 */
export const MAPPING_SOURCES = [
  // person fields
  'email', // the matching email: the first of the person's ranked emails (primary, business, personal)
  'hashedEmail', // the ledger key: Leadpipe's hashedEmail, else sha256 of the first valid email
  'firstName',
  'lastName',
  'fullName',
  'jobTitle',
  'headline',
  'seniority',
  'department',
  'phone',
  'linkedinUrl',
  'company.name',
  'company.domain',
  'company.industry',
  // expressions
  'company.key', // the domain-derived unique company key
  'intent.score',
  'intent.topics', // topics joined with "; "
  'intent.topicCount',
  'intent.tier', // hot | warm | cold, from `tiers`
  'context.intentAt', // the run's date/time, passed in (never the wall clock)
  'context.audience', // audience name, else its id
  'context.audienceId',
  'context.runId',
] as const;
export type MappingSource = (typeof MAPPING_SOURCES)[number];

/** The CRM value type; decides how `mapPerson` formats the value and how `applyPolicy` compares it. */
export const MAPPING_VALUE_TYPES = ['string', 'number', 'datetime', 'enumeration'] as const;
export type MappingValueType = (typeof MAPPING_VALUE_TYPES)[number];

/**
 * CRM field names: a letter, then letters, digits and `_` — HubSpot internal names (lower-case,
 * props-guide) and Salesforce API names (`Title`, `Leadpipe_Intent_Score__c`). HubSpot's lower-case rule
 * is checked per destination below.
 */
const PROPERTY_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const LOWER_CASE_DESTINATIONS = new Set(['hubspot']);

export const MappingEntrySchema = z.strictObject({
  property: z.string().regex(PROPERTY_NAME, 'must be a CRM field name: letters, digits and _, starting with a letter'),
  source: z.enum(MAPPING_SOURCES, { error: `must be one of: ${MAPPING_SOURCES.join(', ')}` }),
  policy: z.enum(MAPPING_POLICIES, { error: `must be one of: ${MAPPING_POLICIES.join(', ')}` }),
  type: z.enum(MAPPING_VALUE_TYPES, { error: `must be one of: ${MAPPING_VALUE_TYPES.join(', ')}` }),
  /** Label shown in the CRM when `setup` creates the property (custom properties only). */
  label: z.string().trim().min(1).optional(),
  /** Allowed values of an `enumeration` property; `setup` creates them as the property's options. */
  options: z.array(z.string().min(1)).min(1).optional(),
});
export type MappingEntry = z.infer<typeof MappingEntrySchema>;

const score = z.number().int('must be a whole number').min(1, 'must be 1–100').max(100, 'must be 1–100');

/** Checks within one list, so they are reported even when another part of the file is wrong. */
const entries = z.array(MappingEntrySchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((entry, i) => {
    if (seen.has(entry.property)) {
      ctx.addIssue({ code: 'custom', path: [i, 'property'], message: `"${entry.property}" is mapped twice` });
    }
    seen.add(entry.property);
    if (entry.type === 'enumeration' && !entry.options) {
      ctx.addIssue({ code: 'custom', path: [i, 'options'], message: 'an enumeration needs its options (the values it can take)' });
    }
    if (entry.source === 'intent.tier' && entry.options && !['hot', 'warm', 'cold'].every((t) => entry.options?.includes(t))) {
      ctx.addIssue({ code: 'custom', path: [i, 'options'], message: 'intent.tier takes the values hot, warm and cold: list all three' });
    }
  });
});

const tiers = z
  .strictObject({ hot: score, warm: score })
  .refine((t) => t.hot > t.warm, { message: 'hot must be greater than warm' });

export const MappingSchema = z
  .strictObject({
    $comment: z.string().optional(),
    destination: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be a destination name such as "hubspot"'),
    /** Prefix that marks a property as ours (created by `setup`), e.g. `leadpipe_`. */
    customPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*_$/, 'must be letters, digits and _, ending with "_"'),
    /** Score ≥ hot → "hot"; ≥ warm → "warm"; otherwise "cold". */
    tiers,
    /**
     * Properties left out of the payload fingerprint because they change every run without the person
     * changing (the run date). See `fingerprint.ts`.
     */
    volatile: z.array(z.string().regex(PROPERTY_NAME, 'must be a property name')).default([]),
    contact: entries.min(1, 'must map at least the matching email'),
    /** Salesforce: the fields of a Lead (a person not yet a Contact). HubSpot has no leads. */
    lead: entries.default([]),
    company: entries.default([]),
  })
  .superRefine((m, ctx) => {
    // Checks across fields; zod runs them only once the rest of the file is valid.
    for (const object of ['contact', 'lead', 'company'] as const) {
      m[object].forEach((entry, i) => {
        if (LOWER_CASE_DESTINATIONS.has(m.destination) && !/^[a-z][a-z0-9_]*$/.test(entry.property)) {
          ctx.addIssue({ code: 'custom', path: [object, i, 'property'], message: `${m.destination} property names are lower-case letters, digits and _` });
        }
        if (entry.property.startsWith(m.customPrefix) && !entry.label) {
          ctx.addIssue({ code: 'custom', path: [object, i, 'label'], message: `custom property "${entry.property}" needs a label for setup to create it` });
        }
      });
    }
    const mapped = new Set([...m.contact, ...m.lead, ...m.company].map((e) => e.property));
    m.volatile.forEach((p, i) => {
      if (!mapped.has(p)) ctx.addIssue({ code: 'custom', path: ['volatile', i], message: `"${p}" is not a mapped property` });
    });
  });

export type Mapping = z.infer<typeof MappingSchema>;
export type MappedObject = 'contact' | 'lead' | 'company';

/** `contact[3] "leadpipe_intent_score" → policy`: names the entry by index and by its property, when it has one. */
function describePath(raw: unknown, p: readonly PropertyKey[]): string {
  if (p.length === 0) return '(file)';
  const [head, index, ...rest] = p;
  if ((head === 'contact' || head === 'lead' || head === 'company') && typeof index === 'number') {
    const list = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)[head] : undefined;
    const item: unknown = Array.isArray(list) ? list[index] : undefined;
    const property = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).property : undefined;
    const name = typeof property === 'string' ? ` "${property}"` : '';
    return `${head}[${index}]${name}${rest.length > 0 ? ` → ${rest.map(String).join('.')}` : ''}`;
  }
  return p.map(String).join('.');
}

/** Formats each zod issue as `<source>: <entry> → <field>: <message>`. */
export function mappingProblems(raw: unknown, error: z.ZodError, source: string): string[] {
  return error.issues.map((issue) => `${source}: ${describePath(raw, issue.path)}: ${issue.message}`);
}

/** Validates a parsed mapping file. Throws one `FixConfigurationError` listing every problem. */
export function parseMapping(raw: unknown, source = 'mapping'): Mapping {
  const result = MappingSchema.safeParse(raw);
  if (!result.success) throw new FixConfigurationError(mappingProblems(raw, result.error, source));
  return result.data;
}
