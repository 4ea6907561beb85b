/**
 * Issue #3, prioritize stage: the ledger keeps each person's last topics (JSON array of topic names), so
 * the deals stage can roll intent up from the ledger after a crash or resume, without the run in memory.
 * Topics are not personal data; the ledger still holds no email or name. Plus an index for "people of
 * this run", which that stage reads.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const ledgerTopicsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('ledger').addColumn('last_topics', 'text').execute();
    await db.schema.createIndex('ledger_by_run').on('ledger').columns(['connection_id', 'destination', 'last_run_id']).execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('ledger_by_run').ifExists().execute();
    await db.schema.alterTable('ledger').dropColumn('last_topics').execute();
  },
};
