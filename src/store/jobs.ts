/**
 * The durable work queue of `orbit-sync serve` (syncs and enrichments), in the store so that a job
 * accepted by a webhook or the scheduler survives a crash.
 *
 * - `enqueue` with a `dedupeKey` returns the job already queued or running for that key instead of a
 *   second one (a partial unique index holds this across processes).
 * - `claim` takes the oldest due job under a lease; a sync is never claimed while another sync of the same
 *   connection (= CRM account) runs — at most one active sync per account, again held by a partial unique
 *   index. A running job whose lease ran out (its process died) is claimable again.
 * - `heartbeat` extends the lease; `finish`/`fail`/`release` end it.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, JobKind, JobStatus } from './schema';

export interface Job {
  id: string;
  kind: JobKind;
  connectionId: string;
  payload: unknown;
  dedupeKey: string | null;
  status: JobStatus;
  attempts: number;
  runAfter: string;
  lockedBy: string | null;
  lockedUntil: string | null;
  lastError: string | null;
  result: unknown;
  createdAt: string;
  finishedAt: string | null;
}

export interface EnqueueInput {
  kind: JobKind;
  connectionId: string;
  payload: unknown;
  dedupeKey?: string;
  runAfter?: Date;
}

export interface Jobs {
  /** `created: false` when a queued or running job with the same dedupe key already exists (it is returned). */
  enqueue(input: EnqueueInput): Promise<{ job: Job; created: boolean }>;
  claim(workerId: string, leaseMs: number): Promise<Job | undefined>;
  heartbeat(id: string, workerId: string, leaseMs: number): Promise<boolean>;
  /**
   * `forgetPayload`: the payload is replaced by `{}` (an enrichment's record ids are not kept once done).
   * `workerId`: only while that worker holds the job (a worker whose lease was taken over changes nothing).
   */
  finish(id: string, result: unknown, options?: { forgetPayload?: boolean; workerId?: string }): Promise<void>;
  /** Ends the job as failed, or queues it again after `retryAt` (the attempt counts). */
  fail(id: string, error: string, options?: { retryAt?: Date; workerId?: string }): Promise<void>;
  /** Gives the job back to the queue without counting an attempt (shutdown). */
  release(id: string, workerId?: string): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  list(options?: { connectionId?: string; status?: JobStatus; kind?: JobKind; limit?: number }): Promise<Job[]>;
  /** Queued or running jobs whose dedupe key is one of these. */
  openKeys(keys: readonly string[]): Promise<Set<string>>;
  /**
   * Gives every running job back to the queue (their sync runs resume). For a store only one process
   * serves (SQLite): whatever runs at start-up was left by a process that died.
   */
  recoverAll(): Promise<number>;
}

type Row = Database['jobs'];

