/**
 * Request/response contract of the Leadpipe client against nock: outgoing paths, queries, headers and
 * bodies, plus the retry, refresh and resume flows. Every test ends with all interceptors used; there are
 * no catch-all interceptors, and real network access is disabled.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import nock from 'nock';
import audienceFixture from '../../fixtures/http/leadpipe/audience.json';
import audiencesListFixture from '../../fixtures/http/leadpipe/audiences-list.json';
import errorInternal from '../../fixtures/http/leadpipe/error-internal.json';
import errorRateLimited from '../../fixtures/http/leadpipe/error-rate-limited.json';
import errorRunNotServable from '../../fixtures/http/leadpipe/error-run-not-servable.json';
import errorSlotsFull from '../../fixtures/http/leadpipe/error-slots-full.json';
import errorUnauthorized from '../../fixtures/http/leadpipe/error-unauthorized.json';
import exportCompleted from '../../fixtures/http/leadpipe/export-completed.json';
import exportProcessing from '../../fixtures/http/leadpipe/export-processing.json';
import resultsPage1 from '../../fixtures/http/leadpipe/run-results-page-1.json';
import resultsPage2 from '../../fixtures/http/leadpipe/run-results-page-2.json';
import resultsPending from '../../fixtures/http/leadpipe/run-results-pending.json';
import runQueued from '../../fixtures/http/leadpipe/run-queued.json';
import runStats from '../../fixtures/http/leadpipe/run-stats.json';
import runsList from '../../fixtures/http/leadpipe/runs-list.json';
import { checkDownloadUrl, createLeadpipeClient } from '../../../src/leadpipe/client';
import type { LeadpipeClientOptions } from '../../../src/leadpipe/client';
import { FixLeadpipeCredentialsError, FreeAudienceSlotError, SyncError } from '../../../src/lib/errors';
import { limiterKeys, resetLimiters } from '../../../src/lib/limiter';
import { createLogger } from '../../../src/lib/logger';

const BASE = 'https://api.aws53.cloud';
const API_KEY = 'sk_test_51HxLeadpipeIntegrationKey0123456789';
const AUD = '6fb8c1d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const RUN = 'ad53b7e4-1c2d-4e3f-9a8b-7c6d5e4f3a2b';
const EXPORT_ID = 'e9f0a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b';
const STORAGE = 'https://f005.backblazeb2.com';
const FILE_PATH = '/file/leadpipe-intent-exports/0d1e2f3a/6fb8c1d2/ad53b7e4/e9f0a1b2.csv';
const FIRST_SIGNATURE = '3_20260505165512_a1b2c3d4e5f6_first_signature';
const FRESH_SIGNATURE = '3_20260505170000_f6e5d4c3b2a1_fresh_signature';
const RUN_PATH = `/v1/intent/audiences/${AUD}/runs/${RUN}`;
const CSV = readFileSync(path.join(__dirname, '../../fixtures/http/leadpipe/run-export.csv'), 'utf8');
const NOW = Date.parse('2026-05-05T17:00:00.000Z');

const freshExport = {
  ...exportCompleted,
  data: { ...exportCompleted.data, downloadUrl: `${STORAGE}${FILE_PATH}?Authorization=${FRESH_SIGNATURE}` },
  meta: { ...exportCompleted.meta, request_id: 'req_01HXEXPFRESH' },
};
const withDownloadUrl = (downloadUrl: string) => ({ ...exportCompleted, data: { ...exportCompleted.data, downloadUrl } });
const b2Expired =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Error>\n    <Code>AccessDenied</Code>\n    <Message>Request has expired</Message>\n</Error>';

function makeClient(overrides: Partial<LeadpipeClientOptions> = {}) {
  const sleep = jest.fn((_ms: number) => Promise.resolve());
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  const client = createLeadpipeClient({
    apiKey: API_KEY,
    baseUrl: BASE,
    requestsPerMinute: 6000,
    maxConcurrent: 4,
    timeoutMs: 5000,
    retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 4000, maxRetryAfterMs: 60_000 },
    resultsPageSize: 2,
    allowedDownloadHosts: ['*.backblazeb2.com', 'api.aws53.cloud'],
    logger,
    sleep,
    random: () => 0.5,
    now: () => NOW,
    exportPoll: { maxPolls: 4, intervalMs: 1500 },
    ...overrides,
  });
  return { client, sleep, lines };
}

/** The Leadpipe API, asserting the key is sent as x-api-key and never as a Bearer token. */
const api = (accept = 'application/json') =>
  nock(BASE, { reqheaders: { 'x-api-key': API_KEY, accept }, badheaders: ['authorization'] });

