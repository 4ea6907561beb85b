/**
 * classifyLeadpipeError: the one place that turns a failed Leadpipe exchange (an HTTP error response,
 * or a thrown network/timeout error) into a `SyncError` whose code says whether to retry and whose
 * message tells the operator what to do. Pure: no I/O, no clock (pass `nowMs` to honour an HTTP-date
 * `Retry-After`).
 *
 * The error body format is [UNKNOWN] (reference/leadpipe-api.md §1.4), so it is parsed the way the
 * official SDK does: `{ error: { code, message } }`, else a top-level `message`/`error`/`detail`/`title`
 * string, else raw text (Backblaze B2, which serves signed export URLs, may answer in XML).
 *
 * `target: 'storage'` is for the signed download URL host (B2), where 401/403 mean "signature expired"
 * rather than "bad API key".
 */
import { FixLeadpipeCredentialsError, FreeAudienceSlotError, SyncError } from '../lib/errors';
import { parseRetryAfterMs } from '../lib/retry';
import { LeadpipeErrorBody } from './schemas';

export type LeadpipeErrorTarget = 'api' | 'storage';

type HeaderBag = Headers | Readonly<Record<string, string | undefined>>;

interface FailureContext {
  /** HTTP method, for the message (`GET`). */
  method?: string;
  /** Path of the endpoint without query (`/v1/intent/audiences/…`), or `host/path` for storage. */
  path?: string;
  target?: LeadpipeErrorTarget;
}

export interface LeadpipeHttpFailure extends FailureContext {
  status: number;
  headers?: HeaderBag;
  /** Parsed JSON, raw text, or undefined when the body could not be read. */
  body?: unknown;
  /** A request id already known to the caller; otherwise taken from `meta.request_id` or `x-request-id`. */
  requestId?: string;
  /** Current time (ms since epoch), to convert an HTTP-date `Retry-After`. */
  nowMs?: number;
}

export interface LeadpipeNetworkFailure extends FailureContext {
  /** What `fetch` threw: a TypeError('fetch failed') with a `cause`, a TimeoutError, an AbortError… */
  error: unknown;
  /** The timeout that was in force, for the message. */
  timeoutMs?: number;
}

const MAX_DETAIL_CHARS = 300;

export function classifyLeadpipeError(input: LeadpipeHttpFailure | LeadpipeNetworkFailure): SyncError {
  if ('status' in input) return classifyHttp(input);
  return classifyNetwork(input);
}

function describeEndpoint(ctx: FailureContext): string {
  const what = [ctx.method, ctx.path].filter(Boolean).join(' ');
  return what === '' ? 'request' : what;
}

function vendorName(ctx: FailureContext): string {
  return ctx.target === 'storage' ? 'The export storage host' : 'Leadpipe';
}

