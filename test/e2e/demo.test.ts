/**
 * The demo a new user runs first: Leadpipe, HubSpot and Salesforce sandboxes, a seeded portal and org,
 * setup, a sync of a generated run through the real clients, the "what changed" reports, and second syncs
 * with no writes.
 */
import { PassThrough } from 'node:stream';
import { runDemoCommand, type DemoReport } from '../../src/commands/demo';
import { loadConfig } from '../../src/config';

it('syncs a generated run into the sandbox portal and org, keeps what reps typed, and a re-sync writes nothing', async () => {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await runDemoCommand({ people: 1500, seed: 11, json: true }, loadConfig({ LOG_LEVEL: 'silent' }), { stdout, stderr: new PassThrough() });
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
}, 120_000);
