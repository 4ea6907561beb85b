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
 * 5. The same for Salesforce: a sandbox org seeded from the run (Contacts, open and converted Leads,
 *    Accounts, Opportunities), `setup salesforce`, a sync, and a second sync with no write call.
 *
 * Without ENCRYPTION_KEY the demo uses `<data dir>/encryption.key` (made with mode 0600 when missing), so
 * the Salesforce tokens it keeps are stored sealed, as with a real deployment.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../config';
import { setupHubspot } from '../destinations/hubspot/setup';
import { loadMapping } from '../mapping/load-mapping';
import { seedPortalFromPeople } from '../sandbox/hubspot/seed-portal';
import { startHubspotSandbox } from '../sandbox/hubspot/server';
import { startLeadpipeSandbox } from '../sandbox/leadpipe/server';
import { seedOrgFromPeople } from '../sandbox/salesforce/seed-org';
import { startSalesforceSandbox } from '../sandbox/salesforce/server';
import type { SalesforceRecord } from '../sandbox/salesforce/types';
import { connectSalesforce } from '../destinations/salesforce/connect';
import { FixConfigurationError } from '../lib/errors';
import { setupSalesforce } from '../destinations/salesforce/setup';
import { openStore } from '../store/db';
import { runSync, type SyncSummary } from '../sync/run-sync';
import { callsPer100, formatSummary } from './format-summary';
import type { Io } from './inspect';
import { audienceSource, leadpipeClientFor, openHubspotTarget, openSalesforceTarget, progressPrinter } from './sync';

export interface DemoOptions {
  people: number;
  seed: number;
  json?: boolean | undefined;
  /** Where the demo keeps its database and encryption key; kept afterwards. Default: a temporary directory, removed at the end. */
  dataDir?: string | undefined;
}

export const DEMO_KEY_FILE = 'encryption.key';

/**
 * The demo's ENCRYPTION_KEY when none is set: `<dir>/encryption.key` (64 hex characters), made from 32
 * random bytes with mode 0600 when missing. The chmod covers a umask that would widen the mode.
 */
export function demoEncryptionKey(dir: string): { key: Buffer; file: string; created: boolean } {
  const file = path.join(dir, DEMO_KEY_FILE);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new FixConfigurationError([`${file}: must hold 64 hex characters (32 bytes); delete it and the demo makes a new one`]);
    return { key: Buffer.from(text, 'hex'), file, created: false };
  }
  const key = randomBytes(32);
  writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, file, created: true };
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
  salesforce: {
    first: SyncSummary;
    second: SyncSummary;
    changed: {
      contactsEnriched: number;
      leadsEnriched: number;
      leadsCreated: number;
      convertedLeadsUntouched: number;
      humanValuesKept: number;
      opportunitiesRaised: number;
      closedOpportunitiesUntouched: number;
      humanHighUntouched: number;
    };
    secondSyncWriteCalls: number;
  };
}

const reconciles = (s: SyncSummary): boolean => s.rows === s.quarantined + s.duplicates + s.unchanged + s.created + s.updated + s.skipped + s.failed;

