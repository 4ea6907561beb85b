/**
 * SOQL built from data, safely: every value is a quoted, escaped literal, and `IN (…)` lists are split
 * so each query's URL stays under Salesforce's limits.
 *
 * - Escaping (SOQL reference, "Quoted String Escape Sequences"): backslash, single and double quotes,
 *   newline, carriage return, tab, backspace and form feed get a backslash escape, so a value can never
 *   close its literal: `o'brien@x.com` → `'o\'brien@x.com'`, and `' OR Id != null OR Email = '` stays
 *   one string.
 * - Queries go out as `GET …/query?q=<encodeURIComponent(soql)>` (jsforce), and Salesforce caps the URI
 *   and headers at 16,384 bytes and recommends ≤ 2,000 characters (reference/salesforce.md §5). So a
 *   chunk is closed when the *encoded* query would pass `maxEncodedBytes` (default 6,000: room for the
 *   instance host, the version path and other headers).
 */
const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

export function soqlString(value: string): string {
  return `'${value.replace(/[\\'"\n\r\t\b\f]/g, (c) => ESCAPES[c] ?? c)}'`;
}

/** Field and object names come from our own config, never from data; still, refuse anything else. */
export function soqlName(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$/.test(name)) throw new RangeError(`not a SOQL field or object name: ${name}`);
  return name;
}

export const DEFAULT_MAX_ENCODED_BYTES = 6000;

/**
 * `SELECT <fields> FROM <object> WHERE <field> IN (<values>) [AND <extra>]`, as many queries as it takes
 * for each to stay under `maxEncodedBytes` once URL-encoded. Duplicate values are sent once.
 */
export function inQueries(
  object: string,
  fields: readonly string[],
  field: string,
  values: Iterable<string>,
  options: { extraWhere?: string; maxEncodedBytes?: number } = {},
): string[] {
  const max = options.maxEncodedBytes ?? DEFAULT_MAX_ENCODED_BYTES;
  const head = `SELECT ${[...new Set(fields)].map(soqlName).join(', ')} FROM ${soqlName(object)} WHERE ${soqlName(field)} IN (`;
  const tail = `)${options.extraWhere ? ` AND ${options.extraWhere}` : ''}`;
  const fixed = encodeURIComponent(head + tail).length;
  const queries: string[] = [];
  let literals: string[] = [];
  let size = fixed;
  for (const value of new Set(values)) {
    const literal = soqlString(value);
    const cost = encodeURIComponent(literal).length + (literals.length > 0 ? encodeURIComponent(', ').length : 0);
    if (fixed + encodeURIComponent(literal).length > max) throw new RangeError(`a single value is too long for a SOQL query (${literal.length} characters)`);
    if (literals.length > 0 && size + cost > max) {
      queries.push(head + literals.join(', ') + tail);
      literals = [];
      size = fixed;
    }
    literals.push(literal);
    size += literals.length === 1 ? encodeURIComponent(literal).length : cost;
  }
  if (literals.length > 0) queries.push(head + literals.join(', ') + tail);
  return queries;
}
