/**
 * Every HubSpot request of orbit-sync goes through `HubspotApi.call`: one place for pacing, 429
 * handling, retries, error translation and the API-call counts of the sync summary.
 *
 * - Pacing: one rolling ten-second limiter per HubSpot account (reference/hubspot.md §7: 100/190 per
 *   10 s for private apps, 110 for OAuth apps) and a separate 5/s limiter for search, which HubSpot counts
 *   apart. The SDK's own retry decorator and Bottleneck stay off (§1.5: they are process-wide singletons).
 * - 429 by `policyName` (§7): `TEN_SECONDLY_ROLLING` holds the account's limiter, a tenth of the window
 *   doubled with each 429 in a row up to one window (backOffWindow), and retries; the search "secondly" limit waits 1 s; `DAILY` is not retried — it throws
 *   DAILY_LIMIT_REACHED, which stops the sync as `partial` with a message saying when it can resume.
 * - 5xx, network errors and timeouts back off (lib/retry.ts); 423 Locked waits 2 s (§2.1).
 * - The SDK accepts only the status codes its spec lists and throws `ApiException` for any other, even
 *   a 2xx (§1.7): a thrown 2xx is taken as success and its raw body returned. Callers parse every body
 *   with zod (`schemas.ts`), accepting the SDK's and the raw field names (`_new`/`new`, `_from`/`from`).
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { HubspotSettings } from '../../config';
import { SyncError } from '../../lib/errors';
import { withRetry } from '../../lib/retry';
import { withTimeout } from '../../lib/with-timeout';
import { getRollingLimiter, type RollingLimiter, type RollingLimiterClock } from '../../lib/rolling-limiter';

export type HubspotAppKind = 'privateApp' | 'oauthApp';

/** New tokens tried for one call answered 401 before the 401 is the connection's problem. */
const UNAUTHORIZED_RETRIES = 3;

export interface ApiStats {
  /** `"<METHOD> <path template>"` → requests sent, retries included. */
  byEndpoint: Record<string, number>;
  /** 429 responses received. */
  rateLimited: number;
}

export interface HubspotApiOptions {
  /** The HubSpot account (portal id); the rate limits are per account. */
  accountId: string;
  appKind: HubspotAppKind;
  settings: HubspotSettings;
  /** Injectable for tests. */
  clock?: RollingLimiterClock;
  random?: () => number;
  onRetry?: (event: { endpoint: string; attempt: number; delayMs: number; error: SyncError }) => void;
  /** Runs before every request is sent (the installed app refreshes an OAuth token close to expiry here). */
  beforeSend?: () => Promise<void>;
  /**
   * An OAuth app's way out of a 401: a new access token now, and the request that got the 401 is sent
   * again (up to UNAUTHORIZED_RETRIES times; then the 401 is the caller's AUTH_INVALID). Absent (private
   * apps), a 401 is final.
   */
  onUnauthorized?: () => Promise<void>;
}

/** The shape of `ApiException` from every generated API of `@hubspot/api-client` (each has its own class). */
interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

function isApiException(err: unknown): err is ApiExceptionLike {
  return err instanceof Error && typeof (err as Partial<ApiExceptionLike>).code === 'number' && 'body' in err;
}

/** A thrown 2xx carries the raw body; the caller parses it like a normal result. */
class SuccessInDisguise {
  constructor(readonly body: unknown) {}
}

interface HubspotErrorFields {
  message?: string;
  category?: string;
  policyName?: string;
  correlationId?: string;
  errors?: Array<{ message?: string; context?: Record<string, string[]> }>;
}

function errorFields(body: unknown): HubspotErrorFields {
  if (body === null || typeof body !== 'object') return typeof body === 'string' ? { message: body } : {};
  return body;
}

