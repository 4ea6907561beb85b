/** The HubSpot sandbox's search endpoints: filters, association pseudo-properties, paging, limits, rate limit. */
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { call, expectHubspotError, resultsOf, specCall, type CallResult } from './hubspot-helpers';

const CONTACTS = '/crm/v3/objects/contacts/search';
const COMPANIES = '/crm/v3/objects/companies/search';
const DEALS = '/crm/v3/objects/deals/search';

type Filter = { propertyName: string; operator: string; value?: string; highValue?: string; values?: string[] };

function request(filterGroups: Array<{ filters: Filter[] }>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { filterGroups, properties: [], sorts: [], limit: 100, after: '0', ...extra };
}

const emails = (res: CallResult): string[] => resultsOf(res).map((r) => r.properties.email ?? '');

describe('HubSpot sandbox search', () => {
  let sb: HubspotSandbox;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false });
    sb.seedProperty('contacts', { name: 'leadpipe_intent_score', type: 'number', fieldType: 'number' });
    const contacts = sb.seedContacts([
      { properties: { email: 'jane@acme.com', firstname: 'Jane', jobtitle: 'VP Sales', leadpipe_intent_score: '87' }, createdAt: '2024-01-01T00:00:00Z' },
      { properties: { email: 'raj@globex.io', firstname: 'Raj', leadpipe_intent_score: '55' }, createdAt: '2024-02-01T00:00:00Z' },
      { properties: { email: 'sam@acme.com', firstname: 'Sam', jobtitle: 'Founder', leadpipe_intent_score: '9' }, createdAt: '2024-03-01T00:00:00Z' },
      { properties: { email: 'lee@initech.com' }, createdAt: '2024-04-01T00:00:00Z' },
    ]);
    contacts.forEach((c) => (ids[c.properties.email ?? ''] = c.id));
    const [acme, globex] = sb.seedCompanies([{ properties: { name: 'Acme Inc.', domain: 'acme.com' } }, { properties: { name: 'Globex', domain: 'globex.io' } }]);
    ids.acme = acme?.id ?? '';
    ids.globex = globex?.id ?? '';
    sb.associate('contacts', ids['jane@acme.com'] ?? '', 'companies', ids.acme);
    const deals = sb.seedDeals([
      { properties: { dealname: 'Acme deal', dealstage: 'qualifiedtobuy' }, associations: { contacts: [ids['jane@acme.com'] ?? ''], companies: [ids.acme] } },
      { properties: { dealname: 'Globex deal', dealstage: 'closedwon', hs_priority: 'high' }, associations: { contacts: [ids['raj@globex.io'] ?? ''] } },
      { properties: { dealname: 'Company-only deal', dealstage: 'contractsent' }, associations: { companies: [ids.globex] } },
    ]);
    deals.forEach((d, i) => (ids[`deal${i}`] = d.id));
  });
  afterAll(async () => {
    await sb.close();
  });

  it('EQ and IN compare strings case-insensitively; the body matches the spec', async () => {
    const eq = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'JANE@acme.com' }] }], { properties: ['email', 'jobtitle'] }));
    expect(eq.status).toBe(200);
    expect(eq.body.total).toBe(1);
    expect(resultsOf(eq)[0]?.properties).toEqual({
      email: 'jane@acme.com',
      jobtitle: 'VP Sales',
      hs_object_id: ids['jane@acme.com'],
      createdate: '2024-01-01T00:00:00.000Z',
      lastmodifieddate: '2024-01-01T00:00:00.000Z',
    });
    const inList = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'email', operator: 'IN', values: ['Raj@Globex.io', 'lee@initech.com', 'nobody@x.com'] }] }]));
    expect(emails(inList)).toEqual(['raj@globex.io', 'lee@initech.com']);
    expect(sb.requestCount('searchContacts')).toBe(2);
  });

  it('NEQ / NOT_IN include records without the value; HAS_PROPERTY / NOT_HAS_PROPERTY', async () => {
    const neq = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'jobtitle', operator: 'NEQ', value: 'founder' }] }]));
    expect(emails(neq)).toEqual(['jane@acme.com', 'raj@globex.io', 'lee@initech.com']);
    const notIn = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'firstname', operator: 'NOT_IN', values: ['jane', 'raj'] }] }]));
    expect(emails(notIn)).toEqual(['sam@acme.com', 'lee@initech.com']);
    const has = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'jobtitle', operator: 'HAS_PROPERTY' }] }]));
    expect(emails(has)).toEqual(['jane@acme.com', 'sam@acme.com']);
    const hasNot = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'jobtitle', operator: 'NOT_HAS_PROPERTY' }] }]));
    expect(emails(hasNot)).toEqual(['raj@globex.io', 'lee@initech.com']);
  });

  it('numbers and dates compare by value: LT, GTE, BETWEEN (ISO or epoch ms)', async () => {
    // '9' < '55' numerically, not as strings.
    const lt = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'leadpipe_intent_score', operator: 'LT', value: '55' }] }]));
    expect(emails(lt)).toEqual(['sam@acme.com']);
    const gte = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'leadpipe_intent_score', operator: 'GTE', value: '55' }] }]));
    expect(emails(gte)).toEqual(['jane@acme.com', 'raj@globex.io']);
    const between = await specCall(
      sb,
      'POST',
      CONTACTS,
      request([{ filters: [{ propertyName: 'createdate', operator: 'BETWEEN', value: String(Date.parse('2024-01-15T00:00:00Z')), highValue: '2024-03-01T00:00:00Z' }] }]),
    );
    expect(emails(between)).toEqual(['raj@globex.io', 'sam@acme.com']);
  });

  it('CONTAINS_TOKEN matches words and wildcards; groups are ORed, filters ANDed', async () => {
    const token = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'email', operator: 'CONTAINS_TOKEN', value: '*@acme.com' }] }]));
    expect(emails(token)).toEqual(['jane@acme.com', 'sam@acme.com']);
    const word = await specCall(sb, 'POST', COMPANIES, request([{ filters: [{ propertyName: 'name', operator: 'CONTAINS_TOKEN', value: 'ACME' }] }], { properties: ['name'] }));
    expect(resultsOf(word).map((r) => r.properties.name)).toEqual(['Acme Inc.']);
    const or = await specCall(
      sb,
      'POST',
      CONTACTS,
      request([
        {
          filters: [
            { propertyName: 'email', operator: 'CONTAINS_TOKEN', value: 'acme' },
            { propertyName: 'leadpipe_intent_score', operator: 'GT', value: '50' },
          ],
        },
        { filters: [{ propertyName: 'email', operator: 'EQ', value: 'lee@initech.com' }] },
      ]),
    );
    expect(emails(or)).toEqual(['jane@acme.com', 'lee@initech.com']);
  });

  it('filters by association pseudo-properties (EQ and IN with record ids)', async () => {
    const byContact = await specCall(
      sb,
      'POST',
      DEALS,
      request([{ filters: [{ propertyName: 'associations.contact', operator: 'IN', values: [ids['jane@acme.com'] ?? '', ids['raj@globex.io'] ?? ''] }] }], {
        properties: ['dealname', 'hs_is_closed'],
      }),
    );
    expect(resultsOf(byContact).map((r) => [r.properties.dealname, r.properties.hs_is_closed])).toEqual([
      ['Acme deal', 'false'],
      ['Globex deal', 'true'],
    ]);
    const byCompany = await specCall(sb, 'POST', DEALS, request([{ filters: [{ propertyName: 'associations.company', operator: 'EQ', value: ids.globex }] }]));
    expect(resultsOf(byCompany).map((r) => r.id)).toEqual([ids.deal2]);
    const contactsOfAcme = await specCall(sb, 'POST', CONTACTS, request([{ filters: [{ propertyName: 'associations.company', operator: 'EQ', value: ids.acme }] }]));
    expect(emails(contactsOfAcme)).toEqual(['jane@acme.com']);
  });

  it('sorts, selects properties and pages with after / paging.next.after / total', async () => {
    const body = request([], { properties: ['email'], sorts: ['-createdate'], limit: 3 });
    const first = await specCall(sb, 'POST', CONTACTS, body);
    expect(first.body.total).toBe(4);
    expect(emails(first)).toEqual(['lee@initech.com', 'sam@acme.com', 'raj@globex.io']);
    const after = (first.body.paging as { next: { after: string } }).next.after;
    const second = await specCall(sb, 'POST', CONTACTS, { ...body, after });
    expect(emails(second)).toEqual(['jane@acme.com']);
    expect(second.body.paging).toBeUndefined();
    // HubSpot also takes the object form of a sort (the spec and the SDK type only strings).
    const asc = await call(sb, 'POST', CONTACTS, request([], { sorts: [{ propertyName: 'leadpipe_intent_score', direction: 'ASCENDING' }] }));
    expect(asc.status).toBe(200);
    // Records without the value sort last.
    expect(emails(asc)).toEqual(['sam@acme.com', 'raj@globex.io', 'jane@acme.com', 'lee@initech.com']);
  });

  it('answers 400 for over-limit pages, filter counts and unknown properties', async () => {
    const bad = async (body: unknown): Promise<CallResult> => {
      const res = await call(sb, 'POST', CONTACTS, body);
      expectHubspotError('POST', CONTACTS, res, 400, 'VALIDATION_ERROR');
      return res;
    };
    const f: Filter = { propertyName: 'email', operator: 'HAS_PROPERTY' };
    await bad(request([], { limit: 201 }));
    await bad(request([], { limit: 100, after: '9950' }));
    expect((await call(sb, 'POST', CONTACTS, request([], { limit: 50, after: '9950' }))).status).toBe(200);
    await bad(request(Array.from({ length: 6 }, () => ({ filters: [f] }))));
    await bad(request([{ filters: Array.from({ length: 11 }, () => f) }]));
    await bad(request(Array.from({ length: 3 }, () => ({ filters: Array.from({ length: 9 }, () => f) }))));
    expect((await call(sb, 'POST', CONTACTS, request(Array.from({ length: 5 }, () => ({ filters: Array.from({ length: 5 }, () => f) }))))).status).toBe(200);
    await bad(request([{ filters: [{ propertyName: 'favourite_colour', operator: 'EQ', value: 'blue' }] }]));
    await bad(request([{ filters: [{ propertyName: 'email', operator: 'IN' }] }]));
  });
});