/** The storage host of signed URLs: it must never see the API key. */
const storage = () => nock(STORAGE, { badheaders: ['x-api-key', 'authorization'] });

async function readChunks(stream: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    const value: unknown = chunk;
    if (!Buffer.isBuffer(value)) throw new Error('expected a byte stream');
    chunks.push(value);
  }
  return chunks;
}

const readText = async (stream: Readable): Promise<string> => Buffer.concat(await readChunks(stream)).toString('utf8');

async function rejectionOf(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SyncError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

beforeAll(() => {
  if (!nock.isActive()) nock.activate();
  nock.disableNetConnect();
});

afterEach(async () => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  // Limiters and 429 holds are per key and process-wide; the sleeps here are fake, so a hold would outlive its test.
  await resetLimiters();
  expect(pending).toEqual([]);
});

afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
  await resetLimiters();
});

describe('endpoints: path, query, headers, body', () => {
  it('listAudiences sends status and limit', async () => {
    const scope = api().get('/v1/intent/audiences').query({ status: 'active', limit: '50' }).reply(200, audiencesListFixture);
    const { client } = makeClient();
    const audiences = await client.listAudiences({ status: 'active', limit: 50 });
    expect(audiences).toHaveLength(1);
    expect(audiences[0]).toMatchObject({ id: '6fb8c1d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d', status: 'active', audienceSize: 151 });
    scope.done();
  });

  it('getAudience reads one audience and keeps unknown fields', async () => {
    const scope = api().get(`/v1/intent/audiences/${AUD}`).reply(200, audienceFixture);
    const { client } = makeClient();
    const audience = await client.getAudience(AUD);
    expect(audience.name).toBe('Marketing Directors at Tech Companies');
    expect(audience.config).toMatchObject({ topicIds: [117805, 117890, 117918] });
    scope.done();
  });

  it('listRuns sends ?limit= and refuses a limit outside 1–100 without calling Leadpipe', async () => {
    const scope = api().get(`/v1/intent/audiences/${AUD}/runs`).query({ limit: '25' }).reply(200, runsList);
    const { client } = makeClient();
    const runs = await client.listRuns(AUD, { limit: 25 });
    expect(runs.map((r) => r.status)).toEqual(['completed', 'failed']);
    expect(runs[1]).toMatchObject({ errorCode: 'MATERIALIZATION_FAILED' });
    await expect(client.listRuns(AUD, { limit: 101 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    scope.done();
  });

  it('queueRun POSTs {"runType":"manual"} with the Idempotency-Key', async () => {
    const scope = api()
      .post(`/v1/intent/audiences/${AUD}/runs`, { runType: 'manual' })
      .matchHeader('idempotency-key', 'sync-6fb8c1d2-2026050516')
      .matchHeader('content-type', 'application/json')
      .reply(202, runQueued);
    const { client } = makeClient();
    const run = await client.queueRun(AUD, { idempotencyKey: 'sync-6fb8c1d2-2026050516' });
    expect(run).toMatchObject({ id: 'c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f', status: 'queued', runType: 'manual' });
    scope.done();
  });

  it('queueRun generates one Idempotency-Key and reuses it when the POST is retried', async () => {
    const keys: string[] = [];
    const record = (value: string | null): boolean => {
      keys.push(value ?? '');
      return true;
    };
    const scope = api()
      .post(`/v1/intent/audiences/${AUD}/runs`, { runType: 'manual' })
      .matchHeader('idempotency-key', record)
      .reply(503, errorInternal)
      .post(`/v1/intent/audiences/${AUD}/runs`, { runType: 'manual' })
      .matchHeader('idempotency-key', record)
      .reply(202, runQueued);
    const { client } = makeClient();
    await client.queueRun(AUD);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^orbit-sync-[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    scope.done();
  });

  it('queueRun refuses an Idempotency-Key over 120 characters before sending anything', async () => {
    const { client } = makeClient();
    const err = await rejectionOf(client.queueRun(AUD, { idempotencyKey: 'k'.repeat(121) }));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/1–120/);
  });

  it('getRunStats reads fill rates and the score histogram', async () => {
    const scope = api().get(`${RUN_PATH}/stats`).reply(200, runStats);
    const { client } = makeClient();
    const stats = await client.getRunStats(AUD, RUN);
    expect(stats.stats.fillRates?.['company.name']).toEqual({ count: 70, percent: 46.36 });
    expect(stats.stats.scoreHistogram).toHaveLength(3);
    scope.done();
  });

  it('createExport POSTs to …/exports and getExport returns a fresh signed URL', async () => {
    const scope = api()
      .post(`${RUN_PATH}/exports`)
      .reply(202, exportProcessing)
      .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
      .reply(200, freshExport);
    const { client } = makeClient();
    const created = await client.createExport(AUD, RUN);
    expect(created.export).toMatchObject({ id: EXPORT_ID, status: 'processing' });
    expect(created.downloadUrl).toBeNull();
    const fetched = await client.getExport(AUD, RUN, EXPORT_ID);
    expect(fetched.downloadUrl).toContain(FRESH_SIGNATURE);
    expect(fetched.downloadUrlTtlSeconds).toBe(86400);
    scope.done();
  });

  it('turns a body that does not match the schema into a non-retried BAD_RESPONSE', async () => {
    const scope = api()
      .get(`/v1/intent/audiences/${AUD}`)
      .reply(200, { data: { name: 'no id' }, meta: { request_id: 'req_bad' } });
    const { client, sleep } = makeClient();
    const err = await rejectionOf(client.getAudience(AUD));
    expect(err).toMatchObject({ code: 'BAD_RESPONSE', requestId: 'req_bad' });
    expect(err.message).toMatch(/data\.id/);
    expect(sleep).not.toHaveBeenCalled();
    scope.done();
  });
});

describe('retry policy', () => {
  it('waits for Retry-After on a 429, then succeeds', async () => {
    const scope = api()
      .get(`/v1/intent/audiences/${AUD}`)
      .reply(429, errorRateLimited, { 'Retry-After': '1' })
      .get(`/v1/intent/audiences/${AUD}`)
      .reply(200, audienceFixture);
    const { client, sleep } = makeClient();
    const audience = await client.getAudience(AUD);
    expect(audience.id).toBe(AUD);
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(sleep).toHaveBeenCalledWith(1000);
    scope.done();
  });

  it('holds the other requests of the same key while a 429 Retry-After runs', async () => {
    const scope = api()
      .get(`/v1/intent/audiences/${AUD}`)
      .reply(429, errorRateLimited, { 'Retry-After': '2' })
      .get(`/v1/intent/audiences/${AUD}`)
      .reply(200, audienceFixture)
      .get(`/v1/intent/audiences/${AUD}/runs`)
      .query({ limit: '25' })
      .reply(200, runsList);
    let clock = NOW;
    const slept: number[] = [];
    let release!: () => void;
    const firstWait = new Promise<void>((resolve) => (release = resolve));
    // The first wait (the 429'd request's own) blocks until released, so the second request starts during it.
    const sleep = jest.fn(async (ms: number) => {
      slept.push(ms);
      if (slept.length === 1) await firstWait;
      clock += ms;
    });
    // Bounded waits for the sleeps to be asked for: a regression fails here instead of hanging.
    const settle = async (count: number): Promise<void> => {
      for (let turn = 0; turn < 500 && slept.length < count; turn++) await new Promise((r) => setTimeout(r, 5));
    };
    const { client } = makeClient({ sleep, now: () => clock });
    const first = client.getAudience(AUD);
    await settle(1);
    const second = client.listRuns(AUD, { limit: 25 });
    await settle(2);
    release();
    const [audience, runs] = await Promise.allSettled([first, second]);
    expect(slept).toEqual([2000, 2000]);
    expect(audience).toMatchObject({ status: 'fulfilled', value: { id: AUD } });
    expect(runs).toMatchObject({ status: 'fulfilled', value: { length: runsList.data.length } });
    scope.done();
  });

  it('retries a 500 with backoff up to maxAttempts, then fails naming the endpoint, status and request id', async () => {
    let requests = 0;
    const scope = api()
      .get(`${RUN_PATH}/results`)
      .query({ limit: '2', offset: '0' })
      .times(3)
      .reply(500, () => {
        requests++;
        return errorInternal;
      });
    const { client, sleep, lines } = makeClient();
    const err = await rejectionOf(client.getRunResults(AUD, RUN));
    expect(requests).toBe(3);
    // Full jitter with random() = 0.5: 500 × 2^0 × 0.5, then 500 × 2^1 × 0.5.
    expect(sleep.mock.calls).toEqual([[250], [500]]);
    expect(err.code).toBe('UPSTREAM_5XX');
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(500);
    expect(err.requestId).toBe('req_01HX500');
    expect(err.message).toContain(`GET ${RUN_PATH}/results`);
    expect(err.message).toContain('HTTP 500');
    expect(err.message).toMatch(/gave up after 3 attempts/);
    const warnings = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.level === 'warn');
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatchObject({ method: 'GET', path: `${RUN_PATH}/results`, status: 500, code: 'UPSTREAM_5XX', requestId: 'req_01HX500' });
    scope.done();
  });

  it('does not retry a 401 and says what to do; the key never reaches the logs', async () => {
    const scope = api().get('/v1/intent/audiences').reply(401, errorUnauthorized);
    const { client, sleep, lines } = makeClient();
    const err = await rejectionOf(client.listAudiences());
    expect(err).toBeInstanceOf(FixLeadpipeCredentialsError);
    expect(err.code).toBe('AUTH_INVALID');
    expect(err.message).toMatch(/LEADPIPE_API_KEY/);
    expect(err.message).toMatch(/Settings > API Keys/);
    expect(err.requestId).toBe('req_01HXAUTH401');
    expect(sleep).not.toHaveBeenCalled();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(API_KEY);
    scope.done();
  });

  it('turns 403 SLOTS_FULL into FreeAudienceSlotError, not retried', async () => {
    const scope = api().post(`/v1/intent/audiences/${AUD}/runs`, { runType: 'manual' }).reply(403, errorSlotsFull);
    const { client, sleep } = makeClient();
    const err = await rejectionOf(client.queueRun(AUD, { idempotencyKey: 'slots-test' }));
    expect(err).toBeInstanceOf(FreeAudienceSlotError);
    expect(err.code).toBe('SLOTS_FULL');
    expect(sleep).not.toHaveBeenCalled();
    scope.done();
  });

  it('retries a dropped connection', async () => {
    const scope = api()
      .get(`/v1/intent/audiences/${AUD}`)
      // A string, not an Error: nock lives in the host realm (see top), where a sandbox Error is not `instanceof Error`.
      .replyWithError('socket hang up')
      .get(`/v1/intent/audiences/${AUD}`)
      .reply(200, audienceFixture);
    const { client, sleep, lines } = makeClient();
    await expect(client.getAudience(AUD)).resolves.toMatchObject({ id: AUD });
    expect(sleep).toHaveBeenCalledTimes(1);
    const failure = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(failure).toMatchObject({ level: 'warn', code: 'NETWORK', method: 'GET' });
    scope.done();
  });
});

describe('run results', () => {
  it('202 → pending', async () => {
    const scope = api().get(`${RUN_PATH}/results`).query({ limit: '2', offset: '0' }).reply(202, resultsPending);
    const { client } = makeClient();
    const page = await client.getRunResults(AUD, RUN);
    expect(page).toEqual({ state: 'pending', run: expect.objectContaining({ id: RUN, status: 'running' }) as unknown });
    scope.done();
  });

  it('200 → a completed page with total, limit and offset', async () => {
    const scope = api().get(`${RUN_PATH}/results`).query({ limit: '2', offset: '0' }).reply(200, resultsPage1);
    const { client } = makeClient();
    const page = await client.getRunResults(AUD, RUN, { limit: 2, offset: 0 });
    if (page.state !== 'completed') throw new Error('expected a completed page');
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.results.map((r) => r.primaryContactEmail)).toEqual(['sherry@example.com', 'christine.chen@example.net']);
    expect(page.results[0]?.intent?.matchedTopics?.[0]?.topicName).toBe('Marketing ROI');
    scope.done();
  });

  it('409 → RUN_NOT_SERVABLE, without retry', async () => {
    const scope = api().get(`${RUN_PATH}/results`).query({ limit: '2', offset: '0' }).reply(409, errorRunNotServable);
    const { client, sleep } = makeClient();
    const err = await rejectionOf(client.getRunResults(AUD, RUN));
    expect(err).toMatchObject({ code: 'RUN_NOT_SERVABLE', status: 409, retryable: false, requestId: 'req_01HX409' });
    expect(sleep).not.toHaveBeenCalled();
    scope.done();
  });

  it('iterateRunResults pages by offset until total', async () => {
    const scope = api()
      .get(`${RUN_PATH}/results`)
      .query({ limit: '2', offset: '0' })
      .reply(200, resultsPage1)
      .get(`${RUN_PATH}/results`)
      .query({ limit: '2', offset: '2' })
      .reply(200, resultsPage2);
    const { client } = makeClient();
    const emails: (string | null | undefined)[] = [];
    let pages = 0;
    for await (const page of client.iterateRunResults(AUD, RUN)) {
      pages++;
      emails.push(...page.results.map((r) => r.primaryContactEmail));
    }
    expect(pages).toBe(2);
    expect(emails).toEqual(['sherry@example.com', 'christine.chen@example.net', 'm.ortega@example.org']);
    scope.done();
  });

  it('iterateRunResults stops on a short page when total is missing', async () => {
    const { total: _total, ...page2WithoutTotal } = resultsPage2.data;
    const { total: _total1, ...page1WithoutTotal } = resultsPage1.data;
    const noTotal = (data: object) => ({ data: { ...data, run: { ...resultsPage1.data.run, resultCount: null } }, meta: resultsPage1.meta });
    const scope = api()
      .get(`${RUN_PATH}/results`)
      .query({ limit: '2', offset: '0' })
      .reply(200, noTotal(page1WithoutTotal))
      .get(`${RUN_PATH}/results`)
      .query({ limit: '2', offset: '2' })
      .reply(200, noTotal(page2WithoutTotal));
    const { client } = makeClient();
    let rows = 0;
    for await (const page of client.iterateRunResults(AUD, RUN)) rows += page.results.length;
    expect(rows).toBe(3);
    scope.done();
  });

  it('iterateRunResults refuses a run that is still running', async () => {
    const scope = api().get(`${RUN_PATH}/results`).query({ limit: '2', offset: '0' }).reply(202, resultsPending);
    const { client } = makeClient();
    const consume = async () => {
      for await (const _page of client.iterateRunResults(AUD, RUN)) throw new Error('no page expected');
    };
    await expect(consume()).rejects.toMatchObject({ code: 'RUN_NOT_READY' });
    scope.done();
  });
});

describe('exportCsv (direct export.csv)', () => {
  it('streams the CSV as a Readable, asking for text/csv with the key', async () => {
    const scope = api('text/csv, application/json;q=0.9')
      .get(`${RUN_PATH}/export.csv`)
      .reply(200, CSV, { 'content-type': 'text/csv; charset=utf-8', 'x-export-row-cap': '300000' });
    const { client } = makeClient();
    const stream = await client.exportCsv(AUD, RUN);
    expect(typeof stream.pipe).toBe('function');
    expect(await readText(stream)).toBe(CSV);
    scope.done();
  });

  it('returns the stream before the body has finished arriving (no buffering)', async () => {
    const [header, ...rows] = CSV.split(/(?<=\n)/);
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    // The server sends the header row, then holds the rest until the test has read the first bytes.
    // A client that buffered the whole body would never resolve and the test would time out.
    async function* slowBody(): AsyncGenerator<Buffer> {
      yield Buffer.from(header ?? '');
      await gate;
      for (const row of rows) yield Buffer.from(row);
    }
    const scope = api('text/csv, application/json;q=0.9')
      .get(`${RUN_PATH}/export.csv`)
      .reply(200, () => Readable.from(slowBody()), { 'content-type': 'text/csv' });
    const { client } = makeClient();
    const stream = await client.exportCsv(AUD, RUN);
    const iterator = stream[Symbol.asyncIterator]();
    const first: unknown = (await iterator.next()).value;
    expect(Buffer.isBuffer(first) && first.toString('utf8')).toBe(header);
    openGate();
    const rest: Buffer[] = [];
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      const value: unknown = next.value;
      if (Buffer.isBuffer(value)) rest.push(value);
    }
    expect((header ?? '') + Buffer.concat(rest).toString('utf8')).toBe(CSV);
    scope.done();
  });

  it('follows a redirect to an allowed storage host without the API key', async () => {
    const apiScope = api('text/csv, application/json;q=0.9')
      .get(`${RUN_PATH}/export.csv`)
      .reply(302, '', { location: `${STORAGE}${FILE_PATH}?Authorization=${FIRST_SIGNATURE}` });
    const storageScope = storage().get(FILE_PATH).query({ Authorization: FIRST_SIGNATURE }).reply(200, CSV);
    const { client } = makeClient();
    expect(await readText(await client.exportCsv(AUD, RUN))).toBe(CSV);
    apiScope.done();
    storageScope.done();
  });

  it('refuses a redirect to a host that is not on the allow-list', async () => {
    const scope = api('text/csv, application/json;q=0.9')
      .get(`${RUN_PATH}/export.csv`)
      .reply(302, '', { location: 'https://exports.evil.example/run.csv' });
    const { client, sleep } = makeClient();
    const err = await rejectionOf(client.exportCsv(AUD, RUN));
    expect(err.code).toBe('DOWNLOAD_HOST_NOT_ALLOWED');
    expect(err.message).toContain('exports.evil.example');
    expect(sleep).not.toHaveBeenCalled();
    scope.done();
  });
  it('says the run is not ready when export.csv answers 202 (queued or running), without retrying', async () => {
    const scope = api('text/csv, application/json;q=0.9')
      .get(`${RUN_PATH}/export.csv`)
      .reply(202, { data: { run: { id: RUN, status: 'running' } }, meta: { timestamp: '2026-11-23T12:00:00.000Z', request_id: 'req_202' } });
    const { client, sleep } = makeClient();
    const err = await rejectionOf(client.exportCsv(AUD, RUN));
    expect(err.code).toBe('RUN_NOT_READY');
    expect(err.message).toMatch(/still being materialized/);
    expect(sleep).not.toHaveBeenCalled();
    scope.done();
  });

  it('treats a malformed redirect Location as a bad response, not a crash', async () => {
    const scope = api('text/csv, application/json;q=0.9')
      .get(`${RUN_PATH}/export.csv`)
      .reply(302, '', { location: 'https://[not a host/run.csv' });
    const { client } = makeClient();
    const err = await rejectionOf(client.exportCsv(AUD, RUN));
    expect(err).toBeInstanceOf(SyncError);
    expect(err.code).toBe('BAD_RESPONSE');
    scope.done();
  });
});

