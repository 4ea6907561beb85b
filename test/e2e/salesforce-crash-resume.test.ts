/**
 * A Salesforce sync process killed with SIGKILL mid-run and started again ends with the org identical
 * to an uninterrupted sync of the same run: no duplicate Leads, converted Leads untouched.
 */
import path from 'node:path';
import { writeExportFile } from '../../src/sandbox/export-csv';
import { generatePeople } from '../../src/sandbox/generate-people';
import { seedOrgFromPeople } from '../../src/sandbox/salesforce/seed-org';
import { salesforceSandboxEnv, startSalesforceSandbox } from '../../src/sandbox/salesforce/server';
import type { SalesforceObjectType, SalesforceSandbox } from '../../src/sandbox/salesforce/types';
import type { SyncSummary } from '../../src/sync/run-sync';
import { killAfter, runCli } from './helpers/cli';
import { tmpDir } from './helpers/hubspot-sync';

const PEOPLE = 1600;
const SEED = 78;
/** Ids and timestamps differ between two orgs; everything else must not. */
const VOLATILE = /^(Id|CreatedDate|LastModifiedDate|SystemModstamp|attributes)$/;

async function seededOrg(): Promise<SalesforceSandbox> {
  const sb = await startSalesforceSandbox();
  seedOrgFromPeople(sb, generatePeople({ seed: SEED, count: PEOPLE, duplicateShare: 0.02, malformedShare: 0.01 }), { seed: SEED });
  return sb;
}

function envFor(sb: SalesforceSandbox, dir: string): Record<string, string> {
  return {
    ...salesforceSandboxEnv(sb),
    DATABASE_URL: path.join(dir, 'orbit-sync.db'),
  };
}

/** The org by natural keys: each object's records without ids and timestamps, sorted. */
function snapshot(sb: SalesforceSandbox): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const type of ['Lead', 'Contact', 'Account', 'Opportunity'] as SalesforceObjectType[]) {
    out[type] = sb
      .list(type)
      .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !VOLATILE.test(k)).sort(([a], [b]) => a.localeCompare(b)))))
      .sort();
  }
  return out;
}

describe('a Salesforce sync killed with SIGKILL and started again', () => {
  const file = path.join(tmpDir(), 'run.csv');
  let expected: Record<string, string[]>;
  let upsertsUninterrupted = 0;

  beforeAll(async () => {
    await writeExportFile(file, { seed: SEED, count: PEOPLE, duplicateShare: 0.02, malformedShare: 0.01 });
    const sb = await seededOrg();
    try {
      const result = await runCli(['sync', '--file', file, '--to', 'salesforce', '--json'], envFor(sb, tmpDir())).done;
      expect(result.code).toBe(0);
      expect((JSON.parse(result.stdout) as SyncSummary).status).toBe('succeeded');
      expected = snapshot(sb);
      upsertsUninterrupted = sb.requestCount('collectionsUpsert');
    } finally {
      await sb.close();
    }
  }, 60_000);

  it.each([1, 4])('killed after %i Lead upserts, it resumes and the org ends identical, without duplicate Leads', async (upserts) => {
    const sb = await seededOrg();
    const dir = tmpDir();
    try {
      const killed = await killAfter(runCli(['sync', '--file', file, '--to', 'salesforce', '--json'], envFor(sb, dir)), () => sb.requestCount('collectionsUpsert') >= upserts);
      expect(killed.signal).toBe('SIGKILL');
      expect(sb.requestCount('collectionsUpsert')).toBeLessThan(upsertsUninterrupted);

      const second = await runCli(['sync', '--file', file, '--to', 'salesforce', '--json'], envFor(sb, dir)).done;
      expect(second.code).toBe(0);
      const summary = JSON.parse(second.stdout) as SyncSummary;
      expect(summary).toMatchObject({ resumed: true, status: 'succeeded', rows: PEOPLE });
      expect(summary.rows).toBe(summary.quarantined + summary.duplicates + summary.unchanged + summary.created + summary.updated + summary.skipped + summary.failed);

      expect(snapshot(sb)).toEqual(expected);
      const emails = sb.list('Lead').filter((l) => l.IsConverted !== true).map((l) => String(l.Email).toLowerCase());
      expect(new Set(emails).size).toBe(emails.length);
    } finally {
      await sb.close();
    }
  }, 60_000);
});
