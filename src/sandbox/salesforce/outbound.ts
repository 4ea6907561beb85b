/**
 * Outbound Messages (reference §9 item 3): the SOAP notifications a flow / workflow rule sends when a Lead
 * or Contact is created, as the org's background sender delivers them.
 *
 * - A committed creation (collections, single-record calls, Bulk 2.0 rows, `createRecordAsUser`; never
 *   seeding) of a configured object queues one Notification (id 04l…). The queue drains on a timer, never
 *   inside the API request: what one request created goes out together, one SOAP message per object
 *   (an outbound message is defined per object [INFER]) of at most `maxNotificationsPerMessage` (≤ 100).
 * - Each attempt reads the records again: "if the information in the object changes after the
 *   notification is queued but before it's sent, only the latest data is delivered" (Salesforce API guide,
 *   "Understanding Notifications"). Null fields are left out; Id always comes first.
 * - POST `endpointUrl`, `Content-Type: text/xml; charset=utf-8`, `SOAPAction: ""`, a fresh connection per
 *   attempt. Success: a 2xx whose SOAP Body holds an `Ack` of `true` (or `1`, xsd:boolean) in the
 *   outbound namespace, resolved through the document's namespace declarations (any prefix). Anything
 *   else — another status, no or a false Ack, unparseable XML, a refused or reset connection, no answer
 *   within `timeoutMs` — is retried with the same Notification Ids (receivers dedupe on them) after
 *   `retryDelayMs`, doubling (Salesforce backs off exponentially up to 2 h and gives up after 24 h; the
 *   sandbox gives up after `maxAttempts`). Retries do not wait for the rest of the queue.
 * - [INFER] `SessionId` is sent nil (reports say Salesforce stopped sending sessions in 2026); date-times
 *   in SOAP form (`2026-01-05T09:00:00.000Z`); ids are 18 characters; the org id in the SOAP URLs is 15.
 * - [INFER] Deactivating (configure undefined) drops queued notifications and pending retries; an attempt
 *   in flight finishes but is not retried. Reconfiguring keeps the queue; the next attempt uses the new
 *   settings. `close()` aborts attempts in flight and clears every timer.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import * as xml2js from 'xml2js';
import { makeId } from './schema';
import {
  DEFAULT_OUTBOUND_FIELDS,
  DEFAULT_OUTBOUND_MAX_ATTEMPTS,
  DEFAULT_OUTBOUND_MAX_NOTIFICATIONS,
  DEFAULT_OUTBOUND_RETRY_DELAY_MS,
  DEFAULT_OUTBOUND_TIMEOUT_MS,
  OUTBOUND_MESSAGE_NAMESPACE,
  OUTBOUND_OBJECT_TYPES,
  type OutboundDelivery,
  type OutboundEnvelopeInput,
  type OutboundMessageConfig,
  type OutboundObjectType,
  type SalesforceObjectType,
} from './types';

const SOAP_ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP_API_VERSION = '62.0';
/** Salesforce's maximum notifications per message. */
const MAX_NOTIFICATIONS = 100;
/** Endpoint answers past this are cut off (a failed attempt). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

// --- the envelope ---------------------------------------------------------------------------------------

/** Text for XML content and attributes: escaped, characters XML 1.0 cannot carry dropped. */
function xmlText(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The SOAP message Salesforce POSTs for one outbound message: one `notifications` element holding every
 * notification given, each with its sObject's fields (in the order given; Id first when present).
 */
export function outboundMessageEnvelope(input: OutboundEnvelopeInput): string {
  const org15 = input.orgId.slice(0, 15);
  const base = input.url.replace(/\/+$/, '');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<soapenv:Envelope xmlns:soapenv="${SOAP_ENVELOPE_NAMESPACE}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`,
    ' <soapenv:Body>',
    `  <notifications xmlns="${OUTBOUND_MESSAGE_NAMESPACE}">`,
    `   <OrganizationId>${xmlText(input.orgId)}</OrganizationId>`,
    `   <ActionId>${xmlText(input.actionId)}</ActionId>`,
    '   <SessionId xsi:nil="true"/>',
    `   <EnterpriseUrl>${xmlText(`${base}/services/Soap/c/${SOAP_API_VERSION}/${org15}`)}</EnterpriseUrl>`,
    `   <PartnerUrl>${xmlText(`${base}/services/Soap/u/${SOAP_API_VERSION}/${org15}`)}</PartnerUrl>`,
  ];
  for (const n of input.notifications) {
    lines.push('   <Notification>', `    <Id>${xmlText(n.id)}</Id>`, `    <sObject xsi:type="sf:${n.type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`);
    const names = Object.keys(n.fields);
    const ordered = names.includes('Id') ? ['Id', ...names.filter((k) => k !== 'Id')] : names;
    for (const name of ordered) {
      if (!FIELD_NAME.test(name)) throw new RangeError(`outboundMessageEnvelope: ${name} is not a field name`);
      lines.push(`     <sf:${name}>${xmlText(n.fields[name] ?? '')}</sf:${name}>`);
    }
    lines.push('    </sObject>', '   </Notification>');
  }
  lines.push('  </notifications>', ' </soapenv:Body>', '</soapenv:Envelope>');
  return lines.join('\n');
}

