/**
 * Rate-limit utilization (issue #6): how much of what a CRM permits a 50,000-row sync uses while it
 * writes (the write phase: from the first write group to the start of deal prioritization).
 *
 * HubSpot permits N requests per rolling ten seconds (the sandbox's limit; orbit-sync's
 * `hubspot.requestsPer10s` is set to the same N, with the default `windowMarginMs`). N is scaled up from
 * HubSpot's 100–190 so that a 50,000-row sync takes under a minute:
 *   utilization = requests of the ten-second bucket that reach the portal in the first k whole ten-second
 *                 windows of the write phase (k = ⌊phase ÷ 10 s⌋) ÷ (k × N).
 * No ten-second interval can hold more than N, so this cannot exceed 1; a stretch that is not a whole
 * number of windows could (the whole-phase rate over N/10 s, which can, is kept in results.json too).
 * Searches have their own 5/s limit and are not in the bucket (reported apart). Any 429 is unplanned:
 * no fault is injected.
 *
 * Salesforce has no per-second limit (reference/salesforce.md §8): it counts requests against a rolling
 * 24-hour allocation and caps concurrent long-running requests. What orbit-sync is permitted per moment
 * is `salesforce.maxConcurrent` requests in flight (its own cap, under Salesforce's 25); the sandbox is
 * given the same cap (`concurrentRequestLimit`) and refuses a request past it with Salesforce's 403
 * REQUEST_LIMIT_EXCEEDED ConcurrentRequests. By Little's law, achieved request rate ÷ permitted rate
 * (maxConcurrent ÷ latency) is the mean number of slots in use ÷ maxConcurrent, so:
 *   utilization = time-averaged slots in use at the org during the write phase ÷ maxConcurrent,
 * where a slot is in use by a request in flight, or by a Bulk API 2.0 job from its first request to its
 * last, while the org is working on it (one of its requests in flight, or its rows being processed —
 * UploadComplete → JobComplete); a job waiting for its next poll after the org finished holds a slot
 * unused. orbit-sync holds one slot per job for the job's whole life, so this cannot exceed 1.
 * Measured at the sandbox (its request hooks and its Bulk job times), once with Bulk API 2.0 (what a run
 * this size uses by default) and once with sObject Collections only (what runs under
 * `salesforce.bulkThreshold` use).
 *
 * Latency: a sandbox that answers at once would measure orbit-sync's own CPU, not how it uses the limit.
 * Both sandboxes answer after a latency, scaled like the limits (every duration divided by the factor the
 * limit is raised by), so the measured ratio is the one a sync at the real limits would see. Salesforce's
 * limit (maxConcurrent) is not raised, so its durations are the real ones: scaling them down too (÷3, until
 * this was measured) made this process's CPU — the sandbox's included, which a real org spends on its own
 * machines — two thirds of the phase instead of a quarter, and measured that instead. The real durations are assumptions ([INFER]:
 * the reference notes have no measured latencies), stated at each constant below.
 *
 * `BENCH_UTILIZATION=salesforceBulk,…` measures only the named parts (hubspot, salesforceBulk,
 * salesforceCollections); `BENCH_TIMELINE=1` prints Salesforce's slots in use per half second and each
 * Bulk job's requests and processing.
 */
import path from 'node:path';
import type { SyncSummary } from '../src/sync/run-sync';
import { check, collect, type Check, type Measured } from './checks';
import { loadConfig } from '../src/config';
import type { LatencyModel } from '../src/sandbox/latency';
import { benchDir, InFlightTracker, meanOpen, requestsBetween, round, startHubspotBench, startSalesforceBench, union, watchPhases, writeRun, type CrmBench, type PhaseSnapshots, type RunSpec } from './crm';

