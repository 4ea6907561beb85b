/**
 * Crash loops (issue #6, item 3): a sync process (`orbit-sync sync` or `orbit-sync serve`) SIGKILLed at
 * exact points of its work, started again, killed again, … then let finish.
 *
 * A kill point is reached inside a sandbox hook that the sandbox awaits before it goes on, so the process
 * is dead before the sandbox does anything more with the request:
 *
 *   - `download`: half of the run's export.csv has been sent (through the download tap);
 *   - `write received`: the n-th CRM write request of the process arrived. After the kill the hook
 *     throws, so the sandbox fails the request (a 500 to a closed socket) before processing any of it:
 *     nothing of it is applied, as if it died with its process half-sent (mid-batch);
 *   - `write handled`: the n-th CRM write was applied and its answer is not sent: the CRM has the
 *     write, the process never learns it, so its ledger has no record of it;
 *   - `after every person is recorded`: the first CRM write once the sync run has recorded every person
 *     of the run (the deal / opportunity phase), applied, answer not sent.
 *
 * The CRM sandboxes run in the test process and survive the kills; the store is the process's SQLite
 * file, read here read-only.
 */
import { DatabaseSync } from 'node:sqlite';
import type { ObservedRequest, SandboxObserver } from '../../../src/sandbox/faults';
import type { GeneratedRow } from '../../../src/sandbox/generate-people';
import { seedPortalFromPeople } from '../../../src/sandbox/hubspot/seed-portal';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { HUBSPOT_WRITE_ROUTES, type HubspotSandbox, type HubspotSandboxOptions } from '../../../src/sandbox/hubspot/types';
import type { Random } from '../../../src/sandbox/random';
import { seedOrgFromPeople } from '../../../src/sandbox/salesforce/seed-org';
import { salesforceSandboxEnv, startSalesforceSandbox } from '../../../src/sandbox/salesforce/server';
import { SALESFORCE_WRITE_ROUTES, type SalesforceSandbox } from '../../../src/sandbox/salesforce/types';
import { hubspotDuplicates, hubspotSnapshot, salesforceDuplicates, salesforceSnapshot, type CrmSnapshot } from '../../../src/sandbox/snapshot';
import type { SyncRunRow } from '../../../src/store/schema';
import type { CliExit, CliRun } from './cli';
import type { DownloadTap } from './download-tap';

export type KillPoint =
  | { kind: 'download' }
  | { kind: 'write'; phase: 'received' | 'handled'; nth: number }
  | { kind: 'afterRecorded' };

export function describeKillPoint(point: KillPoint): string {
  if (point.kind === 'download') return 'mid-download (half of export.csv sent)';
  if (point.kind === 'afterRecorded') return 'first CRM write after every person is recorded, applied, answer not sent';
  return point.phase === 'received'
    ? `CRM write #${point.nth} of the process received, not applied (mid-batch)`
    : `CRM write #${point.nth} of the process applied, answer not sent (between the write and its ledger update)`;
}

/** What a kill point watches: the CRM sandbox's requests, the Leadpipe download, the store's sync run. */
export interface KillTarget {
  crm: { observe(observer: SandboxObserver): () => void };
  /** The CRM sandbox's write routes (HUBSPOT_WRITE_ROUTES, SALESFORCE_WRITE_ROUTES). */
  writeRoutes: readonly string[];
  tap: DownloadTap;
  /** The store file of the process, and the Leadpipe run it syncs. */
  dbFile: string;
  runId: string;
}

export interface KillOutcome {
  exit: CliExit;
  /** The kill point was reached and the process was SIGKILLed there (not a process that ended on its own). */
  reached: boolean;
  /** CRM write requests the process sent before it died (the one it died on included). */
  writes: number;
}

/** A request the test dropped because its process was killed while sending it. */
class DiedWithItsProcess extends Error {}

