import type { Store } from '../../../src/store/db';
import { SYNC_RUN_STATUSES, type SyncRunStatus } from '../../../src/store/schema';
import { canTransition, createSyncRuns, InvalidSyncRunTransitionError } from '../../../src/store/sync-runs';
import { clockOf, openMemoryStoreWithConnection } from './helpers';

describe('canTransition', () => {
  const allowed = new Set(['pending→running', 'running→succeeded', 'running→partial', 'running→failed']);
  const pairs = SYNC_RUN_STATUSES.flatMap((from) => SYNC_RUN_STATUSES.map((to): [SyncRunStatus, SyncRunStatus] => [from, to]));

  it.each(pairs)('%s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(allowed.has(`${from}→${to}`));
  });
});

describe('sync runs', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openMemoryStoreWithConnection();
  });
  afterEach(async () => {
    await store.close();
  });

  it('creates a pending run with zero counts', async () => {
    const runs = createSyncRuns(store.db, { now: clockOf('2026-02-01T10:00:00.000Z') });
    const run = await runs.create({ connectionId: 'conn-1', destination: 'hubspot', audienceId: 'aud-1', runId: 'run-1' });

    expect(run).toMatchObject({
      connectionId: 'conn-1',
      audienceId: 'aud-1',
      runId: 'run-1',
      destination: 'hubspot',
      status: 'pending',
      rows: 0,
      failed: 0,
      apiCalls: { total: 0, byEndpoint: {} },
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      checkpoint: null,
      createdAt: '2026-02-01T10:00:00.000Z',
    });
    expect(run.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await runs.get(run.id)).toEqual(run);
  });

  it('pending → running → succeeded records start, finish and duration', async () => {
    const runs = createSyncRuns(store.db, {
      now: clockOf('2026-02-01T10:00:00.000Z', '2026-02-01T10:00:01.000Z', '2026-02-01T10:02:31.500Z'),
    });
    const { id } = await runs.create({ connectionId: 'conn-1', destination: 'hubspot' });

    const running = await runs.transition(id, 'running');
    expect(running).toMatchObject({ status: 'running', startedAt: '2026-02-01T10:00:01.000Z', finishedAt: null });

    const done = await runs.transition(id, 'succeeded');
    expect(done).toMatchObject({
      status: 'succeeded',
      startedAt: '2026-02-01T10:00:01.000Z',
      finishedAt: '2026-02-01T10:02:31.500Z',
      durationMs: 150_500,
    });
  });

  it.each(['partial', 'failed'] as const)('running → %s keeps the error message', async (to) => {
    const runs = createSyncRuns(store.db);
    const { id } = await runs.create({ connectionId: 'conn-1', destination: 'hubspot' });
    await runs.transition(id, 'running');
    const run = await runs.transition(id, to, { errorMessage: 'HubSpot daily limit reached; resume after 00:00 UTC' });
    expect(run).toMatchObject({ status: to, errorMessage: 'HubSpot daily limit reached; resume after 00:00 UTC' });
  });

  it.each([
    [[], 'succeeded'],
    [[], 'failed'],
    [['running'], 'pending'],
    [['running'], 'running'],
    [['running', 'succeeded'], 'running'],
    [['running', 'partial'], 'succeeded'],
    [['running', 'failed'], 'running'],
  ] as [SyncRunStatus[], SyncRunStatus][])('after %j, → %s is refused and changes nothing', async (path, to) => {
    const runs = createSyncRuns(store.db);
    const { id } = await runs.create({ connectionId: 'conn-1', destination: 'hubspot' });
    for (const step of path) await runs.transition(id, step);
    const before = await runs.get(id);

    const attempt = runs.transition(id, to);
    await expect(attempt).rejects.toBeInstanceOf(InvalidSyncRunTransitionError);
    await expect(attempt).rejects.toMatchObject({ code: 'SYNC_RUN_TRANSITION_INVALID', from: before?.status, to });
    expect(await runs.get(id)).toEqual(before);
  });

  it('a transition of an unknown run is NOT_FOUND', async () => {
    const runs = createSyncRuns(store.db);
    await expect(runs.transition('nope', 'running')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await runs.get('nope')).toBeUndefined();
  });

  it('stores counts, API calls by endpoint and the checkpoint; finished runs are final', async () => {
    const runs = createSyncRuns(store.db);
    const { id } = await runs.create({ connectionId: 'conn-1', destination: 'hubspot', audienceId: 'aud-1', runId: 'run-1' });
    await runs.transition(id, 'running');

    await runs.updateProgress(id, { rows: 10, created: 3, checkpoint: { lastLine: 10 } });
    const run = await runs.updateProgress(id, {
      rows: 20,
      quarantined: 1,
      duplicates: 2,
      unchanged: 5,
      created: 6,
      updated: 4,
      skipped: 1,
      failed: 1,
      companiesMatched: 3,
      companiesCreated: 2,
      associations: 9,
      dealsPrioritized: 1,
      rateLimited: 2,
      apiCallsByEndpoint: { 'POST /crm/v3/objects/contacts/batch/upsert': 2, 'POST /crm/v3/objects/companies/search': 3 },
      checkpoint: { lastLine: 20, pendingBatch: ['a'] },
    });

    expect(run).toMatchObject({
      rows: 20,
      quarantined: 1,
      duplicates: 2,
      unchanged: 5,
      created: 6,
      updated: 4,
      skipped: 1,
      failed: 1,
      companiesMatched: 3,
      companiesCreated: 2,
      associations: 9,
      dealsPrioritized: 1,
      rateLimited: 2,
      apiCalls: {
        total: 5,
        byEndpoint: { 'POST /crm/v3/objects/contacts/batch/upsert': 2, 'POST /crm/v3/objects/companies/search': 3 },
      },
      checkpoint: { lastLine: 20, pendingBatch: ['a'] },
    });
    expect(run.rows).toBe(run.quarantined + run.duplicates + run.unchanged + run.created + run.updated + run.skipped + run.failed);

    await expect(runs.updateProgress(id, { rows: -1 })).rejects.toMatchObject({ code: 'INTERNAL' });
    await runs.transition(id, 'succeeded');
    await expect(runs.updateProgress(id, { rows: 21 })).rejects.toThrow(/final/);
    expect((await runs.get(id))?.rows).toBe(20);
  });

  it('lists recent runs newest first, filtered and limited', async () => {
    const runs = createSyncRuns(store.db, {
      now: clockOf('2026-02-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z', '2026-02-03T00:00:00.000Z'),
    });
    const a = await runs.create({ connectionId: 'conn-1', destination: 'hubspot', audienceId: 'aud-1' });
    const b = await runs.create({ connectionId: 'conn-1', destination: 'hubspot', audienceId: 'aud-2' });
    const c = await runs.create({ connectionId: 'conn-1', destination: 'hubspot', audienceId: 'aud-1' });

    expect((await runs.listRecent()).map((r) => r.id)).toEqual([c.id, b.id, a.id]);
    expect((await runs.listRecent({ limit: 2 })).map((r) => r.id)).toEqual([c.id, b.id]);
    expect((await runs.listRecent({ audienceId: 'aud-1' })).map((r) => r.id)).toEqual([c.id, a.id]);
    expect(await runs.listRecent({ connectionId: 'other' })).toEqual([]);
  });

  it('a run must belong to an existing connection (foreign keys are on)', async () => {
    const runs = createSyncRuns(store.db);
    await expect(runs.create({ connectionId: 'missing', destination: 'hubspot' })).rejects.toThrow(/FOREIGN KEY/);
  });
});
