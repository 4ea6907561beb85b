import { sql } from 'kysely';
import type { Store } from '../../../src/store/db';
import { createLedger, LEDGER_READ_CHUNK, LEDGER_WRITE_CHUNK, type LedgerUpsert } from '../../../src/store/ledger';
import { clockOf, hashEmail, openMemoryStoreWithConnection } from './helpers';

function entry(email: string, overrides: Partial<LedgerUpsert> = {}): LedgerUpsert {
  return {
    hashedEmail: hashEmail(email),
    crmRecordId: `contact-${email}`,
    crmObjectType: 'contact',
    crmCompanyId: null,
    payloadFingerprint: `fp-1-${email}`,
    lastScore: 70,
    lastRunId: 'run-1',
    lastSyncRunId: 'sync-1',
    lastTopics: ['Marketing ROI'],
    ...overrides,
  };
}

describe('ledger', () => {
  it('lists the people of a run at or above a score, with their topics (the deals stage reads these)', async () => {
    const store = await openMemoryStoreWithConnection();
    const ledger = createLedger(store.db);
    await ledger.upsertMany('conn-1', 'hubspot', [
      entry('ada@acme.test', { lastScore: 91, lastRunId: 'run-2', lastTopics: ['Attribution', 'Marketing ROI'] }),
      entry('bob@acme.test', { lastScore: 59, lastRunId: 'run-2' }),
      entry('cara@acme.test', { lastScore: 80, lastRunId: 'run-1' }),
    ]);
    const listed = await ledger.listForRun('conn-1', 'hubspot', 'run-2', 60);
    expect(listed.map((e) => [e.hashedEmail, e.lastScore, e.lastTopics])).toEqual([[hashEmail('ada@acme.test'), 91, ['Attribution', 'Marketing ROI']]]);
    await store.close();
  });

  let store: Store;
  beforeEach(async () => {
    store = await openMemoryStoreWithConnection();
  });
  afterEach(async () => {
    await store.close();
  });

  it('returns what was upserted, keyed by hashed email, and nothing for unknown people', async () => {
    const ledger = createLedger(store.db, { now: clockOf('2026-02-01T10:00:00.000Z') });
    await ledger.upsertMany('conn-1', 'hubspot', [entry('ada@acme.test', { crmCompanyId: 'company-9' }), entry('bob@acme.test')]);

    const found = await ledger.getMany('conn-1', 'hubspot', [hashEmail('ada@acme.test'), hashEmail('nobody@acme.test')]);

    expect([...found.keys()]).toEqual([hashEmail('ada@acme.test')]);
    expect(found.get(hashEmail('ada@acme.test'))).toEqual({
      ...entry('ada@acme.test', { crmCompanyId: 'company-9' }),
      updatedAt: '2026-02-01T10:00:00.000Z',
    });
  });

  it('a second upsert of the same person updates the row instead of adding one', async () => {
    const ledger = createLedger(store.db, { now: clockOf('2026-02-01T10:00:00.000Z', '2026-02-02T10:00:00.000Z') });
    await ledger.upsertMany('conn-1', 'hubspot', [entry('ada@acme.test')]);
    await ledger.upsertMany('conn-1', 'hubspot', [
      entry('ada@acme.test', { payloadFingerprint: 'fp-2', lastScore: 95, lastRunId: 'run-2', lastSyncRunId: 'sync-2', crmCompanyId: 'company-1' }),
    ]);

    const found = await ledger.getMany('conn-1', 'hubspot', [hashEmail('ada@acme.test')]);
    expect(found.get(hashEmail('ada@acme.test'))).toMatchObject({
      crmRecordId: 'contact-ada@acme.test',
      payloadFingerprint: 'fp-2',
      lastScore: 95,
      lastRunId: 'run-2',
      lastSyncRunId: 'sync-2',
      crmCompanyId: 'company-1',
      updatedAt: '2026-02-02T10:00:00.000Z',
    });
    const { count } = await store.db.selectFrom('ledger').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    expect(count).toBe(1);
  });

  it('keeps destinations apart', async () => {
    await store.db
      .insertInto('connections')
      .values({ id: 'conn-2', crm: 'salesforce', account_id: '00D000000000001', status: 'active', created_at: 'x', updated_at: 'x' })
      .execute();
    const ledger = createLedger(store.db);
    await ledger.upsertMany('conn-1', 'hubspot', [entry('ada@acme.test')]);

    expect((await ledger.getMany('conn-1', 'salesforce', [hashEmail('ada@acme.test')])).size).toBe(0);
    expect((await ledger.getMany('conn-2', 'hubspot', [hashEmail('ada@acme.test')])).size).toBe(0);
  });

  it(`reads and writes more keys than one chunk (${LEDGER_READ_CHUNK}) in a single call`, async () => {
    const ledger = createLedger(store.db);
    const people = Array.from({ length: 2_345 }, (_, i) => entry(`person${i}@acme.test`));
    await ledger.upsertMany('conn-1', 'hubspot', people);

    const asked = [...people.map((p) => p.hashedEmail), hashEmail('absent@acme.test')];
    const found = await ledger.getMany('conn-1', 'hubspot', asked);

    expect(found.size).toBe(2_345);
    expect(found.get(hashEmail('person2344@acme.test'))?.payloadFingerprint).toBe('fp-1-person2344@acme.test');
    expect(found.get(hashEmail('person0@acme.test'))?.crmRecordId).toBe('contact-person0@acme.test');
  });

  it('refuses a key that is not a sha256 hex digest, so a plaintext email cannot be stored', async () => {
    const ledger = createLedger(store.db);
    await expect(ledger.upsertMany('conn-1', 'hubspot', [entry('ada@acme.test', { hashedEmail: 'ada@acme.test' })])).rejects.toMatchObject({
      code: 'INTERNAL',
    });
    await expect(ledger.getMany('conn-1', 'hubspot', ['ada@acme.test'])).rejects.toThrow(/hashed email/);
    // The message must not echo the value: it may be an email.
    await expect(ledger.getMany('conn-1', 'hubspot', ['ada@acme.test'])).rejects.not.toThrow(/ada@acme\.test/);
  });

  it('a batch failing in a later chunk rolls back the chunks already written (all or nothing)', async () => {
    const ledger = createLedger(store.db);
    const good = Array.from({ length: LEDGER_WRITE_CHUNK + 10 }, (_, i) => entry(`ok${i}@acme.test`));
    const bad = entry('zed@acme.test', { crmRecordId: null as unknown as string }); // NOT NULL violation, in the 2nd chunk
    await expect(ledger.upsertMany('conn-1', 'hubspot', [...good, bad])).rejects.toThrow(/NOT NULL/);
    expect((await ledger.getMany('conn-1', 'hubspot', good.map((g) => g.hashedEmail))).size).toBe(0);
  });

  it('has no column that could hold a plaintext email or name', async () => {
    for (const table of ['ledger', 'record_errors', 'sync_runs', 'company_cache', 'connections', 'audience_subscriptions']) {
      const { rows } = await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(store.db);
      const columns = rows.map((r) => r.name);
      expect(columns.length).toBeGreaterThan(0);
      const suspicious = columns.filter((c) => /email|name/i.test(c) && c !== 'hashed_email');
      expect({ table, suspicious }).toEqual({ table, suspicious: [] });
    }
    const { rows } = await sql<{ name: string }>`select name from pragma_table_info('ledger')`.execute(store.db);
    expect(rows.map((r) => r.name).sort()).toEqual(
      [
        'connection_id',
        'crm_company_id',
        'crm_object_type',
        'crm_record_id',
        'destination',
        'hashed_email',
        'last_run_id',
        'last_score',
        'last_sync_run_id',
        'last_topics',
        'payload_fingerprint',
        'updated_at',
      ].sort(),
    );
  });
});
