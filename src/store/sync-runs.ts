/**
 * Sync runs: one row per sync of (audience run | local file) → destination, with the state machine
 * pending → running → succeeded | partial | failed, every count of the sync summary (DESIGN.md), API
 * calls by endpoint, 429s, timings and the resume checkpoint.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { SyncError } from '../lib/errors';
import type { Database, Destination, SyncRunRow, SyncRunRowUpdate, SyncRunStatus } from './schema';
import { inTransaction } from './db';

/** Allowed next states. Terminal states have none: a finished run is history and never changes. */
export const SYNC_RUN_TRANSITIONS: Readonly<Record<SyncRunStatus, readonly SyncRunStatus[]>> = {
  pending: ['running'],
  running: ['succeeded', 'partial', 'failed'],
  succeeded: [],
  partial: [],
  failed: [],
};

export function canTransition(from: SyncRunStatus, to: SyncRunStatus): boolean {
  return SYNC_RUN_TRANSITIONS[from].includes(to);
}

export function isTerminal(status: SyncRunStatus): boolean {
  return SYNC_RUN_TRANSITIONS[status].length === 0;
}

/**
 * A sync run was asked to move to a state its state machine does not allow (a bug in the caller, or two
 * workers on one run).
 */
export class InvalidSyncRunTransitionError extends SyncError {
  readonly syncRunId: string;
  readonly from: SyncRunStatus;
  readonly to: SyncRunStatus;
  constructor(syncRunId: string, from: SyncRunStatus, to: SyncRunStatus) {
    const allowed = SYNC_RUN_TRANSITIONS[from];
    super(
      'SYNC_RUN_TRANSITION_INVALID',
      `Sync run ${syncRunId} is ${from} and cannot become ${to} ` +
        `(${allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : `${from} is final`}). Start a new sync run instead.`,
    );
    this.syncRunId = syncRunId;
    this.from = from;
    this.to = to;
  }
}

export interface SyncRunCounts {
  rows: number;
  quarantined: number;
  duplicates: number;
  unchanged: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  companiesMatched: number;
  companiesCreated: number;
  associations: number;
  dealsPrioritized: number;
  /** HTTP 429 responses met. */
  rateLimited: number;
}