const SPEC: RunSpec = { seed: 2026, rows: 50_000, duplicateShare: 0.02, malformedShare: 0.002 };
/** HubSpot's ten-second limit, scaled: a 50,000-row sync makes about 1,650 calls, so ~40 s of writing. */
const HUBSPOT_PER_10S = 400;
/** 400 ÷ 110 (the OAuth-app limit orbit-sync installs with): about 3.6 times HubSpot's pace. */
const HUBSPOT_SCALE = HUBSPOT_PER_10S / 110;
/** [INFER] HubSpot answers a call in ~180 ms plus ~1 ms per batch input; scaled. */
const HUBSPOT_LATENCY: LatencyModel = { baseMs: 180 / HUBSPOT_SCALE, perRecordMs: 1 / HUBSPOT_SCALE };
/** [INFER] Salesforce answers a call in ~300 ms plus ~1 ms per record (a Collections record, a Composite subrequest, a Bulk CSV row). */
const SALESFORCE_LATENCY: LatencyModel = { baseMs: 300, perRecordMs: 1 };
/** [INFER] Bulk API 2.0 processes ~2,000 rows a second. */
const SALESFORCE_BULK_ROWS_PER_S = 2_000;
const WINDOW_MS = 10_000;
/** The org's daily allocation, out of the way (the sandbox's default is 15,000). */
const DAILY_API_LIMIT = 1_000_000;

interface Phase {
  summary: SyncSummary;
  /** Write phase: first write group → prioritizing. */
  writeMs: number;
  snapshots: Required<PhaseSnapshots>;
  inFlight: ReturnType<InFlightTracker['between']>;
  tracker: InFlightTracker;
}

async function syncAndWatch(bench: CrmBench, file: string): Promise<Phase> {
  const tracker = new InFlightTracker(bench);
  const phases = watchPhases(bench);
  try {
    const summary = await bench.sync(file, phases.onProgress);
    const { start, writing, prioritizing, done } = phases.snapshots;
    if (summary.status !== 'succeeded' || !writing || !prioritizing || !done) throw new Error(`${bench.crm} sync ${summary.status}: ${summary.message ?? 'no write phase'}`);
    return { summary, writeMs: prioritizing.t - writing.t, snapshots: { start, writing, prioritizing, done }, inFlight: tracker.between(writing.t, prioritizing.t), tracker };
  } finally {
    tracker.stop();
  }
}

async function hubspotUtilization(file: string): Promise<{ result: Record<string, unknown>; checks: Check[] }> {
  const bench = await startHubspotBench({ spec: SPEC, sandboxPer10s: HUBSPOT_PER_10S, clientPer10s: HUBSPOT_PER_10S, latency: HUBSPOT_LATENCY });
  try {
    const p = await syncAndWatch(bench, file);
    const { writing, prioritizing, done, start } = p.snapshots;
    if (prioritizing.t - writing.t < 2 * WINDOW_MS) throw new Error('the write phase is shorter than two ten-second windows: raise SPEC.rows or lower HUBSPOT_PER_10S');
    const bucket = requestsBetween(writing, prioritizing, bench.limitedRoutes);
    const permitted = HUBSPOT_PER_10S / 10;
    // Whole windows only: any stretch of k windows holds at most k × N requests.
    const windows = Math.floor((prioritizing.t - writing.t) / WINDOW_MS);
    const measured = p.tracker.arrivals(writing.t, writing.t + windows * WINDOW_MS, bench.limitedRoutes);
    const achieved = measured / ((windows * WINDOW_MS) / 1000);
    const utilization = round(measured / (windows * HUBSPOT_PER_10S));
    const throttled = bench.throttled();
    const result = {
      permittedPer10s: HUBSPOT_PER_10S,
      windowMarginMs: bench.config.hubspot.windowMarginMs,
      people: p.summary.created + p.summary.updated + p.summary.unchanged,
      syncS: round(p.summary.durationMs / 1000, 1),
      writePhaseS: round(p.writeMs / 1000, 1),
      writePhaseRequests: bucket,
      writePhaseSearches: requestsBetween(writing, prioritizing) - bucket,
      measuredWindows: windows,
      measuredRequests: measured,
      achievedPerS: round(achieved, 1),
      permittedPerS: permitted,
      utilization,
      /** The whole write phase's rate over N/10 s (not whole windows, so it can exceed 1). */
      wholePhaseUtilization: round(bucket / (p.writeMs / 1000) / permitted),
      wholeSyncUtilization: round(requestsBetween(start, done, bench.limitedRoutes) / ((done.t - start.t) / 1000) / permitted),
      meanInFlight: round(p.inFlight.meanInFlight),
      maxInFlight: p.inFlight.maxInFlight,
      busyShare: round(p.inFlight.busyShare),
      rateLimited: throttled,
      rateLimitedBySummary: p.summary.rateLimited,
      rateLimitedByRoute: bench.throttledByRoute(),
      calls: p.summary.apiCalls.total,
    };
    console.log(
      `hubspot: ${result.people} people in ${result.syncS} s; write phase ${result.writePhaseS} s (${bucket} requests in the 10-s bucket); ${measured} in its first ${windows} whole windows = ${result.achievedPerS}/s of ${permitted}/s permitted ` +
        `→ utilization ${utilization}; ${throttled} × 429 (${JSON.stringify(result.rateLimitedByRoute)}); sandbox busy ${round(p.inFlight.busyShare)} of the phase`,
    );
    return {
      result,
      checks: [check('hubspot: write-phase utilization of the ten-second limit', utilization, '>=', 0.85), check('hubspot: unplanned 429s', throttled, '=', 0)],
    };
  } finally {
    await bench.close();
  }
}

