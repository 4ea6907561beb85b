/**
 * The admin API's write side (issue #5) over real HTTP, against a real Leadpipe sandbox: the Leadpipe key
 * (checked with Leadpipe, stored sealed), audiences and subscriptions, overrides, queued syncs, retries of
 * a sync run's failed records, jobs; plus the read-only mode without ENCRYPTION_KEY and the dashboard page.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Script } from 'node:vm';
import express from 'express';
import type { AppContext } from '../../../src/app/app-context';
import { loadConfig, type Config } from '../../../src/config';
import { silentLogger } from '../../../src/lib/logger';
import { DEFAULT_SANDBOX_API_KEY, startLeadpipeSandbox, type LeadpipeSandbox } from '../../../src/sandbox/leadpipe/server';
import { createApp } from '../../../src/server/app';
import { dashboard } from '../../../src/server/dashboard';
import { createConnectionSettings } from '../../../src/store/connection-settings';
import { createConnections, type Connection } from '../../../src/store/connections';
import { openStore, type Store } from '../../../src/store/db';
import { createRecordErrors } from '../../../src/store/record-errors';
import { createSyncRuns } from '../../../src/store/sync-runs';

const TOKEN = 'admin-token-for-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const hash = (email: string): string => createHash('sha256').update(email).digest('hex');

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
  text: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('admin API (write routes)', () => {
  let sandbox: LeadpipeSandbox;
  let config: Config;
  let store: Store;
  let server: Server;
  let url: string;
  let connection: Connection;
  let notified: number;
  let ctx: AppContext;

  beforeAll(async () => {
    sandbox = await startLeadpipeSandbox();
    config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ENCRYPTION_KEY: '0'.repeat(64), ADMIN_TOKEN: TOKEN, LEADPIPE_BASE_URL: sandbox.url });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  beforeEach(async () => {
    store = await openStore(':memory:');
    notified = 0;
    ctx = { config, db: store.db, key: config.encryptionKey as Buffer, logger: silentLogger, now: () => new Date(), notify: () => void notified++ };
    server = createApp({ db: store.db, adminToken: TOKEN, ctx }).listen(0);
    url = await listen(server);
    connection = await createConnections(store.db).create({ crm: 'hubspot', accountId: '123' });
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await store.close();
  });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH): Promise<Answer> {
    const res = await fetch(`${url}/api${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer['body'], text };
  }
  const setKey = (): Promise<void> => createConnectionSettings(store.db, ctx.key).setLeadpipeKey(connection.id, DEFAULT_SANDBOX_API_KEY);
  const audienceIds = (): string[] => sandbox.state.audiences.map((a) => a.id);

  it('answers 401 without the bearer token, or with a wrong one, on every route', async () => {
    const run = await createSyncRuns(store.db).create({ connectionId: connection.id, destination: 'hubspot', audienceId: 'a', runId: 'r' });
    const c = connection.id;
    const routes: [string, string, unknown?][] = [
      ['PUT', `/connections/${c}/leadpipe-key`, { apiKey: DEFAULT_SANDBOX_API_KEY }],
      ['GET', `/connections/${c}`],
      ['GET', `/connections/${c}/audiences`],
      ['PUT', `/connections/${c}/audiences/a1`],
      ['DELETE', `/connections/${c}/audiences/a1`],
      ['GET', `/connections/${c}/subscriptions`],
      ['GET', `/connections/${c}/overrides`],
      ['PUT', `/connections/${c}/overrides`, { mode: 'create' }],
      ['POST', `/connections/${c}/syncs`, { audienceId: 'a1' }],
      ['POST', `/connections/${c}/syncs/preview`, { audienceId: 'a1' }],
      ['GET', `/jobs`],
      ['GET', `/sync-runs/${run.id}`],
      ['POST', `/sync-runs/${run.id}/retry`],
    ];
    for (const [method, path, body] of routes) {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token-wrong' }, { authorization: TOKEN }];
      for (const headers of attempts) {
        const r = await call(method, path, body, headers);
        expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 401, 'AUTH_INVALID']);
      }
    }
    expect(await store.db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    expect(await store.db.selectFrom('connection_settings').selectAll().execute()).toEqual([]);
  });

  it('checks a Leadpipe key with Leadpipe: a refused key → 422 and nothing stored; a good one is stored sealed', async () => {
    const wrong = 'sk_wrong_key_not_in_sandbox';
    const refused = await call('PUT', `/connections/${connection.id}/leadpipe-key`, { apiKey: wrong });
    expect(refused.status).toBe(422);
    expect(refused.body.error?.code).toBe('LEADPIPE_KEY_INVALID');
    expect(refused.text).not.toContain(wrong);
    expect(await store.db.selectFrom('connection_settings').selectAll().execute()).toEqual([]);

    const empty = await call('PUT', `/connections/${connection.id}/leadpipe-key`, { apiKey: ' ' });
    expect(empty.status).toBe(400);
    expect(empty.body.error?.message).toMatch(/apiKey/);
    const malformed = await call('PUT', `/connections/${connection.id}/leadpipe-key`, '{"apiKey":');
    expect([malformed.status, malformed.body.error?.code]).toEqual([400, 'BAD_REQUEST']);
    expect((await call('PUT', `/connections/nope/leadpipe-key`, { apiKey: DEFAULT_SANDBOX_API_KEY })).status).toBe(404);

    const ok = await call('PUT', `/connections/${connection.id}/leadpipe-key`, { apiKey: DEFAULT_SANDBOX_API_KEY });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ connectionId: connection.id, leadpipeKey: 'set', audiences: 2 });
    const rows = await store.db.selectFrom('connection_settings').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.leadpipe_key_sealed).toMatch(/^v1\./);
    expect(rows[0]?.leadpipe_key_sealed).not.toContain(DEFAULT_SANDBOX_API_KEY);
    expect((await createConnectionSettings(store.db, ctx.key).get(connection.id)).leadpipeApiKey).toBe(DEFAULT_SANDBOX_API_KEY);

    const details = await call('GET', `/connections/${connection.id}`);
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({ connection: { id: connection.id, crm: 'hubspot', accountId: '123', status: 'active', leadpipeKeySet: true, overrides: {}, subscriptions: [] } });
    expect(details.text).not.toContain(DEFAULT_SANDBOX_API_KEY);
    expect((await call('GET', '/connections/nope')).status).toBe(404);
  });

  it('lists the organization’s audiences with subscribed flags, and subscribes and unsubscribes', async () => {
    const missing = await call('GET', `/connections/${connection.id}/audiences`);
    expect([missing.status, missing.body.error?.code]).toEqual([409, 'LEADPIPE_KEY_MISSING']);
    await setKey();
    const [first, second] = audienceIds() as [string, string];

    const unknown = await call('PUT', `/connections/${connection.id}/audiences/no-such-audience`);
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'NOT_FOUND']);
    expect((await call('PUT', `/connections/nope/audiences/${first}`)).status).toBe(404);

    const subscribed = await call('PUT', `/connections/${connection.id}/audiences/${first}`);
    expect(subscribed.status).toBe(200);
    expect(subscribed.body).toMatchObject({ subscription: { connectionId: connection.id, audienceId: first, active: true } });
    expect(notified).toBe(0);
    expect(await store.db.selectFrom('jobs').selectAll().execute()).toEqual([]);

    const listed = await call('GET', `/connections/${connection.id}/audiences`);
    expect(listed.status).toBe(200);
    const flags = (listed.body.audiences as { id: string; subscribed: boolean }[]).map((a) => [a.id, a.subscribed]);
    expect(flags).toEqual(expect.arrayContaining([[first, true], [second, false]]));
    expect(flags).toHaveLength(2);

    expect((await call('GET', `/connections/${connection.id}/subscriptions`)).body).toMatchObject({ subscriptions: [{ audienceId: first, active: true }] });

    const off = await call('DELETE', `/connections/${connection.id}/audiences/${first}`);
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ subscription: { audienceId: first, active: false } });
    const after = await call('GET', `/connections/${connection.id}/audiences`);
    expect((after.body.audiences as { subscribed: boolean }[]).every((a) => !a.subscribed)).toBe(true);
    expect((await call('GET', `/connections/${connection.id}`)).body).toMatchObject({ connection: { subscriptions: [{ audienceId: first, active: false }] } });

    const never = await call('DELETE', `/connections/${connection.id}/audiences/${second}`);
    expect([never.status, never.body.error?.code]).toEqual([404, 'NOT_FOUND']);
    expect((await call('PUT', `/connections/${connection.id}/audiences/${first}`)).body).toMatchObject({ subscription: { audienceId: first, active: true } });
  });

  it('refuses invalid overrides listing every problem, and stores valid ones', async () => {
    const path = `/connections/${connection.id}/overrides`;
    expect((await call('GET', path)).body).toEqual({ connectionId: connection.id, overrides: {} });

    const shape = await call('PUT', path, { mode: 'x', colour: 'blue' });
    expect([shape.status, shape.body.error?.code]).toEqual([400, 'BAD_REQUEST']);
    expect(shape.body.error?.message).toMatch(/mode/);
    expect(shape.body.error?.message).toMatch(/colour/);

    const rules = await call('PUT', path, { priority: { high: 50, medium: 70 }, policies: { no_such_property: 'always', email: 'ifEmpty' } });
    expect(rules.status).toBe(400);
    expect(rules.body.error?.message).toMatch(/priority: high \(50\) must be ≥ medium \(70\)/);
    expect(rules.body.error?.message).toMatch(/policies\.no_such_property: not a property/);
    expect(rules.body.error?.message).toMatch(/policies\.email: an identity property/);
    expect((await call('GET', path)).body).toEqual({ connectionId: connection.id, overrides: {} });

    const valid = { mode: 'updateOnly', createMinScore: 70, priority: { high: 90, medium: 75 }, policies: { jobtitle: 'always' } };
    const saved = await call('PUT', path, valid);
    expect(saved.status).toBe(200);
    expect(saved.body).toEqual({ connectionId: connection.id, overrides: valid });
    expect((await call('GET', path)).body).toEqual({ connectionId: connection.id, overrides: valid });
    expect((await createConnectionSettings(store.db, ctx.key).get(connection.id)).overrides).toEqual(valid);
    expect((await call('PUT', '/connections/nope/overrides', valid)).status).toBe(404);
  });

  it('queues a sync once (202), answers alreadyQueued for the same one, and refuses an inactive connection', async () => {
    const path = `/connections/${connection.id}/syncs`;
    const noKey = await call('POST', path, { audienceId: 'aud-1' });
    expect([noKey.status, noKey.body.error?.code]).toEqual([409, 'LEADPIPE_KEY_MISSING']);
    await setKey();
    const bad = await call('POST', path, { runId: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/audienceId/);
    expect(bad.body.error?.message).toMatch(/runId/);

    const queued = await call('POST', path, { audienceId: 'aud-1', runId: 'run-1' });
    expect(queued.status).toBe(202);
    const job = queued.body.job as { id: string; status: string; payload: unknown; dedupeKey: string };
    expect(job).toMatchObject({ status: 'queued', payload: { audienceId: 'aud-1', runId: 'run-1', trigger: 'admin' }, dedupeKey: `sync:${connection.id}:run-1` });
    expect(notified).toBe(1);
    const rows = await store.db.selectFrom('jobs').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: job.id, kind: 'sync', connection_id: connection.id, status: 'queued' });

    const again = await call('POST', path, { audienceId: 'aud-1', runId: 'run-1' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ alreadyQueued: true, job: { id: job.id } });
    expect(await store.db.selectFrom('jobs').selectAll().execute()).toHaveLength(1);

    const latest = await call('POST', path, { audienceId: 'aud-1' });
    expect(latest.status).toBe(202);
    expect(latest.body).toMatchObject({ job: { dedupeKey: `sync:${connection.id}:latest:aud-1`, payload: { audienceId: 'aud-1', trigger: 'admin' } } });

    const jobs = await call('GET', `/jobs?connectionId=${connection.id}&status=queued&limit=10`);
    expect(jobs.status).toBe(200);
    expect(jobs.body.jobs).toHaveLength(2);
    expect((await call('GET', '/jobs?status=sleeping')).status).toBe(400);

    await createConnections(store.db).setStatus(connection.id, 'needs_reauth', 'the refresh token was revoked');
    const inactive = await call('POST', path, { audienceId: 'aud-2' });
    expect(inactive.status).toBe(409);
    expect(inactive.body.error).toEqual({ code: 'CONNECTION_NOT_ACTIVE', message: expect.stringContaining('the refresh token was revoked') as unknown });
    expect((await call('POST', '/connections/nope/syncs', { audienceId: 'aud-1' })).status).toBe(404);
  });

  it('retries a sync run’s failed records: attempts reset (quarantined rows left alone), a sync queued; a file run is not retryable', async () => {
    await setKey();
    const runs = createSyncRuns(store.db);
    const run = await runs.create({ connectionId: connection.id, destination: 'hubspot', audienceId: 'aud-1', runId: 'run-7' });
    const errors = createRecordErrors(store.db);
    const failures = [
      { hashedEmail: hash('a@example.com'), code: 'CRM_RECORD_REJECTED', crmMessage: 'invalid phone', retryable: false },
      { hashedEmail: hash('b@example.com'), code: 'RETRIES_EXHAUSTED', retryable: true },
      { hashedEmail: null, line: 4, code: 'NO_IDENTITY', crmMessage: 'row: no email', retryable: false },
    ];
    await errors.recordMany(run.id, failures);
    await errors.recordMany(run.id, failures.slice(0, 2));

    const details = await call('GET', `/sync-runs/${run.id}`);
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({ syncRun: { id: run.id, audienceId: 'aud-1', runId: 'run-7', status: 'pending', failed: 0 }, recordErrors: { total: 3, retryable: 1 } });
    expect((await call('GET', '/sync-runs/nope')).status).toBe(404);

    const retried = await call('POST', `/sync-runs/${run.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ errorsReset: 2, job: { status: 'queued', payload: { audienceId: 'aud-1', runId: 'run-7', trigger: 'retry' }, dedupeKey: `sync:${connection.id}:run-7` } });
    expect(notified).toBe(1);
    const rows = await store.db.selectFrom('record_errors').select(['hashed_email', 'code', 'attempts', 'retryable']).orderBy('code').execute();
    expect(rows).toEqual([
      { hashed_email: hash('a@example.com'), code: 'CRM_RECORD_REJECTED', attempts: 0, retryable: 1 },
      { hashed_email: null, code: 'NO_IDENTITY', attempts: 1, retryable: 0 },
      { hashed_email: hash('b@example.com'), code: 'RETRIES_EXHAUSTED', attempts: 0, retryable: 1 },
    ]);
    expect(await store.db.selectFrom('jobs').select(['status', 'connection_id']).execute()).toEqual([{ status: 'queued', connection_id: connection.id }]);
    expect(await errors.retryable(connection.id, 'aud-1', 1)).toEqual([hash('a@example.com'), hash('b@example.com')].sort());

    const twice = await call('POST', `/sync-runs/${run.id}/retry`);
    expect(twice.status).toBe(200);
    expect(twice.body).toMatchObject({ alreadyQueued: true, errorsReset: 2 });

    const fileRun = await runs.create({ connectionId: connection.id, destination: 'hubspot' });
    const file = await call('POST', `/sync-runs/${fileRun.id}/retry`);
    expect([file.status, file.body.error?.code]).toEqual([409, 'NOT_RETRYABLE']);
    expect((await call('POST', '/sync-runs/nope/retry')).status).toBe(404);
  });

  it('previews: 409 without a Leadpipe key, 404 for an unknown connection', async () => {
    const noKey = await call('POST', `/connections/${connection.id}/syncs/preview`, { audienceId: audienceIds()[0] });
    expect([noKey.status, noKey.body.error?.code]).toEqual([409, 'LEADPIPE_KEY_MISSING']);
    const unknown = await call('POST', '/connections/nope/syncs/preview', { audienceId: audienceIds()[0] });
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'NOT_FOUND']);
    expect((await call('POST', `/connections/${connection.id}/syncs/preview?limit=0`, { audienceId: 'a' })).status).toBe(400);
  });

  it('is read-only without ENCRYPTION_KEY: reads answer, writes say 503 ENCRYPTION_KEY_REQUIRED', async () => {
    const readOnly = createApp({ db: store.db, adminToken: TOKEN }).listen(0);
    const base = await listen(readOnly);
    try {
      const get = await fetch(`${base}/api/connections/${connection.id}`, { headers: AUTH });
      expect(get.status).toBe(200);
      expect(await get.json()).toMatchObject({ connection: { id: connection.id, leadpipeKeySet: false, overrides: {}, subscriptions: [] } });
      const put = await fetch(`${base}/api/connections/${connection.id}/leadpipe-key`, {
        method: 'PUT',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: DEFAULT_SANDBOX_API_KEY }),
      });
      expect(put.status).toBe(503);
      expect(await put.json()).toMatchObject({ error: { code: 'ENCRYPTION_KEY_REQUIRED' } });
      const sync = await fetch(`${base}/api/connections/${connection.id}/syncs`, { method: 'POST', headers: AUTH });
      expect(sync.status).toBe(503);
    } finally {
      await new Promise((r) => readOnly.close(r));
    }
  });
});

describe('dashboard', () => {
  it('serves one self-contained page under its own nonce CSP, with the install links', async () => {
    const app = express();
    app.use(dashboard());
    const server = app.listen(0);
    const base = await listen(server);
    try {
      for (const path of ['/', '/dashboard']) {
        const res = await fetch(`${base}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        const csp = res.headers.get('content-security-policy') ?? '';
        const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1] ?? '';
        expect(nonce).not.toBe('');
        expect(csp).toBe(
          `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
        );
        const html = await res.text();
        expect(html).toContain(`<script nonce="${nonce}">`);
        expect(html).toContain(`<style nonce="${nonce}">`);
        expect(html).toContain('href="/oauth/hubspot/install"');
        expect(html).toContain('href="/oauth/salesforce/install"');
        expect(html).not.toMatch(/\s(src|href)="(https?:)?\/\//);
        expect(html).not.toMatch(/innerHTML|localStorage|document\.cookie/);
        const script = /<script nonce="[^"]+">([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
        // Compiles (not run): a syntax error in the inline script would leave the page dead.
        expect(() => new Script(script)).not.toThrow();
      }
      const nonces = await Promise.all([1, 2].map(async () => (await fetch(`${base}/`)).headers.get('content-security-policy')));
      expect(nonces[0]).not.toBe(nonces[1]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
