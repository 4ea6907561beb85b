import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EXPORT_CSV_HEADER } from '../../../src/sandbox/export-csv';
import { startLeadpipeSandbox } from '../../../src/sandbox/leadpipe/server';
import type { LeadpipeSandbox } from '../../../src/sandbox/leadpipe/server';

// Response shapes from /work/shared/reference/leadpipe-api.md, checked with zod rather than cast.
const Meta = z.object({ timestamp: z.iso.datetime(), request_id: z.string().min(1) });
const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }), meta: Meta });
const envelope = <T extends z.ZodType>(data: T) => z.object({ data, meta: Meta });
const Run = z.object({
  id: z.uuid(),
  audienceId: z.uuid(),
  status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
  runType: z.enum(['manual', 'daily', 'preview']),
  dataDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  resultCount: z.number().int(),
  candidateCount: z.number().int(),
  idempotencyKey: z.string().nullable(),
  errorCode: z.string().nullable(),
  createdAt: z.iso.datetime(),
  completedAt: z.iso.datetime().nullable(),
});
const Audience = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['draft', 'active', 'paused']),
  audienceSize: z.number().int(),
  config: z.object({ topicIds: z.array(z.number().int()) }),
});
const Topic = z.object({
  topicId: z.number().int(),
  topicName: z.string(),
  type: z.string(),
  industry: z.string(),
  category: z.string(),
});
const Person = z.object({
  hashedEmail: z.string().regex(/^[0-9a-f]{64}$/),
  primaryContactEmail: z.string(),
  email: z.string(),
  firstName: z.string().nullable(),
  company: z.object({ name: z.string().nullable(), domain: z.string().nullable(), industry: z.string().nullable() }),
  intent: z.object({ score: z.number().int().min(50).max(99), topicOverlap: z.number().int(), matchedTopics: z.array(Topic).min(1).max(3) }),
});
const Page = z.object({ run: Run, results: z.array(Person), total: z.number(), limit: z.number(), offset: z.number() });
const Pending = z.object({ run: Run, state: z.enum(['queued', 'running']), results: z.array(z.unknown()).length(0) });
const Stats = z.object({
  run: Run,
  stats: z.object({
    total: z.number(),
    fillRates: z.record(z.string(), z.object({ count: z.number().int(), percent: z.number() })),
    scoreHistogram: z.array(z.object({ bucket: z.string(), count: z.number().int(), percent: z.number() })),
  }),
});
const StoredExport = z.object({
  export: z.object({
    id: z.uuid(),
    runId: z.uuid(),
    audienceId: z.uuid(),
    exportType: z.literal('csv'),
    status: z.literal('completed'),
    storageProvider: z.literal('sandbox'),
    contentType: z.literal('text/csv'),
    rowCount: z.number().int(),
    byteSize: z.number().int(),
    contentSha1: z.string().regex(/^[0-9a-f]{40}$/),
  }),
  downloadUrl: z.url(),
  downloadUrlExpiresAt: z.iso.datetime(),
  downloadUrlTtlSeconds: z.number(),
});

const PEOPLE_PER_RUN = 120;
const TRANSITION_MS = 1_000;
const URL_TTL_MS = 50;

async function body<T extends z.ZodType>(res: Response, schema: T): Promise<z.infer<T>> {
  return schema.parse(await res.json());
}

/** Counts CSV records in a streamed body without holding it (no generated cell contains a newline). */
async function countLines(res: Response): Promise<{ lines: number; firstLine: string }> {
  if (!res.body) throw new Error('no body');
  let lines = 0;
  let head: Buffer | undefined;
  for await (const raw of res.body) {
    const chunk: unknown = raw; // Node's web-stream typings yield `any`
    if (!(chunk instanceof Uint8Array)) throw new Error('expected bytes from the response body');
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    head ??= bytes.subarray(0, 1000);
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  }
  return { lines, firstLine: head?.toString('utf8').split('\n')[0] ?? '' };
}

