/**
 * `orbit-sync sync`, `orbit-sync setup hubspot` and `orbit-sync runs`.
 *
 * sync: `--audience <id> [--run <id>]` (newest completed run when --run is omitted) or `--file <csv>`,
 * `--to hubspot`, `--dry-run`, `--json`. On a TTY a progress line on stderr shows rows read, records
 * written, rate and ETA; the end prints the summary (DESIGN.md "Sync summary JSON"). Exit code 0 when
 * the sync succeeded, 1 when it is partial or failed (the summary says why).
 */
import { createLeadpipeClient, type LeadpipeClient } from '../leadpipe/client';
import type { Config } from '../config';
import { connectHubspot, type HubspotConnection } from '../destinations/hubspot/connect';
import { HubspotDestination } from '../destinations/hubspot/hubspot-destination';
import { setupHubspot, type SetupReport } from '../destinations/hubspot/setup';
import type { CrmDestination } from '../destinations/destination';
import { connectSalesforce } from '../destinations/salesforce/connect';
import { SalesforceDestination } from '../destinations/salesforce/salesforce-destination';
import { setupSalesforce, type SalesforceSetupReport } from '../destinations/salesforce/setup';
import type { Mapping } from '../mapping/mapping-schema';
import { FixConfigurationError, SyncError } from '../lib/errors';
import { isLoopbackHost } from '../lib/is-loopback';
import type { Logger } from '../lib/logger';
import { loadMapping } from '../mapping/load-mapping';
import { createCompanyCache } from '../store/company-cache';
import { createConnections } from '../store/connections';
import { createCredentials } from '../store/credentials';
import { openStore, type Store } from '../store/db';
import { createRecordErrors } from '../store/record-errors';
import { createSyncRuns } from '../store/sync-runs';
import { runSync, type SyncProgress, type SyncSource, type SyncSummary } from '../sync/run-sync';
import type { Io } from './inspect';
import { formatSummary } from './format-summary';

export interface SyncCommandOptions {
  audience?: string | undefined;
  run?: string | undefined;
  file?: string | undefined;
  to: string;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
}

export interface HubspotTarget {
  hubspot: HubspotConnection;
  connectionId: string;
  destination: HubspotDestination;
}

/** Connects to the portal, records the connection (one per portal) and builds the destination. */
export async function openHubspotTarget(config: Config, store: Store, logger?: Logger): Promise<HubspotTarget> {
  const mapping = loadMapping('hubspot', config.configDir);
  const hubspot = await connectHubspot(config);
  const connection = await createConnections(store.db).create({ crm: 'hubspot', accountId: hubspot.portalId });
  const destination = new HubspotDestination({
    client: hubspot.client,
    api: hubspot.api,
    accountId: hubspot.portalId,
    connectionId: connection.id,
    mapping,
    settings: config.hubspot,
    companyCache: createCompanyCache(store.db),
    maxTopics: config.sync.maxTopics,
    ...(logger && { logger }),
  });
  return { hubspot, connectionId: connection.id, destination };
}

export interface Target {
  connectionId: string;
  destination: CrmDestination;
  mapping: Mapping;
}

export type Crm = 'hubspot' | 'salesforce';

/** Connects to the org, records the connection (one per org) and builds the destination. */
/**
 * Tokens refreshed during a sync are kept, sealed with ENCRYPTION_KEY, for the org's connection, and used
 * before the environment's on the next run: once Salesforce rotates a refresh token, the one in the
 * environment no longer works. Without ENCRYPTION_KEY nothing is stored (a notice is logged).
 */
async function storedSalesforceTokens(config: Config, store: Store): Promise<{ connectionId: string; tokens: Record<string, string> } | undefined> {
  const key = config.encryptionKey;
  const instanceUrl = config.salesforce.instanceUrl;
  if (key === undefined || instanceUrl === undefined) return undefined;
  const credentials = createCredentials(store.db, key);
  for (const connection of await createConnections(store.db).list({ crm: 'salesforce' })) {
    const tokens = await credentials.get(connection.id);
    if (tokens?.instanceUrl === instanceUrl) return { connectionId: connection.id, tokens };
  }
  return undefined;
}

