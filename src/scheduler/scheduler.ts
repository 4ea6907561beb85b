/**
 * The scheduler of `orbit-sync serve` (DESIGN.md "discover"): Leadpipe has no run-completed webhook, so a
 * croner tick (`app.schedule`, default every 15 minutes; `SCHEDULE_CRON` overrides it) lists the runs of
 * every subscribed audience of every active connection and queues a sync for each completed run not yet
 * synced to that connection.
 *
 * - Which runs: those completed since the audience was subscribed, plus the newest completed run at any
 *   time (so subscribing syncs today's run without replaying months of history). Oldest first, so newer
 *   intent lands last.
 * - Synced means a sync run of that run that succeeded or was partial. A run whose syncs failed
 *   `app.maxSyncAttempts` times is left alone (its failures are in the sync runs; an admin retries it).
 * - Nothing is queued twice: the queue's dedupe key per (connection, run).
 * - Catch-up: discovery is by state, not by tick, so the tick at start-up finds every run that completed
 *   while the server was down; the log says how many ticks were missed.
 * - Each tick also keeps HubSpot tokens fresh (an uninstalled app shows as `needs_reauth` within a tick)
 *   and deletes held intent past its expiry and old webhook event keys.
 */
import { Cron } from 'croner';
import { describeError, SyncError } from '../lib/errors';
import { createAppState } from '../store/app-state';
import { createConnections, type Connection } from '../store/connections';
import { createHeldIntent } from '../store/held-intent';
import { createJobs } from '../store/jobs';
import { createWebhookEvents } from '../store/webhook-events';
import type { AppContext } from '../app/app-context';
import { hubspotTokenKeeper } from '../app/hubspot-oauth';
import { leadpipeFor } from '../app/leadpipe';

const LAST_TICK = 'scheduler.lastTickAt';

export interface TickReport {
  connections: number;
  audiences: number;
  queued: number;
  errors: string[];
}

export function syncDedupeKey(connectionId: string, runId: string): string {
  return `sync:${connectionId}:${runId}`;
}

export class Scheduler {
  private cron: Cron | undefined;
  private ticking: Promise<TickReport> | undefined;

  constructor(private readonly ctx: AppContext) {
    // Fails the start with the expression when it is not a cron pattern.
    try {
      new Cron(ctx.config.app.schedule, { paused: true }).stop();
    } catch (err) {
      throw new SyncError('CONFIG_INVALID', `app.schedule / SCHEDULE_CRON "${ctx.config.app.schedule}" is not a cron expression: ${describeError(err)}`);
    }
  }

  /** Catches up at once, then ticks on the schedule. */
  async start(): Promise<TickReport> {
    const last = await createAppState(this.ctx.db).get(LAST_TICK);
    if (last !== undefined) {
      const missed = countBetween(this.ctx.config.app.schedule, new Date(last), this.ctx.now());
      if (missed > 0) this.ctx.logger.info('catching up on ticks missed while the server was down', { missed, lastTickAt: last });
    }
    this.cron = new Cron(this.ctx.config.app.schedule, { protect: true }, () => {
      void this.tick();
    });
    return this.tick();
  }

  stop(): void {
    this.cron?.stop();
  }

  /** When the next tick is due. */
  nextTick(): Date | null {
    return this.cron?.nextRun() ?? null;
  }

  /** One discovery pass (ticks never overlap: a tick asked for during another returns that one). */
  tick(): Promise<TickReport> {
    this.ticking ??= this.discover().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async discover(): Promise<TickReport> {
    const { ctx } = this;
    const report: TickReport = { connections: 0, audiences: 0, queued: 0, errors: [] };
    try {
      await createHeldIntent(ctx.db, ctx.key, { now: ctx.now }).purgeExpired();
      await createWebhookEvents(ctx.db, { now: ctx.now }).prune(new Date(ctx.now().getTime() - 3 * 86_400_000));
      for (const connection of await createConnections(ctx.db).list({ status: 'active' })) {
        report.connections += 1;
        try {
          await this.discoverFor(connection, report);
        } catch (err) {
          const message = `connection ${connection.id}: ${describeError(err)}`;
          report.errors.push(message);
          ctx.logger.warn('scheduler could not look at a connection', { connectionId: connection.id, error: describeError(err) });
        }
      }
      await createAppState(ctx.db, { now: ctx.now }).set(LAST_TICK, ctx.now().toISOString());
    } catch (err) {
      report.errors.push(describeError(err));
      ctx.logger.error('scheduler tick failed', { error: describeError(err) });
    }
    if (report.queued > 0) ctx.notify();
    ctx.logger.info('scheduler tick', { connections: report.connections, audiences: report.audiences, queued: report.queued, errors: report.errors.length });
    return report;
  }

  private async discoverFor(connection: Connection, report: TickReport): Promise<void> {
    const { ctx } = this;
    const subscriptions = await ctx.db.selectFrom('audience_subscriptions').selectAll().where('connection_id', '=', connection.id).where('active', '=', 1).execute();
    if (subscriptions.length === 0) return;
    if (connection.crm === 'hubspot') await hubspotTokenKeeper(ctx, connection.id).fresh();
    const leadpipe = await leadpipeFor(ctx, connection.id);
    const jobs = createJobs(ctx.db, { now: ctx.now });
    for (const sub of subscriptions) {
      report.audiences += 1;
      const runs = (await leadpipe.listRuns(sub.audience_id, { limit: 100 }))
        .filter((r) => r.status === 'completed')
        .map((r) => ({ id: r.id, at: r.completedAt ?? r.dataDate ?? r.createdAt ?? '' }))
        .sort((a, b) => a.at.localeCompare(b.at));
      const newest = runs.at(-1);
      const eligible = runs.filter((r) => r === newest || r.at >= sub.created_at);
      if (eligible.length === 0) continue;
      const history = await ctx.db
        .selectFrom('sync_runs')
        .select(['run_id', 'status'])
        .where('connection_id', '=', connection.id)
        .where(
          'run_id',
          'in',
          eligible.map((r) => r.id),
        )
        .execute();
      const open = await jobs.openKeys(eligible.map((r) => syncDedupeKey(connection.id, r.id)));
      for (const run of eligible) {
        const syncs = history.filter((h) => h.run_id === run.id);
        if (syncs.some((s) => s.status === 'succeeded' || s.status === 'partial')) continue;
        if (syncs.filter((s) => s.status === 'failed').length >= ctx.config.app.maxSyncAttempts) continue;
        const key = syncDedupeKey(connection.id, run.id);
        if (open.has(key)) continue;
        const { created } = await jobs.enqueue({ kind: 'sync', connectionId: connection.id, payload: { audienceId: sub.audience_id, runId: run.id, trigger: 'schedule' }, dedupeKey: key });
        if (created) report.queued += 1;
      }
    }
  }
}

/** Scheduled times strictly after `from` and at or before `to` (capped at 10,000). */
export function countBetween(pattern: string, from: Date, to: Date): number {
  const cron = new Cron(pattern, { paused: true });
  let n = 0;
  let next = cron.nextRun(from);
  while (next !== null && next <= to && n < 10_000) {
    n += 1;
    next = cron.nextRun(next);
  }
  cron.stop();
  return n;
}
