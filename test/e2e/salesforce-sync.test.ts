/**
 * Syncs into the Salesforce sandbox org through real jsforce, asserting the org's state: Contacts
 * enriched (never duplicated as Leads), converted Leads never written, new people as one Lead each,
 * ifEmpty respected, Accounts and open Opportunities raised, closed ones left alone.
 */
import { loadConfig, type Config } from '../../src/config';
import { openSalesforceTarget } from '../../src/commands/sync';
import { callsPer200 } from '../../src/commands/format-summary';
import { connectSalesforce } from '../../src/destinations/salesforce/connect';
import { setupSalesforce } from '../../src/destinations/salesforce/setup';
import { hashEmail } from '../../src/ingest/hash-email';
import { salesforceSandboxEnv, startSalesforceSandbox } from '../../src/sandbox/salesforce/server';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce/types';
import { randomBytes } from 'node:crypto';
import { createConnections } from '../../src/store/connections';
import { openStore, type Store } from '../../src/store/db';
import { runSync, type SyncSummary } from '../../src/sync/run-sync';
import { cutFirstAnswer } from './helpers/cut-answer';
import { tmpDir, writeCsv, type Row } from './helpers/hubspot-sync';

const ADA: Row = { email: 'ada@acme.test', firstName: 'ada', lastName: 'lovelace', jobTitle: 'VP Marketing', phone: '+14155550101', company: 'Acme', domain: 'acme.test', score: 91, topics: ['Marketing ROI', 'Attribution'] };
const BOB: Row = { email: 'bob@initech.test', firstName: 'bob', lastName: 'stone', company: 'Initech', domain: 'initech.test', score: 72 };
const CARA: Row = { email: 'cara@globex.test', firstName: 'cara', lastName: 'diaz', company: 'Globex', domain: 'globex.test', score: 65 };
const DAN: Row = { email: 'dan@umbrella.test', firstName: 'dan', company: 'Umbrella', domain: 'umbrella.test', score: 55 };
const OBRIEN: Row = { email: "o'brien@acme.test", firstName: 'pat', lastName: "o'brien", company: 'Acme', domain: 'acme.test', score: 70 };

function sfConfig(sb: SalesforceSandbox): Config {
  return loadConfig({
    ...salesforceSandboxEnv(sb),
    LOG_LEVEL: 'silent',
  });
}

