/**
 * OAuth 2.0 for one connected app: POST /services/oauth2/token (refresh_token and authorization_code with
 * optional PKCE), POST /services/oauth2/revoke, and the session check of every other call. Access tokens
 * expire on the sandbox clock. Bodies are Salesforce's (`{ error, error_description }` on failure).
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

function oauthError(error: string, description: string, status = 400): OAuthAnswer {
  return { status, body: { error, error_description: description } };
}

export class SalesforceOAuth {
  private readonly accessTokens = new Map<string, AccessTokenEntry>();
  private readonly refreshTokens = new Map<string, { revoked: boolean }>();
  private readonly codes = new Map<string, { redirectUri: string; codeChallenge?: string }>();

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

  addRefreshToken(token: string): void {
    this.refreshTokens.set(token, { revoked: false });
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

  issueCode(redirectUri: string, codeChallenge?: string): string {
    const code = `aPrx${randomBytes(32).toString('base64url')}`;
    this.codes.set(code, { redirectUri, ...(codeChallenge !== undefined ? { codeChallenge } : {}) });
    return code;
  }

  get idUrl(): string {
    return `${this.config.baseUrl()}/id/${this.config.orgId}/${this.config.userId}`;
  }

  private tokenResponse(accessToken: string, refreshToken: string | null): OAuthAnswer {
    const issuedAt = String(this.config.now());
    const id = this.idUrl;
    return {
      status: 200,
      body: {
        access_token: accessToken,
        ...(refreshToken !== null ? { refresh_token: refreshToken } : {}),
        signature: createHmac('sha256', this.config.clientSecret).update(id + issuedAt).digest('base64'),
        scope: SCOPE,
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
        this.addRefreshToken(refreshToken);
      }
      const accessToken = this.newAccessToken();
      this.addAccessToken(accessToken, refreshToken);
      return this.tokenResponse(accessToken, this.config.rotateRefreshToken ? refreshToken : null);
    }

    const code = form.get('code') ?? '';
    const grant = this.codes.get(code);
    if (!grant) return oauthError('invalid_grant', 'invalid authorization code');
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
    const refreshToken = this.newRefreshToken();
    this.addRefreshToken(refreshToken);
    const accessToken = this.newAccessToken();
    this.addAccessToken(accessToken, refreshToken);
    return this.tokenResponse(accessToken, refreshToken);
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
