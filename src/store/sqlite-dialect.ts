/**
 * A Kysely dialect over Node's built-in `node:sqlite` (`DatabaseSync`), so the embedded store needs no
 * native addon (better-sqlite3 would need a compiler or a prebuilt binary on every install).
 *
 * Only the driver and the connection are ours; SQL generation, the adapter and introspection are
 * Kysely's own SQLite ones. Kysely's `SqliteDriver` is written for better-sqlite3 (`stmt.reader`), which
 * `StatementSync` does not have: we decide between `.all()` and `.run()` by `stmt.columns().length`.
 *
 * One `DatabaseSync` is one connection, so a mutex hands it to one transaction (or one single query) at
 * a time; without it, a query issued while another caller's transaction is open would run inside it.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type {
  CompiledQuery as CompiledQueryType,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
} from 'kysely';
import { CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import { SyncError } from '../lib/errors';

export interface NodeSqliteDialectConfig {
  /** An open database, or a factory called once when Kysely first needs it. */
  database: DatabaseSync | (() => DatabaseSync | Promise<DatabaseSync>);
  /** How long a writer waits for another process's lock before SQLITE_BUSY. Default 5,000 ms. */
  busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/**
 * SQLite does run DDL inside transactions; Kysely's adapter says it does not (better-sqlite3 heritage).
 * Saying yes makes the Migrator apply each migration atomically: a crash never leaves half a schema.
 */
class NodeSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class NodeSqliteDialect implements Dialect {
  readonly #config: NodeSqliteDialectConfig;

  constructor(config: NodeSqliteDialectConfig) {
    this.#config = { ...config };
  }

  createDriver(): Driver {
    return new NodeSqliteDriver(this.#config);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new NodeSqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** A FIFO lock: `lock()` resolves when every earlier holder has called `unlock()`. */
class ConnectionMutex {
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  async lock(): Promise<void> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    this.#release = release;
  }

  unlock(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

class NodeSqliteDriver implements Driver {
  readonly #config: NodeSqliteDialectConfig;
  readonly #mutex = new ConnectionMutex();
  #db: DatabaseSync | undefined;
  #connection: NodeSqliteConnection | undefined;

  constructor(config: NodeSqliteDialectConfig) {
    this.#config = config;
  }

  async init(): Promise<void> {
    const { database } = this.#config;
    const db = typeof database === 'function' ? await database() : database;
    // 1. Foreign keys are off by default in SQLite, per connection.
    // 2. Busy timeout: the CLI and `serve` may share one file; wait for the other writer instead of failing.
    // 3. WAL: readers never block the writer and vice versa (an in-memory database answers "memory").
    db.exec('PRAGMA foreign_keys = ON');
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(this.#config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
    db.exec('PRAGMA journal_mode = WAL');
    this.#db = db;
    this.#connection = new NodeSqliteConnection(db);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    if (!this.#connection) {
      this.#mutex.unlock();
      throw new SyncError('INTERNAL', 'The SQLite store is closed or was never opened; open it with openStore() before querying.');
    }
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes can
    // fail with SQLITE_BUSY at the upgrade, which the busy timeout does not cover.
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, savepointName: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdentifier(savepointName)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, savepointName: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quoteIdentifier(savepointName)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, savepointName: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quoteIdentifier(savepointName)}`));
  }

  releaseConnection(): Promise<void> {
    this.#mutex.unlock();
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    this.#connection = undefined;
    if (db?.isOpen) db.close();
    return Promise.resolve();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** node:sqlite binds only null, numbers, bigints, strings and bytes (Uint8Array/Buffer); booleans become 0/1 as SQLite stores them. */
function toSqlValue(value: unknown, index: number, sql: string): SQLInputValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return value;
  throw new SyncError(
    'INTERNAL',
    `Query parameter ${index + 1} is a ${typeof value} (${Object.prototype.toString.call(value)}), which SQLite cannot store; serialize it (JSON text, ISO date) first. Query: ${sql}`,
  );
}

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #prepare(compiledQuery: CompiledQueryType): { stmt: StatementSync; params: SQLInputValue[] } {
    const { sql, parameters } = compiledQuery;
    const stmt = this.#db.prepare(sql);
    return { stmt, params: parameters.map((p, i) => toSqlValue(p, i, sql)) };
  }

  executeQuery<R>(compiledQuery: CompiledQueryType): Promise<QueryResult<R>> {
    // node:sqlite is synchronous; `.then` turns a thrown SQLite error into a rejection.
    return Promise.resolve().then(() => this.#execute<R>(compiledQuery));
  }

  #execute<R>(compiledQuery: CompiledQueryType): QueryResult<R> {
    const { stmt, params } = this.#prepare(compiledQuery);
    // A statement that yields columns (SELECT, PRAGMA, … RETURNING) returns rows; anything else reports changes.
    if (stmt.columns().length > 0) {
      // The row shape is the query builder's compile-time type; SQLite hands back plain objects.
      return { rows: stmt.all(...params) as R[] };
    }
    const { changes, lastInsertRowid } = stmt.run(...params);
    return {
      numAffectedRows: BigInt(changes),
      insertId: BigInt(lastInsertRowid),
      rows: [],
    };
  }

  streamQuery<R>(compiledQuery: CompiledQueryType, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    // node:sqlite iterates synchronously; this adapts its generator to the async iterator Kysely expects.
    const chunks = this.#chunks<R>(compiledQuery, chunkSize);
    const iterator: AsyncIterableIterator<QueryResult<R>> = {
      next: () => Promise.resolve().then(() => chunks.next()),
      return: () => Promise.resolve().then(() => chunks.return(undefined)),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  *#chunks<R>(compiledQuery: CompiledQueryType, chunkSize: number): Generator<QueryResult<R>, undefined, undefined> {
    const { stmt, params } = this.#prepare(compiledQuery);
    if (stmt.columns().length === 0) {
      throw new SyncError('INTERNAL', `Only queries that return rows can be streamed: ${compiledQuery.sql}`);
    }
    const size = Math.max(1, Math.trunc(chunkSize) || 1);
    let chunk: R[] = [];
    for (const row of stmt.iterate(...params)) {
      chunk.push(row as R);
      if (chunk.length >= size) {
        yield { rows: chunk };
        chunk = [];
      }
    }
    if (chunk.length > 0) yield { rows: chunk };
  }
}