describe('sync into Salesforce (sandbox org)', () => {
  const dir = tmpDir();
  let sb: SalesforceSandbox;
  let store: Store;
  let config: Config;

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ customFields: false });
    store = await openStore(':memory:');
    config = sfConfig(sb);
    await setupSalesforce((await connectSalesforce(config)).api);
  });
  afterEach(async () => {
    await store.close();
    await sb.close();
  });

  async function sync(file: string, options: { beforeRun?: () => void } = {}): Promise<SyncSummary> {
    const target = await openSalesforceTarget(config, store);
    options.beforeRun?.();
    return runSync({ db: store.db, config, mapping: target.mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file } });
  }

  function seedOrg() {
    const [acme, globex] = sb.seedAccounts([{ fields: { Name: 'ACME Corporation', Website: 'acme.test' } }, { fields: { Name: 'Globex', Website: 'globex.test' } }]);
    if (!acme || !globex) throw new Error('seeding accounts failed');
    const [ada, cara, obrien] = sb.seedContacts([
      { fields: { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@acme.test', Title: 'Head of Growth', AccountId: acme.Id } },
      { fields: { FirstName: 'Cara', LastName: 'Diaz', Email: 'cara@globex.test', AccountId: globex.Id } },
      { fields: { FirstName: 'Pat', LastName: "O'Brien", Email: "o'brien@acme.test", AccountId: acme.Id } },
    ]);
    if (!ada || !cara || !obrien) throw new Error('seeding contacts failed');
    const [bobLead, caraLead] = sb.seedLeads([
      { fields: { FirstName: 'Bob', LastName: 'Stone', Email: 'bob@initech.test', Company: 'Initech', Title: 'CTO' } },
      { fields: { FirstName: 'Cara', LastName: 'Diaz', Email: 'cara@globex.test', Company: 'Globex' }, converted: { contactId: cara.Id, accountId: globex.Id } },
    ]);
    if (!bobLead || !caraLead) throw new Error('seeding leads failed');
    const [open, closed, humanHigh] = sb.seedOpportunities([
      { fields: { Name: 'Acme expansion', StageName: 'Prospecting', CloseDate: '2027-03-31', AccountId: acme.Id } },
      { fields: { Name: 'Acme 2025', StageName: 'Closed Won', CloseDate: '2025-12-31', AccountId: acme.Id } },
      { fields: { Name: 'Globex platform', StageName: 'Negotiation/Review', CloseDate: '2027-01-31', AccountId: globex.Id, Leadpipe_Priority__c: 'High' }, contactRoles: [{ contactId: cara.Id }] },
    ]);
    if (!open || !closed || !humanHigh) throw new Error('seeding opportunities failed');
    return { acme, globex, ada, cara, obrien, bobLead, caraLead, open, closed, humanHigh };
  }

  it('enriches Contacts and open Leads, follows converted Leads, creates one Lead per new person, keeps what sales typed, raises open Opportunities', async () => {
    const s = seedOrg();
    const leadsBefore = sb.list('Lead').length;
    const summary = await sync(writeCsv(dir, 'sf-first.csv', [ADA, BOB, CARA, DAN, OBRIEN]));
    expect(summary).toMatchObject({ status: 'succeeded', rows: 5, created: 1, updated: 4, failed: 0 });

    // Ada: a Contact, enriched; her Title (typed by sales) kept; no Lead made for her.
    expect(sb.get('Contact', s.ada.Id)).toMatchObject({ Title: 'Head of Growth', Phone: '+14155550101', Leadpipe_Intent_Score__c: 91, Leadpipe_Hashed_Email__c: hashEmail('ada@acme.test') });
    expect(sb.findByEmail('Lead', 'ada@acme.test')).toHaveLength(0);
    // Bob: an open Lead, updated in place (his Title kept).
    expect(sb.get('Lead', s.bobLead.Id)).toMatchObject({ Title: 'CTO', Leadpipe_Intent_Score__c: 72 });
    // Cara: her converted Lead is never written; her Contact is.
    expect(sb.get('Lead', s.caraLead.Id)?.Leadpipe_Intent_Score__c ?? null).toBeNull();
    expect(sb.get('Contact', s.cara.Id)).toMatchObject({ Leadpipe_Intent_Score__c: 65 });
    // Dan: one new Lead, with the required fields filled.
    const dan = sb.findByEmail('Lead', 'dan@umbrella.test');
    expect(dan).toHaveLength(1);
    expect(dan[0]).toMatchObject({ FirstName: 'Dan', LastName: '[not provided]', Company: 'Umbrella', Leadpipe_Intent_Score__c: 55 });
    expect(sb.list('Lead')).toHaveLength(leadsBefore + 1);
    // An email with a quote is found through an escaped SOQL literal: updated, not duplicated.
    expect(sb.get('Contact', s.obrien.Id)).toMatchObject({ Leadpipe_Intent_Score__c: 70 });
    expect(sb.findByEmail('Lead', "o'brien@acme.test")).toHaveLength(0);

    // Accounts roll up; the open Opportunity is raised, the closed one untouched, the human High kept.
    expect(sb.get('Account', s.acme.Id)).toMatchObject({ Leadpipe_Intent_Score__c: 91 });
    expect(sb.get('Opportunity', s.open.Id)).toMatchObject({ Leadpipe_Priority__c: 'High', Leadpipe_Intent_Score__c: 91 });
    expect(sb.get('Opportunity', s.closed.Id)?.Leadpipe_Intent_Score__c ?? null).toBeNull();
    expect(sb.get('Opportunity', s.humanHigh.Id)).toMatchObject({ Leadpipe_Priority__c: 'High', Leadpipe_Intent_Score__c: 65 });
  });

  it('with leadRating on, Leads get Hot/Warm/Cold from the score (off by default)', async () => {
    const off = await sync(writeCsv(dir, 'sf-rating-off.csv', [DAN]));
    expect(off.created).toBe(1);
    expect(sb.findByEmail('Lead', 'dan@umbrella.test')[0]?.Rating ?? null).toBeNull();
    config.salesforce.leadRating = true;
    await sync(writeCsv(dir, 'sf-rating-on.csv', [{ ...DAN, score: 88 }, { email: 'eve@umbrella.test', firstName: 'eve', company: 'Umbrella', score: 20 }]));
    expect(sb.findByEmail('Lead', 'dan@umbrella.test')[0]?.Rating).toBe('Hot');
    expect(sb.findByEmail('Lead', 'eve@umbrella.test')[0]?.Rating).toBe('Cold');
  });

  it('re-syncing the same run makes no write call', async () => {
    seedOrg();
    const file = writeCsv(dir, 'sf-again.csv', [ADA, BOB, CARA, DAN]);
    await sync(file);
    const writes = sb.writeRequestCount();
    const again = await sync(file);
    expect(again).toMatchObject({ status: 'succeeded', unchanged: 4, created: 0, updated: 0 });
    expect(sb.writeRequestCount()).toBe(writes);
  });

  it('an access token that expires mid-sync is refreshed and the sync completes', async () => {
    seedOrg();
    const summary = await sync(writeCsv(dir, 'sf-refresh.csv', [ADA, BOB, DAN]), { beforeRun: () => sb.expireAccessTokens() });
    expect(summary).toMatchObject({ status: 'succeeded', failed: 0 });
    expect(sb.findByEmail('Lead', 'dan@umbrella.test')).toHaveLength(1);
  });

  it('a rotated refresh token is taken over, so a second expiry is refreshed too', async () => {
    await sb.close();
    sb = await startSalesforceSandbox({ rotateRefreshToken: true });
    config = sfConfig(sb);
    const rotated: string[] = [];
    const sf = await connectSalesforce(config, { onTokens: (t) => t.refreshToken !== undefined && rotated.push(t.refreshToken) });
    sb.expireAccessTokens();
    await sf.api.queryAll('SELECT Id FROM Lead');
    sb.expireAccessTokens();
    await sf.api.queryAll('SELECT Id FROM Lead');
    expect(rotated).toHaveLength(2);
    expect(rotated[0]).not.toBe(rotated[1]);
  });

  it('a refresh that fails ends the sync with a re-authorization message', async () => {
    seedOrg();
    const summary = await sync(writeCsv(dir, 'sf-revoked.csv', [ADA, DAN]), {
      beforeRun: () => {
        sb.revokeRefreshToken(sb.refreshToken);
        sb.expireAccessTokens();
      },
    });
    expect(summary.status).toBe('failed');
    expect(summary.message).toMatch(/AUTH_INVALID.*authorized again/);
    expect(sb.findByEmail('Lead', 'dan@umbrella.test')).toHaveLength(0);
    // The connection now waits for a person to re-authorize it, and says why.
    const [connection] = await createConnections(store.db).list({ crm: 'salesforce' });
    expect(connection?.status).toBe('needs_reauth');
    expect(connection?.statusMessage).toMatch(/Unable to refresh session/);
  });

  it('refreshed and rotated tokens are kept sealed with ENCRYPTION_KEY and used by the next run', async () => {
    await sb.close();
    sb = await startSalesforceSandbox({ rotateRefreshToken: true });
    config = { ...sfConfig(sb), encryptionKey: randomBytes(32) };
    const file = writeCsv(dir, 'sf-rotate.csv', [DAN]);
    const first = await sync(file, { beforeRun: () => sb.expireAccessTokens() });
    expect(first.status).toBe('succeeded');
    const rows = await store.db.selectFrom('connection_credentials').selectAll().execute();
    expect(rows).toHaveLength(1);
    // Sealed: neither token appears in the store.
    expect(rows[0]?.sealed).not.toContain(sb.refreshToken);
    expect(rows[0]?.sealed).not.toContain('Bearer');
    // The environment's refresh token was rotated away; the next run refreshes with the stored one.
    sb.expireAccessTokens();
    const second = await sync(writeCsv(dir, 'sf-rotate-2.csv', [DAN, BOB]));
    expect(second).toMatchObject({ status: 'succeeded', created: 1 });
  });

  it('setup is idempotent and grants the fields through a permission set', async () => {
    const again = await setupSalesforce((await connectSalesforce(config)).api);
    expect(again.created).toEqual([]);
    expect(again.existing).toEqual(expect.arrayContaining(['Lead.Leadpipe_Hashed_Email__c', 'Opportunity.Leadpipe_Priority__c', 'Leadpipe_Intent']));
    const permissionSet = sb.permissionSets().find((p) => p.fullName === 'Leadpipe_Intent');
    expect(permissionSet?.fieldPermissions).toEqual(expect.arrayContaining([{ field: 'Contact.Leadpipe_Intent_Score__c', readable: true, editable: true }]));
    const leadFields = (sb.describe('Lead') as { fields: Array<{ name: string; externalId: boolean; unique: boolean }> }).fields;
    expect(leadFields.find((f) => f.name === 'Leadpipe_Hashed_Email__c')).toMatchObject({ externalId: true, unique: true });
  });

  it('the org’s daily API limit stops the sync as partial, with the usage, and rows still add up', async () => {
    seedOrg();
    const summary = await sync(writeCsv(dir, 'sf-limit.csv', [ADA, BOB, CARA, DAN]), { beforeRun: () => sb.setApiUsage(sb.apiUsage().max - 2) });
    expect(summary.status).toBe('partial');
    expect(summary.message).toMatch(/TotalRequests Limit exceeded.*API requests used in the last 24 hours.*resumes/);
    expect(summary.rows).toBe(summary.quarantined + summary.duplicates + summary.unchanged + summary.created + summary.updated + summary.skipped + summary.failed);
  });

  it('a record Salesforce refuses is kept with its statusCode and message; the rest of the batch is written; the run is partial', async () => {
    const rows: Row[] = Array.from({ length: 30 }, (_, i) => ({ email: `lead${i}@hooli.test`, firstName: `l${i}`, company: 'Hooli', domain: 'hooli.test', score: 40 }));
    const summary = await sync(writeCsv(dir, 'sf-refused.csv', rows), {
      beforeRun: () => sb.injectRecordErrors('FIELD_CUSTOM_VALIDATION_EXCEPTION', 1, 'Leads from hooli.test need a region'),
    });
    expect(summary).toMatchObject({ status: 'partial', created: 29, failed: 1 });
    expect(sb.list('Lead').filter((l) => String(l.Email).endsWith('@hooli.test'))).toHaveLength(29);
    const errors = await store.db.selectFrom('record_errors').selectAll().where('sync_run_id', '=', summary.syncRunId ?? '').execute();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.crm_message).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION: Leads from hooli.test need a region');
  });

  it('DUPLICATES_DETECTED is recorded on the record and not retried by the next sync', async () => {
    const file = writeCsv(dir, 'sf-duplicate.csv', [DAN]);
    const first = await sync(file, { beforeRun: () => sb.injectRecordErrors('DUPLICATES_DETECTED', 1, 'Use one of these records?') });
    expect(first).toMatchObject({ status: 'partial', failed: 1 });
    const [error] = await store.db.selectFrom('record_errors').selectAll().where('sync_run_id', '=', first.syncRunId ?? '').execute();
    expect(error).toMatchObject({ code: 'CRM_RECORD_REJECTED', retryable: 0 });
    expect(error?.crm_message).toContain('DUPLICATES_DETECTED: Use one of these records?');
    const second = await sync(file);
    expect(second).toMatchObject({ skipped: 1, created: 0 });
  });

  it('a new Lead whose upsert was applied but whose answer was lost is counted created when the retry finds it', async () => {
    const stop = cutFirstAnswer(sb, 'collectionsUpsert');
    const upserts = sb.requestCount('collectionsUpsert');
    const summary = await sync(writeCsv(dir, 'sf-lost-answer.csv', [BOB, DAN]));
    stop();
    // Sent twice: the lost answer, then the retry that found both Leads.
    expect(sb.requestCount('collectionsUpsert') - upserts).toBe(2);
    expect(summary).toMatchObject({ status: 'succeeded', created: 2, updated: 0 });
    expect(sb.list('Lead')).toHaveLength(2);
  });

  it('a Lead created by a send whose answer was lost is still counted created when its retry is locked and a later call finds it', async () => {
    // Send 1: carried out, answer lost. Send 2 (the retry): both records locked. Send 3 (the locked records again): finds them.
    const stop = cutFirstAnswer(sb, 'collectionsUpsert', { whileHeld: () => sb.injectRecordErrors('UNABLE_TO_LOCK_ROW', 2) });
    const upserts = sb.requestCount('collectionsUpsert');
    const summary = await sync(writeCsv(dir, 'sf-lost-then-locked.csv', [BOB, DAN]));
    stop();
    expect(sb.requestCount('collectionsUpsert') - upserts).toBe(3);
    expect(summary).toMatchObject({ status: 'succeeded', created: 2, updated: 0 });
    expect(sb.list('Lead')).toHaveLength(2);
  });

  it('UNABLE_TO_LOCK_ROW records are sent again and land', async () => {
    const rows: Row[] = Array.from({ length: 30 }, (_, i) => ({ email: `lock${i}@hooli.test`, firstName: `l${i}`, company: 'Hooli', domain: 'hooli.test', score: 40 }));
    const upserts = sb.requestCount('collectionsUpsert');
    const summary = await sync(writeCsv(dir, 'sf-locked.csv', rows), { beforeRun: () => sb.injectRecordErrors('UNABLE_TO_LOCK_ROW', 3) });
    expect(summary).toMatchObject({ status: 'succeeded', created: 30, failed: 0 });
    // One call for the 30, one more for the 3 that were locked.
    expect(sb.requestCount('collectionsUpsert') - upserts).toBe(2);
    expect(sb.list('Lead').filter((l) => String(l.Email).startsWith('lock'))).toHaveLength(30);
  });
});

