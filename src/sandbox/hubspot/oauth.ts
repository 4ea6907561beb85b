/**
 * OAuth v1 for one app: the install page GET /oauth/authorize (consented at once, as the portal's admin),
 * POST /oauth/v1/token (authorization_code and refresh_token grants) and
 * GET /oauth/v1/access-tokens/{token}, with HubSpot's error bodies; access tokens expire on the sandbox
 * clock. Wire names are the spec's snake_case (oauth-v1.json `TokenResponseIF` / `AccessTokenInfoResponse`);
 * the SDK turns them into `accessToken`, `hubId`, and so on.
 */
import { randomBytes } from 'node:crypto';
import { errorBody, type HubspotErrorBody } from './errors';
import type { OpResult } from './records';
import type { HubspotOAuthOptions } from './types';

interface AccessTokenEntry {
  expiresAt: number;
  refreshToken: string;
  scopes: string[];
  revoked: boolean;
}

interface RefreshTokenEntry {
  scopes: string[];
  revoked: boolean;
}

export type OAuthTokenCheck = { ok: true; rateKey: string } | { ok: false; category: 'INVALID_AUTHENTICATION' | 'EXPIRED_AUTHENTICATION'; message: string };

export const DEFAULT_OAUTH_TTL_SEC = 1800;

/** HubSpot's OAuth error: 400 `{status: 'BAD_…', message, error, error_description, correlationId}`. */
function oauthError(status: string, error: string, message: string): OpResult {
  // [INFER] `category` is added so the body also matches the spec's `Error` (it requires category).
  const body: HubspotErrorBody = { ...errorBody('VALIDATION_ERROR', message), status, error, error_description: message };
  return { status: 400, body };
}

/**
 * The authorize page's refusals that cannot go back to the app (unknown client, bad redirect_uri): HubSpot
 * shows the user an error page; here a 400 JSON body shaped like the token endpoint's errors.
 */
