/** Small helpers shared by the CRM sandboxes' seeders (hubspot/seed-portal.ts, salesforce/seed-org.ts). */
import type { GeneratedRow } from './generate-people';
import type { Random } from './random';

/** Kinds of deals/opportunities a seeded CRM holds, and their default shares. */
export const SEED_RECORD_KINDS = ['open-no-priority', 'open-high', 'open-low', 'closed-won', 'closed-lost'] as const;
export type SeedRecordKind = (typeof SEED_RECORD_KINDS)[number];
export const DEFAULT_KIND_WEIGHTS: Readonly<Record<SeedRecordKind, number>> = {
  'open-no-priority': 0.35,
  'open-high': 0.15,
  'open-low': 0.2,
  'closed-won': 0.15,
  'closed-lost': 0.15,
};

/** Job titles a rep typed, different from Leadpipe's (to prove `ifEmpty` keeps them). */
export const HUMAN_TITLES: readonly string[] = [
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

/** How a person renamed a company record. */
export const COMPANY_RENAMES: ReadonlyArray<(name: string) => string> = [(n) => `${n}, Inc.`, (n) => `${n} LLC`, (n) => `${n} Holdings`, (n) => `${n} (HQ)`, (n) => `${n} Corp.`];

/** `mary o'neil` → `Mary O'Neil`: how a rep would have typed a name Leadpipe sends lower-case. */
export function titleCase(text: string): string {
  return text.replace(/(^|[\s'-])(\p{L})/gu, (_m, sep: string, ch: string) => `${sep}${ch.toUpperCase()}`);
}

/** A share option (0–1), or its default; `seeder` names the function in the error. */
export function shareOption(seeder: string, name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${seeder}: ${name} must be between 0 and 1, got ${v}`);
  return v;
}

/** Exactly round(n × share) elements, drawn without replacement. */
export function sampleShare<T>(rng: Random, items: readonly T[], fraction: number): T[] {
  return rng.sample(items, Math.round(items.length * fraction));
}

/** `count` kinds in proportion to the weights, each present once when count allows, shuffled. */
export function allocateKinds<K extends string>(rng: Random, count: number, all: readonly K[], weights: Record<K, number>): K[] {
  const kinds = all.filter((k) => weights[k] > 0);
  if (count === 0 || kinds.length === 0) return [];
  const total = kinds.reduce((s, k) => s + weights[k], 0);
  const out: K[] = count >= kinds.length ? [...kinds] : [];
  const rest = count - out.length;
  const exact = kinds.map((k) => ({ k, x: (rest * weights[k]) / total }));
  for (const { k, x } of exact) for (let i = 0; i < Math.floor(x); i++) out.push(k);
  const byRemainder = [...exact].sort((a, b) => b.x - Math.floor(b.x) - (a.x - Math.floor(a.x)));
  for (let i = 0; out.length < count; i++) out.push((byRemainder[i % byRemainder.length] as { k: K }).k);
  return rng.shuffle(out);
}

/** A first appearance of a valid person (not a duplicate or malformed row). */
export function isFreshPerson(row: GeneratedRow): row is Extract<GeneratedRow, { kind: 'person' }> {
  return row.kind === 'person' && row.duplicateOf === null;
}
