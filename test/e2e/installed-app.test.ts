/**
 * Issue #5 end to end: the app served as `orbit-sync serve` runs it (server + scheduler + worker), installed
 * into the HubSpot and Salesforce sandboxes through its OAuth routes (the sandboxes play the authorize and
 * token endpoints), configured through the admin API only, syncing on the scheduler alone, enriching
 * records created later from signed webhooks, refusing anything unverified, purging on privacy deletion,
 * and never writing a secret or a plaintext email to its logs or a secret in clear to its store.
 */
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { startHubspotSandbox, signHubspotWebhookV3, type HubspotSandbox } from '../../src/sandbox/hubspot/server';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../../src/sandbox/leadpipe/server';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce/server';
import type { GeneratedRow } from '../../src/sandbox/generate-people';
import { open } from '../../src/security/token-vault';
import { tmpDir } from './helpers/hubspot-sync';
import { ADMIN_TOKEN, ENCRYPTION_KEY, HUBSPOT_CLIENT, adminCall, appEnv, capturedLogs, freePort, installThroughRedirects, serveInProcess, waitFor, type Served } from './helpers/installed-app';

const KEY = Buffer.from(ENCRYPTION_KEY, 'hex');
const MIN_CREATE = 70;
/** Every secret and email the suite saw; none may appear in a log line. */
const secrets = new Set<string>([HUBSPOT_CLIENT.clientSecret, ADMIN_TOKEN]);
const emails = new Set<string>();

interface Person {
  email: string;
  hashedEmail: string;
  score: number;
}

function people(lp: LeadpipeSandbox, runId: string): Person[] {
  const out = new Map<string, Person>();
  for (const row of lp.runRows(runId) as Iterable<GeneratedRow>) {
    if (row.kind !== 'person') continue;
    const p = row.person;
    for (const e of [p.primaryContactEmail, p.businessEmail, p.personalEmail, p.email]) if (e) emails.add(e.toLowerCase());
    const prev = out.get(p.hashedEmail);
    if (!prev || p.intent.score > prev.score) out.set(p.hashedEmail, { email: p.primaryContactEmail.toLowerCase(), hashedEmail: p.hashedEmail, score: p.intent.score });
  }
  return [...out.values()];
}

function query<T>(dbFile: string, sqlText: string, ...params: Array<string | number>): T[] {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    return db.prepare(sqlText).all(...params) as T[];
  } finally {
    db.close();
  }
}

interface SyncRunView {
  id: string;
  runId: string | null;
  status: string;
  rows: number;
  created: number;
  skipped: number;
}

async function syncRunOf(base: string, runId: string): Promise<SyncRunView | undefined> {
  const { json } = await adminCall<{ syncRuns: SyncRunView[] }>(base, 'GET', '/api/sync-runs?limit=50');
  return json.syncRuns.find((r) => r.runId === runId && (r.status === 'succeeded' || r.status === 'partial'));
}

function collectStoredSecrets(dbFile: string): void {
  for (const row of query<{ sealed: string }>(dbFile, 'select sealed from connection_credentials')) {
    const creds = JSON.parse(open(KEY, row.sealed)) as Record<string, string>;
    for (const [k, v] of Object.entries(creds)) if (/token/i.test(k)) secrets.add(v);
  }
}

