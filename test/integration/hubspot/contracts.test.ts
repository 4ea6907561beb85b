/**
 * Request contracts of every HubSpot call orbit-sync makes, against nock on https://api.hubapi.com:
 * the exact method, path and body, each body validated against HubSpot's OpenAPI spec
 * (../shared/specs/hubspot), and every canned response validated too, so the SDK's strict status and
 * serializer rules are exercised the way the real API would.
 */
import nock from 'nock';
import { loadConfig } from '../../../src/config';
import { DealPrioritizer, priorityOptions } from '../../../src/destinations/hubspot/deals';
import { HubspotApi } from '../../../src/destinations/hubspot/hubspot-api';
import { HubspotDestination } from '../../../src/destinations/hubspot/hubspot-destination';
import { customProperties, LEADPIPE_GROUP, setupHubspot, standardProperties } from '../../../src/destinations/hubspot/setup';
import { CompanyResolver } from '../../../src/destinations/hubspot/companies';
import { Client } from '@hubspot/api-client';
import { hashEmail } from '../../../src/ingest/hash-email';
import type { IntentPerson } from '../../../src/ingest/types';
import { resetRollingLimiters } from '../../../src/lib/rolling-limiter';
import { fingerprintPayload } from '../../../src/mapping/fingerprint';
import { loadMapping } from '../../../src/mapping/load-mapping';
import { mapPerson } from '../../../src/mapping/map-person';
import { createCompanyCache } from '../../../src/store/company-cache';
import { openStore, type Store } from '../../../src/store/db';
import { createConnections } from '../../../src/store/connections';
import { requestViolations, responseViolations } from '../../helpers/openapi';

const BASE = 'https://api.hubapi.com';
const TOKEN = 'pat-na1-contract-test';
const NOW = '2026-11-20T08:00:00.000Z';

interface Captured {
  method: string;
  path: string;
  body: unknown;
  authorization?: string | null;
}

const config = loadConfig({ HUBSPOT_ACCESS_TOKEN: TOKEN, LOG_LEVEL: 'silent' });
const mapping = loadMapping('hubspot', config.configDir);
let captured: Captured[] = [];
let store: Store;

/** Intercepts one call, records its body, answers `status`/`reply` — both checked against the spec. */
function expectCall(method: 'GET' | 'POST', path: string, status: number, reply: unknown): void {
  const scope = nock(BASE);
  const interceptor = method === 'GET' ? scope.get(path) : scope.post(path);
  interceptor.reply(status, async (req: Request) => {
    const text = await req.text();
    captured.push({ method, path, body: text === '' ? undefined : (JSON.parse(text) as unknown), authorization: req.headers.get('authorization') });
    return reply as nock.Body;
  });
  expect(responseViolations(method, path, status, reply)).toEqual([]);
}

function person(email: string, overrides: Partial<IntentPerson> = {}): IntentPerson {
  const key = hashEmail(email);
  return {
    key,
    hashedEmail: key,
    emails: [{ address: email, sha256: key, kind: 'business' }],
    firstName: 'Ada',
    jobTitle: 'VP Marketing',
    company: { name: 'Acme', domain: 'acme.test' },
    score: 91,
    topics: ['Marketing ROI'],
    extra: {},
    line: 2,
    rows: 1,
    ...overrides,
  };
}

function api(): HubspotApi {
  return new HubspotApi({ accountId: '12345', appKind: 'privateApp', settings: { ...config.hubspot, retry: { ...config.hubspot.retry, maxAttempts: 1 } } });
}

