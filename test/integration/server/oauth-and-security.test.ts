/**
 * The OAuth routes' guards and the server's protections, over real HTTP: forged, replayed and expired
 * `state`s are refused; a Salesforce token response whose `instance_url` is not a Salesforce host is
 * refused (the SSRF guard) and nothing is stored; HubSpot access tokens are refreshed before expiry and a
 * refused refresh token marks the connection `needs_reauth`; security headers and rate limits apply.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../../../src/app/app-context';
import { HubspotTokenKeeper } from '../../../src/app/hubspot-oauth';
import { loadConfig, type Config } from '../../../src/config';
import { silentLogger } from '../../../src/lib/logger';
import { startHubspotSandbox, type HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { signState } from '../../../src/security/signatures';
import { createApp } from '../../../src/server/app';
import { loadAppManifest } from '../../../src/server/app-manifest';
import { createConnections } from '../../../src/store/connections';
import { createCredentials } from '../../../src/store/credentials';
import { openStore, type Store } from '../../../src/store/db';
import { createOAuthStates } from '../../../src/store/oauth-states';

const KEY_HEX = '3'.repeat(64);
const ADMIN = 'admin-token-for-these-tests-000000';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('OAuth guards and server protections', () => {
  let store: Store;
  let servers: Server[];

  beforeEach(async () => {
    store = await openStore(':memory:');
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await store.close();
  });

  function ctxFor(env: Record<string, string>, now: () => Date = () => new Date()): AppContext {
    const config: Config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ENCRYPTION_KEY: KEY_HEX, PUBLIC_URL: 'http://127.0.0.1:9', ...env });
    return { config, db: store.db, key: config.encryptionKey as Buffer, logger: silentLogger, now, notify: () => undefined };
  }

  async function start(ctx: AppContext): Promise<string> {
    const server = createApp({ db: store.db, adminToken: ADMIN, ctx, manifest: loadAppManifest() }).listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('refuses a forged, a replayed and an expired state with 400, before any token call', async () => {
    let tokenCalls = 0;
    const login = createServer((_req, res) => {
      tokenCalls += 1;
      res.writeHead(500).end();
    });
    servers.push(login);
    const loginUrl = await listen(login);
    let now = new Date('2026-11-23T10:00:00Z');
    const ctx = ctxFor({ SALESFORCE_LOGIN_URL: loginUrl, SALESFORCE_CLIENT_ID: 'cid' }, () => now);
    const url = await start(ctx);

    const forged = await fetch(`${url}/oauth/salesforce/callback?code=c&state=${encodeURIComponent(signState(Buffer.alloc(32, 7), 'A'.repeat(32)))}`);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toMatch(/invalid, expired or was already used/);

    const id = await createOAuthStates(store.db, ctx.key, { now: () => now }).create('salesforce', { verifier: 'v'.repeat(43) });
    now = new Date(now.getTime() + 11 * 60_000);
    expect((await fetch(`${url}/oauth/salesforce/callback?code=c&state=${signState(ctx.key, id)}`)).status).toBe(400); // expired

    const install = await fetch(`${url}/oauth/salesforce/install`, { redirect: 'manual' });
    expect(install.status).toBe(302);
    const authorize = new URL(install.headers.get('location') ?? '');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const state = authorize.searchParams.get('state') ?? '';
    // A HubSpot callback cannot use a Salesforce state.
    expect((await fetch(`${url}/oauth/hubspot/callback?code=c&state=${encodeURIComponent(state)}`)).status).toBe(400);
    expect(tokenCalls).toBe(0);
  });

  it('refuses a token response whose instance_url is not a Salesforce host, and stores nothing', async () => {
    const login = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'at-evil', refresh_token: 'rt-evil', instance_url: 'https://attacker.example.com', id: 'https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA' }));
    });
    servers.push(login);
    const loginUrl = await listen(login);
    const ctx = ctxFor({ SALESFORCE_LOGIN_URL: loginUrl, SALESFORCE_CLIENT_ID: 'cid' });
    const url = await start(ctx);
    const install = await fetch(`${url}/oauth/salesforce/install`, { redirect: 'manual' });
    const state = new URL(install.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const callback = await fetch(`${url}/oauth/salesforce/callback?code=c&state=${encodeURIComponent(state)}`);
    expect(callback.status).toBe(502);
    expect(await callback.text()).toMatch(/attacker\.example\.com/);
    expect(await createConnections(store.db).list()).toEqual([]);
  });

  it('sets security headers and rate-limits the admin API', async () => {
    const ctx = ctxFor({});
    ctx.config.app.limits.adminPerMinute = 3;
    const url = await start(ctx);
    const health = await fetch(`${url}/healthz`);
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    expect(health.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(health.headers.get('x-powered-by')).toBeNull();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${url}/api/connections`, { headers: { authorization: `Bearer ${ADMIN}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('HubSpot access tokens of an installed connection', () => {
  let store: Store;
  let hs: HubspotSandbox;
  let ctx: AppContext;
  let now: Date;

  beforeEach(async () => {
    store = await openStore(':memory:');
    hs = await startHubspotSandbox({ oauth: { clientId: 'cid', clientSecret: 'csecret' } });
    now = new Date();
    const config = loadConfig({ DATABASE_URL: ':memory:', LOG_LEVEL: 'silent', ENCRYPTION_KEY: KEY_HEX, HUBSPOT_BASE_URL: hs.url, HUBSPOT_CLIENT_ID: 'cid', HUBSPOT_CLIENT_SECRET: 'csecret' });
    ctx = { config, db: store.db, key: config.encryptionKey as Buffer, logger: silentLogger, now: () => now, notify: () => undefined };
  });
  afterEach(async () => {
    await hs.close();
    await store.close();
  });

  async function installed(): Promise<{ connectionId: string; keeper: HubspotTokenKeeper; refreshToken: string; accessToken: string }> {
    const redirectUri = 'http://127.0.0.1/cb';
    const code = hs.issueAuthorizationCode({ redirectUri, scopes: ['oauth'] });
    const res = await fetch(`${hs.url}/oauth/v1/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'cid', client_secret: 'csecret' }) });
    const t = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    const connection = await createConnections(store.db).create({ crm: 'hubspot', accountId: String(hs.portalId) });
    const keeper = new HubspotTokenKeeper(ctx, connection.id);
    await keeper.store({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: new Date(now.getTime() + t.expires_in * 1000).toISOString() });
    return { connectionId: connection.id, keeper, refreshToken: t.refresh_token, accessToken: t.access_token };
  }

  it('keeps a token with time left, refreshes one close to expiry and stores the new one sealed', async () => {
    const { connectionId, keeper, accessToken } = await installed();
    hs.resetRequestCounts();
    expect(await keeper.fresh()).toBe(accessToken);
    expect(hs.requestCount('oauthToken')).toBe(0);
    now = new Date(now.getTime() + 26 * 60_000); // 4 minutes left, under the 5-minute margin
    const refreshed = await keeper.fresh();
    expect(refreshed).not.toBe(accessToken);
    expect(hs.requestCount('oauthToken')).toBe(1);
    const stored = await createCredentials(store.db, ctx.key).get(connectionId);
    expect(stored?.accessToken).toBe(refreshed);
    expect(Date.parse(stored?.expiresAt ?? '')).toBeGreaterThan(now.getTime() + 25 * 60_000);
    // concurrent callers share one refresh
    now = new Date(now.getTime() + 26 * 60_000);
    const [a, b] = await Promise.all([keeper.fresh(), keeper.fresh()]);
    expect(a).toBe(b);
    expect(hs.requestCount('oauthToken')).toBe(2);
  });

  it('marks the connection needs_reauth with the reason when HubSpot refuses the refresh token', async () => {
    const { connectionId, keeper } = await installed();
    hs.uninstallApp();
    now = new Date(now.getTime() + 29 * 60_000);
    await expect(keeper.fresh()).rejects.toMatchObject({ code: 'AUTH_INVALID' });
    const connection = await createConnections(store.db).get(connectionId);
    expect(connection?.status).toBe('needs_reauth');
    expect(connection?.statusMessage).toMatch(/BAD_REFRESH_TOKEN.*Install it again/);
  });
});
