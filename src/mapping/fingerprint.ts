/**
 * The payload fingerprint stored in the ledger: the plan step skips a person whose fingerprint equals
 * the ledger's, so an unchanged person costs no API call (DESIGN.md).
 *
 * sha256 (hex) over canonical JSON: object keys sorted at every level, so key order never matters.
 *
 * Volatile properties are left out. `leadpipe_last_intent_at` is the run's date: it differs in every run,
 * so with it in the hash every person of every new run would look changed and be written again — the
 * acceptance test "a run in which 5% of people changed writes only those" could not pass. The cost:
 * `leadpipe_last_intent_at` is refreshed only when something else about the person changes, i.e. it
 * reads "intent data last changed at", not "last seen at". Re-syncing the same run is unaffected either way.
 */
import { createHash } from 'node:crypto';

/** Left out when the mapping file does not say otherwise (`volatile` in config/mappings/*.json). */
export const DEFAULT_VOLATILE = ['leadpipe_last_intent_at'] as const;

export type FingerprintInput = { [key: string]: string | FingerprintInput | undefined };

function canonical(value: FingerprintInput, exclude: ReadonlySet<string>): string {
  const keys = Object.keys(value)
    .filter((k) => !exclude.has(k) && value[k] !== undefined)
    .sort();
  const parts = keys.map((k) => {
    const v = value[k] as string | FingerprintInput;
    return `${JSON.stringify(k)}:${typeof v === 'string' ? JSON.stringify(v) : canonical(v, exclude)}`;
  });
  return `{${parts.join(',')}}`;
}

/**
 * `properties` is a flat property map or a mapped person (`{ contact, company? }`); `exclude` names
 * volatile properties, dropped at every level.
 */
export function fingerprintPayload(properties: FingerprintInput, exclude: readonly string[] = DEFAULT_VOLATILE): string {
  return createHash('sha256').update(canonical(properties, new Set(exclude)), 'utf8').digest('hex');
}
