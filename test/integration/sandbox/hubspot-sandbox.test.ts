/**
 * The HubSpot sandbox, part 1 (auth, rate limit, properties, contacts batch read/upsert), driven with plain
 * fetch. Success bodies are checked against HubSpot's own OpenAPI schemas (../shared/specs/hubspot) with
 * test/helpers/openapi.ts. Part 2 lives beside it: hubspot-records, -search, -associations, -oauth, -sdk
 * and -seed-portal.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { componentViolations, HUBSPOT_SPECS_DIR, loadSpec, schemaViolations, type OpenApiSpec } from '../../helpers/openapi';

type Spec = OpenApiSpec;

function expectSchema(spec: Spec, name: string, value: unknown): void {
  expect(componentViolations(spec.file, name, value)).toEqual([]);
}

// --- helpers --------------------------------------------------------------------------------------------

interface Json {
  [key: string]: unknown;
}

async function call(sb: HubspotSandbox, method: string, route: string, body?: unknown, token: string | null = sb.accessToken) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${sb.url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

/** HubSpot's error body: the spec's `Error` (category, correlationId, message) plus status 'error'. */
function expectHubspotError(spec: Spec, body: Json, category: string): void {
  expect(body.status).toBe('error');
  expect(body.category).toBe(category);
  expect(body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  expectSchema(spec, 'Error', body);
}

const UPSERT = '/crm/v3/objects/contacts/batch/upsert';
const READ = '/crm/v3/objects/contacts/batch/read';

describe('HubSpot sandbox (part 1)', () => {
  let sb: HubspotSandbox;
  let contactsSpec: Spec;
  let propertiesSpec: Spec;

  beforeAll(async () => {
    // ../shared/specs is beside every checkout: a missing folder fails here rather than skipping.
    expect(existsSync(path.join(HUBSPOT_SPECS_DIR, 'crm-contacts-v3.json'))).toBe(true);
    contactsSpec = loadSpec('crm-contacts-v3.json');
    propertiesSpec = loadSpec('crm-properties-v3.json');
    sb = await startHubspotSandbox({ rateLimit: false });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('listens on loopback and answers 401 INVALID_AUTHENTICATION without a valid bearer token', async () => {
    expect(sb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const missing = await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, null);
    expect(missing.status).toBe(401);
    expectHubspotError(propertiesSpec, missing.body, 'INVALID_AUTHENTICATION');
    const wrong = await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, 'pat-wrong');
    expect(wrong.status).toBe(401);
    expectHubspotError(propertiesSpec, wrong.body, 'INVALID_AUTHENTICATION');
    expect(sb.state.contacts).toEqual([]);
  });

  it('lists and reads properties per the spec, 404 for a missing one', async () => {
    const list = await call(sb, 'GET', '/crm/v3/properties/contacts');
    expect(list.status).toBe(200);
    expectSchema(propertiesSpec, 'CollectionResponsePropertyNoPaging', list.body);
    const names = (list.body.results as Array<{ name: string }>).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['email', 'firstname', 'lastname', 'jobtitle', 'phone', 'company', 'hs_linkedin_url']));

    const email = await call(sb, 'GET', '/crm/v3/properties/contacts/email');
    expect(email.status).toBe(200);
    expectSchema(propertiesSpec, 'Property', email.body);

    const missing = await call(sb, 'GET', '/crm/v3/properties/contacts/no_such_property');
    expect(missing.status).toBe(404);
    expectHubspotError(propertiesSpec, missing.body, 'OBJECT_NOT_FOUND');
  });

  it('creates a property group (201), then 409 for the same name', async () => {
    const group = { name: 'leadpipe', label: 'Leadpipe Intent', displayOrder: -1 };
    const created = await call(sb, 'POST', '/crm/v3/properties/contacts/groups', group);
    expect(created.status).toBe(201);
    expectSchema(propertiesSpec, 'PropertyGroup', created.body);
    expect(created.body).toMatchObject({ ...group, archived: false });

    const again = await call(sb, 'POST', '/crm/v3/properties/contacts/groups', group);
    expect(again.status).toBe(409);
    expectHubspotError(propertiesSpec, again.body, 'OBJECT_ALREADY_EXISTS');

    const list = await call(sb, 'GET', '/crm/v3/properties/contacts/groups');
    expect(list.status).toBe(200);
    expectSchema(propertiesSpec, 'CollectionResponsePropertyGroupNoPaging', list.body);
    expect((list.body.results as Array<{ name: string }>).map((g) => g.name)).toContain('leadpipe');
    expect(sb.state.groups.contacts.map((g) => g.name)).toContain('leadpipe');
  });

  it('creates a property (201), then 409 with HubSpot’s conflict body; rejects a bad type/fieldType pair', async () => {
    const property = { name: 'leadpipe_intent_score', label: 'Intent score', type: 'number', fieldType: 'number', groupName: 'leadpipe' };
    const created = await call(sb, 'POST', '/crm/v3/properties/contacts', property);
    expect(created.status).toBe(201);
    expectSchema(propertiesSpec, 'Property', created.body);
    expect(created.body).toMatchObject({ ...property, hasUniqueValue: false, options: [] });

    const again = await call(sb, 'POST', '/crm/v3/properties/contacts', property);
    expect(again.status).toBe(409);
    expectHubspotError(propertiesSpec, again.body, 'OBJECT_ALREADY_EXISTS');
    expect(again.body.message).toContain('leadpipe_intent_score');

    const fetched = await call(sb, 'GET', '/crm/v3/properties/contacts/leadpipe_intent_score');
    expect(fetched.body).toMatchObject(property);

    const mismatch = await call(sb, 'POST', '/crm/v3/properties/contacts', { ...property, name: 'leadpipe_bad', fieldType: 'text' });
    expect(mismatch.status).toBe(400);
    expectHubspotError(propertiesSpec, mismatch.body, 'VALIDATION_ERROR');
  });

  it('honours hasUniqueValue: the property can key an upsert, a non-unique one cannot', async () => {
    const key = { name: 'leadpipe_company_key', label: 'Company key', type: 'string', fieldType: 'text', groupName: 'leadpipe', hasUniqueValue: true };
    const created = await call(sb, 'POST', '/crm/v3/properties/companies', {
      ...key,
      groupName: 'companyinformation',
    });
    expect(created.status).toBe(201);
    expect(created.body.hasUniqueValue).toBe(true);

    const unique = await call(sb, 'POST', '/crm/v3/properties/contacts', { ...key, name: 'leadpipe_hashed_email' });
    expect(unique.status).toBe(201);
    const byKey = await call(sb, 'POST', UPSERT, {
      inputs: [{ idProperty: 'leadpipe_hashed_email', id: 'hash-1', properties: { email: 'keyed@acme.com' } }],
    });
    expect(byKey.status).toBe(200);
    const again = await call(sb, 'POST', UPSERT, {
      inputs: [{ idProperty: 'leadpipe_hashed_email', id: 'hash-1', properties: { jobtitle: 'CTO' } }],
    });
    expect((again.body.results as Array<{ new: boolean }>)[0]?.new).toBe(false);
    expect(sb.contactByEmail('keyed@acme.com')?.properties).toMatchObject({ leadpipe_hashed_email: 'hash-1', jobtitle: 'CTO' });

    const nonUnique = await call(sb, 'POST', UPSERT, { inputs: [{ idProperty: 'jobtitle', id: 'CTO', properties: {} }] });
    expect(nonUnique.status).toBe(400);
    expectHubspotError(contactsSpec, nonUnique.body, 'VALIDATION_ERROR');
    expect(nonUnique.body.message).toContain('non-unique');
  });

  it('batch upsert by email creates, then updates the same contact for a differently-cased email (new: false)', async () => {
    const first = await call(sb, 'POST', UPSERT, {
      inputs: [
        { idProperty: 'email', id: 'jane@acme.com', properties: { firstname: 'Jane', jobtitle: 'VP Sales', leadpipe_intent_score: '87' } },
        { idProperty: 'email', id: 'raj@globex.io', properties: { firstname: 'Raj' } },
      ],
    });
    expect(first.status).toBe(200);
    expectSchema(contactsSpec, 'BatchResponseSimplePublicUpsertObject', first.body);
    const created = first.body.results as Array<{ id: string; new: boolean; properties: Record<string, string> }>;
    expect(created.map((r) => r.new)).toEqual([true, true]);
    expect(created[0]?.properties).toMatchObject({ email: 'jane@acme.com', firstname: 'Jane', leadpipe_intent_score: '87' });

    const second = await call(sb, 'POST', UPSERT, {
      inputs: [{ idProperty: 'email', id: 'Jane@ACME.com', properties: { leadpipe_intent_score: '91' } }],
    });
    expect(second.status).toBe(200);
    expectSchema(contactsSpec, 'BatchResponseSimplePublicUpsertObject', second.body);
    const updated = (second.body.results as Array<{ id: string; new: boolean }>)[0];
    expect(updated).toMatchObject({ id: created[0]?.id, new: false });

    const janes = sb.listContacts().filter((c) => c.properties.email === 'jane@acme.com');
    expect(janes).toHaveLength(1);
    expect(janes[0]?.properties).toMatchObject({ firstname: 'Jane', jobtitle: 'VP Sales', leadpipe_intent_score: '91' });
    expect(sb.requestCount('batchUpsertContacts')).toBeGreaterThanOrEqual(2);
  });

  it('batch read by email: 200 when all are found, 207 with an OBJECT_NOT_FOUND error for the missing ones', async () => {
    sb.seedContacts([{ properties: { email: 'Seeded@Personal.com', firstname: 'Sam', jobtitle: 'Founder' } }]);
    const all = await call(sb, 'POST', READ, {
      idProperty: 'email',
      properties: ['email', 'jobtitle'],
      propertiesWithHistory: [],
      inputs: [{ id: 'seeded@personal.com' }, { id: 'JANE@acme.com' }],
    });
    expect(all.status).toBe(200);
    expectSchema(contactsSpec, 'BatchResponseSimplePublicObject', all.body);
    const found = all.body.results as Array<{ properties: Record<string, string> }>;
    expect(found.map((r) => r.properties.email).sort()).toEqual(['jane@acme.com', 'seeded@personal.com']);
    expect(found.find((r) => r.properties.email === 'seeded@personal.com')?.properties).toEqual({
      email: 'seeded@personal.com',
      jobtitle: 'Founder',
    });

    const partial = await call(sb, 'POST', READ, {
      idProperty: 'email',
      properties: ['email'],
      propertiesWithHistory: [],
      inputs: [{ id: 'jane@acme.com' }, { id: 'nobody@nowhere.org' }],
    });
    expect(partial.status).toBe(207);
    expectSchema(contactsSpec, 'BatchResponseSimplePublicObjectWithErrors', partial.body);
    expect(partial.body.numErrors).toBe(1);
    expect((partial.body.results as unknown[]).length).toBe(1);
    expect(partial.body.errors).toEqual([
      expect.objectContaining({ status: 'error', category: 'OBJECT_NOT_FOUND', context: { ids: ['nobody@nowhere.org'] } }),
    ]);
  });

  it('rejects duplicate emails (case-insensitive) in one upsert batch with 400, writing nothing', async () => {
    const before = sb.listContacts().length;
    const res = await call(sb, 'POST', UPSERT, {
      inputs: [
        { idProperty: 'email', id: 'dup@acme.com', properties: { firstname: 'A' } },
        { idProperty: 'email', id: 'DUP@acme.com', properties: { firstname: 'B' } },
      ],
    });
    expect(res.status).toBe(400);
    expectHubspotError(contactsSpec, res.body, 'VALIDATION_ERROR');
    expect(res.body.message).toMatch(/Duplicate IDs found in batch input/);
    expect(sb.listContacts()).toHaveLength(before);
  });

  it('rejects more than 100 inputs with 400', async () => {
    const inputs = Array.from({ length: 101 }, (_, i) => ({ idProperty: 'email', id: `p${i}@bulk.com`, properties: {} }));
    const res = await call(sb, 'POST', UPSERT, { inputs });
    expect(res.status).toBe(400);
    expectHubspotError(contactsSpec, res.body, 'VALIDATION_ERROR');
    expect(sb.contactByEmail('p0@bulk.com')).toBeUndefined();
    const ok = await call(sb, 'POST', UPSERT, { inputs: inputs.slice(0, 100) });
    expect(ok.status).toBe(200);
    expect(ok.body.results as unknown[]).toHaveLength(100);
  });

  it('rejects unknown and read-only property names with PROPERTY_DOESNT_EXIST / READ_ONLY_VALUE', async () => {
    const unknown = await call(sb, 'POST', UPSERT, {
      inputs: [{ idProperty: 'email', id: 'new@acme.com', properties: { firstname: 'N', favourite_colour: 'blue' } }],
    });
    expect(unknown.status).toBe(400);
    expectHubspotError(contactsSpec, unknown.body, 'VALIDATION_ERROR');
    expect(unknown.body.message).toContain('Property values were not valid');
    expect(unknown.body.message).toContain('PROPERTY_DOESNT_EXIST');
    expect(unknown.body.message).toContain('favourite_colour');
    expect(sb.contactByEmail('new@acme.com')).toBeUndefined();

    const readOnly = await call(sb, 'POST', UPSERT, { inputs: [{ idProperty: 'email', id: 'new@acme.com', properties: { hs_object_id: '1' } }] });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body.message).toContain('READ_ONLY_VALUE');
  });

  it('fails only the input whose unique value another contact holds: 207 with a CONFLICT error', async () => {
    const res = await call(sb, 'POST', UPSERT, {
      inputs: [
        { idProperty: 'email', id: 'raj@globex.io', properties: { email: 'jane@acme.com' } },
        { idProperty: 'email', id: 'fresh@acme.com', properties: { firstname: 'Fresh' } },
      ],
    });
    expect(res.status).toBe(207);
    expectSchema(contactsSpec, 'BatchResponseSimplePublicUpsertObjectWithErrors', res.body);
    expect(res.body.numErrors).toBe(1);
    expect((res.body.results as Array<{ properties: Record<string, string> }>).map((r) => r.properties.email)).toEqual(['fresh@acme.com']);
    expect(sb.contactByEmail('raj@globex.io')).toBeDefined();
  });

  it('answers GET /account-info/v3/details with the portal id and time zone', async () => {
    const res = await call(sb, 'GET', '/account-info/v3/details');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ portalId: sb.portalId, timeZone: 'US/Eastern', accountType: 'STANDARD' });
    expect(res.body.utcOffset).toMatch(/^-0[45]:00$/);
    expect((await call(sb, 'GET', '/account-info/v3/details', undefined, null)).status).toBe(401);
    expect(sb.requestCount('accountInfo')).toBe(2);
  });

  it('the schema checker itself flags a missing required field and a wrong type', () => {
    expect(schemaViolations(contactsSpec, { $ref: '#/components/schemas/SimplePublicObject' }, { id: 1, properties: {} })).toEqual(
      expect.arrayContaining(['$: missing required createdAt', '$.id: expected string, got 1']),
    );
  });

  it('answers 400 VALIDATION_ERROR for a body that is not the spec’s shape', async () => {
    const res = await call(sb, 'POST', READ, { idProperty: 'email', inputs: [{ id: 'a@b.com' }] });
    expect(res.status).toBe(400);
    expectHubspotError(contactsSpec, res.body, 'VALIDATION_ERROR');
  });
});

