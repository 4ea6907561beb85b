/**
 * API economy per CRM (issue #6): calls per 100 people of the run for
 *
 *   (a) new:       a 10,000-row run into a portal / org seeded as a real one (seed-portal.ts, seed-org.ts:
 *                  20% of the people already there, 40% of the companies, open and closed deals), so most
 *                  people are new;
 *   (b) unchanged: the same run synced again;
 *   (c) changed:   the same audience's next run, in which 5% of the people changed (score +1, and half
 *                  of those a new job title),
 *
 * next to what a naive connector, one call per person per operation, would need for the same run.
 *
 * Calls are counted twice: by the sandbox (every HTTP request it received, by route) and by orbit-sync
 * (the sync summary's `apiCalls`, counted where each request is sent); the bench reports both and checks
 * that they agree. Write calls are the sandbox's `writeRequestCount()` (record and association writes).
 * Rate limits are set far above what the sync uses: this measures calls, not time.
 *
 * The naive connector, derived from the same run (no ledger, no batching, no cache):
 *   HubSpot:    per person, 1 contact lookup (search by email) + 1 write if the contact is created or
 *               changed; per person with a company domain, 1 company lookup (search by domain) + 1
 *               association call if the association is new; + 1 create per new company.
 *               naive = P + W + Pc + Cn + A
 *   Salesforce: per person, 1 query (Contact/Lead by email) + 1 DML if the record is created or changed.
 *               naive = P + W
 *   P = people in the run, W = people written (created + updated, from the sync summary), Pc = people
 *   with a company domain, Cn = companies created, A = associations made (sync summary). Deals,
 *   Accounts and Opportunities are left out of the naive count (a naive connector would need at least
 *   a read per person for them), so the comparison flatters the naive connector; orbit-sync's
 *   "people path" figure leaves them out too (calls before the prioritizing phase).
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { ingestCsv } from '../src/ingest/ingest-csv';
import type { SyncSummary } from '../src/sync/run-sync';
import { check, collect, type Check } from './checks';
import { benchDir, requestsBetween, round, startHubspotBench, startSalesforceBench, watchPhases, writeRun, type CrmBench, type CrmName, type RunSpec } from './crm';

const SPEC: RunSpec = { seed: 2026, rows: 10_000, duplicateShare: 0.02, malformedShare: 0.002 };
const CHANGE_SHARE = 0.05;
/** Far above what a 10,000-person sync sends in ten seconds: no pacing, no 429. */
const UNLIMITED_PER_10S = 1_000_000;