beforeAll(async () => {
  if (!nock.isActive()) nock.activate();
  nock.disableNetConnect();
  store = await openStore(':memory:');
});
afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  // Interception is process-wide: a later test file in this worker must not meet this file's interceptors.
  nock.restore();
  await store.close();
});
beforeEach(() => {
  captured = [];
  resetRollingLimiters();
});
afterEach(() => {
  for (const call of captured) if (call.authorization !== undefined) expect(call.authorization).toBe(`Bearer ${TOKEN}`);
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

const batchTimes = { status: 'COMPLETE', startedAt: NOW, completedAt: NOW };

it('setup: reads groups and properties, creates only what is missing, with spec-valid bodies', async () => {
  const client = new Client({ accessToken: TOKEN, basePath: BASE });
  for (const object of ['contacts', 'companies', 'deals']) {
    expectCall('GET', `/crm/v3/properties/${object}/groups`, 200, { results: [{ name: 'leadpipe', label: 'Leadpipe intent', displayOrder: -1, archived: false }] });
    const existing = object === 'contacts' ? ['email', 'firstname', 'lastname', 'jobtitle', 'phone', 'hs_linkedin_url', 'company'] : object === 'companies' ? ['name', 'domain'] : ['dealname', 'dealstage', 'hs_is_closed', 'hs_priority'];
    expectCall('GET', `/crm/v3/properties/${object}?archived=false`, 200, {
      results: existing.map((name) => ({ name, label: name, type: 'string', fieldType: 'text', groupName: 'contactinformation', description: '', options: [] })),
    });
  }
  const created: string[] = [];
  nock(BASE)
    .post(/\/crm\/v3\/properties\/(contacts|companies|deals)$/)
    .times(100)
    .reply(201, async (req: Request) => {
      const uri = new URL(req.url).pathname;
      const b = JSON.parse(await req.text()) as { name: string; label: string; type: string; fieldType: string; groupName: string };
      created.push(`${uri.split('/').pop() ?? ''}.${b.name}`);
      captured.push({ method: 'POST', path: uri, body: b });
      return { ...b, description: '', options: [], displayOrder: -1, hasUniqueValue: false, hidden: false, formField: false, calculated: false, externalOptions: false, archived: false };
    });
  const report = await setupHubspot(client, api(), mapping);
  expect(report.groupsCreated).toEqual([]);
  expect(created).toEqual(expect.arrayContaining(['contacts.leadpipe_intent_score', 'companies.leadpipe_company_key', 'deals.leadpipe_intent_score', 'deals.leadpipe_last_intent_at']));
  for (const call of captured.filter((c) => c.method === 'POST')) expect(requestViolations('POST', call.path, call.body)).toEqual([]);
  const key = captured.find((c) => (c.body as { name?: string } | undefined)?.name === 'leadpipe_company_key');
  expect(key?.path).toBe('/crm/v3/properties/companies');
  expect(key?.body).toMatchObject({ name: 'leadpipe_company_key', type: 'string', fieldType: 'text', groupName: 'leadpipe', hasUniqueValue: true });
  const score = captured.find((c) => c.path === '/crm/v3/properties/contacts' && (c.body as { name?: string } | undefined)?.name === 'leadpipe_intent_score');
  expect(score?.body).toMatchObject({ type: 'number', fieldType: 'number', groupName: 'leadpipe' });
  nock.cleanAll();
});

it('contacts, companies and associations of one batch: exact paths and bodies', async () => {
  const client = new Client({ accessToken: TOKEN, basePath: BASE });
  const connection = await createConnections(store.db).create({ crm: 'hubspot', accountId: '12345' });
  const destination = new HubspotDestination({
    client,
    api: api(),
    accountId: '12345',
    connectionId: connection.id,
    mapping,
    settings: config.hubspot,
    companyCache: createCompanyCache(store.db),
    maxTopics: 10,
  });
  const ada = person('ada@acme.test');
  const bob = person('bob@acme.test', { emails: [{ address: 'bob@acme.test', sha256: hashEmail('bob@acme.test'), kind: 'business' }, { address: 'bob.p@gmail.test', sha256: hashEmail('bob.p@gmail.test'), kind: 'personal' }], line: 3, firstName: 'Bob' });
  const context = { runId: 'run-1', audienceId: 'aud-1', audienceName: 'Marketing', intentAt: NOW };
  const planned = [ada, bob].map((p) => {
    const mapped = mapPerson(p, mapping, context);
    return { key: p.key, person: p, mapped, fingerprint: fingerprintPayload(mapped), previous: undefined };
  });

  // 1. read by first email: Ada exists with a human job title; Bob does not.
  expectCall('POST', '/crm/v3/objects/contacts/batch/read?archived=false', 207, {
    ...batchTimes,
    results: [{ id: '501', properties: { email: 'ada@acme.test', jobtitle: 'Head of Growth' }, createdAt: NOW, updatedAt: NOW, archived: false }],
    numErrors: 1,
    errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some CONTACT objects', context: { ids: ['bob@acme.test'] }, errors: [], links: {} }],
  });
  // 2. Bob again by his personal email: known.
  expectCall('POST', '/crm/v3/objects/contacts/batch/read?archived=false', 200, {
    ...batchTimes,
    results: [{ id: '502', properties: { email: 'bob.p@gmail.test' }, createdAt: NOW, updatedAt: NOW, archived: false }],
  });
  // 3. upsert both, keyed by the email each is known under.
  expectCall('POST', '/crm/v3/objects/contacts/batch/upsert', 200, {
    ...batchTimes,
    results: [
      { id: '501', new: false, objectWriteTraceId: ada.key, properties: { leadpipe_intent_score: '91' }, createdAt: NOW, updatedAt: NOW, archived: false },
      { id: '502', new: false, objectWriteTraceId: bob.key, properties: { leadpipe_intent_score: '91' }, createdAt: NOW, updatedAt: NOW, archived: false },
    ],
  });
  // 4. company by domain: none; 5. created by upsert on the unique key; 6. associated.
  expectCall('POST', '/crm/v3/objects/companies/search', 200, { total: 0, results: [] });
  expectCall('POST', '/crm/v3/objects/companies/batch/upsert', 200, {
    ...batchTimes,
    results: [{ id: '901', new: true, objectWriteTraceId: 'acme.test', properties: { domain: 'acme.test' }, createdAt: NOW, updatedAt: NOW, archived: false }],
  });
  expectCall('POST', '/crm/v4/associations/contacts/companies/batch/associate/default', 200, {
    ...batchTimes,
    results: [
      { from: { id: '501' }, to: { id: '901' }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 } },
      { from: { id: '502' }, to: { id: '901' }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 } },
    ],
  });

  const result = await destination.writeBatch(planned, { dryRun: false, intentAt: NOW });
  expect(result.outcomes.map((o) => o.kind)).toEqual(['updated', 'updated']);
  expect(result.companies).toEqual({ matched: 0, created: 1 });
  expect(result.associations).toBe(2);

  for (const call of captured) expect(requestViolations(call.method, call.path, call.body)).toEqual([]);
  const [read1, read2, upsert, search, companyUpsert, associate] = captured.map((c) => c.body);
  expect(read1).toMatchObject({ idProperty: 'email', inputs: [{ id: 'ada@acme.test' }, { id: 'bob@acme.test' }], propertiesWithHistory: [] });
  expect((read1 as { properties: string[] }).properties).toEqual(expect.arrayContaining(['email', 'jobtitle', 'leadpipe_intent_score']));
  expect(read2).toMatchObject({ idProperty: 'email', inputs: [{ id: 'bob.p@gmail.test' }] });
  const inputs = (upsert as { inputs: Array<{ idProperty: string; id: string; objectWriteTraceId: string; properties: Record<string, string> }> }).inputs;
  expect(inputs.map((i) => [i.idProperty, i.id, i.objectWriteTraceId])).toEqual([
    ['email', 'ada@acme.test', ada.key],
    ['email', 'bob.p@gmail.test', bob.key],
  ]);
  // ifEmpty: Ada's job title is not sent; intent is; the matching email never is.
  expect(inputs[0]?.properties).not.toHaveProperty('jobtitle');
  expect(inputs[0]?.properties).not.toHaveProperty('email');
  expect(inputs[0]?.properties).toMatchObject({ leadpipe_intent_score: '91', leadpipe_hashed_email: ada.key, leadpipe_last_intent_at: NOW });
  expect(search).toMatchObject({ filterGroups: [{ filters: [{ propertyName: 'domain', operator: 'IN', values: ['acme.test'] }] }], limit: 200 });
  expect(companyUpsert).toEqual({ inputs: [{ idProperty: 'leadpipe_company_key', id: 'acme.test', objectWriteTraceId: 'acme.test', properties: { name: 'Acme', domain: 'acme.test' } }] });
  expect(associate).toEqual({ inputs: [{ from: { id: '501' }, to: { id: '901' } }, { from: { id: '502' }, to: { id: '901' } }] });
});

