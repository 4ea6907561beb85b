/**
 * OAuth 2.0 for one connected app: GET /services/oauth2/authorize (the consent page, approved at once by
 * the org's admin), POST /services/oauth2/token (refresh_token and authorization_code with optional PKCE),
 * POST /services/oauth2/revoke, and the session check of every other call. Access tokens expire on the
 * sandbox clock. Bodies are Salesforce's (`{ error, error_description }` on failure).
 *
 * Authorize (reference §2; [INFER] where Salesforce's order of checks and messages are not documented):
 *   - an unknown client_id → 400 page `error=invalid_client_id`; a redirect_uri that is not an absolute
 *     http(s) URL without fragment, or not one of the callback URLs (when configured) → 400 page
 *     `error=redirect_uri_mismatch`. Neither redirects: the browser cannot be trusted back to that URI;
 *   - everything else redirects to redirect_uri with `error` + `error_description` (+ state):
 *     response_type other than `code` → unsupported_response_type; a code_challenge_method other than S256
 *     → invalid_request (no method means S256: jsforce sends none); a challenge that is not 43 base64url
 *     characters → invalid_request; no challenge while the app requires PKCE → invalid_request "missing
 *     required code challenge"; an unknown scope → invalid_scope;
 *   - success: 302 to `redirect_uri` (its own query kept) `&code=…&state=…`. The code is single-use and
 *     [INFER] lives 15 minutes on the sandbox clock.
 *   - [INFER] Scopes: the granted scope is the requested one (default `api refresh_token`); a refresh token
 *     is issued only with `refresh_token`, `offline_access` or `full`, as Salesforce does.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  orgId: string;
  userId: string;
  accessTokenTtlMs: number;
  rotateRefreshToken: boolean;
  now: () => number;
  /** The sandbox's base URL (instance_url, the `id` URL). Read lazily: known once the server listens. */
  baseUrl: () => string;
  /** The connected app's callback URLs; undefined: any absolute http(s) URL. */
  callbackUrls?: readonly string[];
  /** The connected app requires PKCE at the authorize endpoint. */
  requirePkce: boolean;
}

/** What GET /services/oauth2/authorize answers: a redirect, or an error page (no redirect). */
export type AuthorizeAnswer = { kind: 'redirect'; location: string } | { kind: 'page'; status: number; error: string; description: string };

interface CodeGrant {
  redirectUri: string;
  codeChallenge?: string;
  scope: string;
  expiresAt: number;
}

interface AccessTokenEntry {
  expiresAt: number;
  refreshToken: string | null;
  revoked: boolean;
}

export type SessionCheck = 'ok' | 'expired' | 'invalid';

export interface OAuthAnswer {
  status: number;
  body: Record<string, unknown>;
}

const SCOPE = 'api refresh_token';
/** [INFER] Authorization codes live 15 minutes. */
const CODE_TTL_MS = 15 * 60 * 1000;
/** Salesforce's OAuth scopes (help: "OAuth Tokens and Scopes"); `refresh_token` / `offline_access` / `full` yield a refresh token. */
const KNOWN_SCOPES = new Set([
  'api',
  'refresh_token',
  'offline_access',
  'full',
  'id',
  'profile',
  'email',
  'address',
  'phone',
  'openid',
  'web',
  'visualforce',
  'chatter_api',
  'custom_permissions',
  'wave_api',
  'eclair_api',
  'pardot_api',
  'lightning',
  'content',
  'cdp_api',
]);
const REFRESH_SCOPES = ['refresh_token', 'offline_access', 'full'];
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** An absolute http(s) URL without fragment, or null. */
function parseRedirectUri(value: string | null): URL | null {
  if (value === null || value === '') return null;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hash === '' && !value.includes('#') ? url : null;
  } catch {
    return null;
  }
}