/** Translates an `ApiException` (or a network failure) into our SyncError; `limiter` is held on a 10-s 429. */
export function classifyHubspotError(err: unknown, context: { endpoint: string; intervalMs: number }): SyncError {
  if (!isApiException(err)) {
    const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
    const detail = cause?.code ?? (err instanceof Error ? err.message : String(err));
    return new SyncError('NETWORK', `HubSpot could not be reached (${context.endpoint}): ${detail}`, { retryable: true, cause: err });
  }
  const body = errorFields(err.body);
  const requestId = body.correlationId;
  const what = `HubSpot answered ${err.code} to ${context.endpoint}`;
  const message = body.message ?? 'no message';
  const opts = { status: err.code, cause: err, ...(requestId !== undefined && { requestId }) };
  if (err.code === 429) {
    if (body.policyName === 'DAILY') {
      return new SyncError(
        'DAILY_LIMIT_REACHED',
        `HubSpot's daily API limit for this account is used up (${message}). It resets at midnight in the portal's time zone; ` +
          'run the same sync again after that and it resumes where it stopped.',
        opts,
      );
    }
    const secondly = /secondly/i.test(message) && body.policyName !== 'TEN_SECONDLY_ROLLING';
    // The window HubSpot reports for this account (X-HubSpot-RateLimit-Interval-Milliseconds), else ours.
    const header = Object.entries(err.headers ?? {}).find(([k]) => k.toLowerCase() === 'x-hubspot-ratelimit-interval-milliseconds')?.[1];
    const windowMs = header !== undefined && /^\d+$/.test(header.trim()) ? Math.min(Number(header), 60_000) : context.intervalMs;
    return new SyncError('RATE_LIMITED', `${what}: ${message}`, { ...opts, retryable: true, retryAfterMs: secondly ? 1000 : windowMs });
  }
  if (err.code === 423) return new SyncError('CRM_LOCKED', `${what}: ${message} (records locked; waiting 2 s)`, { ...opts, retryable: true, retryAfterMs: 2000 });
  if (err.code === 401) {
    return new SyncError('AUTH_INVALID', `${what}: ${message}. Check HUBSPOT_ACCESS_TOKEN (a private app token) or reconnect the portal.`, opts);
  }
  if (err.code === 403) {
    const scopes = (body.errors ?? []).flatMap((e) => e.context?.requiredGranularScopes ?? e.context?.missingScopes ?? []);
    const hint = scopes.length > 0 ? ` Missing scopes: ${scopes.join(', ')}.` : ' Check the app’s scopes (app.json).';
    return new SyncError('AUTH_FORBIDDEN', `${what}: ${message}.${hint}`, opts);
  }
  if (err.code === 404) return new SyncError('NOT_FOUND', `${what}: ${message}`, opts);
  if (err.code >= 500 || err.code === 408) return new SyncError('UPSTREAM_5XX', `${what}: ${message}`, { ...opts, retryable: true });
  return new SyncError('BAD_REQUEST', `${what}: ${message}`, opts);
}

export class HubspotApi {
  readonly stats: ApiStats = { byEndpoint: {}, rateLimited: 0 };
  private readonly limiter: RollingLimiter;
  private readonly searchLimiter: RollingLimiter;
  private readonly clock: RollingLimiterClock;
  /** Ten-secondly 429s in a row (reset by any answer): how long the next one holds the account. */
  private throttleStreak = 0;

  constructor(private readonly options: HubspotApiOptions) {
    const { settings } = options;
    this.clock = options.clock ?? { now: () => Date.now(), sleep: (ms) => sleepTimer(ms) };
    this.limiter = getRollingLimiter(
      'hubspot',
      options.accountId,
      { max: settings.requestsPer10s[options.appKind], intervalMs: 10_000, maxConcurrent: settings.maxConcurrent, marginMs: settings.windowMarginMs },
      this.clock,
    );
    this.searchLimiter = getRollingLimiter(
      'hubspot-search',
      options.accountId,
      { max: settings.searchPerSecond, intervalMs: 1000, maxConcurrent: settings.maxConcurrent, marginMs: settings.windowMarginMs },
      this.clock,
    );
  }