describe('HubSpot sandbox rate limit', () => {
  it('answers 429 TEN_SECONDLY_ROLLING with the X-HubSpot-RateLimit-* headers, then recovers after the window', async () => {
    let clock = 1_700_000_000_000;
    const sb = await startHubspotSandbox({ rateLimit: { max: 3 }, now: () => clock });
    try {
      const remaining: Array<string | null> = [];
      for (let i = 0; i < 3; i++) {
        const ok = await call(sb, 'GET', '/crm/v3/properties/contacts');
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-hubspot-ratelimit-max')).toBe('3');
        expect(ok.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
        // OAuth-style: no daily headers unless a daily limit is configured.
        expect(ok.headers.get('x-hubspot-ratelimit-daily')).toBeNull();
        remaining.push(ok.headers.get('x-hubspot-ratelimit-remaining'));
        clock += 1_000;
      }
      expect(remaining).toEqual(['2', '1', '0']);

      const limited = await call(sb, 'POST', READ, { properties: [], propertiesWithHistory: [], inputs: [] });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
      expect(limited.headers.get('x-hubspot-ratelimit-max')).toBe('3');
      expect(limited.body).toMatchObject({
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
      });
      expect(typeof limited.body.correlationId).toBe('string');
      expect(sb.state.rateLimited.batchReadContacts).toBe(1);

      // A 401 is not rate limited and does not use the window.
      expect((await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, 'other')).status).toBe(401);

      clock += 7_001; // the first request leaves the rolling 10 s window
      const after = await call(sb, 'GET', '/crm/v3/properties/contacts');
      expect(after.status).toBe(200);
      expect(after.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
      expect(sb.requestCount('listProperties')).toBe(5);
    } finally {
      await sb.close();
    }
  });

  it('answers 429 DAILY once the daily limit is used up, with the daily headers', async () => {
    const sb = await startHubspotSandbox({ rateLimit: { max: 100, daily: 2 } });
    try {
      const first = await call(sb, 'GET', '/crm/v3/properties/deals');
      expect(first.headers.get('x-hubspot-ratelimit-daily')).toBe('2');
      expect(first.headers.get('x-hubspot-ratelimit-daily-remaining')).toBe('1');
      expect((await call(sb, 'GET', '/crm/v3/properties/deals')).status).toBe(200);
      const limited = await call(sb, 'GET', '/crm/v3/properties/deals');
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ policyName: 'DAILY', errorType: 'RATE_LIMIT', message: 'You have reached your daily limit.' });
      expect(limited.headers.get('x-hubspot-ratelimit-daily-remaining')).toBe('0');
    } finally {
      await sb.close();
    }
  });
});
