/**
 * Webhook deliveries of the sandbox's OAuth app (reference §9): events queued as records change, sent
 * asynchronously to the target URL as a JSON array, signed with v3 (and v1), retried on failure.
 *
 * Choices where the reference is silent or marked [INFER]:
 * - Events are coalesced for COALESCE_MS, then sent in order, one POST at a time, up to
 *   `maxEventsPerRequest` each (HubSpot sends concurrently, unordered; order is a sandbox convenience).
 * - A failed POST (connection error, timeout over `timeoutMs`, any non-2xx) is retried after
 *   `retryDelayMs`, up to `maxAttempts` attempts in all, re-signed with a new timestamp; the events
 *   carry `attemptNumber` = the attempt (0 first). HubSpot: up to 10 retries over 24 h, randomized.
 * - [INFER] Creation does not also fire `propertyChange` for the values set at creation; a change fires
 *   only when the stored (normalized) value differs; a cleared value fires with `propertyValue: ''`.
 * - [INFER] changeSource: `INTEGRATION` with `sourceId` = the app id for the app's OAuth tokens, `API`
 *   for other tokens, `CRM_UI` with `sourceId` `userId:<id>` for a user, `GDPR` for a privacy deletion.
 * - [INFER] Besides `X-HubSpot-Signature-v3`, the v1 headers (`X-HubSpot-Signature`,
 *   `X-HubSpot-Signature-Version: v1`) are sent, as webhook deliveries still carry them (reference §9).
 * - Removing the settings drops events not yet sent; a batch already being sent finishes its attempts.
 */
import { createHash, createHmac, randomInt } from 'node:crypto';
import type { RecordChange } from './records';
import {
  DEFAULT_HUBSPOT_WEBHOOK_SUBSCRIPTIONS,
  type HubspotObjectType,
  type HubspotRawWebhookInput,
  type HubspotWebhookDelivery,
  type HubspotWebhookEvent,
  type HubspotWebhookOptions,
} from './types';

export const WEBHOOK_USER_AGENT = 'HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon';
/** How long the first event of a batch waits for others. */
const COALESCE_MS = 10;
const OBJECT_NAMES: Record<HubspotObjectType, string> = { contacts: 'contact', companies: 'company', deals: 'deal' };

/** Who made a change, as webhook events tell it. */
export interface WebhookActor {
  changeSource: string;
  sourceId?: string;
}

/** The percent-escapes HubSpot decodes in the URI before signing (reference §9). */
const DECODED_IN_URI: ReadonlyArray<readonly [RegExp, string]> = (
  [
    ['%3A', ':'],
    ['%2F', '/'],
    ['%3F', '?'],
    ['%40', '@'],
    ['%21', '!'],
    ['%24', '$'],
    ['%27', "'"],
    ['%28', '('],
    ['%29', ')'],
    ['%2A', '*'],
    ['%2C', ','],
    ['%3B', ';'],
  ] as const
).map(([escape, char]) => [new RegExp(escape, 'gi'), char] as const);

/**
 * HubSpot's v3 request signature: base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp)),
 * `uri` the full URL called (query included), with the escapes of reference §9 decoded (a no-op for
 * URLs without them).
 */
export function signHubspotWebhookV3(input: { clientSecret: string; method: string; uri: string; body: string; timestamp: number | string }): string {
  const uri = DECODED_IN_URI.reduce((u, [escape, char]) => u.replace(escape, char), input.uri);
  return createHmac('sha256', input.clientSecret).update(`${input.method}${uri}${input.body}${String(input.timestamp)}`, 'utf8').digest('base64');
}

/** v1: hex(SHA-256(clientSecret + body)). */
function signV1(clientSecret: string, body: string): string {
  return createHash('sha256').update(`${clientSecret}${body}`, 'utf8').digest('hex');
}

interface Settings {
  targetUrl: string;
  subscriptions: Set<string>;
  maxEventsPerRequest: number;
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min) throw new RangeError(`HubSpot sandbox: webhooks.${name} must be an integer ≥ ${min}`);
  return n;
}

const SUBSCRIPTION = /^(contact|company|deal)\.(creation|privacyDeletion|propertyChange(?::[A-Za-z0-9_]+)?)$/;

