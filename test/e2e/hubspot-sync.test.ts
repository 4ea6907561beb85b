/**
 * Syncs into the HubSpot sandbox through the real SDK, asserting the portal's state afterwards: who was
 * created or enriched, what was kept, which deals were raised — not only the counts.
 */
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/server';
import { hashEmail } from '../../src/ingest/hash-email';
import { harness, tmpDir, writeCsv, type Harness, type Row } from './helpers/hubspot-sync';

const ADA: Row = { email: 'ada@acme.test', firstName: 'ada', lastName: 'lovelace', jobTitle: 'VP Marketing', phone: '+14155550101', company: 'Acme', domain: 'acme.test', score: 91, topics: ['Marketing ROI', 'Attribution'] };
const BOB: Row = { email: 'bob@acme.test', personalEmail: 'bob.p@gmail.test', firstName: 'bob', lastName: 'stone', company: 'Acme', domain: 'acme.test', score: 72 };
const CARA: Row = { email: 'cara@globex.test', firstName: 'cara', lastName: 'diaz', jobTitle: 'CFO', company: 'Globex', domain: 'globex.test', score: 55 };
const DAN: Row = { email: 'dan@acme.test', firstName: 'dan', lastName: 'ek', company: 'Acme', domain: 'acme.test', score: 64 };

