import type { Store } from '../../../src/store/db';
import { createJobs, type Jobs } from '../../../src/store/jobs';
import { FIXED_NOW, openMemoryStoreWithConnection } from './helpers';

const LEASE_MS = 60_000;

describe('jobs', () => {
  let store: Store;
  let at: Date;
  let jobs: Jobs;
  const advance = (ms: number): void => {
    at = new Date(at.getTime() + ms);
  };

  beforeEach(async () => {
    store = await openMemoryStoreWithConnection();
    await store.db
      .insertInto('connections')
      .values({ id: 'conn-2', crm: 'salesforce', account_id: '00D000000000002', status: 'active', created_at: FIXED_NOW.toISOString(), updated_at: FIXED_NOW.toISOString() })
      .execute();
    at = FIXED_NOW;
    jobs = createJobs(store.db, { now: () => at });
  });
  afterEach(async () => {
    await store.close();
  });

  it('queues a job with its payload, and a dedupe key returns the open job instead of a second one', async () => {
    const first = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: { audienceId: 'aud-1', runId: 'run-1' }, dedupeKey: 'sync:conn-1:run-1' });
    expect(first.created).toBe(true);
    expect(first.job).toMatchObject({ kind: 'sync', connectionId: 'conn-1', payload: { audienceId: 'aud-1', runId: 'run-1' }, status: 'queued', attempts: 0, dedupeKey: 'sync:conn-1:run-1' });

    advance(1000);
    const again = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: { audienceId: 'aud-1', runId: 'run-1', trigger: 'webhook' }, dedupeKey: 'sync:conn-1:run-1' });
    expect(again).toEqual({ job: first.job, created: false });

    // Still open while it runs.
    const claimed = await jobs.claim('worker-a', LEASE_MS);
    expect(claimed?.id).toBe(first.job.id);
    const whileRunning = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:run-1' });
    expect(whileRunning.created).toBe(false);
    expect(whileRunning.job.id).toBe(first.job.id);
    expect(await jobs.openKeys(['sync:conn-1:run-1', 'sync:conn-1:run-2'])).toEqual(new Set(['sync:conn-1:run-1']));
    expect(await jobs.list()).toHaveLength(1);

    // Once it is done, the same key may be queued again (a retry of that run).
    await jobs.finish(first.job.id, { created: 3 });
    expect(await jobs.openKeys(['sync:conn-1:run-1'])).toEqual(new Set());
    const next = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:run-1' });
    expect(next.created).toBe(true);
    expect(next.job.id).not.toBe(first.job.id);
    expect(await jobs.list()).toHaveLength(2);

    // Jobs without a key are never deduped.
    expect((await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: {} })).created).toBe(true);
    expect((await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: {} })).created).toBe(true);
  });

  it('a failed job frees its dedupe key too', async () => {
    const { job } = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'k' });
    await jobs.claim('w', LEASE_MS);
    await jobs.fail(job.id, 'boom');
    expect((await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'k' })).created).toBe(true);
  });

  it('claims the oldest due job first and leaves jobs whose run_after is in the future', async () => {
    const later = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: { n: 'later' }, runAfter: new Date(FIXED_NOW.getTime() + 10 * 60_000) });
    advance(1000);
    const older = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: { n: 'older' } });
    advance(1000);
    const newer = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-2', payload: { n: 'newer' } });

    const first = await jobs.claim('worker-a', LEASE_MS);
    expect(first).toMatchObject({ id: older.job.id, status: 'running', attempts: 1, lockedBy: 'worker-a', lockedUntil: new Date(at.getTime() + LEASE_MS).toISOString() });
    expect((await jobs.claim('worker-a', LEASE_MS))?.id).toBe(newer.job.id);
    expect(await jobs.claim('worker-a', LEASE_MS)).toBeUndefined();
    await jobs.finish(older.job.id, null);
    await jobs.finish(newer.job.id, null);

    advance(10 * 60_000);
    expect((await jobs.claim('worker-b', LEASE_MS))?.id).toBe(later.job.id);
  });

  it('runs at most one sync per connection: a second sync of it waits, its enrich jobs and other connections do not', async () => {
    const sync1 = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: { runId: 'r1' }, dedupeKey: 'sync:conn-1:r1' });
    advance(1000);
    const sync2 = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: { runId: 'r2' }, dedupeKey: 'sync:conn-1:r2' });
    advance(1000);
    const enrich = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: { records: [] } });
    advance(1000);
    const other = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-2', payload: { runId: 'r1' }, dedupeKey: 'sync:conn-2:r1' });

    expect((await jobs.claim('worker-a', LEASE_MS))?.id).toBe(sync1.job.id);
    expect((await jobs.claim('worker-b', LEASE_MS))?.id).toBe(enrich.job.id);
    expect((await jobs.claim('worker-b', LEASE_MS))?.id).toBe(other.job.id);
    expect(await jobs.claim('worker-b', LEASE_MS)).toBeUndefined();
    expect((await jobs.get(sync2.job.id))?.status).toBe('queued');
    await jobs.finish(enrich.job.id, null);
    await jobs.finish(other.job.id, null);

    // The first sync keeps its lease alive: the second still waits.
    advance(LEASE_MS / 2);
    expect(await jobs.heartbeat(sync1.job.id, 'worker-a', LEASE_MS)).toBe(true);
    advance(LEASE_MS / 2 + 1000);
    expect(await jobs.claim('worker-b', LEASE_MS)).toBeUndefined();

    await jobs.finish(sync1.job.id, { ok: true });
    expect((await jobs.claim('worker-b', LEASE_MS))?.id).toBe(sync2.job.id);
  });

  it('a waiting sync does not hold up other work queued behind many of them', async () => {
    const running = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:r0' });
    expect((await jobs.claim('worker-a', LEASE_MS))?.id).toBe(running.job.id);
    for (let i = 1; i <= 30; i++) {
      advance(1000);
      await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: `sync:conn-1:r${i}` });
    }
    advance(1000);
    const enrich = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: {} });
    const other = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-2', payload: {}, dedupeKey: 'sync:conn-2:r1' });

    expect((await jobs.claim('worker-b', LEASE_MS))?.id).toBe(enrich.job.id);
    expect((await jobs.claim('worker-b', LEASE_MS))?.id).toBe(other.job.id);
    expect(await jobs.claim('worker-b', LEASE_MS)).toBeUndefined();
  });

  it('a running job whose lease ran out is taken over by another worker; the old holder’s heartbeat then fails', async () => {
    const { job } = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: { runId: 'r1' }, dedupeKey: 'sync:conn-1:r1' });
    expect((await jobs.claim('worker-a', LEASE_MS))?.lockedBy).toBe('worker-a');

    // Within the lease nobody else gets it.
    advance(LEASE_MS - 1000);
    expect(await jobs.claim('worker-b', LEASE_MS)).toBeUndefined();

    // worker-a died: its lease runs out.
    advance(2000);
    const taken = await jobs.claim('worker-b', LEASE_MS);
    expect(taken).toMatchObject({ id: job.id, status: 'running', lockedBy: 'worker-b', attempts: 2, lockedUntil: new Date(at.getTime() + LEASE_MS).toISOString() });
    expect(await jobs.heartbeat(job.id, 'worker-a', LEASE_MS)).toBe(false);
    expect(await jobs.heartbeat(job.id, 'worker-b', LEASE_MS)).toBe(true);
    expect((await jobs.get(job.id))?.lockedBy).toBe('worker-b');
  });

  it('a worker whose lease was taken over can no longer finish, fail or release the job', async () => {
    const { job } = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:r2' });
    await jobs.claim('worker-a', LEASE_MS);
    advance(LEASE_MS + 1000);
    await jobs.claim('worker-b', LEASE_MS);
    await jobs.finish(job.id, { stale: true }, { workerId: 'worker-a' });
    await jobs.fail(job.id, 'stale failure', { workerId: 'worker-a' });
    await jobs.release(job.id, 'worker-a');
    expect(await jobs.get(job.id)).toMatchObject({ status: 'running', lockedBy: 'worker-b', lastError: null, result: null });
    await jobs.finish(job.id, { ok: true }, { workerId: 'worker-b' });
    expect(await jobs.get(job.id)).toMatchObject({ status: 'done', result: { ok: true } });
  });

  it('a crashed sync of a connection gives its place up to the next sync of that connection', async () => {
    const crashed = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:r1' });
    await jobs.claim('worker-a', LEASE_MS);
    advance(1000);
    const next = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:r2' });
    advance(LEASE_MS + 1000);

    const first = await jobs.claim('worker-b', LEASE_MS);
    const second = await jobs.claim('worker-c', LEASE_MS);
    // Whichever goes first, only one sync of the connection runs at a time.
    expect([first?.id, second?.id]).toEqual([crashed.job.id, undefined]);
    expect((await jobs.list({ connectionId: 'conn-1', status: 'running' })).map((j) => j.id)).toEqual([crashed.job.id]);
    expect((await jobs.get(next.job.id))?.status).toBe('queued');
    expect(await jobs.heartbeat(crashed.job.id, 'worker-a', LEASE_MS)).toBe(false);
  });

  it('fail with retryAt queues the job again for then (the attempt counts); without it the job fails for good', async () => {
    const { job } = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {}, dedupeKey: 'sync:conn-1:r1' });
    await jobs.claim('worker-a', LEASE_MS);
    const retryAt = new Date(at.getTime() + 5 * 60_000);
    await jobs.fail(job.id, 'HubSpot answered 503', { retryAt });
    expect(await jobs.get(job.id)).toMatchObject({ status: 'queued', attempts: 1, lastError: 'HubSpot answered 503', runAfter: retryAt.toISOString(), lockedBy: null, lockedUntil: null, finishedAt: null });
    expect(await jobs.claim('worker-a', LEASE_MS)).toBeUndefined();
    expect(await jobs.openKeys(['sync:conn-1:r1'])).toEqual(new Set(['sync:conn-1:r1']));

    advance(5 * 60_000);
    expect((await jobs.claim('worker-a', LEASE_MS))?.attempts).toBe(2);
    await jobs.fail(job.id, 'the Leadpipe key was refused');
    expect(await jobs.get(job.id)).toMatchObject({ status: 'failed', attempts: 2, lastError: 'the Leadpipe key was refused', lockedBy: null, finishedAt: at.toISOString() });
    advance(24 * 3_600_000);
    expect(await jobs.claim('worker-a', LEASE_MS)).toBeUndefined();
  });

  it('release gives the job back to the queue without counting the attempt', async () => {
    const { job } = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {} });
    expect((await jobs.claim('worker-a', LEASE_MS))?.attempts).toBe(1);
    await jobs.release(job.id);
    expect(await jobs.get(job.id)).toMatchObject({ status: 'queued', attempts: 0, lockedBy: null, lockedUntil: null });
    const again = await jobs.claim('worker-b', LEASE_MS);
    expect(again).toMatchObject({ id: job.id, attempts: 1, lockedBy: 'worker-b' });

    // Releasing a job that is not running changes nothing.
    await jobs.finish(job.id, null);
    await jobs.release(job.id);
    expect(await jobs.get(job.id)).toMatchObject({ status: 'done', attempts: 1 });
  });

  it('recoverAll gives every running job back to the queue, leaving queued and finished ones alone', async () => {
    const a = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {} });
    const b = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-2', payload: {} });
    const done = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: {} });
    await jobs.claim('w', LEASE_MS);
    await jobs.claim('w', LEASE_MS);
    await jobs.claim('w', LEASE_MS);
    await jobs.finish(done.job.id, null);
    const waiting = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: {} });

    expect(await jobs.recoverAll()).toBe(2);
    for (const id of [a.job.id, b.job.id, waiting.job.id]) expect(await jobs.get(id)).toMatchObject({ status: 'queued', lockedBy: null, lockedUntil: null });
    expect((await jobs.get(done.job.id))?.status).toBe('done');
    // The lease does not have to run out first: they are claimable at once.
    expect((await jobs.claim('w2', LEASE_MS))?.id).toBe(a.job.id);
    expect(await jobs.recoverAll()).toBe(1);
  });

  it('finish stores the result; forgetPayload empties the payload, otherwise it is kept', async () => {
    const kept = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: { runId: 'r1' } });
    const forgotten = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: { records: [{ id: '501', type: 'contact', emailHash: 'a'.repeat(64) }] } });
    await jobs.claim('w', LEASE_MS);
    await jobs.claim('w', LEASE_MS);
    advance(5000);
    await jobs.finish(kept.job.id, { created: 2 });
    await jobs.finish(forgotten.job.id, { enriched: 1 }, { forgetPayload: true });

    expect(await jobs.get(kept.job.id)).toMatchObject({ status: 'done', payload: { runId: 'r1' }, result: { created: 2 }, finishedAt: at.toISOString(), lockedBy: null });
    expect(await jobs.get(forgotten.job.id)).toMatchObject({ status: 'done', payload: {}, result: { enriched: 1 } });
    const raw = await store.db.selectFrom('jobs').select('payload').where('id', '=', forgotten.job.id).executeTakeFirstOrThrow();
    expect(raw.payload).not.toContain('a'.repeat(64));
  });

  it('lists newest first, filtered by connection, status and kind', async () => {
    const a = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-1', payload: {} });
    advance(1000);
    const b = await jobs.enqueue({ kind: 'enrich', connectionId: 'conn-1', payload: {} });
    advance(1000);
    const c = await jobs.enqueue({ kind: 'sync', connectionId: 'conn-2', payload: {} });
    expect((await jobs.list()).map((j) => j.id)).toEqual([c.job.id, b.job.id, a.job.id]);
    expect((await jobs.list({ connectionId: 'conn-1' })).map((j) => j.id)).toEqual([b.job.id, a.job.id]);
    expect((await jobs.list({ kind: 'sync' })).map((j) => j.id)).toEqual([c.job.id, a.job.id]);
    expect((await jobs.list({ limit: 1 })).map((j) => j.id)).toEqual([c.job.id]);
    expect(await jobs.list({ status: 'running' })).toEqual([]);
  });
});
