/** OAuth v1 in the HubSpot sandbox: code exchange, refresh, token info, expiry and uninstall. */
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
