/**
 * The crash loop (issue #6, item 3), for `orbit-sync sync --audience … --run …`: one Leadpipe run is
 * synced into a freshly seeded CRM sandbox without interruption; then, into a second identical sandbox
 * with its own store, the same sync is started again and again, each time SIGKILLed at the next point
 * of a seeded list (helpers/crash-loop.ts): mid-download, mid-batch (a write received, not applied),
 * between a write and its ledger update (a write applied, its answer lost), at seeded writes, and in the
 * deal phase; then it is let finish. The CRM must end identical to the uninterrupted sync, with no
 * duplicate, the one sync run resumed to `succeeded`, and its counts adding up.
 *
 * Replay a failure with its seed: CRASH_LOOP_SEED=<seed> npm test -- test/e2e/crash-loop.test.ts
 */
import path from 'node:path';
import { createRandom, hashSeed } from '../../src/sandbox/random';
import type { GeneratedRow } from '../../src/sandbox/generate-people';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../../src/sandbox/leadpipe/server';
import { snapshotDifferences } from '../../src/sandbox/snapshot';
import type { SyncSummary } from '../../src/sync/run-sync';
import { runCli } from './helpers/cli';
import { countWrites, describeKillPoint, killAt, killPointsLeft, progressOf, reconciles, seededWriteNumber, startSeededCrm, type Crm, type CrmUnderTest, type KillPoint } from './helpers/crash-loop';
import { startDownloadTap, type DownloadTap } from './helpers/download-tap';
import { harness, tmpDir } from './helpers/hubspot-sync';

const SEED = Number(process.env.CRASH_LOOP_SEED ?? 2611);
const PEOPLE = 1200; // under salesforce.bulkThreshold (2,000): sObject Collections, three write rounds of 400
const AUDIENCE = 'aud_crash_loop';

let lp: LeadpipeSandbox;
let tap: DownloadTap;
let runId: string;
let rows: GeneratedRow[];

beforeAll(async () => {
  lp = await startLeadpipeSandbox({ seed: `crash-loop-${SEED}`, audiences: [{ id: AUDIENCE, name: 'Crash loop', dailyRuns: 1, peoplePerRun: PEOPLE }], duplicateShare: 0.02, malformedShare: 0.005 });
  tap = await startDownloadTap(lp.url);
  runId = lp.state.runs[0]?.id ?? '';
  rows = [...lp.runRows(runId)];
});

afterAll(async () => {
  await tap.close();
  await lp.close();
});

async function seededCrm(crm: Crm): Promise<CrmUnderTest> {
  const sut = await startSeededCrm(crm, rows, SEED);
  if (sut.hubspot) {
    // The intent properties, as `orbit-sync setup hubspot` creates them.
    const h = await harness(sut.hubspot);
    await h.setup();
    await h.close();
  }
  return sut;
}

function envFor(sut: CrmUnderTest, dbFile: string): Record<string, string> {
  return { ...sut.cliEnv, LEADPIPE_API_KEY: lp.apiKey, LEADPIPE_BASE_URL: tap.url, DATABASE_URL: dbFile };
}

const summaryOf = (stdout: string): SyncSummary => JSON.parse(stdout) as SyncSummary;

