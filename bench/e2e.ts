/**
 * End to end (issue #6): people per second from a 20,000-row export into each sandbox at its default
 * limits, through the real engine and SDKs (read, dedupe, plan, write, prioritize, record).
 *
 * - HubSpot: the sandbox's default limit, 110 requests per 10 s (an OAuth app's), with orbit-sync pacing
 *   itself at the same 110 (`hubspot.requestsPer10s.oauthApp`; the sandbox token is a private-app token,
 *   so the private-app setting is given that value).
 * - Salesforce: the sandbox's and orbit-sync's defaults (a 20,000-row run goes through Bulk API 2.0,
 *   polled every `salesforce.bulkPollIntervalMs`, 2 s).
 * The portal and org are seeded as in the other benchmarks (20% of the people already there).
 */
import path from 'node:path';
import { loadConfig } from '../src/config';
import { check, collect, type Check } from './checks';
import { benchDir, round, startHubspotBench, startSalesforceBench, writeRun, type CrmBench, type RunSpec } from './crm';

const SPEC: RunSpec = { seed: 2026, rows: 20_000, duplicateShare: 0.02, malformedShare: 0.002 };

async function endToEnd(bench: CrmBench, file: string): Promise<{ result: Record<string, number>; checks: Check[] }> {
  try {
    const s = await bench.sync(file);
    const people = s.rows - s.quarantined - s.duplicates;
    const seconds = s.durationMs / 1000;
    const result = {
      rows: s.rows,
      people,
      written: s.created + s.updated,
      syncS: round(seconds, 1),
      peoplePerS: Math.round(people / seconds),
      calls: s.apiCalls.total,
      callsPerS: round(s.apiCalls.total / seconds, 1),
      throttled: bench.throttled(),
    };
    console.log(`${bench.crm}: ${people} people (${result.written} written) in ${result.syncS} s = ${result.peoplePerS} people/s; ${result.calls} calls, ${result.throttled} throttled`);
    const reconciles = s.rows === s.quarantined + s.duplicates + s.unchanged + s.created + s.updated + s.skipped + s.failed;
    return {
      result,
      checks: [check(`${bench.crm}: the end-to-end sync succeeds and every row is accounted for`, s.status === 'succeeded' && reconciles && s.failed === 0 ? 1 : 0, '=', 1)],
    };
  } finally {
    await bench.close();
  }
}

export async function benchE2e(): Promise<Record<string, unknown>> {
  const { dir, remove } = benchDir();
  try {
    const file = path.join(dir, 'run.csv');
    await writeRun(file, SPEC);
    const oauthPace = loadConfig({}).hubspot.requestsPer10s.oauthApp;
    return await collect({ rows: SPEC.rows, hubspotPer10s: oauthPace }, [
      ['hubspot', async () => endToEnd(await startHubspotBench({ spec: SPEC, sandboxPer10s: oauthPace, clientPer10s: oauthPace }), file)],
      ['salesforce', async () => endToEnd(await startSalesforceBench({ spec: SPEC }), file)],
    ]);
  } finally {
    remove();
  }
}