export async function runDemoCommand(options: DemoOptions, config: Config, io: Io): Promise<number> {
  const say = (line: string): void => {
    if (!options.json) io.stderr.write(line + '\n');
  };
  const leadpipe = await startLeadpipeSandbox({ seed: options.seed, peoplePerRun: options.people, duplicateShare: 0.02, malformedShare: 0.005 });
  const hubspot = await startHubspotSandbox();
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'orbit-sync-demo-'));
  mkdirSync(dataDir, { recursive: true });
  const store = await openStore(path.join(dataDir, 'orbit-sync.db'));
  const closers: Array<() => Promise<void>> = [];
  try {
    say(`Leadpipe sandbox on ${leadpipe.url}; HubSpot sandbox portal ${hubspot.portalId} on ${hubspot.url} (HubSpot's limit: 110 requests per 10 s)`);
    let encryptionKey = config.encryptionKey;
    if (encryptionKey === undefined) {
      const generated = demoEncryptionKey(dataDir);
      encryptionKey = generated.key;
      const removed = options.dataDir === undefined ? ', removed with the demo data at the end' : '';
      say(`ENCRYPTION_KEY is not set: ${generated.created ? 'generated' : 'using'} ${generated.file} (mode 0600${removed}); Salesforce tokens are stored sealed with it`);
    }
    const demoConfig: Config = {
      ...config,
      encryptionKey,
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
    // The same run into a Salesforce org seeded the same way.
    const org = await startSalesforceSandbox();
    closers.push(() => org.close());
    const orgManifest = seedOrgFromPeople(org, leadpipe.runRows(source.runId), { seed: options.seed });
    // As a deployment is configured: the org's refresh token, no access token. The first connection
    // refreshes, and the tokens are then kept sealed with the encryption key and used by the next sync.
    const { accessToken: _envAccessToken, ...salesforceSettings } = config.salesforce;
    void _envAccessToken;
    const sfConfig: Config = {
      ...demoConfig,
      salesforce: {
        ...salesforceSettings,
        instanceUrl: org.url,
        loginUrl: org.url,
        refreshToken: org.refreshToken,
        clientId: org.clientId,
        clientSecret: org.clientSecret,
      },
    };
    say(
      `Salesforce sandbox org ${org.orgId} on ${org.url}: ${Object.keys(orgManifest.contactsByEmail).length} contacts, ` +
        `${Object.keys(orgManifest.leadsByEmail).length + orgManifest.convertedLeads.length} leads (${orgManifest.convertedLeads.length} converted), ${orgManifest.opportunities.length} opportunities`,
    );
    await setupSalesforce((await connectSalesforce(sfConfig)).api);
    const sfSync = async (label: string): Promise<SyncSummary> => {
      say(`${label}…`);
      const t = await openSalesforceTarget(sfConfig, store);
      return runSync({ db: store.db, config: sfConfig, mapping: t.mapping, destination: t.destination, connectionId: t.connectionId, source });
    };
    const sfFirst = await sfSync('sync into Salesforce');
    const sfWritesAfterFirst = org.writeRequestCount();
    const sfSecond = await sfSync('the same run into Salesforce again');
    const sfSecondWrites = org.writeRequestCount() - sfWritesAfterFirst;
    const scored = (r: SalesforceRecord | undefined): boolean => r?.Leadpipe_Intent_Score__c !== undefined && r.Leadpipe_Intent_Score__c !== null;
    const seededLeadIds = new Set([
      ...Object.values(orgManifest.leadsByEmail),
      ...orgManifest.convertedLeads.map((l) => l.leadId),
      ...orgManifest.leadAndContact.map((l) => l.leadId),
    ]);
    const sfHumanKept = orgManifest.humanContactFields.filter((f) => {
      const c = org.get('Contact', f.contactId);
      return (f.Title === undefined || c?.Title === f.Title) && (f.Phone === undefined || c?.Phone === f.Phone);
    }).length;
    const openOpps = orgManifest.opportunities.filter((o) => !o.closed);
    const sfChanged = {
      contactsEnriched: org.list('Contact').filter(scored).length,
      leadsEnriched: org.list('Lead').filter((l) => seededLeadIds.has(l.Id) && scored(l)).length,
      leadsCreated: org.list('Lead').filter((l) => !seededLeadIds.has(l.Id)).length,
      convertedLeadsUntouched: orgManifest.convertedLeads.filter((l) => !scored(org.get('Lead', l.leadId))).length,
      humanValuesKept: sfHumanKept,
      opportunitiesRaised: openOpps.filter((o) => (org.get('Opportunity', o.id)?.Leadpipe_Priority__c ?? null) !== o.priority).length,
      closedOpportunitiesUntouched: orgManifest.opportunities.filter((o) => o.closed && !scored(org.get('Opportunity', o.id))).length,
      humanHighUntouched: orgManifest.opportunities.filter((o) => o.priority === 'High' && org.get('Opportunity', o.id)?.Leadpipe_Priority__c === 'High').length,
    };

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
      reconciles: reconciles(first) && reconciles(second) && reconciles(sfFirst) && reconciles(sfSecond),
      salesforce: { first: sfFirst, second: sfSecond, changed: sfChanged, secondSyncWriteCalls: sfSecondWrites },
    };
    const ok =
      report.reconciles &&
      secondSyncWriteCalls === 0 &&
      first.status !== 'failed' &&
      humanKept === manifest.humanContactFields.length &&
      closedUntouched === manifest.deals.filter((d) => d.closed).length &&
      report.changed.humanHighUntouched === highDeals.length &&
      sfFirst.status !== 'failed' &&
      sfSecondWrites === 0 &&
      sfHumanKept === orgManifest.humanContactFields.length &&
      sfChanged.convertedLeadsUntouched === orgManifest.convertedLeads.length &&
      sfChanged.closedOpportunitiesUntouched === orgManifest.opportunities.filter((o) => o.closed).length &&
      sfChanged.humanHighUntouched === orgManifest.opportunities.filter((o) => o.priority === 'High').length;

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
          '',
          'Salesforce',
          formatSummary(sfFirst).trimEnd(),
          '',
          'What changed in the org',
          `  people        ${sfChanged.contactsEnriched} Contacts enriched, ${sfChanged.leadsEnriched} open Leads enriched, ${sfChanged.leadsCreated} new Leads (one per new person)`,
          `  kept          ${sfChanged.convertedLeadsUntouched} converted Leads never written; ${sfHumanKept} of ${orgManifest.humanContactFields.length} titles/phones typed by reps left as they were`,
          `  opportunities ${sfChanged.opportunitiesRaised} open ones raised; ${sfChanged.closedOpportunitiesUntouched} closed and ${sfChanged.humanHighUntouched} set to High by a rep left alone`,
          `The same run again: ${sfSecond.unchanged} unchanged, ${sfSecondWrites} write calls.`,
          `Every row accounted for (rows = quarantined + duplicates + unchanged + created + updated + skipped + failed): ${report.reconciles ? 'yes' : 'NO'}`,
          '',
        ].join('\n'),
      );
    }
    return ok ? 0 : 1;
  } finally {
    for (const close of closers) await close();
    await store.close();
    await hubspot.close();
    await leadpipe.close();
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}