export async function openSalesforceTarget(config: Config, store: Store, logger?: Logger): Promise<Target> {
  const mapping = loadMapping('salesforce', config.configDir);
  const stored = await storedSalesforceTokens(config, store);
  const effective: Config = stored
    ? {
        ...config,
        salesforce: {
          ...config.salesforce,
          ...(stored.tokens.accessToken !== undefined && { accessToken: stored.tokens.accessToken }),
          ...(stored.tokens.refreshToken !== undefined && { refreshToken: stored.tokens.refreshToken }),
        },
      }
    : config;
  let connectionId: string | undefined = stored?.connectionId;
  let latest: Record<string, string> = { ...stored?.tokens };
  const key = config.encryptionKey;
  const sf = await connectSalesforce(effective, {
    onTokens: (t) => {
      latest = { ...latest, accessToken: t.accessToken, instanceUrl: config.salesforce.instanceUrl ?? t.instanceUrl, ...(t.refreshToken !== undefined && { refreshToken: t.refreshToken }) };
      if (key === undefined) {
        logger?.warn('Salesforce tokens were refreshed but not stored: set ENCRYPTION_KEY to keep them (a rotated refresh token is otherwise lost)', {});
        return;
      }
      if (connectionId === undefined) return; // stored once the org is known, below
      createCredentials(store.db, key)
        .put(connectionId, latest)
        .catch((err: unknown) => logger?.error('could not store the refreshed Salesforce tokens', { error: err instanceof Error ? err.message : String(err) }));
    },
  });
  const connections = createConnections(store.db);
  const connection = await connections.create({ crm: 'salesforce', accountId: sf.orgId });
  connectionId = connection.id;
  // The org answered with these tokens: the connection works (again).
  if (connection.status === 'needs_reauth') await connections.setStatus(connection.id, 'active');
  if (key !== undefined && latest.accessToken !== undefined) await createCredentials(store.db, key).put(connection.id, latest);
  const destination = new SalesforceDestination({ api: sf.api, orgId: sf.orgId, mapping, settings: config.salesforce, maxTopics: config.sync.maxTopics, ...(logger && { logger }) });
  return { connectionId: connection.id, destination, mapping };
}

export async function openTarget(crm: Crm, config: Config, store: Store, logger?: Logger): Promise<Target> {
  if (crm === 'salesforce') return openSalesforceTarget(config, store, logger);
  const target = await openHubspotTarget(config, store, logger);
  return { connectionId: target.connectionId, destination: target.destination, mapping: loadMapping('hubspot', config.configDir) };
}

export function leadpipeClientFor(config: Config, logger?: Logger): LeadpipeClient {
  if (!config.leadpipe.apiKey) throw new FixConfigurationError(['LEADPIPE_API_KEY: required to read a run from Leadpipe (Settings > API Keys)']);
  return createLeadpipeClient({
    ...config.leadpipe,
    apiKey: config.leadpipe.apiKey,
    allowLoopbackDownloads: isLoopbackHost(new URL(config.leadpipe.baseUrl).hostname),
    ...(logger && { logger }),
  });
}