function classifyHttp(input: LeadpipeHttpFailure): SyncError {
  const { status } = input;
  const parsed = parseErrorBody(input.body);
  const requestId = input.requestId ?? parsed.requestId ?? headerValue(input.headers, 'x-request-id');
  const endpoint = describeEndpoint(input);
  const vendor = vendorName(input);
  const said = parsed.message ? `: ${parsed.message}` : '';
  const code = parsed.code ? ` ${parsed.code}` : '';
  const base = { status, requestId };

  if (input.target === 'storage' && (status === 401 || status === 403)) {
    // B2 answers 401 (expired_auth_token / bad_auth_token) or 403 for a signed URL past its validity.
    // Retryable only with a fresh URL: the client fetches one from GET …/exports/{exportId} first.
    return new SyncError(
      'EXPORT_URL_EXPIRED',
      `${vendor} refused the signed export download URL (HTTP ${status}${code} on ${endpoint}${said}); it has most likely expired. ` +
        'orbit-sync fetches a fresh URL from Leadpipe and retries; if this persists, check the machine clock.',
      { ...base, retryable: true, retryAfterMs: 0 },
    );
  }
  if (status === 401) {
    return new FixLeadpipeCredentialsError(
      'AUTH_INVALID',
      `Leadpipe rejected the API key (HTTP 401 on ${endpoint}${said}). Check LEADPIPE_API_KEY: copy a valid key ` +
        'from the Leadpipe dashboard (Settings > API Keys). It is sent as x-api-key, never as a Bearer token.',
      base,
    );
  }
  if (status === 403 && isSlotsFull(parsed)) {
    return new FreeAudienceSlotError(
      'SLOTS_FULL',
      `All Leadpipe audience slots are in use (HTTP 403 SLOTS_FULL on ${endpoint}${said}). ` +
        'Pause or delete an active audience, or add audience slots to the Leadpipe plan, then try again.',
      base,
    );
  }
  if (status === 403) {
    return new FixLeadpipeCredentialsError(
      'AUTH_FORBIDDEN',
      `Leadpipe refused access (HTTP 403${code} on ${endpoint}${said}): the API key was revoked or the organization is ` +
        'inactive. Check LEADPIPE_API_KEY (Settings > API Keys) and the organization’s Leadpipe subscription.',
      base,
    );
  }
  if (status === 404) {
    const subject = input.target === 'storage' ? 'the stored export file' : 'the audience, run or export';
    return new SyncError(
      'NOT_FOUND',
      `${vendor} could not find ${subject} (HTTP 404 on ${endpoint}${said}). Check the ids: it may have been deleted, ` +
        'or belong to another organization.',
      base,
    );
  }
  if (status === 408) {
    return new SyncError('TIMEOUT', `${vendor} timed out handling ${endpoint} (HTTP 408${said}).`, { ...base, retryable: true });
  }
  if (status === 409 && input.target !== 'storage') {
    return new SyncError(
      'RUN_NOT_SERVABLE',
      `Leadpipe cannot serve this run (HTTP 409${code} on ${endpoint}${said}): it is probably failed or cancelled. ` +
        'Pick a completed run, or queue a new manual run.',
      base,
    );
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfterMs(headerValue(input.headers, 'retry-after'), input.nowMs);
    return new SyncError(
      'RATE_LIMITED',
      `${vendor} rate limit exceeded (HTTP 429 on ${endpoint}${said}). orbit-sync waits and retries; if this keeps ` +
        'happening, lower leadpipe.requestsPerMinute in config/default.json or run fewer syncs at once.',
      { ...base, retryable: true, retryAfterMs },
    );
  }
  if (status >= 500) {
    return new SyncError(
      'UPSTREAM_5XX',
      `${vendor} failed on ${endpoint} with HTTP ${status}${said}. This is a server-side error: try again later, and ` +
        'quote the request id to Leadpipe support if it persists.',
      { ...base, retryable: true },
    );
  }
  if (status >= 400) {
    return new SyncError(
      'BAD_REQUEST',
      `${vendor} rejected ${endpoint} with HTTP ${status}${code}${said}. Check the ids and parameters; if they are ` +
        'right, report this as an orbit-sync bug with the request id.',
      base,
    );
  }
  // 1xx/3xx: we never follow redirects on API calls (they would carry x-api-key to another host).
  return new SyncError('BAD_RESPONSE', `${vendor} answered ${endpoint} with unexpected HTTP ${status}.`, base);
}

function classifyNetwork(input: LeadpipeNetworkFailure): SyncError {
  const { error } = input;
  if (error instanceof SyncError) return error;
  const endpoint = describeEndpoint(input);
  const vendor = input.target === 'storage' ? 'the export storage host' : 'Leadpipe';
  const { name } = errorFields(error);
  if (name === 'TimeoutError') {
    const limit = input.timeoutMs === undefined ? '' : ` after ${input.timeoutMs} ms`;
    return new SyncError(
      'TIMEOUT',
      `No response from ${vendor} for ${endpoint}${limit}. orbit-sync retries; if it keeps happening raise ` +
        'leadpipe.timeoutMs in config/default.json or check the network.',
      { retryable: true, cause: error },
    );
  }
  if (name === 'AbortError') {
    return new SyncError('NETWORK', `The request ${endpoint} to ${vendor} was aborted.`, { retryable: false, cause: error });
  }
  return new SyncError(
    'NETWORK',
    `Could not reach ${vendor} for ${endpoint} (${networkReason(error)}). orbit-sync retries; if it persists check ` +
      'network access and LEADPIPE_BASE_URL.',
    { retryable: true, cause: error },
  );
}

