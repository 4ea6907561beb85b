/** The OpenAPI checker in test/helpers/openapi.ts, against HubSpot's own specs. */
import { findOperation, loadSpec, requestViolations, responseViolations, schemaViolations, type OpenApiSpec } from '../../helpers/openapi';

describe('findOperation', () => {
  it('finds the SDK’s literal paths, also where the spec writes the object type id (deals → 0-3)', () => {
    const deals = findOperation('POST', '/crm/v3/objects/deals/batch/read');
    expect(deals).toMatchObject({ template: '/crm/v3/objects/0-3/batch/read', method: 'post' });
    expect(deals?.spec.file).toBe('crm-deals-v3.json');
    expect(findOperation('post', '/crm/v3/objects/companies/batch/upsert')?.spec.file).toBe('crm-companies-v3.json');
    expect(findOperation('POST', '/crm/v3/objects/contacts/search')?.template).toBe('/crm/v3/objects/contacts/search');
  });

  it('matches templates, prefers the most literal path, and ignores origin and query string', () => {
    expect(findOperation('GET', '/crm/v3/properties/contacts/groups')?.template).toBe('/crm/v3/properties/{objectType}/groups');
    expect(findOperation('GET', '/crm/v3/properties/contacts/email')?.template).toBe('/crm/v3/properties/{objectType}/{propertyName}');
    expect(findOperation('POST', 'http://127.0.0.1:9/crm/v4/associations/contacts/companies/batch/associate/default?x=1')?.template).toBe(
      '/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default',
    );
    expect(findOperation('GET', '/oauth/v1/access-tokens/abc')?.spec.file).toBe('oauth-v1.json');
    expect(findOperation('POST', '/crm/v3/nothing/here')).toBeUndefined();
    expect(findOperation('PUT', '/crm/v3/objects/contacts/batch/read')).toBeUndefined();
  });
});

describe('responseViolations', () => {
  const now = new Date().toISOString();

  it('accepts only statuses the operation lists; `default` only for errors', () => {
    const body = { status: 'COMPLETE', results: [], startedAt: now, completedAt: now };
    const path = '/crm/v4/associations/contacts/companies/batch/associate/default';
    expect(responseViolations('POST', path, 200, body)).toEqual([]);
    // The SDK throws on a 207 here: the spec lists only 200.
    expect(responseViolations('POST', path, 207, body)[0]).toMatch(/status 207 is not listed/);
    expect(responseViolations('POST', '/crm/v3/objects/contacts/batch/create', 200, body)[0]).toMatch(/status 200 is not listed/);
    expect(responseViolations('POST', '/crm/v3/objects/contacts/batch/create', 201, body)).toEqual([]);
    const error = { status: 'error', category: 'VALIDATION_ERROR', message: 'bad', correlationId: '3f1c2e1a-2b3c-4d5e-8f90-123456789abc' };
    expect(responseViolations('POST', path, 400, error)).toEqual([]);
    expect(responseViolations('POST', path, 400, { message: 'bad' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/missing required category/), expect.stringMatching(/missing required correlationId/)]),
    );
  });

  it('validates bodies through $ref, oneOf and additionalProperties maps', () => {
    const token = { access_token: 'a', refresh_token: 'r', expires_in: 1800, token_type: 'bearer', hub_id: 1 };
    // TokenResponseIF is oneOf AccessTokenResponse / ClientCredentialsTokenResponse, both requiring token_use.
    expect(responseViolations('POST', '/oauth/v1/token', 200, token)[0]).toMatch(/matches no oneOf branch/);
    expect(responseViolations('POST', '/oauth/v1/token', 200, { ...token, token_use: 'access_token' })).toEqual([]);
    const record = { id: '1', properties: { email: null }, createdAt: now, updatedAt: now, archived: false };
    expect(responseViolations('POST', '/crm/v3/objects/contacts/batch/read', 200, { status: 'COMPLETE', results: [record], startedAt: now, completedAt: now })).toEqual([
      'POST /crm/v3/objects/contacts/batch/read 200 $.results[0].properties.email: null is not allowed',
    ]);
  });
});

describe('requestViolations', () => {
  it('checks JSON request bodies: the SDK’s `_from` pitfall shows as a missing `from`', () => {
    const path = '/crm/v4/associations/contacts/companies/batch/associate/default';
    expect(requestViolations('POST', path, { inputs: [{ from: { id: '1' }, to: { id: '2' } }] })).toEqual([]);
    expect(requestViolations('POST', path, { inputs: [{ _from: { id: '1' }, to: { id: '2' } }] })).toEqual([
      `POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default request $.inputs[0]: missing required from`,
    ]);
    expect(requestViolations('POST', '/crm/v3/objects/contacts/batch/read', JSON.stringify({ inputs: [{ id: 'a' }] }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/missing required properties/)]),
    );
  });

  it('checks form bodies given as a string, URLSearchParams or an object', () => {
    expect(requestViolations('POST', '/oauth/v1/token', 'grant_type=refresh_token&client_id=c&refresh_token=r')).toEqual([]);
    expect(requestViolations('POST', '/oauth/v1/token', new URLSearchParams({ grant_type: 'password' }))[0]).toMatch(/not in enum/);
    expect(requestViolations('POST', '/oauth/v1/token', { grant_type: 'authorization_code', code: 'x' })).toEqual([]);
  });
});

describe('schemaViolations', () => {
  const spec: OpenApiSpec = { file: 'inline', paths: {}, components: { schemas: { Name: { type: 'string' } } } };

  it('handles nullable, allOf, anyOf, enums and additionalProperties: false', () => {
    expect(schemaViolations(spec, { type: 'string', nullable: true }, null)).toEqual([]);
    expect(schemaViolations(spec, { type: 'string' }, null)).toEqual(['$: null is not allowed']);
    expect(schemaViolations(spec, { allOf: [{ $ref: '#/components/schemas/Name' }, { enum: ['a', 'b'] }] }, 'c')).toEqual(['$: "c" not in enum ["a","b"]']);
    expect(schemaViolations(spec, { anyOf: [{ type: 'integer' }, { type: 'string' }] }, 'x')).toEqual([]);
    expect(schemaViolations(spec, { anyOf: [{ type: 'integer' }, { type: 'boolean' }] }, 'x')[0]).toMatch(/matches no anyOf branch/);
    expect(schemaViolations(spec, { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: false }, { a: 1, b: 2 })).toEqual([
      '$: unexpected property b',
    ]);
    expect(schemaViolations(spec, { type: 'array', items: { $ref: '#/components/schemas/Missing' } }, [1])).toEqual([
      '$[0]: unknown $ref #/components/schemas/Missing',
    ]);
  });

  it('loads a spec by file name', () => {
    expect(loadSpec('crm-properties-v3.json').components?.schemas?.Property).toBeDefined();
    expect(() => loadSpec('nope.json')).toThrow(/No OpenAPI spec/);
  });
});
