/**
 * When to ask Salesforce whether a Bulk API 2.0 ingest job is done (GET /jobs/ingest/{id}).
 *
 * A job holds one of the sync's `maxConcurrent` slots until its results are read, so the time between
 * the org finishing a job and our next poll is a slot left idle; polling more often spends the org's
 * daily API calls instead. `BulkPace` learns from a sync's finished jobs how long the org takes per row,
 * for each object and operation (triggers and flows differ), and polls a job when it should be done:
 * - nothing learnt yet: every `intervalMs` (`salesforce.bulkPollIntervalMs`);
 * - before the expected end: at the expected end, and at least every `intervalMs`;
 * - past it: after `intervalMs / 8`, then twice as long each time, back to `intervalMs` (a job slower than
 *   the last one costs three extra polls at most).
 * What a job teaches is the middle of [last seen running, first seen done], so later jobs close in on the
 * org's real pace whatever the first job's polls missed.
 */
export class BulkPace {
  private readonly msPerRow = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  /** The polls of one job of `rows` rows of `kind` (e.g. 'Lead upsert'), closed at `closedAt` (ms). */
  job(kind: string, rows: number, closedAt: number): BulkJobPace {
    const perRow = this.msPerRow.get(kind);
    const expected = perRow === undefined ? undefined : closedAt + perRow * rows;
    const first = Math.max(1, Math.round(this.intervalMs / 8));
    let overdue = 0;
    let running = closedAt;
    return {
      next: (now) => {
        if (expected === undefined) return this.intervalMs;
        if (now < expected) return Math.min(this.intervalMs, Math.ceil(expected - now));
        return Math.min(this.intervalMs, first * 2 ** overdue++);
      },
      stillRunning: (at) => {
        running = Math.max(running, at);
      },
      done: (at) => {
        this.msPerRow.set(kind, ((running + at) / 2 - closedAt) / Math.max(1, rows));
      },
    };
  }
}

export interface BulkJobPace {
  /** How long to wait (ms) before the next poll, at `now`. */
  next(now: number): number;
  /** A poll sent at `at` found the job still processing. */
  stillRunning(at: number): void;
  /** A poll answered at `at` found the job done. */
  done(at: number): void;
}