describe('the installed app in HubSpot', () => {
  let lp: LeadpipeSandbox;
  let hs: HubspotSandbox;
  let app: Served;
  let dbFile: string;
  let connectionId: string;
  let audienceId: string;
  let newRunId: string;
  let enrichedId: string;
  let enrichedPerson: Person;

  beforeAll(async () => {
    lp = await startLeadpipeSandbox({ audiences: [{ name: 'Warehouse buyers', dailyRuns: 1, peoplePerRun: 40 }], duplicateShare: 0 });
    secrets.add(lp.apiKey);
    audienceId = lp.state.audiences[0]?.id ?? '';
    const port = await freePort();
    hs = await startHubspotSandbox({ oauth: { ...HUBSPOT_CLIENT, redirectUris: [`http://127.0.0.1:${port}/oauth/hubspot/callback`] } });
    const dir = tmpDir();
    dbFile = path.join(dir, 'orbit-sync.db');
    app = await serveInProcess(
      appEnv(port, dir, {
        HUBSPOT_CLIENT_ID: HUBSPOT_CLIENT.clientId,
        HUBSPOT_CLIENT_SECRET: HUBSPOT_CLIENT.clientSecret,
        HUBSPOT_BASE_URL: hs.url,
        HUBSPOT_AUTHORIZE_URL: `${hs.url}/oauth/authorize`,
        LEADPIPE_BASE_URL: lp.url,
      }),
    );
    hs.configureWebhooks({ targetUrl: `${app.url}/webhooks/hubspot` });
  });

  afterAll(async () => {
    collectStoredSecrets(dbFile);
    await app.stop();
    await hs.close();
    await lp.close();
  });

  it('installs through /oauth/hubspot/install: authorize, code exchange, hub id, tokens sealed, setup run', async () => {
    const result = await installThroughRedirects(`${app.url}/oauth/hubspot/install`);
    expect(result.hops[0]).toMatch(new RegExp(`^${hs.url}/oauth/authorize\\?`));
    const authorize = new URL(result.hops[0] ?? '');
    expect(authorize.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['oauth', 'crm.objects.contacts.write', 'crm.schemas.contacts.write']));
    expect(result.status).toBe(200);
    const body = JSON.parse(result.text) as { installed: boolean; connection: { id: string; accountId: string; crm: string } };
    expect(body.connection).toMatchObject({ crm: 'hubspot', accountId: String(hs.portalId) });
    connectionId = body.connection.id;
    // setup created the intent properties
    expect(hs.state.properties.contacts.map((p) => p.name)).toEqual(expect.arrayContaining(['leadpipe_intent_score', 'leadpipe_hashed_email']));
    // the callback's state is single-use: the same callback URL again is refused
    const again = await fetch(result.hops.at(-1) ?? '', { redirect: 'manual' });
    expect(again.status).toBe(400);
    // tokens are stored sealed
    const sealed = query<{ sealed: string }>(dbFile, 'select sealed from connection_credentials where connection_id = ?', connectionId)[0]?.sealed ?? '';
    const tokens = JSON.parse(open(KEY, sealed)) as { accessToken: string; refreshToken: string };
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain(tokens.accessToken);
    expect(sealed).not.toContain(tokens.refreshToken);
  });

  it('answers 401 to the admin API without a valid token', async () => {
    expect((await fetch(`${app.url}/api/connections`)).status).toBe(401);
    expect((await adminCall(app.url, 'GET', '/api/connections', undefined, 'not-the-admin-token-at-all-00000')).status).toBe(401);
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/leadpipe-key`, { apiKey: lp.apiKey }, 'wrong')).status).toBe(401);
  });

  it('is configured through the admin API only, then the scheduler alone syncs each new run', async () => {
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/leadpipe-key`, { apiKey: lp.apiKey })).status).toBe(200);
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/overrides`, { createMinScore: MIN_CREATE })).status).toBe(200);
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/audiences/${audienceId}`)).status).toBe(200);
    const firstRunId = lp.state.runs[0]?.id ?? '';
    await waitFor('the scheduler to sync the audience’s newest run', () => syncRunOf(app.url, firstRunId));

    newRunId = lp.addRun(audienceId, { people: 40 }).id;
    const synced = await waitFor('the scheduler to sync the new run', () => syncRunOf(app.url, newRunId));
    const run = people(lp, newRunId);
    const created = run.filter((p) => p.score >= MIN_CREATE);
    expect(synced.status).toBe('succeeded');
    for (const p of created) expect(hs.contactByEmail(p.email)?.properties.leadpipe_intent_score).toBe(String(p.score));
    for (const p of run.filter((x) => x.score < MIN_CREATE)) expect(hs.contactByEmail(p.email)).toBeUndefined();
    const all = hs.listContacts().map((c) => c.properties.email);
    expect(new Set(all).size).toBe(all.length);
    // people under the create threshold are held, sealed
    const held = query<{ hashed_email: string; sealed: string }>(dbFile, 'select hashed_email, sealed from held_intent where connection_id = ?', connectionId);
    expect(held.length).toBeGreaterThan(0);
    for (const h of held) for (const e of emails) expect(h.sealed).not.toContain(e);
  });

  it('enriches a contact a rep creates later, on the signed contact.creation webhook', async () => {
    const person = people(lp, newRunId).find((p) => p.score < MIN_CREATE);
    if (!person) throw new Error('the run has nobody under the create threshold');
    enrichedPerson = person;
    const contact = hs.createContactAsUser({ email: person.email, firstname: 'Typed-by-a-rep' });
    enrichedId = contact.id;
    await hs.flushWebhooks();
    expect(hs.webhookDeliveries().at(-1)?.status).toBe(200);
    const enriched = await waitFor('the contact to be enriched', () => {
      const c = hs.contactById(contact.id);
      return c?.properties.leadpipe_intent_score ? c : undefined;
    });
    expect(enriched.properties.leadpipe_intent_score).toBe(String(person.score));
    expect(enriched.properties.leadpipe_hashed_email).toBe(person.hashedEmail);
    expect(enriched.properties.firstname).toBe('Typed-by-a-rep'); // what the rep typed is kept
    expect(query(dbFile, 'select 1 from ledger where connection_id = ? and hashed_email = ?', connectionId, person.hashedEmail)).toHaveLength(1);
  });

  it('refuses a bad signature, a stale timestamp and a body altered after signing with 401, and processes a replay once', async () => {
    const jobs = (): number => query(dbFile, "select 1 from jobs where kind = 'enrich'").length;
    const before = jobs();
    const event = (eventId: number): string =>
      JSON.stringify([{ eventId, subscriptionId: 1, portalId: hs.portalId, appId: 1, occurredAt: Date.now(), subscriptionType: 'contact.creation', attemptNumber: 0, objectId: Number(enrichedId), changeSource: 'CRM_UI' }]);
    const body = event(990001);
    const uri = `${app.url}/webhooks/hubspot`;
    const now = Date.now();
    const signature = signHubspotWebhookV3({ clientSecret: HUBSPOT_CLIENT.clientSecret, method: 'POST', uri, body, timestamp: now });

    const bad = await hs.deliverRawWebhook({ body, sign: false, headers: { 'X-HubSpot-Signature-v3': 'AAAA' + signature.slice(4), 'X-HubSpot-Request-Timestamp': String(now) } });
    const stale = await hs.deliverRawWebhook({ body, timestamp: now - 6 * 60_000 });
    const altered = await hs.deliverRawWebhook({ body: event(990002), sign: false, headers: { 'X-HubSpot-Signature-v3': signature, 'X-HubSpot-Request-Timestamp': String(now) } });
    expect([bad.status, stale.status, altered.status]).toEqual([401, 401, 401]);
    expect(jobs()).toBe(before);
    expect(query(dbFile, "select 1 from webhook_events where event_key like '%99000%'")).toHaveLength(0);

    const first = await hs.deliverRawWebhook({ body, timestamp: now });
    const replay = await hs.deliverRawWebhook({ body, timestamp: now });
    expect([first.status, replay.status]).toEqual([200, 200]);
    expect(JSON.parse(first.text)).toMatchObject({ queued: 1 });
    expect(JSON.parse(replay.text)).toMatchObject({ queued: 0 });
    expect(jobs()).toBe(before + 1);
  });

  it('purges every trace of a person on contact.privacyDeletion', async () => {
    const hashes = query<{ email_hash: string }>(dbFile, 'select email_hash from held_intent_emails where connection_id = ?', connectionId).length;
    expect(hashes).toBeGreaterThan(0);
    hs.gdprDeleteContact(enrichedId);
    await hs.flushWebhooks();
    const h = enrichedPerson.hashedEmail;
    await waitFor('the ledger row to go', () => query(dbFile, 'select 1 from ledger where hashed_email = ?', h).length === 0 || undefined);
    expect(query(dbFile, 'select 1 from held_intent where hashed_email = ?', h)).toHaveLength(0);
    expect(query(dbFile, 'select 1 from held_intent_emails where hashed_email = ? or email_hash = ?', h, h)).toHaveLength(0);
    expect(query(dbFile, 'select 1 from record_errors where hashed_email = ?', h)).toHaveLength(0);
    expect(query(dbFile, 'select 1 from jobs where payload like ?', `%${h}%`)).toHaveLength(0);
    expect(query(dbFile, 'select 1 from jobs where status != ? and payload like ?', 'running', `%"id":"${enrichedId}"%`)).toHaveLength(0);
  });

  it('marks the connection needs_reauth after an uninstall, and stops its syncs with the reason', async () => {
    hs.uninstallApp();
    const { status } = await adminCall(app.url, 'POST', `/api/connections/${connectionId}/syncs`, { audienceId, runId: newRunId });
    expect(status).toBeLessThan(300);
    const connection = await waitFor('the connection to need re-authorization', async () => {
      const { json } = await adminCall<{ connections: Array<{ id: string; status: string; statusMessage: string | null }> }>(app.url, 'GET', '/api/connections');
      return json.connections.find((c) => c.id === connectionId && c.status === 'needs_reauth');
    });
    expect(connection.statusMessage).toMatch(/refresh token.*Install it again/i);
    const blocked = await adminCall<{ error: { code: string } }>(app.url, 'POST', `/api/connections/${connectionId}/syncs`, { audienceId, runId: newRunId });
    expect(blocked.status).toBe(409);
  });
});