function toJob(row: Row): Job {
  return {
    id: row.id,
    kind: row.kind,
    connectionId: row.connection_id,
    payload: JSON.parse(row.payload) as unknown,
    dedupeKey: row.dedupe_key,
    status: row.status,
    attempts: row.attempts,
    runAfter: row.run_after,
    lockedBy: row.locked_by,
    lockedUntil: row.locked_until,
    lastError: row.last_error,
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

export function createJobs(db: Kysely<Database>, options: { now?: () => Date } = {}): Jobs {
  const now = options.now ?? (() => new Date());
  const iso = (offsetMs = 0): string => new Date(now().getTime() + offsetMs).toISOString();

  const get = async (id: string): Promise<Job | undefined> => {
    const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  };

  return {
    get,
    async enqueue(input) {
      const at = iso();
      const id = randomUUID();
      const result = await db
        .insertInto('jobs')
        .values({
          id,
          kind: input.kind,
          connection_id: input.connectionId,
          payload: JSON.stringify(input.payload),
          dedupe_key: input.dedupeKey ?? null,
          status: 'queued',
          attempts: 0,
          run_after: (input.runAfter ?? now()).toISOString(),
          locked_by: null,
          locked_until: null,
          last_error: null,
          result: null,
          created_at: at,
          updated_at: at,
          finished_at: null,
        })
        // The partial index's predicate is repeated literally: SQLite matches it against bound parameters otherwise.
        .onConflict((oc) => oc.column('dedupe_key').where(sql<boolean>`status in ('queued', 'running')`).doNothing())
        .executeTakeFirst();
      if ((result.numInsertedOrUpdatedRows ?? 0n) > 0n) return { job: (await get(id)) as Job, created: true };
      const existing = await db
        .selectFrom('jobs')
        .selectAll()
        .where('dedupe_key', '=', input.dedupeKey ?? '')
        .where('status', 'in', ['queued', 'running'])
        .executeTakeFirstOrThrow();
      return { job: toJob(existing), created: false };
    },

    async claim(workerId, leaseMs) {
      const at = iso();
      // Oldest due first. A sync waits while another sync of its connection runs under a live lease; those
      // are left out here already, so that many waiting syncs of one busy connection cannot fill the
      // window below and starve every job queued after them.
      const candidates = await db
        .selectFrom('jobs as j')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb.and([eb('j.status', '=', 'queued'), eb('j.run_after', '<=', at)]),
            eb.and([eb('j.status', '=', 'running'), eb('j.locked_until', '<', at)]),
          ]),
        )
        .where((eb) =>
          eb.or([
            eb('j.kind', '!=', 'sync'),
            eb.not(
              eb.exists(
                eb
                  .selectFrom('jobs as r')
                  .select('r.id')
                  .whereRef('r.connection_id', '=', 'j.connection_id')
                  .whereRef('r.id', '!=', 'j.id')
                  .where('r.kind', '=', 'sync')
                  .where('r.status', '=', 'running')
                  .where('r.locked_until', '>=', at),
              ),
            ),
          ]),
        )
        .orderBy('j.run_after', 'asc')
        .orderBy('j.created_at', 'asc')
        .limit(20)
        .execute();
      for (const row of candidates) {
        if (row.kind === 'sync') {
          // (A sync of a busy connection was left out by the query; one started since is caught by the
          // unique index below.) A crashed sync of this connection (lease run out) gives its place up first.
          await db
            .updateTable('jobs')
            .set({ status: 'queued', locked_by: null, locked_until: null, updated_at: at })
            .where('connection_id', '=', row.connection_id)
            .where('kind', '=', 'sync')
            .where('status', '=', 'running')
            .where('id', '!=', row.id)
            .where('locked_until', '<', at)
            .execute();
        }
        try {
          const updated = await db
            .updateTable('jobs')
            .set({ status: 'running', locked_by: workerId, locked_until: iso(leaseMs), attempts: sql`attempts + 1`, updated_at: at })
            .where('id', '=', row.id)
            .where('status', '=', row.status)
            .where((eb) => (row.locked_until === null ? eb('locked_until', 'is', null) : eb('locked_until', '=', row.locked_until)))
            .executeTakeFirst();
          if (updated.numUpdatedRows === 1n) return get(row.id);
        } catch (err) {
          // Another process started a sync of this connection in between: the unique index said no.
          if (!/unique|duplicate key/i.test(err instanceof Error ? err.message : String(err))) throw err;
        }
      }
      return undefined;
    },

    async heartbeat(id, workerId, leaseMs) {
      const r = await db
        .updateTable('jobs')
        .set({ locked_until: iso(leaseMs), updated_at: iso() })
        .where('id', '=', id)
        .where('locked_by', '=', workerId)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return r.numUpdatedRows === 1n;
    },

    async finish(id, result, options = {}) {
      await db
        .updateTable('jobs')
        .set({
          status: 'done',
          result: JSON.stringify(result ?? null),
          ...(options.forgetPayload === true && { payload: '{}' }),
          locked_by: null,
          locked_until: null,
          last_error: null,
          finished_at: iso(),
          updated_at: iso(),
        })
        .where('id', '=', id)
        .$if(options.workerId !== undefined, (q) => q.where('locked_by', '=', options.workerId ?? ''))
        .execute();
    },

    async fail(id, error, options = {}) {
      const { retryAt, workerId } = options;
      await db
        .updateTable('jobs')
        .set(
          retryAt
            ? { status: 'queued', run_after: retryAt.toISOString(), last_error: error, locked_by: null, locked_until: null, updated_at: iso() }
            : { status: 'failed', last_error: error, locked_by: null, locked_until: null, finished_at: iso(), updated_at: iso() },
        )
        .where('id', '=', id)
        .$if(workerId !== undefined, (q) => q.where('locked_by', '=', workerId ?? ''))
        .execute();
    },

    async release(id, workerId) {
      await db
        .updateTable('jobs')
        .set({ status: 'queued', attempts: sql`max(attempts - 1, 0)`, locked_by: null, locked_until: null, updated_at: iso() })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .$if(workerId !== undefined, (q) => q.where('locked_by', '=', workerId ?? ''))
        .execute();
    },

    async list(opts = {}) {
      let q = db.selectFrom('jobs').selectAll();
      if (opts.connectionId !== undefined) q = q.where('connection_id', '=', opts.connectionId);
      if (opts.status !== undefined) q = q.where('status', '=', opts.status);
      if (opts.kind !== undefined) q = q.where('kind', '=', opts.kind);
      const rows = await q.orderBy('created_at', 'desc').limit(opts.limit ?? 100).execute();
      return rows.map(toJob);
    },

    async openKeys(keys) {
      if (keys.length === 0) return new Set();
      const rows = await db.selectFrom('jobs').select('dedupe_key').where('dedupe_key', 'in', [...keys]).where('status', 'in', ['queued', 'running']).execute();
      return new Set(rows.map((r) => r.dedupe_key).filter((k): k is string => k !== null));
    },

    async recoverAll() {
      const r = await db.updateTable('jobs').set({ status: 'queued', locked_by: null, locked_until: null, updated_at: iso() }).where('status', '=', 'running').executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
  };
}
