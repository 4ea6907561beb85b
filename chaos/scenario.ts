/**
 * One chaos scenario (issue #6): the same generated Leadpipe run is synced into two identical CRM sandboxes,
 * once with no faults and once with faults injected in the CRM and in Leadpipe, through the installed
 * app's sync job (`runSyncJob`: OAuth tokens refreshed by the app, the connection's Leadpipe key). The
 * faulted side is synced again while its sync reports failures, as the scheduler would (up to
 * `maxPasses`). Then the two CRMs must hold the same records, the sync must have made no duplicate, every
 * row of the run must be accounted for, and every person not written must be listed with a reason.
 *
 * Both sides run in this process against loopback sandboxes; nothing reaches a real API.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppContext } from '../src/app/app-context';
import { openConnectionTarget } from '../src/app/connection-target';
import { exchangeHubspotCode, hubspotTokenKeeper } from '../src/app/hubspot-oauth';
import { runSyncJob } from '../src/app/sync-job';
import { loadConfig, type Config } from '../src/config';
import { setupHubspot } from '../src/destinations/hubspot/setup';
import { setupSalesforce } from '../src/destinations/salesforce/setup';
import { SyncError } from '../src/lib/errors';
import { silentLogger } from '../src/lib/logger';
import { resetRollingLimiters } from '../src/lib/rolling-limiter';
import type { FaultConfig, FaultKind, FaultStats } from '../src/sandbox/faults';
import { seedPortalFromPeople } from '../src/sandbox/hubspot/seed-portal';
import { startHubspotSandbox } from '../src/sandbox/hubspot/server';
import type { GeneratedRow } from '../src/sandbox/generate-people';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../src/sandbox/leadpipe/server';
import { seedOrgFromPeople } from '../src/sandbox/salesforce/seed-org';
import { startSalesforceSandbox } from '../src/sandbox/salesforce/server';
import { hubspotDuplicates, hubspotSnapshot, salesforceDuplicates, salesforceSnapshot, snapshotDifferences, type CrmSnapshot } from '../src/sandbox/snapshot';
import { createConnectionSettings } from '../src/store/connection-settings';
import { createConnections } from '../src/store/connections';
import { createCredentials } from '../src/store/credentials';
import { openStore } from '../src/store/db';
import type { SyncSummary } from '../src/sync/run-sync';

export type Crm = 'hubspot' | 'salesforce';
export type FaultRates = Partial<Record<FaultKind, number>>;

export interface ChaosScenario {
  name: string;
  crm: Crm;
  /** People in the generated run (plus the generator's duplicate and malformed rows). */
  people: number;
  /** Seeds the run, the CRM's existing records and the faults. */
  seed: number;
  crmFaults: FaultRates;
  leadpipeFaults?: FaultRates;
  /** The clients' per-request timeout (ms); a `timeout` fault holds its answer 1.5 × this. */
  clientTimeoutMs?: number;
  /** Syncs of the faulted side at most (the first, then retries while people are left failed). */
  maxPasses?: number;
}

export interface PassReport {
  status: SyncSummary['status'] | 'error';
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  failed: number;
  quarantined: number;
  duplicates: number;
  apiCalls: number;
  rateLimited: number;
  ms: number;
  message?: string;
}

export interface ChaosReport {
  scenario: string;
  crm: Crm;
  people: number;
  passes: PassReport[];
  baseline: PassReport;
  faults: { crm: FaultStats; leadpipe: FaultStats };
  /** Same records in both CRMs. */
  sameState: boolean;
  differences: string[];
  /** Duplicates the faulted sync made (none existed in the seeded CRM). */
  newDuplicates: string[];
  /** rows = people written or unchanged or skipped or failed + quarantined + duplicate rows, on the last pass. */
  reconciles: boolean;
  /** People the last pass left failed, each with its code and message. */
  failures: Array<{ code: string; message: string }>;
  /** People an earlier pass left failed (written by a later one), by code. */
  failedOnTheWay: Record<string, number>;
  /** Failures of any pass without a message (must be none). */
  unexplained: number;
  /** Faults were configured but none was injected: the scenario tested nothing. */
  vacuous: boolean;
  ok: boolean;
  ms: number;
}