describe('downloadExport (stored export, signed URL)', () => {
  it('refreshes an expired signed URL and delivers the CSV exactly once', async () => {
    const apiScope = api()
      .post(`${RUN_PATH}/exports`)
      .reply(200, exportCompleted)
      .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
      .reply(200, freshExport);
    const storageScope = storage()
      .get(FILE_PATH)
      .query({ Authorization: FIRST_SIGNATURE })
      .reply(403, b2Expired, { 'content-type': 'application/xml' })
      .get(FILE_PATH)
      .query({ Authorization: FRESH_SIGNATURE })
      .reply(200, CSV, { 'content-type': 'text/csv' });
    const { client, lines } = makeClient();
    const stream = await client.downloadExport(AUD, RUN);
    expect(await readText(stream)).toBe(CSV);
    expect(lines.join('\n')).not.toContain(FIRST_SIGNATURE);
    apiScope.done();
    storageScope.done();
  });

  it('gives up with EXPORT_URL_EXPIRED when fresh URLs keep being refused', async () => {
    const apiScope = api()
      .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
      .reply(200, exportCompleted)
      .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
      .reply(200, freshExport);
    const storageScope = storage()
      .get(FILE_PATH)
      .query({ Authorization: FIRST_SIGNATURE })
      .reply(403, b2Expired)
      .get(FILE_PATH)
      .query({ Authorization: FRESH_SIGNATURE })
      .reply(401, { code: 'expired_auth_token', message: 'Authorization token has expired', status: 401 });
    const { client } = makeClient({ maxUrlRefreshes: 1 });
    const err = await rejectionOf(client.downloadExport(AUD, RUN, { exportId: EXPORT_ID }));
    expect(err.code).toBe('EXPORT_URL_EXPIRED');
    expect(err.message).toMatch(/after 1 fresh signed URLs/);
    apiScope.done();
    storageScope.done();
  });

  it('polls a processing export until it is completed, then downloads it', async () => {
    const apiScope = api()
      .post(`${RUN_PATH}/exports`)
      .reply(202, exportProcessing)
      .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
      .reply(200, exportProcessing)
      .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
      .reply(200, exportCompleted);
    const storageScope = storage().get(FILE_PATH).query({ Authorization: FIRST_SIGNATURE }).reply(200, CSV);
    const { client, sleep } = makeClient();
    expect(await readText(await client.downloadExport(AUD, RUN))).toBe(CSV);
    expect(sleep.mock.calls).toEqual([[1500]]);
    apiScope.done();
    storageScope.done();
  });

  it('fails clearly when the export failed', async () => {
    const failedExport = {
      ...exportProcessing,
      data: { ...exportProcessing.data, export: { ...exportProcessing.data.export, status: 'failed', errorCode: 'UPLOAD_FAILED' } },
    };
    const apiScope = api().post(`${RUN_PATH}/exports`).reply(202, exportProcessing).get(`${RUN_PATH}/exports/${EXPORT_ID}`).reply(200, failedExport);
    const { client, sleep } = makeClient();
    const err = await rejectionOf(client.downloadExport(AUD, RUN));
    expect(err.code).toBe('EXPORT_NOT_READY');
    expect(err.message).toMatch(/could not build stored export.*UPLOAD_FAILED/);
    expect(sleep).not.toHaveBeenCalled();
    apiScope.done();
  });

  it('refuses a signed URL on a host that is not allowed, naming the host', async () => {
    const apiScope = api().post(`${RUN_PATH}/exports`).reply(200, withDownloadUrl('https://files.attacker.example/x.csv?sig=1'));
    const { client } = makeClient();
    const err = await rejectionOf(client.downloadExport(AUD, RUN));
    expect(err.code).toBe('DOWNLOAD_HOST_NOT_ALLOWED');
    expect(err.message).toContain('files.attacker.example');
    apiScope.done();
  });

  it('follows loopback URLs only when allowLoopbackDownloads is set (sandbox)', async () => {
    const loopbackUrl = 'http://127.0.0.1:4010/exports/e9f0a1b2.csv?sig=abc';
    const refused = api().post(`${RUN_PATH}/exports`).reply(200, withDownloadUrl(loopbackUrl));
    const strict = makeClient().client;
    await expect(strict.downloadExport(AUD, RUN)).rejects.toMatchObject({ code: 'DOWNLOAD_HOST_NOT_ALLOWED' });
    refused.done();

    const apiScope = api().post(`${RUN_PATH}/exports`).reply(200, withDownloadUrl(loopbackUrl));
    const sandboxStorage = nock('http://127.0.0.1:4010', { badheaders: ['x-api-key'] })
      .get('/exports/e9f0a1b2.csv')
      .query({ sig: 'abc' })
      .reply(200, CSV);
    const { client } = makeClient({ allowLoopbackDownloads: true });
    expect(await readText(await client.downloadExport(AUD, RUN))).toBe(CSV);
    apiScope.done();
    sandboxStorage.done();
  });

  describe('a connection that drops mid-body', () => {
    const DROP_AFTER = 40;

    /**
     * Wraps fetch so the first storage response body fails after `DROP_AFTER` bytes, like a reset socket.
     * The failure waits for `delivered`, i.e. until the consumer has really received those bytes: bytes
     * still buffered inside the stream when it errors were never handed over and must not be skipped.
     */
    function droppingFetch(delivered: Promise<void>): typeof fetch {
      let dropped = false;
      return async (input, init) => {
        const response = await fetch(input, init);
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (dropped || !url.startsWith(STORAGE) || response.body === null) return response;
        dropped = true;
        const reader = response.body.getReader();
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent >= DROP_AFTER) {
              await delivered;
              await reader.cancel();
              controller.error(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
              return;
            }
            const result = await reader.read();
            if (result.done) return controller.close();
            const value: unknown = result.value;
            if (!ArrayBuffer.isView(value)) throw new Error('expected bytes');
            const part = new Uint8Array(value.buffer, value.byteOffset, Math.min(value.byteLength, DROP_AFTER - sent));
            sent += part.length;
            controller.enqueue(part);
          },
        });
        return new Response(body, { status: response.status, headers: response.headers });
      };
    }

    /** Reads the whole stream, opening the gate once the first bytes arrived; returns bytes and error. */
    async function consume(stream: Readable, onFirstBytes: () => void): Promise<{ text: string; error: unknown }> {
      const received: Buffer[] = [];
      try {
        for await (const chunk of stream) {
          const value: unknown = chunk;
          if (Buffer.isBuffer(value)) received.push(value);
          onFirstBytes();
        }
        return { text: Buffer.concat(received).toString('utf8'), error: undefined };
      } catch (error) {
        return { text: Buffer.concat(received).toString('utf8'), error };
      }
    }

    function gate(): { opened: Promise<void>; open: () => void } {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { opened, open };
    }

    it('resumes with Range on a fresh URL and emits every byte exactly once', async () => {
      const apiScope = api()
        .post(`${RUN_PATH}/exports`)
        .reply(200, exportCompleted)
        .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
        .reply(200, freshExport);
      const storageScope = storage()
        .get(FILE_PATH)
        .query({ Authorization: FIRST_SIGNATURE })
        .reply(200, CSV)
        .get(FILE_PATH)
        .query({ Authorization: FRESH_SIGNATURE })
        .matchHeader('range', `bytes=${DROP_AFTER}-`)
        .reply(206, CSV.slice(DROP_AFTER), { 'content-range': `bytes ${DROP_AFTER}-${CSV.length - 1}/${CSV.length}` });
      const { opened, open } = gate();
      const { client } = makeClient({ fetch: droppingFetch(opened) });
      const { text, error } = await consume(await client.downloadExport(AUD, RUN), open);
      expect(error).toBeUndefined();
      expect(text).toBe(CSV);
      apiScope.done();
      storageScope.done();
    });

    it('fails clearly, without repeating bytes, when the server ignores Range', async () => {
      const apiScope = api()
        .post(`${RUN_PATH}/exports`)
        .reply(200, exportCompleted)
        .get(`${RUN_PATH}/exports/${EXPORT_ID}`)
        .reply(200, freshExport);
      const storageScope = storage()
        .get(FILE_PATH)
        .query({ Authorization: FIRST_SIGNATURE })
        .reply(200, CSV)
        .get(FILE_PATH)
        .query({ Authorization: FRESH_SIGNATURE })
        .matchHeader('range', `bytes=${DROP_AFTER}-`)
        .reply(200, CSV);
      const { opened, open } = gate();
      const { client } = makeClient({ fetch: droppingFetch(opened) });
      const { text, error: failure } = await consume(await client.downloadExport(AUD, RUN), open);
      expect(failure).toBeInstanceOf(SyncError);
      expect((failure as SyncError).message).toMatch(/dropped after 40 bytes.*cannot resume/);
      expect(text).toBe(CSV.slice(0, DROP_AFTER));
      apiScope.done();
      storageScope.done();
    });
  });
});

