/**
 * The inbound webhooks of the installed app (issue #5) over real HTTP through the real express app: the
 * Leadpipe trigger (signed with LEADPIPE_WEBHOOK_SECRET, queues a sync per subscribed connection, once)
 * and the HubSpot route (signature v3 over PUBLIC_URL + path; an email change queues an enrichment that
 * holds the new email's hash, never the email).
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../../../src/app/app-context';
import { loadConfig, type Config } from '../../../src/config';
import { silentLogger } from '../../../src/lib/logger';
import { signHubspotWebhookV3 } from '../../../src/sandbox/hubspot/server';
import { signLeadpipeTrigger } from '../../../src/security/signatures';
import { createApp } from '../../../src/server/app';
import { loadAppManifest } from '../../../src/server/app-manifest';
import { createConnections, type Connection } from '../../../src/store/connections';
import { openStore, type Store } from '../../../src/store/db';
import type { ConnectionStatus } from '../../../src/store/schema';
import { createSyncRuns } from '../../../src/store/sync-runs';

const PUBLIC_URL = 'http://127.0.0.1';
const LEADPIPE_SECRET = 'leadpipe-trigger-secret-0123456789abcdef';
const HUBSPOT_SECRET = 'hubspot-client-secret-0123456789abcdef';
const PORTAL = '4242';
const BASE_ENV = { DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ENCRYPTION_KEY: '0'.repeat(64), PUBLIC_URL };

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text };
}

interface JobRow {
  kind: string;
  connection_id: string;
  payload: string;
  dedupe_key: string | null;
}

describe('webhooks', () => {
  let store: Store;
  let servers: Server[];
  let notified: number;

  beforeEach(async () => {
    store = await openStore(':memory:');
    servers = [];
    notified = 0;
  });
  afterEach(async () => {
    for (const server of servers) await new Promise((r) => server.close(r));
    await store.close();
  });

  /** The real app on a random port, with the given environment on top of the base one. */
  async function start(env: Record<string, string>): Promise<{ url: string; config: Config }> {
    const config = loadConfig({ ...BASE_ENV, ...env });
    const ctx: AppContext = { config, db: store.db, key: config.encryptionKey as Buffer, logger: silentLogger, now: () => new Date(), notify: () => void notified++ };
    const server = createApp({ db: store.db, adminToken: 'admin-token-for-tests-0123456789', ctx, manifest: loadAppManifest() }).listen(0, '127.0.0.1');
    servers.push(server);
    return { url: await listen(server), config };
  }

  const jobRows = (): Promise<JobRow[]> => store.db.selectFrom('jobs').select(['kind', 'connection_id', 'payload', 'dedupe_key']).orderBy('connection_id').execute();

  async function connection(crm: 'hubspot' | 'salesforce', accountId: string, status: ConnectionStatus = 'active'): Promise<Connection> {
    const connections = createConnections(store.db);
    const c = await connections.create({ crm, accountId });
    return status === 'active' ? c : connections.setStatus(c.id, status);
  }

  async function subscribe(connectionId: string, audienceId: string, active = true): Promise<void> {
    const at = new Date().toISOString();
    await store.db.insertInto('audience_subscriptions').values({ connection_id: connectionId, audience_id: audienceId, active: active ? 1 : 0, created_at: at, updated_at: at }).execute();
  }

  describe('POST /webhooks/leadpipe', () => {
    const trigger = (url: string, payload: unknown, options: { secret?: string; timestamp?: number; header?: string } = {}): Promise<Answer> => {
      const body = JSON.stringify(payload);
      const header = options.header ?? signLeadpipeTrigger(options.secret ?? LEADPIPE_SECRET, body, options.timestamp ?? Date.now());
      return post(`${url}/webhooks/leadpipe`, body, { 'x-orbit-signature': header });
    };

    it('is off (404) without LEADPIPE_WEBHOOK_SECRET, and queues nothing', async () => {
      const { url } = await start({});
      const c = await connection('hubspot', PORTAL);
      await subscribe(c.id, 'aud-1');
      const r = await trigger(url, { audienceId: 'aud-1', runId: 'run-1' });
      expect(r.status).toBe(404);
      expect(await jobRows()).toEqual([]);

      // The same store behind an app that has the secret answers.
      const on = await start({ LEADPIPE_WEBHOOK_SECRET: LEADPIPE_SECRET });
      expect((await trigger(on.url, { audienceId: 'aud-1', runId: 'run-1' })).status).toBe(202);
    });

    it('answers 401 to a missing header, a bad signature or a stale timestamp, and queues nothing', async () => {
      const { url, config } = await start({ LEADPIPE_WEBHOOK_SECRET: LEADPIPE_SECRET });
      const c = await connection('hubspot', PORTAL);
      await subscribe(c.id, 'aud-1');
      const payload = { audienceId: 'aud-1', runId: 'run-1' };
      const body = JSON.stringify(payload);

      const answers = [
        await post(`${url}/webhooks/leadpipe`, body, {}),
        await trigger(url, payload, { secret: 'not-the-configured-secret-0123456789' }),
        await trigger(url, payload, { header: `t=${Date.now()},v1=${'0'.repeat(64)}` }),
        await trigger(url, payload, { timestamp: Date.now() - config.app.webhookTimestampToleranceMs - 60_000 }),
        // Signed for another run, sent with this body.
        await post(`${url}/webhooks/leadpipe`, body, { 'x-orbit-signature': signLeadpipeTrigger(LEADPIPE_SECRET, JSON.stringify({ audienceId: 'aud-1', runId: 'run-2' }), Date.now()) }),
      ];
      for (const a of answers) {
        expect([a.status, (a.body.error as { code?: string } | undefined)?.code]).toEqual([401, 'SIGNATURE_INVALID']);
        expect(a.text).not.toMatch(/window|does not match|header/); // the reason stays in the log
      }
      expect(await jobRows()).toEqual([]);
      expect(notified).toBe(0);
    });

    it('answers 400 to a signed body that is not {audienceId, runId}', async () => {
      const { url } = await start({ LEADPIPE_WEBHOOK_SECRET: LEADPIPE_SECRET });
      expect((await trigger(url, { audienceId: 'aud-1' })).status).toBe(400);
      expect((await trigger(url, { audienceId: 'aud-1', runId: 'r', extra: 1 })).status).toBe(400);
      expect(await jobRows()).toEqual([]);
    });

    it('queues one sync per active connection actively subscribed to the audience, and a repeat queues nothing new', async () => {
      const { url } = await start({ LEADPIPE_WEBHOOK_SECRET: LEADPIPE_SECRET });
      const a = await connection('hubspot', '1001');
      const b = await connection('salesforce', '00D000000000002');
      const paused = await connection('hubspot', '1003');
      const reauth = await connection('hubspot', '1004', 'needs_reauth');
      const otherAudience = await connection('hubspot', '1005');
      await subscribe(a.id, 'aud-1');
      await subscribe(b.id, 'aud-1');
      await subscribe(paused.id, 'aud-1', false);
      await subscribe(reauth.id, 'aud-1');
      await subscribe(otherAudience.id, 'aud-2');

      const first = await trigger(url, { audienceId: 'aud-1', runId: 'run-7' });
      expect(first.status).toBe(202);
      expect(first.body.connections).toBe(2);
      expect(first.body.jobs).toHaveLength(2);
      const expected = [a.id, b.id]
        .sort()
        .map((id) => ({ kind: 'sync', connection_id: id, dedupe_key: `sync:${id}:run-7`, payload: JSON.stringify({ audienceId: 'aud-1', runId: 'run-7', trigger: 'webhook' }) }));
      expect(await jobRows()).toEqual(expected);
      expect(notified).toBe(1);

      // Sent again (the customer's automation retried): the same jobs, nothing new.
      const again = await trigger(url, { audienceId: 'aud-1', runId: 'run-7' });
      expect(again.status).toBe(202);
      expect(new Set(again.body.jobs as string[])).toEqual(new Set(first.body.jobs as string[]));
      expect(await jobRows()).toEqual(expected);

      // Another run of the audience is another sync.
      await trigger(url, { audienceId: 'aud-1', runId: 'run-8' });
      expect((await jobRows()).map((j) => j.dedupe_key).sort()).toEqual([`sync:${a.id}:run-7`, `sync:${a.id}:run-8`, `sync:${b.id}:run-7`, `sync:${b.id}:run-8`].sort());
    });

    it('does not queue a run already synced to a connection (succeeded or partial); a failed one is queued again', async () => {
      const { url } = await start({ LEADPIPE_WEBHOOK_SECRET: LEADPIPE_SECRET });
      const synced = await connection('hubspot', '2001');
      const partial = await connection('hubspot', '2002');
      const failed = await connection('hubspot', '2003');
      for (const c of [synced, partial, failed]) await subscribe(c.id, 'aud-1');
      const runs = createSyncRuns(store.db);
      for (const [c, outcome] of [
        [synced, 'succeeded'],
        [partial, 'partial'],
        [failed, 'failed'],
      ] as const) {
        const run = await runs.create({ connectionId: c.id, destination: 'hubspot', audienceId: 'aud-1', runId: 'run-1' });
        await runs.transition(run.id, 'running');
        await runs.transition(run.id, outcome);
      }

      const r = await trigger(url, { audienceId: 'aud-1', runId: 'run-1' });
      expect(r.status).toBe(202);
      expect(r.body.jobs).toHaveLength(1);
      expect((await jobRows()).map((j) => j.connection_id)).toEqual([failed.id]);
    });
  });

  describe('POST /webhooks/hubspot', () => {
    const SIGNED_URI = `${PUBLIC_URL}/webhooks/hubspot`;
    const deliver = (url: string, events: unknown[], options: { body?: string; signature?: string; timestamp?: number } = {}): Promise<Answer> => {
      const body = options.body ?? JSON.stringify(events);
      const timestamp = options.timestamp ?? Date.now();
      const signature = options.signature ?? signHubspotWebhookV3({ clientSecret: HUBSPOT_SECRET, method: 'POST', uri: SIGNED_URI, body, timestamp });
      return post(`${url}/webhooks/hubspot`, body, { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) });
    };
    const OCCURRED_AT = Date.now();
    const emailChange = (portalId: string, eventId: number, email: string): Record<string, unknown> => ({
      eventId,
      subscriptionId: 77,
      portalId: Number(portalId),
      appId: 1,
      occurredAt: OCCURRED_AT,
      subscriptionType: 'contact.propertyChange',
      attemptNumber: 0,
      objectId: 501,
      propertyName: 'email',
      propertyValue: email,
      changeSource: 'CRM_UI',
    });

    it('an email change queues an enrichment holding the sha256 of the new email, never the email', async () => {
      const { url } = await start({ HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      const c = await connection('hubspot', PORTAL);
      const email = 'Jane.Doe@Acme-Example.com';

      const r = await deliver(url, [emailChange(PORTAL, 1, ` ${email} `)]);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ received: 1, queued: 1 });
      const jobs = await jobRows();
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ kind: 'enrich', connection_id: c.id });
      const hash = createHash('sha256').update('jane.doe@acme-example.com').digest('hex');
      expect(JSON.parse(jobs[0]?.payload ?? '{}')).toEqual({ records: [{ id: '501', type: 'contact', emailHash: hash }] });
      expect((jobs[0]?.payload ?? '').toLowerCase()).not.toContain('acme-example');
      expect(JSON.stringify(await store.db.selectFrom('webhook_events').selectAll().execute()).toLowerCase()).not.toContain('acme-example');
      expect(notified).toBe(1);

      // HubSpot delivers the same event again: processed once.
      const replay = await deliver(url, [emailChange(PORTAL, 1, email)]);
      expect([replay.status, replay.body.queued]).toEqual([200, 0]);
      expect(await jobRows()).toHaveLength(1);
    });

    it('refuses a delivery signed over another URL or with another secret (401), queuing nothing', async () => {
      const { url } = await start({ HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      await connection('hubspot', PORTAL);
      const body = JSON.stringify([emailChange(PORTAL, 2, 'sam@example.org')]);
      const timestamp = Date.now();
      const otherUrl = signHubspotWebhookV3({ clientSecret: HUBSPOT_SECRET, method: 'POST', uri: `${url}/webhooks/hubspot`, body, timestamp });
      const otherSecret = signHubspotWebhookV3({ clientSecret: 'another-apps-secret-0123456789', method: 'POST', uri: SIGNED_URI, body, timestamp });
      expect((await deliver(url, [], { body, signature: otherUrl, timestamp })).status).toBe(401);
      expect((await deliver(url, [], { body, signature: otherSecret, timestamp })).status).toBe(401);
      expect((await deliver(url, [], { body, timestamp: timestamp - 10 * 60_000 })).status).toBe(401);
      expect(await jobRows()).toEqual([]);
      expect(await store.db.selectFrom('webhook_events').selectAll().execute()).toEqual([]);
    });

    it('an event for a portal no connection has queues nothing but answers 200', async () => {
      const { url } = await start({ HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      await connection('hubspot', PORTAL);
      const r = await deliver(url, [emailChange('999999', 3, 'someone@example.com')]);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ received: 1, queued: 0 });
      expect(await jobRows()).toEqual([]);
      expect(notified).toBe(0);
    });

    it('a body over the webhook body limit is refused with 413, before anything is queued', async () => {
      const { url, config } = await start({ HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      await connection('hubspot', PORTAL);
      expect(config.app.limits.webhookBody).toBe('1mb');
      const events = [emailChange(PORTAL, 4, 'big@example.com')];
      const body = JSON.stringify(events).replace(/\]$/, `,${JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 10) })}]`);
      const r = await deliver(url, [], { body });
      expect(r.status).toBe(413);
      expect(await jobRows()).toEqual([]);
    });
  });
});