interface Side {
  snapshot: CrmSnapshot;
  passes: PassReport[];
  faults: { crm: FaultStats; leadpipe: FaultStats };
  newDuplicates: string[];
  failures: Array<{ code: string; message: string }>;
  failedOnTheWay: Array<{ code: string; message: string }>;
}

/** Codes of rows ingest quarantined (docs/errors.md, second table): accounted for as `quarantined`. */
const QUARANTINE_CODES = new Set(['COLUMN_COUNT', 'UNBALANCED_QUOTE', 'CSV_SYNTAX', 'CELL_TOO_LARGE', 'ROW_TOO_LARGE', 'INVALID_SCORE', 'INVALID_HASH', 'NO_IDENTITY']);

const NO_FAULTS: FaultStats = { requests: 0, injected: { rateLimited: 0, serverError: 0, timeout: 0, reset: 0, tokenExpiry: 0, partial: 0 } };
const AUDIENCE = 'aud_chaos';
const REDIRECT_URI = 'http://127.0.0.1/oauth/hubspot/callback';

function passOf(summary: SyncSummary, ms: number): PassReport {
  return {
    status: summary.status,
    rows: summary.rows,
    created: summary.created,
    updated: summary.updated,
    unchanged: summary.unchanged,
    skipped: summary.skipped,
    failed: summary.failed,
    quarantined: summary.quarantined,
    duplicates: summary.duplicates,
    apiCalls: summary.apiCalls.total,
    rateLimited: summary.rateLimited,
    ms,
    ...(summary.message !== undefined && { message: summary.message }),
  };
}

function faultConfig(seed: string, rates: FaultRates | undefined, timeoutMs: number): FaultConfig | null {
  if (!rates || Object.values(rates).every((r) => !r)) return null;
  return { seed, rates, timeoutMs };
}

/** Config for a side: the sandboxes' URLs and app credentials, and clients that give up after `timeoutMs`. */
function sideConfig(env: Record<string, string>, timeoutMs: number): Config {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env });
  config.leadpipe.timeoutMs = timeoutMs;
  config.hubspot.timeoutMs = timeoutMs;
  config.salesforce.timeoutMs = timeoutMs;
  // Shorter waits than production so a scenario takes minutes: the policy (which errors, how many
  // attempts, Retry-After honoured) is production's.
  for (const retry of [config.leadpipe.retry, config.hubspot.retry, config.salesforce.retry]) {
    retry.baseDelayMs = 100;
    retry.maxDelayMs = 2000;
  }
  // Scaled limits (the sandbox's are scaled the same way): 1,000 requests per 10 s.
  config.hubspot.requestsPer10s.oauthApp = 1000;
  config.hubspot.windowMarginMs = 20;
  config.salesforce.bulkPollIntervalMs = 100;
  return config;
}

interface LeadpipeRun {
  lp: LeadpipeSandbox;
  runId: string;
  rows: GeneratedRow[];
}

const baselines = new Map<string, Promise<Side>>();

/** One Leadpipe sandbox per (people, seed), shared by both sides and both CRMs, so they sync the same run. */
const leadpipeRuns = new Map<string, Promise<LeadpipeRun>>();

function leadpipeRun(people: number, seed: number): Promise<LeadpipeRun> {
  const key = `${people}:${seed}`;
  const existing = leadpipeRuns.get(key);
  if (existing) return existing;
  const run = (async (): Promise<LeadpipeRun> => {
    const lp = await startLeadpipeSandbox({ seed: `chaos-${seed}`, audiences: [{ id: AUDIENCE, dailyRuns: 1, peoplePerRun: people }], duplicateShare: 0.02, malformedShare: 0.005 });
    const runId = lp.state.runs[0]?.id;
    if (runId === undefined) throw new Error('the Leadpipe sandbox made no run');
    return { lp, runId, rows: [...lp.runRows(runId)] };
  })();
  leadpipeRuns.set(key, run);
  return run;
}

