/**
 * A privacy deletion (HubSpot `contact.privacyDeletion`): every trace of the person in the store goes —
 * ledger rows, held intent (and its email index), record errors, and their records in queued enrichment
 * jobs (other people's records in the same job stay). The person is found through the ledger by the
 * deleted record's id (the CRM no longer has the email), and through held intent by email hash.
 *
 * Runs in the caller's transaction when given one: the webhook records the event as seen and purges in
 * one transaction, so a purge that fails is delivered again rather than lost.
 */
import type { Kysely } from 'kysely';
import { inTransaction } from '../store/db';
import type { Database } from '../store/schema';
import { isEnrichJobPayload } from './enrich';

export interface PurgeResult {
  people: number;
  ledger: number;
  held: number;
  recordErrors: number;
  jobs: number;
}

export async function purgePerson(db: Kysely<Database>, connectionId: string, who: { crmRecordId?: string; emailHashes?: readonly string[] }): Promise<PurgeResult> {
  const work = async (trx: Kysely<Database>): Promise<PurgeResult> => {
    const keys = new Set<string>(who.emailHashes ?? []);
    if (who.crmRecordId !== undefined) {
      const rows = await trx.selectFrom('ledger').select('hashed_email').where('connection_id', '=', connectionId).where('crm_record_id', '=', who.crmRecordId).execute();
      for (const r of rows) keys.add(r.hashed_email);
    }
    if (keys.size > 0) {
      const rows = await trx.selectFrom('held_intent_emails').select('hashed_email').where('connection_id', '=', connectionId).where('email_hash', 'in', [...keys]).execute();
      for (const r of rows) keys.add(r.hashed_email);
    }
    const result: PurgeResult = { people: 0, ledger: 0, held: 0, recordErrors: 0, jobs: 0 };
    const list = [...keys];
    if (list.length > 0) {
      const emailHashes = (await trx.selectFrom('held_intent_emails').select('email_hash').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).execute()).map((r) => r.email_hash);
      for (const h of emailHashes) keys.add(h);
      result.ledger = Number((await trx.deleteFrom('ledger').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).executeTakeFirst()).numDeletedRows);
      await trx.deleteFrom('held_intent_emails').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).execute();
      result.held = Number((await trx.deleteFrom('held_intent').where('connection_id', '=', connectionId).where('hashed_email', 'in', list).executeTakeFirst()).numDeletedRows);
      result.recordErrors = Number(
        (
          await trx
            .deleteFrom('record_errors')
            .where('hashed_email', 'in', [...keys])
            .where('sync_run_id', 'in', trx.selectFrom('sync_runs').select('id').where('connection_id', '=', connectionId))
            .executeTakeFirst()
        ).numDeletedRows,
      );
    }
    // Enrichment jobs name records by CRM id and email hash: the person's records are taken out of them.
    const jobs = await trx.selectFrom('jobs').select(['id', 'payload']).where('connection_id', '=', connectionId).where('kind', '=', 'enrich').where('status', '!=', 'running').execute();
    for (const job of jobs) {
      const payload: unknown = JSON.parse(job.payload);
      if (!isEnrichJobPayload(payload)) continue;
      const kept = payload.records.filter((r) => r.id !== who.crmRecordId && (r.emailHash === undefined || !keys.has(r.emailHash)));
      if (kept.length === payload.records.length) continue;
      result.jobs += 1;
      if (kept.length === 0) await trx.deleteFrom('jobs').where('id', '=', job.id).execute();
      else await trx.updateTable('jobs').set({ payload: JSON.stringify({ records: kept }) }).where('id', '=', job.id).execute();
    }
    result.people = list.length;
    return result;
  };
  return inTransaction(db, work);
}
