/** Salesforce sandbox: sessions, token refresh and the web-server flow (authorize page included), driven by real jsforce 3. */
import { createHash } from 'node:crypto';
import { Connection, OAuth2 } from 'jsforce';
import { startSalesforceSandbox, type SalesforceSandbox, type SalesforceSandboxOptions } from '../../../src/sandbox/salesforce/server';

function connect(sb: SalesforceSandbox, overrides: { accessToken?: string; refreshToken?: string | null; clientSecret?: string } = {}): Connection {
  const refreshToken = overrides.refreshToken === undefined ? sb.refreshToken : overrides.refreshToken;
  return new Connection({
    instanceUrl: sb.url,
    loginUrl: sb.url,
    accessToken: overrides.accessToken ?? sb.accessToken,
    ...(refreshToken !== null ? { refreshToken, oauth2: { clientId: sb.clientId, clientSecret: overrides.clientSecret ?? sb.clientSecret, loginUrl: sb.url } } : {}),
    version: '62.0',
  });
}

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  instance_url: string;
  id: string;
  token_type: string;
  issued_at: string;
  signature: string;
}

describe('Salesforce sandbox — OAuth with jsforce', () => {
  let sb: SalesforceSandbox;
  let clock: number;
  const start = async (options: SalesforceSandboxOptions = {}): Promise<void> => {
    clock = Date.parse('2026-01-05T09:00:00Z');
    sb = await startSalesforceSandbox({ now: () => clock, ...options });
  };
  afterEach(async () => {
    await sb.close();
  });

  it('refreshes an expired session once, emits refresh, and replays the call', async () => {
    await start();
    const conn = connect(sb);
    const refreshed: Array<{ token: string; res: TokenResponse }> = [];
    conn.on('refresh', (token: string, res: TokenResponse) => refreshed.push({ token, res }));
    await conn.query('SELECT Id FROM Lead');
    sb.expireAccessTokens();
    const [a, b] = await Promise.all([conn.query('SELECT Id FROM Lead'), conn.query('SELECT Id FROM Contact')]);
    expect(a.done && b.done).toBe(true);
    expect(refreshed).toHaveLength(1);
    const { token, res } = refreshed[0] ?? { token: '', res: {} as TokenResponse };
    expect(token).not.toBe(sb.accessToken);
    expect(conn.accessToken).toBe(token);
    expect(res).toMatchObject({ instance_url: sb.url, id: `${sb.url}/id/${sb.orgId}/${sb.userId}`, token_type: 'Bearer' });
    expect(res.refresh_token).toBeUndefined(); // Salesforce does not rotate by default
    expect(res.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(conn.userInfo).toEqual({ id: sb.userId, organizationId: sb.orgId, url: res.id });
    expect(sb.requestCount('oauthToken')).toBe(1);
    expect(sb.state.apiUsage.used).toBe(3); // the first query and the two replays; the 401s do not count
  });

  it('expires access tokens on the sandbox clock', async () => {
    await start({ accessTokenTtlMs: 60_000 });
    const conn = connect(sb);
    let refreshes = 0;
    conn.on('refresh', () => refreshes++);
    await conn.query('SELECT Id FROM Lead');
    clock += 59_999;
    await conn.query('SELECT Id FROM Lead');
    expect(refreshes).toBe(0);
    clock += 1;
    await conn.query('SELECT Id FROM Lead');
    expect(refreshes).toBe(1);
  });

  it('rotates the refresh token when configured; the old one stops working', async () => {
    await start({ rotateRefreshToken: true });
    const conn = connect(sb);
    const rotated: string[] = [];
    conn.on('refresh', (_token: string, res: TokenResponse) => rotated.push(res.refresh_token ?? ''));
    sb.expireAccessTokens();
    await conn.query('SELECT Id FROM Lead');
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).toMatch(/^5Aep861/);
    expect(rotated[0]).not.toBe(sb.refreshToken);
    // jsforce keeps the refresh token it was given (reference §1): the next refresh uses the revoked one.
    sb.expireAccessTokens();
    await expect(conn.query('SELECT Id FROM Lead')).rejects.toThrow('Unable to refresh session due to: expired access/refresh token');
  });

  it('a revoked refresh token surfaces as jsforce’s plain "Unable to refresh session" error', async () => {
    await start();
    const conn = connect(sb);
    expect(sb.revokeRefreshToken(sb.refreshToken)).toBe(true);
    expect(sb.revokeRefreshToken(sb.refreshToken)).toBe(false);
    const err = await conn.query('SELECT Id FROM Lead').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('Error');
    expect((err as Error).message).toBe('Unable to refresh session due to: expired access/refresh token');
    expect((err as { errorCode?: string }).errorCode).toBeUndefined();
  });

  it('without refresh information a 401 is INVALID_SESSION_ID; a wrong client secret is invalid_client', async () => {
    await start();
    sb.expireAccessTokens();
    await expect(connect(sb, { refreshToken: null }).query('SELECT Id FROM Lead')).rejects.toMatchObject({ name: 'INVALID_SESSION_ID', errorCode: 'INVALID_SESSION_ID' });
    await expect(connect(sb, { clientSecret: 'wrong' }).query('SELECT Id FROM Lead')).rejects.toThrow('Unable to refresh session due to: invalid client credentials');
  });

  it('exchanges an authorization code with PKCE (jsforce OAuth2 useVerifier) for a working session', async () => {
    await start();
    const redirectUri = 'https://app.example.test/oauth/salesforce/callback';
    const oauth2 = new OAuth2({ clientId: sb.clientId, clientSecret: sb.clientSecret, redirectUri, loginUrl: sb.url, useVerifier: true });
    const authUrl = new URL(oauth2.getAuthorizationUrl({ scope: 'api refresh_token', state: 'csrf' }));
    expect(authUrl.pathname).toBe('/services/oauth2/authorize');
    const codeChallenge = authUrl.searchParams.get('code_challenge') ?? '';
    const code = sb.issueAuthorizationCode({ redirectUri, codeChallenge });

    const conn = new Connection({ oauth2, version: '62.0' });
    const userInfo = await conn.authorize(code);
    expect(userInfo).toEqual({ id: sb.userId, organizationId: sb.orgId, url: `${sb.url}/id/${sb.orgId}/${sb.userId}` });
    expect(conn.instanceUrl).toBe(sb.url);
    expect(conn.refreshToken).toMatch(/^5Aep861/);
    await expect(conn.query('SELECT Id FROM Account')).resolves.toMatchObject({ totalSize: 0 });

    // Codes are single-use; a verifier that does not match the challenge is refused.
    await expect(new Connection({ oauth2, version: '62.0' }).authorize(code)).rejects.toMatchObject({ name: 'invalid_grant', message: 'invalid authorization code' });
    const code2 = sb.issueAuthorizationCode({ redirectUri, codeChallenge });
    const other = new OAuth2({ clientId: sb.clientId, clientSecret: sb.clientSecret, redirectUri, loginUrl: sb.url, useVerifier: true });
    await expect(new Connection({ oauth2: other, version: '62.0' }).authorize(code2)).rejects.toMatchObject({ name: 'invalid_grant', message: 'invalid code verifier' });
    const code3 = sb.issueAuthorizationCode({ redirectUri: 'https://elsewhere.test/cb' });
    await expect(new Connection({ oauth2: new OAuth2({ clientId: sb.clientId, clientSecret: sb.clientSecret, redirectUri, loginUrl: sb.url }), version: '62.0' }).authorize(code3)).rejects.toMatchObject({
      name: 'redirect_uri_mismatch',
    });
  });

  describe('GET /services/oauth2/authorize', () => {
    const redirectUri = 'https://app.example.test/oauth/salesforce/callback';
    const authorize = (params: Record<string, string>): Promise<Response> => fetch(`${sb.url}/services/oauth2/authorize?${new URLSearchParams(params).toString()}`, { redirect: 'manual' });
    const base = (): Record<string, string> => ({ response_type: 'code', client_id: sb.clientId, redirect_uri: redirectUri });
    const tokenForm = async (form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${sb.url}/services/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it('redirects with a code and the state; jsforce exchanges it with its PKCE verifier for a working session', async () => {
      await start({ callbackUrls: [redirectUri], requirePkce: true });
      const oauth2 = new OAuth2({ clientId: sb.clientId, clientSecret: sb.clientSecret, redirectUri, loginUrl: sb.url, useVerifier: true });
      const state = 'csrf token/with spaces&a=b';
      const res = await fetch(oauth2.getAuthorizationUrl({ scope: 'api refresh_token', state }), { redirect: 'manual' });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
      expect(location.searchParams.get('state')).toBe(state);
      const code = location.searchParams.get('code') ?? '';
      expect(code).toMatch(/^aPrx/);
      expect(sb.requestCount('oauthAuthorize')).toBe(1);
      expect(sb.apiUsage().used).toBe(0);

      const conn = new Connection({ oauth2, version: '62.0' });
      const userInfo = await conn.authorize(code);
      expect(userInfo).toEqual({ id: sb.userId, organizationId: sb.orgId, url: `${sb.url}/id/${sb.orgId}/${sb.userId}` });
      expect(conn.refreshToken).toMatch(/^5Aep861/);
      await expect(conn.query('SELECT Id FROM Lead')).resolves.toMatchObject({ totalSize: 0 });
    });

    it('the token answer carries instance_url, id, refresh_token, issued_at, signature and scope; the verifier must match', async () => {
      await start();
      const verifier = 'v'.repeat(64);
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const redirect = async (): Promise<string> => {
        const res = await authorize({ ...base(), scope: 'api refresh_token', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
        return new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
      };
      const exchange = (code: string, codeVerifier: string): Promise<{ status: number; body: Record<string, unknown> }> =>
        tokenForm({ grant_type: 'authorization_code', code, client_id: sb.clientId, redirect_uri: redirectUri, code_verifier: codeVerifier });

      const wrong = await exchange(await redirect(), 'w'.repeat(64));
      expect(wrong).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'invalid code verifier' } });
      const ok = await exchange(await redirect(), verifier);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({
        instance_url: sb.url,
        id: `${sb.url}/id/${sb.orgId}/${sb.userId}`,
        refresh_token: expect.stringMatching(/^5Aep861/) as string,
        issued_at: String(clock),
        signature: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) as string,
        scope: 'api refresh_token',
        token_type: 'Bearer',
      });
      // Without refresh_token / offline_access in the scope there is no refresh token.
      const apiOnly = await authorize({ ...base(), scope: 'api' });
      const apiCode = new URL(apiOnly.headers.get('location') ?? '').searchParams.get('code') ?? '';
      const noRefresh = await tokenForm({ grant_type: 'authorization_code', code: apiCode, client_id: sb.clientId, client_secret: sb.clientSecret, redirect_uri: redirectUri });
      expect(noRefresh.body).toMatchObject({ scope: 'api' });
      expect(noRefresh.body.refresh_token).toBeUndefined();
      expect(sb.apiUsage().used).toBe(0);
    });

    it('keeps the redirect_uri query and encodes the state; errors after the redirect URI is trusted go back to it', async () => {
      await start({ requirePkce: true });
      const withQuery = 'http://localhost:3000/cb?tenant=a%20b';
      const res = await authorize({ ...base(), redirect_uri: withQuery, state: 'x y+z', code_challenge: 'A'.repeat(43) });
      expect(res.status).toBe(302);
      const location = res.headers.get('location') ?? '';
      expect(location.startsWith(`${withQuery}&code=`)).toBe(true);
      expect(location.endsWith('&state=x%20y%2Bz')).toBe(true);

      const redirectError = async (params: Record<string, string>): Promise<Record<string, string>> => {
        const r = await authorize(params);
        expect(r.status).toBe(302);
        return Object.fromEntries(new URL(r.headers.get('location') ?? '').searchParams);
      };
      expect(await redirectError({ ...base(), state: 'st' })).toEqual({ error: 'invalid_request', error_description: 'missing required code challenge', state: 'st' });
      expect(await redirectError({ ...base(), code_challenge: 'A'.repeat(43), code_challenge_method: 'plain' })).toMatchObject({ error: 'invalid_request' });
      expect(await redirectError({ ...base(), response_type: 'token', code_challenge: 'A'.repeat(43) })).toMatchObject({ error: 'unsupported_response_type' });
      expect(await redirectError({ ...base(), code_challenge: 'A'.repeat(43), scope: 'api nonsense' })).toMatchObject({ error: 'invalid_scope' });
    });

    it('a bad client_id or a redirect_uri that does not match answers a 400 page and never redirects', async () => {
      await start({ callbackUrls: [redirectUri] });
      const page = async (params: Record<string, string>, error: string): Promise<void> => {
        const res = await authorize(params);
        expect(res.status).toBe(400);
        expect(res.headers.get('location')).toBeNull();
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(await res.text()).toContain(`error=${error}`);
      };
      await page({ ...base(), client_id: 'someone-else' }, 'invalid_client_id');
      await page({ ...base(), redirect_uri: 'https://evil.example.test/cb' }, 'redirect_uri_mismatch');
      await page({ ...base(), redirect_uri: `${redirectUri}?extra=1` }, 'redirect_uri_mismatch');
      await page({ response_type: 'code', client_id: sb.clientId }, 'redirect_uri_mismatch');
      await page({ ...base(), redirect_uri: 'javascript:alert(1)' }, 'redirect_uri_mismatch');
      expect(sb.requestCount('oauthAuthorize')).toBe(5);
      expect(sb.apiUsage().used).toBe(0);
    });

    it('an authorization code expires after 15 minutes on the sandbox clock', async () => {
      await start();
      const res = await authorize(base());
      const code = new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
      clock += 15 * 60 * 1000;
      const answer = await tokenForm({ grant_type: 'authorization_code', code, client_id: sb.clientId, client_secret: sb.clientSecret, redirect_uri: redirectUri });
      expect(answer).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'expired authorization code' } });
    });
  });

  it('answers identity and userinfo for a valid token, 403 otherwise; revoke kills a token', async () => {
    await start();
    const conn = connect(sb);
    await conn.query('SELECT Id FROM Lead'); // no userInfo until a token answer; identity() then asks the API for the URL
    const identity = await conn.identity();
    expect(identity).toMatchObject({ organization_id: sb.orgId, user_id: sb.userId, id: `${sb.url}/id/${sb.orgId}/${sb.userId}` });
    const userinfo = await fetch(`${sb.url}/services/oauth2/userinfo`, { headers: { authorization: `Bearer ${sb.accessToken}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ organization_id: sb.orgId, user_id: sb.userId });
    const bad = await fetch(`${sb.url}/services/oauth2/userinfo`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(403);

    const oauth2 = new OAuth2({ clientId: sb.clientId, clientSecret: sb.clientSecret, loginUrl: sb.url });
    await oauth2.revokeToken(sb.accessToken);
    await expect(connect(sb, { refreshToken: null }).query('SELECT Id FROM Lead')).rejects.toMatchObject({ errorCode: 'INVALID_SESSION_ID' });
    await expect(oauth2.revokeToken('unknown-token')).rejects.toMatchObject({ name: 'invalid_token', message: 'invalid token' });
  });
});
