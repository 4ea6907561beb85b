import type { Store } from '../../../src/store/db';
import { COMPANY_CACHE_READ_CHUNK, COMPANY_CACHE_WRITE_CHUNK, createCompanyCache } from '../../../src/store/company-cache';
import { clockOf, FIXED_NOW, openMemoryStoreWithConnection } from './helpers';

describe('company cache', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openMemoryStoreWithConnection();
  });
  afterEach(async () => {
    await store.close();
  });

  it('returns what was put, keyed by lower-cased domain, and nothing for unknown domains', async () => {
    const cache = createCompanyCache(store.db);
    await cache.putMany('conn-1', [
      { domain: 'Acme.com', crmCompanyId: 'company-1' },
      { domain: 'globex.test', crmCompanyId: 'company-2' },
    ]);

    const found = await cache.getMany('conn-1', [' ACME.com ', 'initech.test', '']);
    expect([...found]).toEqual([['acme.com', 'company-1']]);
  });

  it('a second put of a domain overwrites the company id instead of adding a row', async () => {
    const cache = createCompanyCache(store.db, { now: clockOf('2026-02-01T10:00:00.000Z', '2026-02-02T10:00:00.000Z') });
    await cache.putMany('conn-1', [{ domain: 'acme.com', crmCompanyId: 'company-1' }]);
    await cache.putMany('conn-1', [{ domain: 'ACME.COM', crmCompanyId: 'company-merged' }]);

    expect((await cache.getMany('conn-1', ['acme.com'])).get('acme.com')).toBe('company-merged');
    const rows = await store.db.selectFrom('company_cache').selectAll().execute();
    expect(rows).toEqual([{ connection_id: 'conn-1', domain: 'acme.com', crm_company_id: 'company-merged', updated_at: '2026-02-02T10:00:00.000Z' }]);
  });

  it('the last entry wins for a domain given twice in one call', async () => {
    const cache = createCompanyCache(store.db);
    await cache.putMany('conn-1', [
      { domain: 'acme.com', crmCompanyId: 'company-1' },
      { domain: 'Acme.com', crmCompanyId: 'company-2' },
    ]);
    expect((await cache.getMany('conn-1', ['acme.com'])).get('acme.com')).toBe('company-2');
  });

  it('is per connection: another connection does not see the entry', async () => {
    await store.db
      .insertInto('connections')
      .values({ id: 'conn-2', crm: 'hubspot', account_id: '999', status: 'active', created_at: FIXED_NOW.toISOString(), updated_at: FIXED_NOW.toISOString() })
      .execute();
    const cache = createCompanyCache(store.db);
    await cache.putMany('conn-1', [{ domain: 'acme.com', crmCompanyId: 'company-1' }]);

    expect((await cache.getMany('conn-2', ['acme.com'])).size).toBe(0);
  });

  it(`reads and writes more than 1,000 domains (chunks of ${COMPANY_CACHE_READ_CHUNK} / ${COMPANY_CACHE_WRITE_CHUNK}) in one call`, async () => {
    const cache = createCompanyCache(store.db);
    const entries = Array.from({ length: 2_345 }, (_, i) => ({ domain: `Company${i}.test`, crmCompanyId: `company-${i}` }));
    await cache.putMany('conn-1', entries);

    const found = await cache.getMany('conn-1', [...entries.map((e) => e.domain), 'absent.test']);
    expect(found.size).toBe(2_345);
    expect(found.get('company0.test')).toBe('company-0');
    expect(found.get('company2344.test')).toBe('company-2344');
  });

  it('refuses blank domains and company ids, writing nothing of the batch', async () => {
    const cache = createCompanyCache(store.db);
    await expect(cache.putMany('conn-1', [{ domain: 'acme.com', crmCompanyId: 'c-1' }, { domain: ' ', crmCompanyId: 'c-2' }])).rejects.toMatchObject({
      code: 'INTERNAL',
    });
    await expect(cache.putMany('conn-1', [{ domain: 'acme.com', crmCompanyId: '' }])).rejects.toThrow(/empty CRM company id/);
    expect((await cache.getMany('conn-1', ['acme.com'])).size).toBe(0);
  });

  it('a cache entry needs an existing connection (foreign keys are on)', async () => {
    const cache = createCompanyCache(store.db);
    await expect(cache.putMany('no-such-conn', [{ domain: 'acme.com', crmCompanyId: 'c-1' }])).rejects.toThrow(/FOREIGN KEY/);
  });
});
