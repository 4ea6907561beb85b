/**
 * Every Salesforce request of orbit-sync goes through `SalesforceApi`: API-call counts for the summary,
 * a cap on requests in flight, our own retries, and errors translated into SyncErrors that say what to do.
 *
 * jsforce quirks this covers (reference/salesforce.md §1, §3, §8):
 * - jsforce retries only GET/PUT/HEAD/OPTIONS/DELETE; POST and PATCH (every DML and collections call) are
 *   never retried. Ours are upserts/updates by key, so retrying a 5xx or a dropped connection is safe.
 * - a 401 is refreshed and replayed by jsforce when it has a refresh token; a failed refresh surfaces as a
 *   plain Error "Unable to refresh session due to: …" — turned into AUTH_INVALID asking to re-authorize.
 * - `REQUEST_LIMIT_EXCEEDED` (403) is the org's daily allocation (or its concurrency limit): not retried;
 *   it stops the sync as `partial` with the usage jsforce read from `Sforce-Limit-Info`.
 * - per-record errors carry `statusCode`, not the typed `errorCode` (jsforce issue #1067).
 */
import type { Connection, QueryResult, Record as SfRecord } from 'jsforce';
import { z } from 'zod';
import { chunks } from '../../lib/chunks';
import { settleAll } from '../../lib/settle-all';
import type { RetrySettings } from '../../config';
import { SyncError } from '../../lib/errors';
import { withRetry } from '../../lib/retry';
import { withTimeout } from '../../lib/with-timeout';
import { SlotPool } from '../../lib/slot-pool';
import type { ApiStats } from '../hubspot/hubspot-api';

