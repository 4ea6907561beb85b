/**
 * What the CRM benchmarks share: a sandbox portal or org seeded from a generated run, orbit-sync
 * configured against it as a user would (setup, then `runSync` through the real SDKs, in this process),
 * the run's export as a file, and snapshots of the sandbox's own request counters taken at the sync's
 * phase changes.
 *
 * 1. `writeRun` writes a generated run (seeded, so every bench run syncs the same people); `changeShare`
 *    alters that share of the people (their score, and for half of them the job title), all rows of a
 *    person alike, as a later Leadpipe run of the same audience would.
 * 2. `startHubspotBench` / `startSalesforceBench` start a sandbox, seed it from the same generated
 *    people (seed-portal.ts, seed-org.ts: a share of the people already in the CRM, companies/accounts,
 *    open and closed deals/opportunities), run `setup`, and return `sync(file)`.
 * 3. `watchPhases` snapshots the sandbox (time, requests by route, the traffic counters) when the sync
 *    starts writing, when it starts prioritizing deals, and when it is done; a benchmark measures a phase
 *    as the difference of two snapshots.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig, type Config } from '../src/config';
import { openHubspotTarget, openSalesforceTarget } from '../src/commands/sync';
import { setupHubspot } from '../src/destinations/hubspot/setup';
import { connectSalesforce } from '../src/destinations/salesforce/connect';
import { setupSalesforce } from '../src/destinations/salesforce/setup';
import { resetRollingLimiters } from '../src/lib/rolling-limiter';
import { loadMapping } from '../src/mapping/load-mapping';
import { exportCsvChunks } from '../src/sandbox/export-csv';
import type { SandboxObserver, TrafficStats } from '../src/sandbox/faults';
import { generatePeople, type GeneratedRow } from '../src/sandbox/generate-people';
import { seedPortalFromPeople } from '../src/sandbox/hubspot/seed-portal';
import { HUBSPOT_OAUTH_ROUTES, HUBSPOT_SANDBOX_ROUTES, HUBSPOT_SEARCH_ROUTES, startHubspotSandbox, type HubspotSandbox } from '../src/sandbox/hubspot/server';
import { seedOrgFromPeople } from '../src/sandbox/salesforce/seed-org';
import { SALESFORCE_SANDBOX_ROUTES, salesforceSandboxEnv, startSalesforceSandbox, type SalesforceSandbox } from '../src/sandbox/salesforce/server';
import type { SalesforceSandboxOptions } from '../src/sandbox/salesforce/types';
import type { LatencyModel } from '../src/sandbox/latency';
import { openStore, type Store } from '../src/store/db';
import { runSync, type SyncProgress, type SyncSummary } from '../src/sync/run-sync';

export type CrmName = 'hubspot' | 'salesforce';

export interface RunSpec {
  seed: number;
  /** Rows in the export (duplicates and malformed rows included). */
  rows: number;
  duplicateShare: number;
  malformedShare: number;
}

export const peopleOf = (spec: RunSpec): Iterable<GeneratedRow> =>
  generatePeople({ seed: spec.seed, count: spec.rows, duplicateShare: spec.duplicateShare, malformedShare: spec.malformedShare });

/** Whether a person (by hashed email) is among the `share` changed in a later run: a fixed hash, not a draw. */
function isChanged(hashedEmail: string, share: number): boolean {
  return createHash('sha256').update(`changed\u0000${hashedEmail}`).digest().readUInt32BE(0) / 2 ** 32 < share;
}

function changeRow(row: GeneratedRow, share: number): GeneratedRow {
  if (row.kind !== 'person' || !isChanged(row.person.hashedEmail, share)) return row;
  const p = row.person;
  // Generated scores are 50–99, so +1 stays in 1–100; every other changed person also changed jobs.
  const retitled = createHash('sha256').update(`title\u0000${p.hashedEmail}`).digest()[0] as number;
  const person = {
    ...p,
    intent: { ...p.intent, score: p.intent.score + 1 },
    ...(retitled % 2 === 0 && { jobTitle: `${p.jobTitle ?? 'Manager'} (new role)` }),
  };
  return { ...row, person };
}

