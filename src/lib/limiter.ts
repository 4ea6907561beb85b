/**
 * One Bottleneck limiter per (scope, credential): every Leadpipe client built with the same API key, and
 * later every CRM adapter for the same account, shares one request budget inside this process, so two
 * concurrent syncs cannot together exceed a vendor limit that is counted per key.
 *
 * The credential itself is never stored: the registry is keyed by sha256(id), so a heap dump or a debug
 * print of the registry shows no secret.
 *
 * Budget: `requestsPerMinute` is a reservoir refilled every 60 s (a fixed window, the way vendors
 * usually count "N per minute"), and `maxConcurrent` caps requests in flight. Leadpipe publishes no
 * per-key numbers for audience/run endpoints (reference/leadpipe-api.md §1.3), so both come from config.
 * Retries re-enter the limiter on each attempt; waits between attempts happen outside it (lib/retry.ts),
 * so a sleeping retry never holds a slot.
 */
import { createHash } from 'node:crypto';
import Bottleneck from 'bottleneck';

export interface LimiterSettings {
  requestsPerMinute: number;
  maxConcurrent: number;
}

const WINDOW_MS = 60_000;

interface Entry {
  limiter: Bottleneck;
  fingerprint: string;
}

/**
 * Holds per (scope, credential), in epoch ms: a 429's `Retry-After` is about the key, not only the
 * request that received it, so every request of that key waits it out (lib/retry.ts does the waiting).
 */
const holds = new Map<string, number>();

const registry = new Map<string, Entry>();

/** sha256 of the credential, hex. Used as the registry key so the credential is never kept. */
export function hashLimiterId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

function toBottleneckOptions(scope: string, hashedId: string, settings: LimiterSettings): Bottleneck.ConstructorOptions {
  const perMinute = Math.max(1, Math.floor(settings.requestsPerMinute));
  return {
    // Only a short hash prefix in the id: enough to tell limiters apart in Bottleneck's debug events.
    id: `${scope}:${hashedId.slice(0, 12)}`,
    maxConcurrent: Math.max(1, Math.floor(settings.maxConcurrent)),
    reservoir: perMinute,
    reservoirRefreshAmount: perMinute,
    reservoirRefreshInterval: WINDOW_MS,
  };
}

/**
 * Returns the limiter for `id` (an API key, a CRM account id…) within `scope` (`leadpipe`, `hubspot`…),
 * creating it on first use. If the settings changed since (config reload), the existing limiter is
 * updated in place rather than replaced, so jobs already queued keep their place.
 */
export function getLimiter(scope: string, id: string, settings: LimiterSettings): Bottleneck {
  const hashedId = hashLimiterId(id);
  const key = `${scope}:${hashedId}`;
  const fingerprint = `${settings.requestsPerMinute}/${settings.maxConcurrent}`;
  const existing = registry.get(key);
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      const { reservoir: _keepCurrentReservoir, ...rest } = toBottleneckOptions(scope, hashedId, settings);
      existing.limiter.updateSettings(rest);
      existing.fingerprint = fingerprint;
    }
    return existing.limiter;
  }
  const limiter = new Bottleneck(toBottleneckOptions(scope, hashedId, settings));
  registry.set(key, { limiter, fingerprint });
  return limiter;
}

/** Holds every request of (scope, id) until `untilMs` (a later hold extends it, an earlier one is ignored). */
export function holdLimiter(scope: string, id: string, untilMs: number): void {
  const key = `${scope}:${hashLimiterId(id)}`;
  holds.set(key, Math.max(holds.get(key) ?? 0, untilMs));
}

/** Milliseconds until requests of (scope, id) may go again; 0 when there is no hold. */
export function limiterHoldMs(scope: string, id: string, nowMs: number): number {
  const key = `${scope}:${hashLimiterId(id)}`;
  const until = holds.get(key);
  if (until === undefined) return 0;
  if (until <= nowMs) {
    holds.delete(key);
    return 0;
  }
  return until - nowMs;
}

/** Registry keys currently held (`scope:sha256`), for diagnostics and tests. Never contains a credential. */
export function limiterKeys(): string[] {
  return [...registry.keys()];
}

/** Stops and forgets every limiter (tests, graceful shutdown). Queued jobs are dropped. */
export async function resetLimiters(): Promise<void> {
  const entries = [...registry.values()];
  registry.clear();
  holds.clear();
  for (const entry of entries) await entry.limiter.stop({ dropWaitingJobs: true });
}
