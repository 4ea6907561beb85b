/**
 * The Leadpipe Orbit API client (run-based API, reference/leadpipe-api.md). The only module that talks
 * to Leadpipe or to the storage host of its signed export URLs.
 *
 * Every API request:
 *   - sends `x-api-key` (never `Authorization: Bearer`: the docs forbid sending `sk_…` keys as Bearer
 *     tokens, https://docs.leadpipe.com/orbit-api/introduction) and `accept: application/json`;
 *   - goes through the per-key limiter (lib/limiter.ts), then the one retry policy (lib/retry.ts);
 *   - has a timeout (`AbortSignal.timeout(timeoutMs)`, started when the limiter lets the request go);
 *   - never follows a redirect with the key attached (`redirect: 'manual'`): only `export.csv` is
 *     expected to redirect, and its target is checked against the download allow-list and fetched
 *     without the key;
 *   - is parsed with zod; a body that does not match is a non-retryable BAD_RESPONSE.
 * Failures are logged at warn with method, path, status, code and request id; never the key, never a
 * signed URL's query string (it is a bearer credential for the file).
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Config } from '../config';
import { FixLeadpipeCredentialsError, SyncError, isSyncError } from '../lib/errors';
import { getLimiter, holdLimiter, limiterHoldMs } from '../lib/limiter';
import { isLoopbackHost } from '../lib/is-loopback';
import type { Logger } from '../lib/logger';
import { silentLogger } from '../lib/logger';
import type { RetryEvent, RetrySettings } from '../lib/retry';
import { withRetry } from '../lib/retry';
import { classifyLeadpipeError, leadpipeRequestId } from './classify-leadpipe-error';
import {
  LeadpipeAudienceListResponse,
  LeadpipeAudienceResponse,
  LeadpipeRunListResponse,
  LeadpipeRunResponse,
  LeadpipeRunResultsResponse,
  LeadpipeRunStatsResponse,
  LeadpipeStoredExportResponse,
} from './schemas';
import type {
  LeadpipeAudience,
  LeadpipeResultRow,
  LeadpipeRun,
  LeadpipeRunStats,
  LeadpipeStoredExport,
} from './schemas';

const AUDIENCES_PATH = '/v1/intent/audiences';
/** Documented max length of `Idempotency-Key` (reference §3.3, ref-queue). */
const MAX_IDEMPOTENCY_KEY_LENGTH = 120;
/** `?limit=` bounds of the runs list (reference §3.2, ref-listruns) and, [INFER], of results (§4.1). */
const MAX_PAGE_LIMIT = 100;
const MAX_REDIRECTS = 5;
/** Refresh a signed URL this long before `downloadUrlExpiresAt`, to absorb clock skew. */
const URL_EXPIRY_SKEW_MS = 30_000;
/** Export statuses after which polling is pointless (the full list is [UNKNOWN], reference §7.2). */
const FAILED_EXPORT_STATUSES = new Set(['failed', 'error', 'cancelled', 'canceled', 'expired', 'deleted']);

export type LeadpipeSettings = Config['leadpipe'];

export interface LeadpipeClientOptions extends Omit<LeadpipeSettings, 'allowedDownloadHosts'> {
  /** `Config['leadpipe'].apiKey` may be undefined; the client refuses to start without one. */
  apiKey: string | undefined;
  /** Exact hosts (`api.aws53.cloud`) or `*.suffix` wildcards (`*.backblazeb2.com`). */
  allowedDownloadHosts: readonly string[];
  /** Sandbox/demo only: also follow http(s) URLs on 127.0.0.0/8, localhost and [::1]. */
  allowLoopbackDownloads?: boolean;
  logger?: Logger;
  /** Injectable waits, randomness and clock, so tests need not wait real time. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Defaults to the global fetch, looked up at call time (so interceptors such as nock apply). */
  fetch?: typeof fetch;
  /** Polling of a stored export that is still processing: at most `maxPolls` checks, `intervalMs` apart. */
  exportPoll?: { maxPolls: number; intervalMs: number };
  /** How many fresh signed URLs one download may ask for after 401/403 from storage. Default 3. */
  maxUrlRefreshes?: number;
  /** How many times one download may resume with `Range` after the connection dropped. Default 3. */
  maxResumes?: number;
}

export interface ListAudiencesOptions {
  /** `draft` | `active` | `paused`. */
  status?: string;
  limit?: number;
}

export interface QueueRunOptions {
  /** Reusing a key returns the same run (reference §3.3). Generated when omitted, so retries are safe. */
  idempotencyKey?: string;
}

