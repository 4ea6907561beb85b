import errorInternal from '../../fixtures/http/leadpipe/error-internal.json';
import errorRateLimited from '../../fixtures/http/leadpipe/error-rate-limited.json';
import errorRunNotServable from '../../fixtures/http/leadpipe/error-run-not-servable.json';
import errorSlotsFull from '../../fixtures/http/leadpipe/error-slots-full.json';
import errorUnauthorized from '../../fixtures/http/leadpipe/error-unauthorized.json';
import { classifyLeadpipeError } from '../../../src/leadpipe/classify-leadpipe-error';
import type { ErrorCode } from '../../../src/lib/errors';
import { FixLeadpipeCredentialsError, FreeAudienceSlotError, SyncError } from '../../../src/lib/errors';

const endpoint = { method: 'GET', path: '/v1/intent/audiences/6fb8c1d2/runs/ad53b7e4/results' };
const now = Date.parse('2026-05-05T09:00:00.000Z');

interface Row {
  name: string;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  code: ErrorCode;
  type: typeof SyncError;
  retryable: boolean;
  retryAfterMs?: number;
  requestId?: string;
  message: RegExp;
}

const table: Row[] = [
  {
    name: '401 with the nested error envelope',
    status: 401,
    body: JSON.stringify(errorUnauthorized),
    code: 'AUTH_INVALID',
    type: FixLeadpipeCredentialsError,
    retryable: false,
    requestId: 'req_01HXAUTH401',
    message: /rejected the API key.*Invalid API key.*LEADPIPE_API_KEY.*Settings > API Keys/,
  },
  {
    name: '401 with a bare top-level message (older servers)',
    status: 401,
    body: { message: 'Missing or invalid API key' },
    code: 'AUTH_INVALID',
    type: FixLeadpipeCredentialsError,
    retryable: false,
    message: /Missing or invalid API key.*LEADPIPE_API_KEY/,
  },
  {
    name: '403 SLOTS_FULL when activating an audience',
    status: 403,
    body: JSON.stringify(errorSlotsFull),
    code: 'SLOTS_FULL',
    type: FreeAudienceSlotError,
    retryable: false,
    requestId: 'req_01HXSLOTS',
    message: /audience slots are in use.*Pause or delete an active audience/,
  },
  {
    name: '403 SLOTS_FULL given as a top-level error string',
    status: 403,
    body: { error: 'SLOTS_FULL' },
    code: 'SLOTS_FULL',
    type: FreeAudienceSlotError,
    retryable: false,
    message: /SLOTS_FULL/,
  },
  {
    name: '403 for a revoked key / inactive organization',
    status: 403,
    body: { error: { code: 'FORBIDDEN', message: 'API key revoked' }, meta: { timestamp: '2026-05-05T09:00:00.000Z', request_id: 'req_403' } },
    code: 'AUTH_FORBIDDEN',
    type: FixLeadpipeCredentialsError,
    retryable: false,
    requestId: 'req_403',
    message: /revoked or the organization is inactive/,
  },
  {
    name: '404 audience not found, detail string',
    status: 404,
    body: { detail: 'Audience not found' },
    code: 'NOT_FOUND',
    type: SyncError,
    retryable: false,
    message: /could not find.*Audience not found/,
  },
  {
    name: '409 run cannot serve results',
    status: 409,
    body: errorRunNotServable,
    code: 'RUN_NOT_SERVABLE',
    type: SyncError,
    retryable: false,
    requestId: 'req_01HX409',
    message: /cannot serve this run.*Run state failed cannot serve results.*completed run/,
  },
  {
    name: '429 with Retry-After in seconds',
    status: 429,
    body: JSON.stringify(errorRateLimited),
    headers: { 'Retry-After': '1' },
    code: 'RATE_LIMITED',
    type: SyncError,
    retryable: true,
    retryAfterMs: 1000,
    requestId: 'req_01HX429',
    message: /rate limit exceeded.*requestsPerMinute/,
  },
  {
    name: '429 with Retry-After as an HTTP date',
    status: 429,
    body: { title: 'Too Many Requests' },
    headers: { 'retry-after': 'Tue, 05 May 2026 09:00:05 GMT' },
    code: 'RATE_LIMITED',
    type: SyncError,
    retryable: true,
    retryAfterMs: 5000,
    message: /Too Many Requests/,
  },
  {
    name: '429 without Retry-After (backoff applies)',
    status: 429,
    body: 'Rate limit exceeded',
    code: 'RATE_LIMITED',
    type: SyncError,
    retryable: true,
    message: /HTTP 429.*Rate limit exceeded/,
  },
  {
    name: '500 with request id in meta',
    status: 500,
    body: errorInternal,
    code: 'UPSTREAM_5XX',
    type: SyncError,
    retryable: true,
    requestId: 'req_01HX500',
    message: /GET \/v1\/intent\/audiences\/6fb8c1d2\/runs\/ad53b7e4\/results with HTTP 500: Internal server error/,
  },
  {
    name: '503 HTML page from a proxy, request id from the header',
    status: 503,
    body: '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>',
    headers: { 'X-Request-Id': 'edge-7f3a' },
    code: 'UPSTREAM_5XX',
    type: SyncError,
    retryable: true,
    requestId: 'edge-7f3a',
    message: /HTTP 503\. This is a server-side error/,
  },
  {
    name: '422 validation error with a FastAPI-style detail array',
    status: 422,
    body: { detail: [{ loc: ['query', 'limit'], msg: 'must be <= 100' }], title: 'Unprocessable Entity' },
    code: 'BAD_REQUEST',
    type: SyncError,
    retryable: false,
    message: /HTTP 422: Unprocessable Entity/,
  },
  {
    name: '400 with an empty body',
    status: 400,
    body: '',
    code: 'BAD_REQUEST',
    type: SyncError,
    retryable: false,
    message: /rejected GET .* with HTTP 400\. Check the ids/,
  },
  {
    name: 'an unexpected redirect is not followed',
    status: 302,
    body: undefined,
    code: 'BAD_RESPONSE',
    type: SyncError,
    retryable: false,
    message: /unexpected HTTP 302/,
  },
];