/**
 * Mean slots in use between `from` and `to`: requests in flight, except that a Bulk job's requests and its
 * processing together count once (a job holds one slot).
 */
function slotsInUse(tracker: InFlightTracker, jobs: ReadonlyArray<{ id: string; start: number; end: number | null }>, from: number, to: number): { slots: number; jobSlots: number } {
  const jobOf = (url: string): string | undefined => /\/jobs\/ingest\/([^/?]+)/.exec(url)?.[1];
  const byJob = new Map<string, Array<{ start: number; end: number }>>(jobs.map((j) => [j.id, [{ start: j.start, end: j.end ?? to }]]));
  const others: Array<{ start: number; end: number }> = [];
  for (const r of tracker.requests) {
    const id = jobOf(r.url);
    if (id === undefined) others.push(r);
    else byJob.set(id, [...(byJob.get(id) ?? []), r]);
  }
  const jobSlots = [...byJob.values()].reduce((sum, intervals) => sum + meanOpen(union(intervals), from, to), 0);
  // BENCH_TIMELINE=1: slots in use per half second (requests outside Bulk jobs + Bulk jobs), to see where a phase idles.
  if (process.env.BENCH_TIMELINE) {
    const line: string[] = [];
    for (let t = from; t < to; t += 500) {
      const e = Math.min(to, t + 500);
      const j = [...byJob.values()].reduce((sum, intervals) => sum + meanOpen(union(intervals), t, e), 0);
      line.push(`${((t - from) / 1000).toFixed(1)}:${meanOpen(others, t, e).toFixed(1)}+${j.toFixed(1)}`);
    }
    console.log(line.join(' '));
    for (const [id, intervals] of byJob) {
      const spans = [...intervals].sort((a, b) => a.start - b.start).map((i) => `${((i.start - from) / 1000).toFixed(1)}–${((i.end - from) / 1000).toFixed(1)}`);
      console.log(`  Bulk job …${id.slice(-6)}: processing ${spans[0] ?? ''}; requests ${spans.slice(1).join(' ')}`);
    }
  }
  return { slots: meanOpen(others, from, to) + jobSlots, jobSlots };
}