describe('the installed app in Salesforce', () => {
  let lp: LeadpipeSandbox;
  let sf: SalesforceSandbox;
  let app: Served;
  let dbFile: string;
  let connectionId: string;

  beforeAll(async () => {
    lp = await startLeadpipeSandbox({ seed: 'sf', audiences: [{ name: 'CRM switchers', dailyRuns: 1, peoplePerRun: 30 }], duplicateShare: 0 });
    const port = await freePort();
    sf = await startSalesforceSandbox({ callbackUrls: [`http://127.0.0.1:${port}/oauth/salesforce/callback`], requirePkce: true, customFields: false });
    secrets.add(sf.clientSecret);
    const dir = tmpDir();
    dbFile = path.join(dir, 'orbit-sync.db');
    app = await serveInProcess(appEnv(port, dir, { SALESFORCE_LOGIN_URL: sf.url, SALESFORCE_CLIENT_ID: sf.clientId, SALESFORCE_CLIENT_SECRET: sf.clientSecret, LEADPIPE_BASE_URL: lp.url }));
  });

  afterAll(async () => {
    collectStoredSecrets(dbFile);
    await app.stop();
    await sf.close();
    await lp.close();
  });

  it('installs with PKCE, syncs on the scheduler, and enriches a Lead created later from its Outbound Message', async () => {
    const result = await installThroughRedirects(`${app.url}/oauth/salesforce/install`);
    expect(new URL(result.hops[0] ?? '').searchParams.get('code_challenge_method')).toBe('S256');
    expect(result.status).toBe(200);
    connectionId = (JSON.parse(result.text) as { connection: { id: string; accountId: string } }).connection.id;
    expect(sf.hasField('Lead', 'Leadpipe_Intent_Score__c')).toBe(true);

    const audienceId = lp.state.audiences[0]?.id ?? '';
    const runId = lp.state.runs[0]?.id ?? '';
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/leadpipe-key`, { apiKey: lp.apiKey })).status).toBe(200);
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/overrides`, { createMinScore: MIN_CREATE })).status).toBe(200);
    expect((await adminCall(app.url, 'PUT', `/api/connections/${connectionId}/audiences/${audienceId}`)).status).toBe(200);
    await waitFor('the scheduler to sync the run into Salesforce', () => syncRunOf(app.url, runId));
    const run = people(lp, runId);
    for (const p of run.filter((x) => x.score >= MIN_CREATE)) expect(sf.findByEmail('Lead', p.email)).toHaveLength(1);

    const { json } = await adminCall<{ url: string }>(app.url, 'GET', `/api/connections/${connectionId}/salesforce-outbound`);
    sf.configureOutboundMessage({ endpointUrl: json.url, objects: ['Lead', 'Contact'] });
    const person = run.find((p) => p.score < MIN_CREATE);
    if (!person) throw new Error('the run has nobody under the create threshold');
    expect(sf.findByEmail('Lead', person.email)).toHaveLength(0);
    const lead = sf.createRecordAsUser('Lead', { Email: person.email, LastName: 'Typed', Company: 'Typed Inc' });
    await sf.flushOutboundMessages();
    expect(sf.outboundDeliveries().at(-1)).toMatchObject({ status: 200, acked: true });
    const enriched = await waitFor('the Lead to be enriched', () => {
      const l = sf.get('Lead', lead.Id);
      return l?.Leadpipe_Intent_Score__c !== undefined && l.Leadpipe_Intent_Score__c !== null ? l : undefined;
    });
    expect(Number(enriched.Leadpipe_Intent_Score__c)).toBe(person.score);
    expect(enriched.LastName).toBe('Typed');

    // a wrong URL key or another org is refused, and nothing is queued
    const before = query(dbFile, 'select 1 from jobs').length;
    const forged = await sf.deliverRawOutboundMessage({ body: sf.outboundDeliveries().at(-1)?.body ?? '', url: json.url.replace(/key=[^&]+/, 'key=wrong') });
    expect(forged.status).toBe(401);
    expect(query(dbFile, 'select 1 from jobs').length).toBe(before);
    // a redelivery of the same notification is acknowledged and not processed again
    const replay = await sf.deliverRawOutboundMessage({ body: sf.outboundDeliveries().at(-1)?.body ?? '', url: json.url });
    expect(replay.status).toBe(200);
    expect(replay.text).toContain('<Ack>true</Ack>');
    expect(query(dbFile, 'select 1 from jobs').length).toBe(before);
  });
});

describe('what the installed app leaves behind', () => {
  it('logs no token, key, client secret or plaintext email', () => {
    expect(capturedLogs.length).toBeGreaterThan(20);
    expect(secrets.size).toBeGreaterThan(5);
    const text = capturedLogs.join('\n').toLowerCase();
    for (const secret of secrets) expect(text.includes(secret.toLowerCase()) ? secret.slice(0, 6) + '…' : 'absent').toBe('absent');
    const leaked = [...emails].filter((e) => text.includes(e));
    expect(leaked).toEqual([]);
  });
});
