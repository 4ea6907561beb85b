/**
 * Webhook deliveries of the HubSpot sandbox's OAuth app, received by a tiny node:http server: which
 * changes fire which events, batching, the v3 signature (checked by an independent computation here),
 * retries, timeouts, raw deliveries and a clean close.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signHubspotWebhookV3, startHubspotSandbox, type HubspotSandbox, type HubspotWebhookEvent } from '../../../src/sandbox/hubspot/server';
import { call, resultsOf } from './hubspot-helpers';

const OAUTH = { clientId: 'wh-client', clientSecret: 'wh-secret-Ω', appId: 515151 };
const REDIRECT = 'https://app.example.com/oauth/callback';
const PORTAL = 8675309;

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  /** The target URL (with a query, which the signature covers). */
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

/** Records every request; answers `failFirst` of them 500 (or holds them `hangMs`), then 204. */
async function startReceiver(opts: { failFirst?: number; hangFirst?: number; hangMs?: number; failAll?: boolean } = {}): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString('utf8') });
      const n = requests.length;
      if (n <= (opts.hangFirst ?? 0)) {
        setTimeout(() => res.writeHead(204).end(), opts.hangMs ?? 1000).unref();
        return;
      }
      if (opts.failAll === true || n <= (opts.failFirst ?? 0)) res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hubspot/webhooks?tenant=t1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function eventsOf(r: Received): HubspotWebhookEvent[] {
  return JSON.parse(r.body) as HubspotWebhookEvent[];
}

/** An independent v3 check: base64 HMAC-SHA256 of method + full URI + raw body + timestamp. */
function verifiesV3(r: Received, targetUrl: string): boolean {
  const ts = String(r.headers['x-hubspot-request-timestamp']);
  const expected = createHmac('sha256', OAUTH.clientSecret).update(`POST${targetUrl}${r.body}${ts}`).digest('base64');
  return r.headers['x-hubspot-signature-v3'] === expected;
}

