/**
 * The crash loop (issue #6, item 3) for the installed app: `orbit-sync serve`, installed into a seeded CRM
 * sandbox through its OAuth routes and subscribed to an audience through the admin API, syncs the
 * audience's run on its scheduler. Once uninterrupted (the expected CRM); then, on a second identical
 * CRM with its own store, SIGKILLed at each point of a seeded list (helpers/crash-loop.ts): mid-download,
 * mid-batch, between a write and its ledger update, at a seeded write, in the deal phase, and started again on the same
 * store each time, until the job completes. The CRM must end identical, with no duplicate, the one sync
 * run resumed to `succeeded` and its counts adding up.
 *
 * Replay a failure with its seed: CRASH_LOOP_SEED=<seed> npm test -- test/e2e/serve-crash-loop.test.ts
 */
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import type { GeneratedRow } from '../../src/sandbox/generate-people';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../../src/sandbox/leadpipe/server';
import { createRandom, hashSeed } from '../../src/sandbox/random';
import { snapshotDifferences } from '../../src/sandbox/snapshot';
import type { SyncRunRow } from '../../src/store/schema';
import type { SyncSummary } from '../../src/sync/run-sync';
import { runCli, type CliRun } from './helpers/cli';
import { countWrites, describeKillPoint, killAt, killPointsLeft, progressOf, reconciles, seededWriteNumber, startSeededCrm, type Crm, type CrmUnderTest, type KillPoint } from './helpers/crash-loop';
import { startDownloadTap, type DownloadTap } from './helpers/download-tap';
import { tmpDir } from './helpers/hubspot-sync';
import { HUBSPOT_CLIENT, adminCall, appEnv, freePort, installThroughRedirects, waitFor } from './helpers/installed-app';

const SEED = Number(process.env.CRASH_LOOP_SEED ?? 2612);
const PEOPLE = 1000; // three write rounds of 400 people, under Salesforce's Bulk API threshold
const AUDIENCE = 'aud_serve_crash_loop';

let lp: LeadpipeSandbox;
let tap: DownloadTap;
let runId: string;
let rows: GeneratedRow[];

beforeAll(async () => {
  lp = await startLeadpipeSandbox({ seed: `serve-crash-loop-${SEED}`, audiences: [{ id: AUDIENCE, name: 'Serve crash loop', dailyRuns: 1, peoplePerRun: PEOPLE }], duplicateShare: 0.02, malformedShare: 0.005 });
  tap = await startDownloadTap(lp.url);
  runId = lp.state.runs[0]?.id ?? '';
  rows = [...lp.runRows(runId)];
});

afterAll(async () => {
  await tap.close();
  await lp.close();
});

/** One installed app: its port, store and CRM; serve processes come and go. */
interface App {
  base: string;
  env: Record<string, string>;
  dbFile: string;
  sut: CrmUnderTest;
  serve?: CliRun;
}

async function newApp(crm: Crm): Promise<App> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const sut = await startSeededCrm(crm, rows, SEED, crm === 'hubspot' ? { hubspotOAuth: { ...HUBSPOT_CLIENT, redirectUris: [`${base}/oauth/hubspot/callback`] } } : { salesforceCallbackUrls: [`${base}/oauth/salesforce/callback`] });
  const dir = tmpDir();
  const crmEnv: Record<string, string> = sut.hubspot
    ? { HUBSPOT_CLIENT_ID: HUBSPOT_CLIENT.clientId, HUBSPOT_CLIENT_SECRET: HUBSPOT_CLIENT.clientSecret, HUBSPOT_BASE_URL: sut.url, HUBSPOT_AUTHORIZE_URL: `${sut.url}/oauth/authorize` }
    : { SALESFORCE_LOGIN_URL: sut.url, SALESFORCE_CLIENT_ID: sut.salesforce?.clientId ?? '', SALESFORCE_CLIENT_SECRET: sut.salesforce?.clientSecret ?? '' };
  return { base, env: appEnv(port, dir, { ...crmEnv, LEADPIPE_BASE_URL: tap.url }), dbFile: path.join(dir, 'orbit-sync.db'), sut };
}

