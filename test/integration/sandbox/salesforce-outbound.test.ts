/** Salesforce sandbox: outbound messages (SOAP notifications on Lead / Contact creation) to a loopback receiver. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Connection } from 'jsforce';
import * as xml2js from 'xml2js';
import { isOutboundAck, outboundMessageEnvelope, RecordError, startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/server';

function connect(sb: SalesforceSandbox): Connection {
  return new Connection({
    instanceUrl: sb.url,
    loginUrl: sb.url,
    accessToken: sb.accessToken,
    refreshToken: sb.refreshToken,
    oauth2: { clientId: sb.clientId, clientSecret: sb.clientSecret, loginUrl: sb.url },
    version: '62.0',
  });
}

const ACK =
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>' +
  '</soapenv:Body></soapenv:Envelope>';
const NO_ACK = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>';

type Reply = { status: number; body: string } | 'hang';

interface Receiver {
  url: string;
  received: Array<{ headers: IncomingHttpHeaders; body: string }>;
  /** Answers for the next requests, in order; then the Ack. */
  replies: Reply[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const replies: Reply[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(parts).toString('utf8') });
      const reply = replies.shift() ?? { status: 200, body: ACK };
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/salesforce/outbound`,
    received,
    replies,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface ParsedNotification {
  id: string;
  type: string;
  fields: Record<string, string>;
}

const stripPrefix = (name: string): string => xml2js.processors.stripPrefix(name);

/** The receiver's side, as the reference §9 sketch parses it (prefixes stripped). */
async function parseMessage(xml: string): Promise<{ orgId: string; actionId: string; enterpriseUrl: string; notifications: ParsedNotification[] }> {
  const doc = (await xml2js.parseStringPromise(xml, { explicitArray: true, tagNameProcessors: [stripPrefix], attrNameProcessors: [stripPrefix] })) as {
    Envelope: { Body: Array<{ notifications: Array<Record<string, unknown>> }> };
  };
  const n = doc.Envelope.Body[0]?.notifications[0] ?? {};
  const text = (v: unknown): string => (Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '');
  const notifications = ((n.Notification ?? []) as Array<{ Id: string[]; sObject: Array<Record<string, unknown> & { $: { type: string } }> }>).map((x) => {
    const sObject = x.sObject[0] ?? { $: { type: '' } };
    const fields = Object.fromEntries(Object.entries(sObject).filter(([k]) => k !== '$').map(([k, v]) => [k, text(v)]));
    return { id: x.Id[0] ?? '', type: sObject.$.type, fields };
  });
  return { orgId: text(n.OrganizationId), actionId: text(n.ActionId), enterpriseUrl: text(n.EnterpriseUrl), notifications };
}

const hash = (n: number): string => n.toString(16).padStart(64, '0');
const ID18 = /^[A-Za-z0-9]{18}$/;

describe('Salesforce sandbox — outbound messages', () => {
  let sb: SalesforceSandbox;
  let receiver: Receiver;

  beforeEach(async () => {
    sb = await startSalesforceSandbox();
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await sb.close();
    await receiver.close();
  });

  it('a rep creating a Lead fires one delivery with the Salesforce envelope', async () => {
    sb.configureOutboundMessage({ endpointUrl: receiver.url, fields: ['Id', 'Email', 'FirstName', 'LastName', 'Company', 'CreatedDate'] });
    const lead = sb.createRecordAsUser('Lead', { FirstName: 'Ada', LastName: 'Love & <Lace>', Company: 'Analytical', Email: 'ada@example.test' });
    expect(sb.outboundDeliveries()).toEqual([]); // never inside the write
    await sb.flushOutboundMessages();

    const deliveries = sb.outboundDeliveries();
    expect(deliveries).toHaveLength(1);
    const [d] = deliveries;
    expect(d).toMatchObject({ objectType: 'Lead', attempt: 1, status: 200, acked: true, url: receiver.url });
    expect(d?.notificationIds).toHaveLength(1);
    expect(d?.notificationIds[0]).toMatch(/^04l/);
    expect(d?.notificationIds[0]).toMatch(ID18);

    expect(receiver.received).toHaveLength(1);
    const [req] = receiver.received;
    expect(req?.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(req?.headers.soapaction).toBe('""');
    expect(req?.body).toBe(d?.body);
    expect(req?.body.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"')).toBe(true);
    expect(req?.body).toContain('<SessionId xsi:nil="true"/>');
    expect(req?.body).toContain('<sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">');
    expect(req?.body).toContain('<sf:LastName>Love &amp; &lt;Lace&gt;</sf:LastName>');

    const message = await parseMessage(req?.body ?? '');
    expect(message.orgId).toBe(sb.orgId);
    expect(message.actionId).toMatch(/^04k/);
    expect(message.enterpriseUrl).toBe(`${sb.url}/services/Soap/c/62.0/${sb.orgId.slice(0, 15)}`);
    expect(message.notifications).toEqual([
      {
        id: d?.notificationIds[0],
        type: 'sf:Lead',
        fields: {
          Id: lead.Id,
          Email: 'ada@example.test',
          FirstName: 'Ada',
          LastName: 'Love & <Lace>',
          Company: 'Analytical',
          CreatedDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        },
      },
    ]);
    expect(Object.keys(message.notifications[0]?.fields ?? {})[0]).toBe('Id');
  });

  it('a Collections upsert notifies for the records it inserts, not for the ones it updates', async () => {
    const [seeded] = sb.seedLeads([{ fields: { LastName: 'Old', Company: 'Acme', Leadpipe_Hashed_Email__c: hash(1) } }]);
    sb.configureOutboundMessage({ endpointUrl: receiver.url });
    const conn = connect(sb);
    const first = (await conn.sobject('Lead').upsert(
      [
        { Leadpipe_Hashed_Email__c: hash(1), Leadpipe_Intent_Score__c: 80 },
        { Leadpipe_Hashed_Email__c: hash(2), LastName: 'Two', Company: 'B', Email: 'two@b.test' },
        { Leadpipe_Hashed_Email__c: hash(3), LastName: 'Three', Company: 'C', Email: 'three@c.test' },
        { Leadpipe_Hashed_Email__c: hash(4), LastName: 'Four', Company: 'D' },
        { Leadpipe_Hashed_Email__c: hash(5), Company: 'no last name' },
      ],
      'Leadpipe_Hashed_Email__c',
      { allOrNone: false },
    )) as Array<{ id?: string; success: boolean; created?: boolean }>;
    await sb.flushOutboundMessages();
    const created = first.filter((r) => r.success && r.created === true).map((r) => r.id);
    expect(created).toHaveLength(3);

    const deliveries = sb.outboundDeliveries();
    expect(deliveries).toHaveLength(1); // one request's creations go out together
    const message = await parseMessage(deliveries[0]?.body ?? '');
    expect(message.notifications.map((n) => n.fields.Id)).toEqual(created);
    expect(message.notifications.map((n) => n.fields.Id)).not.toContain(seeded?.Id);
    expect(message.notifications[2]?.fields).toEqual({ Id: created[2], LastName: 'Four' }); // null fields left out
    expect(new Set(deliveries[0]?.notificationIds).size).toBe(3);

    // Updating the same records fires nothing.
    await conn.sobject('Lead').upsert(
      [2, 3, 4].map((n) => ({ Leadpipe_Hashed_Email__c: hash(n), Leadpipe_Intent_Score__c: 50 })),
      'Leadpipe_Hashed_Email__c',
    );
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries()).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('an all-or-none batch that rolls back and duplicate-rule refusals fire nothing; Bulk 2.0 inserts fire', async () => {
    sb.configureOutboundMessage({ endpointUrl: receiver.url });
    sb.setDuplicateRules(true);
    const conn = connect(sb);
    await conn.sobject('Contact').create([{ LastName: 'Ok' }, { FirstName: 'No last name' }], { allOrNone: true });
    sb.seedContacts([{ fields: { LastName: 'Taken', Email: 'taken@x.test' } }]);
    expect(() => sb.createRecordAsUser('Lead', { LastName: 'Dup', Company: 'X', Email: 'TAKEN@x.test' })).toThrow(RecordError);
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries()).toEqual([]);

    const csv = ['LastName,Company,Email', 'Bulk1,A,b1@x.test', 'Bulk2,B,b2@x.test'].join('\n');
    await connect(sb).bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'insert', input: csv, pollInterval: 20, pollTimeout: 5000 });
    await sb.flushOutboundMessages();
    const message = await parseMessage(sb.outboundDeliveries()[0]?.body ?? '');
    expect(message.notifications.map((n) => n.fields.Email)).toEqual(['b1@x.test', 'b2@x.test']);
  });

  it('without an Ack the message is redelivered with the same Notification Ids until acknowledged', async () => {
    receiver.replies.push({ status: 200, body: NO_ACK }, { status: 500, body: 'oops' }, { status: 200, body: ACK.replace('>true<', '>false<') });
    sb.configureOutboundMessage({ endpointUrl: receiver.url, maxAttempts: 5, retryDelayMs: 5 });
    sb.createRecordAsUser('Contact', { LastName: 'Retry', Email: 'retry@x.test' });
    await sb.flushOutboundMessages();

    const deliveries = sb.outboundDeliveries();
    expect(deliveries.map((d) => [d.attempt, d.status, d.acked])).toEqual([
      [1, 200, false],
      [2, 500, false],
      [3, 200, false],
      [4, 200, true],
    ]);
    const ids = deliveries.map((d) => d.notificationIds.join());
    expect(new Set(ids).size).toBe(1);
    const received = await Promise.all(receiver.received.map(async (r) => (await parseMessage(r.body)).notifications[0]?.id));
    expect(received).toEqual(Array.from({ length: 4 }, () => deliveries[0]?.notificationIds[0]));
  });

  it('gives up after maxAttempts; a refused connection counts as a failed attempt', async () => {
    const closed = await startReceiver();
    const deadUrl = closed.url;
    await closed.close();
    sb.configureOutboundMessage({ endpointUrl: deadUrl, maxAttempts: 2, retryDelayMs: 1 });
    sb.createRecordAsUser('Lead', { LastName: 'Nobody', Company: 'Home' });
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries().map((d) => [d.attempt, d.status, d.acked])).toEqual([
      [1, 'error', false],
      [2, 'error', false],
    ]);
  });

  it('a Contact is not sent when the message is defined on Lead only', async () => {
    sb.configureOutboundMessage({ endpointUrl: receiver.url, objects: ['Lead'] });
    sb.createRecordAsUser('Contact', { LastName: 'Skipped', Email: 'skip@x.test' });
    await connect(sb).sobject('Contact').create({ LastName: 'Also skipped' });
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries()).toEqual([]);
    sb.createRecordAsUser('Lead', { LastName: 'Sent', Company: 'Co' });
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries().map((d) => d.objectType)).toEqual(['Lead']);
  });

  it('seeding never fires, nor does anything before configuration or after deactivation', async () => {
    sb.createRecordAsUser('Lead', { LastName: 'Before', Company: 'Co' });
    sb.configureOutboundMessage({ endpointUrl: receiver.url });
    sb.seedLeads([{ fields: { LastName: 'Seed', Company: 'S', Email: 'seed@x.test' } }]);
    sb.seedContacts([{ fields: { LastName: 'Seed', Email: 'seedc@x.test' } }]);
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries()).toEqual([]);
    sb.configureOutboundMessage(undefined);
    sb.createRecordAsUser('Lead', { LastName: 'After', Company: 'Co' });
    await sb.flushOutboundMessages();
    expect(receiver.received).toEqual([]);
  });

  it('batches at most maxNotificationsPerMessage per message, one message per object', async () => {
    sb.configureOutboundMessage({ endpointUrl: receiver.url, maxNotificationsPerMessage: 2 });
    const conn = connect(sb);
    await conn.sobject('Lead').create([1, 2, 3].map((n) => ({ LastName: `L${n}`, Company: 'C' })));
    await conn.sobject('Contact').create({ LastName: 'C1' });
    await sb.flushOutboundMessages();
    const shape = sb
      .outboundDeliveries()
      .map((d) => `${d.objectType}:${d.notificationIds.length}`)
      .sort();
    expect(shape).toEqual(['Contact:1', 'Lead:1', 'Lead:2']);
  });

  it('replays a crafted message through the same path; the envelope helper and the Ack check are exported', async () => {
    sb.configureOutboundMessage({ endpointUrl: receiver.url });
    const body = outboundMessageEnvelope({
      orgId: sb.orgId,
      actionId: '04k5g0000000001AAA',
      url: sb.url,
      notifications: [{ id: '04l5g0000000001AAA', type: 'Contact', fields: { Id: '0035g0000000001AAA', Email: 'a"b@x.test' } }],
    });
    expect(body).toContain('<sf:Email>a&quot;b@x.test</sf:Email>');
    const answer = await sb.deliverRawOutboundMessage({ body });
    expect(answer).toEqual({ status: 200, text: ACK });
    expect(receiver.received[0]?.body).toBe(body);
    expect(receiver.received[0]?.headers.soapaction).toBe('""');
    expect(sb.outboundDeliveries()).toEqual([]);

    await expect(isOutboundAck(ACK)).resolves.toBe(true);
    await expect(isOutboundAck(ACK.replace(/xmlns="[^"]*"/, 'xmlns="urn:other"'))).resolves.toBe(false);
    await expect(isOutboundAck('<a:Envelope xmlns:a="http://schemas.xmlsoap.org/soap/envelope/"><a:Body><o:Ack xmlns:o="http://soap.sforce.com/2005/09/outbound">true</o:Ack></a:Body></a:Envelope>')).resolves.toBe(true);
    await expect(isOutboundAck('<Ack>true</Ack>')).resolves.toBe(false);
    await expect(isOutboundAck('not xml')).resolves.toBe(false);
  });

  it('times out a silent endpoint, and close() aborts deliveries in flight', async () => {
    receiver.replies.push('hang');
    sb.configureOutboundMessage({ endpointUrl: receiver.url, timeoutMs: 50, maxAttempts: 2, retryDelayMs: 1 });
    sb.createRecordAsUser('Lead', { LastName: 'Slow', Company: 'Co' });
    await sb.flushOutboundMessages();
    expect(sb.outboundDeliveries().map((d) => [d.attempt, d.status, d.acked])).toEqual([
      [1, 'error', false],
      [2, 200, true],
    ]);

    receiver.replies.push('hang');
    sb.configureOutboundMessage({ endpointUrl: receiver.url, timeoutMs: 60_000 });
    sb.createRecordAsUser('Lead', { LastName: 'Stuck', Company: 'Co' });
    while (receiver.received.length < 3) await new Promise((r) => setTimeout(r, 5));
    const flushed = sb.flushOutboundMessages();
    await sb.close();
    await flushed;
    expect(sb.outboundDeliveries()).toHaveLength(2);
  });
});
