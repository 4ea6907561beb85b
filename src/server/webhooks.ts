/**
 * Inbound webhooks (issue #5). Each is verified before its body is parsed or anything is stored; a
 * failed check answers 401 and does nothing else (the reason goes to the log, not to the sender).
 *
 * - `POST /webhooks/hubspot`: signature v3 over the raw body and the public URL (PUBLIC_URL + path), with
 *   the timestamp window (src/security/signatures.ts). Events are deduped on
 *   (portal, subscription, eventId, occurredAt) — HubSpot may deliver twice — and, in one transaction with
 *   that, queued as one enrichment job per portal; the answer (200) does not wait for the work, well inside
 *   HubSpot's 5-second budget. `contact.creation` and an `email` change enrich the contact from intent we
 *   hold; `contact.privacyDeletion` purges the person from the store at once.
 * - `POST /webhooks/salesforce?key=<secret>`: an Outbound Message (SOAP) for new Leads/Contacts. The key
 *   in the URL is the connection's own secret (constant-time compare) and the message's OrganizationId
 *   must be that connection's org. Notifications are deduped on their Id (Salesforce redelivers until it
 *   gets the Ack) and answered with the `Ack` envelope.
 * - `POST /webhooks/leadpipe`: `{ audienceId, runId }` signed with LEADPIPE_WEBHOOK_SECRET
 *   (`X-Orbit-Signature: t=<ms>,v1=<hex>`) queues a sync of that run for every connection subscribed to
 *   the audience, at once. Off (404) without the secret.
 */
import express, { Router, type Request, type Response } from 'express';
import * as xml2js from 'xml2js';
import { z } from 'zod';
import type { AppContext } from '../app/app-context';
import { purgePerson } from '../app/privacy';
import { hashEmail } from '../ingest/hash-email';
import { describeError } from '../lib/errors';
import { sameSecret, verifyHubspotV3, verifyLeadpipeTrigger, LEADPIPE_SIGNATURE_HEADER } from '../security/signatures';
import { createConnections, type Connection } from '../store/connections';
import { createConnectionSettings } from '../store/connection-settings';
import { createJobs } from '../store/jobs';
import { createWebhookEvents } from '../store/webhook-events';
import { syncDedupeKey } from '../scheduler/scheduler';
import type { EnrichRecord } from '../app/enrich';

const HubspotEvent = z.looseObject({
  eventId: z.union([z.number(), z.string()]).transform(String),
  subscriptionId: z.union([z.number(), z.string()]).transform(String).optional(),
  portalId: z.union([z.number(), z.string()]).transform(String),
  occurredAt: z.union([z.number(), z.string()]).transform(String).optional(),
  subscriptionType: z.string(),
  objectId: z.union([z.number(), z.string()]).transform(String),
  propertyName: z.string().optional(),
  propertyValue: z.string().optional(),
  appId: z.union([z.number(), z.string()]).transform(String).optional(),
  changeSource: z.string().optional(),
  sourceId: z.union([z.number(), z.string()]).transform(String).optional(),
});
const HubspotEvents = z.array(HubspotEvent).max(1000);

const ACK =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>';

const LeadpipeTrigger = z.strictObject({ audienceId: z.string().min(1).max(200), runId: z.string().min(1).max(200) });

function unauthorized(res: Response, ctx: AppContext, source: string, reason: string): void {
  ctx.logger.warn('webhook refused', { source, reason });
  res.status(401).json({ error: { code: 'SIGNATURE_INVALID', message: 'The request could not be verified.' } });
}

