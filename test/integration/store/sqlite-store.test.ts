import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openStore, type Store } from '../../../src/store/db';
import { createLedger } from '../../../src/store/ledger';
import { MIGRATIONS } from '../../../src/store/migrations';
import type { Database } from '../../../src/store/schema';
import { createSyncRuns } from '../../../src/store/sync-runs';
import { FIXED_NOW, hashEmail } from '../../unit/store/helpers';

const at = FIXED_NOW.toISOString();

async function addConnection(db: Kysely<Database>, id = 'conn-1'): Promise<void> {
  await db.insertInto('connections').values({ id, crm: 'hubspot', account_id: `acct-${id}`, status: 'active', created_at: at, updated_at: at }).execute();
}

describe('SQLite store on a file', () => {
  let dir: string;
  let file: string;
  const open: Store[] = [];

  async function openFile(url = file): Promise<Store> {
    const store = await openStore(url);
    open.push(store);
    return store;
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'orbit-store-'));
    file = path.join(dir, 'nested', 'folder', 'orbit-sync.db');
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the parent folder and applies every migration to a fresh file', async () => {
    const store = await openFile(`sqlite:${file}`);
    expect(existsSync(file)).toBe(true);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.db);
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(MIGRATIONS).sort());
  });

  it('reopening is idempotent: migrations are not applied twice and the data survives', async () => {
    const first = await openFile();
    await addConnection(first.db);
    await createLedger(first.db).upsertMany('conn-1', 'hubspot', [
      {
        hashedEmail: hashEmail('ada@acme.test'),
        crmRecordId: '501',
        crmObjectType: 'contact',
        crmCompanyId: '9001',
        payloadFingerprint: 'fp-ada',
        lastScore: 88,
        lastRunId: 'run-1',
        lastSyncRunId: null,
      },
    ]);
    const run = await createSyncRuns(first.db).create({ connectionId: 'conn-1', destination: 'hubspot', audienceId: 'aud-1', runId: 'run-1' });
    await first.close();

    const second = await openFile();
    const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(second.db);
    expect(applied.rows[0]?.n).toBe(Object.keys(MIGRATIONS).length);
    const found = await createLedger(second.db).getMany('conn-1', 'hubspot', [hashEmail('ada@acme.test')]);
    expect(found.get(hashEmail('ada@acme.test'))).toMatchObject({ crmRecordId: '501', crmCompanyId: '9001', payloadFingerprint: 'fp-ada', lastScore: 88 });
    expect(await createSyncRuns(second.db).get(run.id)).toEqual(run);
  });

  it('uses WAL, foreign keys and a busy timeout', async () => {
    const store = await openFile();
    const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
    const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(store.db);
    const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(store.db);
    expect(journal.rows[0]?.journal_mode).toBe('wal');
    expect(fk.rows[0]?.foreign_keys).toBe(1);
    expect(busy.rows[0]?.timeout).toBeGreaterThan(0);
  });

  it('a transaction that throws rolls back every write in it, and a later one commits', async () => {
    const store = await openFile();
    await expect(
      store.db.transaction().execute(async (trx) => {
        await addConnection(trx, 'conn-a');
        await createSyncRuns(trx).create({ connectionId: 'conn-a', destination: 'hubspot' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.db.selectFrom('connections').selectAll().execute()).toEqual([]);
    expect(await store.db.selectFrom('sync_runs').selectAll().execute()).toEqual([]);

    await store.db.transaction().execute(async (trx) => {
      await addConnection(trx, 'conn-b');
    });
    expect((await store.db.selectFrom('connections').select('id').execute()).map((r) => r.id)).toEqual(['conn-b']);
  });

  it('one connection serves one transaction at a time: a query issued meanwhile waits and is not rolled back with it', async () => {
    const store = await openFile();
    let releaseTrx!: () => void;
    const gate = new Promise<void>((resolve) => {
      releaseTrx = resolve;
    });
    const trx = store.db.transaction().execute(async (t) => {
      await addConnection(t, 'in-trx');
      await gate;
      throw new Error('rollback');
    });
    // Issued while the transaction is open; without the mutex it would run inside it and be rolled back.
    const outside = addConnection(store.db, 'outside');
    await new Promise((resolve) => setTimeout(resolve, 20));
    releaseTrx();
    await expect(trx).rejects.toThrow('rollback');
    await outside;
    expect((await store.db.selectFrom('connections').select('id').execute()).map((r) => r.id)).toEqual(['outside']);
  });

  it('streams rows in chunks', async () => {
    const store = await openFile();
    for (let i = 0; i < 5; i++) await addConnection(store.db, `c${i}`);
    const ids: string[] = [];
    for await (const row of store.db.selectFrom('connections').select('id').orderBy('id').stream(2)) ids.push(row.id);
    expect(ids).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
  });
});
