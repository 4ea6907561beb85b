/** Associations v4 in the HubSpot sandbox: associate default, batch create, batch read, list; symmetric. */
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { call, errorsOf, expectHubspotError, specCall, type Json } from './hubspot-helpers';

const A = '/crm/v4/associations';

interface ReadResult {
  from: { id: string };
  to: Array<{ toObjectId: string; associationTypes: Array<{ category: string; typeId: number; label?: string }> }>;
  paging?: { next: { after: string } };
}

describe('HubSpot sandbox associations v4', () => {
  let sb: HubspotSandbox;
  let jane: string;
  let raj: string;
  let acme: string;
  let globex: string;
  let deal: string;

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false });
    [jane, raj] = sb.seedContacts([{ properties: { email: 'jane@acme.com' } }, { properties: { email: 'raj@globex.io' } }]).map((c) => c.id) as [string, string];
    [acme, globex] = sb.seedCompanies([{ properties: { domain: 'acme.com' } }, { properties: { domain: 'globex.io' } }]).map((c) => c.id) as [string, string];
    [deal] = sb.seedDeals([{ properties: { dealname: 'Acme deal', dealstage: 'qualifiedtobuy' } }]).map((d) => d.id) as [string];
  });
  afterAll(async () => {
    await sb.close();
  });

  it('associate default: 200 with one result per input, visible from both sides (279 / 280)', async () => {
    const res = await specCall(sb, 'POST', `${A}/contacts/companies/batch/associate/default`, {
      inputs: [
        { from: { id: jane }, to: { id: acme } },
        { from: { id: raj }, to: { id: globex } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { from: { id: jane }, to: { id: acme }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 } },
      { from: { id: raj }, to: { id: globex }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 } },
    ]);
    expect(sb.associatedIds('companies', acme, 'contacts')).toEqual([jane]);
    expect(sb.state.associations).toEqual(
      expect.arrayContaining([{ fromType: 'contacts', fromId: jane, toType: 'companies', toId: acme, typeIds: [279] }]),
    );

    const list = await specCall(sb, 'GET', `/crm/v4/objects/companies/${acme}/associations/contacts`);
    expect(list.status).toBe(200);
    expect(list.body.results).toEqual([{ toObjectId: jane, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 280 }] }]);
    expect(sb.requestCount('batchAssociateDefault')).toBe(1);
    expect(sb.requestCount('listAssociations')).toBe(1);
  });

  it('associate default with a missing record: still 200 (the only status the spec lists), the input in errors', async () => {
    const res = await specCall(sb, 'POST', `${A}/deals/contacts/batch/associate/default`, {
      inputs: [
        { from: { id: deal }, to: { id: jane } },
        { from: { id: deal }, to: { id: '999' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.numErrors).toBe(1);
    expect(errorsOf(res)[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { toObjectId: ['999'] } });
    expect((res.body.results as Json[]).map((r) => r.associationSpec)).toEqual([{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 }]);
    expect(sb.associatedIds('contacts', jane, 'deals')).toEqual([deal]);
  });

  it('batch create with the primary type: 201 with labels; a new primary replaces the old one', async () => {
    const res = await specCall(sb, 'POST', `${A}/contacts/companies/batch/create`, {
      inputs: [{ from: { id: jane }, to: { id: globex }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 1 }] }],
    });
    expect(res.status).toBe(201);
    expect(res.body.results).toEqual([{ fromObjectTypeId: '0-1', fromObjectId: jane, toObjectTypeId: '0-2', toObjectId: globex, labels: ['Primary'] }]);
    const read = await specCall(sb, 'POST', `${A}/contacts/companies/batch/read`, { inputs: [{ id: jane }] });
    expect((read.body.results as ReadResult[])[0]?.to).toEqual([
      { toObjectId: acme, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 279 }] },
      {
        toObjectId: globex,
        associationTypes: [
          { category: 'HUBSPOT_DEFINED', typeId: 1, label: 'Primary' },
          { category: 'HUBSPOT_DEFINED', typeId: 279 },
        ],
      },
    ]);
    // The company side sees 2 / 280; making acme primary takes primary away from globex.
    expect((await specCall(sb, 'GET', `/crm/v4/objects/companies/${globex}/associations/contacts`)).body.results).toEqual(
      expect.arrayContaining([{ toObjectId: jane, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 2, label: 'Primary' }, { category: 'HUBSPOT_DEFINED', typeId: 280 }] }]),
    );
    sb.associate('contacts', jane, 'companies', acme, { primary: true });
    expect(sb.state.associations.filter((a) => a.fromId === jane && a.toType === 'companies')).toEqual([
      { fromType: 'contacts', fromId: jane, toType: 'companies', toId: acme, typeIds: [1, 279] },
      { fromType: 'contacts', fromId: jane, toType: 'companies', toId: globex, typeIds: [279] },
    ]);
  });

  it('batch create: 207 for a type that does not run from → to or a missing record', async () => {
    const res = await specCall(sb, 'POST', `${A}/deals/companies/batch/create`, {
      inputs: [
        { from: { id: deal }, to: { id: acme }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 341 }] },
        { from: { id: deal }, to: { id: globex }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 }] },
        { from: { id: '1' }, to: { id: globex }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 341 }] },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.body.numErrors).toBe(2);
    expect(errorsOf(res).map((e) => e.category)).toEqual(['VALIDATION_ERROR', 'OBJECT_NOT_FOUND']);
    expect(sb.associatedIds('companies', acme, 'deals')).toEqual([deal]);
    expect(sb.associatedIds('deals', deal, 'companies')).toEqual([acme]);
  });

  it('batch read: 200 when every id has associations, 207 with an error for an id without; at most 1,000 inputs', async () => {
    const all = await specCall(sb, 'POST', `${A}/contacts/deals/batch/read`, { inputs: [{ id: jane }] });
    expect(all.status).toBe(200);
    expect(all.body.results).toEqual([{ from: { id: jane }, to: [{ toObjectId: deal, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 4 }] }] }]);

    const some = await specCall(sb, 'POST', `${A}/contacts/deals/batch/read`, { inputs: [{ id: jane }, { id: raj }, { id: '404' }] });
    expect(some.status).toBe(207);
    expect((some.body.results as ReadResult[]).map((r) => r.from.id)).toEqual([jane]);
    expect(errorsOf(some).map((e) => e.context)).toEqual([{ fromObjectId: [raj] }, { fromObjectId: ['404'] }]);
    expect(errorsOf(some)[0]?.message).toBe(`No deal is associated with contact ${raj}.`);

    const route = `${A}/contacts/deals/batch/read`;
    const tooMany = await call(sb, 'POST', route, { inputs: Array.from({ length: 1001 }, (_, i) => ({ id: String(i) })) });
    expectHubspotError('POST', route, tooMany, 400, 'VALIDATION_ERROR');
    expect((await call(sb, 'POST', route, { inputs: Array.from({ length: 1000 }, (_, i) => ({ id: String(i) })) })).status).toBe(207);
  });

  it('pages past 500 associations per record', async () => {
    const company = sb.seedCompanies([{ properties: { domain: 'big.com' } }])[0]?.id ?? '';
    const contacts = sb.seedContacts(Array.from({ length: 501 }, (_, i) => ({ properties: { email: `p${i}@big.com` } })));
    for (const c of contacts) sb.associate('companies', company, 'contacts', c.id);
    const first = await specCall(sb, 'POST', `${A}/companies/contacts/batch/read`, { inputs: [{ id: company }] });
    const [page] = first.body.results as ReadResult[];
    expect(page?.to).toHaveLength(500);
    expect(page?.paging?.next.after).toBe('500');
    const second = await specCall(sb, 'POST', `${A}/companies/contacts/batch/read`, { inputs: [{ id: company, after: '500' }] });
    expect((second.body.results as ReadResult[])[0]?.to.map((t) => t.toObjectId)).toEqual([contacts[500]?.id]);

    const list = await specCall(sb, 'GET', `/crm/v4/objects/companies/${company}/associations/contacts?limit=200&after=400`);
    expect((list.body.results as Json[]).length).toBe(101);
    expect(list.body.paging).toBeUndefined();
  });

  it('answers 400 for an object pair HubSpot does not define', async () => {
    const route = `${A}/contacts/contacts/batch/associate/default`;
    const res = await call(sb, 'POST', route, { inputs: [{ from: { id: jane }, to: { id: raj } }] });
    expectHubspotError('POST', route, res, 400, 'VALIDATION_ERROR');
    expect(() => sb.associate('contacts', jane, 'companies', '1')).toThrow(/no companies record 1/);
  });
});