describe('Leadpipe sandbox', () => {
  // A hand-driven clock: run transitions and URL expiry happen exactly when the test says so.
  let clock = Date.parse('2026-05-05T09:00:00.000Z');
  let sandbox: LeadpipeSandbox;
  let api: (path: string, init?: RequestInit) => Promise<Response>;

  beforeAll(async () => {
    sandbox = await startLeadpipeSandbox({
      seed: 'integration',
      peoplePerRun: PEOPLE_PER_RUN,
      runTransitionMs: TRANSITION_MS,
      exportUrlTtlMs: URL_TTL_MS,
      now: () => clock,
    });
    api = (path, init = {}) =>
      fetch(`${sandbox.url}${path}`, { ...init, headers: { 'x-api-key': sandbox.apiKey, ...init.headers } });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  async function firstAudienceId(): Promise<string> {
    const list = await body(await api('/v1/intent/audiences'), envelope(z.array(Audience)));
    const first = list.data[0];
    if (!first) throw new Error('the sandbox starts with audiences');
    return first.id;
  }

  async function latestCompletedRun(audienceId: string): Promise<z.infer<typeof Run>> {
    const runs = await body(await api(`/v1/intent/audiences/${audienceId}/runs`), envelope(z.array(Run)));
    const run = runs.data.find((r) => r.status === 'completed');
    if (!run) throw new Error('the sandbox starts with completed runs');
    return run;
  }

  it('listens on loopback', () => {
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers 401 UNAUTHORIZED without or with a wrong api key', async () => {
    const missing = await fetch(`${sandbox.url}/v1/intent/audiences`);
    expect(missing.status).toBe(401);
    expect((await body(missing, ErrorBody)).error.code).toBe('UNAUTHORIZED');
    const wrong = await fetch(`${sandbox.url}/v1/intent/audiences`, { headers: { 'x-api-key': 'sk_wrong' } });
    expect(wrong.status).toBe(401);
    expect((await body(wrong, ErrorBody)).error.code).toBe('UNAUTHORIZED');
  });

  it('lists, filters and fetches audiences; 404 for an unknown one', async () => {
    const list = await body(await api('/v1/intent/audiences?status=active&limit=50'), envelope(z.array(Audience)));
    expect(list.data).toHaveLength(2);
    expect(list.data.every((a) => a.audienceSize === PEOPLE_PER_RUN)).toBe(true);
    expect((await body(await api('/v1/intent/audiences?status=paused'), envelope(z.array(Audience)))).data).toHaveLength(0);
    expect((await body(await api('/v1/intent/audiences?limit=1'), envelope(z.array(Audience)))).data).toHaveLength(1);
    expect((await api('/v1/intent/audiences?limit=0')).status).toBe(400);
    expect((await api('/v1/intent/audiences?status=bogus')).status).toBe(400);
    expect((await body(await api('/v1/intent/audiences?status=&limit='), envelope(z.array(Audience)))).data).toHaveLength(2);

    const id = list.data[0]?.id ?? '';
    const one = await body(await api(`/v1/intent/audiences/${id}`), envelope(Audience));
    expect(one.data.id).toBe(id);

    const unknown = await api('/v1/intent/audiences/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect((await body(unknown, ErrorBody)).error.code).toBe('NOT_FOUND');
  });

  it('lists runs newest first, honouring limit (1–100)', async () => {
    const audienceId = await firstAudienceId();
    const runs = await body(await api(`/v1/intent/audiences/${audienceId}/runs`), envelope(z.array(Run)));
    expect(runs.data.length).toBeGreaterThanOrEqual(3);
    const created = runs.data.map((r) => r.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
    expect(runs.data.filter((r) => r.runType === 'daily').every((r) => r.status === 'completed')).toBe(true);
    const two = await body(await api(`/v1/intent/audiences/${audienceId}/runs?limit=2`), envelope(z.array(Run)));
    expect(two.data).toHaveLength(2);
    expect((await api(`/v1/intent/audiences/${audienceId}/runs?limit=101`)).status).toBe(400);
  });

  it('queues a manual run, idempotently, then serves 202 until it completes and pages the results', async () => {
    const audienceId = await firstAudienceId();
    const post = (key: string, runType = 'manual') =>
      api(`/v1/intent/audiences/${audienceId}/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ runType }),
      });

    const created = await post('sync-test-1');
    expect(created.status).toBe(201);
    const run = (await body(created, envelope(Run))).data;
    expect(run).toMatchObject({ status: 'queued', runType: 'manual', idempotencyKey: 'sync-test-1', audienceId });

    const replay = await post('sync-test-1');
    expect(replay.status).toBe(200);
    expect((await body(replay, envelope(Run))).data.id).toBe(run.id);
    expect((await post('k'.repeat(121))).status).toBe(400);
    expect((await post('sync-test-2', 'daily')).status).toBe(400);

    const results = (query = '') => api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/results${query}`);
    const queued = await results();
    expect(queued.status).toBe(202);
    expect((await body(queued, envelope(Pending))).data.state).toBe('queued');
    clock += TRANSITION_MS;
    const running = await results();
    expect(running.status).toBe(202);
    expect((await body(running, envelope(Pending))).data.state).toBe('running');
    clock += TRANSITION_MS;

    const first = await results('?limit=100&offset=0');
    expect(first.status).toBe(200);
    const page1 = (await body(first, envelope(Page))).data;
    expect(page1).toMatchObject({ total: PEOPLE_PER_RUN, limit: 100, offset: 0 });
    expect(page1.run.status).toBe('completed');
    expect(page1.results).toHaveLength(100);
    const page2 = (await body(await results('?limit=100&offset=100'), envelope(Page))).data;
    expect(page2.results).toHaveLength(PEOPLE_PER_RUN - 100);
    expect((await body(await results(), envelope(Page))).data.limit).toBe(50);
    expect((await results('?limit=101')).status).toBe(400);

    // The pages and the CSV export come from the same rows.
    const csv = await (await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/export.csv`)).text();
    const csvHashes = csv.trim().split('\n').slice(1).map((line) => line.split(',')[0]);
    expect(csvHashes).toEqual([...page1.results, ...page2.results].map((p) => p.hashedEmail));

    const runs = await body(await api(`/v1/intent/audiences/${audienceId}/runs?limit=1`), envelope(z.array(Run)));
    expect(runs.data[0]?.id).toBe(run.id);
  });

  it('cancels a queued run and then refuses its results with 409', async () => {
    const audienceId = await firstAudienceId();
    const run = (await body(await api(`/v1/intent/audiences/${audienceId}/runs`, { method: 'POST' }), envelope(Run))).data;
    const cancel = await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}`, { method: 'DELETE' });
    expect((await body(cancel, envelope(Run))).data.status).toBe('cancelled');
    const results = await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/results`);
    expect(results.status).toBe(409);
    expect((await body(results, ErrorBody)).error.code).toBe('RUN_CANCELLED');
  });

  it('answers 409 for a failed run on results, stats and export.csv', async () => {
    const audienceId = await firstAudienceId();
    const run = sandbox.addRun(audienceId, { status: 'failed' });
    expect(sandbox.setRunStatus(run.id, 'failed', { code: 'TIMEOUT', message: 'worker timed out' }).errorCode).toBe('TIMEOUT');
    for (const part of ['results', 'stats', 'export.csv']) {
      const res = await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/${part}`);
      expect(res.status).toBe(409);
      expect((await body(res, ErrorBody)).error.code).toBe('RUN_FAILED');
    }
  });

  it('serves stats: fill rates with counts and two-decimal percents, and a score histogram', async () => {
    const audienceId = await firstAudienceId();
    const run = await latestCompletedRun(audienceId);
    const stats = (await body(await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/stats`), envelope(Stats))).data.stats;
    expect(stats.total).toBe(PEOPLE_PER_RUN);
    expect(stats.fillRates.hashedEmail).toEqual({ count: PEOPLE_PER_RUN, percent: 100 });
    expect(stats.fillRates.email?.percent).toBe(100);
    const firstName = stats.fillRates.firstName;
    expect(firstName?.percent).toBe(Math.round(((firstName?.count ?? 0) / PEOPLE_PER_RUN) * 10000) / 100);
    expect(Object.keys(stats.fillRates)).toEqual(expect.arrayContaining(['company.name', 'intent.score', 'linkedinUrl']));
    expect(stats.scoreHistogram.map((b) => b.bucket)).toEqual(['50-69', '70-89', '90-99']);
    expect(stats.scoreHistogram.reduce((sum, b) => sum + b.count, 0)).toBe(PEOPLE_PER_RUN);
  });

  it('streams export.csv with chunked transfer, the row-cap header and one line per row', async () => {
    const audienceId = await firstAudienceId();
    const run = await latestCompletedRun(audienceId);
    const res = await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/export.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('x-export-row-cap')).toBe('300000');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.headers.get('content-length')).toBeNull();
    const { lines, firstLine } = await countLines(res);
    expect(firstLine).toBe(EXPORT_CSV_HEADER);
    expect(lines).toBe(PEOPLE_PER_RUN + 1);
  });

  it('caps export.csv at 300,000 rows', async () => {
    // An audience of its own, so the big run does not become "the latest run" of the shared one.
    const audience = sandbox.addAudience({ name: 'Big', dailyRuns: 0 });
    const big = sandbox.addRun(audience.id, { people: 300_010 });
    const res = await api(`/v1/intent/audiences/${audience.id}/runs/${big.id}/export.csv`);
    expect((await countLines(res)).lines).toBe(300_000 + 1);
  });

  it('stores an export behind a signed URL that expires and can be refreshed', async () => {
    const audienceId = await firstAudienceId();
    const run = await latestCompletedRun(audienceId);
    const exportsPath = `/v1/intent/audiences/${audienceId}/runs/${run.id}/exports`;
    const direct = Buffer.from(await (await api(`/v1/intent/audiences/${audienceId}/runs/${run.id}/export.csv`)).arrayBuffer());

    const created = await api(exportsPath, { method: 'POST' });
    expect(created.status).toBe(201);
    const first = (await body(created, envelope(StoredExport))).data;
    expect(first.export).toMatchObject({ runId: run.id, audienceId, rowCount: PEOPLE_PER_RUN, byteSize: direct.length });
    expect(first.export.contentSha1).toBe(createHash('sha1').update(direct).digest('hex'));
    expect(first.downloadUrlTtlSeconds).toBe(URL_TTL_MS / 1000);
    expect(new URL(first.downloadUrl).origin).toBe(sandbox.url);

    const again = await api(exportsPath, { method: 'POST' });
    expect(again.status).toBe(200);
    expect((await body(again, envelope(StoredExport))).data.export.id).toBe(first.export.id);

    // No api key: the URL's signature is the credential.
    const download = await fetch(first.downloadUrl);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(direct)).toBe(true);

    const resumed = await fetch(first.downloadUrl, { headers: { range: 'bytes=100-' } });
    expect(resumed.status).toBe(206);
    expect(resumed.headers.get('content-range')).toBe(`bytes 100-${direct.length - 1}/${direct.length}`);
    expect(Buffer.from(await resumed.arrayBuffer()).equals(direct.subarray(100))).toBe(true);

    const tail = await fetch(first.downloadUrl, { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(direct.subarray(direct.length - 10))).toBe(true);
    const beyond = await fetch(first.downloadUrl, { headers: { range: `bytes=${direct.length}-` } });
    expect(beyond.status).toBe(416);
    await beyond.arrayBuffer();

    const tampered = first.downloadUrl.replace(/sig=([0-9a-f])/, (_m, c: string) => `sig=${c === '0' ? '1' : '0'}`);
    expect((await fetch(tampered)).status).toBe(403);

    clock += URL_TTL_MS + 1;
    const expired = await fetch(first.downloadUrl);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ status: 403, code: 'download_url_expired' });

    const fresh = (await body(await api(`${exportsPath}/${first.export.id}`), envelope(StoredExport))).data;
    expect(fresh.downloadUrl).not.toBe(first.downloadUrl);
    const redownload = await fetch(fresh.downloadUrl);
    expect(redownload.status).toBe(200);
    expect(Buffer.from(await redownload.arrayBuffer()).equals(direct)).toBe(true);
    expect((await api(`${exportsPath}/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  });

  it('counts requests by route and replays injected responses', async () => {
    sandbox.resetRequestCounts();
    sandbox.injectResponses('listAudiences', { status: 503, times: 2 });
    sandbox.injectResponses('listAudiences', { status: 429, retryAfterSeconds: 7 });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await api('/v1/intent/audiences');
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([503, 503, 429, 200]);
    expect(retryAfter).toBe('7');
    expect(sandbox.requestCount('listAudiences')).toBe(4);
    expect(sandbox.state.requests.getAudience).toBe(0);
  });
});

describe('Leadpipe sandbox rate limit', () => {
  let clock = Date.parse('2026-05-05T09:00:00.000Z');
  let sandbox: LeadpipeSandbox;

  beforeAll(async () => {
    sandbox = await startLeadpipeSandbox({ rateLimit: { requestsPerMinute: 3 }, now: () => clock });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('answers 429 RATE_LIMITED with Retry-After once a key is over its requests per minute', async () => {
    const get = () => fetch(`${sandbox.url}/v1/intent/audiences`, { headers: { 'x-api-key': sandbox.apiKey } });
    for (let i = 0; i < 3; i++) {
      clock += 1_000;
      expect((await get()).status).toBe(200);
    }
    const limited = await get();
    expect(limited.status).toBe(429);
    // The oldest of the three requests (2 s ago) leaves the 60 s window 58 s from now.
    expect(limited.headers.get('retry-after')).toBe('58');
    expect((await body(limited, ErrorBody)).error.code).toBe('RATE_LIMITED');
    clock += 57_000;
    expect((await get()).status).toBe(429);
    clock += 1_000;
    expect((await get()).status).toBe(200);
  });
});

describe('Leadpipe sandbox on the real clock', () => {
  let sandbox: LeadpipeSandbox;

  beforeAll(async () => {
    sandbox = await startLeadpipeSandbox({ audiences: [{ name: 'Only one', dailyRuns: 1 }], runTransitionMs: 20, exportUrlTtlMs: 50 });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('completes a manual run on its own and expires signed URLs after their TTL', async () => {
    const audienceId = sandbox.state.audiences[0]?.id ?? '';
    const headers = { 'x-api-key': sandbox.apiKey };
    const base = `${sandbox.url}/v1/intent/audiences/${audienceId}/runs`;
    const run = (await body(await fetch(base, { method: 'POST', headers }), envelope(Run))).data;
    let status = 202;
    for (let polls = 0; status === 202 && polls < 100; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const res = await fetch(`${base}/${run.id}/results?limit=1`, { headers });
      status = res.status;
      await res.arrayBuffer();
    }
    expect(status).toBe(200);

    const stored = (await body(await fetch(`${base}/${run.id}/exports`, { method: 'POST', headers }), envelope(StoredExport))).data;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await fetch(stored.downloadUrl)).status).toBe(403);
  });
});
