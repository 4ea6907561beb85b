/** Salesforce sandbox: sessions, token refresh and the web-server flow, driven by real jsforce 3. */
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