describe('classifyLeadpipeError (HTTP responses)', () => {
  it.each(table)('$name → $code', (row) => {
    const err = classifyLeadpipeError({ ...endpoint, status: row.status, headers: row.headers, body: row.body, nowMs: now });
    expect(err).toBeInstanceOf(row.type);
    expect(err.code).toBe(row.code);
    expect(err.status).toBe(row.status);
    expect(err.retryable).toBe(row.retryable);
    expect(err.retryAfterMs).toBe(row.retryAfterMs);
    expect(err.requestId).toBe(row.requestId);
    expect(err.message).toMatch(row.message);
  });

  it('prefers a request id passed by the caller', () => {
    const err = classifyLeadpipeError({ status: 500, body: errorInternal, requestId: 'req_from_caller' });
    expect(err.requestId).toBe('req_from_caller');
  });

  it('reads headers from a WHATWG Headers object', () => {
    const err = classifyLeadpipeError({ status: 429, headers: new Headers({ 'retry-after': '2', 'x-request-id': 'h1' }), body: '' });
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 2000, requestId: 'h1' });
  });

  it('keeps a huge error body out of the message', () => {
    const err = classifyLeadpipeError({ status: 500, body: { message: 'x'.repeat(5000) } });
    expect(err.message.length).toBeLessThan(700);
  });

  it('never reports the storage host as a Leadpipe key problem', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>AccessDenied</Code>\n  <Message>Request has expired</Message>\n</Error>';
    const err = classifyLeadpipeError({ status: 403, body: xml, target: 'storage', method: 'GET', path: 'f005.backblazeb2.com/file/b/x.csv' });
    expect(err).not.toBeInstanceOf(FixLeadpipeCredentialsError);
    expect(err).toMatchObject({ code: 'EXPORT_URL_EXPIRED', status: 403, retryable: true, retryAfterMs: 0 });
    expect(err.message).toMatch(/AccessDenied.*Request has expired/);
    expect(err.message).not.toMatch(/LEADPIPE_API_KEY/);
  });

  it('reads Backblaze B2 JSON errors from the storage host', () => {
    const b2 = { code: 'expired_auth_token', message: 'Authorization token has expired', status: 401 };
    const err = classifyLeadpipeError({ status: 401, body: JSON.stringify(b2), target: 'storage' });
    expect(err).toMatchObject({ code: 'EXPORT_URL_EXPIRED', retryable: true });
    expect(err.message).toMatch(/expired_auth_token.*Authorization token has expired/);
  });

  it('says a 404 on the storage host is the export file', () => {
    const err = classifyLeadpipeError({ status: 404, body: { code: 'not_found', message: 'File not present' }, target: 'storage' });
    expect(err).toMatchObject({ code: 'NOT_FOUND', retryable: false });
    expect(err.message).toMatch(/stored export file/);
  });
});

describe('classifyLeadpipeError (network failures)', () => {
  it('turns a timeout into a retryable TIMEOUT naming the limit', () => {
    const err = classifyLeadpipeError({ error: new DOMException('The operation was aborted due to timeout', 'TimeoutError'), ...endpoint, timeoutMs: 30000 });
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(err.message).toMatch(/after 30000 ms.*leadpipe\.timeoutMs/);
  });

  it('reports the undici cause of "fetch failed"', () => {
    const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const err = classifyLeadpipeError({ error: new TypeError('fetch failed', { cause }), ...endpoint });
    expect(err).toMatchObject({ code: 'NETWORK', retryable: true });
    expect(err.message).toMatch(/ECONNRESET: read ECONNRESET/);
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('does not retry an aborted request', () => {
    const err = classifyLeadpipeError({ error: new DOMException('This operation was aborted', 'AbortError'), ...endpoint });
    expect(err).toMatchObject({ code: 'NETWORK', retryable: false });
  });

  it('passes a SyncError through unchanged', () => {
    const original = new SyncError('DOWNLOAD_HOST_NOT_ALLOWED', 'nope');
    expect(classifyLeadpipeError({ error: original })).toBe(original);
  });
});
