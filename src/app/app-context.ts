/** What the installed app's parts (routes, scheduler, worker, jobs) share. */
import type { Kysely } from 'kysely';
import type { Config } from '../config';
import { FixConfigurationError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { Database } from '../store/schema';

export interface AppContext {
  config: Config;
  db: Kysely<Database>;
  /** ENCRYPTION_KEY: seals tokens, API keys and held intent. */
  key: Buffer;
  logger: Logger;
  now: () => Date;
  /** Wakes the worker when a job was queued (in-process; other processes poll). */
  notify: () => void;
}

/** The installed app refuses to start without the key that keeps its secrets sealed. */
export function requireEncryptionKey(config: Config): Buffer {
  if (config.encryptionKey === undefined) {
    throw new FixConfigurationError([
      'ENCRYPTION_KEY: required by `serve` (it seals CRM tokens, Leadpipe keys and held intent). Generate one with: openssl rand -hex 32',
    ]);
  }
  return config.encryptionKey;
}
