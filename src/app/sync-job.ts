/**
 * A `sync` job of the worker: one Leadpipe run of a subscribed audience into one connection, through the
 * same engine as the CLI (src/sync/run-sync.ts), with the connection's overrides, its Leadpipe key and
 * intent holding for the people it does not create. Interrupted by a shutdown, it returns with status
 * `running` and the job is given back to the queue; the next claim resumes the sync run.
 */
import { audienceSource } from '../commands/sync';
import { runSync, type SyncSummary } from '../sync/run-sync';
import type { AppContext } from './app-context';
import { openConnectionTarget } from './connection-target';
import { leadpipeFor } from './leadpipe';

export interface SyncJobPayload {
  audienceId: string;
  runId?: string;
  /** Why it was queued: schedule, webhook, admin, retry. */
  trigger: string;
}

export function isSyncJobPayload(value: unknown): value is SyncJobPayload {
  const v = value as Partial<SyncJobPayload> | null;
  return typeof v === 'object' && v !== null && typeof v.audienceId === 'string' && (v.runId === undefined || typeof v.runId === 'string');
}

export const DAY_MS = 86_400_000;

export async function runSyncJob(ctx: AppContext, connectionId: string, payload: SyncJobPayload, options: { signal?: AbortSignal; dryRun?: boolean } = {}): Promise<SyncSummary> {
  const leadpipe = await leadpipeFor(ctx, connectionId);
  const source = await audienceSource(leadpipe, payload.audienceId, payload.runId);
  const target = await openConnectionTarget(ctx, connectionId);
  return runSync({
    db: ctx.db,
    config: target.config,
    mapping: target.mapping,
    destination: target.destination,
    connectionId,
    source,
    dryRun: options.dryRun === true,
    logger: ctx.logger.child({ connectionId, audienceId: payload.audienceId }),
    hold: { key: ctx.key, ttlMs: ctx.config.app.holdDays * DAY_MS },
    now: ctx.now,
    ...(options.signal && { signal: options.signal }),
  });
}