function settingsOf(options: HubspotWebhookOptions): Settings {
  let url: URL;
  try {
    url = new URL(options.targetUrl);
  } catch {
    throw new RangeError(`HubSpot sandbox: webhooks.targetUrl ${options.targetUrl} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError('HubSpot sandbox: webhooks.targetUrl must be http(s)');
  const subscriptions = options.subscriptions ?? DEFAULT_HUBSPOT_WEBHOOK_SUBSCRIPTIONS;
  for (const s of subscriptions) {
    const m = SUBSCRIPTION.exec(s);
    if (!m || (m[2] === 'privacyDeletion' && m[1] !== 'contact')) {
      throw new RangeError(`HubSpot sandbox: unsupported webhook subscription ${s} (contact|company|deal .creation or .propertyChange:<name>, contact.privacyDeletion)`);
    }
    if (m[2] === 'propertyChange') throw new RangeError(`HubSpot sandbox: a propertyChange subscription names its property (${s}:email)`);
  }
  return {
    targetUrl: options.targetUrl,
    subscriptions: new Set(subscriptions),
    maxEventsPerRequest: positiveInt('maxEventsPerRequest', options.maxEventsPerRequest, 100),
    maxAttempts: positiveInt('maxAttempts', options.maxAttempts, 3),
    retryDelayMs: positiveInt('retryDelayMs', options.retryDelayMs, 50, 0),
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, 5000),
  };
}

/** What one POST came to. */
type PostOutcome = { ok: boolean; status: number; text: string } | { ok: false; status: 'error'; error: string };

export class WebhookDispatcher {
  private settings: Settings | undefined;
  private queue: HubspotWebhookEvent[] = [];
  private readonly deliveries: HubspotWebhookDelivery[] = [];
  private readonly subscriptionIds = new Map<string, number>();
  private nextSubscriptionId = randomInt(1_000_000, 9_000_000);
  private nextEventId = randomInt(1_000_000_000, 3_000_000_000);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stop = new AbortController();

  constructor(
    private readonly app: { portalId: number; appId: number; clientSecret: string | undefined; userId: number; now: () => number },
  ) {}

  configure(options: HubspotWebhookOptions | undefined): void {
    if (options === undefined) {
      this.settings = undefined;
      this.queue = [];
      return;
    }
    if (this.app.clientSecret === undefined) throw new RangeError('HubSpot sandbox: webhooks need the `oauth` option (its clientSecret signs them)');
    this.settings = settingsOf(options);
  }

  /** The actor of a sales rep in the HubSpot UI. */
  get userActor(): WebhookActor {
    return { changeSource: 'CRM_UI', sourceId: `userId:${this.app.userId}` };
  }

  /** The actor of an API call: the app's OAuth token, or another token. */
  apiActor(oauthApp: boolean): WebhookActor {
    return oauthApp ? { changeSource: 'INTEGRATION', sourceId: String(this.app.appId) } : { changeSource: 'API' };
  }

  /** A record change → `<object>.creation` or `<object>.propertyChange` (when subscribed). */
  recordChange(change: RecordChange, actor: WebhookActor): void {
    const object = OBJECT_NAMES[change.type];
    if (change.kind === 'created') {
      this.emit(`${object}.creation`, `${object}.creation`, change.id, actor, { changeFlag: 'CREATED' });
    } else {
      this.emit(`${object}.propertyChange:${change.name}`, `${object}.propertyChange`, change.id, actor, {
        propertyName: change.name,
        propertyValue: change.value,
      });
    }
  }

  privacyDeletion(contactId: string): void {
    this.emit('contact.privacyDeletion', 'contact.privacyDeletion', contactId, { changeSource: 'GDPR' }, {});
  }

  private emit(
    subscription: string,
    subscriptionType: string,
    objectId: string,
    actor: WebhookActor,
    extra: Pick<HubspotWebhookEvent, 'changeFlag' | 'propertyName' | 'propertyValue'>,
  ): void {
    if (!this.settings?.subscriptions.has(subscription) || this.stop.signal.aborted) return;
    let subscriptionId = this.subscriptionIds.get(subscription);
    if (subscriptionId === undefined) {
      subscriptionId = this.nextSubscriptionId++;
      this.subscriptionIds.set(subscription, subscriptionId);
    }
    this.queue.push({
      eventId: this.nextEventId++,
      subscriptionId,
      portalId: this.app.portalId,
      appId: this.app.appId,
      occurredAt: this.app.now(),
      subscriptionType,
      attemptNumber: 0,
      objectId: Number(objectId),
      ...(extra.propertyName === undefined ? {} : { propertyName: extra.propertyName, propertyValue: extra.propertyValue ?? '' }),
      ...(extra.changeFlag === undefined ? {} : { changeFlag: extra.changeFlag }),
      changeSource: actor.changeSource,
      ...(actor.sourceId === undefined ? {} : { sourceId: actor.sourceId }),
    });
    this.schedule();
  }

  private schedule(): void {
    if (this.running || this.timer || this.stop.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, COALESCE_MS);
  }

  private start(): void {
    if (this.running || this.stop.signal.aborted) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stop.signal.aborted) {
      const settings = this.settings;
      if (!settings) {
        this.queue = [];
        return;
      }
      await this.deliverBatch(this.queue.splice(0, settings.maxEventsPerRequest), settings);
    }
  }

  private async deliverBatch(batch: readonly HubspotWebhookEvent[], settings: Settings): Promise<void> {
    for (let attempt = 0; attempt < settings.maxAttempts; attempt++) {
      if (attempt > 0 && !(await this.pause(settings.retryDelayMs))) return;
      if (this.stop.signal.aborted) return;
      const events = batch.map((e) => ({ ...e, attemptNumber: attempt }));
      const body = JSON.stringify(events);
      const headers = this.headers(settings.targetUrl, body, this.app.now(), true);
      const outcome = await this.post(settings, body, headers);
      if (this.stop.signal.aborted && outcome.status === 'error') return; // cut short by close()
      this.deliveries.push({
        events,
        attempt,
        status: outcome.status,
        ...(outcome.status === 'error' ? { error: outcome.error } : {}),
        body,
        headers,
      });
      if (outcome.ok) return;
    }
  }

  /** Waits `ms`; false when close() came first. */
  private pause(ms: number): Promise<boolean> {
    const signal = this.stop.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private headers(targetUrl: string, body: string, timestamp: number, sign: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': WEBHOOK_USER_AGENT,
      'X-HubSpot-Request-Timestamp': String(timestamp),
    };
    const clientSecret = this.app.clientSecret;
    if (sign && clientSecret !== undefined) {
      headers['X-HubSpot-Signature-v3'] = signHubspotWebhookV3({ clientSecret, method: 'POST', uri: targetUrl, body, timestamp });
      headers['X-HubSpot-Signature'] = signV1(clientSecret, body);
      headers['X-HubSpot-Signature-Version'] = 'v1';
    }
    return headers;
  }

  private async post(settings: Settings, body: string, headers: Record<string, string>): Promise<PostOutcome> {
    try {
      const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(settings.timeoutMs)]);
      const res = await fetch(settings.targetUrl, { method: 'POST', headers, body, signal, redirect: 'manual' });
      const text = await res.text();
      return { ok: res.status >= 200 && res.status < 300, status: res.status, text };
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      const error = timedOut ? `timeout after ${settings.timeoutMs} ms` : `${err instanceof Error ? err.message : String(err)}${cause}`;
      return { ok: false, status: 'error', error };
    }
  }

  list(): HubspotWebhookDelivery[] {
    return structuredClone(this.deliveries);
  }

  async flush(): Promise<void> {
    for (;;) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.start();
      }
      if (!this.running) return;
      await this.running;
    }
  }

  /** A hand-made POST to the target URL (same headers and signing); connection errors and timeouts throw. */
  async deliverRaw(input: HubspotRawWebhookInput): Promise<{ status: number; text: string }> {
    const settings = this.settings;
    if (!settings) throw new RangeError('HubSpot sandbox: deliverRawWebhook needs webhooks configured (a targetUrl)');
    const headers = { ...this.headers(settings.targetUrl, input.body, input.timestamp ?? this.app.now(), input.sign !== false), ...input.headers };
    const outcome = await this.post(settings, input.body, headers);
    if (outcome.status === 'error') throw new Error(`HubSpot sandbox: webhook POST to ${settings.targetUrl} failed: ${outcome.error}`);
    return { status: outcome.status, text: outcome.text };
  }

  /** Stops at once: queued events are dropped, a POST in flight and a retry wait are aborted. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.stop.abort();
    await this.running;
  }
}
