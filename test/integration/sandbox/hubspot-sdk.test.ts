/**
 * The real `@hubspot/api-client` 14 against the sandbox, through `basePath`: the SDK maps statuses strictly
 * (it throws on any status its spec does not list, even a 2xx) and deserializes bodies into its models, so
 * a resolved promise proves the sandbox answers what HubSpot's spec says.
 */
import { AssociationTypes, Client } from '@hubspot/api-client';
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/associations/v4';
import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';

const OAUTH = { clientId: 'sdk-client', clientSecret: 'sdk-secret', appId: 777 };
const REDIRECT = 'http://localhost:3000/oauth-callback';

describe('HubSpot sandbox with @hubspot/api-client', () => {
  let sb: HubspotSandbox;
  let hs: Client;

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false, oauth: OAUTH });
    sb.seedProperty('companies', { name: 'leadpipe_company_domain', label: 'Leadpipe domain', hasUniqueValue: true });
    hs = new Client({ accessToken: sb.accessToken, basePath: sb.url });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('companies: batch upsert on a unique property (200), then with a bad value (207)', async () => {
    const created = await hs.crm.companies.batchApi.upsert({
      inputs: [{ idProperty: 'leadpipe_company_domain', id: 'acme.com', properties: { name: 'Acme', domain: 'acme.com' } }],
    });
    expect(created.status).toBe('COMPLETE');
    expect(created.results[0]).toMatchObject({ _new: true, properties: { name: 'Acme', domain: 'acme.com' } });
    expect(created.results[0]?.createdAt).toBeInstanceOf(Date);

    const partial = await hs.crm.companies.batchApi.upsert({
      inputs: [
        { idProperty: 'leadpipe_company_domain', id: 'acme.com', properties: { city: 'Austin' } },
        { idProperty: 'leadpipe_company_domain', id: 'globex.io', properties: { industry: 'Widgets' } },
      ],
    });
    expect(partial.results.map((r) => r._new)).toEqual([false]);
    expect('numErrors' in partial ? partial.numErrors : undefined).toBe(1);
    expect(sb.listCompanies()).toHaveLength(1);
  });

  it('contacts: search with IN', async () => {
    sb.seedContacts([{ properties: { email: 'jane@acme.com', firstname: 'Jane' } }, { properties: { email: 'raj@globex.io' } }]);
    const res = await hs.crm.contacts.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'email', operator: FilterOperatorEnum.In, values: ['jane@acme.com', 'raj@globex.io', 'x@y.com'] }] }],
      properties: ['email', 'firstname'],
      sorts: ['email'],
      limit: 1,
      after: '0',
    });
    expect(res.total).toBe(2);
    expect(res.results.map((r) => r.properties.email)).toEqual(['jane@acme.com']);
    expect(res.paging?.next?.after).toBe('1');
  });

  it('associations v4: batch associate default, batch create (primary), batch read (200 and 207)', async () => {
    const jane = sb.contactByEmail('jane@acme.com')?.id ?? '';
    const raj = sb.contactByEmail('raj@globex.io')?.id ?? '';
    const acme = sb.listCompanies()[0]?.id ?? '';
    const associated = await hs.crm.associations.v4.batchApi.createDefault('contacts', 'companies', { inputs: [{ _from: { id: jane }, to: { id: acme } }] });
    expect(associated.results[0]?.associationSpec.associationTypeId).toBe(AssociationTypes.contactToCompany);
    const withMissing = await hs.crm.associations.v4.batchApi.createDefault('contacts', 'companies', { inputs: [{ _from: { id: raj }, to: { id: '1' } }] });
    expect(withMissing.numErrors).toBe(1);

    const created = await hs.crm.associations.v4.batchApi.create('contacts', 'companies', {
      inputs: [
        {
          _from: { id: jane },
          to: { id: acme },
          types: [{ associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined, associationTypeId: AssociationTypes.primaryContactToCompany }],
        },
      ],
    });
    expect(created.results[0]?.labels).toEqual(['Primary']);

    const read = await hs.crm.associations.v4.batchApi.getPage('contacts', 'companies', { inputs: [{ id: jane }] });
    expect(read.results[0]?._from.id).toBe(jane);
    expect(read.results[0]?.to[0]?.associationTypes.map((t) => t.typeId)).toEqual([1, 279]);

    const partial = await hs.crm.associations.v4.batchApi.getPage('contacts', 'companies', { inputs: [{ id: jane }, { id: raj }] });
    expect(partial.results).toHaveLength(1);
    expect('numErrors' in partial ? partial.numErrors : undefined).toBe(1);

    const page = await hs.crm.associations.v4.basicApi.getPage('companies', acme, 'contacts');
    expect(page.results.map((r) => r.toObjectId)).toEqual([jane]);
  });

  it('deals: batch read (200 / 207) and batch update', async () => {
    const [deal] = sb.seedDeals([{ properties: { dealname: 'Acme deal', dealstage: 'qualifiedtobuy' } }]);
    const dealId = deal?.id ?? '';
    const read = await hs.crm.deals.batchApi.read({ inputs: [{ id: dealId }], properties: ['dealstage', 'hs_priority', 'hs_is_closed'], propertiesWithHistory: [] });
    expect(read.results[0]?.properties).toEqual({ dealstage: 'qualifiedtobuy', hs_is_closed: 'false' });
    const missing = await hs.crm.deals.batchApi.read({ inputs: [{ id: dealId }, { id: '1' }], properties: [], propertiesWithHistory: [] });
    expect('numErrors' in missing ? missing.numErrors : undefined).toBe(1);

    const updated = await hs.crm.deals.batchApi.update({ inputs: [{ id: dealId, properties: { hs_priority: 'high' } }] });
    expect(updated.results[0]?.properties.hs_priority).toBe('high');
    expect(sb.dealById(dealId)?.properties.hs_priority).toBe('high');
  });

  it('oauth: tokensApi.create (code and refresh) and accessTokensApi.get', async () => {
    const code = sb.issueAuthorizationCode({ redirectUri: REDIRECT, scopes: ['oauth', 'crm.objects.deals.read'] });
    const tokens = await hs.oauth.tokensApi.create('authorization_code', code, REDIRECT, OAUTH.clientId, OAUTH.clientSecret);
    expect(tokens).toMatchObject({ tokenType: 'bearer', expiresIn: 1800 });
    const refreshed = await hs.oauth.tokensApi.create('refresh_token', undefined, undefined, OAUTH.clientId, OAUTH.clientSecret, tokens.refreshToken);
    expect(refreshed.refreshToken).toBe(tokens.refreshToken);

    const info = await hs.oauth.accessTokensApi.get(refreshed.accessToken);
    expect(info).toMatchObject({ hubId: sb.portalId, appId: 777, userId: 7654321, scopes: ['oauth', 'crm.objects.deals.read'], tokenType: 'access' });
    expect(info.expiresIn).toBeGreaterThan(1790);

    const asApp = new Client({ accessToken: refreshed.accessToken, basePath: sb.url });
    const props = await asApp.crm.properties.coreApi.getAll('deals');
    expect(props.results.map((p) => p.name)).toContain('hs_priority');

    await expect(hs.oauth.tokensApi.create('refresh_token', undefined, undefined, OAUTH.clientId, OAUTH.clientSecret, 'nope')).rejects.toMatchObject({
      code: 400,
      body: { status: 'BAD_REFRESH_TOKEN' },
    });
  });
});
