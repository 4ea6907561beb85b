/**
 * Keys of webhook events already accepted, so a delivery the sender repeats (HubSpot and Salesforce both
 * retry and may deliver twice) is processed once. Keys are ids and timestamps only, never payloads.
 */
import type { Kysely } from 'kysely';
import { inTransaction } from './db';
import type { Database } from './schema';

export interface WebhookEvents {
  /** Records the keys; returns those not seen before (in input order). */
  accept(source: string, keys: readonly string[]): Promise<string[]>;
  /** Forgets keys received before `before` (senders stop retrying after 24 h). */
  prune(before: Date): Promise<number>;
}

export function createWebhookEvents(db: Kysely<Database>, options: { now?: () => Date } = {}): WebhookEvents {
  const now = options.now ?? (() => new Date());
  return {
    async accept(source, keys) {
      const fresh: string[] = [];
      const at = now().toISOString();
      await inTransaction(db, async (trx) => {
        for (const key of new Set(keys)) {
          const result = await trx
            .insertInto('webhook_events')
            .values({ source, event_key: key, received_at: at })
            .onConflict((oc) => oc.columns(['source', 'event_key']).doNothing())
            .executeTakeFirst();
          if ((result.numInsertedOrUpdatedRows ?? 0n) > 0n) fresh.push(key);
        }
      });
      return fresh;
    },
    async prune(before) {
      const result = await db.deleteFrom('webhook_events').where('received_at', '<', before.toISOString()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
