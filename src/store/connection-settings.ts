/**
 * Per-connection settings of the installed app: the organization's Leadpipe API key and the Salesforce
 * Outbound Message secret, sealed with ENCRYPTION_KEY (the store holds ciphertext only), and the admin's
 * overrides (plain JSON: thresholds and policies, no secrets).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { open, seal } from '../security/token-vault';
import type { Database } from './schema';

export interface ConnectionSettings {
  leadpipeApiKey: string | undefined;
  /** Raw JSON object; src/app/overrides.ts validates it. */
  overrides: unknown;
  outboundSecret: string | undefined;
}

export interface ConnectionSettingsRepo {
  get(connectionId: string): Promise<ConnectionSettings>;
  setLeadpipeKey(connectionId: string, apiKey: string): Promise<void>;
  setOverrides(connectionId: string, overrides: unknown): Promise<void>;
  /** The connection's Outbound Message secret, made (32 random bytes, base64url) on first use. */
  outboundSecret(connectionId: string): Promise<string>;
}

export function createConnectionSettings(db: Kysely<Database>, key: Buffer, options: { now?: () => Date } = {}): ConnectionSettingsRepo {
  const now = options.now ?? (() => new Date());
  const upsert = async (connectionId: string, values: { leadpipe_key_sealed?: string; overrides?: string; outbound_secret_sealed?: string }): Promise<void> => {
    const at = now().toISOString();
    await db
      .insertInto('connection_settings')
      .values({ connection_id: connectionId, leadpipe_key_sealed: null, overrides: '{}', outbound_secret_sealed: null, ...values, updated_at: at })
      .onConflict((oc) => oc.column('connection_id').doUpdateSet({ ...values, updated_at: at }))
      .execute();
  };
  const get = async (connectionId: string): Promise<ConnectionSettings> => {
    const row = await db.selectFrom('connection_settings').selectAll().where('connection_id', '=', connectionId).executeTakeFirst();
    return {
      leadpipeApiKey: row?.leadpipe_key_sealed ? open(key, row.leadpipe_key_sealed) : undefined,
      overrides: row ? (JSON.parse(row.overrides) as unknown) : {},
      outboundSecret: row?.outbound_secret_sealed ? open(key, row.outbound_secret_sealed) : undefined,
    };
  };
  return {
    get,
    async setLeadpipeKey(connectionId, apiKey) {
      await upsert(connectionId, { leadpipe_key_sealed: seal(key, apiKey) });
    },
    async setOverrides(connectionId, overrides) {
      await upsert(connectionId, { overrides: JSON.stringify(overrides) });
    },
    async outboundSecret(connectionId) {
      const existing = (await get(connectionId)).outboundSecret;
      if (existing !== undefined) return existing;
      const secret = randomBytes(32).toString('base64url');
      await upsert(connectionId, { outbound_secret_sealed: seal(key, secret) });
      return secret;
    },
  };
}
