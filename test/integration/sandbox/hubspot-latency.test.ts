/**
 * HubSpot sandbox: simulated API latency (`latency` option, `setLatency`). Timing checks are lower bounds
 * only; overlap is shown by order (the second request arrives before the first is answered), not by a
 * wall-clock ceiling.
 */
import { performance } from 'node:perf_hooks';
import { startHubspotSandbox, type HubspotSandbox } from '../../../src/sandbox/hubspot/server';

const UPSERT = '/crm/v3/objects/contacts/batch/upsert';

function upsertBody(emails: readonly string[]): string {
  return JSON.stringify({ inputs: emails.map((email) => ({ idProperty: 'email', id: email, properties: { firstname: 'Ada' } })) });
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe('HubSpot sandbox latency', () => {
  let sb: HubspotSandbox;
  afterEach(async () => {
    await sb.close();
  });

  const post = (path: string, body: string): Promise<Response> =>
    fetch(`${sb.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${sb.accessToken}`, 'content-type': 'application/json' }, body });
  const get = (path: string): Promise<Response> => fetch(`${sb.url}${path}`, { headers: { authorization: `Bearer ${sb.accessToken}` } });

  it('holds a batch answer baseMs + perRecordMs × inputs and writes it; other requests wait baseMs + perRecordMs', async () => {
    sb = await startHubspotSandbox({ latency: { baseMs: 120, perRecordMs: 15 } });
    const emails = Array.from({ length: 10 }, (_, i) => `c${i}@x.test`);
    const batch = await timed(() => post(UPSERT, upsertBody(emails)));
    expect(batch.value.status).toBe(200);
    expect(batch.ms).toBeGreaterThanOrEqual(120 + 15 * 10);
    for (const email of emails) expect(sb.contactByEmail(email)).toBeDefined();

    const single = await timed(() => get('/account-info/v3/details'));
    expect(single.value.status).toBe(200);
    expect(single.ms).toBeGreaterThanOrEqual(120 + 15);
  });

  it('delays error answers too, and composes with faults: the injected 429 comes after the wait', async () => {
    sb = await startHubspotSandbox({ latency: { baseMs: 100 }, faults: { seed: 1, rates: { rateLimited: 1 } } });
    const limited = await timed(() => post(UPSERT, upsertBody(['a@x.test'])));
    expect(limited.value.status).toBe(429);
    expect(limited.ms).toBeGreaterThanOrEqual(100);
    expect(sb.faultStats().injected.rateLimited).toBe(1);
    expect(sb.contactByEmail('a@x.test')).toBeUndefined();

    const unauthorized = await timed(() => fetch(`${sb.url}/account-info/v3/details`));
    expect(unauthorized.value.status).toBe(401);
    expect(unauthorized.ms).toBeGreaterThanOrEqual(100);
  });

  it('overlaps the waits of concurrent requests', async () => {
    sb = await startHubspotSandbox({ latency: { baseMs: 300 } });
    const events: Array<{ phase: string; at: number }> = [];
    sb.observe((e) => {
      if (e.phase === 'received' || e.phase === 'answered') events.push({ phase: e.phase, at: performance.now() });
    });
    const [a, b] = await Promise.all([timed(() => get('/account-info/v3/details')), timed(() => get('/account-info/v3/details'))]);
    expect(a.value.status).toBe(200);
    expect(b.value.status).toBe(200);
    expect(a.ms).toBeGreaterThanOrEqual(300);
    expect(b.ms).toBeGreaterThanOrEqual(300);
    // Both were received before either was answered: the two waits ran at the same time.
    expect(events.map((e) => e.phase)).toEqual(['received', 'received', 'answered', 'answered']);
    expect(sb.traffic().maxInFlight).toBe(2);
  });

  it('setLatency changes it for later requests; the OAuth routes never wait', async () => {
    sb = await startHubspotSandbox({ oauth: { clientId: 'c', clientSecret: 's' } });
    sb.setLatency({ baseMs: 150 });
    const slow = await timed(() => get('/account-info/v3/details'));
    expect(slow.ms).toBeGreaterThanOrEqual(150);
    expect(() => sb.setLatency({ baseMs: -1 })).toThrow(RangeError);

    // A minute of latency: an OAuth call answering at all shows it was not delayed.
    sb.setLatency({ baseMs: 60_000 });
    const code = sb.issueAuthorizationCode({ redirectUri: 'http://127.0.0.1/cb' });
    const token = await fetch(`${sb.url}/oauth/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1/cb', client_id: 'c', client_secret: 's' }).toString(),
    });
    expect(token.status).toBe(200);

    sb.setLatency(undefined);
    expect((await get('/account-info/v3/details')).status).toBe(200);
  });
});