/** The audience run to sync: `runId`, else the newest completed run. */
export async function audienceSource(client: LeadpipeClient, audienceId: string, runId?: string): Promise<SyncSource> {
  const runs = await client.listRuns(audienceId, { limit: 100 });
  const completed = runs
    .filter((r) => r.status === 'completed')
    .sort((a, b) => String(b.completedAt ?? b.createdAt ?? '').localeCompare(String(a.completedAt ?? a.createdAt ?? '')));
  const run = runId === undefined ? completed[0] : runs.find((r) => r.id === runId);
  if (!run) {
    throw new SyncError(
      'NOT_FOUND',
      runId === undefined ? `Audience ${audienceId} has no completed run yet; pass --run <id> or wait for its daily run.` : `Audience ${audienceId} has no run ${runId}.`,
    );
  }
  if (run.status !== 'completed') throw new SyncError('RUN_NOT_READY', `Run ${run.id} of audience ${audienceId} is ${run.status}; sync it once it has completed.`);
  const audience = await client.getAudience(audienceId);
  const intentAt = new Date(Date.parse(run.completedAt ?? run.dataDate ?? run.createdAt ?? '') || Date.now()).toISOString();
  return {
    kind: 'stream',
    audienceId,
    runId: run.id,
    intentAt,
    ...(audience.name !== undefined && audience.name !== null && { audienceName: audience.name }),
    open: () => client.exportCsv(audienceId, run.id),
  };
}

