/**
 * Like `Promise.all`, but waits for every promise to settle before it throws the first rejection, so no
 * request is still running (and no write still landing) once the caller has moved on.
 */
export async function settleAll<T>(promises: Iterable<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