/** Writes the run's export to `file`; with `changeShare`, that share of its people changed. Returns people changed. */
export async function writeRun(file: string, spec: RunSpec, changeShare = 0): Promise<{ changedPeople: number }> {
  const changed = new Set<string>();
  function* rows(): Generator<GeneratedRow, void, undefined> {
    for (const row of peopleOf(spec)) {
      const out = changeShare > 0 ? changeRow(row, changeShare) : row;
      if (out !== row && out.kind === 'person') changed.add(out.person.hashedEmail);
      yield out;
    }
  }
  await pipeline(Readable.from(exportCsvChunks(rows())), createWriteStream(file));
  return { changedPeople: changed.size };
}

export function benchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'orbit-sync-bench-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The sandbox's counters at one moment. */
export interface Snapshot {
  /** performance.now() */
  t: number;
  /** Requests the sandbox received, by route (answered or not). */
  requests: Record<string, number>;
  traffic: TrafficStats;
  /** CPU time of this process so far (user + system, ms): the sandbox and orbit-sync share it. */
  cpuMs: number;
}

export interface CrmBench {
  crm: CrmName;
  config: Config;
  snapshot(): Snapshot;
  /** Requests answered 429 (HubSpot) or 403 REQUEST_LIMIT_EXCEEDED (Salesforce has no 429) so far. */
  throttled(): number;
  writeRequestCount(): number;
  /** 429s by route (HubSpot; copies the sandbox's state, so only once at the end). */
  throttledByRoute(): Record<string, number>;
  /** The sandbox's request hook (../src/sandbox/faults.ts). */
  observe(observer: SandboxObserver): () => void;
  /** Routes that count against the rate limit the bench measures (HubSpot: the ten-second bucket). */
  limitedRoutes: readonly string[];
  sync(file: string, onProgress?: (progress: SyncProgress) => void): Promise<SyncSummary>;
  /** Salesforce: each Bulk 2.0 job's processing, UploadComplete → done (performance.now(); end null while running). */
  bulkJobs?(): Array<{ id: string; start: number; end: number | null }>;
  close(): Promise<void>;
}

function snapshotOf(routes: readonly string[], requestCount: (route: string) => number, traffic: () => TrafficStats): () => Snapshot {
  return () => {
    const cpu = process.cpuUsage();
    return { t: performance.now(), requests: Object.fromEntries(routes.map((r) => [r, requestCount(r)])), traffic: traffic(), cpuMs: (cpu.user + cpu.system) / 1000 };
  };
}

/** What both sandboxes offer a bench. */
interface BenchSandbox<Route extends string> {
  requestCount(route: Route): number;
  traffic(): TrafficStats;
  observe(observer: SandboxObserver): () => void;
  writeRequestCount(): number;
  close(): Promise<void>;
}

/**
 * A bench over a started sandbox and a fresh store: `build` seeds, configures and sets up (what each CRM
 * does its own way); the sandbox's counters and the closing are common. A failed build closes both.
 */