const SCENARIOS = ['new', 'unchanged', 'changed'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** Write endpoints as the sync summary names them (the same routes as the sandboxes' write routes). */
const SUMMARY_WRITES: Record<CrmName, RegExp> = {
  hubspot: /^POST .*\/(batch\/(upsert|update|create)|batch\/associate\/default)$/,
  salesforce: /^(PATCH|PUT) |^POST \/jobs\/ingest /,
};

interface Measured {
  summary: SyncSummary;
  /** People in the run (rows − quarantined − duplicates). */
  people: number;
  sandboxCalls: number;
  /** Sandbox-counted calls before the prioritizing phase (contacts/leads, companies, associations). */
  peoplePathCalls: number;
  sandboxWrites: number;
  summaryWrites: number;
}

async function measure(bench: CrmBench, file: string): Promise<Measured> {
  const phases = watchPhases(bench);
  const writesBefore = bench.writeRequestCount();
  const summary = await bench.sync(file, phases.onProgress);
  const end = bench.snapshot();
  if (summary.status !== 'succeeded') throw new Error(`${bench.crm} sync ${summary.status}: ${summary.message ?? ''}`);
  const beforeDeals = phases.snapshots.prioritizing ?? end;
  return {
    summary,
    people: summary.rows - summary.quarantined - summary.duplicates,
    sandboxCalls: requestsBetween(phases.snapshots.start, end),
    peoplePathCalls: requestsBetween(phases.snapshots.start, beforeDeals),
    sandboxWrites: bench.writeRequestCount() - writesBefore,
    summaryWrites: Object.entries(summary.apiCalls.byEndpoint)
      .filter(([endpoint]) => SUMMARY_WRITES[bench.crm].test(endpoint))
      .reduce((sum, [, n]) => sum + n, 0),
  };
}

/** People of a run with a company domain (Pc of the naive formula). */
async function peopleWithCompany(file: string): Promise<number> {
  const config = loadConfig({});
  let count = 0;
  for await (const event of ingestCsv(createReadStream(file), { columns: config.columns, ingest: config.ingest })) {
    if (event.kind === 'person' && event.person.company.domain !== undefined) count += 1;
  }
  return count;
}

function naiveCalls(crm: CrmName, m: Measured, withCompany: number): number {
  const s = m.summary;
  const written = s.created + s.updated;
  if (crm === 'salesforce') return m.people + written;
  return m.people + written + withCompany + s.companies.created + s.associations;
}

async function economyOf(crm: CrmName, files: Record<Scenario, string>, withCompany: Record<Scenario, number>): Promise<{ result: Record<string, number>; checks: Check[] }> {
  const bench =
    crm === 'hubspot'
      ? await startHubspotBench({ spec: SPEC, sandboxPer10s: UNLIMITED_PER_10S, clientPer10s: UNLIMITED_PER_10S })
      : await startSalesforceBench({ spec: SPEC, dailyApiLimit: UNLIMITED_PER_10S });
  const result: Record<string, number> = {};
  const checks: Check[] = [];
  try {
    for (const scenario of SCENARIOS) {
      const m = await measure(bench, files[scenario]);
      const per100 = (calls: number): number => round((calls / m.people) * 100);
      const naive = naiveCalls(crm, m, withCompany[scenario]);
      Object.assign(result, {
        [`${scenario}.people`]: m.people,
        [`${scenario}.created`]: m.summary.created,
        [`${scenario}.updated`]: m.summary.updated,
        [`${scenario}.calls`]: m.sandboxCalls,
        [`${scenario}.summaryCalls`]: m.summary.apiCalls.total,
        [`${scenario}.writeCalls`]: m.sandboxWrites,
        [`${scenario}.callsPer100`]: per100(m.sandboxCalls),
        [`${scenario}.peoplePathPer100`]: per100(m.peoplePathCalls),
        [`${scenario}.naivePer100`]: per100(naive),
        [`${scenario}.naiveOverOurs`]: m.peoplePathCalls === 0 ? 0 : round(naive / m.peoplePathCalls, 1),
      });
      console.log(
        `${crm} ${scenario.padEnd(9)} ${m.people} people, ${m.summary.created + m.summary.updated} written: ${m.sandboxCalls} calls (summary ${m.summary.apiCalls.total}), ` +
          `${m.sandboxWrites} write calls (summary ${m.summaryWrites}); ${per100(m.sandboxCalls)} per 100 people, ${per100(m.peoplePathCalls)} without deals; naive ${per100(naive)}`,
      );
      checks.push(check(`${crm}: sandbox and summary count the same calls (${scenario})`, m.sandboxCalls - m.summary.apiCalls.total, '=', 0));
      if (scenario === 'unchanged') checks.push(check(`${crm}: unchanged re-run makes no write call`, m.sandboxWrites, '=', 0));
    }
  } finally {
    await bench.close();
  }
  return { result, checks };
}

export async function benchEconomy(): Promise<Record<string, unknown>> {
  const { dir, remove } = benchDir();
  try {
    const files: Record<Scenario, string> = { new: path.join(dir, 'run.csv'), unchanged: path.join(dir, 'run.csv'), changed: path.join(dir, 'changed.csv') };
    await writeRun(files.new, SPEC);
    const { changedPeople } = await writeRun(files.changed, SPEC, CHANGE_SHARE);
    const withCompany = { new: await peopleWithCompany(files.new), unchanged: 0, changed: await peopleWithCompany(files.changed) };
    withCompany.unchanged = withCompany.new;
    console.log(`${SPEC.rows.toLocaleString('en-US')}-row run; the changed run alters ${changedPeople} people (${CHANGE_SHARE * 100}%)`);
    return await collect(
      { rows: SPEC.rows, changedPeople },
      (['hubspot', 'salesforce'] as const).map((crm) => [crm, () => economyOf(crm, files, withCompany)] as const),
    );
  } finally {
    remove();
  }
}
