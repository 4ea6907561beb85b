/**
 * HubSpot OAuth for the installed app (reference/hubspot.md §8), through the SDK's v1 endpoints:
 *
 * - `exchangeHubspotCode`: authorization code → tokens, then `GET /oauth/v1/access-tokens/{token}` for the
 *   hub id (the SDK drops `hub_id` from the token response).
 * - `HubspotTokenKeeper`: the connection's sealed tokens; `fresh()` refreshes the 30-minute access token
 *   when less than `app.tokenRefreshMarginMs` of it is left (one refresh at a time), stores the new one
 *   sealed, and when HubSpot refuses the refresh token (uninstalled, revoked) marks the connection
 *   `needs_reauth` with the reason and throws AUTH_INVALID, which stops its syncs.
 */
import { Client } from '@hubspot/api-client';
import { z } from 'zod';
import type { Config } from '../config';
import { SyncError } from '../lib/errors';
import { createConnections } from '../store/connections';
import { createCredentials } from '../store/credentials';
import type { AppContext } from './app-context';

export interface HubspotTokens {
  accessToken: string;
  refreshToken: string;
  /** ISO 8601. */
  expiresAt: string;
}

const TokenInfo = z.looseObject({ hubId: z.union([z.number(), z.string()]).transform(String) });

interface ApiExceptionLike {
  code: number;
  body: unknown;
}

function isApiException(err: unknown): err is ApiExceptionLike {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

/** HubSpot's OAuth error `status` (BAD_REFRESH_TOKEN, BAD_AUTH_CODE, …), from the SDK's exception. */
function oauthStatus(err: unknown): { http: number; status: string; message: string } | undefined {
  if (!isApiException(err)) return undefined;
  let body = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      // keep the text
    }
  }
  const fields = typeof body === 'object' && body !== null ? (body as { status?: unknown; message?: unknown }) : {};
  return { http: err.code, status: typeof fields.status === 'string' ? fields.status : `HTTP_${err.code}`, message: typeof fields.message === 'string' ? fields.message : '' };
}

function oauthClient(config: Config): Client {
  return new Client({ basePath: config.hubspot.baseUrl });
}

function requireApp(config: Config): { clientId: string; clientSecret: string } {
  const { clientId, clientSecret } = config.hubspot;
  if (clientId === undefined || clientSecret === undefined) {
    throw new SyncError('CRM_SETUP_REQUIRED', 'HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET: set both (your HubSpot app’s Auth tab) to install the app by OAuth.');
  }
  return { clientId, clientSecret };
}

export async function exchangeHubspotCode(config: Config, code: string, redirectUri: string, now: () => Date): Promise<HubspotTokens & { hubId: string }> {
  const { clientId, clientSecret } = requireApp(config);
  const client = oauthClient(config);
  let tokens;
  try {
    tokens = await client.oauth.tokensApi.create('authorization_code', code, redirectUri, clientId, clientSecret);
  } catch (err) {
    const s = oauthStatus(err);
    throw new SyncError('AUTH_INVALID', `HubSpot refused the authorization code (${s?.status ?? 'no answer'}${s?.message ? `: ${s.message}` : ''}); start the install again.`);
  }
  const info = TokenInfo.safeParse(await client.oauth.accessTokensApi.get(tokens.accessToken));
  if (!info.success) throw new SyncError('BAD_RESPONSE', 'HubSpot’s access-token info did not name the account (hubId).');
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: new Date(now().getTime() + tokens.expiresIn * 1000).toISOString(),
    hubId: info.data.hubId,
  };
}

/**
 * One keeper per connection and app context, so a sync, an enrichment and a scheduler tick of the same
 * connection share one token and one refresh in flight.
 */
const keepers = new WeakMap<AppContext, Map<string, HubspotTokenKeeper>>();

