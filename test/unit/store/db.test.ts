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
        ['audience_subscriptions', 'company_cache', 'connections', 'ledger', 'record_errors', 'sync_runs'].sort(),
      );
    } finally {
      await store.close();
      await store.close(); // closing twice is harmless
    }
  });
});
