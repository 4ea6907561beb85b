import { RollingLimiter, type RollingLimiterClock } from '../../../src/lib/rolling-limiter';

/** A manual clock: sleeping advances time, so the limiter's waits are exact and instant. */
function fakeClock(): RollingLimiterClock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

describe('RollingLimiter', () => {
  it('never starts more than max requests in any rolling window (unlike a fixed-window reservoir)', async () => {
    const clock = fakeClock();
    const limiter = new RollingLimiter({ max: 10, intervalMs: 10_000, maxConcurrent: 100, marginMs: 100 }, clock);
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 35 }, () => limiter.schedule(() => Promise.resolve(starts.push(clock.t)))));
    expect(starts).toHaveLength(35);
    for (const t of starts) {
      const inWindow = starts.filter((s) => s > t - 10_000 && s <= t).length;
      expect(inWindow).toBeLessThanOrEqual(10);
    }
    // Each window of 10 waits for the first of the previous 10 to be older than interval + margin.
    expect(starts[10]).toBe(10_100);
    expect(starts[20]).toBe(20_200);
  });

  it('holds every start until a 429 hold has passed', async () => {
    const clock = fakeClock();
    const limiter = new RollingLimiter({ max: 100, intervalMs: 10_000, maxConcurrent: 4 }, clock);
    limiter.hold(5_000);
    let startedAt = -1;
    await limiter.schedule(() => Promise.resolve((startedAt = clock.t)));
    expect(startedAt).toBe(5_000);
  });

  it('caps requests in flight at maxConcurrent and releases the slot when a request fails', async () => {
    const limiter = new RollingLimiter({ max: 100, intervalMs: 1000, maxConcurrent: 2 }, fakeClock());
    let inFlight = 0;
    let peak = 0;
    const job = (fail: boolean) =>
      limiter.schedule(async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight -= 1;
        if (fail) throw new Error('boom');
      });
    const results = await Promise.allSettled([job(true), job(false), job(true), job(false), job(false)]);
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(2);
    expect(limiter.pending).toBe(0);
  });
});