describe('a Bulk API 2.0 job that does not finish', () => {
  it('is aborted after bulkPollTimeoutMs; its people are kept as failed with the reason, the rest are written, and the next sync writes them', async () => {
    // Each processing step takes 1.5 s: no job is done within the 1-s poll timeout.
    const sb = await startSalesforceSandbox({ bulkProcessingMs: 1500 });
    const store = await openStore(':memory:');
    try {
      const rows: Row[] = Array.from({ length: 2030 }, (_, i) => ({ email: `slow.${i}@firm-${i % 20}.test`, firstName: `s${i}`, company: `Firm ${i % 20}`, domain: `firm-${i % 20}.test`, score: 50 }));
      sb.seedContacts(rows.slice(0, 30).map((r, i) => ({ fields: { LastName: `Known${i}`, Email: r.email } })));
      const file = writeCsv(tmpDir(), 'sf-slow-bulk.csv', rows);
      const config = sfConfig(sb);
      Object.assign(config.salesforce, { bulkPollIntervalMs: 100, bulkPollTimeoutMs: 1000 });
      const sync = async (): Promise<SyncSummary> => {
        const target = await openSalesforceTarget(config, store);
        return runSync({ db: store.db, config, mapping: target.mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file } });
      };

      const first = await sync();
      // The 30 Contacts went through sObject Collections; the 2,000 new Leads were one Bulk job, aborted.
      expect(first).toMatchObject({ status: 'partial', updated: 30, created: 0, failed: 2000 });
      expect(sb.bulkJobs().map((j) => j.state)).toEqual(['Aborted']);
      expect(sb.list('Lead')).toHaveLength(0);
      const errors = await store.db.selectFrom('record_errors').selectAll().where('sync_run_id', '=', first.syncRunId ?? '').execute();
      expect(errors).toHaveLength(2000);
      expect(new Set(errors.map((e) => `${e.code} ${e.retryable}`))).toEqual(new Set(['CRM_BATCH_FAILED 1']));
      expect(errors[0]?.crm_message).toContain("still processing this record's job after 1 s");
      expect(errors[0]?.crm_message).toContain('salesforce.bulkPollTimeoutMs');

      config.salesforce.bulkPollTimeoutMs = 60_000;
      const second = await sync();
      expect(second).toMatchObject({ status: 'succeeded', created: 2000, failed: 0 });
      expect(sb.list('Lead')).toHaveLength(2000);
    } finally {
      await store.close();
      await sb.close();
    }
  });
});