export interface PageOptions {
  limit?: number;
  offset?: number;
}

export interface LeadpipeRunResultsPending {
  state: 'pending';
  run: LeadpipeRun;
}

export interface LeadpipeRunResultsCompleted {
  state: 'completed';
  run: LeadpipeRun;
  results: LeadpipeResultRow[];
  /** Rows in the run. Documented on the 202 body only; falls back to `run.resultCount`, else undefined. */
  total: number | undefined;
  limit: number;
  offset: number;
}

/** 202 → pending (run queued/running); 200 → a completed page. 409 throws RUN_NOT_SERVABLE. */
export type LeadpipeRunResultsPage = LeadpipeRunResultsPending | LeadpipeRunResultsCompleted;

export interface LeadpipeClient {
  listAudiences(options?: ListAudiencesOptions): Promise<LeadpipeAudience[]>;
  getAudience(audienceId: string): Promise<LeadpipeAudience>;
  listRuns(audienceId: string, options?: { limit?: number }): Promise<LeadpipeRun[]>;
  queueRun(audienceId: string, options?: QueueRunOptions): Promise<LeadpipeRun>;
  getRunResults(audienceId: string, runId: string, options?: PageOptions): Promise<LeadpipeRunResultsPage>;
  iterateRunResults(audienceId: string, runId: string, options?: { pageSize?: number }): AsyncGenerator<LeadpipeRunResultsCompleted>;
  getRunStats(audienceId: string, runId: string): Promise<LeadpipeRunStats>;
  exportCsv(audienceId: string, runId: string): Promise<Readable>;
  createExport(audienceId: string, runId: string): Promise<LeadpipeStoredExport>;
  getExport(audienceId: string, runId: string, exportId: string): Promise<LeadpipeStoredExport>;
  waitForExport(audienceId: string, runId: string, exportId: string): Promise<LeadpipeStoredExport>;
  downloadExport(audienceId: string, runId: string, options?: { exportId?: string }): Promise<Readable>;
}

export interface DownloadPolicy {
  allowedDownloadHosts: readonly string[];
  allowLoopbackDownloads?: boolean;
}

/**
 * Checks a download URL (signed export URL or redirect target) against the allow-list and returns it
 * parsed. Only `https:` on an allowed host; `http:`/`https:` loopback only when explicitly enabled (the
 * sandbox). Throws DOWNLOAD_HOST_NOT_ALLOWED naming the host otherwise.
 */
