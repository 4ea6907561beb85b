/**
 * The one retry policy of the app. `decideRetry` is a pure function (attempt, error, settings, random →
 * retry or not, and how long to wait), so every rule is table-tested without timers; `withRetry` is the
 * thin loop around it and the only place in the codebase that sleeps between attempts.
 *
 * Rules, in order:
 *   1. an error that is not `retryable` (401, 403, 404, 409, bad input, bad response) is never retried;
 *   2. after `maxAttempts` attempts in total we stop and surface the last error;
 *   3. an error carrying `retryAfterMs` waits exactly that long: a 429's `Retry-After`, or a polling
 *      interval chosen by the caller (e.g. "stored export still processing");
 *   4. anything else retryable (5xx, NETWORK, TIMEOUT, 429 without Retry-After) waits a capped exponential
 *      backoff with full jitter: random() × min(maxDelayMs, baseDelayMs × 2^(attempt−1)).
 *      Full jitter spreads clients that failed together (AWS Architecture Blog, "Exponential Backoff
 *      And Jitter"). Leadpipe documents no rate-limit headers (reference/leadpipe-api.md §1.3), so
 *      backoff is our only defence when `Retry-After` is absent.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { RetrySettings } from '../config';
import { SyncError, isSyncError } from './errors';

export type { RetrySettings } from '../config';

export interface RetryDecisionInput {
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  error: SyncError;
  settings: RetrySettings;
  /** A source of numbers in [0, 1); `Math.random` in production, a constant in tests. */
  random: () => number;
}

export interface RetryDecision {
  retry: boolean;
  /** How long to wait before the next attempt; 0 when not retrying. */
  delayMs: number;
}

/** Pure: decides whether the failed `attempt` should be retried and after how long. */
export function decideRetry({ attempt, error, settings, random }: RetryDecisionInput): RetryDecision {
  if (!error.retryable) return { retry: false, delayMs: 0 };
  if (attempt >= settings.maxAttempts) return { retry: false, delayMs: 0 };
  if (error.retryAfterMs !== undefined && Number.isFinite(error.retryAfterMs) && error.retryAfterMs >= 0) {
    // A server asking for a wait longer than we are willing to sleep (an hour, a day…) is not retried
    // in-process: the job fails with the wait in its message and is picked up again later.
    if (error.retryAfterMs > settings.maxRetryAfterMs) return { retry: false, delayMs: 0 };
    return { retry: true, delayMs: Math.ceil(error.retryAfterMs) };
  }
  return { retry: true, delayMs: backoffDelayMs(attempt, settings, random) };
}

/** Capped exponential backoff with full jitter, for the `attempt` that just failed (1-based). */
export function backoffDelayMs(attempt: number, settings: RetrySettings, random: () => number): number {
  const exponent = Math.max(0, attempt - 1);
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** exponent);
  // Clamp random() so a misbehaving source can never produce a negative or over-cap delay.
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(ceiling * r);
}

/**
 * Parses an HTTP `Retry-After` header (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date.
 * Returns milliseconds to wait, or undefined when the header is absent or unparseable (then backoff
 * applies). `nowMs` is passed in so this stays pure; without it an HTTP-date cannot be converted.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs?: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP-date always has a day or month name; this keeps Date.parse from reading "-5" as a year.
  if (nowMs === undefined || !/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export interface RetryEvent {
  /** The attempt that failed (1-based). */
  attempt: number;
  error: SyncError;
  delayMs: number;
}

export interface WithRetryOptions {
  settings: RetrySettings;
  /** Injectable so tests need not wait real time. Defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called before each wait, e.g. to log or count 429s. */
  onRetry?: (event: RetryEvent) => void;
  /**
   * How long the credential is held by a 429 received elsewhere (lib/limiter.ts `limiterHoldMs`):
   * waited out before every attempt, less what this call has just slept anyway.
   */
  holdMs?: () => number;
}

export const defaultSleep = (ms: number): Promise<void> => sleepTimer(ms);

/**
 * Runs `fn` until it succeeds or `decideRetry` says stop. `fn` receives the 1-based attempt number.
 * Only `SyncError`s are considered for retry: anything else is a programming error and is rethrown at
 * once. When a retryable error runs out of attempts, the error is rethrown with "after N attempts"
 * appended, so the operator can tell a flapping upstream from a single failure.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: WithRetryOptions): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  let justSlept = 0;
  for (let attempt = 1; ; attempt++) {
    const held = (options.holdMs?.() ?? 0) - justSlept;
    if (held > 0) await sleep(held);
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isSyncError(err)) throw err;
      const decision = decideRetry({ attempt, error: err, settings: options.settings, random });
      if (!decision.retry) {
        if (err.retryable && err.retryAfterMs !== undefined && err.retryAfterMs > options.settings.maxRetryAfterMs) {
          throw waitTooLong(err, options.settings.maxRetryAfterMs);
        }
        if (err.retryable && attempt > 1) throw exhausted(err, attempt);
        throw err;
      }
      options.onRetry?.({ attempt, error: err, delayMs: decision.delayMs });
      await sleep(decision.delayMs);
      justSlept = decision.delayMs;
    }
  }
}

function waitTooLong(err: SyncError, maxMs: number): SyncError {
  const secs = (ms: number): string => `${Math.ceil(ms / 1000)} s`;
  return new SyncError(
    err.code,
    `${err.message} The server asked to wait ${secs(err.retryAfterMs ?? 0)}, longer than retry.maxRetryAfterMs (${secs(maxMs)}); try again after that.`,
    { retryable: err.retryable, retryAfterMs: err.retryAfterMs, status: err.status, requestId: err.requestId, cause: err },
  );
}

function exhausted(err: SyncError, attempts: number): SyncError {
  return new SyncError(err.code, `${err.message} (gave up after ${attempts} attempts)`, {
    retryable: err.retryable,
    retryAfterMs: err.retryAfterMs,
    status: err.status,
    requestId: err.requestId,
    cause: err,
  });
}
