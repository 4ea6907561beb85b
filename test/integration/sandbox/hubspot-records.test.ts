/**
 * The HubSpot sandbox, part 2: companies, contacts and deals batch read / upsert / update / create, the
 * idProperty rules and per-property value validation. Every request and success body is checked against
 * HubSpot's specs (test/helpers/openapi.ts).
 */
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { call, errorsOf, expectHubspotError, resultsOf, specCall } from './hubspot-helpers';

const COMPANIES = '/crm/v3/objects/companies';
const CONTACTS = '/crm/v3/objects/contacts';
const DEALS = '/crm/v3/objects/deals';

describe('HubSpot sandbox: companies', () => {
  let sb: HubspotSandbox;

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false });
    sb.seedProperty('companies', { name: 'leadpipe_company_domain', label: 'Leadpipe domain', hasUniqueValue: true });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('upserts on a unique property: created (new: true), then updated (new: false)', async () => {
    const first = await specCall(sb, 'POST', `${COMPANIES}/batch/upsert`, {
      inputs: [
        { idProperty: 'leadpipe_company_domain', id: 'acme.com', properties: { name: 'Acme', domain: 'acme.com' } },
        { idProperty: 'leadpipe_company_domain', id: 'globex.io', properties: { name: 'Globex' } },
      ],
    });
    expect(first.status).toBe(200);
    const created = resultsOf(first);
    expect(created.map((r) => r.new)).toEqual([true, true]);
    expect(created[0]?.properties).toMatchObject({ name: 'Acme', domain: 'acme.com', leadpipe_company_domain: 'acme.com' });
    expect(created[0]?.properties.hs_lastmodifieddate).toBeDefined();

    const second = await specCall(sb, 'POST', `${COMPANIES}/batch/upsert`, {
      inputs: [{ idProperty: 'leadpipe_company_domain', id: 'acme.com', properties: { linkedin_company_page: 'https://linkedin.com/company/acme' } }],
    });
    expect(second.status).toBe(200);
    expect(resultsOf(second)[0]).toMatchObject({ id: created[0]?.id, new: false });
    expect(sb.companyById(created[0]?.id ?? '')?.properties).toMatchObject({ name: 'Acme', linkedin_company_page: 'https://linkedin.com/company/acme' });
    expect(sb.requestCount('batchUpsertCompanies')).toBe(2);
  });

  it('refuses upsert by the non-unique domain with HubSpot’s message', async () => {
    const route = `${COMPANIES}/batch/upsert`;
    const res = await call(sb, 'POST', route, { inputs: [{ idProperty: 'domain', id: 'acme.com', properties: {} }] });
    expectHubspotError('POST', route, res, 400, 'VALIDATION_ERROR');
    expect(res.body.message).toBe('Unable to perform update/upsert by non-unique 0-2 property domain');
    const read = await call(sb, 'POST', `${COMPANIES}/batch/read`, { idProperty: 'domain', inputs: [{ id: 'acme.com' }], properties: [], propertiesWithHistory: [] });
    expect(read.status).toBe(400);
  });

  it('batch create (201), then batch read by id: 200 with the default properties, 207 for a missing id', async () => {
    const created = await specCall(sb, 'POST', `${COMPANIES}/batch/create`, {
      inputs: [{ properties: { name: 'Initech', domain: 'initech.com', industry: 'COMPUTER_SOFTWARE' }, associations: [] }],
    });
    expect(created.status).toBe(201);
    const id = resultsOf(created)[0]?.id ?? '';
    expect(id).toMatch(/^\d+$/);

    const read = await specCall(sb, 'POST', `${COMPANIES}/batch/read`, { inputs: [{ id }], properties: [], propertiesWithHistory: [] });
    expect(read.status).toBe(200);
    expect(Object.keys(resultsOf(read)[0]?.properties ?? {}).sort()).toEqual(['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name']);

    const partial = await specCall(sb, 'POST', `${COMPANIES}/batch/read`, { inputs: [{ id }, { id: '1' }], properties: ['name'], propertiesWithHistory: [] });
    expect(partial.status).toBe(207);
    expect(errorsOf(partial)).toEqual([expect.objectContaining({ category: 'OBJECT_NOT_FOUND', context: { ids: ['1'] } })]);
  });

  it('batch update by id: 207 with OBJECT_NOT_FOUND for a missing id, the others written', async () => {
    const [initech] = sb.listCompanies().filter((c) => c.properties.domain === 'initech.com');
    const res = await specCall(sb, 'POST', `${COMPANIES}/batch/update`, {
      inputs: [
        { id: initech?.id ?? '', properties: { numberofemployees: '250' } },
        { id: '4242', properties: { name: 'Ghost' } },
      ],
    });
    expect(res.status).toBe(207);
    expect(resultsOf(res).map((r) => r.id)).toEqual([initech?.id]);
    expect(errorsOf(res)).toEqual([expect.objectContaining({ category: 'OBJECT_NOT_FOUND', context: { ids: ['4242'] } })]);
    expect(sb.companyById(initech?.id ?? '')?.properties.numberofemployees).toBe('250');

    const all = await specCall(sb, 'POST', `${COMPANIES}/batch/update`, { inputs: [{ id: initech?.id ?? '', properties: { city: 'Austin' } }] });
    expect(all.status).toBe(200);
  });

  it('rejects duplicate ids and more than 100 inputs with 400, writing nothing', async () => {
    const [initech] = sb.listCompanies().filter((c) => c.properties.domain === 'initech.com');
    const route = `${COMPANIES}/batch/update`;
    const dup = await call(sb, 'POST', route, {
      inputs: [
        { id: initech?.id, properties: { city: 'A' } },
        { id: initech?.id, properties: { city: 'B' } },
      ],
    });
    expectHubspotError('POST', route, dup, 400, 'VALIDATION_ERROR');
    expect(dup.body.message).toMatch(/Duplicate IDs found in batch input/);
    const before = sb.listCompanies().length;
    const many = await call(sb, 'POST', `${COMPANIES}/batch/create`, { inputs: Array.from({ length: 101 }, (_, i) => ({ properties: { name: `Bulk ${i}` } })) });
    expect(many.status).toBe(400);
    expect(sb.listCompanies()).toHaveLength(before);
  });

  it('fails only the input with an invalid value (207 VALIDATION_ERROR, context.propertyName)', async () => {
    const res = await specCall(sb, 'POST', `${COMPANIES}/batch/upsert`, {
      inputs: [
        { idProperty: 'leadpipe_company_domain', id: 'umbrella.com', properties: { name: 'Umbrella', industry: 'software development' } },
        { idProperty: 'leadpipe_company_domain', id: 'hooli.com', properties: { name: 'Hooli', numberofemployees: 'many' } },
        { idProperty: 'leadpipe_company_domain', id: 'vandelay.com', properties: { name: 'Vandelay', numberofemployees: '12', industry: 'RETAIL' } },
      ],
    });
    expect(res.status).toBe(207);
    expect(resultsOf(res).map((r) => r.properties.name)).toEqual(['Vandelay']);
    const [industry, employees] = errorsOf(res);
    expect(industry).toMatchObject({ category: 'VALIDATION_ERROR', context: { propertyName: ['industry'], id: ['umbrella.com'] } });
    expect(industry?.message).toMatch(/^Property values were not valid: \[\{"isValid":false,"message":"software development was not one of the allowed options: \[ACCOUNTING, /);
    expect(industry?.message).toContain('"error":"INVALID_OPTION","name":"industry"');
    expect(employees).toMatchObject({ context: { propertyName: ['numberofemployees'], id: ['hooli.com'] } });
    expect(employees?.message).toContain('INVALID_LONG');
    expect(sb.listCompanies().map((c) => c.properties.name)).not.toContain('Umbrella');
  });

  it('rejects unknown and read-only properties for the whole batch', async () => {
    const route = `${COMPANIES}/batch/create`;
    const unknown = await call(sb, 'POST', route, { inputs: [{ properties: { name: 'X', favourite_colour: 'blue' } }] });
    expectHubspotError('POST', route, unknown, 400, 'VALIDATION_ERROR');
    expect(unknown.body.message).toContain('PROPERTY_DOESNT_EXIST');
    const readOnly = await call(sb, 'POST', route, { inputs: [{ properties: { name: 'X', hs_lastmodifieddate: '2024-01-01T00:00:00Z' } }] });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body.message).toContain('READ_ONLY_VALUE');
  });
});

