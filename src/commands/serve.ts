/**
 * `orbit-sync serve`: the HTTP server on PORT (first part of issue #5: health, readiness, metrics).
 * Graceful shutdown on SIGTERM/SIGINT: stop accepting connections, let requests in flight finish, close
 * the store, exit 0. The scheduler, worker, OAuth installs and webhooks join it in later parts of #5.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import { describeError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { createApp } from '../server/app';
import { loadAppManifest } from '../server/app-manifest';
import { openStore } from '../store/db';

export interface ServeOptions {
  port?: number;
  /** Resolves when the server should stop (default: SIGTERM or SIGINT). */
  stop?: Promise<void>;
  onListening?: (url: string) => void;
}

export async function runServeCommand(config: Config, logger: Logger, options: ServeOptions = {}): Promise<number> {
  // The manifest is checked before anything listens: a bad app.json fails the start with every problem listed.
  const manifest = loadAppManifest();
  const store = await openStore(config.databaseUrl);
  const app = createApp({ db: store.db, adminToken: config.adminToken, onError: (err) => logger.error('request failed', { error: describeError(err) }) });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port ?? config.port, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  logger.info('orbit-sync serving', { port, app: manifest.uid });
  options.onListening?.(url);
  await (options.stop ??
    new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    }));
  logger.info('shutting down: no new connections, finishing requests in flight', {});
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.close();
  return 0;
}
