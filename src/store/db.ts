/**
 * Opens the store named by `DATABASE_URL` (config.ts: a file path, `sqlite:<path>`, `file:<path>` or
 * `:memory:`; default `./data/orbit-sync.db`) and brings its schema up to date before anyone queries it.
 *
 * 1. Resolve the URL to a SQLite location (PostgreSQL lands with #5/#6 and is refused clearly today).
 * 2. Create the parent folder of a file database, so a fresh checkout just works.
 * 3. Open `node:sqlite` through our Kysely dialect (WAL, foreign keys, busy timeout).
 * 4. Apply pending migrations; a failure closes the database and throws with the migration's name.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { Kysely, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { FixConfigurationError, SyncError } from '../lib/errors';
import { staticMigrationProvider } from './migrations';
import type { Database } from './schema';
import { DEFAULT_BUSY_TIMEOUT_MS, NodeSqliteDialect } from './sqlite-dialect';

export interface Store {
  db: Kysely<Database>;
  /** Closes the database. Safe to call more than once. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** How long a writer waits for another process's lock. Default 5,000 ms. */
  busyTimeoutMs?: number;
}

export type SqliteLocation = { kind: 'memory' } | { kind: 'file'; file: string };

/** Pure: what a `DATABASE_URL` points at. Relative paths are resolved against `cwd`. */
export function resolveSqliteLocation(databaseUrl: string, cwd: string = process.cwd()): SqliteLocation {
  const url = databaseUrl.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new FixConfigurationError([
      'DATABASE_URL: PostgreSQL is not supported yet (it lands with issues #5/#6). ' +
        'Use a SQLite file instead: unset DATABASE_URL for ./data/orbit-sync.db, or set DATABASE_URL=sqlite:<path>.',
    ]);
  }
  let target = url;
  if (/^file:\/\//i.test(url)) target = fileURLToPath(url);
  else if (/^(sqlite|file):/i.test(url)) target = url.replace(/^(sqlite|file):/i, '');
  if (target === '') {
    throw new FixConfigurationError([`DATABASE_URL: "${databaseUrl}" names no file; use sqlite:<path>, a file path or :memory:.`]);
  }
  if (target === ':memory:') return { kind: 'memory' };
  if (target.includes('://')) {
    throw new FixConfigurationError([`DATABASE_URL: "${databaseUrl}" is not a SQLite location; use sqlite:<path>, a file path or :memory:.`]);
  }
  return { kind: 'file', file: path.resolve(cwd, target) };
}

export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = resolveSqliteLocation(databaseUrl);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;

  let sqlite: DatabaseSync;
  try {
    if (location.kind === 'file') mkdirSync(path.dirname(location.file), { recursive: true });
    sqlite = new DatabaseSync(location.kind === 'memory' ? ':memory:' : location.file, {
      enableForeignKeyConstraints: true,
      timeout: busyTimeoutMs,
    });
  } catch (err) {
    const where = location.kind === 'file' ? location.file : ':memory:';
    throw new FixConfigurationError([`DATABASE_URL: cannot open the SQLite database at ${where} (${describe(err)}); check the path and its permissions.`]);
  }

  const db = new Kysely<Database>({ dialect: new NodeSqliteDialect({ database: sqlite, busyTimeoutMs }) });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await db.destroy();
  };

  try {
    // SQLite's procedure for schema changes that rebuild a table (migration 0003): foreign keys off while
    // migrating (a no-op inside the migrator's transaction, so it is set here), then checked and back on.
    await sql`select 1`.execute(db); // the driver's init (which turns foreign keys on) runs first
    sqlite.exec('PRAGMA foreign_keys = OFF');
    await migrateToLatest(db);
    const violations = sqlite.prepare('PRAGMA foreign_key_check').all();
    sqlite.exec('PRAGMA foreign_keys = ON');
    if (violations.length > 0) {
      throw new SyncError('STORE_MIGRATION_FAILED', `The store's schema was updated but ${violations.length} rows now point at missing parents; restore the database from a backup.`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { db, close };
}

/** Runs `work` in the caller's transaction when `db` is one, else in a transaction of its own. */
export function inTransaction<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

/** Applies every pending migration. Idempotent: an up-to-date database is left untouched. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: staticMigrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new SyncError(
      'STORE_MIGRATION_FAILED',
      `The store's schema could not be brought up to date${failed ? ` (migration ${failed} failed)` : ''}: ${describe(error)}. ` +
        'Nothing of that migration was applied; check that DATABASE_URL points at an orbit-sync database.',
      { cause: error },
    );
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
