/**
 * A 20,000-person run into the sandbox portal at HubSpot's default rate limit (110 requests per 10 s;
 * orbit-sync paces itself at the private-app 100): every 429 is recovered, every row is accounted for, and
 * the sync stays within 4 API calls per 100 people written (contacts + companies + associations).
 * It takes about a minute and a half, most of it the rate limit.
 */
import path from 'node:path';
import { callsPer100 } from '../../src/commands/format-summary';
import { writeExportFile } from '../../src/sandbox/export-csv';
import { generatePeople } from '../../src/sandbox/generate-people';
import { seedPortalFromPeople } from '../../src/sandbox/hubspot/seed-portal';
import { startHubspotSandbox } from '../../src/sandbox/hubspot/server';
import { harness, testConfig, tmpDir } from './helpers/hubspot-sync';

const PEOPLE = 20_000;

it('syncs 20,000 people at the default rate limit with no unrecovered 429 and ≤ 4 calls per 100 people', async () => {
  const file = path.join(tmpDir(), 'run.csv');
  await writeExportFile(file, { seed: 2026, count: PEOPLE, duplicateShare: 0.02, malformedShare: 0.002 });
  const sb = await startHubspotSandbox();
  seedPortalFromPeople(sb, generatePeople({ seed: 2026, count: PEOPLE, duplicateShare: 0.02, malformedShare: 0.002 }), { seed: 2026 });
  const config = testConfig(sb);
  config.hubspot.windowMarginMs = 250;
  const h = await harness(sb, config);
  try {
    await h.setup();
    const summary = await h.sync(file);
    expect(summary.status).toBe('succeeded');
    expect(summary.failed).toBe(0);
    expect(summary.rows).toBe(PEOPLE);
    expect(summary.rows).toBe(summary.quarantined + summary.duplicates + summary.unchanged + summary.created + summary.updated + summary.skipped + summary.failed);
    const throttled = Object.values(sb.state.rateLimited).reduce((a, b) => a + b, 0);
    expect(summary.rateLimited).toBe(throttled);
    expect(callsPer100(summary)).toBeLessThanOrEqual(4);
    // Every person of the run is in the portal exactly once.
    const emails = sb.listContacts().map((c) => c.properties.email);
    expect(new Set(emails).size).toBe(emails.length);
    process.stdout.write(`20k sync: ${summary.apiCalls.total} calls, ${callsPer100(summary)?.toFixed(2)} per 100 people, ${summary.rateLimited} 429s, ${(summary.durationMs / 1000).toFixed(1)} s\n`);
  } finally {
    await h.close();
    await sb.close();
  }
}, 300_000);