export interface SalesforceApiOptions {
  conn: Connection;
  retry: RetrySettings;
  maxConcurrent: number;
  /** A call not answered within this many ms is given up and retried (`salesforce.timeoutMs`). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface JsforceErrorLike {
  name?: string;
  errorCode?: string;
  message: string;
  data?: unknown;
}

function usage(conn: Connection): string {
  const u = conn.limitInfo.apiUsage;
  return u ? `${u.used.toLocaleString('en-US')} of ${u.limit.toLocaleString('en-US')} API requests used in the last 24 hours` : 'usage unknown';
}

const ErrorBody = z.array(z.looseObject({ errorCode: z.string(), message: z.string().optional() })).min(1);

/**
 * Bulk API 2.0 calls in jsforce throw `ERROR_HTTP_<status>` with Salesforce's JSON error body as the
 * message (`[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"ConcurrentRequests …"}]`): read the real code.
 */
function unwrapHttpError(e: JsforceErrorLike): JsforceErrorLike {
  if (!/^ERROR_HTTP_\d+$/.test(e.errorCode ?? '')) return e;
  let body: unknown;
  try {
    body = JSON.parse(e.message);
  } catch {
    return e;
  }
  const parsed = ErrorBody.safeParse(body);
  if (!parsed.success) return e;
  const [first] = parsed.data;
  return { ...e, errorCode: first?.errorCode, message: first?.message ?? e.message };
}

/** Translates what jsforce threw into our SyncError. */
export function classifySalesforceError(err: unknown, context: { endpoint: string; conn: Connection }): SyncError {
  if (err instanceof SyncError) return err;
  const e: JsforceErrorLike = unwrapHttpError(err instanceof Error ? err : { message: String(err) });
  const code = e.errorCode ?? e.name ?? '';
  const what = `Salesforce refused ${context.endpoint}`;
  if (/Unable to refresh session/i.test(e.message) || code === 'INVALID_SESSION_ID' || code === 'invalid_grant') {
    return new SyncError(
      'AUTH_INVALID',
      `${what}: ${e.message}. The Salesforce connection needs to be authorized again: reconnect the org (or set fresh SALESFORCE_ACCESS_TOKEN / SALESFORCE_REFRESH_TOKEN).`,
      { cause: err },
    );
  }
  if (code === 'REQUEST_LIMIT_EXCEEDED' && /ConcurrentRequests|concurrent/i.test(e.message)) {
    // Too many long-running requests in the org at once (25; 5 in Developer orgs): a throttle, not the daily
    // allocation. Backing off lets the org's other integrations finish.
    return new SyncError('RATE_LIMITED', `${what}: ${e.message} (the org's concurrent long-running request limit; backing off)`, { retryable: true, cause: err });
  }
  if (code === 'REQUEST_LIMIT_EXCEEDED') {
    return new SyncError(
      'DAILY_LIMIT_REACHED',
      `${what}: ${e.message} (${usage(context.conn)}). Salesforce counts API requests over a rolling 24 hours; run the same sync again later and it resumes where it stopped.`,
      { cause: err },
    );
  }
  if (code === 'INSUFFICIENT_ACCESS' || code === 'INSUFFICIENT_ACCESS_OR_READONLY' || code === 'API_DISABLED_FOR_ORG') {
    return new SyncError('AUTH_FORBIDDEN', `${what}: ${e.message}. Check the integration user's profile and the orbit-sync permission set.`, { cause: err });
  }
  if (code === 'INVALID_FIELD' || code === 'INVALID_TYPE' || code === 'NOT_FOUND') {
    return new SyncError('CRM_SETUP_REQUIRED', `${what}: ${e.message}. Run \`orbit-sync setup salesforce\`.`, { cause: err });
  }
  if (code === 'NETWORK_ERROR') return new SyncError('NETWORK', `${what}: ${e.message}`, { retryable: true, cause: err });
  const transient =
    code === 'UNABLE_TO_LOCK_ROW' ||
    code === 'SERVER_UNAVAILABLE' ||
    // "An unexpected error occurred. Please include this ErrorId…": Salesforce's 500, usually passing.
    code === 'UNKNOWN_EXCEPTION' ||
    /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|fetch failed|50[0234]/i.test(`${code} ${e.message}`);
  if (transient) return new SyncError('UPSTREAM_5XX', `${what}: ${e.message}`, { retryable: true, cause: err });
  return new SyncError('BAD_REQUEST', `${what}: ${code ? `${code}: ` : ''}${e.message}`, { cause: err });
}

/**
 * Queries per Composite request. The Composite resource takes 25 subrequests and "the entire series of
 * requests counts as a single call toward your API limits" (developer.salesforce.com, resources-composite-
 * composite-post). [INFER] 5 keeps well inside any per-request query cap we could not confirm.
 */
export const QUERIES_PER_COMPOSITE = 5;

const CompositeResponse = z.looseObject({
  compositeResponse: z.array(z.looseObject({ body: z.unknown(), httpStatusCode: z.number(), referenceId: z.string() })),
});
const QueryPage = z.looseObject({ done: z.boolean(), records: z.array(z.looseObject({})), nextRecordsUrl: z.string().optional() });
const SubrequestErrors = z.array(z.looseObject({ errorCode: z.string().optional(), message: z.string().optional() }));

/**
 * A Bulk job, the longest piece of work of a sync, gets a free slot before the calls waiting for one, so
 * the short calls fill the slots at the end of a run instead of a job running alone there (longest first).
 */
const JOB_PRIORITY = 0;
const CALL_PRIORITY = 1;

export class SalesforceApi {
  readonly stats: ApiStats = { byEndpoint: {}, rateLimited: 0 };
  private readonly slots: SlotPool;

  constructor(private readonly o: SalesforceApiOptions) {
    // Salesforce has no per-second budget; it caps long concurrent requests (25 per org). Requests in flight are capped.
    this.slots = new SlotPool(o.maxConcurrent);
  }

  get conn(): Connection {
    return this.o.conn;
  }

  /**
   * One request (counted under `endpoint`), retried on transient failures. `inSlot`: made inside `occupy`,
   * whose slot it uses (it takes none of its own).
   */
  async call<T>(endpoint: string, send: () => Promise<T>, options: { timeout?: boolean; inSlot?: boolean } = {}): Promise<T> {
    const attempt = async (): Promise<T> => {
      this.stats.byEndpoint[endpoint] = (this.stats.byEndpoint[endpoint] ?? 0) + 1;
      try {
        const ms = this.o.timeoutMs;
        // jsforce's own timeout is process-wide (HTTP_TIMEOUT, 30 min): ours is per call. A call given up
        // may still have been carried out; every write we send is keyed, so the retry is safe.
        if (options.timeout === false || ms === undefined) return await send();
        return await withTimeout(send(), ms, () => new SyncError('TIMEOUT', `Salesforce did not answer ${endpoint} within ${ms} ms`, { retryable: true }));
      } catch (err) {
        const error = classifySalesforceError(err, { endpoint, conn: this.o.conn });
        if (error.code === 'RATE_LIMITED') this.stats.rateLimited += 1;
        throw error;
      }
    };
    return withRetry(() => (options.inSlot === true ? attempt() : this.slots.run(attempt, CALL_PRIORITY)), {
      settings: this.o.retry,
      ...(this.o.sleep && { sleep: this.o.sleep }),
    });
  }