describe('a Bulk API 2.0 job step whose answer was lost', () => {
  const rows: Row[] = Array.from({ length: 2050 }, (_, i) => ({ email: `again.${i}@firm-${i % 20}.test`, firstName: `a${i}`, company: `Firm ${i % 20}`, domain: `firm-${i % 20}.test`, score: 50 }));

  /** Syncs the 2,050 new people (one Bulk Lead upsert), the first request to `route` carried out but its answer cut, `whileHeld` run before the cut. */
  async function syncLosingFirst(route: 'bulkUpload' | 'bulkSetState', whileHeld: (sb: SalesforceSandbox) => Promise<void> = () => Promise.resolve()) {
    const sb = await startSalesforceSandbox({ bulkProcessingMs: 5 });
    const store = await openStore(':memory:');
    try {
      const config = sfConfig(sb);
      config.salesforce.bulkPollIntervalMs = 20;
      const stop = cutFirstAnswer(sb, route, { whileHeld: () => whileHeld(sb) });
      const target = await openSalesforceTarget(config, store);
      const file = writeCsv(tmpDir(), `sf-lost-${route}.csv`, rows);
      const summary = await runSync({ db: store.db, config, mapping: target.mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file } });
      stop();
      return { summary, jobs: sb.bulkJobs().map((j) => j.state), leads: sb.list('Lead').length };
    } finally {
      await store.close();
      await sb.close();
    }
  }

  it('an upload: sent again, refused as the job already has its data, the rows go in a new job, written once', async () => {
    const { summary, jobs, leads } = await syncLosingFirst('bulkUpload');
    expect(jobs).toEqual(['Aborted', 'JobComplete']);
    expect(summary).toMatchObject({ status: 'succeeded', created: 2050, updated: 0, failed: 0 });
    expect(leads).toBe(2050);
  });

  it('a close after which the job ran: the rows go in a new job, which finds them; the people the first job created are counted created, once each', async () => {
    // The close is held until the job it started has run to the end.
    const { summary, jobs, leads } = await syncLosingFirst('bulkSetState', async (sb) => {
      for (let i = 0; i < 200 && sb.bulkJobs()[0]?.state !== 'JobComplete'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    });
    // The retried close was refused (the job was no longer Open), so the rows went in a second job.
    expect(jobs).toEqual(['JobComplete', 'JobComplete']);
    expect(summary).toMatchObject({ status: 'succeeded', created: 2050, updated: 0, failed: 0 });
    expect(leads).toBe(2050);
  });
});

