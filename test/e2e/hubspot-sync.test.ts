/**
 * Syncs into the HubSpot sandbox through the real SDK, asserting the portal's state afterwards: who was
 * created or enriched, what was kept, which deals were raised — not only the counts.
 */
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/server';
import { hashEmail } from '../../src/ingest/hash-email';
import { cutFirstAnswer } from './helpers/cut-answer';
import { harness, testConfig, tmpDir, writeCsv, type Harness, type Row } from './helpers/hubspot-sync';

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

  it('a new contact whose create was applied but whose answer was lost is counted created when the retry finds it; one made by someone else since our read is counted updated', async () => {
    const stop = cutFirstAnswer(sb, 'batchUpsertContacts');
    const lost = await h.sync(writeCsv(dir, 'lost-answer.csv', [BOB, CARA]));
    stop();
    // Sent twice: the lost answer, then the retry that found both contacts.
    expect(sb.requestCount('batchUpsertContacts')).toBe(2);
    expect(lost).toMatchObject({ status: 'succeeded', created: 2, updated: 0 });
    expect(sb.listContacts()).toHaveLength(2);

    // Someone adds Dan between orbit-sync's read and its write: the upsert (sent once) finds him.
    const stopRace = sb.observe((event) => {
      if (event.route === 'batchUpsertContacts' && event.phase === 'received' && sb.listContacts().every((c) => c.properties.email !== 'dan@acme.test')) sb.seedContacts([{ properties: { email: 'dan@acme.test' } }]);
    });
    const raced = await h.sync(writeCsv(dir, 'race.csv', [DAN]));
    stopRace();
    expect(sb.requestCount('batchUpsertContacts')).toBe(3);
    expect(raced).toMatchObject({ status: 'succeeded', created: 0, updated: 1 });
    expect(sb.listContacts().filter((c) => c.properties.email === 'dan@acme.test')).toHaveLength(1);
  });

  it('a contact created by a send whose answer was lost is still counted created when its retry fails alone and a later call finds it', async () => {
    // Send 1: carried out, answer lost. Send 2 (the retry): every record fails alone. Send 3 (those records again): finds them.
    const stop = cutFirstAnswer(sb, 'batchUpsertContacts', { next: { partial: 1 } });
    const summary = await h.sync(writeCsv(dir, 'lost-then-partial.csv', [BOB, CARA]));
    stop();
    expect(sb.requestCount('batchUpsertContacts')).toBe(3);
    expect(summary).toMatchObject({ status: 'succeeded', created: 2, updated: 0 });
    expect(sb.listContacts()).toHaveLength(2);
  });
});

describe('HubSpot’s limits, met for real', () => {
  const dir = tmpDir();
  const rows = (n: number, score = 70): Row[] => Array.from({ length: n }, (_, i) => ({ email: `lead${i}@umbrella.test`, firstName: `lead${i}`, score }));

  it('a run in which 5% of people changed writes only those: one upsert with exactly those records', async () => {
    const sb = await startHubspotSandbox({ rateLimit: { max: 1000 } });
    const h = await harness(sb);
    try {
      await h.setup();
      const people = rows(200);
      await h.sync(writeCsv(dir, 'five-1.csv', people));
      const before = new Map(sb.listContacts().map((c) => [c.properties.email, c.properties.lastmodifieddate]));
      const upserts = sb.requestCount('batchUpsertContacts');
      const summary = await h.sync(writeCsv(dir, 'five-2.csv', people.map((p, i) => (i % 20 === 3 ? { ...p, score: 97 } : p))));
      expect(summary).toMatchObject({ unchanged: 190, updated: 10, created: 0, failed: 0 });
      expect(sb.requestCount('batchUpsertContacts') - upserts).toBe(1);
      const touched = sb.listContacts().filter((c) => before.get(c.properties.email) !== c.properties.lastmodifieddate);
      expect(touched.map((c) => c.properties.email).sort()).toEqual(people.filter((_, i) => i % 20 === 3).map((p) => p.email).sort());
      expect(touched.every((c) => c.properties.leadpipe_intent_score === '97')).toBe(true);
    } finally {
      await h.close();
      await sb.close();
    }
  });

  it('when a portal’s ten-second limit is lower than configured, every 429 is waited out and the sync completes', async () => {
    // orbit-sync believes it may send 100 per 10 s; this portal allows 12 per 2 s.
    const sb = await startHubspotSandbox({ rateLimit: { max: 12, intervalMs: 2000 } });
    const config = testConfig(sb);
    config.hubspot.retry = { ...config.hubspot.retry, maxAttempts: 10 };
    const h = await harness(sb, config);
    try {
      await h.setup();
      const summary = await h.sync(writeCsv(dir, 'throttled.csv', rows(250)));
      const throttled = Object.values(sb.state.rateLimited).reduce((a, b) => a + b, 0);
      expect(throttled).toBeGreaterThan(0);
      expect(summary).toMatchObject({ status: 'succeeded', created: 250, failed: 0 });
      // The summary counts the sync's own 429s (setup met some too).
      expect(summary.rateLimited).toBeGreaterThan(0);
      expect(summary.rateLimited).toBeLessThanOrEqual(throttled);
      expect(sb.listContacts()).toHaveLength(250);
    } finally {
      await h.close();
      await sb.close();
    }
  }, 90_000);

  it('HubSpot’s daily limit stops the sync as partial, says when it can go on, and the next day’s sync finishes it', async () => {
    // Groups of 100 people, 8 in flight at once (twice hubspot.maxConcurrent): the day’s calls run out
    // after the first round of groups is done and before the run is.
    const PEOPLE = 2400;
    const sb = await startHubspotSandbox({ rateLimit: { max: 1000, daily: 70 } });
    const config = testConfig(sb);
    config.hubspot.peoplePerWrite = 100;
    const h = await harness(sb, config);
    try {
      await h.setup();
      const file = writeCsv(dir, 'daily.csv', rows(PEOPLE));
      const stopped = await h.sync(file);
      expect(stopped.status).toBe('partial');
      expect(stopped.message).toMatch(/daily API limit.*resets at midnight in the portal's time zone/);
      expect(stopped.rows).toBe(stopped.quarantined + stopped.duplicates + stopped.unchanged + stopped.created + stopped.updated + stopped.skipped + stopped.failed);
      expect(stopped.created).toBeGreaterThan(0);
      expect(stopped.created).toBeLessThan(PEOPLE);
      // The group in flight may have reached HubSpot without being recorded: it is sent again, as upserts.
      expect(sb.listContacts().length).toBeGreaterThanOrEqual(stopped.created);

      sb.startNewDay();
      const next = await h.sync(file);
      expect(next).toMatchObject({ status: 'succeeded', failed: 0, skipped: 0 });
      // Recorded people are unchanged by the ledger; people of the group in flight are found in HubSpot
      // already up to date (nothing sent); the rest are created.
      expect(next.unchanged).toBeGreaterThanOrEqual(stopped.created);
      expect(next.unchanged + next.created + next.updated).toBe(PEOPLE);
      const emails = sb.listContacts().map((c) => c.properties.email);
      expect(emails).toHaveLength(PEOPLE);
      expect(new Set(emails).size).toBe(PEOPLE);
    } finally {
      await h.close();
      await sb.close();
    }
  });
});