describe('HubSpot sandbox: contacts', () => {
  let sb: HubspotSandbox;

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false });
    sb.seedProperty('contacts', {
      name: 'leadpipe_topics',
      type: 'enumeration',
      fieldType: 'checkbox',
      options: ['crm', 'abm', 'intent'].map((value) => ({ label: value, value, hidden: false })),
    });
    sb.seedProperty('contacts', { name: 'leadpipe_last_intent_at', type: 'datetime', fieldType: 'date' });
    sb.seedProperty('contacts', { name: 'leadpipe_first_seen', type: 'date', fieldType: 'date' });
    sb.seedProperty('contacts', { name: 'leadpipe_hashed_email', hasUniqueValue: true });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('fails an invalid email alone (207 INVALID_EMAIL, HubSpot’s message) and writes the other inputs', async () => {
    const res = await specCall(sb, 'POST', `${CONTACTS}/batch/upsert`, {
      inputs: [
        { idProperty: 'email', id: 'josé@acme.com', properties: { firstname: 'José' } },
        { idProperty: 'email', id: 'ok@acme.com', properties: { firstname: 'Ok' } },
        { idProperty: 'email', id: 'not-an-email', properties: {}, objectWriteTraceId: 'row-3' },
        { idProperty: 'email', id: 'double..dot@acme.com', properties: {} },
      ],
    });
    expect(res.status).toBe(207);
    expect(resultsOf(res).map((r) => r.properties.email)).toEqual(['ok@acme.com']);
    const errors = errorsOf(res);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatchObject({
      status: 'error',
      category: 'VALIDATION_ERROR',
      message: 'Property values were not valid: [{"isValid":false,"message":"Email address josé@acme.com is invalid","error":"INVALID_EMAIL","name":"email"}]',
      context: { propertyName: ['email'], id: ['josé@acme.com'] },
    });
    expect(errors[1]?.context).toEqual({ propertyName: ['email'], id: ['not-an-email'], objectWriteTraceId: ['row-3'] });
    expect(sb.contactByEmail('not-an-email')).toBeUndefined();
  });

  it('takes an invalidEmail override', async () => {
    const strict = await startHubspotSandbox({ rateLimit: false, invalidEmail: (email) => email.endsWith('@blocked.test') });
    try {
      const res = await specCall(strict, 'POST', `${CONTACTS}/batch/upsert`, {
        inputs: [
          { idProperty: 'email', id: 'josé@acme.com', properties: {} },
          { idProperty: 'email', id: 'a@blocked.test', properties: {} },
        ],
      });
      expect(res.status).toBe(207);
      expect(resultsOf(res).map((r) => r.properties.email)).toEqual(['josé@acme.com']);
    } finally {
      await strict.close();
    }
  });

  it('validates enumeration (checkbox, ;-separated), datetime and date values', async () => {
    const res = await specCall(sb, 'POST', `${CONTACTS}/batch/upsert`, {
      inputs: [
        { idProperty: 'email', id: 'multi@acme.com', properties: { leadpipe_topics: 'crm;intent', leadpipe_last_intent_at: '2024-05-01T10:00:00Z' } },
        { idProperty: 'email', id: 'epoch@acme.com', properties: { leadpipe_last_intent_at: '1714557600000', leadpipe_first_seen: '2024-05-01' } },
        { idProperty: 'email', id: 'badopt@acme.com', properties: { leadpipe_topics: 'crm;seo' } },
        { idProperty: 'email', id: 'baddate@acme.com', properties: { leadpipe_last_intent_at: 'yesterday' } },
        { idProperty: 'email', id: 'notmidnight@acme.com', properties: { leadpipe_first_seen: '2024-05-01T10:00:00Z' } },
      ],
    });
    expect(res.status).toBe(207);
    expect(resultsOf(res).map((r) => r.properties.email)).toEqual(['multi@acme.com', 'epoch@acme.com']);
    expect(errorsOf(res).map((e) => /"error":"(\w+)"/.exec(e.message)?.[1])).toEqual(['INVALID_OPTION', 'INVALID_DATETIME', 'INVALID_DATE']);
    expect(sb.contactByEmail('epoch@acme.com')?.properties).toMatchObject({
      leadpipe_last_intent_at: '2024-05-01T10:00:00.000Z',
      leadpipe_first_seen: '2024-05-01',
    });
    expect(sb.contactByEmail('multi@acme.com')?.properties.leadpipe_topics).toBe('crm;intent');
  });

  it('batch create: 201, and 409 CONFLICT for an email an existing contact holds', async () => {
    const created = await specCall(sb, 'POST', `${CONTACTS}/batch/create`, {
      inputs: [{ properties: { email: 'New.Person@Acme.com', firstname: 'New' }, associations: [] }],
    });
    expect(created.status).toBe(201);
    expect(resultsOf(created)[0]?.properties.email).toBe('new.person@acme.com');

    const route = `${CONTACTS}/batch/create`;
    const conflict = await call(sb, 'POST', route, { inputs: [{ properties: { email: 'fresh@acme.com' } }, { properties: { email: 'NEW.person@acme.com' } }] });
    expectHubspotError('POST', route, conflict, 409, 'CONFLICT');
    expect(conflict.body.message).toBe(`Contact already exists. Existing ID: ${resultsOf(created)[0]?.id ?? ''}`);
    expect(sb.contactByEmail('fresh@acme.com')).toBeUndefined();
  });

  it('batch update by record id or a unique property; by email it is refused (non-unique 0-1)', async () => {
    const ok = sb.contactByEmail('ok@acme.com');
    const byId = await specCall(sb, 'POST', `${CONTACTS}/batch/update`, {
      inputs: [{ id: ok?.id ?? '', properties: { jobtitle: 'CTO', leadpipe_hashed_email: 'h-ok' } }],
    });
    expect(byId.status).toBe(200);
    expect(resultsOf(byId)[0]?.properties).toMatchObject({ jobtitle: 'CTO', hs_object_id: ok?.id });

    const byUnique = await specCall(sb, 'POST', `${CONTACTS}/batch/update`, {
      inputs: [{ id: 'h-ok', idProperty: 'leadpipe_hashed_email', properties: { phone: '+1 555 0100' } }],
    });
    expect(byUnique.status).toBe(200);
    expect(sb.contactById(ok?.id ?? '')?.properties.phone).toBe('+1 555 0100');

    const route = `${CONTACTS}/batch/update`;
    const byEmail = await call(sb, 'POST', route, { inputs: [{ id: 'ok@acme.com', idProperty: 'email', properties: { jobtitle: 'CEO' } }] });
    expectHubspotError('POST', route, byEmail, 400, 'VALIDATION_ERROR');
    expect(byEmail.body.message).toBe('Unable to perform update/upsert by non-unique 0-1 property email');
  });

  it('counts writes across the write routes', async () => {
    sb.resetRequestCounts();
    await call(sb, 'POST', `${CONTACTS}/batch/read`, { idProperty: 'email', inputs: [{ id: 'ok@acme.com' }], properties: [], propertiesWithHistory: [] });
    expect(sb.writeRequestCount()).toBe(0);
    await call(sb, 'POST', `${CONTACTS}/batch/upsert`, { inputs: [{ idProperty: 'email', id: 'ok@acme.com', properties: {} }] });
    await call(sb, 'POST', `${COMPANIES}/batch/create`, { inputs: [{ properties: { name: 'W' } }] });
    expect(sb.writeRequestCount()).toBe(2);
    expect(sb.requestCount('batchReadContacts')).toBe(1);
  });
});

