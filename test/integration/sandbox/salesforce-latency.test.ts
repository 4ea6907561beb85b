/**
 * Salesforce sandbox: simulated API latency (`latency`, `setLatency`), the concurrent request limit
 * (`concurrentRequestLimit`, `traffic().concurrencyRefused`) and Bulk 2.0 throughput
 * (`bulkRecordsPerSecond`, `bulkJobTimes()`). Timing checks are lower bounds only; overlap is shown by
 * order (the second request arrives before the first is answered), not by a wall-clock ceiling.
 */
import { performance } from 'node:perf_hooks';
import { Connection } from 'jsforce';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/server';

const V = '/services/data/v62.0';
const THROTTLE = [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.' }];

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

const leads = (n: number, prefix = 'l'): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => ({ attributes: { type: 'Lead' }, LastName: `${prefix}${i}`, Company: 'Acme', Email: `${prefix}${i}@x.test` }));

describe('Salesforce sandbox latency, concurrency limit and bulk throughput', () => {
  let sb: SalesforceSandbox;
  afterEach(async () => {
    await sb.close();
  });

  const call = (path: string, init: { method?: string; body?: string; contentType?: string; signal?: AbortSignal } = {}): Promise<Response> =>
    fetch(`${sb.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${sb.accessToken}`, 'content-type': init.contentType ?? 'application/json' },
      ...(init.body !== undefined ? { body: init.body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  const limits = (): Promise<Response> => call(`${V}/limits`);

  it('holds a collection answer baseMs + perRecordMs × records and writes it; a query waits baseMs + perRecordMs', async () => {
    sb = await startSalesforceSandbox({ latency: { baseMs: 120, perRecordMs: 10 } });
    const created = await timed(() => call(`${V}/composite/sobjects`, { method: 'POST', body: JSON.stringify({ allOrNone: false, records: leads(12) }) }));
    expect(created.value.status).toBe(200);
    expect(created.ms).toBeGreaterThanOrEqual(120 + 10 * 12);
    expect(sb.list('Lead')).toHaveLength(12);

    const composite = await timed(() =>
      call(`${V}/composite`, {
        method: 'POST',
        body: JSON.stringify({ compositeRequest: [1, 2, 3, 4, 5].map((i) => ({ method: 'GET', url: `${V}/query?q=SELECT+Id+FROM+Lead`, referenceId: `q${i}` })) }),
      }),
    );
    expect(composite.value.status).toBe(200);
    expect(composite.ms).toBeGreaterThanOrEqual(120 + 10 * 5);

    const query = await timed(() => call(`${V}/query?q=${encodeURIComponent('SELECT Id FROM Lead')}`));
    expect(query.value.status).toBe(200);
    expect(query.ms).toBeGreaterThanOrEqual(130);
  });

  it('counts the data lines of a Bulk 2.0 upload', async () => {
    sb = await startSalesforceSandbox({ latency: { baseMs: 50, perRecordMs: 20 } });
    const job = (await (await call(`${V}/jobs/ingest`, { method: 'POST', body: JSON.stringify({ object: 'Lead', operation: 'insert' }) })).json()) as { id: string };
    const csv = ['LastName,Company', ...Array.from({ length: 10 }, (_, i) => `B${i},Acme`), ''].join('\n');
    const upload = await timed(() => call(`${V}/jobs/ingest/${job.id}/batches`, { method: 'PUT', body: csv, contentType: 'text/csv' }));
    expect(upload.value.status).toBe(201);
    expect(upload.ms).toBeGreaterThanOrEqual(50 + 20 * 10);
  });

  it('overlaps the waits of concurrent requests, and composes with faults', async () => {
    sb = await startSalesforceSandbox({ latency: { baseMs: 300 } });
    const events: string[] = [];
    sb.observe((e) => {
      if (e.phase === 'received' || e.phase === 'answered') events.push(e.phase);
    });
    const [a, b] = await Promise.all([timed(limits), timed(limits)]);
    expect([a.value.status, b.value.status]).toEqual([200, 200]);
    expect(a.ms).toBeGreaterThanOrEqual(300);
    expect(b.ms).toBeGreaterThanOrEqual(300);
    // Both were received before either was answered: the two waits ran at the same time.
    expect(events).toEqual(['received', 'received', 'answered', 'answered']);

    sb.setFaults({ seed: 6, rates: { rateLimited: 1 } });
    const throttled = await timed(limits);
    expect(throttled.value.status).toBe(403);
    expect(await throttled.value.json()).toEqual(THROTTLE);
    expect(throttled.ms).toBeGreaterThanOrEqual(300);
    expect(sb.traffic().concurrencyRefused).toBe(0);
  });

  it('refuses the third of three concurrent requests over concurrentRequestLimit 2 with the ConcurrentRequests 403, and counts it', async () => {
    sb = await startSalesforceSandbox({ latency: { baseMs: 300 }, concurrentRequestLimit: 2, dailyApiLimit: 100 });
    const answers = await Promise.all([limits(), limits(), limits()]);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 403]);
    const refused = answers.find((r) => r.status === 403);
    expect(await refused?.json()).toEqual(THROTTLE);
    expect(refused?.headers.get('sforce-limit-info')).toBe('api-usage=2/100');
    expect(sb.traffic().concurrencyRefused).toBe(1);
    expect(sb.traffic().byStatus['403']).toBe(1);
    expect(sb.apiUsage().used).toBe(2);
    expect(sb.faultStats().injected.rateLimited).toBe(0);

    // The two answered left the count: two more at once both pass.
    const again = await Promise.all([limits(), limits()]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    expect(sb.traffic().concurrencyRefused).toBe(1);

    sb.resetTraffic();
    expect(sb.traffic().concurrencyRefused).toBe(0);
    sb.setConcurrentRequestLimit(undefined);
    const unlimited = await Promise.all([limits(), limits(), limits()]);
    expect(unlimited.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(() => sb.setConcurrentRequestLimit(0)).toThrow(RangeError);
  });

  it('lets a request whose client went away leave the in-flight count', async () => {
    sb = await startSalesforceSandbox({ latency: { baseMs: 400 }, concurrentRequestLimit: 1 });
    const gone = new Promise<void>((resolve) => {
      const stop = sb.observe((e) => {
        if (e.phase === 'answered') {
          stop();
          resolve();
        }
      });
    });
    const aborted = await call(`${V}/limits`, { signal: AbortSignal.timeout(50) }).then(
      () => 'answered',
      () => 'aborted',
    );
    expect(aborted).toBe('aborted');
    await gone;
    const next = await limits();
    expect(next.status).toBe(200);
    expect(sb.traffic().concurrencyRefused).toBe(0);
  });

  it('takes rows ÷ bulkRecordsPerSecond more to complete a Bulk 2.0 job, and reports its times on the sandbox clock', async () => {
    const rows = 100;
    const rate = 250; // 100 rows at 250/s: at least 400 ms
    sb = await startSalesforceSandbox({ bulkRecordsPerSecond: rate });
    const job = (await (await call(`${V}/jobs/ingest`, { method: 'POST', body: JSON.stringify({ object: 'Lead', operation: 'insert' }) })).json()) as { id: string };
    const csv = ['LastName,Company', ...Array.from({ length: rows }, (_, i) => `R${i},Acme`)].join('\n');
    expect((await call(`${V}/jobs/ingest/${job.id}/batches`, { method: 'PUT', body: csv, contentType: 'text/csv' })).status).toBe(201);

    const closedBefore = Date.now();
    const started = performance.now();
    expect((await call(`${V}/jobs/ingest/${job.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'UploadComplete' }) })).status).toBe(200);
    const closedAfter = Date.now();
    expect(sb.bulkJobTimes()).toEqual([{ id: job.id, object: 'Lead', uploadCompleteAt: expect.any(Number) as number, doneAt: null }]);

    let state = '';
    while (state !== 'JobComplete') {
      const info = (await (await call(`${V}/jobs/ingest/${job.id}`)).json()) as { state: string; numberRecordsProcessed: number };
      state = info.state;
      expect(['UploadComplete', 'InProgress', 'JobComplete']).toContain(state);
      if (state !== 'JobComplete') await new Promise((r) => setTimeout(r, 20));
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual((rows / rate) * 1000);
    expect(sb.list('Lead')).toHaveLength(rows);

    const [times] = sb.bulkJobTimes();
    if (!times || times.doneAt === null) throw new Error('no done time');
    // Date.now is the sandbox clock by default (the one traffic().firstAt / lastAt use).
    expect(times.uploadCompleteAt).toBeGreaterThanOrEqual(closedBefore);
    expect(times.uploadCompleteAt).toBeLessThanOrEqual(closedAfter);
    expect(times.doneAt - times.uploadCompleteAt).toBeGreaterThanOrEqual((rows / rate) * 1000);

    // A deleted job stays listed; an aborted one gets its done time.
    expect((await call(`${V}/jobs/ingest/${job.id}`, { method: 'DELETE' })).status).toBe(204);
    const second = (await (await call(`${V}/jobs/ingest`, { method: 'POST', body: JSON.stringify({ object: 'Lead', operation: 'insert' }) })).json()) as { id: string };
    await call(`${V}/jobs/ingest/${second.id}/batches`, { method: 'PUT', body: csv, contentType: 'text/csv' });
    await call(`${V}/jobs/ingest/${second.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'UploadComplete' }) });
    await call(`${V}/jobs/ingest/${second.id}`, { method: 'PATCH', body: JSON.stringify({ state: 'Aborted' }) });
    expect(sb.bulkJobTimes().map((t) => [t.id, t.doneAt !== null])).toEqual([
      [job.id, true],
      [second.id, true],
    ]);
  });

  it('leaves OAuth and the Metadata API without latency, and checks its options', async () => {
    sb = await startSalesforceSandbox({ latency: { baseMs: 60_000 } });
    // A minute of latency: these answering at all shows they were not delayed.
    const token = await fetch(`${sb.url}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: sb.refreshToken, client_id: sb.clientId, client_secret: sb.clientSecret }).toString(),
    });
    expect(token.status).toBe(200);
    const userinfo = await fetch(`${sb.url}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${sb.accessToken}` } });
    expect(userinfo.status).toBe(200);
    const conn = new Connection({ instanceUrl: sb.url, loginUrl: sb.url, accessToken: sb.accessToken, version: '62.0' });
    const [field] = await conn.metadata.upsert('CustomField', [{ fullName: 'Contact.Score__c', label: 'Score', type: 'Number', precision: 3, scale: 0 }]);
    expect(field).toMatchObject({ success: true });
    expect(sb.hasField('Contact', 'Score__c')).toBe(true);
    await expect(startSalesforceSandbox({ concurrentRequestLimit: 1.5 })).rejects.toThrow(RangeError);
    await expect(startSalesforceSandbox({ bulkRecordsPerSecond: 0 })).rejects.toThrow(RangeError);
    await expect(startSalesforceSandbox({ latency: { baseMs: 1, perRecordMs: Number.NaN } })).rejects.toThrow(RangeError);
  });
});
