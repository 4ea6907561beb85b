/**
 * Races a request against a timer: `timedOut()` is thrown when it has not settled within `ms`. The request
 * is not cancelled (the SDKs give no handle for it); a rejection it makes later is swallowed.
 */
export async function withTimeout<T>(pending: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
    pending.catch(() => undefined);
  }
}
