/**
 * A privacy deletion (HubSpot `contact.privacyDeletion`): every trace of the person in the store goes —
 * ledger rows, held intent (and its email index), record errors and queued jobs that name them. The
 * person is found through the ledger by the deleted record's id (the CRM no longer has the email), and
 * through held intent by the email hash when an event carried one.
 */
import { sql } from 'kysely';
import type { AppContext } from './app-context';

export interface PurgeResult {
  people: number;
  ledger: number;
  held: number;
  recordErrors: number;
  jobs: number;
}

export async function purgePerson(ctx: AppContext, connectionId: string, who: { crmRecordId?: string; emailHashes?: readonly string[] }): Promise<PurgeResult> {
  return ctx.db.transaction().execute(async (trx) => {
    const keys = new Set<string>();
    if (who.crmRecordId !== undefined) {
      const rows = await trx.selectFrom('ledger').select('hashed_email').where('connection_id', '=', connectionId).where('crm_record_id', '=', who.crmRecordId).execute();
      for (const r of rows) keys.add(r.hashed_email);
    }
    if (who.emailHashes && who.emailHashes.length > 0) {
      const rows = await trx.selectFrom('held_intent_emails').select('hashed_email').where('connection_id', '=', connectionId).where('email_hash', 'in', [...who.emailHashes]).execute();
      for (const r of rows) keys.add(r.hashed_email);
      for (const h of who.emailHashes) keys.add(h);
    }
    const result: PurgeResult = { people: 0, ledger: 0, held: 0, recordErrors: 0, jobs: 0 };
    if (keys.size === 0 && who.crmRecordId === undefined) return result;
    const list = [...keys];
    if (list.length > 0) {
      const emailHashes = (await trx.selectFrom('held_intent_emails').select('email_hash').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).execute()).map((r) => r.email_hash);
      result.ledger = Number((await trx.deleteFrom('ledger').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).executeTakeFirst()).numDeletedRows);
      await trx.deleteFrom('held_intent_emails').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).execute();
      result.held = Number((await trx.deleteFrom('held_intent').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).executeTakeFirst()).numDeletedRows);
      result.recordErrors = Number(
        (
          await trx
            .deleteFrom('record_errors')
            .where('hashed_email', 'in', [...new Set([...list, ...emailHashes])])
            .where('sync_run_id', 'in', trx.selectFrom('sync_runs').select('id').where('connection_id', '=', connectionId))
            .executeTakeFirst()
        ).numDeletedRows,
      );
      for (const needle of new Set([...list, ...emailHashes])) {
        result.jobs += Number((await trx.deleteFrom('jobs').where('connection_id', '=', connectionId).where('status', '!=', 'running').where('payload', 'like', sql<string>`${'%' + needle + '%'}`).executeTakeFirst()).numDeletedRows);
      }
    }
    if (who.crmRecordId !== undefined) {
      // Jobs that name the deleted record by id (an enrichment queued for it).
      const needle = `"id":"${who.crmRecordId.replace(/["\\%_]/g, '')}"`;
      result.jobs += Number((await trx.deleteFrom('jobs').where('connection_id', '=', connectionId).where('status', '!=', 'running').where('payload', 'like', sql<string>`${'%' + needle + '%'}`).executeTakeFirst()).numDeletedRows);
    }
    result.people = list.length;
    return result;
  });
}