describe('Salesforce API economy', () => {
  it('below the bulk threshold, a new run costs ≤ 3 calls (lookups + writes) per 200 changed people', async () => {
    const sb = await startSalesforceSandbox();
    const store = await openStore(':memory:');
    try {
      const config = sfConfig(sb);
      const rows: Row[] = Array.from({ length: 1200 }, (_, i) => ({
        email: `person.${i}@company-${i % 50}.test`,
        ...(i % 3 === 0 && { personalEmail: `person.${i}@gmail.test` }),
        firstName: `p${i}`,
        lastName: `n${i}`,
        company: `Company ${i % 50}`,
        domain: `company-${i % 50}.test`,
        score: 30 + (i % 40),
      }));
      const target = await openSalesforceTarget(config, store);
      const file = writeCsv(tmpDir(), 'sf-economy.csv', rows);
      const summary = await runSync({ db: store.db, config, mapping: target.mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file } });
      expect(summary).toMatchObject({ status: 'succeeded', created: 1200 });
      const per200 = callsPer200(summary) ?? Infinity;
      process.stdout.write(`Salesforce: ${summary.apiCalls.total} calls in all; ${per200.toFixed(2)} lookups + writes per 200 new people\n`);
      expect(per200).toBeLessThanOrEqual(3);
    } finally {
      await store.close();
      await sb.close();
    }
  });
});

