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
 * is `salesforce.maxConcurrent` requests in flight (its own cap, under Salesforce's 25), so:
 *   utilization = time-averaged requests in flight at the org during the write phase ÷ maxConcurrent.
 * Measured at the sandbox (its request hooks), once with Bulk API 2.0 (what a run this size uses by
 * default) and once with sObject Collections only (what runs under `salesforce.bulkThreshold` use).
 * The busy share (time with at least one request in flight) says how much of the phase the client spent
 * waiting on the org at all.
 */
import path from 'node:path';
import type { SyncSummary } from '../src/sync/run-sync';
import { check, collect, type Check } from './checks';
import { benchDir, InFlightTracker, requestsBetween, round, startHubspotBench, startSalesforceBench, watchPhases, writeRun, type CrmBench, type PhaseSnapshots, type RunSpec } from './crm';

const SPEC: RunSpec = { seed: 2026, rows: 50_000, duplicateShare: 0.02, malformedShare: 0.002 };
/** HubSpot's ten-second limit, scaled: a 50,000-row sync makes about 1,650 calls, so ~40 s of writing. */
const HUBSPOT_PER_10S = 400;
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
  const bench = await startHubspotBench({ spec: SPEC, sandboxPer10s: HUBSPOT_PER_10S, clientPer10s: HUBSPOT_PER_10S });
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

async function salesforceUtilization(file: string, mode: 'bulk' | 'collections'): Promise<{ result: Record<string, unknown>; checks: Check[] }> {
  const bench = await startSalesforceBench({ spec: SPEC, dailyApiLimit: DAILY_API_LIMIT, ...(mode === 'collections' && { settings: { bulkThreshold: Number.MAX_SAFE_INTEGER } }) });
  try {
    const p = await syncAndWatch(bench, file);
    const maxConcurrent = bench.config.salesforce.maxConcurrent;
    const utilization = round(p.inFlight.meanInFlight / maxConcurrent);
    const throttled = bench.throttled();
    const result = {
      maxConcurrent,
      syncS: round(p.summary.durationMs / 1000, 1),
      writePhaseS: round(p.writeMs / 1000, 1),
      writePhaseRequests: requestsBetween(p.snapshots.writing, p.snapshots.prioritizing),
      meanInFlight: round(p.inFlight.meanInFlight),
      maxInFlight: p.inFlight.maxInFlight,
      busyShare: round(p.inFlight.busyShare),
      utilization,
      requestLimitExceeded: throttled,
      calls: p.summary.apiCalls.total,
    };
    console.log(
      `salesforce (${mode}): sync ${result.syncS} s; write phase ${result.writePhaseS} s, ${result.writePhaseRequests} requests, ` +
        `${result.meanInFlight} in flight on average (max ${result.maxInFlight}) of ${maxConcurrent} permitted → utilization ${utilization}; busy ${result.busyShare} of the phase`,
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
    return await collect({ rows: SPEC.rows }, [
      ['hubspot', () => hubspotUtilization(file)],
      ['salesforceBulk', () => salesforceUtilization(file, 'bulk')],
      ['salesforceCollections', () => salesforceUtilization(file, 'collections')],
    ]);
  } finally {
    remove();
  }
}
