/**
 * Per-record errors of sync runs: the person (hashed email, never the email) or input line that failed,
 * our code, the CRM's own message, whether a later sync may retry it, and how many attempts failed.
 *
 * Issue #3: "Failed records are retried on the next sync of that audience (bounded attempts), then left
 * as errors". So there is one live error per `(connection, audience, hashed email)`:
 *
 * - recording a failure for a person who already has one under the same connection and audience updates
 *   that row (attempts + 1, the new code/message/retryable, moved to the newest sync run) instead of
 *   adding a second one; file syncs (no audience) of a connection share one scope, so a person failing in
 *   one file and met again in a later file (or the same file re-synced) counts attempts across them;
 * - `retryable()` lists the people the next sync of that audience should try again;
 * - `resolve()` deletes a person's error once a later write of them succeeded.
 *
 * `record_errors` has no connection or audience column; both come from the row's sync run (join).
 * Consequence: `listBySyncRun(old)` no longer shows an error that failed again in a later run — it is
 * listed under the later run, with its attempts. The run's own `failed` count keeps the history.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { SyncError } from '../lib/errors';
import type { Database, RecordErrorRow } from './schema';
import { assertHashedEmail } from './hashed-email';
import { chunks } from '../lib/chunks';
import { inTransaction } from './db';

/** Keys per `IN (…)` read. Well under SQLite's and PostgreSQL's bound-parameter limits. */
export const RECORD_ERRORS_READ_CHUNK = 500;
/** Rows per multi-row insert (9 parameters each). */
export const RECORD_ERRORS_WRITE_CHUNK = 100;


export interface RecordFailure {
  /** sha256 hex of the lower-cased, trimmed email; null when the record has no usable email. */
  hashedEmail: string | null;
  /** 1-based line of the input file, when the record came from a row. */
  line?: number | null;
  code: string;
  /** The CRM's own message, verbatim. */
  crmMessage?: string | null;
  /** Whether a later sync may retry the record. */
  retryable: boolean;
}

export interface RecordError {
  id: string;
  /** The newest sync run in which the record failed. */
  syncRunId: string;
  hashedEmail: string | null;
  line: number | null;
  code: string;
  crmMessage: string | null;
  retryable: boolean;
  /** Failed attempts so far (1 on the first failure). */
  attempts: number;
  /** When the record first failed. */
  createdAt: string;
}

export interface RecordErrors {
  /** Records one failure of `syncRunId`; returns the stored error (with its attempts). */
  record(syncRunId: string, failure: RecordFailure): Promise<RecordError>;
  /**
   * Records failures of `syncRunId`, atomically. A person given twice in one call counts as one attempt
   * (last failure wins). Throws NOT_FOUND for an unknown sync run.
   */
  recordMany(syncRunId: string, failures: readonly RecordFailure[]): Promise<void>;
  /** Errors currently attributed to the sync run, by line (records without a line last). */
  listBySyncRun(syncRunId: string): Promise<RecordError[]>;
  /** Hashed emails whose last error under this connection and audience is retryable and has attempts < maxAttempts. */
  retryable(connectionId: string, audienceId: string, maxAttempts: number): Promise<string[]>;
  /**
   * Deletes the errors of these people under this connection and audience (`null`: file syncs) after a
   * successful write. Returns how many errors were cleared.
   */
  resolve(connectionId: string, audienceId: string | null, hashedEmails: Iterable<string>): Promise<number>;
  /**
   * The live errors of these people in the scope of `syncRunId` (its connection + audience; file syncs of
   * the connection share one scope), by hashed email: the sync engine skips people whose attempts are used up and
   * people already failed in this very sync run (a resumed run).
   */
  lookup(syncRunId: string, hashedEmails: Iterable<string>): Promise<Map<string, RecordError>>;
}

export interface RecordErrorsOptions {
  now?: () => Date;
}

interface Existing {
  id: string;
  attempts: number;
}

