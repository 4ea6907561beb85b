/**
 * A rolling-window rate limiter: at most `max` requests start in any `intervalMs` window, at most
 * `maxConcurrent` are in flight, and a `hold` (after a 429) stops every start until it ends.
 *
 * Why not Bottleneck's reservoir (lib/limiter.ts): a reservoir refills on a fixed clock, so it lets
 * `max` requests through at the end of one window and `max` more at the start of the next — twice the
 * limit inside one rolling window, which is exactly how HubSpot counts ("TEN_SECONDLY_ROLLING"). Here a
 * request may start only when fewer than `max` started in the last `intervalMs + marginMs`; the margin
 * covers the network: HubSpot counts arrivals, we count departures.
 *
 * Starts are granted in call order (FIFO). One limiter per CRM account (`getRollingLimiter`), shared by
 * every sync of that account in this process; the registry is keyed by sha256 of the account id.
 */
import { hashLimiterId } from './limiter';

export interface RollingLimiterSettings {
  max: number;
  intervalMs: number;
  maxConcurrent: number;
  /** Added to the window before a slot counts as free again. */
  marginMs?: number;
}

export interface RollingLimiterClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

const realClock: RollingLimiterClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class RollingLimiter {
  private readonly starts: number[] = [];
  private inFlight = 0;
  private holdUntil = 0;
  private readonly released: Array<() => void> = [];
  private queue: Promise<void> = Promise.resolve();
  private settings: Required<RollingLimiterSettings>;

  constructor(
    settings: RollingLimiterSettings,
    private readonly clock: RollingLimiterClock = realClock,
  ) {
    this.settings = normalize(settings);
  }

  /** Runs `fn` once a slot is free; the slot is released when `fn` settles. */
  async schedule<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.inFlight -= 1;
      this.released.shift()?.();
    }
  }

  /** No request starts before `untilMs` (a later hold extends it). */
  hold(untilMs: number): void {
    this.holdUntil = Math.max(this.holdUntil, untilMs);
  }

  /** When the requests still in the window started (ms): for `record` on another limiter. */
  recentStarts(): number[] {
    return [...this.starts];
  }

  /**
   * Counts requests that another limiter let through against this one's window (a probe sent before the
   * account was known shares the account's budget at the API).
   */
  record(starts: readonly number[]): void {
    this.starts.push(...starts);
    this.starts.sort((a, b) => a - b);
  }

  updateSettings(settings: RollingLimiterSettings): void {
    this.settings = normalize(settings);
  }

  get pending(): number {
    return this.inFlight;
  }

  private acquire(): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot());
    // The next caller waits for this one to get its slot, not for its request to finish.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForSlot(): Promise<void> {
    const { max, intervalMs, maxConcurrent, marginMs } = this.settings;
    for (;;) {
      const now = this.clock.now();
      const windowStart = now - intervalMs - marginMs;
      while (this.starts.length > 0 && (this.starts[0] as number) <= windowStart) this.starts.shift();
      if (this.holdUntil > now) {
        await this.clock.sleep(this.holdUntil - now);
        continue;
      }
      if (this.inFlight >= maxConcurrent) {
        await new Promise<void>((resolve) => this.released.push(resolve));
        continue;
      }
      if (this.starts.length >= max) {
        await this.clock.sleep(Math.max(1, (this.starts[0] as number) - windowStart));
        continue;
      }
      this.starts.push(now);
      this.inFlight += 1;
      return;
    }
  }
}

function normalize(s: RollingLimiterSettings): Required<RollingLimiterSettings> {
  return {
    max: Math.max(1, Math.floor(s.max)),
    intervalMs: Math.max(1, Math.floor(s.intervalMs)),
    maxConcurrent: Math.max(1, Math.floor(s.maxConcurrent)),
    marginMs: Math.max(0, Math.floor(s.marginMs ?? 0)),
  };
}

const registry = new Map<string, RollingLimiter>();

/** The limiter of (scope, account) in this process, created on first use; settings are updated in place. */
export function getRollingLimiter(scope: string, accountId: string, settings: RollingLimiterSettings, clock?: RollingLimiterClock): RollingLimiter {
  const key = `${scope}:${hashLimiterId(accountId)}`;
  const existing = registry.get(key);
  if (existing) {
    existing.updateSettings(settings);
    return existing;
  }
  const limiter = new RollingLimiter(settings, clock);
  registry.set(key, limiter);
  return limiter;
}

/** Forgets every rolling limiter (tests). */
export function resetRollingLimiters(): void {
  registry.clear();
}
