import type { Store } from '../../../src/store/db';
import { openStore } from '../../../src/store/db';
import { createWebhookEvents, type WebhookEvents } from '../../../src/store/webhook-events';
import { FIXED_NOW } from './helpers';

const HOUR_MS = 3_600_000;

describe('webhook events', () => {
  let store: Store;
  let at: Date;
  let events: WebhookEvents;

  beforeEach(async () => {
    store = await openStore(':memory:');
    at = FIXED_NOW;
    events = createWebhookEvents(store.db, { now: () => at });
  });
  afterEach(async () => {
    await store.close();
  });

  it('accept returns only the keys not seen before, in input order, once each', async () => {
    expect(await events.accept('hubspot', ['123:1:e1:100', '123:1:e2:100'])).toEqual(['123:1:e1:100', '123:1:e2:100']);
    // A redelivery with one new event: only the new one is processed.
    expect(await events.accept('hubspot', ['123:1:e3:200', '123:1:e2:100', '123:1:e1:100'])).toEqual(['123:1:e3:200']);
    expect(await events.accept('hubspot', ['123:1:e1:100'])).toEqual([]);
    // The same key twice in one delivery counts once.
    expect(await events.accept('hubspot', ['123:1:e4:300', '123:1:e4:300'])).toEqual(['123:1:e4:300']);
    expect(await events.accept('hubspot', [])).toEqual([]);
  });

  it('keys are per source', async () => {
    expect(await events.accept('hubspot', ['k1'])).toEqual(['k1']);
    expect(await events.accept('salesforce', ['k1'])).toEqual(['k1']);
    expect(await events.accept('salesforce', ['k1'])).toEqual([]);
  });

  it('inside a transaction that rolls back, nothing is remembered', async () => {
    await expect(
      store.db.transaction().execute(async (trx) => {
        expect(await createWebhookEvents(trx, { now: () => at }).accept('hubspot', ['k1'])).toEqual(['k1']);
        throw new Error('enqueue failed');
      }),
    ).rejects.toThrow('enqueue failed');
    expect(await events.accept('hubspot', ['k1'])).toEqual(['k1']);
  });

  it('prune forgets keys received before the cut-off, so they would be accepted again', async () => {
    await events.accept('hubspot', ['old']);
    at = new Date(FIXED_NOW.getTime() + 2 * HOUR_MS);
    await events.accept('hubspot', ['new']);

    expect(await events.prune(new Date(FIXED_NOW.getTime() + HOUR_MS))).toBe(1);
    expect(await events.accept('hubspot', ['old', 'new'])).toEqual(['old']);
    expect(await events.prune(new Date(FIXED_NOW.getTime() + HOUR_MS))).toBe(0);
  });
});