/** How long the CRM sandbox must see no request event before the next process starts (see killAt). */
const SETTLE_MS = 300;
const SETTLE_MAX_MS = 10_000;

/**
 * Runs `run` until `point`, SIGKILLs it there and waits for it to exit, or until it exits on its own
 * (then `reached` is false). Arm it right after spawning, before the process can reach the point.
 *
 * Requests the process sent just before it died are still being handled by the sandbox when it is gone:
 * they must not count for the next process. So this returns once the sandbox has been quiet for a moment
 * (an ordering aid, not a timing assertion), and a `handled` is only counted for a request received while
 * this point was armed.
 */
export async function killAt(run: CliRun, point: KillPoint, target: KillTarget): Promise<KillOutcome> {
  let reached = false;
  let writes = 0;
  let handled = 0;
  let lastEventAt = Date.now();
  const kill = async (): Promise<void> => {
    reached = true;
    run.child.kill('SIGKILL');
    await run.done;
  };
  const observer = async (event: ObservedRequest): Promise<void> => {
    lastEventAt = Date.now();
    if (reached || !target.writeRoutes.includes(event.route)) return;
    if (event.phase === 'received') writes += 1;
    else if (event.phase === 'handled' && handled < writes) handled += 1;
    else return; // answers, and a request of a process killed before this one
    if (point.kind === 'write' && event.phase === point.phase && (event.phase === 'received' ? writes : handled) === point.nth) {
      await kill();
      if (event.phase === 'received') throw new DiedWithItsProcess('the process sending this request was killed: the request is dropped');
    } else if (point.kind === 'afterRecorded' && event.phase === 'handled' && progressOf(target.dbFile, target.runId).allRecorded) {
      await kill();
    }
  };
  const stopObserving = target.crm.observe(observer);
  if (point.kind === 'download') void target.tap.armHalfway(kill).catch(() => undefined);
  try {
    const exit = await run.done;
    const settleBy = Date.now() + SETTLE_MAX_MS;
    while (Date.now() - lastEventAt < SETTLE_MS && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 50));
    return { exit, reached, writes };
  } finally {
    stopObserving();
    target.tap.disarm();
  }
}

export interface SyncRunProgress {
  /** Sync runs of the Leadpipe run in the store (a resumed sync keeps its one sync run). */
  runs: SyncRunRow[];
  /** People of the run (rows that are not quarantined or duplicate), once the export has been read whole. */
  people: number;
  /** People the sync run has recorded (written, unchanged, skipped or failed). */
  recorded: number;
  allRecorded: boolean;
}

export function syncRunsOf(dbFile: string, runId: string): SyncRunRow[] {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(dbFile, { readOnly: true });
  } catch {
    return []; // no store yet
  }
  try {
    return db.prepare("select * from sync_runs where run_id = ? order by created_at").all(runId) as unknown as SyncRunRow[];
  } catch {
    return []; // the store is not migrated yet
  } finally {
    db.close();
  }
}

export function progressOf(dbFile: string, runId: string): SyncRunProgress {
  const runs = syncRunsOf(dbFile, runId);
  const run = runs.at(-1);
  const people = run ? run.rows - run.quarantined - run.duplicates : 0;
  const recorded = run ? run.created + run.updated + run.unchanged + run.skipped + run.failed : 0;
  return { runs, people, recorded, allRecorded: run !== undefined && run.rows > 0 && recorded >= people };
}

/**
 * A seeded write number for the next process: in the first half of the writes it still has to make,
 * estimated from an uninterrupted sync's writes and the share of people already recorded, so the point is
 * reached (a resumed process writes only what was not recorded).
 */
export function seededWriteNumber(rng: Random, uninterruptedWrites: number, progress: SyncRunProgress): number {
  const left = progress.people > 0 ? 1 - progress.recorded / progress.people : 1;
  return rng.int(1, Math.max(1, Math.floor((uninterruptedWrites * left) / 2)));
}