export interface SyncRun extends SyncRunCounts {
  id: string;
  connectionId: string;
  audienceId: string | null;
  runId: string | null;
  destination: Destination;
  status: SyncRunStatus;
  apiCalls: { total: number; byEndpoint: Record<string, number> };
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** Parsed JSON, shape owned by the sync engine; null before the first checkpoint. */
  checkpoint: unknown;
  errorMessage: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreateSyncRunInput {
  connectionId: string;
  destination: Destination;
  audienceId?: string | null;
  runId?: string | null;
  /** Defaults to a random UUID. */
  id?: string;
}

/** Absolute values (not increments) to store; omitted fields are left as they are. */
export interface SyncRunProgress extends Partial<SyncRunCounts> {
  apiCallsByEndpoint?: Readonly<Record<string, number>>;
  /** JSON-serializable resume point. */
  checkpoint?: unknown;
}

export interface ListRecentOptions {
  limit?: number;
  connectionId?: string;
  audienceId?: string;
}

export interface SyncRuns {
  create(input: CreateSyncRunInput): Promise<SyncRun>;
  /** Moves the run along the state machine; throws InvalidSyncRunTransitionError otherwise. */
  transition(id: string, to: SyncRunStatus, details?: { errorMessage?: string }): Promise<SyncRun>;
  /** Stores counts, API calls and checkpoint of a pending or running run. */
  updateProgress(id: string, progress: SyncRunProgress): Promise<SyncRun>;
  get(id: string): Promise<SyncRun | undefined>;
  /** Newest first. */
  listRecent(options?: ListRecentOptions): Promise<SyncRun[]>;
}

export interface SyncRunsOptions {
  now?: () => Date;
}

const COUNT_COLUMNS = {
  rows: 'rows',
  quarantined: 'quarantined',
  duplicates: 'duplicates',
  unchanged: 'unchanged',
  created: 'created',
  updated: 'updated',
  skipped: 'skipped',
  failed: 'failed',
  companiesMatched: 'companies_matched',
  companiesCreated: 'companies_created',
  associations: 'associations',
  dealsPrioritized: 'deals_prioritized',
  rateLimited: 'rate_limited',
} as const satisfies Record<keyof SyncRunCounts, keyof SyncRunRow>;

const ApiCallsByEndpoint = z.record(z.string(), z.number().int().nonnegative());

export function createSyncRuns(db: Kysely<Database>, options: SyncRunsOptions = {}): SyncRuns {
  const now = options.now ?? (() => new Date());

  async function getRow(trx: Kysely<Database>, id: string): Promise<SyncRunRow | undefined> {
    return trx.selectFrom('sync_runs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async function mustGetRow(trx: Kysely<Database>, id: string): Promise<SyncRunRow> {
    const row = await getRow(trx, id);
    if (!row) throw new SyncError('NOT_FOUND', `Sync run ${id} does not exist; list sync runs with \`orbit-sync runs\`.`);
    return row;
  }


  return {
    async create(input) {
      const at = now().toISOString();
      const id = input.id ?? randomUUID();
      await db
        .insertInto('sync_runs')
        .values({
          id,
          connection_id: input.connectionId,
          audience_id: input.audienceId ?? null,
          run_id: input.runId ?? null,
          destination: input.destination,
          status: 'pending',
          rows: 0,
          quarantined: 0,
          duplicates: 0,
          unchanged: 0,
          created: 0,
          updated: 0,
          skipped: 0,
          failed: 0,
          companies_matched: 0,
          companies_created: 0,
          associations: 0,
          deals_prioritized: 0,
          api_calls_total: 0,
          rate_limited: 0,
          api_calls_by_endpoint: '{}',
          started_at: null,
          finished_at: null,
          duration_ms: null,
          checkpoint: null,
          error_message: null,
          created_at: at,
          updated_at: at,
        })
        .execute();
      return toSyncRun(await mustGetRow(db, id));
    },

    async transition(id, to, details = {}) {
      return inTransaction(db, async (trx) => {
        const row = await mustGetRow(trx, id);
        if (!canTransition(row.status, to)) throw new InvalidSyncRunTransitionError(id, row.status, to);
        const at = now();
        const patch: SyncRunRowUpdate = { status: to, updated_at: at.toISOString() };
        if (to === 'running') patch.started_at = at.toISOString();
        if (isTerminal(to)) {
          patch.finished_at = at.toISOString();
          const started = row.started_at === null ? undefined : Date.parse(row.started_at);
          patch.duration_ms = started === undefined ? null : Math.max(0, at.getTime() - started);
        }
        if (details.errorMessage !== undefined) patch.error_message = details.errorMessage;
        // `status = from` guards against another writer having moved the run since we read it.
        const result = await trx.updateTable('sync_runs').set(patch).where('id', '=', id).where('status', '=', row.status).executeTakeFirst();
        if (result.numUpdatedRows !== 1n) {
          const current = await mustGetRow(trx, id);
          throw new InvalidSyncRunTransitionError(id, current.status, to);
        }
        return toSyncRun(await mustGetRow(trx, id));
      });
    },

    async updateProgress(id, progress) {
      return inTransaction(db, async (trx) => {
        const row = await mustGetRow(trx, id);
        if (isTerminal(row.status)) {
          throw new SyncError('SYNC_RUN_TRANSITION_INVALID', `Sync run ${id} is ${row.status}; the counts of a finished run are final.`);
        }
        const patch: SyncRunRowUpdate = { updated_at: now().toISOString() };
        for (const [key, column] of Object.entries(COUNT_COLUMNS) as [keyof SyncRunCounts, (typeof COUNT_COLUMNS)[keyof SyncRunCounts]][]) {
          const value = progress[key];
          if (value === undefined) continue;
          if (!Number.isSafeInteger(value) || value < 0) {
            throw new SyncError('INTERNAL', `Sync run ${id}: count ${key} must be a whole number ≥ 0, got ${value}.`);
          }
          patch[column] = value;
        }
        if (progress.apiCallsByEndpoint !== undefined) {
          const byEndpoint = ApiCallsByEndpoint.parse(progress.apiCallsByEndpoint);
          patch.api_calls_by_endpoint = JSON.stringify(byEndpoint);
          patch.api_calls_total = Object.values(byEndpoint).reduce((a, b) => a + b, 0);
        }
        if (progress.checkpoint !== undefined) patch.checkpoint = JSON.stringify(progress.checkpoint);
        await trx.updateTable('sync_runs').set(patch).where('id', '=', id).execute();
        return toSyncRun(await mustGetRow(trx, id));
      });
    },

    async get(id) {
      const row = await getRow(db, id);
      return row && toSyncRun(row);
    },

    async listRecent(opts = {}) {
      const limit = Math.min(Math.max(1, Math.trunc(opts.limit ?? 20)), 1_000);
      let query = db.selectFrom('sync_runs').selectAll();
      if (opts.connectionId !== undefined) query = query.where('connection_id', '=', opts.connectionId);
      if (opts.audienceId !== undefined) query = query.where('audience_id', '=', opts.audienceId);
      const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toSyncRun);
    },
  };
}

function toSyncRun(row: SyncRunRow): SyncRun {
  return {
    id: row.id,
    connectionId: row.connection_id,
    audienceId: row.audience_id,
    runId: row.run_id,
    destination: row.destination,
    status: row.status,
    rows: row.rows,
    quarantined: row.quarantined,
    duplicates: row.duplicates,
    unchanged: row.unchanged,
    created: row.created,
    updated: row.updated,
    skipped: row.skipped,
    failed: row.failed,
    companiesMatched: row.companies_matched,
    companiesCreated: row.companies_created,
    associations: row.associations,
    dealsPrioritized: row.deals_prioritized,
    rateLimited: row.rate_limited,
    apiCalls: { total: row.api_calls_total, byEndpoint: ApiCallsByEndpoint.parse(JSON.parse(row.api_calls_by_endpoint)) },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    checkpoint: row.checkpoint === null ? null : (JSON.parse(row.checkpoint) as unknown),
    errorMessage: row.error_message,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