  /**
   * Takes over what a probe `HubspotApi` of the same account sent before the account was known: its call
   * counts, and its requests in this account's ten-second and search windows (HubSpot counts them there).
   */
  adopt(probe: HubspotApi): void {
    for (const [name, count] of Object.entries(probe.stats.byEndpoint)) this.stats.byEndpoint[name] = (this.stats.byEndpoint[name] ?? 0) + count;
    this.stats.rateLimited += probe.stats.rateLimited;
    if (probe.limiter !== this.limiter) this.limiter.record(probe.limiter.recentStarts());
    if (probe.searchLimiter !== this.searchLimiter) this.searchLimiter.record(probe.searchLimiter.recentStarts());
  }

  /**
   * Sends one request through the limiter with retries. `endpoint` names it in the stats
   * (`POST /crm/v3/objects/contacts/batch/upsert`); `send` makes the SDK call. Returns the response body
   * (the SDK's typed object, or the raw body of a 2xx the SDK refused): parse it before use.
   */
  async call(endpoint: string, send: () => Promise<unknown>, options: { search?: boolean } = {}): Promise<unknown> {
    const refresh = this.options.onUnauthorized;
    for (let refreshed = 0; ; refreshed += 1) {
      try {
        return await this.attempt(endpoint, send, options);
      } catch (err) {
        // An access token can die before the expiry we were told (revoked, replaced, clocks apart): a new
        // token and one more try. With several requests in flight, the token a retry carries can be one
        // another request's 401 already replaced, so a few tries; a refused refresh ends it at once, and
        // after UNAUTHORIZED_RETRIES a 401 is the connection's problem.
        if (!refresh || !(err instanceof SyncError) || err.status !== 401 || refreshed >= UNAUTHORIZED_RETRIES) throw err;
        await refresh();
      }
    }
  }

  private async attempt(endpoint: string, send: () => Promise<unknown>, options: { search?: boolean }): Promise<unknown> {
    const limiter = options.search ? this.searchLimiter : this.limiter;
    const intervalMs = options.search ? 1000 : 10_000;
    return withRetry(
      () =>
        limiter.schedule(async () => {
          this.stats.byEndpoint[endpoint] = (this.stats.byEndpoint[endpoint] ?? 0) + 1;
          if (this.options.beforeSend) await this.options.beforeSend();
          try {
            const ms = this.options.settings.timeoutMs;
            const result = await withTimeout(send(), ms, () => new SyncError('TIMEOUT', `HubSpot did not answer ${endpoint} within ${ms} ms`, { retryable: true }));
            if (!options.search) this.throttleStreak = 0;
            return result;
          } catch (err) {
            if (isApiException(err) && err.code >= 200 && err.code < 300) return new SuccessInDisguise(err.body);
            if (err instanceof SyncError) throw err;
            let error = classifyHubspotError(err, { endpoint, intervalMs });
            if (error.status === 429) {
              this.stats.rateLimited += 1;
              if (error.code === 'RATE_LIMITED' && !options.search) error = this.backOffWindow(error);
              if (error.code === 'RATE_LIMITED') limiter.hold(this.clock.now() + (error.retryAfterMs ?? intervalMs));
            }
            throw error;
          }
        }),
      {
        settings: this.options.settings.retry,
        sleep: (ms) => this.clock.sleep(ms),
        ...(this.options.random && { random: this.options.random }),
        onRetry: (event) => this.options.onRetry?.({ endpoint, ...event }),
      },
    ).then((result) => (result instanceof SuccessInDisguise ? result.body : result));
  }

  /**
   * A ten-secondly 429 says the rolling window is full, not how long until it has room: the oldest request
   * leaves it any time within the window. The account waits a tenth of the window, doubled with each 429
   * in a row, up to the whole window (HubSpot's X-HubSpot-RateLimit-Interval-Milliseconds).
   */
  private backOffWindow(error: SyncError): SyncError {
    const windowMs = error.retryAfterMs ?? 10_000;
    const waitMs = Math.min(windowMs, Math.ceil(windowMs / 10) * 2 ** this.throttleStreak);
    this.throttleStreak += 1;
    return new SyncError(error.code, error.message, { retryable: true, retryAfterMs: waitMs, cause: error, ...(error.status !== undefined && { status: error.status }), ...(error.requestId !== undefined && { requestId: error.requestId }) });
  }
}