it('deals: associations read, deals read, and an update that raises only the open deal', async () => {
  const client = new Client({ accessToken: TOKEN, basePath: BASE });
  const prioritizer = new DealPrioritizer({
    client,
    api: api(),
    settings: config.hubspot,
    maxTopics: 10,
    priority: priorityOptions({ name: 'hs_priority', type: 'enumeration', options: ['low', 'medium', 'high'].map((value, i) => ({ label: value, value, displayOrder: i })) }),
  });
  expectCall('POST', '/crm/v4/associations/contacts/deals/batch/read', 200, {
    ...batchTimes,
    results: [{ from: { id: '501' }, to: [{ toObjectId: '7001', associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 4 }] }, { toObjectId: '7002', associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 4 }] }] }],
  });
  expectCall('POST', '/crm/v4/associations/companies/deals/batch/read', 200, { ...batchTimes, results: [] });
  expectCall('POST', '/crm/v3/objects/deals/batch/read?archived=false', 200, {
    ...batchTimes,
    results: [
      { id: '7001', properties: { dealname: 'Open', dealstage: 'qualifiedtobuy', hs_is_closed: 'false' }, createdAt: NOW, updatedAt: NOW, archived: false },
      { id: '7002', properties: { dealname: 'Won', dealstage: 'closedwon', hs_is_closed: 'true' }, createdAt: NOW, updatedAt: NOW, archived: false },
    ],
  });
  expectCall('POST', '/crm/v3/objects/deals/batch/update', 200, {
    ...batchTimes,
    results: [{ id: '7001', properties: { hs_priority: 'high' }, createdAt: NOW, updatedAt: NOW, archived: false }],
  });
  const result = await prioritizer.prioritize([{ crmRecordId: '501', crmObjectType: 'contact', crmCompanyId: '901', score: 91, topics: ['Marketing ROI'] }], { dryRun: false, intentAt: NOW });
  expect(result.deals.map((d) => d.dealId)).toEqual(['7001']);
  expect(result.closedDeals).toBe(1);
  for (const call of captured) expect(requestViolations(call.method, call.path, call.body)).toEqual([]);
  expect(captured[0]?.body).toEqual({ inputs: [{ id: '501' }] });
  expect(captured[1]?.body).toEqual({ inputs: [{ id: '901' }] });
  expect(captured[3]?.body).toEqual({
    inputs: [{ id: '7001', properties: { leadpipe_intent_score: '91', leadpipe_intent_topics: 'Marketing ROI', hs_priority: 'high', leadpipe_last_intent_at: NOW } }],
  });
});