// --- the Ack --------------------------------------------------------------------------------------------

type XmlElement = Record<string, unknown>;

function isObject(v: unknown): v is XmlElement {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An element's namespace URI and local name (xml2js `xmlns: true` puts them in `$ns`). */
function qname(el: XmlElement): { uri: string; local: string } {
  const ns = el.$ns;
  return isObject(ns) && typeof ns.uri === 'string' && typeof ns.local === 'string' ? { uri: ns.uri, local: ns.local } : { uri: '', local: '' };
}

function childElements(el: XmlElement): XmlElement[] {
  return Object.entries(el)
    .filter(([k]) => k !== '$' && k !== '$ns' && k !== '_')
    .flatMap(([, v]): unknown[] => (Array.isArray(v) ? (v as unknown[]) : [v]))
    .filter(isObject);
}

function holdsAck(el: XmlElement): boolean {
  return childElements(el).some((c) => {
    const { uri, local } = qname(c);
    const text = typeof c._ === 'string' ? c._.trim() : '';
    return (uri === OUTBOUND_MESSAGE_NAMESPACE && local === 'Ack' && (text === 'true' || text === '1')) || holdsAck(c);
  });
}

/** Whether an endpoint's answer acknowledges the notifications: `<Ack>true</Ack>` in the outbound namespace, in the SOAP Body. */
export async function isOutboundAck(text: string): Promise<boolean> {
  let doc: unknown;
  try {
    doc = await xml2js.parseStringPromise(text, { xmlns: true, explicitArray: true, explicitRoot: true });
  } catch {
    return false;
  }
  const root = isObject(doc) ? Object.values(doc)[0] : undefined;
  if (!isObject(root)) return false;
  const envelope = qname(root);
  if (envelope.uri !== SOAP_ENVELOPE_NAMESPACE || envelope.local !== 'Envelope') return false;
  return childElements(root).some((c) => {
    const { uri, local } = qname(c);
    return uri === SOAP_ENVELOPE_NAMESPACE && local === 'Body' && holdsAck(c);
  });
}

// --- the sender -----------------------------------------------------------------------------------------

export interface OutboundDeps {
  orgId: string;
  /** The instance URL. Read lazily: known once the server listens. */
  baseUrl: () => string;
  /** A field's canonical name on `type`, or undefined when the object has no such field. */
  fieldName: (type: OutboundObjectType, name: string) => string | undefined;
  /** The record's current values of `fields` (canonical names) as SOAP text; null fields left out. */
  values: (type: OutboundObjectType, recordId: string, fields: readonly string[]) => Record<string, string>;
}

interface Settings {
  endpointUrl: string;
  objects: ReadonlySet<OutboundObjectType>;
  fields: readonly string[];
  maxNotificationsPerMessage: number;
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
}

interface QueuedNotification {
  id: string;
  type: OutboundObjectType;
  recordId: string;
}

interface Message {
  type: OutboundObjectType;
  notifications: QueuedNotification[];
  attempts: number;
}

function httpUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`${what} must be an absolute http(s) URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`${what} must be an absolute http(s) URL: ${value}`);
  return url;
}

function isOutboundType(type: SalesforceObjectType): type is OutboundObjectType {
  return (OUTBOUND_OBJECT_TYPES as readonly string[]).includes(type);
}

export class OutboundMessaging {
  private settings: Settings | undefined;
  private readonly actionIds: Record<OutboundObjectType, string> = { Lead: makeId('04k', 310_001), Contact: makeId('04k', 310_002) };
  private notificationSequence = 0;
  private queue: QueuedNotification[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly retryTimers = new Map<NodeJS.Timeout, Message>();
  /** Attempts under way (POST sent, answer not judged yet). */
  private active = 0;
  private readonly requests = new Set<ClientRequest>();
  private readonly log: OutboundDelivery[] = [];
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly deps: OutboundDeps) {}

  configure(config: OutboundMessageConfig | undefined): void {
    if (config === undefined) {
      this.settings = undefined;
      this.queue = [];
      if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      for (const timer of this.retryTimers.keys()) clearTimeout(timer);
      this.retryTimers.clear();
      this.settle();
      return;
    }
    httpUrl(config.endpointUrl, 'configureOutboundMessage: endpointUrl');
    const objects = new Set(config.objects ?? OUTBOUND_OBJECT_TYPES);
    if (objects.size === 0) throw new RangeError('configureOutboundMessage: objects must name Lead and/or Contact');
    for (const o of objects) if (!(OUTBOUND_OBJECT_TYPES as readonly string[]).includes(o)) throw new RangeError(`configureOutboundMessage: ${String(o)} cannot have an outbound message here`);
    const fields = config.fields ?? DEFAULT_OUTBOUND_FIELDS;
    for (const f of fields) {
      if (![...objects].some((o) => this.deps.fieldName(o, f) !== undefined)) throw new RangeError(`configureOutboundMessage: no field ${f} on ${[...objects].join(' or ')}`);
    }
    const int = (name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
      const v = value ?? fallback;
      if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`configureOutboundMessage: ${name} must be an integer from ${min} to ${max}`);
      return v;
    };
    this.settings = {
      endpointUrl: config.endpointUrl,
      objects,
      fields: [...fields],
      maxNotificationsPerMessage: int('maxNotificationsPerMessage', config.maxNotificationsPerMessage, DEFAULT_OUTBOUND_MAX_NOTIFICATIONS, 1, MAX_NOTIFICATIONS),
      maxAttempts: int('maxAttempts', config.maxAttempts, DEFAULT_OUTBOUND_MAX_ATTEMPTS, 1),
      retryDelayMs: int('retryDelayMs', config.retryDelayMs, DEFAULT_OUTBOUND_RETRY_DELAY_MS, 0),
      timeoutMs: int('timeoutMs', config.timeoutMs, DEFAULT_OUTBOUND_TIMEOUT_MS, 1),
    };
  }

  /** Committed creations (the write path's `onCreated`). */
  created(records: ReadonlyArray<{ type: SalesforceObjectType; id: string }>): void {
    const settings = this.settings;
    if (this.closed || !settings) return;
    for (const { type, id } of records) {
      if (!isOutboundType(type) || !settings.objects.has(type)) continue;
      this.notificationSequence++;
      this.queue.push({ id: makeId('04l', this.notificationSequence * 7_919 + 104_729), type, recordId: id });
    }
    if (this.queue.length > 0) this.drainTimer ??= setTimeout(() => this.drain(), 0);
  }

  deliveries(): OutboundDelivery[] {
    return this.log.map((d) => ({ ...d, notificationIds: [...d.notificationIds] }));
  }

  flush(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** POSTs a message as the org would; the answer as it came (a connection failure rejects). */
  async deliverRaw(input: { body: string; url?: string }): Promise<{ status: number; text: string }> {
    if (this.closed) throw new Error('Salesforce sandbox: closed');
    const url = input.url ?? this.settings?.endpointUrl;
    if (url === undefined) throw new Error('deliverRawOutboundMessage: no url and no outbound message configured');
    httpUrl(url, 'deliverRawOutboundMessage: url');
    return this.post(url, input.body, this.settings?.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS);
  }

  /** Stops everything: timers cleared, attempts in flight aborted, flush() resolved. */
  close(): void {
    this.closed = true;
    this.configure(undefined);
    for (const req of this.requests) req.destroy(new Error('Salesforce sandbox closed'));
    this.requests.clear();
    this.active = 0;
    this.settle();
  }

  private idle(): boolean {
    return this.closed || (this.queue.length === 0 && this.drainTimer === undefined && this.retryTimers.size === 0 && this.active === 0);
  }

  private settle(): void {
    if (!this.idle()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private drain(): void {
    this.drainTimer = undefined;
    const settings = this.settings;
    const queued = this.queue;
    this.queue = [];
    if (settings && !this.closed) {
      for (const type of OUTBOUND_OBJECT_TYPES) {
        const ofType = queued.filter((n) => n.type === type);
        for (let i = 0; i < ofType.length; i += settings.maxNotificationsPerMessage) {
          this.attempt({ type, notifications: ofType.slice(i, i + settings.maxNotificationsPerMessage), attempts: 0 });
        }
      }
    }
    this.settle();
  }

  private attempt(message: Message): void {
    const settings = this.settings;
    if (!settings || this.closed) return;
    message.attempts++;
    const body = outboundMessageEnvelope({
      orgId: this.deps.orgId,
      actionId: this.actionIds[message.type],
      url: this.deps.baseUrl(),
      notifications: message.notifications.map((n) => ({ id: n.id, type: n.type, fields: this.fieldsOf(n, settings.fields) })),
    });
    this.active++;
    const judged = this.post(settings.endpointUrl, body, settings.timeoutMs).then(
      async (res) => ({ status: res.status, acked: res.status >= 200 && res.status < 300 && (await isOutboundAck(res.text)) }),
      () => ({ status: 'error' as const, acked: false }),
    );
    void judged.then(({ status, acked }) => {
      if (this.closed) return;
      this.active--;
      this.log.push({ notificationIds: message.notifications.map((n) => n.id), objectType: message.type, url: settings.endpointUrl, attempt: message.attempts, status, acked, body });
      const current = this.settings;
      if (!acked && current && message.attempts < current.maxAttempts) {
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.attempt(message);
          this.settle();
        }, current.retryDelayMs * 2 ** (message.attempts - 1));
        this.retryTimers.set(timer, message);
      }
      this.settle();
    });
  }

  private fieldsOf(n: QueuedNotification, fields: readonly string[]): Record<string, string> {
    const names: string[] = ['Id'];
    for (const f of fields) {
      const name = this.deps.fieldName(n.type, f);
      if (name !== undefined && !names.includes(name)) names.push(name);
    }
    return { Id: n.recordId, ...this.deps.values(n.type, n.recordId, names) };
  }

  private post(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(target, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""', 'content-length': Buffer.byteLength(body), connection: 'close' },
      });
      this.requests.add(req);
      let settled = false;
      const finish = (err: Error | undefined, answer?: { status: number; text: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.requests.delete(req);
        if (err !== undefined || answer === undefined) reject(err ?? new Error('no answer'));
        else resolve(answer);
      };
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`answer over ${MAX_RESPONSE_BYTES} bytes`));
          else parts.push(chunk);
        });
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
        res.on('error', (err) => finish(err));
        res.on('close', () => finish(new Error('connection closed before the answer ended')));
      });
      req.end(body);
    });
  }
}
