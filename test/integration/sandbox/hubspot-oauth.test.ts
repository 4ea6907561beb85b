/** OAuth v1 in the HubSpot sandbox: the install (authorize) page, code exchange, refresh, token info, expiry and uninstall. */
import { Client } from '@hubspot/api-client';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';
import { requestViolations, responseViolations } from '../../helpers/openapi';
import { call, expectHubspotError, type Json } from './hubspot-helpers';

const OAUTH = { clientId: 'client-1', clientSecret: 'secret-1', appId: 424242 };
const REDIRECT = 'https://app.example.com/hubspot/oauth/callback';
const SCOPES = ['oauth', 'crm.objects.contacts.write', 'crm.objects.deals.read'];

async function token(sb: HubspotSandbox, fields: Record<string, string>): Promise<{ status: number; body: Json }> {
  const form = new URLSearchParams(fields).toString();
  expect(requestViolations('POST', '/oauth/v1/token', form)).toEqual([]);
  const res = await fetch(`${sb.url}/oauth/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  const body = (await res.json()) as Json;
  expect(responseViolations('POST', '/oauth/v1/token', res.status, body)).toEqual([]);
  return { status: res.status, body };
}

function exchange(sb: HubspotSandbox, code: string, overrides: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  return token(sb, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: OAUTH.clientId, client_secret: OAUTH.clientSecret, ...overrides });
}

function refresh(sb: HubspotSandbox, refreshToken: string): Promise<{ status: number; body: Json }> {
  return token(sb, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: OAUTH.clientId, client_secret: OAUTH.clientSecret });
}

describe('HubSpot sandbox OAuth', () => {
  let clock: number;
  let sb: HubspotSandbox;

  beforeEach(async () => {
    clock = 1_700_000_000_000;
    sb = await startHubspotSandbox({ oauth: OAUTH, portalId: 8675309, now: () => clock, rateLimit: { max: 3 } });
  });
  afterEach(async () => {
    await sb.close();
  });

  it('exchanges a code for tokens (spec TokenResponseIF), which then authenticate API calls', async () => {
    const code = sb.issueAuthorizationCode({ redirectUri: REDIRECT, scopes: SCOPES });
    const res = await exchange(sb, code);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      token_type: 'bearer',
      access_token: expect.any(String) as unknown,
      refresh_token: expect.any(String) as unknown,
      expires_in: 1800,
      hub_id: 8675309,
      user_id: 7654321,
      scopes: SCOPES,
      token_use: 'access_token',
    });
    const accessToken = res.body.access_token as string;
    expect((await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, accessToken)).status).toBe(200);

    const info = await fetch(`${sb.url}/oauth/v1/access-tokens/${accessToken}`);
    const infoBody = (await info.json()) as Json;
    expect(info.status).toBe(200);
    expect(responseViolations('GET', `/oauth/v1/access-tokens/${accessToken}`, 200, infoBody)).toEqual([]);
    expect(infoBody).toMatchObject({ token: accessToken, hub_id: 8675309, app_id: 424242, user_id: 7654321, scopes: SCOPES, expires_in: 1800, token_type: 'access' });
    expect(sb.requestCount('oauthToken')).toBe(1);
    expect(sb.requestCount('accessTokenInfo')).toBe(1);

    // Codes are single-use.
    const again = await exchange(sb, code);
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ status: 'BAD_AUTH_CODE', error: 'invalid_grant', message: 'missing or unknown auth code' });
  });

  it('answers HubSpot’s 400 bodies for a bad grant type, client, secret, redirect or code', async () => {
    const code = sb.issueAuthorizationCode({ redirectUri: REDIRECT });
    expect((await exchange(sb, code, { grant_type: 'client_credentials' })).body).toMatchObject({ status: 'BAD_GRANT_TYPE' });
    expect((await exchange(sb, code, { client_id: 'other' })).body).toMatchObject({ status: 'BAD_CLIENT_ID', error: 'invalid_client' });
    expect((await exchange(sb, code, { client_secret: 'wrong' })).body).toMatchObject({ status: 'BAD_CLIENT_SECRET' });
    expect((await exchange(sb, code, { redirect_uri: 'https://evil.example/cb' })).body).toMatchObject({ status: 'BAD_REDIRECT_URI' });
    expect((await exchange(sb, 'nope')).body).toMatchObject({ status: 'BAD_AUTH_CODE' });
    // None of those used the code up.
    expect((await exchange(sb, code)).status).toBe(200);
  });

  it('access tokens expire on the sandbox clock (401 EXPIRED_AUTHENTICATION); a refresh gives a new one and the same refresh token', async () => {
    const first = await exchange(sb, sb.issueAuthorizationCode({ redirectUri: REDIRECT, scopes: SCOPES }));
    const accessToken = first.body.access_token as string;
    const refreshToken = first.body.refresh_token as string;
    clock += 1_800_000 + 120_000;
    const expired = await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, accessToken);
    expectHubspotError('GET', '/crm/v3/properties/contacts', expired, 401, 'EXPIRED_AUTHENTICATION');
    expect(expired.body.message).toBe('The OAuth token used to make this call expired 2 minute(s) ago.');
    expect((await fetch(`${sb.url}/oauth/v1/access-tokens/${accessToken}`)).status).toBe(404);

    const refreshed = await refresh(sb, refreshToken);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBe(refreshToken);
    expect(refreshed.body.access_token).not.toBe(accessToken);
    expect((await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, refreshed.body.access_token as string)).status).toBe(200);
  });

  it('revokeRefreshToken (an uninstall) kills the refresh token and its access tokens', async () => {
    const first = await exchange(sb, sb.issueAuthorizationCode({ redirectUri: REDIRECT }));
    const refreshToken = first.body.refresh_token as string;
    expect(sb.revokeRefreshToken(refreshToken)).toBe(true);
    expect(sb.revokeRefreshToken(refreshToken)).toBe(false);
    const res = await refresh(sb, refreshToken);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 'BAD_REFRESH_TOKEN', error: 'invalid_grant', message: 'refresh token is invalid, expired or revoked' });
    const api = await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, first.body.access_token as string);
    expectHubspotError('GET', '/crm/v3/properties/contacts', api, 401, 'INVALID_AUTHENTICATION');
  });

  it('token endpoints need no bearer and are not rate limited; OAuth tokens of one app share a window', async () => {
    const first = await exchange(sb, sb.issueAuthorizationCode({ redirectUri: REDIRECT }));
    for (let i = 0; i < 5; i++) expect((await refresh(sb, first.body.refresh_token as string)).status).toBe(200);
    const a = first.body.access_token as string;
    const b = (await refresh(sb, first.body.refresh_token as string)).body.access_token as string;
    expect((await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, a)).headers.get('x-hubspot-ratelimit-remaining')).toBe('2');
    expect((await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, b)).headers.get('x-hubspot-ratelimit-remaining')).toBe('1');
    // The private-app token has its own window.
    expect((await call(sb, 'GET', '/crm/v3/properties/contacts')).headers.get('x-hubspot-ratelimit-remaining')).toBe('2');
    expect(sb.state.rateLimited.oauthToken).toBe(0);
  });

  it('without the oauth option the token endpoint answers BAD_CLIENT_ID and codes cannot be issued', async () => {
    const plain = await startHubspotSandbox();
    try {
      expect((await token(plain, { grant_type: 'authorization_code', code: 'x', client_id: 'c', client_secret: 's' })).body).toMatchObject({
        status: 'BAD_CLIENT_ID',
      });
      expect(() => plain.issueAuthorizationCode({ redirectUri: REDIRECT })).toThrow(/oauth/);
    } finally {
      await plain.close();
    }
  });
});

describe('HubSpot sandbox OAuth install page (GET /oauth/authorize)', () => {
  const APP = {
    ...OAUTH,
    redirectUris: [REDIRECT, 'https://app.example.com/cb?tenant=a%20b'],
    allowedScopes: [...SCOPES, 'crm.objects.companies.read', 'crm.objects.companies.write'],
  };
  let sb: HubspotSandbox;

  beforeEach(async () => {
    sb = await startHubspotSandbox({ oauth: APP, portalId: 8675309, rateLimit: { max: 1 } });
  });
  afterEach(async () => {
    await sb.close();
  });

  async function authorize(params: Record<string, string>, path = '/oauth/authorize'): Promise<{ status: number; location: string | null; body: string }> {
    const res = await fetch(`${sb.url}${path}?${new URLSearchParams(params).toString()}`, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }

  const install = (overrides: Record<string, string> = {}): Record<string, string> => ({
    client_id: OAUTH.clientId,
    redirect_uri: REDIRECT,
    scope: SCOPES.join(' '),
    state: 'st/8 & é=?',
    ...overrides,
  });

  it('redirects (302) with a code and the state; the code exchanges through the SDK for the granted scopes', async () => {
    const res = await authorize(install({ optional_scope: 'crm.objects.companies.read crm.schemas.deals.read' }));
    expect(res.status).toBe(302);
    const location = new URL(res.location ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('st/8 & é=?');
    const code = location.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    const hs = new Client({ basePath: sb.url });
    const tokens = await hs.oauth.tokensApi.create('authorization_code', code, REDIRECT, OAUTH.clientId, OAUTH.clientSecret);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    // Required scopes plus the optional ones the app has (crm.schemas.deals.read is not one).
    const info = await hs.oauth.accessTokensApi.get(tokens.accessToken);
    expect(info.scopes).toEqual([...SCOPES, 'crm.objects.companies.read']);
    expect((await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, tokens.accessToken)).status).toBe(200);
  });

  it('accepts `+`-separated scopes, keeps the redirect URL’s own query, and takes the pinned /oauth/{hubId}/authorize', async () => {
    const cb = 'https://app.example.com/cb?tenant=a%20b';
    const raw = await fetch(
      `${sb.url}/oauth/8675309/authorize?client_id=${OAUTH.clientId}&redirect_uri=${encodeURIComponent(cb)}&scope=oauth+crm.objects.contacts.write&state=xyz`,
      { redirect: 'manual' },
    );
    expect(raw.status).toBe(302);
    const location = raw.headers.get('location') ?? '';
    expect(location).toMatch(/^https:\/\/app\.example\.com\/cb\?tenant=a%20b&code=[^&]+&state=xyz$/);
    const code = new URL(location).searchParams.get('code') ?? '';
    expect((await exchange(sb, code, { redirect_uri: cb })).body).toMatchObject({ scopes: ['oauth', 'crm.objects.contacts.write'] });

    const wrongHub = await authorize(install(), '/oauth/999/authorize');
    expect(wrongHub.status).toBe(400);
    expect(wrongHub.location).toBeNull();
  });

  it('answers 400 without a redirect for a bad client_id, redirect_uri or a missing scope', async () => {
    for (const params of [
      install({ client_id: 'someone-else' }),
      install({ redirect_uri: '/relative/cb' }),
      install({ redirect_uri: 'ftp://app.example.com/cb' }),
      install({ redirect_uri: 'https://evil.example/cb' }),
      install({ scope: '' }),
    ]) {
      const res = await authorize(params);
      expect(res.status).toBe(400);
      expect(res.location).toBeNull();
      expect(JSON.parse(res.body)).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR', error: expect.any(String) as unknown });
    }
    const { redirect_uri: _omitted, ...noRedirect } = install();
    expect((await authorize(noRedirect)).status).toBe(400);
    expect(JSON.parse((await authorize(install({ client_id: 'x' }))).body)).toMatchObject({ error: 'invalid_client' });
  });

  it('redirects with error=invalid_scope (and the state) for a required scope the app does not have', async () => {
    const res = await authorize(install({ scope: 'oauth crm.objects.deals.write' }));
    expect(res.status).toBe(302);
    const location = new URL(res.location ?? '');
    expect(location.searchParams.get('error')).toBe('invalid_scope');
    expect(location.searchParams.get('error_description')).toContain('crm.objects.deals.write');
    expect(location.searchParams.get('state')).toBe('st/8 & é=?');
    expect(location.searchParams.has('code')).toBe(false);
  });

  it('is counted, needs no bearer and is not rate limited', async () => {
    for (let i = 0; i < 3; i++) expect((await authorize(install())).status).toBe(302);
    expect(sb.requestCount('oauthAuthorize')).toBe(3);
    expect(sb.state.rateLimited.oauthAuthorize).toBe(0);
  });

  it('uninstallApp revokes every refresh and access token the app was issued', async () => {
    const codeOf = async (): Promise<string> => new URL((await authorize(install())).location ?? '').searchParams.get('code') ?? '';
    const first = await exchange(sb, await codeOf());
    const second = await exchange(sb, await codeOf());
    const unused = await codeOf();
    sb.uninstallApp();
    for (const t of [first, second]) {
      const res = await refresh(sb, t.body.refresh_token as string);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 'BAD_REFRESH_TOKEN' });
      const api = await call(sb, 'GET', '/crm/v3/properties/contacts', undefined, t.body.access_token as string);
      expectHubspotError('GET', '/crm/v3/properties/contacts', api, 401, 'INVALID_AUTHENTICATION');
    }
    expect((await exchange(sb, unused)).body).toMatchObject({ status: 'BAD_AUTH_CODE' });
    // A reinstall works.
    expect((await exchange(sb, await codeOf())).status).toBe(200);
  });
});
