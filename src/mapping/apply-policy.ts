/**
 * Decides which mapped properties to write to one CRM record, given the record's current values.
 * Pure; the same function serves writes and `--dry-run` (which prints `changes` and `kept`).
 *
 * 1. `never`: not written (a match key such as `email`).
 * 2. An empty mapped value is never written: a sync never blanks a CRM field.
 * 3. `ifEmpty`: written only when the current value is null, undefined or blank.
 * 4. `always`: written when it differs from the current value (numbers and datetimes compared by value,
 *    so HubSpot's `87.0` or epoch-ms echo of what we sent does not count as a change).
 *
 * `current === undefined` means the record does not exist yet: everything but `never` is written.
 */
import type { MappingEntry, MappingPolicy, MappingValueType } from './mapping-schema';

export type CurrentValues = Record<string, string | null | undefined>;

export interface FieldChange {
  property: string;
  before: string | null;
  after: string;
  policy: MappingPolicy;
}

export interface KeptField extends FieldChange {
  /** `equal`: CRM already has it; `notEmpty`: an ifEmpty field holds a value; `never`: read-only. */
  reason: 'equal' | 'notEmpty' | 'never';
}

export interface PolicyResult {
  /** The properties to send. */
  properties: Record<string, string>;
  /** Field-level before/after of what is sent. */
  changes: FieldChange[];
  /** Mapped values not sent, with why. */
  kept: KeptField[];
}

function isEmpty(value: string | null | undefined): value is null | undefined | '' {
  return value === null || value === undefined || value.trim() === '';
}

function sameValue(a: string, b: string, type: MappingValueType): boolean {
  if (a === b) return true;
  if (type === 'number') {
    const x = Number(a);
    const y = Number(b);
    return a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && x === y;
  }
  if (type === 'datetime') {
    const toMs = (v: string): number => (/^\d+$/.test(v.trim()) ? Number(v) : Date.parse(v));
    const x = toMs(a);
    return !Number.isNaN(x) && x === toMs(b);
  }
  return false;
}

export function applyPolicy(mapped: Record<string, string>, current: CurrentValues | undefined, entries: readonly MappingEntry[]): PolicyResult {
  const byProperty = new Map(entries.map((e) => [e.property, e]));
  const result: PolicyResult = { properties: {}, changes: [], kept: [] };
  for (const [property, after] of Object.entries(mapped)) {
    if (after.trim() === '') continue;
    const entry = byProperty.get(property);
    // A property missing from the mapping gets the safe default: what a rep may have typed is kept.
    const policy: MappingPolicy = entry?.policy ?? 'ifEmpty';
    const type: MappingValueType = entry?.type ?? 'string';
    // Own values only: a record without a `constructor` or `valueOf` field must not read Object.prototype's.
    const raw = current !== undefined && Object.hasOwn(current, property) ? current[property] : undefined;
    const before = raw ?? null;
    const field = { property, before, after, policy };
    if (policy === 'never') {
      result.kept.push({ ...field, reason: 'never' });
    } else if (isEmpty(raw)) {
      result.properties[property] = after;
      result.changes.push(field);
    } else if (sameValue(raw, after, type)) {
      result.kept.push({ ...field, reason: 'equal' });
    } else if (policy === 'ifEmpty') {
      result.kept.push({ ...field, reason: 'notEmpty' });
    } else {
      result.properties[property] = after;
      result.changes.push(field);
    }
  }
  return result;
}