describe('checkDownloadUrl', () => {
  const policy = { allowedDownloadHosts: ['*.backblazeb2.com', 'api.aws53.cloud'] };
  it.each([
    'https://f005.backblazeb2.com/file/b/x.csv?Authorization=abc',
    'https://F002.BackBlazeB2.com/file/b/x.csv',
    'https://api.aws53.cloud/v1/intent/audiences/a/runs/r/export.csv',
  ])('allows %s', (url) => {
    expect(checkDownloadUrl(url, policy).href).toBe(new URL(url).href);
  });

  it.each([
    ['http://f005.backblazeb2.com/file/b/x.csv', /only https/],
    ['https://backblazeb2.com/file/b/x.csv', /backblazeb2\.com: it is not in leadpipe\.allowedDownloadHosts/],
    ['https://f005.backblazeb2.com.evil.example/x.csv', /f005\.backblazeb2\.com\.evil\.example/],
    ['https://evilbackblazeb2.com/x.csv', /evilbackblazeb2\.com/],
    ['https://127.0.0.1/x.csv', /loopback/],
    ['http://localhost:8080/x.csv', /loopback/],
    ['http://[::1]:8080/x.csv', /loopback/],
    ['https://user:pw@f005.backblazeb2.com/x.csv', /embeds credentials/],
  ])('refuses %s', (url, message) => {
    expect(() => checkDownloadUrl(url, policy)).toThrow(message);
    try {
      checkDownloadUrl(url, policy);
    } catch (err) {
      expect(err).toMatchObject({ code: 'DOWNLOAD_HOST_NOT_ALLOWED' });
    }
  });
});

describe('limiter sharing', () => {
  it('gives clients with the same key one limiter, keyed by a hash of the key', () => {
    makeClient();
    makeClient();
    const keys = limiterKeys().filter((k) => k.startsWith('leadpipe:'));
    const hashed = createHash('sha256').update(API_KEY).digest('hex');
    expect(keys).toEqual([`leadpipe:${hashed}`]);
    expect(keys.join()).not.toContain(API_KEY);
  });
});
