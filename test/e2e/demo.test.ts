/**
 * The demo a new user runs first: Leadpipe, HubSpot and Salesforce sandboxes, a seeded portal and org,
 * setup, a sync of a generated run through the real clients, the "what changed" reports, and second syncs
 * with no writes.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { DEMO_KEY_FILE, runDemoCommand, type DemoReport } from '../../src/commands/demo';
import { loadConfig } from '../../src/config';
import { openStore } from '../../src/store/db';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'orbit-sync-demo-test-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

it('syncs a generated run into the sandbox portal and org, keeps what reps typed, and a re-sync writes nothing', async () => {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await runDemoCommand({ people: 1500, seed: 11, json: true, dataDir }, loadConfig({ LOG_LEVEL: 'silent' }), { stdout, stderr: new PassThrough() });
  const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DemoReport & { ok: boolean };
  expect(code).toBe(0);
  expect(report.ok).toBe(true);
  const { first, second, changed } = report;
  expect(first.status).toBe('succeeded');
  expect(first.rows).toBe(1500);
  expect(first.quarantined).toBeGreaterThan(0);
  expect(first.duplicates).toBeGreaterThan(0);
  expect(report.reconciles).toBe(true);
  expect(changed.contactsCreated).toBeGreaterThan(0);
  expect(changed.contactsEnriched).toBeGreaterThan(0);
  expect(changed.personalEmailMatches).toBeGreaterThan(0);
  expect(changed.companiesMatched).toBeGreaterThan(0);
  expect(changed.companiesCreated).toBeGreaterThan(0);
  expect(changed.dealsRaised).toBeGreaterThan(0);
  expect(report.secondSyncWriteCalls).toBe(0);
  expect(second.unchanged).toBe(first.created + first.updated + first.unchanged);
  expect(report.callsPer100People).toBeLessThanOrEqual(4);

  // The same run into the Salesforce sandbox org.
  const sf = report.salesforce;
  expect(sf.first.status).toBe('succeeded');
  expect(sf.first.rows).toBe(1500);
  expect(sf.changed.contactsEnriched).toBeGreaterThan(0);
  expect(sf.changed.leadsEnriched).toBeGreaterThan(0);
  expect(sf.changed.leadsCreated).toBe(sf.first.created);
  expect(sf.changed.convertedLeadsUntouched).toBeGreaterThan(0);
  expect(sf.changed.opportunitiesRaised).toBeGreaterThan(0);
  expect(sf.secondSyncWriteCalls).toBe(0);
  expect(sf.second.unchanged).toBe(sf.first.created + sf.first.updated + sf.first.unchanged);

  // No ENCRYPTION_KEY was set: the demo made one in its data directory, readable by the owner only,
  // and the Salesforce tokens it kept are sealed with it.
  const keyFile = statSync(path.join(dataDir, DEMO_KEY_FILE));
  expect(keyFile.mode & 0o777).toBe(0o600);
  const store = await openStore(path.join(dataDir, 'orbit-sync.db'));
  try {
    const sealed = await store.db.selectFrom('connection_credentials').select('sealed').execute();
    expect(sealed.length).toBeGreaterThan(0);
    for (const row of sealed) expect(row.sealed).toMatch(/^v1\./);
  } finally {
    await store.close();
  }
}, 120_000);