async function oauthToken(sb: HubspotSandbox): Promise<string> {
  const code = sb.issueAuthorizationCode({ redirectUri: REDIRECT, scopes: ['oauth', 'crm.objects.contacts.write'] });
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: OAUTH.clientId, client_secret: OAUTH.clientSecret });
  const res = await fetch(`${sb.url}/oauth/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('HubSpot sandbox webhooks', () => {
  let sb: HubspotSandbox;
  let receiver: Receiver;

  async function start(receiverOpts: Parameters<typeof startReceiver>[0] = {}, webhookOpts: { subscriptions?: string[]; maxEventsPerRequest?: number; maxAttempts?: number; retryDelayMs?: number; timeoutMs?: number } = {}): Promise<void> {
    sb = await startHubspotSandbox({ oauth: OAUTH, portalId: PORTAL, rateLimit: false });
    // As in the app's tests: the receiver starts after the sandbox, so its URL is set at runtime.
    receiver = await startReceiver(receiverOpts);
    sb.configureWebhooks({ targetUrl: receiver.url, ...webhookOpts });
  }

  afterEach(async () => {
    await sb.close();
    await receiver.close();
  });

  it('createContactAsUser: one signed delivery of a contact.creation event (CRM_UI), sent after the call returns', async () => {
    await start();
    const before = Date.now();
    const contact = sb.createContactAsUser({ email: 'Rep.Typed@Example.com', firstname: 'Rep' });
    expect(contact.properties.email).toBe('rep.typed@example.com');
    expect(sb.webhookDeliveries()).toEqual([]); // asynchronous: nothing sent yet
    await sb.flushWebhooks();

    expect(receiver.requests).toHaveLength(1);
    const [req] = receiver.requests;
    if (!req) throw new Error('no request');
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hubspot/webhooks?tenant=t1');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon');
    expect(Number(req.headers['x-hubspot-request-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(verifiesV3(req, receiver.url)).toBe(true);
    expect(verifiesV3({ ...req, body: req.body.replace('CRM_UI', 'API') }, receiver.url)).toBe(false);
    expect(signHubspotWebhookV3({ clientSecret: OAUTH.clientSecret, method: 'POST', uri: receiver.url, body: req.body, timestamp: Number(req.headers['x-hubspot-request-timestamp']) })).toBe(
      req.headers['x-hubspot-signature-v3'],
    );

    const events = eventsOf(req);
    expect(events).toEqual([
      {
        eventId: expect.any(Number) as unknown,
        subscriptionId: expect.any(Number) as unknown,
        portalId: PORTAL,
        appId: OAUTH.appId,
        occurredAt: expect.any(Number) as unknown,
        subscriptionType: 'contact.creation',
        attemptNumber: 0,
        objectId: Number(contact.id),
        changeFlag: 'CREATED',
        changeSource: 'CRM_UI',
        sourceId: 'userId:7654321',
      },
    ]);
    expect(events[0]?.occurredAt).toBeGreaterThanOrEqual(before);
    expect(sb.webhookDeliveries()).toMatchObject([{ attempt: 0, status: 204, body: req.body, events }]);
    expect(sb.webhookDeliveries()[0]?.headers['X-HubSpot-Signature-v3']).toBe(req.headers['x-hubspot-signature-v3']);
  });

  it('API batch create of 3 contacts with the app’s OAuth token: one POST with 3 INTEGRATION events', async () => {
    await start();
    const token = await oauthToken(sb);
    const res = await call(sb, 'POST', '/crm/v3/objects/contacts/batch/create', { inputs: ['a', 'b', 'c'].map((n) => ({ properties: { email: `${n}@acme.com` } })) }, token);
    expect(res.status).toBe(201);
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(1);
    const events = eventsOf(receiver.requests[0] as Received);
    expect(events).toHaveLength(3);
    expect(events.map((e) => e.objectId).sort()).toEqual(resultsOf(res).map((r) => Number(r.id)).sort());
    for (const e of events) expect(e).toMatchObject({ subscriptionType: 'contact.creation', changeFlag: 'CREATED', changeSource: 'INTEGRATION', sourceId: String(OAUTH.appId) });
    expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
    expect(new Set(events.map((e) => e.subscriptionId)).size).toBe(1);
    // Creation does not also report the email as a property change.
    expect(events.some((e) => e.subscriptionType === 'contact.propertyChange')).toBe(false);

    // A private-app token's upsert that creates: changeSource API, no sourceId; an upsert of an existing contact does not create.
    const upsert = await call(sb, 'POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [
        { idProperty: 'email', id: 'd@acme.com', properties: { firstname: 'D' } },
        { idProperty: 'email', id: 'a@acme.com', properties: { firstname: 'A' } },
      ],
    });
    expect(upsert.status).toBe(200);
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(2);
    const [created] = eventsOf(receiver.requests[1] as Received);
    expect(eventsOf(receiver.requests[1] as Received)).toHaveLength(1);
    expect(created).toMatchObject({ subscriptionType: 'contact.creation', changeSource: 'API', objectId: Number(sb.contactByEmail('d@acme.com')?.id) });
    expect(created?.sourceId).toBeUndefined();
    expect(created?.subscriptionId).toBe(eventsOf(receiver.requests[0] as Received)[0]?.subscriptionId);
  });

  it('an email change fires contact.propertyChange with propertyName and propertyValue; other properties do not', async () => {
    await start();
    const [seeded] = sb.seedContacts([{ properties: { email: 'old@acme.com', firstname: 'Old' } }]);
    const id = seeded?.id ?? '';
    const update = await call(sb, 'POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id, properties: { email: 'New@Acme.com', firstname: 'New' } }] });
    expect(update.status).toBe(200);
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(1);
    expect(eventsOf(receiver.requests[0] as Received)).toEqual([
      expect.objectContaining({ subscriptionType: 'contact.propertyChange', objectId: Number(id), propertyName: 'email', propertyValue: 'new@acme.com', changeSource: 'API' }),
    ]);

    // The same value again, or only another property: nothing.
    await call(sb, 'POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id, properties: { email: 'new@acme.com', firstname: 'Again' } }] });
    sb.updateContactAsUser(id, { lastname: 'Typed' });
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(1);

    const edited = sb.updateContactAsUser(id, { email: 'typed@acme.com' });
    expect(edited.properties.email).toBe('typed@acme.com');
    await sb.flushWebhooks();
    expect(eventsOf(receiver.requests[1] as Received)).toEqual([
      expect.objectContaining({ subscriptionType: 'contact.propertyChange', propertyName: 'email', propertyValue: 'typed@acme.com', changeSource: 'CRM_UI' }),
    ]);
    expect(() => sb.updateContactAsUser(id, { email: 'not an email' })).toThrow(RangeError);
    expect(() => sb.updateContactAsUser('404', { firstname: 'x' })).toThrow(/no contact 404/);
  });

  it('gdprDeleteContact removes the contact and its associations, then fires contact.privacyDeletion', async () => {
    await start();
    const [contact] = sb.seedContacts([{ properties: { email: 'forget.me@acme.com' } }]);
    const [company] = sb.seedCompanies([{ properties: { name: 'Acme' } }]);
    const id = contact?.id ?? '';
    sb.associate('contacts', id, 'companies', company?.id ?? '');
    expect(sb.gdprDeleteContact(id)).toBe(true);
    expect(sb.contactById(id)).toBeUndefined();
    expect(sb.contactByEmail('forget.me@acme.com')).toBeUndefined();
    expect(sb.associatedIds('companies', company?.id ?? '', 'contacts')).toEqual([]);
    expect(sb.state.associations).toEqual([]);
    expect(sb.gdprDeleteContact(id)).toBe(false);
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(1);
    expect(eventsOf(receiver.requests[0] as Received)).toEqual([expect.objectContaining({ subscriptionType: 'contact.privacyDeletion', objectId: Number(id), attemptNumber: 0 })]);
    // The email is free again.
    expect(sb.createContactAsUser({ email: 'forget.me@acme.com' }).id).not.toBe(id);
  });

  it('a receiver answering 500 once gets the batch again with attemptNumber 1 (re-signed)', async () => {
    await start({ failFirst: 1 }, { retryDelayMs: 5 });
    sb.createContactAsUser({ email: 'retry@acme.com' });
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(2);
    const [first, second] = receiver.requests.map(eventsOf);
    expect(first?.[0]?.attemptNumber).toBe(0);
    expect(second?.[0]?.attemptNumber).toBe(1);
    expect(second?.[0]?.eventId).toBe(first?.[0]?.eventId);
    expect(receiver.requests.every((r) => verifiesV3(r, receiver.url))).toBe(true);
    expect(sb.webhookDeliveries().map((d) => [d.attempt, d.status])).toEqual([
      [0, 500],
      [1, 204],
    ]);
  });

  it('gives up after maxAttempts; timeouts and connection errors count as failures', async () => {
    await start({ failAll: true }, { maxAttempts: 2, retryDelayMs: 1 });
    sb.createContactAsUser({ email: 'never@acme.com' });
    await sb.flushWebhooks();
    expect(sb.webhookDeliveries().map((d) => [d.attempt, d.status])).toEqual([
      [0, 500],
      [1, 500],
    ]);

    const slow = await startReceiver({ hangFirst: 1, hangMs: 2000 });
    try {
      sb.configureWebhooks({ targetUrl: slow.url, timeoutMs: 100, retryDelayMs: 1 });
      sb.createContactAsUser({ email: 'slow@acme.com' });
      await sb.flushWebhooks();
      const [timedOut, retried] = sb.webhookDeliveries().slice(2);
      expect(timedOut).toMatchObject({ attempt: 0, status: 'error', error: expect.stringMatching(/timeout/) as unknown });
      expect(retried).toMatchObject({ attempt: 1, status: 204 });
    } finally {
      await slow.close();
    }

    sb.configureWebhooks({ targetUrl: slow.url, maxAttempts: 3, retryDelayMs: 1 }); // closed now: connection refused
    sb.createContactAsUser({ email: 'refused@acme.com' });
    await sb.flushWebhooks();
    const refused = sb.webhookDeliveries().slice(4);
    expect(refused.map((d) => [d.attempt, d.status])).toEqual([
      [0, 'error'],
      [1, 'error'],
      [2, 'error'],
    ]);
  });

  it('batches up to maxEventsPerRequest events per POST', async () => {
    await start({}, { maxEventsPerRequest: 2 });
    const res = await call(sb, 'POST', '/crm/v3/objects/contacts/batch/create', { inputs: [1, 2, 3, 4, 5].map((n) => ({ properties: { email: `c${n}@acme.com` } })) });
    expect(res.status).toBe(201);
    await sb.flushWebhooks();
    expect(receiver.requests.map((r) => eventsOf(r).length)).toEqual([2, 2, 1]);
  });

  it('only subscribed types fire; seeding never fires; companies fire when subscribed', async () => {
    await start({}, { subscriptions: ['contact.privacyDeletion', 'company.creation'] });
    sb.createContactAsUser({ email: 'quiet@acme.com' });
    const [seeded] = sb.seedContacts([{ properties: { email: 'seeded@acme.com' } }]);
    sb.seedCompanies([{ properties: { name: 'Seeded Co' } }]);
    sb.updateContactAsUser(seeded?.id ?? '', { email: 'changed@acme.com' });
    await call(sb, 'POST', '/crm/v3/objects/contacts/batch/create', { inputs: [{ properties: { email: 'api@acme.com' } }] });
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(0);

    const company = await call(sb, 'POST', '/crm/v3/objects/companies/batch/create', { inputs: [{ properties: { name: 'API Co' } }] });
    await sb.flushWebhooks();
    expect(eventsOf(receiver.requests[0] as Received)).toEqual([
      expect.objectContaining({ subscriptionType: 'company.creation', objectId: Number(resultsOf(company)[0]?.id), changeSource: 'API' }),
    ]);

    // Seeding with the default subscriptions fires nothing either.
    sb.configureWebhooks({ targetUrl: receiver.url });
    sb.seedContacts([{ properties: { email: 'seeded2@acme.com' } }, { id: seeded?.id ?? '', properties: { email: 'reseeded@acme.com' } }]);
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(1);

    // Removed settings: nothing is sent.
    sb.configureWebhooks(undefined);
    sb.createContactAsUser({ email: 'after@acme.com' });
    await sb.flushWebhooks();
    expect(receiver.requests).toHaveLength(1);
  });

  it('deliverRawWebhook sends a tampered, stale or unsigned body through the same path', async () => {
    await start();
    const body = JSON.stringify([{ eventId: 1, subscriptionType: 'contact.creation', objectId: 1 }]);
    const stale = Date.now() - 10 * 60_000;
    expect(await sb.deliverRawWebhook({ body, timestamp: stale })).toEqual({ status: 204, text: '' });
    const [signed] = receiver.requests;
    expect(signed?.headers['x-hubspot-request-timestamp']).toBe(String(stale));
    expect(signed && verifiesV3(signed, receiver.url)).toBe(true);

    await sb.deliverRawWebhook({ body, sign: false });
    expect(receiver.requests[1]?.headers['x-hubspot-signature-v3']).toBeUndefined();
    await sb.deliverRawWebhook({ body, headers: { 'X-HubSpot-Signature-v3': 'forged' } });
    expect(receiver.requests[2]?.headers['x-hubspot-signature-v3']).toBe('forged');
    expect(receiver.requests[2]?.headers['user-agent']).toMatch(/WebhooksExecutorDaemon/);
    expect(sb.webhookDeliveries()).toEqual([]);
  });

  it('refuses webhooks without the oauth option and unknown subscriptions', async () => {
    await start();
    expect(() => sb.configureWebhooks({ targetUrl: receiver.url, subscriptions: ['contact.propertyChange'] })).toThrow(RangeError);
    expect(() => sb.configureWebhooks({ targetUrl: receiver.url, subscriptions: ['deal.privacyDeletion'] })).toThrow(RangeError);
    expect(() => sb.configureWebhooks({ targetUrl: 'not a url' })).toThrow(RangeError);
    const plain = await startHubspotSandbox();
    try {
      expect(() => plain.configureWebhooks({ targetUrl: receiver.url })).toThrow(/oauth/);
    } finally {
      await plain.close();
    }
    await expect(startHubspotSandbox({ webhooks: { targetUrl: receiver.url } })).rejects.toThrow(RangeError);
  });

  it('close() stops pending retries at once', async () => {
    await start({ failAll: true }, { retryDelayMs: 60_000 });
    sb.createContactAsUser({ email: 'pending@acme.com' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const t = Date.now();
    await sb.close();
    expect(Date.now() - t).toBeLessThan(1000);
    expect(sb.webhookDeliveries()).toHaveLength(1);
  });
});