export function createRecordErrors(db: Kysely<Database>, options: RecordErrorsOptions = {}): RecordErrors {
  const now = options.now ?? (() => new Date());


  /** Existing error rows of these people in the scope of a sync run: its connection + audience (file syncs: audience null). */
  async function findByPeople(trx: Kysely<Database>, audience: { connectionId: string; audienceId: string | null }, emails: string[]) {
    const found = new Map<string, Existing>();
    const extra: string[] = [];
    for (const part of chunks(emails, RECORD_ERRORS_READ_CHUNK)) {
      let query = trx
        .selectFrom('record_errors as re')
        .innerJoin('sync_runs as sr', 'sr.id', 're.sync_run_id')
        .select(['re.id', 're.hashed_email', 're.attempts'])
        .where('re.hashed_email', 'in', part);
      query = query.where('sr.connection_id', '=', audience.connectionId);
      query = audience.audienceId === null ? query.where('sr.audience_id', 'is', null) : query.where('sr.audience_id', '=', audience.audienceId);
      const rows = await query.orderBy('re.attempts', 'desc').orderBy('re.id', 'asc').execute();
      for (const row of rows) {
        const email = row.hashed_email as string;
        // One live error per person; should an older writer have left two, keep the one with most attempts.
        if (found.has(email)) extra.push(row.id);
        else found.set(email, { id: row.id, attempts: row.attempts });
      }
    }
    return { found, extra };
  }

  /** Existing email-less errors of this sync run, by line (a resumed run re-recording the same line). */
  async function findByLines(trx: Kysely<Database>, syncRunId: string, lines: number[]): Promise<Map<number, Existing>> {
    const found = new Map<number, Existing>();
    for (const part of chunks(lines, RECORD_ERRORS_READ_CHUNK)) {
      const rows = await trx
        .selectFrom('record_errors')
        .select(['id', 'line', 'attempts'])
        .where('sync_run_id', '=', syncRunId)
        .where('hashed_email', 'is', null)
        .where('line', 'in', part)
        .execute();
      for (const row of rows) if (row.line !== null && !found.has(row.line)) found.set(row.line, { id: row.id, attempts: row.attempts });
    }
    return found;
  }

  async function recordMany(syncRunId: string, failures: readonly RecordFailure[]): Promise<string[]> {
    failures.forEach(assertFailure);
    return inTransaction(db, async (trx) => {
      const run = await trx.selectFrom('sync_runs').select(['connection_id', 'audience_id']).where('id', '=', syncRunId).executeTakeFirst();
      if (!run) throw new SyncError('NOT_FOUND', `Sync run ${syncRunId} does not exist; record errors only for a created sync run.`);

      const byEmail = new Map<string, RecordFailure>();
      const byLine = new Map<number, RecordFailure>();
      const loose: RecordFailure[] = [];
      for (const f of failures) {
        if (f.hashedEmail !== null) byEmail.set(f.hashedEmail, f);
        else if (f.line !== undefined && f.line !== null) byLine.set(f.line, f);
        else loose.push(f);
      }

      const { found: existingByEmail, extra } = await findByPeople(trx, { connectionId: run.connection_id, audienceId: run.audience_id }, [
        ...byEmail.keys(),
      ]);
      const existingByLine = await findByLines(trx, syncRunId, [...byLine.keys()]);
      for (const part of chunks(extra, RECORD_ERRORS_READ_CHUNK)) {
        await trx.deleteFrom('record_errors').where('id', 'in', part).execute();
      }

      const createdAt = now().toISOString();
      const ids: string[] = [];
      const inserts: RecordErrorRow[] = [];
      const upsert = async (failure: RecordFailure, existing: Existing | undefined): Promise<void> => {
        const values = {
          sync_run_id: syncRunId,
          hashed_email: failure.hashedEmail,
          line: failure.line ?? null,
          code: failure.code,
          crm_message: failure.crmMessage ?? null,
          retryable: failure.retryable ? 1 : 0,
        };
        if (existing) {
          await trx
            .updateTable('record_errors')
            .set({ ...values, attempts: existing.attempts + 1 })
            .where('id', '=', existing.id)
            .execute();
          ids.push(existing.id);
        } else {
          const id = randomUUID();
          inserts.push({ id, ...values, attempts: 1, created_at: createdAt });
          ids.push(id);
        }
      };
      for (const [email, f] of byEmail) await upsert(f, existingByEmail.get(email));
      for (const [line, f] of byLine) await upsert(f, existingByLine.get(line));
      for (const f of loose) await upsert(f, undefined);
      for (const part of chunks(inserts, RECORD_ERRORS_WRITE_CHUNK)) {
        await trx
          .insertInto('record_errors')
          .values(part)
          .execute();
      }
      return ids;
    });
  }

  return {
    async record(syncRunId, failure) {
      const [id] = await recordMany(syncRunId, [failure]);
      const row = await db
        .selectFrom('record_errors')
        .selectAll()
        .where('id', '=', id as string)
        .executeTakeFirstOrThrow();
      return toRecordError(row);
    },

    async recordMany(syncRunId, failures) {
      if (failures.length === 0) return;
      await recordMany(syncRunId, failures);
    },

    async listBySyncRun(syncRunId) {
      const rows = await db.selectFrom('record_errors').selectAll().where('sync_run_id', '=', syncRunId).execute();
      // Sorted here: SQLite and PostgreSQL disagree on where NULL lines sort.
      return rows
        .map(toRecordError)
        .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.hashedEmail ?? '').localeCompare(b.hashedEmail ?? '') || a.id.localeCompare(b.id));
    },

    async retryable(connectionId, audienceId, maxAttempts) {
      if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
        throw new SyncError('INTERNAL', `maxAttempts must be a whole number ≥ 1, got ${maxAttempts}.`);
      }
      const rows = await db
        .selectFrom('record_errors as re')
        .innerJoin('sync_runs as sr', 'sr.id', 're.sync_run_id')
        .select('re.hashed_email')
        .distinct()
        .where('sr.connection_id', '=', connectionId)
        .where('sr.audience_id', '=', audienceId)
        .where('re.hashed_email', 'is not', null)
        .where('re.retryable', '=', 1)
        .where('re.attempts', '<', maxAttempts)
        .orderBy('re.hashed_email')
        .execute();
      return rows.map((r) => r.hashed_email as string);
    },

    async lookup(syncRunId, hashedEmails) {
      const keys = [...new Set(hashedEmails)];
      keys.forEach((key) => assertHashedEmail(key, 'Record errors'));
      const found = new Map<string, RecordError>();
      if (keys.length === 0) return found;
      const run = await db.selectFrom('sync_runs').select(['connection_id', 'audience_id']).where('id', '=', syncRunId).executeTakeFirst();
      if (!run) throw new SyncError('NOT_FOUND', `Sync run ${syncRunId} does not exist.`);
      for (const part of chunks(keys, RECORD_ERRORS_READ_CHUNK)) {
        let query = db
          .selectFrom('record_errors as re')
          .innerJoin('sync_runs as sr', 'sr.id', 're.sync_run_id')
          .selectAll('re')
          .where('re.hashed_email', 'in', part)
          .where('sr.connection_id', '=', run.connection_id);
        query = run.audience_id === null ? query.where('sr.audience_id', 'is', null) : query.where('sr.audience_id', '=', run.audience_id);
        for (const row of await query.orderBy('re.attempts', 'asc').execute()) found.set(row.hashed_email as string, toRecordError(row));
      }
      return found;
    },

    async resolve(connectionId, audienceId, hashedEmails) {
      const keys = [...new Set(hashedEmails)];
      keys.forEach((key) => assertHashedEmail(key, 'Record errors'));
      if (keys.length === 0) return 0;
      return inTransaction(db, async (trx) => {
        let cleared = 0;
        for (const part of chunks(keys, RECORD_ERRORS_READ_CHUNK)) {
          const result = await trx
            .deleteFrom('record_errors')
            .where('hashed_email', 'in', part)
            .where('sync_run_id', 'in', (eb) => {
              const runs = eb.selectFrom('sync_runs').select('id').where('connection_id', '=', connectionId);
              return audienceId === null ? runs.where('audience_id', 'is', null) : runs.where('audience_id', '=', audienceId);
            })
            .executeTakeFirst();
          cleared += Number(result.numDeletedRows);
        }
        return cleared;
      });
    },
  };
}

function assertFailure(failure: RecordFailure): void {
  if (failure.hashedEmail !== null) assertHashedEmail(failure.hashedEmail, 'Record errors');
  if (failure.line !== undefined && failure.line !== null && (!Number.isSafeInteger(failure.line) || failure.line < 1)) {
    throw new SyncError('INTERNAL', `A record error's line is 1-based, got ${failure.line}.`);
  }
  if (typeof failure.code !== 'string' || failure.code.trim() === '') throw new SyncError('INTERNAL', 'A record error needs a code.');
}


function toRecordError(row: RecordErrorRow): RecordError {
  return {
    id: row.id,
    syncRunId: row.sync_run_id,
    hashedEmail: row.hashed_email,
    line: row.line,
    code: row.code,
    crmMessage: row.crm_message,
    retryable: row.retryable === 1,
    attempts: row.attempts,
    createdAt: row.created_at,
  };
}
