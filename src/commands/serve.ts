/**
 * `orbit-sync serve`: the installed app in one process — the HTTP server (health, metrics, admin API,
 * dashboard, OAuth installs, webhooks), the scheduler and the worker.
 *
 * Start-up: app.json and ENCRYPTION_KEY are checked first (a bad manifest or a missing key fails the start
 * with every problem listed); jobs a dead process left running are queued again (SQLite: one `serve` per
 * database file), so an interrupted sync resumes; the scheduler catches up at once, then ticks.
 *
 * Graceful shutdown on SIGTERM/SIGINT: the scheduler stops, the worker takes no new job and asks running
 * syncs to stop at their next batch boundary (what they wrote is recorded; the job goes back to the queue),
 * the server stops accepting connections and finishes requests in flight, the store closes, exit 0.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../app/app-context';
import { requireEncryptionKey } from '../app/app-context';
import type { Config } from '../config';
import { Worker } from '../jobs/worker';
import { describeError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { Scheduler } from '../scheduler/scheduler';
import { createApp } from '../server/app';
import { loadAppManifest } from '../server/app-manifest';
import { openStore } from '../store/db';
import { createJobs } from '../store/jobs';

export interface ServeOptions {
  port?: number;
  /** Resolves when the server should stop (default: SIGTERM or SIGINT). */
  stop?: Promise<void>;
  onListening?: (url: string) => void;
}

export async function runServeCommand(config: Config, logger: Logger, options: ServeOptions = {}): Promise<number> {
  const manifest = loadAppManifest();
  const key = requireEncryptionKey(config);
  const store = await openStore(config.databaseUrl);
  const recovered = await createJobs(store.db).recoverAll();
  if (recovered > 0) logger.info('jobs left running by a stopped process were queued again; their syncs resume', { jobs: recovered });
  // A job queued in this process wakes the worker at once (other processes find it on their next poll).
  const ctx: AppContext = { config, db: store.db, key, logger, now: () => new Date(), notify: () => worker.wake() };
  const worker = new Worker(ctx);
  const scheduler = new Scheduler(ctx);
  const app = createApp({ db: store.db, adminToken: config.adminToken, ctx, manifest, onError: (err) => logger.error('request failed', { error: describeError(err) }) });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port ?? config.port, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  logger.info('orbit-sync serving', { port, app: manifest.uid, schedule: config.app.schedule, publicUrl: config.publicUrl ?? null, adminApi: config.adminToken !== undefined });
  worker.start();
  await scheduler.start();
  logger.info('scheduler started', { nextTick: scheduler.nextTick()?.toISOString() ?? null });
  options.onListening?.(url);
  await (options.stop ??
    new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    }));
  logger.info('shutting down: no new work, checkpointing running syncs, finishing requests in flight', { jobs: worker.busy });
  scheduler.stop();
  await worker.stop();
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.close();
  logger.info('stopped', {});
  return 0;
}
