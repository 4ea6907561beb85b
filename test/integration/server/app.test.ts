/** The server's operational endpoints over real HTTP: liveness, readiness (and its 503), Prometheus metrics. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runServeCommand } from '../../../src/commands/serve';
import { loadConfig } from '../../../src/config';
import { createLogger } from '../../../src/lib/logger';
import { createApp } from '../../../src/server/app';
import { createConnections } from '../../../src/store/connections';
import { openStore, type Store } from '../../../src/store/db';
import { createSyncRuns } from '../../../src/store/sync-runs';

async function listen(store: Store): Promise<{ url: string; server: Server }> {
  const server = createApp({ db: store.db }).listen(0);
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('server', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore(':memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  it('answers /healthz, and /readyz once the store is reachable and migrated', async () => {
    const { url, server } = await listen(store);
    try {
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      await store.close();
      const notReady = await fetch(`${url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({ status: 'not ready', reason: expect.stringMatching(/store unreachable/) as unknown });
      const missing = await fetch(`${url}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route for GET /nope' } });
    } finally {
      server.close();
    }
  });

  it('exposes syncs by status, rows by outcome, API calls, 429s and durations in Prometheus format', async () => {
    const connection = await createConnections(store.db).create({ crm: 'hubspot', accountId: '123' });
    const runs = createSyncRuns(store.db);
    for (const [status, created, calls] of [['succeeded', 10, 7], ['partial', 4, 5]] as const) {
      const run = await runs.create({ connectionId: connection.id, destination: 'hubspot' });
      await runs.transition(run.id, 'running');
      await runs.updateProgress(run.id, { rows: created + 2, created, failed: status === 'partial' ? 2 : 0, unchanged: status === 'partial' ? 0 : 2, rateLimited: 1, apiCallsByEndpoint: { 'POST /x': calls } });
      await runs.transition(run.id, status);
    }
    const { url, server } = await listen(store);
    try {
      const res = await fetch(`${url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toContain('# TYPE orbit_sync_syncs_total counter');
      expect(text).toContain('orbit_sync_syncs_total{destination="hubspot",status="succeeded"} 1');
      expect(text).toContain('orbit_sync_syncs_total{destination="hubspot",status="partial"} 1');
      expect(text).toContain('orbit_sync_rows_total{destination="hubspot",outcome="created"} 14');
      expect(text).toContain('orbit_sync_rows_total{destination="hubspot",outcome="failed"} 2');
      expect(text).toContain('orbit_sync_api_calls_total{destination="hubspot"} 12');
      expect(text).toContain('orbit_sync_rate_limited_total{destination="hubspot"} 2');
      expect(text).toMatch(/orbit_sync_sync_duration_seconds_count\{destination="hubspot"\} 2/);
    } finally {
      server.close();
    }
  });
});

it('orbit-sync serve listens on the port, answers, and stops gracefully when asked', async () => {
  const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ENCRYPTION_KEY: '0'.repeat(64) });
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let url = '';
  const serving = runServeCommand(config, createLogger({ level: 'silent', write: () => undefined }), { port: 0, stop: stopped, onListening: (u) => (url = u) });
  for (let i = 0; i < 200 && url === ''; i++) await new Promise((r) => setTimeout(r, 10));
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  stop();
  expect(await serving).toBe(0);
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
});

describe('admin API', () => {
  const TOKEN = 'admin-token-for-tests-0123456789';

  it('needs the bearer ADMIN_TOKEN, is off without one, and lists connections, sync runs and a run’s errors', async () => {
    const store = await openStore(':memory:');
    const connection = await createConnections(store.db).create({ crm: 'salesforce', accountId: '00D1' });
    const runs = createSyncRuns(store.db);
    const run = await runs.create({ connectionId: connection.id, destination: 'salesforce' });
    const off = createApp({ db: store.db }).listen(0);
    const on = createApp({ db: store.db, adminToken: TOKEN }).listen(0);
    await Promise.all([new Promise((r) => off.once('listening', r)), new Promise((r) => on.once('listening', r))]);
    const url = (s: Server): string => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url(off)}/api/connections`)).status).toBe(503);
      expect((await fetch(`${url(on)}/api/connections`)).status).toBe(401);
      expect((await fetch(`${url(on)}/api/connections`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
      expect(await (await fetch(`${url(on)}/api/connections`, auth)).json()).toMatchObject({ connections: [{ id: connection.id, crm: 'salesforce', status: 'active' }] });
      expect(await (await fetch(`${url(on)}/api/sync-runs?limit=5`, auth)).json()).toMatchObject({ syncRuns: [{ id: run.id, status: 'pending' }] });
      const bad = await fetch(`${url(on)}/api/sync-runs?limit=0`, auth);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'BAD_REQUEST', message: expect.stringMatching(/limit/) as unknown } });
      expect(await (await fetch(`${url(on)}/api/sync-runs/${run.id}/errors`, auth)).json()).toEqual({ syncRunId: run.id, errors: [] });
      expect((await fetch(`${url(on)}/api/sync-runs/nope/errors`, auth)).status).toBe(404);
    } finally {
      off.close();
      on.close();
      await store.close();
    }
  });
});