describe('Bulk API 2.0 and sObject Collections', () => {
  it('produce the same org state and the same ledger for the same run', async () => {
    // 2,100 people: above the default bulk threshold (2,000).
    const rows: Row[] = Array.from({ length: 2100 }, (_, i) => ({
      email: `buyer.${i}@firm-${i % 40}.test`,
      firstName: `b${i}`,
      ...(i % 4 === 0 && { lastName: `l${i}` }),
      ...(i % 5 === 0 && { jobTitle: 'Head of RevOps' }),
      company: `Firm ${i % 40}`,
      domain: `firm-${i % 40}.test`,
      score: 40 + (i % 60),
    }));
    const file = writeCsv(tmpDir(), 'sf-bulk.csv', rows);
    const runInto = async (bulkThreshold: number) => {
      // An org that refuses a request past orbit-sync's own cap on requests in flight (a Bulk job holds one slot).
      const sb = await startSalesforceSandbox({ bulkProcessingMs: 5, latency: { baseMs: 5 }, concurrentRequestLimit: loadConfig({}).salesforce.maxConcurrent });
      // The same org in both: some people already Contacts or Leads, with values a rep typed.
      const [firm] = sb.seedAccounts([{ fields: { Name: 'Firm 1', Website: 'firm-1.test' } }]);
      sb.seedContacts(rows.slice(0, 60).filter((_, i) => i % 3 === 0).map((r, i) => ({ fields: { LastName: `Known${i}`, Email: r.email, Title: 'Typed by sales', AccountId: firm?.Id ?? null } })));
      sb.seedLeads(rows.slice(60, 120).filter((_, i) => i % 3 === 0).map((r, i) => ({ fields: { LastName: `Lead${i}`, Company: 'Typed Co', Email: r.email } })));
      const store = await openStore(':memory:');
      const config = sfConfig(sb);
      config.salesforce.bulkThreshold = bulkThreshold;
      config.salesforce.bulkPollIntervalMs = 20;
      const target = await openSalesforceTarget(config, store);
      const summary = await runSync({ db: store.db, config, mapping: target.mapping, destination: target.destination, connectionId: target.connectionId, source: { kind: 'file', path: file } });
      const emailOf = new Map([...sb.list('Lead'), ...sb.list('Contact')].map((r) => [r.Id, String(r.Email)]));
      const ledger = (await store.db.selectFrom('ledger').selectAll().orderBy('hashed_email').execute()).map((l) => ({
        key: l.hashed_email,
        type: l.crm_object_type,
        record: emailOf.get(l.crm_record_id),
        fingerprint: l.payload_fingerprint,
        score: l.last_score,
      }));
      const org = (['Lead', 'Contact'] as const).map((t) =>
        sb
          .list(t)
          .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !/^(Id|CreatedDate|LastModifiedDate|SystemModstamp|attributes)$/.test(k)).sort(([a], [b]) => a.localeCompare(b)))))
          .sort(),
      );
      const jobs = sb.bulkJobs().length;
      const refused = sb.traffic().concurrencyRefused;
      await store.close();
      await sb.close();
      return { summary, ledger, org, jobs, refused };
    };
    const collections = await runInto(100_000);
    const bulk = await runInto(loadConfig({}).salesforce.bulkThreshold);
    expect(collections.jobs).toBe(0);
    expect(bulk.jobs).toBeGreaterThan(0);
    expect(bulk.summary).toMatchObject({ status: 'succeeded', created: collections.summary.created, updated: collections.summary.updated, failed: 0 });
    expect(bulk.org).toEqual(collections.org);
    expect(bulk.ledger).toEqual(collections.ledger);
    expect([collections.refused, bulk.refused]).toEqual([0, 0]);
  });
});
