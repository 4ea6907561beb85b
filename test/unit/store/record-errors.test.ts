import type { Store } from '../../../src/store/db';
import { createRecordErrors, RECORD_ERRORS_READ_CHUNK, type RecordFailure } from '../../../src/store/record-errors';
import { createSyncRuns } from '../../../src/store/sync-runs';
import { clockOf, FIXED_NOW, hashEmail, openMemoryStoreWithConnection } from './helpers';

const ADA = hashEmail('ada@acme.test');
const BOB = hashEmail('bob@acme.test');

function failure(hashedEmail: string | null, overrides: Partial<RecordFailure> = {}): RecordFailure {
  return { hashedEmail, line: null, code: 'CRM_REJECTED', crmMessage: 'Property values were not valid', retryable: true, ...overrides };
}

describe('record errors', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openMemoryStoreWithConnection();
    const runs = createSyncRuns(store.db);
    for (const [id, audienceId] of [
      ['sync-1', 'aud-1'],
      ['sync-2', 'aud-1'],
      ['sync-3', 'aud-1'],
      ['other-audience', 'aud-2'],
      ['file-1', null],
      ['file-2', null],
    ] as const) {
      await runs.create({ id, connectionId: 'conn-1', destination: 'hubspot', audienceId });
    }
  });
  afterEach(async () => {
    await store.close();
  });

  it('records a failure with line, code, CRM message and retryable flag, listed by sync run', async () => {
    const errors = createRecordErrors(store.db, { now: clockOf('2026-02-01T10:00:00.000Z') });
    const stored = await errors.record('sync-1', failure(ADA, { line: 7, code: 'INVALID_EMAIL', crmMessage: 'Email address ada@ is invalid', retryable: false }));

    expect(typeof stored.id).toBe('string');
    expect(stored).toEqual({
      id: stored.id,
      syncRunId: 'sync-1',
      hashedEmail: ADA,
      line: 7,
      code: 'INVALID_EMAIL',
      crmMessage: 'Email address ada@ is invalid',
      retryable: false,
      attempts: 1,
      createdAt: '2026-02-01T10:00:00.000Z',
    });
    expect(await errors.listBySyncRun('sync-1')).toEqual([stored]);
    expect(await errors.listBySyncRun('sync-2')).toEqual([]);
  });

  it('the same person failing again in the next sync of the audience counts an attempt instead of adding a row', async () => {
    const errors = createRecordErrors(store.db);
    await errors.record('sync-1', failure(ADA, { crmMessage: 'first' }));
    const again = await errors.record('sync-2', failure(ADA, { crmMessage: 'second', line: 3 }));

    expect(again).toMatchObject({ syncRunId: 'sync-2', attempts: 2, crmMessage: 'second', line: 3 });
    expect(await errors.listBySyncRun('sync-1')).toEqual([]);
    expect((await errors.listBySyncRun('sync-2')).map((e) => [e.hashedEmail, e.attempts])).toEqual([[ADA, 2]]);
    expect(await store.db.selectFrom('record_errors').selectAll().execute()).toHaveLength(1);
  });

  it('recording the same person twice in one run (a resumed sync) also counts attempts', async () => {
    const errors = createRecordErrors(store.db);
    await errors.recordMany('sync-1', [failure(ADA), failure(BOB)]);
    await errors.recordMany('sync-1', [failure(ADA)]);

    const listed = await errors.listBySyncRun('sync-1');
    expect(new Map(listed.map((e) => [e.hashedEmail, e.attempts]))).toEqual(new Map([[ADA, 2], [BOB, 1]]));
  });

  it('a person given twice in one call is one attempt, with the last failure', async () => {
    const errors = createRecordErrors(store.db);
    await errors.recordMany('sync-1', [failure(ADA, { code: 'A' }), failure(ADA, { code: 'B' })]);
    expect((await errors.listBySyncRun('sync-1')).map((e) => [e.code, e.attempts])).toEqual([['B', 1]]);
  });

  it('retryable() lists retryable people until maxAttempts failures, then leaves them as errors', async () => {
    const errors = createRecordErrors(store.db);
    const maxAttempts = 3;
    await errors.recordMany('sync-1', [failure(ADA), failure(BOB, { retryable: false, code: 'INVALID_EMAIL' })]);
    expect(await errors.retryable('conn-1', 'aud-1', maxAttempts)).toEqual([ADA]);

    await errors.record('sync-2', failure(ADA));
    expect(await errors.retryable('conn-1', 'aud-1', maxAttempts)).toEqual([ADA]);

    await errors.record('sync-3', failure(ADA));
    expect(await errors.retryable('conn-1', 'aud-1', maxAttempts)).toEqual([]);
    // Still there, as an error of the last run, with its attempts.
    expect(await errors.listBySyncRun('sync-3')).toEqual([expect.objectContaining({ hashedEmail: ADA, attempts: 3, retryable: true })]);
  });

  it('the last error decides: a retryable failure followed by a permanent one is not retried', async () => {
    const errors = createRecordErrors(store.db);
    await errors.record('sync-1', failure(ADA, { retryable: true }));
    await errors.record('sync-2', failure(ADA, { retryable: false, code: 'INVALID_EMAIL' }));
    expect(await errors.retryable('conn-1', 'aud-1', 5)).toEqual([]);
  });

  it('attempts are counted per audience: another audience is a separate error; file syncs share one scope', async () => {
    const errors = createRecordErrors(store.db);
    await errors.record('sync-1', failure(ADA));
    await errors.record('other-audience', failure(ADA));
    await errors.record('file-1', failure(ADA));
    await errors.record('file-2', failure(ADA));

    const rows = await store.db.selectFrom('record_errors').select(['sync_run_id', 'attempts']).orderBy('sync_run_id').execute();
    expect(rows).toEqual([
      { sync_run_id: 'file-2', attempts: 2 },
      { sync_run_id: 'other-audience', attempts: 1 },
      { sync_run_id: 'sync-1', attempts: 1 },
    ]);
    expect([...(await errors.lookup('file-1', [ADA])).values()].map((e) => [e.syncRunId, e.attempts])).toEqual([['file-2', 2]]);
    expect(await errors.retryable('conn-1', 'aud-2', 3)).toEqual([ADA]);
  });

  it('errors without an email are kept by line, and never offered for retry', async () => {
    const errors = createRecordErrors(store.db);
    await errors.recordMany('file-1', [
      failure(null, { line: 12, code: 'ROW_INVALID', retryable: false }),
      failure(null, { line: 4, code: 'ROW_INVALID', retryable: true }),
      failure(null, { code: 'NO_LINE' }),
    ]);
    await errors.recordMany('file-1', [failure(null, { line: 4, code: 'ROW_INVALID', retryable: true })]);

    expect((await errors.listBySyncRun('file-1')).map((e) => [e.line, e.code, e.attempts])).toEqual([
      [4, 'ROW_INVALID', 2],
      [12, 'ROW_INVALID', 1],
      [null, 'NO_LINE', 1],
    ]);
  });

  it('resolve() clears the errors of people written successfully, only in that audience', async () => {
    const errors = createRecordErrors(store.db);
    await errors.recordMany('sync-1', [failure(ADA), failure(BOB)]);
    await errors.record('other-audience', failure(ADA));

    expect(await errors.resolve('conn-1', 'aud-1', [ADA, hashEmail('never-failed@acme.test')])).toBe(1);
    expect(await errors.retryable('conn-1', 'aud-1', 3)).toEqual([BOB]);
    expect(await errors.retryable('conn-1', 'aud-2', 3)).toEqual([ADA]);

    // A person who fails again after being resolved starts from attempt 1.
    expect((await errors.record('sync-2', failure(ADA))).attempts).toBe(1);
  });

  it(`handles more people than one chunk (${RECORD_ERRORS_READ_CHUNK}) per call`, async () => {
    const errors = createRecordErrors(store.db);
    const people = Array.from({ length: 1_234 }, (_, i) => hashEmail(`person${i}@acme.test`));
    await errors.recordMany('sync-1', people.map((p) => failure(p)));
    await errors.recordMany('sync-2', people.map((p) => failure(p)));

    const retry = await errors.retryable('conn-1', 'aud-1', 3);
    expect(retry).toHaveLength(1_234);
    expect((await errors.listBySyncRun('sync-2')).every((e) => e.attempts === 2)).toBe(true);
    expect(await errors.resolve('conn-1', 'aud-1', people)).toBe(1_234);
    expect(await errors.retryable('conn-1', 'aud-1', 3)).toEqual([]);
  });

  it('refuses a plaintext email without echoing it, and an unknown sync run', async () => {
    const errors = createRecordErrors(store.db);
    await expect(errors.record('sync-1', failure('ada@acme.test'))).rejects.toThrow(/hashed email/);
    await expect(errors.record('sync-1', failure('ada@acme.test'))).rejects.not.toThrow(/ada@acme\.test/);
    await expect(errors.resolve('conn-1', 'aud-1', ['ada@acme.test'])).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(errors.record('no-such-run', failure(ADA))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(errors.retryable('conn-1', 'aud-1', 0)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await store.db.selectFrom('record_errors').selectAll().execute()).toEqual([]);
  });

  it('a batch is all or nothing: a failing insert rolls back the attempts already counted', async () => {
    const errors = createRecordErrors(store.db, { now: () => FIXED_NOW });
    await errors.record('sync-1', failure(ADA));
    // ADA's row is updated first, then BOB's insert fails (a value SQLite cannot bind).
    await expect(errors.recordMany('sync-2', [failure(ADA), failure(BOB, { crmMessage: {} as unknown as string })])).rejects.toThrow();

    expect((await errors.listBySyncRun('sync-1')).map((e) => [e.hashedEmail, e.attempts])).toEqual([[ADA, 1]]);
    expect(await errors.listBySyncRun('sync-2')).toEqual([]);
  });
});