describe('sync into HubSpot (sandbox portal)', () => {
  let sb: HubspotSandbox;
  let h: Harness;
  const dir = tmpDir();

  beforeEach(async () => {
    sb = await startHubspotSandbox({ rateLimit: { max: 1000 } });
    h = await harness(sb);
    await h.setup();
  });
  afterEach(async () => {
    await h.close();
    await sb.close();
  });

  function seedPortal() {
    const [acme] = sb.seedCompanies([{ properties: { name: 'ACME Corporation', domain: 'acme.test' } }]);
    const [ada, bobPersonal, dan] = sb.seedContacts([
      { properties: { email: 'ada@acme.test', firstname: 'Ada', jobtitle: 'Head of Growth' } },
      { properties: { email: 'bob.p@gmail.test', firstname: 'Bobby' } },
      { properties: { email: 'dan@acme.test', jobtitle: 'CTO', phone: '+14155550199' } },
    ]);
    if (!acme || !ada || !bobPersonal || !dan) throw new Error('seeding failed');
    const [openDeal, closedDeal, humanHigh, lowDeal] = sb.seedDeals([
      { properties: { dealname: 'Acme expansion', dealstage: 'qualifiedtobuy', pipeline: 'default' }, associations: { contacts: [ada.id] } },
      { properties: { dealname: 'Acme 2025', dealstage: 'closedwon', pipeline: 'default' }, associations: { contacts: [ada.id] } },
      { properties: { dealname: 'Acme platform', dealstage: 'contractsent', pipeline: 'default', hs_priority: 'high' }, associations: { companies: [acme.id] } },
      { properties: { dealname: 'Dan pilot', dealstage: 'appointmentscheduled', pipeline: 'default', hs_priority: 'low' }, associations: { contacts: [dan.id] } },
    ]);
    if (!openDeal || !closedDeal || !humanHigh || !lowDeal) throw new Error('seeding deals failed');
    return { acme, ada, bobPersonal, dan, openDeal, closedDeal, humanHigh, lowDeal };
  }

  it('creates and enriches the right records, keeps what sales typed, links companies and raises open deals', async () => {
    const seeded = seedPortal();
    const file = writeCsv(dir, 'first.csv', [ADA, BOB, CARA, DAN]);
    const summary = await h.sync(file);

    expect(summary).toMatchObject({ status: 'succeeded', rows: 4, created: 1, updated: 3, failed: 0, skipped: 0 });
    expect(summary.rows).toBe(summary.quarantined + summary.duplicates + summary.unchanged + summary.created + summary.updated + summary.skipped + summary.failed);

    // ifEmpty: Ada's human-set job title stays; her empty phone is filled; intent is written.
    const ada = sb.contactById(seeded.ada.id);
    expect(ada?.properties).toMatchObject({
      jobtitle: 'Head of Growth',
      firstname: 'Ada',
      lastname: 'Lovelace',
      phone: '+14155550101',
      leadpipe_intent_score: '91',
      leadpipe_intent_topics: 'Marketing ROI; Attribution',
      leadpipe_hashed_email: hashEmail('ada@acme.test'),
      leadpipe_intent_tier: 'hot',
    });
    // Bob is known under his personal email only: that contact is updated, no second contact is made.
    expect(sb.contactByEmail('bob@acme.test')).toBeUndefined();
    expect(sb.contactById(seeded.bobPersonal.id)?.properties).toMatchObject({ firstname: 'Bobby', lastname: 'Stone', leadpipe_intent_score: '72' });
    // Dan has no job title in the file: his "CTO" is not blanked.
    expect(sb.contactById(seeded.dan.id)?.properties).toMatchObject({ jobtitle: 'CTO', phone: '+14155550199', leadpipe_intent_score: '64' });
    // Cara is new, with a new company; Acme is matched by domain, not duplicated.
    const cara = sb.contactByEmail('cara@globex.test');
    expect(cara?.properties).toMatchObject({ firstname: 'Cara', jobtitle: 'CFO', company: 'Globex' });
    const companies = sb.listCompanies();
    expect(companies.filter((c) => c.properties.domain === 'acme.test')).toHaveLength(1);
    const globex = companies.find((c) => c.properties.domain === 'globex.test');
    expect(globex?.properties).toMatchObject({ name: 'Globex', leadpipe_company_key: 'globex.test' });
    expect(sb.companyById(seeded.acme.id)?.properties.name).toBe('ACME Corporation');
    expect(summary.companies).toEqual({ matched: 1, created: 1 });
    expect(sb.associatedIds('contacts', cara?.id ?? '', 'companies')).toEqual([globex?.id]);
    expect(sb.associatedIds('contacts', seeded.ada.id, 'companies')).toEqual([seeded.acme.id]);

    // Deals: Ada's open deal is raised to high; the closed one and the human "high" are left alone.
    expect(sb.dealById(seeded.openDeal.id)?.properties).toMatchObject({ hs_priority: 'high', leadpipe_intent_score: '91' });
    expect(sb.dealById(seeded.closedDeal.id)?.properties.hs_priority).toBeUndefined();
    expect(sb.dealById(seeded.closedDeal.id)?.properties.leadpipe_intent_score).toBeUndefined();
    expect(sb.dealById(seeded.humanHigh.id)?.properties.hs_priority).toBe('high');
    // Dan (64) targets medium: his deal's "low" is raised, never lowered.
    expect(sb.dealById(seeded.lowDeal.id)?.properties.hs_priority).toBe('medium');
    expect(summary.deals.raised).toBe(2);
  });

  it('re-syncing the same run makes no write call', async () => {
    seedPortal();
    const file = writeCsv(dir, 'again.csv', [ADA, BOB, CARA, DAN]);
    await h.sync(file);
    const writesBefore = sb.writeRequestCount();
    const again = await h.sync(file);
    expect(sb.writeRequestCount()).toBe(writesBefore);
    expect(again).toMatchObject({ status: 'succeeded', unchanged: 4, created: 0, updated: 0 });
    expect(again.deals.prioritized).toBe(0);
  });

  it('a run in which one person changed writes only that person', async () => {
    seedPortal();
    await h.sync(writeCsv(dir, 'day1.csv', [ADA, BOB, CARA, DAN]));
    const before = sb.requestCount('batchUpsertContacts');
    const changed = await h.sync(writeCsv(dir, 'day2.csv', [ADA, BOB, { ...CARA, score: 58 }, DAN]));
    expect(changed).toMatchObject({ unchanged: 3, updated: 1, created: 0 });
    expect(sb.requestCount('batchUpsertContacts') - before).toBe(1);
    expect(sb.contactByEmail('cara@globex.test')?.properties.leadpipe_intent_score).toBe('58');
  });

  it('a dry run reports field-level changes and writes nothing', async () => {
    const seeded = seedPortal();
    const summary = await h.sync(writeCsv(dir, 'dry.csv', [ADA, CARA]), { dryRun: true });
    expect(sb.writeRequestCount()).toBe(0);
    expect(summary.status).toBe('dry-run');
    const ada = summary.plan?.find((p) => p.hashedEmail === hashEmail('ada@acme.test'));
    expect(ada?.action).toBe('update');
    expect(ada?.changes).toEqual(expect.arrayContaining([{ property: 'phone', before: null, after: '+14155550101', policy: 'ifEmpty' }]));
    expect(summary.plan?.find((p) => p.hashedEmail === hashEmail('cara@globex.test'))).toMatchObject({ action: 'create', company: { domain: 'globex.test', action: 'created' } });
    // Ada's open deal would be raised; the company's deal a rep set to high gets the intent, not a new priority.
    expect(summary.dealPlan?.map((d) => d.dealId).sort()).toEqual([seeded.openDeal.id, seeded.humanHigh.id].sort());
    const humanHigh = summary.dealPlan?.find((d) => d.dealId === seeded.humanHigh.id);
    expect(humanHigh?.priorityRaised).toBe(false);
    expect(humanHigh?.changes.map((c) => c.property)).not.toContain('hs_priority');
    expect(summary.dealPlan?.find((d) => d.dealId === seeded.openDeal.id)?.changes).toEqual(
      expect.arrayContaining([{ property: 'hs_priority', before: null, after: 'high', policy: 'always' }]),
    );
  });

  it('one invalid email in a batch: the other 99 are written, the bad one is listed with HubSpot’s message, the run is partial', async () => {
    const rows: Row[] = Array.from({ length: 100 }, (_, i) => ({ email: `person${i}@initech.test`, firstName: `p${i}`, score: 40 + (i % 50) }));
    rows[37] = { email: 'jos\u00e9@initech.test', firstName: 'jose', score: 70 };
    const summary = await h.sync(writeCsv(dir, 'bad-email.csv', rows));
    expect(summary).toMatchObject({ status: 'partial', created: 99, failed: 1 });
    expect(sb.listContacts().filter((c) => c.properties.email?.endsWith('@initech.test'))).toHaveLength(99);
    const errors = await h.store.db.selectFrom('record_errors').selectAll().where('sync_run_id', '=', summary.syncRunId ?? '').execute();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 39, code: 'CRM_RECORD_REJECTED', hashed_email: hashEmail('jos\u00e9@initech.test') });
    expect(errors[0]?.crm_message).toMatch(/invalid/i);
    // HubSpot's message names the address; the store keeps it without the address.
    expect(errors[0]?.crm_message).not.toContain('@initech.test');
  });
});