export function hubspotTokenKeeper(ctx: AppContext, connectionId: string): HubspotTokenKeeper {
  let byConnection = keepers.get(ctx);
  if (!byConnection) keepers.set(ctx, (byConnection = new Map<string, HubspotTokenKeeper>()));
  let keeper = byConnection.get(connectionId);
  if (!keeper) byConnection.set(connectionId, (keeper = new HubspotTokenKeeper(ctx, connectionId)));
  return keeper;
}

export class HubspotTokenKeeper {
  private tokens: HubspotTokens | undefined;
  private refreshing: Promise<string> | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly connectionId: string,
  ) {}

  /** Stores freshly issued tokens (install). */
  async store(tokens: HubspotTokens): Promise<void> {
    this.tokens = tokens;
    await createCredentials(this.ctx.db, this.ctx.key).put(this.connectionId, { kind: 'hubspot-oauth', ...tokens });
  }

  private async load(): Promise<HubspotTokens> {
    if (this.tokens) return this.tokens;
    const stored = await createCredentials(this.ctx.db, this.ctx.key).get(this.connectionId);
    if (!stored?.accessToken || !stored.refreshToken || !stored.expiresAt) {
      throw new SyncError('AUTH_INVALID', `Connection ${this.connectionId} has no HubSpot OAuth tokens; install the app again (/oauth/hubspot/install).`);
    }
    this.tokens = { accessToken: stored.accessToken, refreshToken: stored.refreshToken, expiresAt: stored.expiresAt };
    return this.tokens;
  }

  /** A usable access token, refreshed first when it is close to expiry. */
  async fresh(): Promise<string> {
    const tokens = await this.load();
    const left = Date.parse(tokens.expiresAt) - this.ctx.now().getTime();
    if (left > this.ctx.config.app.tokenRefreshMarginMs) return tokens.accessToken;
    this.refreshing ??= this.refresh(tokens).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** A new access token now, whatever the old one's expiry (HubSpot refused it). */
  async forceRefresh(): Promise<string> {
    const tokens = await this.load();
    this.refreshing ??= this.refresh(tokens).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(tokens: HubspotTokens): Promise<string> {
    const { clientId, clientSecret } = requireApp(this.ctx.config);
    let answer;
    try {
      answer = await oauthClient(this.ctx.config).oauth.tokensApi.create('refresh_token', undefined, undefined, clientId, clientSecret, tokens.refreshToken);
    } catch (err) {
      const s = oauthStatus(err);
      if (s && (s.status === 'BAD_CLIENT_ID' || s.status === 'BAD_CLIENT_SECRET')) {
        throw new SyncError('CONFIG_INVALID', `HubSpot refused the app's credentials (${s.status}): check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET.`);
      }
      // Only a refused refresh token means the portal must install the app again; 429s and 5xx pass.
      if (s && (s.status === 'BAD_REFRESH_TOKEN' || s.http === 401)) {
        const message = `HubSpot refused the refresh token (${s.status}${s.message ? `: ${s.message}` : ''}): the app was uninstalled or its access revoked. Install it again from /oauth/hubspot/install.`;
        await createConnections(this.ctx.db).setStatus(this.connectionId, 'needs_reauth', message);
        this.ctx.logger.warn('HubSpot connection needs re-authorization', { connectionId: this.connectionId, status: s.status });
        throw new SyncError('AUTH_INVALID', message);
      }
      throw new SyncError('UPSTREAM_5XX', `Could not refresh the HubSpot access token (${s ? `HTTP ${s.http}` : err instanceof Error ? err.message : String(err)}); retried later.`, { retryable: true });
    }
    await this.store({
      accessToken: answer.accessToken,
      // HubSpot answers the same refresh token; keep a new one if it ever rotates.
      refreshToken: answer.refreshToken || tokens.refreshToken,
      expiresAt: new Date(this.ctx.now().getTime() + answer.expiresIn * 1000).toISOString(),
    });
    this.ctx.logger.info('HubSpot access token refreshed', { connectionId: this.connectionId });
    return answer.accessToken;
  }
}
