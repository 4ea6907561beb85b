/**
 * Intent held for enrichment (issue #5): people of a run who are not (yet) in the CRM — below the
 * connection's create threshold, or a whole run in update-only mode. Each is kept by hashed email with
 * what the enrichment needs to write them later (the normalized person and the run's context), sealed
 * with ENCRYPTION_KEY because it holds emails and names, and expires after `enrichment.holdDays`.
 *
 * The CRM may create the record under any of the person's emails (a rep types the business one), so every
 * email's sha256 points back at the person (`held_intent_emails`).
 */
import type { Kysely } from 'kysely';
import type { IntentPerson } from '../ingest/types';
import { chunks } from '../lib/chunks';
import type { MapContext } from '../mapping/map-person';
import { open, seal } from '../security/token-vault';
import { assertHashedEmail } from './hashed-email';
import { inTransaction } from './db';
import type { Database } from './schema';

export interface HeldPerson {
  person: IntentPerson;
  context: MapContext;
}

export interface HeldEntry extends HeldPerson {
  hashedEmail: string;
  runId: string;
  expiresAt: string;
}

export interface HeldIntent {
  /** Holds (or refreshes) these people for `ttlMs` from now. */
  hold(connectionId: string, people: readonly HeldPerson[], ttlMs: number): Promise<void>;
  /** The unexpired held people any of whose emails hashes to one of `emailHashes`, by email hash. */
  findByEmailHash(connectionId: string, emailHashes: readonly string[]): Promise<Map<string, HeldEntry>>;
  /** Forgets people (after they were enriched, or on a privacy deletion). */
  release(connectionId: string, hashedEmails: readonly string[]): Promise<number>;
  /** Every person key that `emailHashes` point at (for a privacy deletion). */
  keysFor(connectionId: string, emailHashes: readonly string[]): Promise<string[]>;
  /** Deletes what expired. */
  purgeExpired(): Promise<number>;
  count(connectionId?: string): Promise<number>;
}

export function createHeldIntent(db: Kysely<Database>, key: Buffer, options: { now?: () => Date } = {}): HeldIntent {
  const now = options.now ?? (() => new Date());
  return {
    async hold(connectionId, people, ttlMs) {
      if (people.length === 0) return;
      const at = now();
      const expiresAt = new Date(at.getTime() + ttlMs).toISOString();
      await inTransaction(db, async (trx) => {
        for (const { person, context } of people) {
          assertHashedEmail(person.key, 'held_intent');
          const sealed = seal(key, JSON.stringify({ person, context }));
          await trx
            .insertInto('held_intent')
            .values({ connection_id: connectionId, hashed_email: person.key, sealed, run_id: context.runId, score: person.score, expires_at: expiresAt, created_at: at.toISOString(), updated_at: at.toISOString() })
            .onConflict((oc) => oc.columns(['connection_id', 'hashed_email']).doUpdateSet({ sealed, run_id: context.runId, score: person.score, expires_at: expiresAt, updated_at: at.toISOString() }))
            .execute();
          const hashes = new Set([person.key, ...person.emails.map((e) => e.sha256)]);
          for (const emailHash of hashes) {
            await trx
              .insertInto('held_intent_emails')
              .values({ connection_id: connectionId, email_hash: emailHash, hashed_email: person.key })
              .onConflict((oc) => oc.columns(['connection_id', 'email_hash']).doUpdateSet({ hashed_email: person.key }))
              .execute();
          }
        }
      });
    },
    async findByEmailHash(connectionId, emailHashes) {
      const out = new Map<string, HeldEntry>();
      for (const part of chunks([...new Set(emailHashes)], 500)) {
        const rows = await db
          .selectFrom('held_intent_emails as e')
          .innerJoin('held_intent as h', (j) => j.onRef('h.connection_id', '=', 'e.connection_id').onRef('h.hashed_email', '=', 'e.hashed_email'))
          .select(['e.email_hash', 'h.hashed_email', 'h.sealed', 'h.run_id', 'h.expires_at'])
          .where('e.connection_id', '=', connectionId)
          .where('e.email_hash', 'in', part)
          .where('h.expires_at', '>', now().toISOString())
          .execute();
        for (const row of rows) {
          const held = JSON.parse(open(key, row.sealed)) as HeldPerson;
          out.set(row.email_hash, { ...held, hashedEmail: row.hashed_email, runId: row.run_id, expiresAt: row.expires_at });
        }
      }
      return out;
    },
    async release(connectionId, hashedEmails) {
      let deleted = 0;
      for (const part of chunks([...new Set(hashedEmails)], 500)) {
        await db.deleteFrom('held_intent_emails').where('connection_id', '=', connectionId).where('hashed_email', 'in', part).execute();
        const r = await db.deleteFrom('held_intent').where('connection_id', '=', connectionId).where('hashed_email', 'in', part).executeTakeFirst();
        deleted += Number(r.numDeletedRows);
      }
      return deleted;
    },
    async keysFor(connectionId, emailHashes) {
      if (emailHashes.length === 0) return [];
      const rows = await db.selectFrom('held_intent_emails').select('hashed_email').where('connection_id', '=', connectionId).where('email_hash', 'in', [...emailHashes]).execute();
      return [...new Set(rows.map((r) => r.hashed_email))];
    },
    async purgeExpired() {
      const at = now().toISOString();
      await db
        .deleteFrom('held_intent_emails')
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('held_intent as h')
              .select('h.hashed_email')
              .whereRef('h.connection_id', '=', 'held_intent_emails.connection_id')
              .whereRef('h.hashed_email', '=', 'held_intent_emails.hashed_email')
              .where('h.expires_at', '<=', at),
          ),
        )
        .execute();
      const r = await db.deleteFrom('held_intent').where('expires_at', '<=', at).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    async count(connectionId) {
      let q = db.selectFrom('held_intent').select((eb) => eb.fn.countAll<number>().as('n'));
      if (connectionId !== undefined) q = q.where('connection_id', '=', connectionId);
      return Number((await q.executeTakeFirstOrThrow()).n);
    },
  };
}
