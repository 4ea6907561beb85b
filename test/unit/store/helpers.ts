import { createHash } from 'node:crypto';
import { openStore, type Store } from '../../../src/store/db';

export const FIXED_NOW = new Date('2026-01-31T08:00:00.000Z');

/** A clock that returns the given instants in order, then repeats the last one. */
export function clockOf(...isoTimes: string[]): () => Date {
  let i = 0;
  return () => new Date(isoTimes[Math.min(i++, isoTimes.length - 1)] ?? FIXED_NOW.toISOString());
}

export function hashEmail(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}

/** A fresh in-memory store with one HubSpot connection `conn-1`. */
export async function openMemoryStoreWithConnection(): Promise<Store> {
  const store = await openStore(':memory:');
  await store.db
    .insertInto('connections')
    .values({
      id: 'conn-1',
      crm: 'hubspot',
      account_id: '12345678',
      status: 'active',
      created_at: FIXED_NOW.toISOString(),
      updated_at: FIXED_NOW.toISOString(),
    })
    .execute();
  return store;
}
