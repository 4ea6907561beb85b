/**
 * The first schema (issue #3, "Store"). Built with Kysely's schema builder and only portable types, so
 * the same migration will run on PostgreSQL (#5/#6): text ids, integer counts and 0/1 flags, ISO-8601
 * text timestamps, JSON as text. No plaintext email or name column anywhere (DESIGN.md, privacy).
 *
 * Migrations are append-only: once released, never edit this file; add `0002-…` instead.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { sql } from 'kysely';

const COUNT_COLUMNS = [
  'rows',
  'quarantined',
  'duplicates',
  'unchanged',
  'created',
  'updated',
  'skipped',
  'failed',
  'companies_matched',
  'companies_created',
  'associations',
  'deals_prioritized',
  'api_calls_total',
  'rate_limited',
] as const;

export const initialMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    // 1. Connections: one per CRM account.
    await db.schema
      .createTable('connections')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('crm', 'text', (c) => c.notNull().check(sql`crm in ('hubspot', 'salesforce')`))
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'paused', 'disconnected')`))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('connections_crm_account_unique', ['crm', 'account_id'])
      .execute();

    // 2. Audience subscriptions: which audiences sync into which connection.
    await db.schema
      .createTable('audience_subscriptions')
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('audience_id', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1).check(sql`active in (0, 1)`))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audience_subscriptions_pk', ['connection_id', 'audience_id'])
      .execute();

    // 3. Sync runs: state machine, every summary count, API calls, checkpoint.
    let syncRuns = db.schema
      .createTable('sync_runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('audience_id', 'text')
      .addColumn('run_id', 'text')
      .addColumn('destination', 'text', (c) => c.notNull().check(sql`destination in ('hubspot', 'salesforce')`))
      .addColumn('status', 'text', (c) =>
        c.notNull().check(sql`status in ('pending', 'running', 'succeeded', 'partial', 'failed')`),
      );
    for (const name of COUNT_COLUMNS) {
      syncRuns = syncRuns.addColumn(name, 'integer', (c) => c.notNull().defaultTo(0));
    }
    await syncRuns
      .addColumn('api_calls_by_endpoint', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('started_at', 'text')
      .addColumn('finished_at', 'text')
      .addColumn('duration_ms', 'integer')
      .addColumn('checkpoint', 'text')
      .addColumn('error_message', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // Finding the sync of a given Leadpipe run to resume it, and `orbit-sync runs` (newest first).
    await db.schema
      .createIndex('sync_runs_by_run')
      .on('sync_runs')
      .columns(['connection_id', 'audience_id', 'run_id', 'destination'])
      .execute();
    await db.schema.createIndex('sync_runs_by_created').on('sync_runs').columns(['created_at', 'id']).execute();

    // 4. Ledger: hashes and CRM ids only.
    await db.schema
      .createTable('ledger')
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('destination', 'text', (c) => c.notNull().check(sql`destination in ('hubspot', 'salesforce')`))
      .addColumn('hashed_email', 'text', (c) => c.notNull())
      .addColumn('crm_record_id', 'text', (c) => c.notNull())
      .addColumn('crm_object_type', 'text', (c) => c.notNull())
      .addColumn('crm_company_id', 'text')
      .addColumn('payload_fingerprint', 'text', (c) => c.notNull())
      .addColumn('last_score', 'integer')
      .addColumn('last_run_id', 'text')
      .addColumn('last_sync_run_id', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('ledger_pk', ['connection_id', 'destination', 'hashed_email'])
      .execute();

    // 5. Per-record errors of a sync run.
    await db.schema
      .createTable('record_errors')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('sync_run_id', 'text', (c) => c.notNull().references('sync_runs.id').onDelete('cascade'))
      .addColumn('hashed_email', 'text')
      .addColumn('line', 'integer')
      .addColumn('code', 'text', (c) => c.notNull())
      .addColumn('crm_message', 'text')
      .addColumn('retryable', 'integer', (c) => c.notNull().defaultTo(0).check(sql`retryable in (0, 1)`))
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('record_errors_by_sync_run').on('record_errors').column('sync_run_id').execute();
    await db.schema.createIndex('record_errors_by_person').on('record_errors').column('hashed_email').execute();

    // 6. Company cache: domain → CRM company id, per connection.
    await db.schema
      .createTable('company_cache')
      .addColumn('connection_id', 'text', (c) => c.notNull().references('connections.id').onDelete('cascade'))
      .addColumn('domain', 'text', (c) => c.notNull())
      .addColumn('crm_company_id', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('company_cache_pk', ['connection_id', 'domain'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['company_cache', 'record_errors', 'ledger', 'sync_runs', 'audience_subscriptions', 'connections']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