describe('HubSpot sandbox: deals', () => {
  let sb: HubspotSandbox;
  let contactId: string;
  let openId: string;
  let closedId: string;

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false });
    contactId = sb.seedContacts([{ properties: { email: 'buyer@acme.com' } }])[0]?.id ?? '';
    const [open, closed] = sb.seedDeals([
      { properties: { dealname: 'Acme – New business', dealstage: 'qualifiedtobuy' }, associations: { contacts: [contactId] } },
      { properties: { dealname: 'Acme – Renewal', dealstage: 'closedwon', hs_priority: 'low' } },
    ]);
    openId = open?.id ?? '';
    closedId = closed?.id ?? '';
  });
  afterAll(async () => {
    await sb.close();
  });

  it('seeds the default pipeline with its stages and derives hs_is_closed', async () => {
    const stage = await specCall(sb, 'GET', '/crm/v3/properties/deals/dealstage');
    expect((stage.body.options as Array<{ value: string }>).map((o) => o.value)).toEqual([
      'appointmentscheduled',
      'qualifiedtobuy',
      'presentationscheduled',
      'decisionmakerboughtin',
      'contractsent',
      'closedwon',
      'closedlost',
    ]);
    const read = await specCall(sb, 'POST', `${DEALS}/batch/read`, {
      inputs: [{ id: openId }, { id: closedId }],
      properties: ['dealstage', 'hs_priority', 'hs_is_closed', 'pipeline'],
      propertiesWithHistory: [],
    });
    expect(read.status).toBe(200);
    expect(resultsOf(read).map((r) => r.properties)).toEqual([
      { dealstage: 'qualifiedtobuy', hs_is_closed: 'false', pipeline: 'default' },
      { dealstage: 'closedwon', hs_priority: 'low', hs_is_closed: 'true', pipeline: 'default' },
    ]);
    expect(sb.associatedIds('deals', openId, 'contacts')).toEqual([contactId]);
    expect(sb.associatedIds('contacts', contactId, 'deals')).toEqual([openId]);
  });

  it('batch update: priority and stage (hs_is_closed follows); invalid or wrong-case options fail that input', async () => {
    const res = await specCall(sb, 'POST', `${DEALS}/batch/update`, {
      inputs: [
        { id: openId, properties: { hs_priority: 'high', dealstage: 'closedlost' } },
        { id: closedId, properties: { hs_priority: 'HIGH' } },
      ],
    });
    expect(res.status).toBe(207);
    expect(resultsOf(res)[0]?.properties).toMatchObject({ hs_priority: 'high', dealstage: 'closedlost', hs_is_closed: 'true' });
    expect(errorsOf(res)[0]?.message).toContain('HIGH was not one of the allowed options: [low, medium, high]');
    expect(sb.dealById(closedId)?.properties.hs_priority).toBe('low');

    const route = `${DEALS}/batch/update`;
    const readOnly = await call(sb, 'POST', route, { inputs: [{ id: openId, properties: { hs_is_closed: 'false' } }] });
    expectHubspotError('POST', route, readOnly, 400, 'VALIDATION_ERROR');
    expect(readOnly.body.message).toContain('READ_ONLY_VALUE');
  });

  it('answers on the 0-3 object type id too, and creates deals with associations', async () => {
    const read = await specCall(sb, 'POST', '/crm/v3/objects/0-3/batch/read', { inputs: [{ id: openId }], properties: ['dealname'], propertiesWithHistory: [] });
    expect(read.status).toBe(200);
    const created = await specCall(sb, 'POST', `${DEALS}/batch/create`, {
      inputs: [
        {
          properties: { dealname: 'Acme – Pilot', dealstage: 'appointmentscheduled', amount: '5000' },
          associations: [{ to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }] }],
        },
        { properties: { dealname: 'Ghost' }, associations: [{ to: { id: '1' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }] }] },
      ],
    });
    expect(created.status).toBe(207);
    const newId = resultsOf(created)[0]?.id ?? '';
    expect(sb.associatedIds('contacts', contactId, 'deals')).toEqual([openId, newId]);
    expect(errorsOf(created)[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { toObjectId: ['1'] } });
    expect(sb.listDeals().map((d) => d.properties.dealname)).not.toContain('Ghost');
  });
});