/** Starts serve and waits until it answers. */
async function startServe(app: App): Promise<CliRun> {
  const run = runCli(['serve'], app.env);
  app.serve = run;
  await waitFor('serve to answer /healthz', async () => {
    if (run.child.exitCode !== null || run.child.signalCode !== null) throw new Error(`serve exited: ${(await run.done).stderr.slice(0, 2000)}`);
    return (await fetch(`${app.base}/healthz`).catch(() => undefined))?.ok;
  });
  return run;
}

/** Installs the app into the CRM through its OAuth routes and gives it the Leadpipe key; returns a function that subscribes it to the audience. */
async function install(app: App): Promise<() => Promise<void>> {
  const installed = await installThroughRedirects(`${app.base}/oauth/${app.sut.crm}/install`);
  if (installed.status !== 200) throw new Error(`install answered ${installed.status}: ${installed.text.slice(0, 500)}`);
  const connectionId = (JSON.parse(installed.text) as { connection: { id: string } }).connection.id;
  expect((await adminCall(app.base, 'PUT', `/api/connections/${connectionId}/leadpipe-key`, { apiKey: lp.apiKey })).status).toBe(200);
  return async () => {
    expect((await adminCall(app.base, 'PUT', `/api/connections/${connectionId}/audiences/${AUDIENCE}`)).status).toBe(200);
  };
}

/** The scheduler's sync of the run ended (succeeded, partial or failed). */
function finishedRun(app: App): SyncRunRow | undefined {
  return progressOf(app.dbFile, runId).runs.find((r) => r.status !== 'running' && r.status !== 'pending');
}

async function stop(app: App): Promise<void> {
  const serve = app.serve;
  if (!serve || serve.child.exitCode !== null || serve.child.signalCode !== null) return;
  serve.child.kill('SIGTERM');
  expect((await serve.done).code).toBe(0);
}

function syncJobs(dbFile: string): Array<{ status: string; result: SyncSummary | null }> {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    const jobs = db.prepare("select status, result from jobs where kind = 'sync'").all() as Array<{ status: string; result: string | null }>;
    return jobs.map((j) => ({ status: j.status, result: j.result === null ? null : (JSON.parse(j.result) as SyncSummary) }));
  } finally {
    db.close();
  }
}