/** A progress line on a TTY: rows read, records written, rate and ETA. */
export function progressPrinter(io: Io): ((p: SyncProgress) => void) & { clear(): void } {
  const started = Date.now();
  let lastDraw = 0;
  let drawn = false;
  const draw = (p: SyncProgress): void => {
    const now = Date.now();
    if (p.phase !== 'done' && now - lastDraw < 200) return;
    lastDraw = now;
    const secs = Math.max(0.001, (now - started) / 1000);
    const rate = p.peopleDone / secs;
    const total = p.peopleTotal;
    const fraction = total ? Math.min(1, p.peopleDone / total) : 0;
    const width = 24;
    const bar = total ? `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ${(fraction * 100).toFixed(0).padStart(3)}% ` : '';
    const eta = total && rate > 0 ? ` · ETA ${formatDuration(((total - p.peopleDone) / rate) * 1000)}` : '';
    const line =
      `${bar}${p.phase} · rows ${p.rowsRead.toLocaleString('en-US')} · people ${p.peopleDone.toLocaleString('en-US')}` +
      ` · written ${p.written.toLocaleString('en-US')} · ${rate.toFixed(1)}/s · API calls ${p.apiCalls}${eta}`;
    io.stderr.write(`\r\x1b[K${line}`);
    drawn = true;
  };
  return Object.assign(draw, {
    clear: () => {
      if (drawn) io.stderr.write('\r\x1b[K');
    },
  });
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function checkDestination(to: string): Crm {
  if (to !== 'hubspot' && to !== 'salesforce') throw new SyncError('BAD_REQUEST', `The destination must be hubspot or salesforce, got "${to}".`);
  return to;
}

export async function runSyncCommand(options: SyncCommandOptions, config: Config, io: Io): Promise<{ code: number; summary: SyncSummary }> {
  const crm = checkDestination(options.to);
  if ((options.audience === undefined) === (options.file === undefined)) {
    throw new SyncError('BAD_REQUEST', 'Name what to sync: --audience <id> [--run <id>], or --file <export.csv> (not both).');
  }
  if (options.run !== undefined && options.audience === undefined) throw new SyncError('BAD_REQUEST', '--run needs --audience.');
  const store = await openStore(config.databaseUrl);
  const progress = io.stderr.isTTY === true && !options.json ? progressPrinter(io) : undefined;
  try {
    const source: SyncSource =
      options.file !== undefined
        ? { kind: 'file', path: options.file }
        : await audienceSource(leadpipeClientFor(config, io.logger), options.audience as string, options.run);
    const target = await openTarget(crm, config, store, io.logger);
    const summary = await runSync({
      db: store.db,
      config,
      mapping: target.mapping,
      destination: target.destination,
      connectionId: target.connectionId,
      source,
      dryRun: options.dryRun === true,
      ...(io.logger && { logger: io.logger }),
      ...(progress && { onProgress: progress }),
    });
    progress?.clear();
    io.stdout.write(options.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
    return { code: summary.status === 'succeeded' || summary.status === 'dry-run' ? 0 : 1, summary };
  } finally {
    progress?.clear();
    await store.close();
  }
}

export async function runSetupCommand(crmName: string, config: Config, io: Io & { json?: boolean }): Promise<SetupReport | SalesforceSetupReport> {
  const crm = checkDestination(crmName);
  if (crm === 'salesforce') {
    const sf = await connectSalesforce(config);
    const report = await setupSalesforce(sf.api);
    if (io.json) io.stdout.write(JSON.stringify({ orgId: sf.orgId, ...report }) + '\n');
    else {
      io.stdout.write(`Salesforce org ${sf.orgId}: ${report.created.length} created, ${report.existing.length} already there (custom fields and permission set ${report.permissionSet})\n`);
      for (const name of report.created) io.stdout.write(`  created  ${name}\n`);
      io.stdout.write(`Assign the permission set "${report.permissionSet}" to the user orbit-sync connects as.\n`);
    }
    return report;
  }
  const mapping = loadMapping('hubspot', config.configDir);
  const hubspot = await connectHubspot(config);
  const report = await setupHubspot(hubspot.client, hubspot.api, mapping);
  if (io.json) io.stdout.write(JSON.stringify({ portalId: hubspot.portalId, ...report }) + '\n');
  else {
    io.stdout.write(`HubSpot portal ${hubspot.portalId}: property group "leadpipe" ${report.groupsCreated.length > 0 ? `created on ${report.groupsCreated.join(', ')}` : 'already there'}\n`);
    for (const p of report.created) io.stdout.write(`  created  ${p.object}.${p.property}\n`);
    io.stdout.write(`  ${report.existing.length} propert${report.existing.length === 1 ? 'y' : 'ies'} already existed; nothing else to do.\n`);
  }
  return report;
}

export async function runRunsCommand(options: { json?: boolean | undefined; limit: number; errors?: string | undefined }, config: Config, io: Io): Promise<number> {
  const store = await openStore(config.databaseUrl);
  try {
    if (options.errors !== undefined) {
      const errors = await createRecordErrors(store.db).listBySyncRun(options.errors);
      if (options.json) io.stdout.write(JSON.stringify(errors) + '\n');
      else if (errors.length === 0) io.stdout.write(`No record errors in sync run ${options.errors}.\n`);
      else {
        for (const e of errors) {
          io.stdout.write(
            `line ${e.line ?? '-'}  ${e.code}  ${e.retryable ? `retryable (attempt ${e.attempts})` : 'not retried'}  ${e.hashedEmail ? e.hashedEmail.slice(0, 12) + '…' : ''}  ${e.crmMessage ?? ''}\n`,
          );
        }
      }
      return 0;
    }
    const runs = await createSyncRuns(store.db).listRecent({ limit: options.limit });
    if (options.json) {
      io.stdout.write(JSON.stringify(runs) + '\n');
      return 0;
    }
    if (runs.length === 0) {
      io.stdout.write('No syncs yet. Try: orbit-sync sync --file export.csv --to hubspot\n');
      return 0;
    }
    io.stdout.write('started (UTC)         status     source                                   rows  created  updated  unchanged  failed  API calls  sync run\n');
    for (const r of runs) {
      const source = r.runId?.startsWith('file:') ? `file sha256 ${r.runId.slice(5, 17)}…` : `audience ${(r.audienceId ?? '').slice(0, 8)}… run ${(r.runId ?? '').slice(0, 8)}…`;
      io.stdout.write(
        `${(r.startedAt ?? r.createdAt).slice(0, 19).replace('T', ' ')}   ${r.status.padEnd(9)}  ${source.slice(0, 38).padEnd(38)} ${String(r.rows).padStart(6)} ${String(r.created).padStart(8)} ${String(r.updated).padStart(8)} ${String(r.unchanged).padStart(10)} ${String(r.failed).padStart(7)} ${String(r.apiCalls.total).padStart(10)}  ${r.id}\n`,
      );
      if (r.errorMessage) io.stdout.write(`    ${r.errorMessage}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