interface ErrorFields {
  name: string | undefined;
  message: string | undefined;
  code: string | undefined;
  cause: unknown;
}

/**
 * Reads name/message/code/cause without `instanceof Error`: errors thrown by fetch (undici) and
 * AbortSignal.timeout may come from another realm (e.g. under jest), where `instanceof` is false.
 */
function errorFields(error: unknown): ErrorFields {
  if (typeof error !== 'object' || error === null) {
    const message = typeof error === 'string' || typeof error === 'number' ? String(error) : undefined;
    return { name: undefined, message, code: undefined, cause: undefined };
  }
  const str = (key: string): string | undefined => {
    const v: unknown = Reflect.get(error, key);
    return typeof v === 'string' ? v : undefined;
  };
  const cause: unknown = Reflect.get(error, 'cause');
  return { name: str('name'), message: str('message'), code: str('code'), cause };
}

/** `fetch failed` is useless on its own: undici puts the real reason (ECONNRESET, ENOTFOUND…) in `cause`. */
function networkReason(error: unknown): string {
  const outer = errorFields(error);
  if (outer.cause !== undefined && outer.cause !== null) {
    const inner = errorFields(outer.cause);
    const text = [inner.code, inner.message].filter(Boolean).join(': ');
    if (text !== '') return text;
  }
  return [outer.code, outer.message].filter(Boolean).join(': ') || 'unknown network error';
}

interface ParsedErrorBody {
  code: string | undefined;
  message: string | undefined;
  requestId: string | undefined;
}

/** `meta.request_id` of a Leadpipe body (text or parsed), for messages about bodies that are not errors. */
export function leadpipeRequestId(body: unknown): string | undefined {
  return parseErrorBody(body).requestId;
}

function parseErrorBody(body: unknown): ParsedErrorBody {
  const value = typeof body === 'string' ? tryJson(body) : body;
  if (typeof value === 'string') return parseText(value);
  const result = LeadpipeErrorBody.safeParse(value);
  if (!result.success) return { code: undefined, message: undefined, requestId: undefined };
  const b = result.data;
  const nested = typeof b.error === 'object' ? b.error : undefined;
  const message = nested?.message ?? (typeof b.error === 'string' ? b.error : undefined) ?? b.message ?? b.detail ?? b.title;
  return {
    code: clean(nested?.code ?? b.code),
    message: clean(message),
    requestId: clean(b.meta?.request_id),
  };
}

function tryJson(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return text;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return text;
  }
}

/** Plain text or an XML error document (`<Error><Code>…</Code><Message>…</Message></Error>`). */
function parseText(text: string): ParsedErrorBody {
  const xmlCode = /<Code>([^<]*)<\/Code>/i.exec(text)?.[1];
  const xmlMessage = /<Message>([^<]*)<\/Message>/i.exec(text)?.[1];
  if (xmlCode !== undefined || xmlMessage !== undefined) {
    return { code: clean(xmlCode), message: clean(xmlMessage), requestId: undefined };
  }
  // An HTML error page says nothing useful and would flood the log.
  if (/^\s*</.test(text)) return { code: undefined, message: undefined, requestId: undefined };
  return { code: undefined, message: clean(text), requestId: undefined };
}

function clean(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const oneLine = value.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return undefined;
  return oneLine.length > MAX_DETAIL_CHARS ? `${oneLine.slice(0, MAX_DETAIL_CHARS)}…` : oneLine;
}

function isSlotsFull(parsed: ParsedErrorBody): boolean {
  if (parsed.code?.toUpperCase() === 'SLOTS_FULL') return true;
  // Fallback for a body like `{ "error": "SLOTS_FULL" }` where the code arrives as the message.
  return parsed.message !== undefined && /\bSLOTS_FULL\b/.test(parsed.message);
}

function headerValue(headers: HeaderBag | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}