export function webhookRoutes(ctx: AppContext): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: ctx.config.app.limits.webhookBody });
  const tolerance = ctx.config.app.webhookTimestampToleranceMs;

  router.post('/hubspot', raw, async (req: Request, res: Response) => {
    const secret = ctx.config.hubspot.clientSecret;
    if (secret === undefined || ctx.config.publicUrl === undefined) {
      res.status(503).json({ error: { code: 'CONFIG_INVALID', message: 'HUBSPOT_CLIENT_SECRET and PUBLIC_URL are needed to verify HubSpot webhooks.' } });
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifyHubspotV3({
      clientSecret: secret,
      method: req.method,
      uri: `${ctx.config.publicUrl}${req.originalUrl}`,
      rawBody: body,
      signature: req.get('x-hubspot-signature-v3'),
      timestamp: req.get('x-hubspot-request-timestamp'),
      nowMs: ctx.now().getTime(),
      toleranceMs: tolerance,
    });
    if (!verdict.ok) return unauthorized(res, ctx, 'hubspot', verdict.reason);
    let events: z.infer<typeof HubspotEvents>;
    try {
      events = HubspotEvents.parse(JSON.parse(body.toString('utf8')));
    } catch {
      res.status(400).json({ error: { code: 'BAD_REQUEST', message: 'The body is not a JSON array of HubSpot webhook events.' } });
      return;
    }
    const connections = createConnections(ctx.db);
    const byPortal = new Map<string, Connection | undefined>();
    for (const portal of new Set(events.map((e) => e.portalId))) byPortal.set(portal, await connections.getByAccount('hubspot', portal));
    let queued = 0;
    let purged = 0;
    await ctx.db.transaction().execute(async (trx) => {
      const keyOf = (e: (typeof events)[number]): string => `${e.portalId}:${e.subscriptionId ?? ''}:${e.eventId}:${e.occurredAt ?? ''}`;
      const fresh = new Set(await createWebhookEvents(trx, { now: ctx.now }).accept('hubspot', events.map(keyOf)));
      const work = new Map<string, EnrichRecord[]>();
      for (const e of events) {
        if (!fresh.has(keyOf(e))) continue;
        fresh.delete(keyOf(e));
        const connection = byPortal.get(e.portalId);
        if (!connection) continue;
        if (e.subscriptionType === 'contact.privacyDeletion') {
          // In the transaction that marks the event seen: a failed purge is delivered again, not lost.
          const result = await purgePerson(trx, connection.id, { crmRecordId: e.objectId });
          ctx.logger.info('privacy deletion: the person was purged from the store', { connectionId: connection.id, ...result });
          purged += 1;
          continue;
        }
        let record: EnrichRecord | undefined;
        if (e.subscriptionType === 'contact.creation') {
          // [INFER] A contact our own sync created (changeSource INTEGRATION, sourceId = our app id) holds
          // nothing to enrich: skipping it saves a read per created contact.
          if (e.changeSource === 'INTEGRATION' && e.sourceId !== undefined && e.appId !== undefined && e.sourceId === e.appId) continue;
          record = { id: e.objectId, type: 'contact' };
        }
        else if (e.subscriptionType === 'contact.propertyChange' && e.propertyName === 'email' && e.propertyValue?.trim()) {
          // The new email is hashed here: no plaintext email is queued.
          record = { id: e.objectId, type: 'contact', emailHash: hashEmail(e.propertyValue) };
        }
        if (!record || connection.status !== 'active') continue;
        const list = work.get(connection.id) ?? [];
        list.push(record);
        work.set(connection.id, list);
      }
      const jobs = createJobs(trx, { now: ctx.now });
      for (const [connectionId, records] of work) {
        await jobs.enqueue({ kind: 'enrich', connectionId, payload: { records } });
        queued += records.length;
      }
    });
    if (queued > 0) ctx.notify();
    res.status(200).json({ received: events.length, queued, purged });
  });

  router.post('/salesforce', raw, async (req: Request, res: Response) => {
    const key = typeof req.query.key === 'string' ? req.query.key : '';
    // The URL's secret names the connection: checked before the body is read.
    let connection: Connection | undefined;
    const settings = createConnectionSettings(ctx.db, ctx.key);
    for (const c of await createConnections(ctx.db).list({ crm: 'salesforce' })) {
      const secret = (await settings.get(c.id)).outboundSecret;
      if (secret !== undefined && key !== '' && sameSecret(key, secret)) connection = c;
    }
    if (!connection) return unauthorized(res, ctx, 'salesforce', 'the URL key matches no Salesforce connection');
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let parsed: { orgId: string; notifications: Array<{ id: string; type: string; recordId: string; email: string | undefined }> };
    try {
      parsed = await parseOutboundMessage(body);
    } catch (err) {
      ctx.logger.warn('Outbound Message not understood', { error: describeError(err) });
      res.status(400).type('text/plain').send('Not a Salesforce Outbound Message.');
      return;
    }
    if (parsed.orgId.slice(0, 15) !== connection.accountId.slice(0, 15)) return unauthorized(res, ctx, 'salesforce', `OrganizationId ${parsed.orgId} is not the connection's org`);
    const target = connection;
    let queued = 0;
    await ctx.db.transaction().execute(async (trx) => {
      const fresh = new Set(await createWebhookEvents(trx, { now: ctx.now }).accept('salesforce', parsed.notifications.map((n) => `${target.accountId}:${n.id}`)));
      const records: EnrichRecord[] = parsed.notifications
        .filter((n) => fresh.has(`${target.accountId}:${n.id}`))
        .map((n) => ({ id: n.recordId, type: n.type, ...(n.email !== undefined && { emailHash: hashEmail(n.email) }) }));
      if (records.length > 0 && target.status === 'active') {
        await createJobs(trx, { now: ctx.now }).enqueue({ kind: 'enrich', connectionId: target.id, payload: { records } });
        queued = records.length;
      }
    });
    if (queued > 0) ctx.notify();
    res.status(200).type('text/xml; charset=utf-8').send(ACK);
  });

  router.post('/leadpipe', raw, async (req: Request, res: Response) => {
    const secret = ctx.config.app.leadpipeWebhookSecret;
    if (secret === undefined) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'The Leadpipe trigger is off: set LEADPIPE_WEBHOOK_SECRET to turn it on.' } });
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verdict = verifyLeadpipeTrigger({ secret, header: req.get(LEADPIPE_SIGNATURE_HEADER), rawBody: body, nowMs: ctx.now().getTime(), toleranceMs: tolerance });
    if (!verdict.ok) return unauthorized(res, ctx, 'leadpipe', verdict.reason);
    let trigger: z.infer<typeof LeadpipeTrigger>;
    try {
      trigger = LeadpipeTrigger.parse(JSON.parse(body.toString('utf8')));
    } catch {
      res.status(400).json({ error: { code: 'BAD_REQUEST', message: 'The body must be {"audienceId": "…", "runId": "…"}.' } });
      return;
    }
    const subscribed = await ctx.db
      .selectFrom('audience_subscriptions as s')
      .innerJoin('connections as c', 'c.id', 's.connection_id')
      .select('c.id')
      .where('s.audience_id', '=', trigger.audienceId)
      .where('s.active', '=', 1)
      .where('c.status', '=', 'active')
      .execute();
    const jobs = createJobs(ctx.db, { now: ctx.now });
    const queued: string[] = [];
    for (const { id } of subscribed) {
      const done = await ctx.db.selectFrom('sync_runs').select('id').where('connection_id', '=', id).where('run_id', '=', trigger.runId).where('status', 'in', ['succeeded', 'partial']).executeTakeFirst();
      if (done) continue;
      const { job } = await jobs.enqueue({ kind: 'sync', connectionId: id, payload: { audienceId: trigger.audienceId, runId: trigger.runId, trigger: 'webhook' }, dedupeKey: syncDedupeKey(id, trigger.runId) });
      queued.push(job.id);
    }
    if (queued.length > 0) ctx.notify();
    res.status(202).json({ connections: subscribed.length, jobs: queued });
  });

  return router;
}