/** Closes the Leadpipe sandboxes the scenarios shared. */
export async function closeChaos(): Promise<void> {
  const runs = [...leadpipeRuns.values()];
  leadpipeRuns.clear();
  baselines.clear();
  for (const run of runs) await (await run).lp.close();
}

async function runSide(scenario: ChaosScenario, faulted: boolean): Promise<Side> {
  const timeoutMs = scenario.clientTimeoutMs ?? 1500;
  const faultTimeoutMs = Math.round(timeoutMs * 1.5);
  const dir = mkdtempSync(path.join(tmpdir(), 'orbit-sync-chaos-'));
  const { lp, runId, rows } = await leadpipeRun(scenario.people, scenario.seed);
  const key = randomBytes(32);
  const store = await openStore(path.join(dir, 'orbit-sync.db'));
  resetRollingLimiters();
  const closers: Array<() => Promise<void>> = [() => store.close()];
  try {
    const ctxFor = (config: Config): AppContext => ({ config, db: store.db, key, logger: silentLogger, now: () => new Date(), notify: () => undefined });
    const connections = createConnections(store.db);
    let ctx: AppContext;
    let connectionId: string;
    let snapshot: () => CrmSnapshot;
    let duplicates: () => string[];
    let setFaults: (config: FaultConfig | null) => void;
    let crmFaults: () => FaultStats;
    if (scenario.crm === 'hubspot') {
      const clientId = 'chaos-client';
      const clientSecret = 'chaos-secret-0123456789';
      const sb = await startHubspotSandbox({ rateLimit: { max: 1000, intervalMs: 10_000 }, searchPerSecond: 50, oauth: { clientId, clientSecret } });
      closers.unshift(() => sb.close());
      seedPortalFromPeople(sb, rows, { seed: scenario.seed });
      const config = sideConfig({ HUBSPOT_BASE_URL: sb.url, HUBSPOT_CLIENT_ID: clientId, HUBSPOT_CLIENT_SECRET: clientSecret, LEADPIPE_BASE_URL: lp.url }, timeoutMs);
      config.hubspot.searchPerSecond = 50;
      ctx = ctxFor(config);
      const tokens = await exchangeHubspotCode(config, sb.issueAuthorizationCode({ redirectUri: REDIRECT_URI }), REDIRECT_URI, ctx.now);
      connectionId = (await connections.create({ crm: 'hubspot', accountId: tokens.hubId })).id;
      await hubspotTokenKeeper(ctx, connectionId).store({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt });
      snapshot = () => hubspotSnapshot(sb);
      duplicates = () => hubspotDuplicates(sb);
      setFaults = (c) => sb.setFaults(c);
      crmFaults = () => sb.faultStats();
    } else {
      const sb = await startSalesforceSandbox();
      closers.unshift(() => sb.close());
      seedOrgFromPeople(sb, rows, { seed: scenario.seed });
      const config = sideConfig({ SALESFORCE_LOGIN_URL: sb.url, SALESFORCE_CLIENT_ID: sb.clientId, SALESFORCE_CLIENT_SECRET: sb.clientSecret, LEADPIPE_BASE_URL: lp.url }, timeoutMs);
      ctx = ctxFor(config);
      connectionId = (await connections.create({ crm: 'salesforce', accountId: sb.orgId })).id;
      await createCredentials(store.db, key).put(connectionId, { instanceUrl: sb.url, accessToken: sb.accessToken, refreshToken: sb.refreshToken });
      snapshot = () => salesforceSnapshot(sb);
      duplicates = () => salesforceDuplicates(sb);
      setFaults = (c) => sb.setFaults(c);
      crmFaults = () => sb.faultStats();
    }
    await createConnectionSettings(store.db, key).setLeadpipeKey(connectionId, lp.apiKey);
    // Setup (properties / custom fields) as the install does it, before any fault.
    const target = await openConnectionTarget(ctx, connectionId);
    if (target.hubspot) await setupHubspot(target.hubspot.client, target.hubspot.api, target.mapping);
    if (target.salesforce) await setupSalesforce(target.salesforce.api);

    const before = new Set(duplicates());
    if (faulted) {
      setFaults(faultConfig(`${scenario.seed}:crm`, scenario.crmFaults, faultTimeoutMs));
      lp.setFaults(faultConfig(`${scenario.seed}:leadpipe`, scenario.leadpipeFaults, faultTimeoutMs));
    }
    const passes: PassReport[] = [];
    const passErrors: Array<Array<{ code: string; message: string }>> = [];
    // Every person a pass did not write, with the reason it gave (rows quarantined by ingest are counted apart).
    const errorsOf = async (syncRunId: string | null): Promise<Array<{ code: string; message: string }>> =>
      syncRunId === null
        ? []
        : (await store.db.selectFrom('record_errors').select(['code', 'crm_message']).where('sync_run_id', '=', syncRunId).execute())
            .filter((e) => !QUARANTINE_CODES.has(e.code))
            .map((e) => ({ code: e.code, message: e.crm_message ?? '' }));
    const maxPasses = faulted ? (scenario.maxPasses ?? 3) : 1;
    for (let pass = 1; pass <= maxPasses; pass += 1) {
      const started = Date.now();
      try {
        const summary = await runSyncJob(ctx, connectionId, { audienceId: AUDIENCE, runId, trigger: 'chaos' });
        passes.push(passOf(summary, Date.now() - started));
        passErrors.push(await errorsOf(summary.syncRunId));
        if (summary.status === 'succeeded' && summary.failed === 0) break;
      } catch (err) {
        // A job that failed outright (e.g. the export kept failing): the worker would queue it again.
        const message = err instanceof Error ? `${err instanceof SyncError ? `${err.code}: ` : ''}${err.message}` : String(err);
        passErrors.push([]);
        passes.push({ status: 'error', rows: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, quarantined: 0, duplicates: 0, apiCalls: 0, rateLimited: 0, ms: Date.now() - started, message });
      }
    }
    const faults = { crm: faulted ? crmFaults() : NO_FAULTS, leadpipe: faulted ? lp.faultStats() : NO_FAULTS };
    setFaults(null);
    lp.setFaults(null);
    return {
      snapshot: snapshot(),
      passes,
      faults,
      newDuplicates: duplicates().filter((d) => !before.has(d)),
      failures: passErrors.at(-1) ?? [],
      failedOnTheWay: passErrors.slice(0, -1).flat(),
    };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}


/** Runs the scenario; the fault-free side of a (crm, people, seed) is synced once and reused. */
export async function runChaosScenario(scenario: ChaosScenario): Promise<ChaosReport> {
  const started = Date.now();
  const baseKey = `${scenario.crm}:${scenario.people}:${scenario.seed}`;
  let baseline = baselines.get(baseKey);
  if (!baseline) baselines.set(baseKey, (baseline = runSide({ ...scenario, crmFaults: {}, leadpipeFaults: {} }, false)));
  const clean = await baseline;
  const faulted = await runSide(scenario, true);
  const last = faulted.passes.at(-1);
  const cleanPass = clean.passes[0];
  if (!cleanPass || cleanPass.status !== 'succeeded' || cleanPass.failed !== 0) {
    throw new Error(`the fault-free sync of ${baseKey} did not succeed cleanly: ${JSON.stringify(cleanPass)}`);
  }
  const differences = snapshotDifferences(clean.snapshot, faulted.snapshot);
  const reconciles =
    last !== undefined && last.status !== 'error' && last.rows === last.created + last.updated + last.unchanged + last.skipped + last.failed + last.quarantined + last.duplicates;
  const unexplained = [...faulted.failures, ...faulted.failedOnTheWay].filter((f) => f.message.trim() === '').length;
  const failedOnTheWay: Record<string, number> = {};
  for (const f of faulted.failedOnTheWay) failedOnTheWay[f.code] = (failedOnTheWay[f.code] ?? 0) + 1;
  const report: ChaosReport = {
    scenario: scenario.name,
    crm: scenario.crm,
    people: scenario.people,
    passes: faulted.passes,
    baseline: cleanPass,
    faults: faulted.faults,
    sameState: differences.length === 0,
    differences,
    newDuplicates: faulted.newDuplicates,
    reconciles,
    failures: faulted.failures,
    failedOnTheWay,
    unexplained,
    vacuous: false,
    ok: false,
    ms: Date.now() - started,
  };
  const injected = (s: FaultStats): number => Object.values(s.injected).reduce((a, b) => a + b, 0);
  // A scenario with faults configured that met none proved nothing (few requests, an unlucky seed).
  report.vacuous = Object.keys({ ...scenario.crmFaults, ...scenario.leadpipeFaults }).length > 0 && injected(faulted.faults.crm) + injected(faulted.faults.leadpipe) === 0;
  report.ok =
    !report.vacuous && report.sameState && report.newDuplicates.length === 0 && report.reconciles && unexplained === 0 && last?.status === 'succeeded' && last.failed === 0;
  return report;
}

/** A few lines for a person: the passes, the faults injected, the verdicts. */
export function formatReport(r: ChaosReport): string {
  const faults = (s: FaultStats): string => {
    const requests = Object.entries(s.injected).filter(([k, n]) => n > 0 && k !== 'partial');
    const text = `${requests.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'} of ${s.requests} requests`;
    return s.injected.partial > 0 ? `${text}, and ${s.injected.partial} records failed alone` : text;
  };
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'} ${r.scenario} (${r.crm}, ${r.people.toLocaleString('en-US')} people, ${(r.ms / 1000).toFixed(1)} s)`,
    `  faults injected: ${r.crm} ${faults(r.faults.crm)}; leadpipe ${faults(r.faults.leadpipe)}`,
    `  fault-free: created ${r.baseline.created}, updated ${r.baseline.updated}, unchanged ${r.baseline.unchanged}, skipped ${r.baseline.skipped}, ${r.baseline.apiCalls} API calls`,
    ...r.passes.map(
      (p, i) =>
        `  pass ${i + 1}: ${p.status} · rows ${p.rows} = created ${p.created} + updated ${p.updated} + unchanged ${p.unchanged} + skipped ${p.skipped} + failed ${p.failed} + quarantined ${p.quarantined} + duplicate rows ${p.duplicates} · ${p.apiCalls} API calls, ${p.rateLimited} throttled · ${(p.ms / 1000).toFixed(1)} s${p.message ? ` · ${p.message}` : ''}`,
    ),
    ...(Object.keys(r.failedOnTheWay).length > 0
      ? [`  left failed by earlier passes, each with its reason, then written: ${Object.entries(r.failedOnTheWay).map(([code, n]) => `${code} ${n}`).join(', ')}`]
      : []),
    `  same final state as the fault-free sync: ${r.sameState ? 'yes' : 'NO'} · duplicates made: ${r.newDuplicates.length} · rows reconcile: ${r.reconciles ? 'yes' : 'NO'} · failures left: ${r.failures.length} (${r.unexplained} without a reason)`,
    ...(r.vacuous ? ['  no fault was injected: the scenario proved nothing (try another --seed)'] : []),
    ...r.differences.slice(0, 12).map((d) => `  ${d}`),
    ...r.newDuplicates.slice(0, 5).map((d) => `  duplicate: ${d}`),
    ...r.failures.slice(0, 5).map((f) => `  failed: ${f.code}: ${f.message}`),
  ];
  return lines.join('\n');
}