export function checkDownloadUrl(raw: string | URL, policy: DownloadPolicy, base?: string | URL): URL {
  let url: URL;
  try {
    // `base` resolves a relative redirect `Location`; a malformed one is a BAD_RESPONSE, not a TypeError.
    url = new URL(raw, base);
  } catch (err) {
    throw new SyncError('BAD_RESPONSE', 'Leadpipe returned a download URL that is not a valid URL.', { cause: err });
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (url.username !== '' || url.password !== '') {
    // fetch refuses such URLs anyway; say so plainly instead of retrying a TypeError.
    throw new SyncError('DOWNLOAD_HOST_NOT_ALLOWED', `Refusing to download from ${host}: the URL embeds credentials.`);
  }
  if (isLoopbackHost(host)) {
    if (policy.allowLoopbackDownloads === true && (url.protocol === 'https:' || url.protocol === 'http:')) return url;
    throw new SyncError(
      'DOWNLOAD_HOST_NOT_ALLOWED',
      `Refusing to download from loopback host ${host}: loopback downloads are only allowed in sandbox mode (allowLoopbackDownloads).`,
    );
  }
  if (url.protocol !== 'https:') {
    throw new SyncError(
      'DOWNLOAD_HOST_NOT_ALLOWED',
      `Refusing to download from ${host} over ${url.protocol.replace(':', '')}: only https download URLs are followed.`,
    );
  }
  if (!policy.allowedDownloadHosts.some((pattern) => hostMatches(host, pattern))) {
    throw new SyncError(
      'DOWNLOAD_HOST_NOT_ALLOWED',
      `Refusing to download from ${host}: it is not in leadpipe.allowedDownloadHosts (${policy.allowedDownloadHosts.join(', ')}). ` +
        'If Leadpipe moved its export storage, add the host to config/default.json.',
    );
  }
  return url;
}

function hostMatches(host: string, pattern: string): boolean {
  const p = pattern.trim().toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) {
    const suffix = p.slice(1); // ".backblazeb2.com": a subdomain is required, the bare domain does not match
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return host === p;
}

interface ApiCall {
  method: 'GET' | 'POST';
  /** Path under the base URL, ids already encoded. Logged and used in messages; never has a query. */
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  headers?: Record<string, string>;
}

interface JsonResult<T> {
  status: number;
  body: T;
}

/** A response whose headers arrived; `release` stops its header-phase timer (call once the body is handed over). */
interface OpenedResponse {
  response: Response;
  release: () => void;
}

export function createLeadpipeClient(options: LeadpipeClientOptions): LeadpipeClient {
  const apiKey = options.apiKey?.trim();
  if (!apiKey) {
    throw new FixLeadpipeCredentialsError(
      'AUTH_INVALID',
      'LEADPIPE_API_KEY is not set. Create a key in the Leadpipe dashboard (Settings > API Keys) and set LEADPIPE_API_KEY.',
    );
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const logger = (options.logger ?? silentLogger).child({ component: 'leadpipe' });
  const now = options.now ?? Date.now;
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const limiter = getLimiter('leadpipe', apiKey, options);
  const retryOptions = {
    settings: options.retry,
    ...(options.sleep && { sleep: options.sleep }),
    ...(options.random && { random: options.random }),
  };
  const exportPoll = options.exportPoll ?? { maxPolls: 60, intervalMs: 2_000 };
  const maxUrlRefreshes = options.maxUrlRefreshes ?? 3;
  const maxResumes = options.maxResumes ?? 3;
  const downloadPolicy: DownloadPolicy = {
    allowedDownloadHosts: options.allowedDownloadHosts,
    allowLoopbackDownloads: options.allowLoopbackDownloads ?? false,
  };

  // ── plumbing ───────────────────────────────────────────────────────────────────────────────────────

  const onRetry =
    (method: string, path: string) =>
    ({ attempt, error, delayMs }: RetryEvent): void => {
      logger.info('leadpipe request will be retried', { method, path, attempt, code: error.code, delayMs });
      // The key is rate limited, not just this request: hold every request of the key as long.
      if (error.code === 'RATE_LIMITED') holdLimiter('leadpipe', apiKey, now() + delayMs);
    };
  const holdMs = (): number => limiterHoldMs('leadpipe', apiKey, now());

  const retrying = <T>(method: string, path: string, fn: (attempt: number) => Promise<T>, settings?: RetrySettings): Promise<T> =>
    withRetry(fn, { ...retryOptions, ...(settings && { settings }), onRetry: onRetry(method, path), holdMs });

  /** Logs a failed attempt and returns the error, so call sites read `throw failed(…)`. */
  const failed = (err: SyncError, method: string, path: string, attempt: number): SyncError => {
    logger.warn('leadpipe request failed', {
      method,
      path,
      status: err.status,
      code: err.code,
      requestId: err.requestId,
      attempt,
      retryable: err.retryable,
    });
    return err;
  };

  const apiUrl = (call: ApiCall): URL => {
    const url = new URL(baseUrl + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  };

  const apiHeaders = (call: ApiCall, accept: string): Record<string, string> => ({
    'x-api-key': apiKey,
    accept,
    ...(call.json !== undefined && { 'content-type': 'application/json' }),
    ...call.headers,
  });

  /** One attempt of a JSON API call: limiter → fetch (with timeout) → status check → zod. */
  const sendJsonOnce = async <S extends z.ZodType>(call: ApiCall, schema: S, attempt: number): Promise<JsonResult<z.infer<S>>> => {
    const { method, path } = call;
    let response: Response;
    let text: string;
    try {
      ({ response, text } = await limiter.schedule(async () => {
        const res = await doFetch(apiUrl(call), {
          method,
          headers: apiHeaders(call, 'application/json'),
          ...(call.json !== undefined && { body: JSON.stringify(call.json) }),
          redirect: 'manual',
          // Started inside the limiter so time spent queued does not count; covers reading the body too.
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        return { response: res, text: await res.text() };
      }));
    } catch (error) {
      throw failed(classifyLeadpipeError({ error, method, path, timeoutMs: options.timeoutMs }), method, path, attempt);
    }
    if (response.status < 200 || response.status >= 300) {
      const err = classifyLeadpipeError({ status: response.status, headers: response.headers, body: text, method, path, nowMs: now() });
      throw failed(err, method, path, attempt);
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const parsed = schema.safeParse(parseJsonOrUndefined(text));
    if (!parsed.success) {
      const where = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`)
        .join('; ');
      const err = new SyncError(
        'BAD_RESPONSE',
        `Leadpipe answered ${method} ${path} (HTTP ${response.status}) with a body orbit-sync does not understand (${where}). ` +
          'The API may have changed: report this with the request id.',
        { status: response.status, requestId: leadpipeRequestId(text) ?? requestId },
      );
      throw failed(err, method, path, attempt);
    }
    return { status: response.status, body: parsed.data };
  };

  const callJson = <S extends z.ZodType>(call: ApiCall, schema: S): Promise<JsonResult<z.infer<S>>> =>
    retrying(call.method, call.path, (attempt) => sendJsonOnce(call, schema, attempt));

  /**
   * fetch with a timeout on the header phase only. `AbortSignal.timeout` would also abort the body,
   * and a 300,000-row CSV can take longer than `timeoutMs` to stream; a stalled body is caught by
   * undici's own body timeout and then resumed (downloadExport) or reported (exportCsv).
   */
  const openWithDeadline = async (url: URL, init: RequestInit): Promise<OpenedResponse> => {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException(`No response within ${options.timeoutMs} ms`, 'TimeoutError')),
      options.timeoutMs,
    );
    const release = (): void => clearTimeout(timer);
    try {
      const response = await doFetch(url, { ...init, redirect: 'manual', signal: controller.signal });
      return { response, release };
    } catch (err) {
      release();
      throw err;
    }
  };

  /** Reads an error body (small) before the header-phase timer is released, then classifies it. */
  const storageError = async (opened: OpenedResponse, url: URL): Promise<SyncError> => {
    const text = await opened.response.text().catch(() => undefined);
    opened.release();
    return classifyLeadpipeError({
      status: opened.response.status,
      headers: opened.response.headers,
      body: text,
      method: 'GET',
      path: storageLabel(url),
      target: 'storage',
      nowMs: now(),
    });
  };

  /**
   * One attempt at opening a storage URL (signed export URL, or export.csv redirect target) from byte
   * `offset`. Never sends x-api-key. Follows redirects only to allowed hosts. Resolves once headers
   * arrived and the status is usable: 200 from 0, or 206 starting exactly at `offset`.
   */
  const openStorage = async (start: URL, offset: number, attempt: number): Promise<Response> => {
    let url = checkDownloadUrl(start, downloadPolicy);
    for (let hop = 0; ; hop++) {
      const label = storageLabel(url);
      let opened: OpenedResponse;
      try {
        opened = await openWithDeadline(url, {
          method: 'GET',
          headers: { accept: 'text/csv, */*;q=0.8', ...(offset > 0 && { range: `bytes=${offset}-` }) },
        });
      } catch (error) {
        throw failed(classifyLeadpipeError({ error, method: 'GET', path: label, target: 'storage', timeoutMs: options.timeoutMs }), 'GET', label, attempt);
      }
      const { response } = opened;
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await discard(opened);
        if (hop >= MAX_REDIRECTS) {
          throw failed(new SyncError('BAD_RESPONSE', `Too many redirects downloading from ${url.hostname}.`), 'GET', label, attempt);
        }
        url = checkDownloadUrl(location, downloadPolicy, url);
        continue;
      }
      if (response.status === 200 && offset > 0) {
        // The server ignored Range: continuing would emit the first `offset` bytes a second time.
        await discard(opened);
        throw failed(
          new SyncError(
            'NETWORK',
            `The export download from ${url.hostname} dropped after ${offset} bytes and the server cannot resume it ` +
              '(it answered 200 to a Range request). Run the sync again: writes are idempotent.',
            { status: 200 },
          ),
          'GET',
          label,
          attempt,
        );
      }
      if (response.status === 206 && contentRangeStart(response.headers.get('content-range')) !== offset) {
        await discard(opened);
        throw failed(
          new SyncError(
            'BAD_RESPONSE',
            `The export download from ${url.hostname} resumed at the wrong byte (asked for ${offset}, got ` +
              `"${response.headers.get('content-range') ?? 'no Content-Range'}"). Run the sync again.`,
            { status: 206 },
          ),
          'GET',
          label,
          attempt,
        );
      }
      if (response.status !== 200 && response.status !== 206) {
        throw failed(await storageError(opened, url), 'GET', label, attempt);
      }
      if (response.body === null) {
        opened.release();
        throw failed(new SyncError('BAD_RESPONSE', `The export download from ${url.hostname} has no body.`), 'GET', label, attempt);
      }
      opened.release();
      return response;
    }
  };

  // ── audiences ──────────────────────────────────────────────────────────────────────────────────────

  const listAudiences = async (opts: ListAudiencesOptions = {}): Promise<LeadpipeAudience[]> => {
    if (opts.limit !== undefined) assertInt('limit', opts.limit, 1, Number.MAX_SAFE_INTEGER);
    const { body } = await callJson(
      { method: 'GET', path: AUDIENCES_PATH, query: { status: opts.status, limit: opts.limit } },
      LeadpipeAudienceListResponse,
    );
    return body.data;
  };

  const getAudience = async (audienceId: string): Promise<LeadpipeAudience> => {
    const { body } = await callJson({ method: 'GET', path: audiencePath(audienceId) }, LeadpipeAudienceResponse);
    return body.data;
  };

  // ── runs ───────────────────────────────────────────────────────────────────────────────────────────

  const listRuns = async (audienceId: string, opts: { limit?: number } = {}): Promise<LeadpipeRun[]> => {
    if (opts.limit !== undefined) assertInt('limit', opts.limit, 1, MAX_PAGE_LIMIT);
    const { body } = await callJson(
      { method: 'GET', path: `${audiencePath(audienceId)}/runs`, query: { limit: opts.limit } },
      LeadpipeRunListResponse,
    );
    return body.data;
  };

  const queueRun = async (audienceId: string, opts: QueueRunOptions = {}): Promise<LeadpipeRun> => {
    // Always send a key: a POST retried after a timeout or 5xx must not queue a second run.
    const idempotencyKey = opts.idempotencyKey ?? `orbit-sync-${randomUUID()}`;
    assertIdempotencyKey(idempotencyKey);
    const { body } = await callJson(
      {
        method: 'POST',
        path: `${audiencePath(audienceId)}/runs`,
        json: { runType: 'manual' }, // the only run type public clients may queue (reference §3.1)
        headers: { 'idempotency-key': idempotencyKey },
      },
      LeadpipeRunResponse,
    );
    return body.data;
  };

  // ── results and stats ──────────────────────────────────────────────────────────────────────────────

  const getRunResults = async (audienceId: string, runId: string, opts: PageOptions = {}): Promise<LeadpipeRunResultsPage> => {
    const limit = opts.limit ?? options.resultsPageSize;
    const offset = opts.offset ?? 0;
    assertInt('limit', limit, 1, MAX_PAGE_LIMIT);
    assertInt('offset', offset, 0, Number.MAX_SAFE_INTEGER);
    const { status, body } = await callJson(
      { method: 'GET', path: `${runPath(audienceId, runId)}/results`, query: { limit, offset } },
      LeadpipeRunResultsResponse,
    );
    const data = body.data;
    if (status === 202) return { state: 'pending', run: data.run };
    return {
      state: 'completed',
      run: data.run,
      results: data.results ?? [],
      total: data.total ?? data.run.resultCount ?? undefined,
      limit: data.limit ?? limit,
      offset: data.offset ?? offset,
    };
  };

  /**
   * Pages through a completed run with `offset += rows received` (not `+= limit`: if Leadpipe caps the
   * page lower than asked, nothing is skipped) until `total` is reached, an empty page, or, when
   * `total` is missing, a short page. A pending run throws RUN_NOT_READY: poll before iterating.
   */
  async function* iterateRunResults(
    audienceId: string,
    runId: string,
    opts: { pageSize?: number } = {},
  ): AsyncGenerator<LeadpipeRunResultsCompleted> {
    const limit = opts.pageSize ?? options.resultsPageSize;
    let offset = 0;
    for (;;) {
      const page = await getRunResults(audienceId, runId, { limit, offset });
      if (page.state === 'pending') {
        throw new SyncError(
          'RUN_NOT_READY',
          `Run ${runId} of audience ${audienceId} is still ${page.run.status}; its results can be read once it completes.`,
          { retryable: true },
        );
      }
      if (page.results.length === 0) return;
      yield page;
      offset += page.results.length;
      if (page.total !== undefined ? offset >= page.total : page.results.length < limit) return;
    }
  }

  const getRunStats = async (audienceId: string, runId: string): Promise<LeadpipeRunStats> => {
    const { body } = await callJson({ method: 'GET', path: `${runPath(audienceId, runId)}/stats` }, LeadpipeRunStatsResponse);
    return body.data;
  };

  // ── direct CSV export ──────────────────────────────────────────────────────────────────────────────

  /**
   * GET …/runs/{runId}/export.csv (capped at 300,000 rows by Leadpipe, reference §7.1). The docs' curl
   * uses `-L`, so a redirect is expected to be possible: its target must pass the download allow-list
   * and is fetched without the API key. Everything up to the first body byte is retried; after that a
   * dropped connection fails the stream (this endpoint documents no Range support; downloadExport resumes).
   */
  const exportCsv = async (audienceId: string, runId: string): Promise<Readable> => {
    const call: ApiCall = { method: 'GET', path: `${runPath(audienceId, runId)}/export.csv` };
    const response = await retrying(call.method, call.path, async (attempt) => {
      let opened: OpenedResponse;
      try {
        opened = await limiter.schedule(() =>
          openWithDeadline(apiUrl(call), { method: 'GET', headers: apiHeaders(call, 'text/csv, application/json;q=0.9') }),
        );
      } catch (error) {
        throw failed(classifyLeadpipeError({ error, method: 'GET', path: call.path, timeoutMs: options.timeoutMs }), 'GET', call.path, attempt);
      }
      const { response: res } = opened;
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await discard(opened);
        return openStorage(checkDownloadUrl(location, downloadPolicy, apiUrl(call)), 0, attempt);
      }
      if (res.status === 202) {
        // A queued or running run (the results endpoint answers 202 the same way): not an error of ours.
        await discard(opened);
        throw new SyncError('RUN_NOT_READY', `Run ${runId} of audience ${audienceId} is still being materialized; its export is not ready. Wait until the run is completed and try again.`, {
          status: 202,
        });
      }
      if (res.status !== 200 || res.body === null) {
        const text = await res.text().catch(() => undefined);
        opened.release();
        const err = classifyLeadpipeError({ status: res.status, headers: res.headers, body: text, method: 'GET', path: call.path, nowMs: now() });
        throw failed(err, 'GET', call.path, attempt);
      }
      opened.release();
      return res;
    });
    const label = `run ${runId} CSV export`;
    async function* bytes(): AsyncGenerator<Buffer> {
      let emitted = 0;
      try {
        for await (const chunk of bodyChunks(response)) {
          emitted += chunk.length;
          yield chunk;
        }
      } catch (err) {
        logger.warn('leadpipe export stream interrupted', { path: call.path, bytes: emitted });
        throw new SyncError(
          'NETWORK',
          `The ${label} stopped after ${emitted} bytes (${describeCause(err)}). export.csv cannot be resumed: run the sync ` +
            'again (writes are idempotent), or use the stored export, which resumes.',
          { retryable: true, cause: err },
        );
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  };

  // ── stored exports ─────────────────────────────────────────────────────────────────────────────────

  const exportsPath = (audienceId: string, runId: string): string => `${runPath(audienceId, runId)}/exports`;
  const exportCall = (audienceId: string, runId: string, exportId: string): ApiCall => ({
    method: 'GET',
    path: `${exportsPath(audienceId, runId)}/${encodeId('exportId', exportId)}`,
  });

  /** POST …/exports: 200 = an existing export reused (fresh signed URL); 201/202 = created, maybe processing. */
  const createExport = async (audienceId: string, runId: string): Promise<LeadpipeStoredExport> => {
    const { status, body } = await callJson({ method: 'POST', path: exportsPath(audienceId, runId) }, LeadpipeStoredExportResponse);
    logger.info('leadpipe stored export', { runId, exportId: body.data.export.id, status: body.data.export.status, reused: status === 200 });
    return body.data;
  };

  /** GET …/exports/{exportId}: the export with a fresh signed URL (reference §7.2, ref-getexport). */
  const getExport = async (audienceId: string, runId: string, exportId: string): Promise<LeadpipeStoredExport> => {
    const { body } = await callJson(exportCall(audienceId, runId, exportId), LeadpipeStoredExportResponse);
    return body.data;
  };

  /**
   * Polls GET …/exports/{exportId} until `export.status` is `completed` with a URL. Polling is a retry
   * loop like any other: "still processing" is a retryable EXPORT_NOT_READY with `retryAfterMs` set to
   * the poll interval, so withRetry does the waiting and the number of checks is bounded.
   */
  const waitForExport = (audienceId: string, runId: string, exportId: string): Promise<LeadpipeStoredExport> => {
    const call = exportCall(audienceId, runId, exportId);
    const settings: RetrySettings = { ...options.retry, maxAttempts: exportPoll.maxPolls };
    return retrying(
      call.method,
      call.path,
      async (attempt) => {
        const stored = (await sendJsonOnce(call, LeadpipeStoredExportResponse, attempt)).body.data;
        const status = stored.export.status.toLowerCase();
        if (status === 'completed' && stored.downloadUrl) return stored;
        if (FAILED_EXPORT_STATUSES.has(status)) {
          const reason = [stored.export.errorCode, stored.export.errorMessage].filter(Boolean).join(': ');
          throw new SyncError(
            'EXPORT_NOT_READY',
            `Leadpipe could not build stored export ${exportId} of run ${runId} (status ${status}${reason ? `, ${reason}` : ''}). ` +
              'Create a new export, use the direct CSV export, or contact Leadpipe support.',
            { retryable: false },
          );
        }
        throw new SyncError(
          'EXPORT_NOT_READY',
          `Stored export ${exportId} of run ${runId} is not ready (status ${status}); checked every ${exportPoll.intervalMs} ms. ` +
            'Try again later.',
          { retryable: true, retryAfterMs: exportPoll.intervalMs },
        );
      },
      settings,
    );
  };

  /*
   * downloadExport: stream a run's stored CSV export from its signed URL, surviving an expired URL and a
   * dropped connection without ever emitting a byte twice.
   *
   *   1. Get the export: POST …/exports (create or reuse), or GET …/exports/{exportId} when an id is given.
   *   2. If it is not `completed` with a `downloadUrl` yet, poll GET …/exports/{exportId} (waitForExport).
   *   3. Check the signed URL: https and an allow-listed host (loopback only in sandbox mode). The storage
   *      host never receives x-api-key: the signature in the URL is the only credential.
   *   4. Open it through withRetry. A 401/403 from storage means the signature expired (B2 answers 401 or
   *      403, JSON or XML body): the next attempt first asks GET …/exports/{exportId} for a fresh URL, at
   *      most `maxUrlRefreshes` times. A URL already past `downloadUrlExpiresAt` is refreshed up front.
   *      5xx, timeouts and network errors back off as usual.
   *   5. Stream the body to the caller as it arrives, counting the bytes handed over.
   *   6. If the connection drops mid-body, re-open (step 4, with a fresh URL) asking `Range: bytes=N-`.
   *      Continue only on a 206 whose Content-Range starts at N; a 200 (Range ignored) or any other
   *      answer fails the stream with a clear error. At most `maxResumes` resumes.
   */
  const downloadExport = async (audienceId: string, runId: string, opts: { exportId?: string } = {}): Promise<Readable> => {
    // 1.
    let stored = opts.exportId === undefined ? await createExport(audienceId, runId) : await getExport(audienceId, runId, opts.exportId);
    const exportId = stored.export.id;
    // 2.
    if (stored.export.status.toLowerCase() !== 'completed' || !stored.downloadUrl) {
      stored = await waitForExport(audienceId, runId, exportId);
    }
    let currentUrl = stored.downloadUrl ?? '';
    let expiresAt = stored.downloadUrlExpiresAt ?? undefined;
    // 3. Fail fast on a URL we would never follow, before any retry or refresh.
    checkDownloadUrl(currentUrl, downloadPolicy);

    const getExportCall = exportCall(audienceId, runId, exportId);
    const refreshUrl = async (attempt: number): Promise<void> => {
      const fresh = (await sendJsonOnce(getExportCall, LeadpipeStoredExportResponse, attempt)).body.data;
      if (!fresh.downloadUrl) {
        throw new SyncError('EXPORT_NOT_READY', `Leadpipe returned no download URL for export ${exportId} of run ${runId}.`, {
          retryable: true,
        });
      }
      currentUrl = fresh.downloadUrl;
      expiresAt = fresh.downloadUrlExpiresAt ?? undefined;
    };

    // 4.
    const open = (offset: number, freshUrl: boolean): Promise<Response> => {
      let needsFresh = freshUrl || isExpired(expiresAt, now());
      let refreshes = 0;
      return retrying('GET', `export ${exportId} download`, async (attempt) => {
        if (needsFresh) {
          if (refreshes >= maxUrlRefreshes) {
            throw new SyncError(
              'EXPORT_URL_EXPIRED',
              `The storage host kept refusing export ${exportId} of run ${runId} after ${refreshes} fresh signed URLs. ` +
                'Check the machine clock (signed URLs are time-limited) and run the sync again; if it persists, contact Leadpipe support.',
              { retryable: false },
            );
          }
          // Counted once the refresh succeeded: a 429 or 5xx from GET …/exports/{id} is retried by the
          // policy and must not use up the budget meant for URLs the storage host refused.
          await refreshUrl(attempt);
          refreshes++;
          needsFresh = false;
        }
        try {
          return await openStorage(new URL(currentUrl), offset, attempt);
        } catch (err) {
          if (isSyncError(err) && err.code === 'EXPORT_URL_EXPIRED') needsFresh = true;
          throw err;
        }
      });
    };

    const first = await open(0, false);
    // 5. and 6.
    async function* bytes(): AsyncGenerator<Buffer> {
      let response = first;
      let emitted = 0;
      let resumes = 0;
      for (;;) {
        try {
          for await (const chunk of bodyChunks(response)) {
            emitted += chunk.length;
            yield chunk;
          }
          const expected = stored.export.byteSize;
          if (typeof expected === 'number' && expected !== emitted) {
            logger.warn('leadpipe export size differs from byteSize', { exportId, bytes: emitted, byteSize: expected });
          }
          return;
        } catch (err) {
          if (isSyncError(err)) throw err;
          if (resumes >= maxResumes) {
            throw new SyncError(
              'NETWORK',
              `The download of export ${exportId} of run ${runId} dropped ${resumes + 1} times (last after ${emitted} bytes: ` +
                `${describeCause(err)}). Run the sync again: writes are idempotent.`,
              { retryable: true, cause: err },
            );
          }
          resumes++;
          logger.warn('leadpipe export download interrupted, resuming', { exportId, bytes: emitted, resume: resumes });
          response = await open(emitted, true);
        }
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  };

  return {
    listAudiences,
    getAudience,
    listRuns,
    queueRun,
    getRunResults,
    iterateRunResults,
    getRunStats,
    exportCsv,
    createExport,
    getExport,
    waitForExport,
    downloadExport,
  };
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────────

function encodeId(name: string, id: string): string {
  if (id.trim() === '') throw new SyncError('BAD_REQUEST', `${name} must not be empty.`);
  return encodeURIComponent(id);
}

function audiencePath(audienceId: string): string {
  return `${AUDIENCES_PATH}/${encodeId('audienceId', audienceId)}`;
}

function runPath(audienceId: string, runId: string): string {
  return `${audiencePath(audienceId)}/runs/${encodeId('runId', runId)}`;
}

function assertInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}–${max}`;
    throw new SyncError('BAD_REQUEST', `${name} must be a whole number ${range} (got ${value}).`);
  }
}

function assertIdempotencyKey(key: string): void {
  // Header values must be visible ASCII; Leadpipe caps the key at 120 characters (ref-queue).
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new SyncError(
      'BAD_REQUEST',
      `Idempotency-Key must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters without spaces (got ${key.length} characters).`,
    );
  }
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Host and path of a storage URL: never the query, which carries the signature. */
function storageLabel(url: URL): string {
  return `${url.host}${url.pathname}`;
}

function isExpired(expiresAt: string | undefined, nowMs: number): boolean {
  if (expiresAt === undefined) return false;
  const at = Date.parse(expiresAt);
  return !Number.isNaN(at) && at - URL_EXPIRY_SKEW_MS <= nowMs;
}

function contentRangeStart(header: string | null): number | undefined {
  const match = header === null ? null : /^bytes\s+(\d+)-/i.exec(header.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

async function discard(opened: OpenedResponse): Promise<void> {
  await opened.response.body?.cancel().catch(() => undefined);
  opened.release();
}

/** The response body as Buffers, through `Readable.fromWeb` so it is pulled chunk by chunk, never buffered whole. */
async function* bodyChunks(response: Response): AsyncGenerator<Buffer> {
  if (response.body === null) return;
  const stream = Readable.fromWeb(response.body);
  for await (const chunk of stream) {
    // fromWeb on a byte stream yields Uint8Array chunks. ArrayBuffer.isView, not instanceof: the chunks
    // may come from another realm (fetch's), where instanceof Uint8Array is false.
    if (ArrayBuffer.isView(chunk)) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else throw new SyncError('BAD_RESPONSE', 'The download stream produced a non-binary chunk.');
  }
}

function describeCause(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const message: unknown = Reflect.get(err, 'message');
    const cause: unknown = Reflect.get(err, 'cause');
    const causeMessage: unknown = typeof cause === 'object' && cause !== null ? Reflect.get(cause, 'message') : undefined;
    return [message, causeMessage].filter((m): m is string => typeof m === 'string' && m !== '').join(': ') || 'connection lost';
  }
  return String(err);
}
