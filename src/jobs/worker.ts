/**
 * The worker of `orbit-sync serve`: takes jobs from the store's queue (src/store/jobs.ts) under a lease,
 * `app.worker.concurrency` at a time, and runs them — a sync (src/app/sync-job.ts) or an enrichment
 * (src/app/enrich.ts). At most one sync per CRM account runs at a time (the queue's claim holds it).
 *
 * - The lease is extended every `heartbeatMs`; a process that dies leaves its job to be taken over once
 *   the lease runs out, and the sync resumes from what it recorded.
 * - A failure that may pass (network, 5xx, rate limit) queues the job again after `retryDelayMs` (doubled
 *   per attempt) up to `maxJobAttempts`; one that will not (re-authorization needed, bad setup) fails it
 *   with the message.
 * - `stop()` takes no new job, asks running syncs to stop at their next batch boundary (their sync run
 *   stays resumable and the job goes back to the queue) and waits up to `shutdownGraceMs`.
 */
import { randomUUID } from 'node:crypto';
import { describeError, SyncError } from '../lib/errors';
import { scrubText } from '../lib/logger';
import { createJobs, type Job } from '../store/jobs';
import type { AppContext } from '../app/app-context';
import { isEnrichJobPayload, runEnrichJob } from '../app/enrich';
import { isSyncJobPayload, runSyncJob } from '../app/sync-job';

const PERMANENT = new Set(['NEEDS_REAUTH', 'AUTH_INVALID', 'AUTH_FORBIDDEN', 'CRM_SETUP_REQUIRED', 'NOT_FOUND', 'BAD_REQUEST', 'RUN_NOT_SERVABLE', 'CONFIG_INVALID', 'INTERNAL']);

export class Worker {
  readonly id = `worker-${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private again = false;

  constructor(private readonly ctx: AppContext) {}

  start(): void {
    this.schedule(0);
  }

  /** Looks for work now (a job was queued in this process). */
  wake(): void {
    if (!this.stopped) this.schedule(0);
  }

  /** Jobs in progress in this process. */
  get busy(): number {
    return this.running.size;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pump(), ms);
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      const { concurrency, leaseMs } = this.ctx.config.app.worker;
      const jobs = createJobs(this.ctx.db, { now: this.ctx.now });
      while (!this.stopped && this.running.size < concurrency) {
        const job = await jobs.claim(this.id, leaseMs);
        if (!job) break;
        // Stopped while claiming: the job goes straight back. Ours already (a lease that ran out while it
        // still runs here): it is not started twice.
        if (this.stopped) await jobs.release(job.id, this.id);
        else if (!this.running.has(job.id)) this.launch(job);
      }
    } catch (err) {
      this.ctx.logger.error('the worker could not read the queue', { error: describeError(err) });
    } finally {
      this.pumping = false;
      if (this.again) {
        this.again = false;
        this.schedule(0);
      } else this.schedule(this.ctx.config.app.worker.pollMs);
    }
  }

  private launch(job: Job): void {
    const controller = new AbortController();
    const done = this.execute(job, controller.signal).finally(() => {
      this.running.delete(job.id);
      this.wake();
    });
    this.running.set(job.id, { controller, done });
  }

  private async execute(job: Job, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const jobs = createJobs(ctx.db, { now: ctx.now });
    const { heartbeatMs, leaseMs, maxJobAttempts, retryDelayMs } = ctx.config.app.worker;
    const log = ctx.logger.child({ jobId: job.id, kind: job.kind, connectionId: job.connectionId });
    const heartbeat = setInterval(() => {
      jobs
        .heartbeat(job.id, this.id, leaseMs)
        .then((kept) => {
          // Another worker took the job over (our lease ran out): stop at the next batch boundary.
          if (!kept) {
            log.warn('lost the job lease to another worker; stopping this copy', {});
            lost.abort();
          }
        })
        .catch((err: unknown) => log.warn('could not extend the job lease', { error: describeError(err) }));
    }, heartbeatMs);
    const lost = new AbortController();
    const stop = AbortSignal.any([signal, lost.signal]);
    log.info('job started', { attempt: job.attempts });
    try {
      if (job.kind === 'sync' && isSyncJobPayload(job.payload)) {
        const summary = await runSyncJob(ctx, job.connectionId, job.payload, { signal: stop });
        if (summary.status === 'running') {
          if (!lost.signal.aborted) await jobs.release(job.id, this.id);
          log.info('sync checkpointed; it resumes when the job is taken again', { syncRunId: summary.syncRunId });
          return;
        }
        if (summary.status === 'failed') {
          const e = summary.error ?? { code: 'INTERNAL', retryable: false };
          throw new SyncError(PERMANENT.has(e.code) ? (e.code as SyncError['code']) : 'UPSTREAM_5XX', summary.message ?? 'the sync failed', { retryable: e.retryable });
        }
        await jobs.finish(job.id, summary, { workerId: this.id });
        log.info('sync finished', { syncRunId: summary.syncRunId, status: summary.status, rows: summary.rows, created: summary.created, updated: summary.updated, failed: summary.failed });
      } else if (job.kind === 'enrich' && isEnrichJobPayload(job.payload)) {
        await jobs.finish(job.id, await runEnrichJob(ctx, job.connectionId, job.payload), { forgetPayload: true, workerId: this.id });
      } else {
        await jobs.fail(job.id, `Job payload of kind ${job.kind} is not understood.`);
      }
    } catch (err) {
      const message = scrubText(describeError(err));
      const permanent = err instanceof SyncError && (PERMANENT.has(err.code) || err.retryable === false);
      try {
        if (lost.signal.aborted) return; // the job is another worker's now
        if (signal.aborted) await jobs.release(job.id, this.id);
        else if (!permanent && job.attempts < maxJobAttempts) {
          const retryAt = new Date(ctx.now().getTime() + retryDelayMs * 2 ** Math.max(0, job.attempts - 1));
          await jobs.fail(job.id, message, { retryAt, workerId: this.id });
          log.warn('job failed; queued again', { error: message, retryAt: retryAt.toISOString() });
        } else {
          await jobs.fail(job.id, message, { workerId: this.id });
          log.error('job failed', { error: message });
        }
      } catch (storeErr) {
        // The lease runs out and another start takes the job again.
        log.error('could not record the end of a job', { error: describeError(storeErr), jobError: message });
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const { controller } of this.running.values()) controller.abort();
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.ctx.config.app.worker.shutdownGraceMs)));
    const outcome = await Promise.race([all.then(() => 'done' as const), grace]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.ctx.logger.warn('shutdown grace ran out with jobs still running; their leases expire and another start resumes them', { jobs: this.running.size });
    }
  }
}