describe.each(['hubspot', 'salesforce'] as const)('crash loop: orbit-sync serve into %s', (crm) => {
  it(`seed ${SEED}: SIGKILLed at every kill point and started again, the job ends identical to an uninterrupted one, without duplicates`, async () => {
    const trace: string[] = [`replay: CRASH_LOOP_SEED=${SEED} npm test -- test/e2e/serve-crash-loop.test.ts (${crm}, ${PEOPLE} people)`];
    const apps: App[] = [];
    try {
      // 1. Uninterrupted: install, subscribe, the scheduler syncs the run (through the tap, which learns the export's size).
      const clean = await newApp(crm);
      apps.push(clean);
      const cleanDuplicates = clean.sut.duplicates();
      await startServe(clean);
      const subscribeClean = await install(clean);
      const writesOf = countWrites(clean.sut, clean.sut.writeRoutes);
      await subscribeClean();
      const done = await waitFor('the uninterrupted sync to finish', () => finishedRun(clean), 60_000);
      await stop(clean);
      const uninterruptedWrites = writesOf();
      expect(done).toMatchObject({ status: 'succeeded', failed: 0, rows: PEOPLE });
      expect(reconciles(done)).toBe(true);
      expect(clean.sut.duplicates()).toEqual(cleanDuplicates);
      expect(tap.exportBytes()).toBeGreaterThan(0);
      const expected = clean.sut.snapshot();
      trace.push(`uninterrupted: ${uninterruptedWrites} CRM writes; created ${done.created}, updated ${done.updated}, unchanged ${done.unchanged}, skipped ${done.skipped}`);

      // 2. The loop: a second identical CRM and app, one store for every serve process.
      const app = await newApp(crm);
      apps.push(app);
      const duplicatesBefore = new Set(app.sut.duplicates());
      const target = { crm: app.sut, writeRoutes: app.sut.writeRoutes, tap, dbFile: app.dbFile, runId };
      const rng = createRandom(hashSeed(SEED, crm, 'serve kill points'));
      const plan: Array<() => KillPoint> = [
        () => ({ kind: 'download' }),
        () => ({ kind: 'write', phase: 'received', nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(app.dbFile, runId)) }),
        () => ({ kind: 'write', phase: 'handled', nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(app.dbFile, runId)) }),
        () => ({ kind: 'write', phase: rng.pick(['received', 'handled'] as const), nth: seededWriteNumber(rng, uninterruptedWrites, progressOf(app.dbFile, runId)) }),
        () => ({ kind: 'afterRecorded' }),
      ];
      for (const [i, next] of plan.entries()) {
        if (i > 0 && !killPointsLeft(progressOf(app.dbFile, runId))) {
          trace.push(`kills ${i + 1}–${plan.length}: not planned, every person is recorded and the deal phase's writes may all be applied`);
          break;
        }
        const point = next();
        let outcome;
        if (i === 0) {
          // The first process installs the app; the subscription starts the sync.
          const serve = await startServe(app);
          const subscribe = await install(app);
          const killed = killAt(serve, point, target);
          await subscribe();
          outcome = await killed;
        } else {
          // Started again on the same store: the job left running is queued again and the sync resumes at once.
          outcome = await killAt((app.serve = runCli(['serve'], app.env)), point, target);
        }
        const progress = progressOf(app.dbFile, runId);
        trace.push(`kill ${i + 1}: ${describeKillPoint(point)} → ${outcome.reached ? 'SIGKILL' : `NOT REACHED (exit ${outcome.exit.code ?? outcome.exit.signal})`} after ${outcome.writes} CRM writes; ${progress.recorded}/${progress.people} people recorded`);
        if (!outcome.reached) throw new Error(`kill point never reached: ${describeKillPoint(point)}\n${outcome.exit.stderr.slice(0, 1000)}`);
        expect(outcome.exit.signal).toBe('SIGKILL');
        // One unfinished sync run (a download killed before the run was recorded leaves none yet).
        expect(progress.runs.map((r) => (r.status === 'pending' ? 'running' : r.status))).toEqual(point.kind === 'download' && progress.runs.length === 0 ? [] : ['running']);
      }

      // 3. Started again, left to finish the job, then stopped cleanly.
      await startServe(app);
      const finished = await waitFor('the resumed sync to finish', () => finishedRun(app), 60_000);
      await stop(app);
      const jobs = syncJobs(app.dbFile);
      trace.push(`final: ${JSON.stringify(finished)}`);
      // The CRM first: identical to the uninterrupted sync, record by record, and no duplicate made.
      expect(snapshotDifferences(expected, app.sut.snapshot())).toEqual([]);
      expect(app.sut.duplicates().filter((d) => !duplicatesBefore.has(d))).toEqual([]);
      // Then the store: the one sync run, resumed to succeeded, every row accounted for once.
      expect(progressOf(app.dbFile, runId).runs.map((r) => r.id)).toEqual([finished.id]); // one sync run, resumed
      expect(finished).toMatchObject({ status: 'succeeded', failed: 0, rows: done.rows, quarantined: done.quarantined, duplicates: done.duplicates });
      expect(reconciles(finished)).toBe(true);
      const people = (r: SyncRunRow): number => r.created + r.updated + r.unchanged + r.skipped;
      expect(people(finished)).toBe(people(done));
      expect(jobs.map((j) => [j.status, j.result?.syncRunId, j.result?.status, j.result?.resumed])).toEqual([['done', finished.id, 'succeeded', true]]);

      if (process.env.CRASH_LOOP_TRACE) console.log(trace.join('\n'));
    } catch (err) {
      if (err instanceof Error) err.message += `\n\n${trace.join('\n')}`;
      throw err;
    } finally {
      for (const app of apps) {
        if (app.serve && app.serve.child.exitCode === null && app.serve.child.signalCode === null) {
          app.serve.child.kill('SIGKILL');
          await app.serve.done;
        }
        await app.sut.close();
      }
    }
  }, 150_000);
});