it('an existing company found by domain gets only its empty fields, by record id; the oldest of two wins', async () => {
  const client = new Client({ accessToken: TOKEN, basePath: BASE });
  const connection = await createConnections(store.db).create({ crm: 'hubspot', accountId: '777' });
  const newResolver = (): CompanyResolver =>
    new CompanyResolver({ client, api: api(), mapping, cache: createCompanyCache(store.db), connectionId: connection.id, batchSize: 100, searchValuesPerFilter: 100 });
  const resolver = newResolver();
  expectCall('POST', '/crm/v3/objects/companies/search', 200, {
    total: 2,
    results: [
      { id: '905', properties: { domain: 'acme.test', name: 'Acme (dup)', createdate: '2024-05-01T00:00:00.000Z' }, createdAt: NOW, updatedAt: NOW, archived: false },
      { id: '901', properties: { domain: 'WWW.Acme.test', name: 'ACME Corporation', createdate: '2021-01-01T00:00:00.000Z' }, createdAt: NOW, updatedAt: NOW, archived: false },
    ],
  });
  expectCall('POST', '/crm/v3/objects/companies/batch/update', 200, {
    ...batchTimes,
    results: [{ id: '901', properties: { leadpipe_industry: 'Software' }, createdAt: NOW, updatedAt: NOW, archived: false }],
  });
  const resolved = await resolver.resolve([{ domain: 'acme.test', properties: { name: 'Acme', domain: 'acme.test', leadpipe_industry: 'Software', leadpipe_company_key: 'acme.test' } }], false);
  expect(resolved.companies.get('acme.test')).toEqual({ crmCompanyId: '901', action: 'matched' });
  expect(resolved.refused.size).toBe(0);
  for (const call of captured) expect(requestViolations(call.method, call.path, call.body)).toEqual([]);
  expect(captured[1]?.body).toEqual({ inputs: [{ id: '901', objectWriteTraceId: 'acme.test', properties: { leadpipe_industry: 'Software', leadpipe_company_key: 'acme.test' } }] });
  // Within one sync the company is not asked for again. Cached, the next sync of this connection does not
  // search that domain; it reads the company by id and, its fields being filled already, writes nothing.
  captured = [];
  expect((await resolver.resolve([{ domain: 'acme.test', properties: { name: 'Acme' } }], false)).companies.get('acme.test')?.crmCompanyId).toBe('901');
  expect(captured).toEqual([]);
  captured = [];
  expectCall('POST', '/crm/v3/objects/companies/batch/read?archived=false', 200, {
    ...batchTimes,
    results: [{ id: '901', properties: { domain: 'acme.test', name: 'ACME Corporation', leadpipe_industry: 'Software', leadpipe_company_key: 'acme.test' }, createdAt: NOW, updatedAt: NOW, archived: false }],
  });
  expect((await newResolver().resolve([{ domain: 'acme.test', properties: { name: 'Acme', leadpipe_industry: 'Fintech' } }], false)).companies.get('acme.test')?.crmCompanyId).toBe('901');
  expect(captured.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /crm/v3/objects/companies/batch/read?archived=false']);
  for (const call of captured) expect(requestViolations(call.method, call.path, call.body)).toEqual([]);
  expect(captured[0]?.body).toMatchObject({ inputs: [{ id: '901' }] });
});

it('setup creates the leadpipe group where it is missing', async () => {
  const client = new Client({ accessToken: TOKEN, basePath: BASE });
  for (const object of ['contacts', 'companies', 'deals']) {
    expectCall('GET', `/crm/v3/properties/${object}/groups`, 200, { results: [] });
    expectCall('POST', `/crm/v3/properties/${object}/groups`, 201, { name: 'leadpipe', label: 'Leadpipe intent', displayOrder: -1, archived: false });
    const all = [...customProperties(mapping)[object as 'contacts'].map((p) => p.name), ...standardProperties(mapping)[object as 'contacts']];
    expectCall('GET', `/crm/v3/properties/${object}?archived=false`, 200, {
      results: all.map((name) => ({ name, label: name, type: 'string', fieldType: 'text', groupName: 'leadpipe', description: '', options: [], hasUniqueValue: name === 'leadpipe_company_key' })),
    });
  }
  const report = await setupHubspot(client, api(), mapping);
  expect(report).toMatchObject({ groupsCreated: ['contacts', 'companies', 'deals'], created: [] });
  const groupPosts = captured.filter((c) => c.method === 'POST');
  for (const call of groupPosts) expect(requestViolations('POST', call.path, call.body)).toEqual([]);
  expect(groupPosts.map((c) => c.body)).toEqual([LEADPIPE_GROUP, LEADPIPE_GROUP, LEADPIPE_GROUP]);
});
