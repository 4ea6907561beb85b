/**
 * Fault injection in the three sandboxes, over HTTP: each kind answers as the vendor would (429 bodies
 * and headers, 5xx, held and cut answers, expired tokens and URLs, per-record failures), writes a
 * `timeout` or `reset` request for real, and a plan can be switched per run.
 */
import { request as httpRequest } from 'node:http';
import { startHubspotSandbox, type HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { startLeadpipeSandbox } from '../../../src/sandbox/leadpipe/server';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/server';

const UPSERT = '/crm/v3/objects/contacts/batch/upsert';

function upsertBody(emails: readonly string[]): string {
  return JSON.stringify({ inputs: emails.map((email) => ({ idProperty: 'email', id: email, properties: { firstname: 'Ada' } })) });
}

async function post(url: string, token: string, body: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
}

/** The raw exchange: status, headers and how many body bytes arrived before the connection ended. */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; declared: number; received: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      const done = (complete: boolean): void => resolve({ status: res.statusCode ?? 0, declared: Number(res.headers['content-length']), received, complete });
      res.on('end', () => done(true));
      res.on('error', () => done(false));
      res.on('aborted', () => done(false));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HubSpot sandbox faults', () => {
  let sb: HubspotSandbox;
  afterEach(async () => {
    await sb.close();
  });

  it('answers an injected 429 with HubSpot ten-secondly body and rate limit headers, and processes nothing', async () => {
    sb = await startHubspotSandbox({ faults: { seed: 1, rates: { rateLimited: 1 } } });
    const res = await post(`${sb.url}${UPSERT}`, sb.accessToken, upsertBody(['a@x.test']));
    expect(res.status).toBe(429);
    expect(res.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
    expect(res.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
    expect(await res.json()).toMatchObject({ status: 'error', category: 'RATE_LIMITS', policyName: 'TEN_SECONDLY_ROLLING' });
    expect(sb.contactByEmail('a@x.test')).toBeUndefined();
    expect(sb.faultStats().injected.rateLimited).toBe(1);
  });

  it('answers server errors with a 500 JSON body or a gateway HTML page', async () => {
    sb = await startHubspotSandbox({ faults: { seed: 'gateways', rates: { serverError: 1 } } });
    const seen = new Map<number, string>();
    for (let i = 0; i < 30; i += 1) {
      const res = await post(`${sb.url}${UPSERT}`, sb.accessToken, upsertBody([`p${i}@x.test`]));
      seen.set(res.status, res.headers.get('content-type') ?? '');
    }
    expect([...seen.keys()].every((s) => [500, 502, 503, 504].includes(s))).toBe(true);
    expect(seen.size).toBeGreaterThan(1);
    if (seen.has(500)) expect(seen.get(500)).toMatch(/application\/json/);
    for (const [status, type] of seen) if (status !== 500) expect(type).toBe('text/html');
    expect(sb.listContacts()).toEqual([]);
  });

  it('writes a timed-out request but holds its answer past the timeout, and cuts a reset answer half-way', async () => {
    sb = await startHubspotSandbox({ faults: { seed: 2, rates: { timeout: 1 }, timeoutMs: 400 } });
    const started = Date.now();
    const slow = await fetch(`${sb.url}${UPSERT}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sb.accessToken}`, 'content-type': 'application/json' },
      body: upsertBody(['slow@x.test']),
      signal: AbortSignal.timeout(100),
    }).then(
      () => 'answered',
      // A DOMException from another realm under jest: read its name, not its class.
      (err: unknown) => (typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : 'error'),
    );
    expect(slow).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(400);
    // The write happened although the client never saw the answer.
    expect(sb.contactByEmail('slow@x.test')).toBeDefined();

    sb.setFaults({ seed: 3, rates: { reset: 1 } });
    const cut = await post(`${sb.url}${UPSERT}`, sb.accessToken, upsertBody(['cut@x.test'])).then(
      async (res) => res.text().then(
        () => 'read whole',
        () => 'body failed',
      ),
      () => 'request failed',
    );
    expect(cut).toMatch(/failed/);
    expect(sb.contactByEmail('cut@x.test')).toBeDefined();
    expect(sb.faultEvents().map((e) => e.kind)).toEqual(['reset']);
  });

  it('expires an OAuth access token (401 EXPIRED_AUTHENTICATION) but never a private app token', async () => {
    sb = await startHubspotSandbox({ oauth: { clientId: 'c', clientSecret: 's' }, faults: { seed: 4, rates: { tokenExpiry: 1 } } });
    const privateApp = await post(`${sb.url}${UPSERT}`, sb.accessToken, upsertBody(['pat@x.test']));
    expect(privateApp.status).toBe(200);
    const code = sb.issueAuthorizationCode({ redirectUri: 'http://127.0.0.1/cb' });
    const tokenRes = await fetch(`${sb.url}/oauth/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1/cb', client_id: 'c', client_secret: 's' }).toString(),
    });
    const { access_token: accessToken } = (await tokenRes.json()) as { access_token: string };
    const first = await post(`${sb.url}${UPSERT}`, accessToken, upsertBody(['oauth@x.test']));
    expect(first.status).toBe(401);
    expect(await first.json()).toMatchObject({ category: 'EXPIRED_AUTHENTICATION' });
    expect(sb.contactByEmail('oauth@x.test')).toBeUndefined();
  });

  it('fails single batch inputs in a 207 that names them, and writes the others', async () => {
    sb = await startHubspotSandbox({ faults: { seed: 5, rates: { partial: 0.5 } } });
    const emails = Array.from({ length: 40 }, (_, i) => `p${i}@x.test`);
    const res = await post(`${sb.url}${UPSERT}`, sb.accessToken, upsertBody(emails));
    expect(res.status).toBe(207);
    const body = (await res.json()) as { results: unknown[]; errors: Array<{ category: string; context: { id: string[] } }> };
    const failed = body.errors.flatMap((e) => e.context.id);
    expect(body.errors.every((e) => e.category === 'INTERNAL_ERROR')).toBe(true);
    expect(failed.length).toBeGreaterThan(5);
    expect(body.results).toHaveLength(emails.length - failed.length);
    for (const email of emails) expect(sb.contactByEmail(email) === undefined).toBe(failed.includes(email));
  });
});

describe('Salesforce sandbox faults', () => {
  it("answers Salesforce's throttle (403 REQUEST_LIMIT_EXCEEDED ConcurrentRequests) without counting it, and fails records alone with UNABLE_TO_LOCK_ROW", async () => {
    const sb = await startSalesforceSandbox({ faults: { seed: 6, rates: { rateLimited: 1 } } });
    try {
      const query = `${sb.url}/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Lead')}`;
      const throttled = await fetch(query, { headers: { authorization: `Bearer ${sb.accessToken}` } });
      expect(throttled.status).toBe(403);
      expect(await throttled.json()).toEqual([{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.' }]);
      expect(sb.state.apiUsage.used).toBe(0);

      sb.setFaults({ seed: 7, rates: { partial: 0.5 } });
      const records = Array.from({ length: 30 }, (_, i) => ({ attributes: { type: 'Lead' }, LastName: `L${i}`, Company: 'Acme', Email: `l${i}@x.test` }));
      const res = await fetch(`${sb.url}/services/data/v62.0/composite/sobjects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sb.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ allOrNone: false, records }),
      });
      const results = (await res.json()) as Array<{ success: boolean; errors: Array<{ statusCode: string }> }>;
      const locked = results.filter((r) => !r.success);
      expect(locked.length).toBeGreaterThan(3);
      expect(locked.every((r) => r.errors[0]?.statusCode === 'UNABLE_TO_LOCK_ROW')).toBe(true);
      expect(sb.list('Lead')).toHaveLength(records.length - locked.length);
    } finally {
      await sb.close();
    }
  });

  it('expires the session presented (401 INVALID_SESSION_ID) on a token expiry', async () => {
    const sb = await startSalesforceSandbox({ faults: { seed: 8, rates: { tokenExpiry: 1 } } });
    try {
      const res = await fetch(`${sb.url}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${sb.accessToken}` } });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    } finally {
      await sb.close();
    }
  });
});

describe('Leadpipe sandbox faults', () => {
  it('answers 429 with Retry-After, cuts a download half-way, and refuses a signed URL as expired', async () => {
    const lp = await startLeadpipeSandbox({ audiences: [{ id: 'aud', dailyRuns: 1, peoplePerRun: 400 }] });
    try {
      const run = lp.state.runs[0];
      if (!run) throw new Error('no run');
      const headers = { 'x-api-key': lp.apiKey };
      lp.setFaults({ seed: 9, rates: { rateLimited: 1 }, routes: ['listRuns'] });
      const limited = await fetch(`${lp.url}/v1/intent/audiences/aud/runs`, { headers });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('1');

      lp.setFaults({ seed: 10, rates: { reset: 1 } });
      const exportUrl = `${lp.url}/v1/intent/audiences/aud/runs/${run.id}/export.csv`;
      const cut = await rawGet(exportUrl, headers);
      expect(cut.complete).toBe(false);
      expect(cut.received).toBeGreaterThan(0);

      lp.setFaults(null);
      const whole = await rawGet(exportUrl, headers);
      expect(whole).toMatchObject({ status: 200, complete: true });
      expect(lp.faultEvents()).toEqual([]);
    } finally {
      await lp.close();
    }
  });
});