describe.each(['hubspot', 'salesforce'] as const)('crash loop: orbit-sync sync --to %s', (crm) => {
  it(`seed ${SEED}: SIGKILLed at every kill point and started again, it ends identical to an uninterrupted sync, without duplicates`, async () => {
    const args = ['sync', '--audience', AUDIENCE, '--run', runId, '--to', crm, '--json'];
    const trace: string[] = [`replay: CRASH_LOOP_SEED=${SEED} npm test -- test/e2e/crash-loop.test.ts (${crm}, ${PEOPLE} people)`];
    const closers: Array<() => Promise<void>> = [];
    try {
      // 1. The uninterrupted sync (through the tap, which learns the export's size).
      const clean = await seededCrm(crm);
      closers.push(() => clean.close());
      const cleanDuplicates = clean.duplicates();
      const writesOf = countWrites(clean, clean.writeRoutes);
      const baseline = await runCli(args, envFor(clean, path.join(tmpDir(), 'orbit-sync.db'))).done;
      const uninterruptedWrites = writesOf();
      if (baseline.code !== 0) throw new Error(`the uninterrupted sync exited ${baseline.code}: ${baseline.stderr.slice(0, 2000)}`);
      const expectedSummary = summaryOf(baseline.stdout);
      expect(expectedSummary).toMatchObject({ status: 'succeeded', resumed: false, failed: 0, rows: PEOPLE });
      expect(reconciles(expectedSummary)).toBe(true);
      expect(clean.duplicates()).toEqual(cleanDuplicates);
      expect(tap.exportBytes()).toBeGreaterThan(0);
      const expected = clean.snapshot();
      trace.push(`uninterrupted: ${uninterruptedWrites} CRM writes; created ${expectedSummary.created}, updated ${expectedSummary.updated}, unchanged ${expectedSummary.unchanged}`);

      // 2. The loop: a second identical CRM, one store for every process.
      const sut = await seededCrm(crm);
      closers.push(() => sut.close());
      const duplicatesBefore = new Set(sut.duplicates());
      const dbFile = path.join(tmpDir(), 'orbit-sync.db');
      const target = { crm: sut, writeRoutes: sut.writeRoutes, tap, dbFile, runId };
      const rng = createRandom(hashSeed(SEED, crm, 'kill points'));
      const phase = (): 'received' | 'handled' => rng.pick(['received', 'handled'] as const);
      const plan: Array<() => KillPoint> = [
        () => ({ kind: 'download' }),
        () => ({ kind: 'write', phase: 'received', nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(dbFile, runId)) }),
        () => ({ kind: 'write', phase: 'handled', nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(dbFile, runId)) }),
        () => ({ kind: 'write', phase: phase(), nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(dbFile, runId)) }),
        () => ({ kind: 'write', phase: phase(), nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(dbFile, runId)) }),
        () => ({ kind: 'afterRecorded' }),
      ];
      for (const [i, next] of plan.entries()) {
        if (i > 0 && !killPointsLeft(progressOf(dbFile, runId))) {
          trace.push(`kills ${i + 1}–${plan.length}: not planned, every person is recorded and the deal phase's writes may all be applied`);
          break;
        }
        const point = next();
        const outcome = await killAt(runCli(args, envFor(sut, dbFile)), point, target);
        const progress = progressOf(dbFile, runId);
        trace.push(`kill ${i + 1}: ${describeKillPoint(point)} → ${outcome.reached ? 'SIGKILL' : `NOT REACHED (exit ${outcome.exit.code ?? outcome.exit.signal})`} after ${outcome.writes} CRM writes; ${progress.recorded}/${progress.people} people recorded`);
        if (!outcome.reached) throw new Error(`kill point never reached: ${describeKillPoint(point)}\n${outcome.exit.stderr.slice(0, 1000)}`);
        expect(outcome.exit.signal).toBe('SIGKILL');
        expect(outcome.exit.stdout).toBe(''); // died before any summary
        // One unfinished sync run (a download killed before the run was recorded leaves none yet).
        expect(progress.runs.map((r) => (r.status === 'pending' ? 'running' : r.status))).toEqual(point.kind === 'download' && progress.runs.length === 0 ? [] : ['running']);
      }

      // 3. Let it finish: it takes the interrupted sync run over.
      const last = await runCli(args, envFor(sut, dbFile)).done;
      if (last.code !== 0) throw new Error(`the last sync exited ${last.code}: ${last.stdout.slice(0, 2000)} ${last.stderr.slice(0, 2000)}`);
      const summary = summaryOf(last.stdout);
      trace.push(`final: ${JSON.stringify({ ...summary, apiCalls: summary.apiCalls.total })}`);
      // The CRM first: identical to the uninterrupted sync, record by record, and no duplicate made.
      expect(snapshotDifferences(expected, sut.snapshot())).toEqual([]);
      expect(sut.duplicates().filter((d) => !duplicatesBefore.has(d))).toEqual([]);
      // Then the store: the one sync run, resumed to succeeded, every row accounted for once.
      const runs = progressOf(dbFile, runId).runs;
      expect(runs.map((r) => [r.id, r.status])).toEqual([[summary.syncRunId, 'succeeded']]);
      expect(summary).toMatchObject({ status: 'succeeded', resumed: true, failed: 0, rows: expectedSummary.rows, quarantined: expectedSummary.quarantined, duplicates: expectedSummary.duplicates });
      expect(reconciles(summary)).toBe(true);
      // Every person counted once: a write the killed process made is found unchanged, not counted twice.
      const people = (s: SyncSummary): number => s.created + s.updated + s.unchanged + s.skipped;
      expect(people(summary)).toBe(people(expectedSummary));

      if (process.env.CRASH_LOOP_TRACE) console.log(trace.join('\n'));
    } catch (err) {
      if (err instanceof Error) err.message += `\n\n${trace.join('\n')}`;
      throw err;
    } finally {
      for (const close of closers) await close();
    }
  }, 150_000);
});