async function salesforceUtilization(file: string, mode: 'bulk' | 'collections'): Promise<{ result: Record<string, unknown>; checks: Check[] }> {
  // The default poll interval (salesforce.bulkPollIntervalMs): nothing is scaled.
  const settings = mode === 'collections' ? { bulkThreshold: Number.MAX_SAFE_INTEGER } : {};
  const maxConcurrent = loadConfig({ LOG_LEVEL: 'silent' }).salesforce.maxConcurrent;
  const bench = await startSalesforceBench({
    spec: SPEC,
    dailyApiLimit: DAILY_API_LIMIT,
    settings,
    sandbox: { latency: SALESFORCE_LATENCY, concurrentRequestLimit: maxConcurrent, bulkRecordsPerSecond: SALESFORCE_BULK_ROWS_PER_S },
  });
  try {
    const p = await syncAndWatch(bench, file);
    const { writing, prioritizing } = p.snapshots;
    const jobs = bench.bulkJobs?.() ?? [];
    const { slots, jobSlots } = slotsInUse(p.tracker, jobs, writing.t, prioritizing.t);
    const utilization = round(slots / maxConcurrent);
    const throttled = bench.throttled();
    const result = {
      maxConcurrent,
      latency: SALESFORCE_LATENCY,
      bulkRowsPerS: SALESFORCE_BULK_ROWS_PER_S,
      bulkPollIntervalMs: bench.config.salesforce.bulkPollIntervalMs,
      syncS: round(p.summary.durationMs / 1000, 1),
      writePhaseS: round(p.writeMs / 1000, 1),
      writePhaseRequests: requestsBetween(writing, prioritizing),
      bulkJobs: jobs.length,
      meanSlotsInUse: round(slots),
      meanSlotsInUseByBulkJobs: round(jobSlots),
      meanInFlight: round(p.inFlight.meanInFlight),
      maxInFlight: p.inFlight.maxInFlight,
      busyShare: round(p.inFlight.busyShare),
      utilization,
      requestLimitExceeded: throttled,
      calls: p.summary.apiCalls.total,
      /** The bench process's CPU time ÷ the write phase: near 1, one core is saturated by the sandbox and orbit-sync together. */
      cpuShare: round((prioritizing.cpuMs - writing.cpuMs) / p.writeMs),
    };
    console.log(
      `salesforce (${mode}): sync ${result.syncS} s; write phase ${result.writePhaseS} s, ${result.writePhaseRequests} requests, ${jobs.length} Bulk jobs; ` +
        `${result.meanSlotsInUse} of ${maxConcurrent} slots in use on average (requests in flight ${result.meanInFlight}, max ${result.maxInFlight}) → utilization ${utilization}; ${throttled} × 403 REQUEST_LIMIT_EXCEEDED; CPU ${result.cpuShare} of the phase`,
    );
    return {
      result,
      checks: [
        check(`salesforce (${mode}): write-phase utilization of maxConcurrent`, utilization, '>=', 0.85),
        check(`salesforce (${mode}): REQUEST_LIMIT_EXCEEDED answers`, throttled, '=', 0),
      ],
    };
  } finally {
    await bench.close();
  }
}

export async function benchUtilization(): Promise<Record<string, unknown>> {
  const { dir, remove } = benchDir();
  try {
    const file = path.join(dir, 'run.csv');
    await writeRun(file, SPEC);
    const parts: ReadonlyArray<readonly [string, () => Promise<Measured>]> = [
      ['hubspot', () => hubspotUtilization(file)],
      ['salesforceBulk', () => salesforceUtilization(file, 'bulk')],
      ['salesforceCollections', () => salesforceUtilization(file, 'collections')],
    ];
    const only = process.env.BENCH_UTILIZATION?.split(',').map((n) => n.trim());
    const unknown = only?.filter((n) => !parts.some(([name]) => name === n)) ?? [];
    if (unknown.length > 0) throw new Error(`BENCH_UTILIZATION names ${unknown.join(', ')}; the parts are ${parts.map(([n]) => n).join(', ')}`);
    return await collect({ rows: SPEC.rows, ...(only && { partial: true }) }, only ? parts.filter(([name]) => only.includes(name)) : parts);
  } finally {
    remove();
  }
}