/**
 * Whether the kill points left can still be met. Once every person is recorded, only the deal phase is
 * left, and the killed process may have applied all of its writes (write groups run at once, so this can
 * happen before the last planned point): a resumed sync then writes nothing, and the loop ends there; the
 * last sync still resumes that sync run and the final state is compared as usual.
 */
export function killPointsLeft(progress: SyncRunProgress): boolean {
  return !progress.allRecorded;
}

/** Counts the CRM write requests a sandbox receives while it runs (until the returned function is called). */
export function countWrites(crm: KillTarget['crm'], writeRoutes: readonly string[]): () => number {
  let n = 0;
  const stop = crm.observe((e) => {
    if (e.phase === 'received' && writeRoutes.includes(e.route)) n += 1;
  });
  return () => {
    stop();
    return n;
  };
}

export type Crm = 'hubspot' | 'salesforce';

/** A freshly seeded CRM sandbox and how to compare it: the same one for the uninterrupted sync and the loop. */
export interface CrmUnderTest {
  crm: Crm;
  url: string;
  observe(observer: SandboxObserver): () => void;
  writeRoutes: readonly string[];
  snapshot(): CrmSnapshot;
  duplicates(): string[];
  /** Env for `orbit-sync sync --to <crm>` with the sandbox's private-app token / session. */
  cliEnv: Record<string, string>;
  hubspot?: HubspotSandbox;
  salesforce?: SalesforceSandbox;
  close(): Promise<void>;
}

export interface CrmOptions {
  /** HubSpot: the OAuth app (serve installs through it). */
  hubspotOAuth?: HubspotSandboxOptions['oauth'];
  /** Salesforce: the connected app's callback URLs (serve installs through them). */
  salesforceCallbackUrls?: readonly string[];
}

/** Starts the CRM's sandbox seeded from the run's people (some already there, some converted, some deals). */
export async function startSeededCrm(crm: Crm, rows: readonly GeneratedRow[], seed: number, options: CrmOptions = {}): Promise<CrmUnderTest> {
  if (crm === 'hubspot') {
    // Several processes in a row each think they have HubSpot's 10-second window to themselves.
    const sb = await startHubspotSandbox({ rateLimit: { max: 5000 }, searchPerSecond: false, ...(options.hubspotOAuth && { oauth: options.hubspotOAuth }) });
    seedPortalFromPeople(sb, rows, { seed });
    return {
      crm,
      url: sb.url,
      observe: (o) => sb.observe(o),
      writeRoutes: HUBSPOT_WRITE_ROUTES,
      snapshot: () => hubspotSnapshot(sb),
      duplicates: () => hubspotDuplicates(sb),
      cliEnv: { HUBSPOT_ACCESS_TOKEN: sb.accessToken, HUBSPOT_BASE_URL: sb.url },
      hubspot: sb,
      close: () => sb.close(),
    };
  }
  const sb = await startSalesforceSandbox(options.salesforceCallbackUrls ? { callbackUrls: options.salesforceCallbackUrls, requirePkce: true } : {});
  seedOrgFromPeople(sb, rows, { seed });
  return {
    crm,
    url: sb.url,
    observe: (o) => sb.observe(o),
    writeRoutes: SALESFORCE_WRITE_ROUTES,
    snapshot: () => salesforceSnapshot(sb),
    duplicates: () => salesforceDuplicates(sb),
    cliEnv: salesforceSandboxEnv(sb),
    salesforce: sb,
    close: () => sb.close(),
  };
}

/** rows = quarantined + duplicates + every person's outcome. */
export function reconciles(s: Pick<SyncRunRow, 'rows' | 'quarantined' | 'duplicates' | 'unchanged' | 'created' | 'updated' | 'skipped' | 'failed'>): boolean {
  return s.rows === s.quarantined + s.duplicates + s.unchanged + s.created + s.updated + s.skipped + s.failed;
}
