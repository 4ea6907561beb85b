/**
 * Issue #4 (Salesforce tokens) and #5: connections can need re-authorization, and hold their CRM
 * credentials, sealed with ENCRYPTION_KEY (AES-256-GCM, src/security/token-vault.ts) — never in clear.
 *
 * 1. `connections.status` gains `needs_reauth`, with `status_message` saying why. SQLite cannot change a
 *    CHECK constraint in place, so the table is rebuilt (create, copy, drop, rename); openStore runs
 *    migrations with foreign keys off and checks them afterwards, SQLite's documented procedure, so the
 *    tables referencing connections keep their rows. (PostgreSQL, #5/#6, alters the constraint instead.)
 * 2. `connection_credentials`: one sealed JSON document per connection.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { sql } from 'kysely';

async function createConnections(db: Kysely<unknown>, name: string, statuses: readonly string[], withMessage: boolean): Promise<void> {
  let table = db.schema
    .createTable(name)
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('crm', 'text', (c) => c.notNull().check(sql`crm in ('hubspot', 'salesforce')`))
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql.raw(`status in (${statuses.map((s) => `'${s}'`).join(', ')})`)));
  if (withMessage) table = table.addColumn('status_message', 'text');
  await table
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint(`${name}_crm_account_unique`, ['crm', 'account_id'])
    .execute();
}

export const connectionCredentialsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await createConnections(db, 'connections_next', ['active', 'paused', 'disconnected', 'needs_reauth'], true);
    await sql`insert into connections_next (id, crm, account_id, status, status_message, created_at, updated_at)
              select id, crm, account_id, status, null, created_at, updated_at from connections`.execute(db);
    await db.schema.dropTable('connections').execute();
    await db.schema.alterTable('connections_next').renameTo('connections').execute();

    await db.schema
      .createTable('connection_credentials')
      .addColumn('connection_id', 'text', (c) => c.primaryKey().references('connections.id').onDelete('cascade'))
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('connection_credentials').ifExists().execute();
    await createConnections(db, 'connections_prev', ['active', 'paused', 'disconnected'], false);
    await sql`insert into connections_prev (id, crm, account_id, status, created_at, updated_at)
              select id, crm, account_id, case when status = 'needs_reauth' then 'disconnected' else status end, created_at, updated_at from connections`.execute(db);
    await db.schema.dropTable('connections').execute();
    await db.schema.alterTable('connections_prev').renameTo('connections').execute();
  },
};
