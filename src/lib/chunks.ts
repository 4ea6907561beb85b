/** Splits `items` into consecutive slices of at most `size` (batches for APIs, `IN` lists for SQL). */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[], void, undefined> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a whole number ≥ 1, got ${size}`);
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
