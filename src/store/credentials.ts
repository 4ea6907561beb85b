/**
 * A connection's CRM credentials (access and refresh tokens, instance URL), sealed with ENCRYPTION_KEY
 * by the token vault: the store holds ciphertext only.
 */
import type { Kysely } from 'kysely';
import { open, seal } from '../security/token-vault';
import type { Database } from './schema';

export interface Credentials {
  get(connectionId: string): Promise<Record<string, string> | undefined>;
  put(connectionId: string, values: Record<string, string>): Promise<void>;
}

export function createCredentials(db: Kysely<Database>, key: Buffer, options: { now?: () => Date } = {}): Credentials {
  const now = options.now ?? (() => new Date());
  return {
    async get(connectionId) {
      const row = await db.selectFrom('connection_credentials').select('sealed').where('connection_id', '=', connectionId).executeTakeFirst();
      if (!row) return undefined;
      const value: unknown = JSON.parse(open(key, row.sealed));
      if (value === null || typeof value !== 'object') return undefined;
      return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
    },
    async put(connectionId, values) {
      const sealed = seal(key, JSON.stringify(values));
      const updatedAt = now().toISOString();
      await db
        .insertInto('connection_credentials')
        .values({ connection_id: connectionId, sealed, updated_at: updatedAt })
        .onConflict((oc) => oc.column('connection_id').doUpdateSet({ sealed, updated_at: updatedAt }))
        .execute();
    },
  };
}
