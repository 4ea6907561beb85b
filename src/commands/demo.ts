/**
 * `orbit-sync demo`: the whole pipeline with no credentials.
 *
 * 1. Starts the Leadpipe sandbox (a generated audience run with duplicates and malformed rows, as real
 *    exports have) and the HubSpot sandbox (an in-memory portal with HubSpot's default rate limit).
 * 2. Seeds the portal as a real one looks: some of the run's people already exist as contacts (some
 *    under a personal email, some with a job title a rep typed), some companies exist by domain, and
 *    there are open and closed deals, some with a priority a person set.
 * 3. `setup`, then a sync of the newest completed run through the real Leadpipe client and the real
 *    HubSpot SDK; prints the summary and a "what changed" report read back from the portal.
 * 4. Syncs the same run again: nothing changed, so it makes no write call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../config';
import { setupHubspot } from '../destinations/hubspot/setup';
import { loadMapping } from '../mapping/load-mapping';
import { seedPortalFromPeople } from '../sandbox/hubspot/seed-portal';
import { startHubspotSandbox } from '../sandbox/hubspot/server';
import { startLeadpipeSandbox } from '../sandbox/leadpipe/server';
import { openStore } from '../store/db';
import { runSync, type SyncSummary } from '../sync/run-sync';
import { callsPer100, formatSummary } from './format-summary';
import type { Io } from './inspect';
import { audienceSource, leadpipeClientFor, openHubspotTarget, progressPrinter } from './sync';

export interface DemoOptions {
  people: number;
  seed: number;
  json?: boolean | undefined;
}

export interface DemoReport {
  first: SyncSummary;
  second: SyncSummary;
  changed: {
    contactsCreated: number;
    contactsEnriched: number;
    personalEmailMatches: number;
    humanValuesKept: number;
    companiesMatched: number;
    companiesCreated: number;
    dealsRaised: number;
    closedDealsUntouched: number;
    humanHighUntouched: number;
  };
  secondSyncWriteCalls: number;
  callsPer100People: number | undefined;
  reconciles: boolean;
}

const reconciles = (s: SyncSummary): boolean => s.rows === s.quarantined + s.duplicates + s.unchanged + s.created + s.updated + s.skipped + s.failed;

export async function runDemoCommand(options: DemoOptions, config: Config, io: Io): Promise<number> {
  const say = (line: string): void => {
    if (!options.json) io.stderr.write(line + '\n');
  };
  const leadpipe = await startLeadpipeSandbox({ seed: options.seed, peoplePerRun: options.people, duplicateShare: 0.02, malformedShare: 0.005 });
  const hubspot = await startHubspotSandbox();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'orbit-sync-demo-'));
  const store = await openStore(path.join(dataDir, 'orbit-sync.db'));
  try {
    say(`Leadpipe sandbox on ${leadpipe.url}; HubSpot sandbox portal ${hubspot.portalId} on ${hubspot.url} (HubSpot's limit: 110 requests per 10 s)`);
    const demoConfig: Config = {
      ...config,
      leadpipe: { ...config.leadpipe, apiKey: leadpipe.apiKey, baseUrl: leadpipe.url },
      hubspot: { ...config.hubspot, accessToken: hubspot.accessToken, baseUrl: hubspot.url },
    };
    const client = leadpipeClientFor(demoConfig);
    const audience = (await client.listAudiences({ status: 'active' }))[0];
    if (!audience) throw new Error('the Leadpipe sandbox has no audience');
    const source = await audienceSource(client, audience.id);
    if (source.kind !== 'stream') throw new Error('expected an audience run');

    const manifest = seedPortalFromPeople(hubspot, leadpipe.runRows(source.runId), { seed: options.seed });
    const openDeals = manifest.deals.filter((d) => !d.closed);
    say(
      `seeded the portal: ${Object.keys(manifest.contactsByEmail).length} contacts (${manifest.personalEmailContacts.length} only under a personal email), ` +
        `${Object.keys(manifest.companiesByDomain).length} companies, ${manifest.deals.length} deals (${openDeals.length} open)`,
    );

    const mapping = loadMapping('hubspot', demoConfig.configDir);
    const target = await openHubspotTarget(demoConfig, store);
    const setup = await setupHubspot(target.hubspot.client, target.hubspot.api, mapping);
    say(`setup: created ${setup.created.length} properties in group "leadpipe" on contacts, companies and deals`);

    const sync = async (label: string): Promise<SyncSummary> => {
      say(`${label}: audience "${audience.name}", run ${source.runId}…`);
      const t = await openHubspotTarget(demoConfig, store);
      const progress = io.stderr.isTTY === true && !options.json ? progressPrinter(io) : undefined;
      try {
        return await runSync({
          db: store.db,
          config: demoConfig,
          mapping,
          destination: t.destination,
          connectionId: t.connectionId,
          source,
          ...(progress && { onProgress: progress }),
        });
      } finally {
        progress?.clear();
      }
    };

    const first = await sync('sync');
    const writesAfterFirst = hubspot.writeRequestCount();
    const second = await sync('the same run again');
    const secondSyncWriteCalls = hubspot.writeRequestCount() - writesAfterFirst;

    // What changed, read back from the portal.
    const humanKept = manifest.humanContactFields.filter((f) => {
      const c = hubspot.contactById(f.contactId);
      return (f.jobtitle === undefined || c?.properties.jobtitle === f.jobtitle) && (f.phone === undefined || c?.properties.phone === f.phone);
    }).length;
    const personalMatched = manifest.personalEmailContacts.filter(
      (p) => hubspot.contactById(p.contactId)?.properties.leadpipe_intent_score !== undefined && hubspot.contactByEmail(p.primaryEmail) === undefined,
    ).length;
    const raised = openDeals.filter((d) => (hubspot.dealById(d.id)?.properties.hs_priority ?? null) !== d.priority).length;
    const closedUntouched = manifest.deals.filter((d) => d.closed && hubspot.dealById(d.id)?.properties.leadpipe_intent_score === undefined).length;
    const highDeals = manifest.deals.filter((d) => d.priority === 'high');
    const report: DemoReport = {
      first,
      second,
      changed: {
        contactsCreated: first.created,
        contactsEnriched: first.updated,
        personalEmailMatches: personalMatched,
        humanValuesKept: humanKept,
        companiesMatched: first.companies.matched,
        companiesCreated: first.companies.created,
        dealsRaised: raised,
        closedDealsUntouched: closedUntouched,
        humanHighUntouched: highDeals.filter((d) => hubspot.dealById(d.id)?.properties.hs_priority === 'high').length,
      },
      secondSyncWriteCalls,
      callsPer100People: callsPer100(first),
      reconciles: reconciles(first) && reconciles(second),
    };
    const ok =
      report.reconciles &&
      secondSyncWriteCalls === 0 &&
      first.status !== 'failed' &&
      humanKept === manifest.humanContactFields.length &&
      closedUntouched === manifest.deals.filter((d) => d.closed).length &&
      report.changed.humanHighUntouched === highDeals.length;

    if (options.json) io.stdout.write(JSON.stringify({ ...report, ok }) + '\n');
    else {
      io.stdout.write(formatSummary(first));
      const c = report.changed;
      io.stdout.write(
        [
          '',
          'What changed in the portal',
          `  contacts      ${c.contactsCreated} created, ${c.contactsEnriched} enriched (${c.personalEmailMatches} matched under a personal email, not duplicated)`,
          `  kept          ${c.humanValuesKept} of ${manifest.humanContactFields.length} job titles/phones typed by reps left as they were`,
          `  companies     ${c.companiesMatched} matched by domain, ${c.companiesCreated} created`,
          `  deals         ${c.dealsRaised} open deals raised; ${c.closedDealsUntouched} closed deals and ${c.humanHighUntouched} deals a rep set to high left alone`,
          '',
          `The same run again: ${second.unchanged} unchanged, ${secondSyncWriteCalls} write calls (${second.apiCalls.total} reads in all).`,
          `Every row accounted for (rows = quarantined + duplicates + unchanged + created + updated + skipped + failed): ${report.reconciles ? 'yes' : 'NO'}`,
          '',
        ].join('\n'),
      );
    }
    return ok ? 0 : 1;
  } finally {
    await store.close();
    await hubspot.close();
    await leadpipe.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
