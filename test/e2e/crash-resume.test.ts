/**
 * A sync process killed with SIGKILL mid-run and started again ends with the portal identical to an
 * uninterrupted sync of the same run, with zero duplicate contacts or companies, and counts that add up.
 *
 * The sync runs as a real child process (`node --import tsx src/cli.ts sync --file … --to hubspot --json`); the
 * sandbox portal lives in this process, which watches its request counts and kills the child once it
 * has sent a given number of contact upserts.
 */
import path from 'node:path';
import { writeExportFile } from '../../src/sandbox/export-csv';
import { generatePeople } from '../../src/sandbox/generate-people';
import { seedPortalFromPeople } from '../../src/sandbox/hubspot/seed-portal';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/server';
import type { SyncSummary } from '../../src/sync/run-sync';
import { tmpDir } from './helpers/hubspot-sync';
import { killAfter, runCli } from './helpers/cli';

const PEOPLE = 1600;
const SEED = 77;
const VOLATILE = new Set(['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_lastmodifieddate']);

/** The portal by natural keys (emails, domains, deal names), without ids and timestamps. */
function snapshot(sb: HubspotSandbox): unknown {
  const clean = (props: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(props).filter(([k]) => !VOLATILE.has(k)).sort());
  const contactKey = new Map(sb.listContacts().map((c) => [c.id, c.properties.email ?? `id:${c.id}`]));
  const companyKey = new Map(sb.listCompanies().map((c) => [c.id, c.properties.domain ?? `id:${c.id}`]));
  return {
    contacts: sb
      .listContacts()
      .map((c): Record<string, unknown> => ({ ...clean(c.properties), companies: sb.associatedIds('contacts', c.id, 'companies').map((id) => companyKey.get(id)).sort() }))
      .sort((a, b) => String(a.email).localeCompare(String(b.email))),
    companies: sb
      .listCompanies()
      .map((c) => clean(c.properties))
      .sort((a, b) => String(a.domain).localeCompare(String(b.domain)) || String(a.name).localeCompare(String(b.name))),
    deals: sb
      .listDeals()
      .map((d): Record<string, unknown> => ({ ...clean(d.properties), contacts: sb.associatedIds('deals', d.id, 'contacts').map((id) => contactKey.get(id)).sort() }))
      .sort((a, b) => String(a.dealname).localeCompare(String(b.dealname)) || JSON.stringify(a).localeCompare(JSON.stringify(b))),
  };
}

async function seededSandbox(): Promise<HubspotSandbox> {
  const sb = await startHubspotSandbox({ rateLimit: { max: 5000 } });
  seedPortalFromPeople(sb, generatePeople({ seed: SEED, count: PEOPLE, duplicateShare: 0.02, malformedShare: 0.01 }), { seed: SEED });
  return sb;
}

function envFor(sb: HubspotSandbox, dir: string): Record<string, string> {
  return { HUBSPOT_ACCESS_TOKEN: sb.accessToken, HUBSPOT_BASE_URL: sb.url, DATABASE_URL: path.join(dir, 'orbit-sync.db') };
}

describe('a sync killed with SIGKILL and started again', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'run.csv');
  let expected: unknown;
  let uninterrupted: SyncSummary;

  beforeAll(async () => {
    await writeExportFile(file, { seed: SEED, count: PEOPLE, duplicateShare: 0.02, malformedShare: 0.01 });
    const sb = await seededSandbox();
    try {
      const cleanDir = tmpDir();
      const setup = await runCli(['setup', 'hubspot'], envFor(sb, cleanDir)).done;
      expect(setup.code).toBe(0);
      const result = await runCli(['sync', '--file', file, '--to', 'hubspot', '--json'], envFor(sb, cleanDir)).done;
      expect(result.code).toBe(0);
      uninterrupted = JSON.parse(result.stdout) as SyncSummary;
      expected = snapshot(sb);
    } finally {
      await sb.close();
    }
  }, 60_000);

  it.each([2, 9])('killed after %i contact upserts, it resumes and the portal ends identical, without duplicates', async (upserts) => {
    const sb = await seededSandbox();
    const runDir = tmpDir();
    try {
      expect((await runCli(['setup', 'hubspot'], envFor(sb, runDir)).done).code).toBe(0);
      const first = runCli(['sync', '--file', file, '--to', 'hubspot', '--json'], envFor(sb, runDir));
      const killed = await killAfter(first, () => sb.requestCount('batchUpsertContacts') >= upserts);
      expect(killed.signal).toBe('SIGKILL');
      expect(sb.requestCount('batchUpsertContacts')).toBeLessThan(uninterrupted.apiCalls.byEndpoint['POST /crm/v3/objects/contacts/batch/upsert'] ?? Infinity);

      const second = await runCli(['sync', '--file', file, '--to', 'hubspot', '--json'], envFor(sb, runDir)).done;
      if (second.code !== 0) console.log(second.stdout.slice(0, 2000), second.stderr.slice(0, 2000));
      expect(second.code).toBe(0);
      const summary = JSON.parse(second.stdout) as SyncSummary;
      expect(summary.resumed).toBe(true);
      expect(summary.status).toBe('succeeded');
      expect(summary.rows).toBe(PEOPLE);
      expect(summary.rows).toBe(summary.quarantined + summary.duplicates + summary.unchanged + summary.created + summary.updated + summary.skipped + summary.failed);

      expect(snapshot(sb)).toEqual(expected);
      const emails = sb.listContacts().map((c) => c.properties.email);
      expect(new Set(emails).size).toBe(emails.length);
      const keys = sb.listCompanies().map((c) => c.properties.leadpipe_company_key).filter((k) => k !== undefined);
      expect(new Set(keys).size).toBe(keys.length);
      const domains = sb.listCompanies().map((c) => c.properties.domain);
      expect(new Set(domains).size).toBe(domains.length);
    } finally {
      await sb.close();
    }
  }, 60_000);
});
