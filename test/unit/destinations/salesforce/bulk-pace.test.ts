import { BulkPace } from '../../../../src/destinations/salesforce/bulk-pace';

/** Polls a job the way the destination does, against a job that is done `doneAfter` ms after it was closed; returns when each poll went out. */
function pollUntilDone(pace: BulkPace, kind: string, rows: number, closedAt: number, doneAfter: number): number[] {
  const job = pace.job(kind, rows, closedAt);
  const polls: number[] = [];
  let now = closedAt;
  while (polls.length < 100) {
    now += job.next(now);
    polls.push(now - closedAt);
    if (now - closedAt >= doneAfter) {
      job.done(now);
      return polls;
    }
    job.stillRunning(now);
  }
  throw new Error('never done');
}

describe('BulkPace: when a Bulk API 2.0 job is polled', () => {
  it('polls every bulkPollIntervalMs while nothing is learnt', () => {
    expect(pollUntilDone(new BulkPace(2000), 'Lead upsert', 4000, 0, 5000)).toEqual([2000, 4000, 6000]);
  });

  it('polls a later job of the same kind when it should be done, learnt from the earlier job', () => {
    const pace = new BulkPace(2000);
    // Done 5 s after closing: seen running at 4 s, done at 6 s → 1.25 ms per row (the middle).
    pollUntilDone(pace, 'Lead upsert', 4000, 0, 5000);
    // 2,000 rows at 1.25 ms: expected after 2.5 s; polled at 2 s (never more than the interval apart), then at 2.5 s.
    expect(pollUntilDone(pace, 'Lead upsert', 2000, 10_000, 2400)).toEqual([2000, 2500]);
  });

  it('closes in on the org’s pace: the idle time after a job is done shrinks job after job', () => {
    const pace = new BulkPace(2000);
    const lags = [0, 1, 2, 3].map((i) => {
      const polls = pollUntilDone(pace, 'Contact update', 3000, i * 100_000, 3300);
      return (polls.at(-1) ?? 0) - 3300;
    });
    expect(lags[0]).toBe(700);
    expect(lags.at(-1)).toBeLessThan(300);
    expect(lags.at(-1)).toBeLessThan(lags[0] as number);
  });

  it('past the expected end, polls at an eighth of the interval, then twice as long, back to the interval', () => {
    const pace = new BulkPace(2000);
    pollUntilDone(pace, 'Lead update', 1000, 0, 500); // learns 1 ms per row (seen done at 2 s, running at 0)
    // A job far slower than that: expected at 1 s; then 250, 500, 1000, 2000, 2000 ms apart.
    expect(pollUntilDone(pace, 'Lead update', 1000, 10_000, 6000)).toEqual([1000, 1250, 1750, 2750, 4750, 6750]);
  });

  it('learns each object and operation apart', () => {
    const pace = new BulkPace(2000);
    pollUntilDone(pace, 'Lead upsert', 2000, 0, 500);
    expect(pollUntilDone(pace, 'Contact update', 2000, 10_000, 500)).toEqual([2000]);
  });
});
