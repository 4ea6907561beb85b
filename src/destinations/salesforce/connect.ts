/**
 * Builds the Salesforce side of a sync from config: a jsforce Connection with an explicit API version
 * (jsforce defaults to 50.0), refresh on 401 through the OAuth client, the org id, and the paced
 * `SalesforceApi` for it.
 *
 * Tokens: jsforce refreshes an expired access token by itself and emits `refresh`, but never keeps a
 * rotated refresh token (reference/salesforce.md §1). `onTokens` receives both, so the caller can persist
 * them (the installed app stores them encrypted, #5); the CLI, whose tokens come from the environment,
 * only logs that it refreshed. A refresh that fails ends the sync with AUTH_INVALID and a message asking
 * to re-authorize.
 */
import { Connection } from 'jsforce';
import { z } from 'zod';
import type { Config } from '../../config';
import { FixConfigurationError, SyncError } from '../../lib/errors';
import { SafeTransport } from './safe-transport';
import { classifySalesforceError, SalesforceApi } from './salesforce-api';

export interface SalesforceTokens {
  accessToken: string;
  /** Present when Salesforce rotated it. */
  refreshToken?: string;
  instanceUrl: string;
}

export interface SalesforceConnection {
  conn: Connection;
  api: SalesforceApi;
  orgId: string;
}

export interface ConnectSalesforceOptions {
  onTokens?: (tokens: SalesforceTokens) => void;
}

const UserInfo = z.looseObject({ organization_id: z.string().min(15) });

export async function connectSalesforce(config: Config, options: ConnectSalesforceOptions = {}): Promise<SalesforceConnection> {
  const sf = config.salesforce;
  const problems: string[] = [];
  if (sf.instanceUrl === undefined) problems.push('SALESFORCE_INSTANCE_URL: not set (your org’s https://<domain>.my.salesforce.com)');
  if (sf.accessToken === undefined && sf.refreshToken === undefined) problems.push('SALESFORCE_ACCESS_TOKEN or SALESFORCE_REFRESH_TOKEN: set at least one');
  if (sf.refreshToken !== undefined && sf.clientId === undefined) problems.push('SALESFORCE_CLIENT_ID: needed to refresh tokens with SALESFORCE_REFRESH_TOKEN');
  if (problems.length > 0 || sf.instanceUrl === undefined) throw new FixConfigurationError(problems);

  const oauth2 = sf.clientId === undefined ? undefined : { clientId: sf.clientId, ...(sf.clientSecret !== undefined && { clientSecret: sf.clientSecret }), loginUrl: sf.loginUrl };
  const conn = new Connection({
    instanceUrl: sf.instanceUrl,
    version: sf.apiVersion,
    ...(sf.accessToken !== undefined && { accessToken: sf.accessToken }),
    ...(sf.refreshToken !== undefined && { refreshToken: sf.refreshToken }),
    ...(oauth2 && { oauth2 }),
  });
  // jsforce's own transport crashes the process on a connection dropped mid-answer (safe-transport.ts).
  conn._transport = new SafeTransport();
  conn.oauth2._transport = new SafeTransport();
  conn.on('refresh', (accessToken: string, res: { instance_url?: string; refresh_token?: string }) => {
    // jsforce keeps the refresh token it was given; a rotated one must be taken over, or the next refresh fails.
    if (res.refresh_token !== undefined) conn.refreshToken = res.refresh_token;
    options.onTokens?.({ accessToken, instanceUrl: res.instance_url ?? conn.instanceUrl, ...(res.refresh_token !== undefined && { refreshToken: res.refresh_token }) });
  });
  const api = new SalesforceApi({ conn, retry: sf.retry, maxConcurrent: sf.maxConcurrent, timeoutMs: sf.timeoutMs });

  /** A new access token now (jsforce refreshes by itself only on a REST 401). */
  const refreshNow = async (): Promise<void> => {
    const refreshToken = conn.refreshToken ?? sf.refreshToken;
    if (refreshToken === undefined) return;
    const res = await api.call('POST /services/oauth2/token', () => conn.oauth2.refreshToken(refreshToken)).catch((err: unknown) => {
      throw classifySalesforceError(new Error(`Unable to refresh session due to: ${err instanceof Error ? err.message : String(err)}`), {
        endpoint: 'POST /services/oauth2/token',
        conn,
      });
    });
    conn._establish({ instanceUrl: res.instance_url, accessToken: res.access_token, refreshToken: res.refresh_token ?? refreshToken });
    options.onTokens?.({ accessToken: res.access_token, instanceUrl: res.instance_url, ...(res.refresh_token !== undefined && { refreshToken: res.refresh_token }) });
  };
  // No access token yet: get one before the first request.
  if (sf.accessToken === undefined) await refreshNow();
  const userinfo = (): Promise<unknown> => api.call('GET /services/oauth2/userinfo', () => conn.request<unknown>('/services/oauth2/userinfo'));
  // userinfo answers an expired token with 403 Bad_OAuth_Token, which jsforce does not refresh on.
  const raw = await userinfo().catch(async (err: unknown) => {
    if (!(err instanceof SyncError) || !/Bad_OAuth_Token|INVALID_SESSION_ID/i.test(err.message) || (conn.refreshToken ?? sf.refreshToken) === undefined) throw err;
    await refreshNow();
    return userinfo();
  });
  const info = UserInfo.safeParse(raw);
  if (!info.success) throw new SyncError('BAD_RESPONSE', 'Salesforce’s /services/oauth2/userinfo did not name the organization (organization_id).');
  return { conn, api, orgId: info.data.organization_id };
}