/** `uri` with `params` appended to its query (the query it has is kept as sent). */
function withQuery(uri: string, params: ReadonlyArray<[string, string | null]>): string {
  const extra = params.filter((p): p is [string, string] => p[1] !== null).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  if (extra.length === 0) return uri;
  const separator = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${separator}${extra.join('&')}`;
}

function oauthError(error: string, description: string, status = 400): OAuthAnswer {
  return { status, body: { error, error_description: description } };
}

export class SalesforceOAuth {
  private readonly accessTokens = new Map<string, AccessTokenEntry>();
  private readonly refreshTokens = new Map<string, { revoked: boolean; scope: string }>();
  private readonly codes = new Map<string, CodeGrant>();

  constructor(private readonly config: OAuthConfig) {}

  /** Salesforce access tokens look like `<orgId>!<opaque>`. */
  private newAccessToken(): string {
    return `${this.config.orgId.slice(0, 15)}!AR${randomBytes(48).toString('base64url')}`;
  }

  private newRefreshToken(): string {
    return `5Aep861${randomBytes(40).toString('base64url')}`;
  }

  addAccessToken(token: string, refreshToken: string | null): void {
    this.accessTokens.set(token, { expiresAt: this.config.now() + this.config.accessTokenTtlMs, refreshToken, revoked: false });
  }

  addRefreshToken(token: string, scope = SCOPE): void {
    this.refreshTokens.set(token, { revoked: false, scope });
  }

  /** The initial session: a refresh token and an access token issued from it. */
  initialSession(accessToken?: string, refreshToken?: string): { accessToken: string; refreshToken: string } {
    const rt = refreshToken ?? this.newRefreshToken();
    const at = accessToken ?? this.newAccessToken();
    this.addRefreshToken(rt);
    this.addAccessToken(at, rt);
    return { accessToken: at, refreshToken: rt };
  }

  check(token: string | undefined): SessionCheck {
    const entry = token === undefined ? undefined : this.accessTokens.get(token);
    if (!entry || entry.revoked) return 'invalid';
    return this.config.now() >= entry.expiresAt ? 'expired' : 'ok';
  }

  /** Ends one access token's life now (fault injection); false when it is not one. */
  expire(token: string | undefined): boolean {
    const entry = token === undefined ? undefined : this.accessTokens.get(token);
    if (!entry) return false;
    entry.expiresAt = Math.min(entry.expiresAt, this.config.now());
    return true;
  }

  expireAll(): void {
    for (const entry of this.accessTokens.values()) entry.expiresAt = Number.NEGATIVE_INFINITY;
  }

  revokeRefreshToken(token: string): boolean {
    const entry = this.refreshTokens.get(token);
    if (!entry || entry.revoked) return false;
    entry.revoked = true;
    for (const access of this.accessTokens.values()) if (access.refreshToken === token) access.revoked = true;
    return true;
  }

  issueCode(redirectUri: string, codeChallenge?: string, scope = SCOPE): string {
    const code = `aPrx${randomBytes(32).toString('base64url')}`;
    this.codes.set(code, { redirectUri, scope, expiresAt: this.config.now() + CODE_TTL_MS, ...(codeChallenge !== undefined ? { codeChallenge } : {}) });
    return code;
  }

  /** GET /services/oauth2/authorize, approved by the org's admin user. */
  authorize(query: URLSearchParams): AuthorizeAnswer {
    if (query.get('client_id') !== this.config.clientId) return { kind: 'page', status: 400, error: 'invalid_client_id', description: 'client identifier invalid' };
    const redirectUri = query.get('redirect_uri');
    const parsed = parseRedirectUri(redirectUri);
    const allowed = this.config.callbackUrls;
    if (redirectUri === null || parsed === null || (allowed !== undefined && !allowed.some((u) => parseRedirectUri(u)?.href === parsed.href))) {
      return { kind: 'page', status: 400, error: 'redirect_uri_mismatch', description: 'redirect_uri must match configuration' };
    }
    const state = query.get('state');
    const fail = (error: string, description: string): AuthorizeAnswer => ({
      kind: 'redirect',
      location: withQuery(redirectUri, [
        ['error', error],
        ['error_description', description],
        ['state', state],
      ]),
    });
    if (query.get('response_type') !== 'code') return fail('unsupported_response_type', 'response type not supported');
    const method = query.get('code_challenge_method');
    if (method !== null && method !== 'S256') return fail('invalid_request', 'invalid code challenge method');
    const challenge = query.get('code_challenge');
    if (challenge === null || challenge === '') {
      if (this.config.requirePkce) return fail('invalid_request', 'missing required code challenge');
    } else if (!S256_CHALLENGE.test(challenge)) return fail('invalid_request', 'invalid code challenge');
    const requested = (query.get('scope') ?? '').split(/\s+/).filter((s) => s !== '');
    if (requested.some((s) => !KNOWN_SCOPES.has(s))) return fail('invalid_scope', 'the requested scope is not allowed');
    const scope = requested.length === 0 ? SCOPE : [...new Set(requested)].join(' ');
    const code = this.issueCode(redirectUri, challenge === null || challenge === '' ? undefined : challenge, scope);
    return {
      kind: 'redirect',
      location: withQuery(redirectUri, [
        ['code', code],
        ['state', state],
      ]),
    };
  }

  get idUrl(): string {
    return `${this.config.baseUrl()}/id/${this.config.orgId}/${this.config.userId}`;
  }

  private tokenResponse(accessToken: string, refreshToken: string | null, scope: string): OAuthAnswer {
    const issuedAt = String(this.config.now());
    const id = this.idUrl;
    return {
      status: 200,
      body: {
        access_token: accessToken,
        ...(refreshToken !== null ? { refresh_token: refreshToken } : {}),
        signature: createHmac('sha256', this.config.clientSecret).update(id + issuedAt).digest('base64'),
        scope,
        instance_url: this.config.baseUrl(),
        id,
        token_type: 'Bearer',
        issued_at: issuedAt,
      },
    };
  }

  /** POST /services/oauth2/token. */
  token(form: URLSearchParams): OAuthAnswer {
    const grantType = form.get('grant_type');
    if (grantType !== 'refresh_token' && grantType !== 'authorization_code') return oauthError('unsupported_grant_type', 'grant type not supported');
    if (form.get('client_id') !== this.config.clientId) return oauthError('invalid_client_id', 'client identifier invalid');
    const secret = form.get('client_secret');

    if (grantType === 'refresh_token') {
      // [INFER] "Require Secret for Refresh Token Flow" is on (the connected-app default).
      if (secret !== this.config.clientSecret) return oauthError('invalid_client', 'invalid client credentials');
      const token = form.get('refresh_token') ?? '';
      const entry = this.refreshTokens.get(token);
      if (!entry || entry.revoked) return oauthError('invalid_grant', 'expired access/refresh token');
      let refreshToken = token;
      if (this.config.rotateRefreshToken) {
        entry.revoked = true;
        refreshToken = this.newRefreshToken();
        this.addRefreshToken(refreshToken, entry.scope);
      }
      const accessToken = this.newAccessToken();
      this.addAccessToken(accessToken, refreshToken);
      return this.tokenResponse(accessToken, this.config.rotateRefreshToken ? refreshToken : null, entry.scope);
    }

    const code = form.get('code') ?? '';
    const grant = this.codes.get(code);
    if (!grant) return oauthError('invalid_grant', 'invalid authorization code');
    if (this.config.now() >= grant.expiresAt) {
      this.codes.delete(code);
      return oauthError('invalid_grant', 'expired authorization code');
    }
    // [INFER] A PKCE code may be exchanged without the secret; otherwise the secret is required.
    if (grant.codeChallenge === undefined || secret !== null) {
      if (secret !== this.config.clientSecret) return oauthError('invalid_client', 'invalid client credentials');
    }
    if (form.get('redirect_uri') !== grant.redirectUri) return oauthError('redirect_uri_mismatch', 'redirect_uri must match configuration');
    if (grant.codeChallenge !== undefined) {
      const verifier = form.get('code_verifier');
      if (verifier === null) return oauthError('invalid_request', 'missing required code challenge');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (challenge !== grant.codeChallenge) return oauthError('invalid_grant', 'invalid code verifier');
    }
    this.codes.delete(code); // single use
    const offline = grant.scope.split(' ').some((s) => REFRESH_SCOPES.includes(s));
    const refreshToken = offline ? this.newRefreshToken() : null;
    if (refreshToken !== null) this.addRefreshToken(refreshToken, grant.scope);
    const accessToken = this.newAccessToken();
    this.addAccessToken(accessToken, refreshToken);
    return this.tokenResponse(accessToken, refreshToken, grant.scope);
  }

  /** POST /services/oauth2/revoke: an access token, or a refresh token with the access tokens issued from it. */
  revoke(form: URLSearchParams): OAuthAnswer {
    const token = form.get('token') ?? '';
    if (this.revokeRefreshToken(token)) return { status: 200, body: {} };
    const access = this.accessTokens.get(token);
    if (access && !access.revoked) {
      access.revoked = true;
      return { status: 200, body: {} };
    }
    return oauthError('invalid_token', 'invalid token');
  }

  /** GET /services/oauth2/userinfo and the `id` URL. */
  identity(): Record<string, unknown> {
    const base = this.config.baseUrl();
    const { orgId, userId } = this.config;
    return {
      id: this.idUrl,
      sub: this.idUrl,
      asserted_user: true,
      user_id: userId,
      organization_id: orgId,
      username: 'integration@orbit-sync.sandbox',
      preferred_username: 'integration@orbit-sync.sandbox',
      nick_name: 'integration',
      nickname: 'integration',
      display_name: 'Orbit Sync Integration',
      name: 'Orbit Sync Integration',
      email: 'integration@orbit-sync.sandbox',
      email_verified: true,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: 0,
      zoneinfo: 'GMT',
      urls: {
        enterprise: `${base}/services/Soap/c/{version}/${orgId.slice(0, 15)}`,
        metadata: `${base}/services/Soap/m/{version}/${orgId.slice(0, 15)}`,
        partner: `${base}/services/Soap/u/{version}/${orgId.slice(0, 15)}`,
        rest: `${base}/services/data/v{version}/`,
        sobjects: `${base}/services/data/v{version}/sobjects/`,
        query: `${base}/services/data/v{version}/query/`,
        profile: `${base}/${userId}`,
      },
    };
  }
}
