import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { MIGRATIONS } from '../../../src/store/migrations';
import { NodeSqliteDialect } from '../../../src/store/sqlite-dialect';
import path from 'node:path';
import { FixConfigurationError } from '../../../src/lib/errors';
import { openStore, resolveSqliteLocation } from '../../../src/store/db';

describe('resolveSqliteLocation', () => {
  it.each([
    ['./data/orbit-sync.db', { kind: 'file', file: path.resolve('/srv/app', 'data/orbit-sync.db') }],
    ['sqlite:./data/x.db', { kind: 'file', file: path.resolve('/srv/app', 'data/x.db') }],
    ['sqlite:/var/lib/orbit/x.db', { kind: 'file', file: '/var/lib/orbit/x.db' }],
    ['file:rel.db', { kind: 'file', file: path.resolve('/srv/app', 'rel.db') }],
    ['file:///var/lib/orbit/x.db', { kind: 'file', file: '/var/lib/orbit/x.db' }],
    [':memory:', { kind: 'memory' }],
    ['sqlite::memory:', { kind: 'memory' }],
  ])('%s', (url, expected) => {
    expect(resolveSqliteLocation(url, '/srv/app')).toEqual(expected);
  });

  it.each(['postgres://u:p@db:5432/orbit', 'postgresql://db/orbit'])('refuses %s until PostgreSQL lands (#5/#6)', (url) => {
    let caught: unknown;
    try {
      resolveSqliteLocation(url, '/srv/app');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FixConfigurationError);
    expect(caught).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(String((caught as Error).message)).toMatch(/PostgreSQL is not supported yet.*#5\/#6/);
    // The password of the URL must not be echoed.
    expect(String((caught as Error).message)).not.toContain('u:p@');
  });

  it.each(['sqlite:', 'mysql://db/orbit'])('refuses %s', (url) => {
    expect(() => resolveSqliteLocation(url, '/srv/app')).toThrow(FixConfigurationError);
  });
});

describe('openStore', () => {
  it('rejects a postgres:// URL without opening anything', async () => {
    await expect(openStore('postgres://db/orbit')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('opens :memory: with every table and runs queries', async () => {
    const store = await openStore(':memory:');
    try {
      const tables = await store.db.introspection.getTables();
      expect(tables.map((t) => t.name).sort()).toEqual(
        [
          'app_state',
          'audience_subscriptions',
          'company_cache',
          'connection_credentials',
          'connection_settings',
          'connections',
          'held_intent',
          'held_intent_emails',
          'jobs',
          'ledger',
          'oauth_states',
          'record_errors',
          'sync_runs',
          'webhook_events',
        ].sort(),
      );
    } finally {
      await store.close();
      await store.close(); // closing twice is harmless
    }
  });
});

it('migration 0003 rebuilds connections without losing the rows that point at them', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'orbit-mig-')), 'old.db');
  // A database at 0002 with a connection and a ledger row.
  const sqlite = new DatabaseSync(file, { enableForeignKeyConstraints: true });
  const old = new Kysely<never>({ dialect: new NodeSqliteDialect({ database: sqlite, busyTimeoutMs: 1000 }) });
  const upTo0002 = { getMigrations: () => Promise.resolve(Object.fromEntries(Object.entries(MIGRATIONS).filter(([n]) => n < '0003')) as typeof MIGRATIONS) };
  await new Migrator({ db: old, provider: upTo0002 }).migrateToLatest();
  sqlite.exec(`insert into connections values ('c1', 'salesforce', '00D1', 'active', 't', 't')`);
  sqlite.exec(`insert into ledger (connection_id, destination, hashed_email, crm_record_id, crm_object_type, payload_fingerprint, updated_at) values ('c1', 'salesforce', '${'a'.repeat(64)}', '00Q1', 'lead', 'fp', 't')`);
  await old.destroy();

  const store = await openStore(file);
  try {
    expect(await store.db.selectFrom('ledger').select('crm_record_id').execute()).toEqual([{ crm_record_id: '00Q1' }]);
    expect(await store.db.selectFrom('connections').select(['id', 'status', 'status_message']).execute()).toEqual([{ id: 'c1', status: 'active', status_message: null }]);
    // Foreign keys are on again: a ledger row for an unknown connection is refused.
    await expect(
      store.db
        .insertInto('ledger')
        .values({ connection_id: 'nope', destination: 'salesforce', hashed_email: 'b'.repeat(64), crm_record_id: 'x', crm_object_type: 'lead', crm_company_id: null, payload_fingerprint: 'f', last_score: null, last_run_id: null, last_sync_run_id: null, last_topics: null, updated_at: 't' })
        .execute(),
    ).rejects.toThrow(/FOREIGN KEY/);
  } finally {
    await store.close();
  }
});