function authorizePageError(error: string, message: string): OpResult {
  return { status: 400, body: { ...errorBody('VALIDATION_ERROR', message), error, error_description: message } };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `uri` plus query parameters, keeping its own query as written (and dropping a fragment). */
function withQuery(uri: string, params: ReadonlyArray<readonly [string, string | null]>): string {
  const hash = uri.indexOf('#');
  const base = hash < 0 ? uri : uri.slice(0, hash);
  const extra = params.flatMap(([k, v]) => (v === null ? [] : [`${k}=${encodeURIComponent(v)}`])).join('&');
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}${extra}`;
}

/** `scope` / `optional_scope`: space-separated (`+` or `%20` in the URL), duplicates dropped. */
function scopeList(value: string | null): string[] {
  return [...new Set((value ?? '').split(/\s+/).filter((s) => s !== ''))];
}

function redirect(location: string): OpResult {
  return { status: 302, body: undefined, headers: { location } };
}

function secret(prefix: string): string {
  return `${prefix}-${randomBytes(24).toString('base64url')}`;
}

export class OAuthApp {
  readonly appId: number;
  readonly ttlSec: number;
  private readonly codes = new Map<string, { redirectUri: string; scopes: string[] }>();
  private readonly refreshTokens = new Map<string, RefreshTokenEntry>();
  private readonly accessTokens = new Map<string, AccessTokenEntry>();

  constructor(
    private readonly options: HubspotOAuthOptions | undefined,
    private readonly portalId: number,
    private readonly now: () => number,
  ) {
    this.appId = options?.appId ?? 1_234_567;
    this.ttlSec = options?.accessTokenTtlSec ?? DEFAULT_OAUTH_TTL_SEC;
    if (!Number.isInteger(this.ttlSec) || this.ttlSec < 1) throw new RangeError('oauth.accessTokenTtlSec must be a positive integer');
  }

  /** [INFER] OAuth tokens share one rate limit window per app and portal (HubSpot counts per installed app). */
  get rateKey(): string {
    return `oauth-app:${this.appId}`;
  }

  issueCode(redirectUri: string, scopes: readonly string[]): string {
    if (!this.options) throw new RangeError('HubSpot sandbox: issueAuthorizationCode needs the `oauth` option');
    const code = secret('code');
    this.codes.set(code, { redirectUri, scopes: [...scopes] });
    return code;
  }

  /**
   * GET /oauth/authorize?client_id&redirect_uri&scope&optional_scope&state, or /oauth/{hubId}/authorize
   * (`pinnedHubId`): the portal's admin consents at once.
   * - 302 to `redirect_uri` + `code` and `state` (verbatim), its own query kept. The code grants the
   *   required scopes and the optional ones the app has (`allowedScopes`; [INFER] others are dropped).
   * - [INFER] A required scope the app does not have (`allowedScopes`) → 302 with `error=invalid_scope`,
   *   `error_description` and `state` (HubSpot: "a mismatch fails the install", reference §8).
   * - [INFER] 400, no redirect: unknown client_id, a hub id other than the portal's, a missing or
   *   non-http(s) redirect_uri or one outside `redirectUris`, a missing `scope`.
   */
  authorize(query: URLSearchParams, pinnedHubId?: string): OpResult {
    if (pinnedHubId !== undefined && pinnedHubId !== String(this.portalId)) {
      return authorizePageError('invalid_request', `Account ${pinnedHubId} is not the portal the app is installed from (${this.portalId})`);
    }
    if (!this.options || query.get('client_id') !== this.options.clientId) {
      return authorizePageError('invalid_client', 'missing or unknown client_id');
    }
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!isHttpUrl(redirectUri)) return authorizePageError('invalid_request', 'redirect_uri must be an absolute http(s) URL');
    if (this.options.redirectUris && !this.options.redirectUris.includes(redirectUri)) {
      return authorizePageError('invalid_request', `redirect_uri ${redirectUri} is not one of the app's redirect URLs`);
    }
    const required = scopeList(query.get('scope'));
    if (required.length === 0) return authorizePageError('invalid_scope', 'scope is required (space-separated)');
    const state = query.get('state');
    const allowed = this.options.allowedScopes;
    const refused = allowed ? required.filter((s) => !allowed.includes(s)) : [];
    if (refused.length > 0) {
      const description = `The app does not have the scopes ${refused.join(', ')}`;
      return redirect(withQuery(redirectUri, [['error', 'invalid_scope'], ['error_description', description], ['state', state]]));
    }
    const optional = scopeList(query.get('optional_scope')).filter((s) => !required.includes(s) && (!allowed || allowed.includes(s)));
    const code = this.issueCode(redirectUri, [...required, ...optional]);
    return redirect(withQuery(redirectUri, [['code', code], ['state', state]]));
  }

  /** The app is uninstalled: every refresh and access token it was issued, and unused codes, stop working. */
  revokeAll(): void {
    this.codes.clear();
    for (const entry of this.refreshTokens.values()) entry.revoked = true;
    for (const entry of this.accessTokens.values()) entry.revoked = true;
  }

  revokeRefreshToken(token: string): boolean {
    const entry = this.refreshTokens.get(token);
    if (!entry || entry.revoked) return false;
    entry.revoked = true;
    for (const access of this.accessTokens.values()) if (access.refreshToken === token) access.revoked = true;
    return true;
  }

  /** Ends an issued access token's life now (fault injection); false when it is not one. */
  expire(token: string): boolean {
    const entry = this.accessTokens.get(token);
    if (!entry) return false;
    entry.expiresAt = Math.min(entry.expiresAt, this.now());
    return true;
  }

  /** Is this an access token the app issued, and is it usable now? Undefined when not an OAuth token. */
  check(token: string): OAuthTokenCheck | undefined {
    const entry = this.accessTokens.get(token);
    if (!entry) return undefined;
    if (entry.revoked) {
      return { ok: false, category: 'INVALID_AUTHENTICATION', message: 'Authentication credentials are invalid: the access token was revoked (the app was uninstalled).' };
    }
    const overdue = this.now() - entry.expiresAt;
    if (overdue >= 0) {
      const ago = overdue >= 3_600_000 ? `${Math.floor(overdue / 3_600_000)} hour(s)` : `${Math.floor(overdue / 60_000)} minute(s)`;
      return { ok: false, category: 'EXPIRED_AUTHENTICATION', message: `The OAuth token used to make this call expired ${ago} ago.` };
    }
    return { ok: true, rateKey: this.rateKey };
  }

  private issueAccessToken(refreshToken: string, scopes: string[]): OpResult {
    const accessToken = secret('oat');
    this.accessTokens.set(accessToken, { expiresAt: this.now() + this.ttlSec * 1000, refreshToken, scopes, revoked: false });
    return {
      status: 200,
      body: {
        token_type: 'bearer',
        access_token: accessToken,
        refresh_token: refreshToken,
        expires_in: this.ttlSec,
        hub_id: this.portalId,
        user_id: this.options?.userId ?? 7_654_321,
        scopes,
        token_use: 'access_token',
      },
    };
  }

  /** POST /oauth/v1/token → 200 `TokenResponseIF` (an `AccessTokenResponse`), or HubSpot's 400. */
  token(form: URLSearchParams): OpResult {
    const grantType = form.get('grant_type');
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      return oauthError('BAD_GRANT_TYPE', 'unsupported_grant_type', `grant_type must be authorization_code or refresh_token, got ${grantType ?? 'nothing'}`);
    }
    if (!this.options || form.get('client_id') !== this.options.clientId) {
      return oauthError('BAD_CLIENT_ID', 'invalid_client', 'missing or unknown client id');
    }
    if (form.get('client_secret') !== this.options.clientSecret) {
      return oauthError('BAD_CLIENT_SECRET', 'invalid_client', 'missing or invalid client secret');
    }
    if (grantType === 'refresh_token') {
      const token = form.get('refresh_token') ?? '';
      const entry = this.refreshTokens.get(token);
      if (!entry || entry.revoked) return oauthError('BAD_REFRESH_TOKEN', 'invalid_grant', 'refresh token is invalid, expired or revoked');
      // HubSpot answers the same refresh token (reference §8).
      return this.issueAccessToken(token, entry.scopes);
    }
    const code = form.get('code') ?? '';
    const grant = this.codes.get(code);
    if (!grant) return oauthError('BAD_AUTH_CODE', 'invalid_grant', 'missing or unknown auth code');
    if (form.get('redirect_uri') !== grant.redirectUri) {
      return oauthError('BAD_REDIRECT_URI', 'invalid_grant', 'redirect_uri does not match the one the code was issued for');
    }
    this.codes.delete(code); // codes are single-use
    const refreshToken = secret('ort');
    this.refreshTokens.set(refreshToken, { scopes: grant.scopes, revoked: false });
    return this.issueAccessToken(refreshToken, grant.scopes);
  }

  /**
   * GET /oauth/v1/access-tokens/{token} → 200 `AccessTokenInfoResponse`. [INFER] Unknown, expired and
   * revoked tokens answer 404 OBJECT_NOT_FOUND.
   */
  info(token: string): OpResult {
    const entry = this.accessTokens.get(token);
    const remainingMs = entry ? entry.expiresAt - this.now() : 0;
    if (!entry || entry.revoked || remainingMs <= 0) {
      return { status: 404, body: errorBody('OBJECT_NOT_FOUND', 'Access token not found, expired or revoked') };
    }
    return {
      status: 200,
      body: {
        token,
        user: this.options?.user ?? 'installer@sandbox.example',
        hub_domain: this.options?.hubDomain ?? `sandbox-${this.portalId}.hubspot.example`,
        scopes: entry.scopes,
        hub_id: this.portalId,
        app_id: this.appId,
        expires_in: Math.floor(remainingMs / 1000),
        user_id: this.options?.userId ?? 7_654_321,
        token_type: 'access',
        is_private_distribution: false,
      },
    };
  }
}
