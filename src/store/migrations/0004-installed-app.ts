/**
 * Issue #5, the installed app:
 *
 * 1. `connection_settings`: per connection, the Leadpipe API key (sealed), the admin's overrides (JSON)
 *    and the Salesforce Outbound Message secret (sealed).
 * 2. `jobs`: the durable work queue of `serve` (syncs, enrichment). Two partial unique indexes hold the
 *    invariants across processes: at most one *running* sync per connection (= CRM account), and at most
 *    one queued-or-running job per dedupe key (a run is never queued twice).
 * 3. `held_intent` + `held_intent_emails`: intent of people not (yet) in the CRM, sealed, with an expiry;
 *    found again by the hash of any of the person's emails when the CRM creates the record.
 * 4. `webhook_events`: keys of webhook events already accepted (replays are processed once).
 * 5. `oauth_states`: single-use, expiring OAuth `state` values with the PKCE verifier (sealed).
 * 6. `app_state`: small key → value facts of the app (e.g. the scheduler's last tick).
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { sql } from 'kysely';

export const installedAppMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('connection_settings')
      .addColumn('connection_id', 'text', (c) => c.primaryKey().references('connections.id').onDelete('cascade'))
      .addColumn('leadpipe_key_sealed', 'text')
      .addColumn('overrides', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('outbound_secret_sealed', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('sync', 'enrich')`))
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('dedupe_key', 'text')
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'running', 'done', 'failed')`))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('run_after', 'text', (c) => c.notNull())
      .addColumn('locked_by', 'text')
      .addColumn('locked_until', 'text')
      .addColumn('last_error', 'text')
      .addColumn('result', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .execute();
    await sql`create index jobs_queue_idx on jobs (status, run_after)`.execute(db);
    await sql`create unique index jobs_one_running_sync on jobs (connection_id) where kind = 'sync' and status = 'running'`.execute(db);
    await sql`create unique index jobs_dedupe_open on jobs (dedupe_key) where status in ('queued', 'running')`.execute(db);

    await db.schema
      .createTable('held_intent')
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('hashed_email', 'text', (c) => c.notNull())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('score', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('held_intent_pk', ['connection_id', 'hashed_email'])
      .execute();
    await sql`create index held_intent_expiry_idx on held_intent (expires_at)`.execute(db);
    await db.schema
      .createTable('held_intent_emails')
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('email_hash', 'text', (c) => c.notNull())
      .addColumn('hashed_email', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('held_intent_emails_pk', ['connection_id', 'email_hash'])
      .execute();
    await sql`create index held_intent_emails_person_idx on held_intent_emails (connection_id, hashed_email)`.execute(db);

    await db.schema
      .createTable('webhook_events')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('event_key', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('webhook_events_pk', ['source', 'event_key'])
      .execute();
    await sql`create index webhook_events_received_idx on webhook_events (received_at)`.execute(db);

    await db.schema
      .createTable('oauth_states')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('crm', 'text', (c) => c.notNull().check(sql`crm in ('hubspot', 'salesforce')`))
      .addColumn('verifier_sealed', 'text')
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('app_state')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['app_state', 'oauth_states', 'webhook_events', 'held_intent_emails', 'held_intent', 'jobs', 'connection_settings']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
