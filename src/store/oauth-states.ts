/**
 * OAuth `state` values: random, single-use and expiring (10 minutes by default), each with the PKCE code
 * verifier of its install (sealed). The value sent to the CRM is `<id>.<hmac>` (src/app/oauth-state.ts),
 * so a forged state is refused before the store is asked.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { open, seal } from '../security/token-vault';
import type { Crm, Database } from './schema';

export interface OAuthStates {
  create(crm: Crm, options?: { verifier?: string; ttlMs?: number }): Promise<string>;
  /** Deletes the state and returns it when it exists, belongs to `crm` and has not expired. */
  consume(id: string, crm: Crm): Promise<{ verifier: string | undefined } | undefined>;
}

export const OAUTH_STATE_TTL_MS = 10 * 60_000;

export function createOAuthStates(db: Kysely<Database>, key: Buffer, options: { now?: () => Date } = {}): OAuthStates {
  const now = options.now ?? (() => new Date());
  return {
    async create(crm, opts = {}) {
      const id = randomBytes(24).toString('base64url');
      const at = now();
      await db
        .insertInto('oauth_states')
        .values({
          id,
          crm,
          verifier_sealed: opts.verifier === undefined ? null : seal(key, opts.verifier),
          expires_at: new Date(at.getTime() + (opts.ttlMs ?? OAUTH_STATE_TTL_MS)).toISOString(),
          created_at: at.toISOString(),
        })
        .execute();
      // Expired states of abandoned installs are swept here, so the table stays small.
      await db.deleteFrom('oauth_states').where('expires_at', '<', at.toISOString()).execute();
      return id;
    },
    async consume(id, crm) {
      const row = await db.selectFrom('oauth_states').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const deleted = await db.deleteFrom('oauth_states').where('id', '=', id).executeTakeFirst();
      if (deleted.numDeletedRows !== 1n) return undefined; // used by a concurrent callback
      if (row.crm !== crm || row.expires_at < now().toISOString()) return undefined;
      return { verifier: row.verifier_sealed === null ? undefined : open(key, row.verifier_sealed) };
    },
  };
}