describe('HubSpot sandbox search rate limit', () => {
  it('allows 5 searches per second per token, outside the 10-second bucket and without rate limit headers', async () => {
    let clock = 1_700_000_000_000;
    const sb = await startHubspotSandbox({ rateLimit: { max: 2 }, now: () => clock });
    try {
      const body = request([]);
      for (let i = 0; i < 5; i++) {
        const res = await specCall(sb, 'POST', CONTACTS, body);
        expect(res.status).toBe(200);
        expect([...res.headers.keys()].filter((h) => h.startsWith('x-hubspot-ratelimit'))).toEqual([]);
        clock += 100;
      }
      const limited = await call(sb, 'POST', COMPANIES, body);
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({
        status: 'error',
        message: 'You have reached your secondly limit.',
        errorType: 'RATE_LIMIT',
        correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        category: 'RATE_LIMITS',
      });
      expect(limited.headers.get('x-hubspot-ratelimit-remaining')).toBeNull();
      expect(sb.state.rateLimited.searchCompanies).toBe(1);

      // The searches did not use the 10-second bucket.
      const props = await call(sb, 'GET', '/crm/v3/properties/contacts');
      expect(props.status).toBe(200);
      expect(props.headers.get('x-hubspot-ratelimit-remaining')).toBe('1');

      clock += 1_000; // the window rolls on
      expect((await call(sb, 'POST', DEALS, body)).status).toBe(200);
    } finally {
      await sb.close();
    }
  });

  it('searchPerSecond: false disables the search limit; rateLimit: false does too unless searchPerSecond is set', async () => {
    for (const options of [{ searchPerSecond: false as const }, { rateLimit: false as const }]) {
      const sb = await startHubspotSandbox({ ...options, now: () => 0 });
      try {
        const statuses = await Promise.all(Array.from({ length: 8 }, () => call(sb, 'POST', CONTACTS, request([])).then((r) => r.status)));
        expect(statuses.every((s) => s === 200)).toBe(true);
      } finally {
        await sb.close();
      }
    }
    const sb = await startHubspotSandbox({ rateLimit: false, searchPerSecond: 1, now: () => 0 });
    try {
      expect((await call(sb, 'POST', CONTACTS, request([]))).status).toBe(200);
      expect((await call(sb, 'POST', CONTACTS, request([]))).status).toBe(429);
    } finally {
      await sb.close();
    }
  });
});