  /**
   * Runs `fn` in one of the `maxConcurrent` slots for as long as it lasts. A Bulk API 2.0 job keeps the org
   * working between its requests, so the whole job counts as one request in flight; the calls it makes
   * pass `{ inSlot: true }`. A job is given a free slot before the calls waiting for one: see JOB_PRIORITY.
   */
  occupy<T>(fn: () => Promise<T>): Promise<T> {
    return this.slots.run(fn, JOB_PRIORITY);
  }

  /**
   * Several SOQL queries in as few calls as possible: up to QUERIES_PER_COMPOSITE per Composite request
   * (one API call for all of them), further pages fetched with queryMore. Records in query order.
   */
  async queryMany<T extends SfRecord>(queries: readonly string[], label: string): Promise<T[]> {
    // The groups go out at once (the slot pool caps requests in flight); records stay in query order.
    const pages = await settleAll([...chunks(queries, QUERIES_PER_COMPOSITE)].map((group) => this.queryGroup<T>(group, label)));
    return pages.flat();
  }

  private async queryGroup<T extends SfRecord>(group: readonly string[], label: string): Promise<T[]> {
    const conn = this.o.conn;
    if (group.length === 1) return this.queryAll<T>(group[0] as string, `GET /query ${label}`);
    const out: T[] = [];
    const base = `/services/data/v${conn.version}`;
    const body = {
      allOrNone: false,
      compositeRequest: group.map((q, i) => ({ method: 'GET', url: `${base}/query?q=${encodeURIComponent(q)}`, referenceId: `q${i}` })),
    };
    const raw: unknown = await this.call(`POST /composite (queries: ${label})`, () =>
      conn.request<unknown>({ method: 'POST', url: `${base}/composite`, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    );
    const parsed = CompositeResponse.safeParse(raw);
    if (!parsed.success) throw new SyncError('BAD_RESPONSE', `Salesforce's Composite answer (${label}) is not what its API documents.`);
    for (const sub of parsed.data.compositeResponse) {
      if (sub.httpStatusCode !== 200) {
        const errors = SubrequestErrors.safeParse(sub.body);
        const first = errors.success ? errors.data[0] : undefined;
        const error = Object.assign(new Error(first?.message ?? `subrequest ${sub.referenceId} answered ${sub.httpStatusCode}`), { errorCode: first?.errorCode });
        throw classifySalesforceError(error, { endpoint: `POST /composite (queries: ${label})`, conn });
      }
      const page = QueryPage.safeParse(sub.body);
      if (!page.success) throw new SyncError('BAD_RESPONSE', `Salesforce's query answer (${label}) is not what its API documents.`);
      out.push(...(page.data.records as T[]), ...(await this.rest<T>(page.data, `GET /query ${label}More`)));
    }
    return out;
  }

  /** A SOQL query with every page fetched, each page counted as one call. */
  async queryAll<T extends SfRecord>(soql: string, endpoint = 'GET /query'): Promise<T[]> {
    const conn = this.o.conn;
    // jsforce's Query is a thenable, not a Promise: await it inside.
    const first = await this.call(endpoint, async (): Promise<QueryResult<T>> => await conn.query<T>(soql, { autoFetch: false }));
    return [...first.records, ...(await this.rest<T>(first, `${endpoint}More`))];
  }

  /** The records of the pages after `first` (queryMore), each page counted as one call. */
  private async rest<T extends SfRecord>(first: { done: boolean; nextRecordsUrl?: string | undefined }, endpoint: string): Promise<T[]> {
    const conn = this.o.conn;
    const records: T[] = [];
    let next = first.done ? undefined : first.nextRecordsUrl;
    while (next !== undefined) {
      const locator = next;
      const page = await this.call(endpoint, async (): Promise<QueryResult<T>> => await conn.queryMore<T>(locator));
      records.push(...page.records);
      next = page.done ? undefined : page.nextRecordsUrl;
    }
    return records;
  }
}
