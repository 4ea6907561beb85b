/** Shared set-up for syncs into the HubSpot sandbox: config, store, destination, CSV writing. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../../src/config';
import { openHubspotTarget } from '../../../src/commands/sync';
import { setupHubspot } from '../../../src/destinations/hubspot/setup';
import { csvCell } from '../../../src/lib/csv-cell';
import { resetRollingLimiters } from '../../../src/lib/rolling-limiter';
import { loadMapping } from '../../../src/mapping/load-mapping';
import { EXPORT_CSV_COLUMNS } from '../../../src/sandbox/export-csv';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { openStore, type Store } from '../../../src/store/db';
import { runSync, type SyncSummary } from '../../../src/sync/run-sync';

export function tmpDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'orbit-sync-e2e-'));
}

export function testConfig(sb: HubspotSandbox, overrides: { requestsPer10s?: number; env?: Record<string, string> } = {}): Config {
  const config = loadConfig({ HUBSPOT_ACCESS_TOKEN: sb.accessToken, HUBSPOT_BASE_URL: sb.url, LOG_LEVEL: 'silent', ...overrides.env });
  if (overrides.requestsPer10s !== undefined) config.hubspot.requestsPer10s.privateApp = overrides.requestsPer10s;
  config.hubspot.windowMarginMs = 20;
  return config;
}

export interface Row {
  email: string;
  personalEmail?: string;
  firstName?: string;
  lastName?: string;
  jobTitle?: string;
  phone?: string;
  company?: string;
  domain?: string;
  score: number;
  topics?: string[];
}

/** A Leadpipe-shaped export with these people (names lower-case, as Leadpipe sends them). */
export function writeCsv(dir: string, name: string, rows: readonly Row[]): string {
  const values = (r: Row): Record<string, string> => ({
    primaryContactEmail: r.email,
    businessEmail: r.domain && r.email.endsWith(`@${r.domain}`) ? r.email : '',
    personalEmail: r.personalEmail ?? '',
    email: r.personalEmail ?? r.email,
    firstName: r.firstName ?? '',
    lastName: r.lastName ?? '',
    jobTitle: r.jobTitle ?? '',
    phone: r.phone ?? '',
    'company.name': r.company ?? '',
    'company.domain': r.domain ?? '',
    'intent.score': String(r.score),
    'intent.matchedTopics': JSON.stringify((r.topics ?? ['Marketing ROI']).map((topicName) => ({ topicName }))),
  });
  const lines = [EXPORT_CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const v = values(r);
    lines.push(EXPORT_CSV_COLUMNS.map((c) => csvCell(v[c] ?? '')).join(','));
  }
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export interface Harness {
  store: Store;
  config: Config;
  setup(): Promise<void>;
  sync(file: string, options?: { dryRun?: boolean }): Promise<SyncSummary>;
  close(): Promise<void>;
}

export async function harness(sb: HubspotSandbox, config: Config = testConfig(sb), databaseUrl = ':memory:'): Promise<Harness> {
  resetRollingLimiters();
  const store = await openStore(databaseUrl);
  const mapping = loadMapping('hubspot', config.configDir);
  return {
    store,
    config,
    async setup() {
      const target = await openHubspotTarget(config, store);
      await setupHubspot(target.hubspot.client, target.hubspot.api, mapping);
    },
    async sync(file, options = {}) {
      const target = await openHubspotTarget(config, store);
      return runSync({
        db: store.db,
        config,
        mapping,
        destination: target.destination,
        connectionId: target.connectionId,
        source: { kind: 'file', path: file },
        dryRun: options.dryRun === true,
      });
    },
    close: () => store.close(),
  };
}
