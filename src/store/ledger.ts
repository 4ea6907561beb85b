/**
 * The ledger: `(connection, destination, hashedEmail)` → what we last wrote for that person (CRM ids,
 * payload fingerprint, score, run). The plan stage reads it to skip unchanged people and to dedupe across
 * runs; the record stage writes it after a batch lands.
 *
 * Hashes and ids only (DESIGN.md, privacy): a key that is not a sha256 hex digest is refused, so a
 * plaintext email can never be stored here by mistake.
 */
import type { Kysely } from 'kysely';
import type { Database, Destination, LedgerRow, NewLedgerRow } from './schema';
import { assertHashedEmail } from './hashed-email';
import { chunks } from '../lib/chunks';

/** Keys per `IN (…)` read. Well under SQLite's and PostgreSQL's bound-parameter limits. */
export const LEDGER_READ_CHUNK = 500;
/** Rows per multi-row upsert (12 parameters each). */
export const LEDGER_WRITE_CHUNK = 200;


export interface LedgerEntry {
  hashedEmail: string;
  crmRecordId: string;
  /** `contact` (HubSpot, Salesforce) or `lead` (Salesforce). */
  crmObjectType: string;
  crmCompanyId: string | null;
  payloadFingerprint: string;
  lastScore: number | null;
  lastRunId: string | null;
  lastSyncRunId: string | null;
  /** The person's topics in the last run (for rolling intent up to deals). */
  lastTopics: string[];
  updatedAt: string;
}

export type LedgerUpsert = Omit<LedgerEntry, 'updatedAt' | 'lastTopics'> & { lastTopics?: readonly string[] };

export interface Ledger {
  /** Entries for the given people, keyed by hashed email; people never synced are absent. */
  getMany(connectionId: string, destination: Destination, hashedEmails: Iterable<string>): Promise<Map<string, LedgerEntry>>;
  /** Inserts or replaces the entries, atomically (inside the caller's transaction if `db` is one). */
  upsertMany(connectionId: string, destination: Destination, entries: readonly LedgerUpsert[]): Promise<void>;
  /** People last synced from `runId` with a score ≥ `minScore`, in key order (the deals stage reads these). */
  listForRun(connectionId: string, destination: Destination, runId: string, minScore: number): Promise<LedgerEntry[]>;
}

export interface LedgerOptions {
  /** Clock for `updated_at`; injectable so tests are deterministic. */
  now?: () => Date;
}

export function createLedger(db: Kysely<Database>, options: LedgerOptions = {}): Ledger {
  const now = options.now ?? (() => new Date());

  return {
    async getMany(connectionId, destination, hashedEmails) {
      const keys = [...new Set(hashedEmails)];
      keys.forEach((key) => assertHashedEmail(key, 'The ledger'));
      const found = new Map<string, LedgerEntry>();
      for (const part of chunks(keys, LEDGER_READ_CHUNK)) {
        const rows = await db
          .selectFrom('ledger')
          .selectAll()
          .where('connection_id', '=', connectionId)
          .where('destination', '=', destination)
          .where('hashed_email', 'in', part)
          .execute();
        for (const row of rows) found.set(row.hashed_email, toEntry(row));
      }
      return found;
    },

    async upsertMany(connectionId, destination, entries) {
      if (entries.length === 0) return;
      entries.forEach((e) => assertHashedEmail(e.hashedEmail, 'The ledger'));
      const updatedAt = now().toISOString();
      // Last entry wins for a person given twice, as a SQL upsert cannot touch one row twice per statement.
      const byKey = new Map(entries.map((e) => [e.hashedEmail, e]));
      const rows: NewLedgerRow[] = [...byKey.values()].map((e) => ({
        connection_id: connectionId,
        destination,
        hashed_email: e.hashedEmail,
        crm_record_id: e.crmRecordId,
        crm_object_type: e.crmObjectType,
        crm_company_id: e.crmCompanyId,
        payload_fingerprint: e.payloadFingerprint,
        last_score: e.lastScore,
        last_run_id: e.lastRunId,
        last_sync_run_id: e.lastSyncRunId,
        last_topics: JSON.stringify(e.lastTopics ?? []),
        updated_at: updatedAt,
      }));
      const write = async (trx: Kysely<Database>): Promise<void> => {
        for (const part of chunks(rows, LEDGER_WRITE_CHUNK)) {
          await trx
            .insertInto('ledger')
            .values(part)
            .onConflict((oc) =>
              oc.columns(['connection_id', 'destination', 'hashed_email']).doUpdateSet((eb) => ({
                crm_record_id: eb.ref('excluded.crm_record_id'),
                crm_object_type: eb.ref('excluded.crm_object_type'),
                crm_company_id: eb.ref('excluded.crm_company_id'),
                payload_fingerprint: eb.ref('excluded.payload_fingerprint'),
                last_score: eb.ref('excluded.last_score'),
                last_run_id: eb.ref('excluded.last_run_id'),
                last_sync_run_id: eb.ref('excluded.last_sync_run_id'),
                last_topics: eb.ref('excluded.last_topics'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
        }
      };
      if (db.isTransaction) await write(db);
      else await db.transaction().execute(write);
    },

    async listForRun(connectionId, destination, runId, minScore) {
      const rows = await db
        .selectFrom('ledger')
        .selectAll()
        .where('connection_id', '=', connectionId)
        .where('destination', '=', destination)
        .where('last_run_id', '=', runId)
        .where('last_score', '>=', minScore)
        .orderBy('hashed_email')
        .execute();
      return rows.map(toEntry);
    },
  };
}


function toEntry(row: LedgerRow): LedgerEntry {
  return {
    hashedEmail: row.hashed_email,
    crmRecordId: row.crm_record_id,
    crmObjectType: row.crm_object_type,
    crmCompanyId: row.crm_company_id,
    payloadFingerprint: row.payload_fingerprint,
    lastScore: row.last_score,
    lastRunId: row.last_run_id,
    lastSyncRunId: row.last_sync_run_id,
    lastTopics: parseTopics(row.last_topics),
    updatedAt: row.updated_at,
  };
}

function parseTopics(text: string | null): string[] {
  if (text === null) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}