async function benchOver<Route extends string>(
  sb: BenchSandbox<Route>,
  routes: readonly Route[],
  build: (store: Store) => Promise<Omit<CrmBench, 'snapshot' | 'observe' | 'writeRequestCount' | 'close'>>,
): Promise<CrmBench> {
  const store: Store = await openStore(':memory:');
  const close = async (): Promise<void> => {
    await store.close();
    await sb.close();
  };
  try {
    return {
      ...(await build(store)),
      snapshot: snapshotOf(routes, (r) => sb.requestCount(r as Route), () => sb.traffic()),
      observe: (observer) => sb.observe(observer),
      writeRequestCount: () => sb.writeRequestCount(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface HubspotBenchOptions {
  spec: RunSpec;
  /** The sandbox's ten-second limit (default 110, HubSpot's OAuth-app limit). */
  sandboxPer10s?: number;
  /** orbit-sync's pace, `hubspot.requestsPer10s` (default: the config's private-app 100). */
  clientPer10s?: number;
  windowMarginMs?: number;
  /** How long the sandbox takes to answer (default: at once). */
  latency?: LatencyModel;
}

export async function startHubspotBench(options: HubspotBenchOptions): Promise<CrmBench> {
  // Rolling limiters are per portal and process-wide; every sandbox reports the same portal id.
  resetRollingLimiters();
  const sb: HubspotSandbox = await startHubspotSandbox({ rateLimit: { max: options.sandboxPer10s ?? 110, intervalMs: 10_000 }, ...(options.latency && { latency: options.latency }) });
  return benchOver(sb, HUBSPOT_SANDBOX_ROUTES, async (store) => {
    seedPortalFromPeople(sb, peopleOf(options.spec), { seed: options.spec.seed });
    const config = loadConfig({ HUBSPOT_ACCESS_TOKEN: sb.accessToken, HUBSPOT_BASE_URL: sb.url, LOG_LEVEL: 'silent' });
    // The sandbox token is a private-app token, so this is the pace orbit-sync keeps.
    if (options.clientPer10s !== undefined) config.hubspot.requestsPer10s.privateApp = options.clientPer10s;
    if (options.windowMarginMs !== undefined) config.hubspot.windowMarginMs = options.windowMarginMs;
    const mapping = loadMapping('hubspot', config.configDir);
    const setupTarget = await openHubspotTarget(config, store);
    await setupHubspot(setupTarget.hubspot.client, setupTarget.hubspot.api, mapping);
    const unlimited = new Set<string>([...HUBSPOT_SEARCH_ROUTES, ...HUBSPOT_OAUTH_ROUTES]);
    return {
      crm: 'hubspot',
      config,
      throttled: () => sb.traffic().byStatus['429'] ?? 0,
      throttledByRoute: () => Object.fromEntries(Object.entries(sb.state.rateLimited).filter(([, n]) => n > 0)),
      limitedRoutes: HUBSPOT_SANDBOX_ROUTES.filter((r) => !unlimited.has(r)),
      async sync(file, onProgress) {
        const target = await openHubspotTarget(config, store);
        return runSync({ db: store.db, config, mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file }, ...(onProgress && { onProgress }) });
      },
    };
  });
}

export interface SalesforceBenchOptions {
  spec: RunSpec;
  /** The org's daily API allocation (default: the sandbox's 15,000). */
  dailyApiLimit?: number;
  /** Changes to the config's `salesforce` settings (default: none). */
  settings?: Partial<Config['salesforce']>;
  /** The org's latency, concurrency limit and Bulk 2.0 throughput (default: the sandbox's). */
  sandbox?: Pick<SalesforceSandboxOptions, 'latency' | 'concurrentRequestLimit' | 'bulkRecordsPerSecond'>;
}

export async function startSalesforceBench(options: SalesforceBenchOptions): Promise<CrmBench> {
  const sb: SalesforceSandbox = await startSalesforceSandbox({ ...options.sandbox, ...(options.dailyApiLimit !== undefined && { dailyApiLimit: options.dailyApiLimit }) });
  return benchOver(sb, SALESFORCE_SANDBOX_ROUTES, async (store) => {
    seedOrgFromPeople(sb, peopleOf(options.spec), { seed: options.spec.seed });
    const base = loadConfig({
      ...salesforceSandboxEnv(sb),
      LOG_LEVEL: 'silent',
    });
    const config: Config = { ...base, salesforce: { ...base.salesforce, ...options.settings } };
    await setupSalesforce((await connectSalesforce(config)).api);
    return {
      crm: 'salesforce',
      config,
      throttled: () => sb.traffic().byStatus['403'] ?? 0,
      throttledByRoute: () => ({}),
      limitedRoutes: SALESFORCE_SANDBOX_ROUTES,
      bulkJobs: () => {
        // The sandbox's clock is Date.now(); the bench's is performance.now().
        const offset = performance.now() - Date.now();
        return sb.bulkJobTimes().map((j) => ({ id: j.id, start: j.uploadCompleteAt + offset, end: j.doneAt === null ? null : j.doneAt + offset }));
      },
      async sync(file, onProgress) {
        const target = await openSalesforceTarget(config, store);
        return runSync({ db: store.db, config, mapping: target.mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file }, ...(onProgress && { onProgress }) });
      },
    };
  });
}

/** Snapshots at the sync's phase changes: `start` (before the sync), `writing`, `prioritizing`, `done`. */
export interface PhaseSnapshots {
  start: Snapshot;
  writing?: Snapshot;
  prioritizing?: Snapshot;
  done?: Snapshot;
}

export function watchPhases(bench: CrmBench): { snapshots: PhaseSnapshots; onProgress: (progress: SyncProgress) => void } {
  const snapshots: PhaseSnapshots = { start: bench.snapshot() };
  return {
    snapshots,
    onProgress: (progress) => {
      if (progress.phase === 'writing' && snapshots.writing === undefined) snapshots.writing = bench.snapshot();
      else if (progress.phase === 'prioritizing' && snapshots.prioritizing === undefined) snapshots.prioritizing = bench.snapshot();
      else if (progress.phase === 'done' && snapshots.done === undefined) snapshots.done = bench.snapshot();
    },
  };
}

/** Requests to `routes` between two snapshots. */
export function requestsBetween(a: Snapshot, b: Snapshot, routes?: readonly string[]): number {
  return (routes ?? Object.keys(b.requests)).reduce((sum, r) => sum + (b.requests[r] ?? 0) - (a.requests[r] ?? 0), 0);
}

/**
 * Requests in flight at the sandbox over time (from its `received` and `answered` hooks): how many at
 * once, and for how long, between two moments.
 */
export class InFlightTracker {
  private readonly events: Array<{ t: number; delta: 1 | -1; route: string; status?: number }> = [];
  /** Each request's time at the sandbox, received → answered. */
  readonly requests: Array<{ url: string; start: number; end: number }> = [];
  private readonly open = new Map<string, number[]>();
  readonly stop: () => void;

  constructor(bench: CrmBench) {
    this.stop = bench.observe((event) => {
      const t = performance.now();
      // Observed requests carry no id: a request is paired with the earliest one still open for the same method and URL.
      const key = `${event.method} ${event.url}`;
      if (event.phase === 'received') {
        this.events.push({ t, delta: 1, route: event.route });
        this.open.set(key, [...(this.open.get(key) ?? []), t]);
      } else if (event.phase === 'answered') {
        this.events.push({ t, delta: -1, route: event.route, ...(event.status !== undefined && { status: event.status }) });
        const [start, ...rest] = this.open.get(key) ?? [];
        if (start !== undefined) this.requests.push({ url: event.url, start, end: t });
        if (rest.length > 0) this.open.set(key, rest);
        else this.open.delete(key);
      }
    });
  }

  /** Requests to `routes` that reached the sandbox in [from, to) and were not answered 429. */
  arrivals(from: number, to: number, routes: readonly string[]): number {
    const wanted = new Set(routes);
    const inRange = this.events.filter((e) => e.t >= from && e.t < to && wanted.has(e.route));
    return inRange.filter((e) => e.delta === 1).length - inRange.filter((e) => e.status === 429).length;
  }

  /** Between `from` and `to` (performance.now()): mean requests in flight, share of the time with at least one, the most at once. */
  between(from: number, to: number): { meanInFlight: number; busyShare: number; maxInFlight: number } {
    let inFlight = 0;
    let last = from;
    let area = 0;
    let busy = 0;
    let max = 0;
    for (const { t, delta } of this.events) {
      if (t > to) break;
      if (t > from) {
        area += inFlight * (t - last);
        if (inFlight > 0) busy += t - last;
        last = t;
      }
      inFlight += delta;
      if (t >= from) max = Math.max(max, inFlight);
    }
    area += inFlight * (to - last);
    if (inFlight > 0) busy += to - last;
    const span = Math.max(1e-9, to - from);
    return { meanInFlight: area / span, busyShare: busy / span, maxInFlight: max };
  }
}

/** Time-averaged number of the intervals that are open, between `from` and `to`. */
export function meanOpen(intervals: ReadonlyArray<{ start: number; end: number }>, from: number, to: number): number {
  let area = 0;
  for (const { start, end } of intervals) area += Math.max(0, Math.min(end, to) - Math.max(start, from));
  return area / Math.max(1e-9, to - from);
}

/** The union of intervals, as disjoint intervals. */
export function union(intervals: ReadonlyArray<{ start: number; end: number }>): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  for (const i of [...intervals].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