type XmlNode = Record<string, unknown>;

/** `soapenv:Body` → `Body`, `xsi:type` → `type`. */
const stripPrefix = (name: string): string => name.replace(/^[^:]*:/, '');

function asArray(value: unknown): unknown[] {
  return value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (value && typeof value === 'object' && typeof (value as XmlNode)._ === 'string') return ((value as XmlNode)._ as string).trim() || undefined;
  return undefined;
}

/** OrganizationId and each Notification's Id, sObject type, record Id and Email (if the message carries it). */
export async function parseOutboundMessage(xml: string): Promise<{ orgId: string; notifications: Array<{ id: string; type: string; recordId: string; email: string | undefined }> }> {
  const doc = (await xml2js.parseStringPromise(xml, {
    explicitArray: false,
    tagNameProcessors: [stripPrefix],
    attrNameProcessors: [stripPrefix],
  })) as XmlNode;
  const envelope = doc.Envelope as XmlNode | undefined;
  const bodyNode = envelope?.Body as XmlNode | undefined;
  const notificationsNodes = asArray(bodyNode?.notifications) as XmlNode[];
  if (notificationsNodes.length === 0) throw new Error('no notifications element');
  let orgId: string | undefined;
  const notifications: Array<{ id: string; type: string; recordId: string; email: string | undefined }> = [];
  for (const n of notificationsNodes) {
    const org = text(n.OrganizationId);
    if (org === undefined || (orgId !== undefined && org !== orgId)) throw new Error('missing or mixed OrganizationId');
    orgId = org;
    for (const item of asArray(n.Notification) as XmlNode[]) {
      const sObject = item.sObject as XmlNode | undefined;
      const attrs = (sObject?.$ ?? {}) as XmlNode;
      const type = (typeof attrs.type === 'string' ? attrs.type : '').replace(/^.*:/, '');
      const id = text(item.Id);
      const recordId = text(sObject?.Id);
      if (id === undefined || recordId === undefined || (type !== 'Lead' && type !== 'Contact')) throw new Error('a Notification lacks Id, sObject Id or a Lead/Contact type');
      notifications.push({ id, type, recordId, email: text(sObject?.Email) });
    }
  }
  if (orgId === undefined) throw new Error('no OrganizationId');
  return { orgId, notifications };
}
