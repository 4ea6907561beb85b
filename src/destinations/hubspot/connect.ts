/**
 * Builds the HubSpot side of a sync from config: the SDK client (retry decorator and limiter left off,
 * reference/hubspot.md §1.5), the portal id, and the paced `HubspotApi` for that portal.
 *
 * Private-app mode needs only `HUBSPOT_ACCESS_TOKEN` (+ `HUBSPOT_BASE_URL`); the portal id comes from
 * `GET /account-info/v3/details`, so the ledger and the rate limiter are per portal, not per token.
 */
import { Client } from '@hubspot/api-client';
import { z } from 'zod';
import type { Config } from '../../config';
import { FixConfigurationError } from '../../lib/errors';
import type { RollingLimiterClock } from '../../lib/rolling-limiter';
import { HubspotApi, type HubspotAppKind } from './hubspot-api';
import { parseBody } from './schemas';

const AccountDetails = z.looseObject({ portalId: z.union([z.number(), z.string()]).transform(String), timeZone: z.string().optional() });

export interface HubspotConnection {
  client: Client;
  api: HubspotApi;
  portalId: string;
  timeZone: string | undefined;
  appKind: HubspotAppKind;
}

export interface ConnectHubspotOptions {
  accessToken?: string;
  appKind?: HubspotAppKind;
  clock?: RollingLimiterClock;
  /** Before every request: e.g. refresh an OAuth access token close to expiry and `client.setAccessToken` it. */
  beforeSend?: (client: Client) => Promise<void>;
  /**
   * HubSpot answered 401 to a token we thought valid (it expired early, or was replaced): get a new one now
   * and `client.setAccessToken` it; the request is then sent once more. Throws when no new token can be had.
   */
  onUnauthorized?: (client: Client) => Promise<void>;
}

export async function connectHubspot(config: Config, options: ConnectHubspotOptions = {}): Promise<HubspotConnection> {
  const accessToken = options.accessToken ?? config.hubspot.accessToken;
  if (accessToken === undefined) {
    throw new FixConfigurationError([
      'HUBSPOT_ACCESS_TOKEN: not set. Create a private app in HubSpot (Settings > Integrations > Private apps) with the CRM scopes in app.json, or run `orbit-sync sandbox` for a local portal.',
    ]);
  }
  const appKind = options.appKind ?? 'privateApp';
  const client = new Client({ accessToken, basePath: config.hubspot.baseUrl });
  const clock = options.clock;
  const before = options.beforeSend;
  const unauthorized = options.onUnauthorized;
  const hooks = {
    ...(clock && { clock }),
    ...(before && { beforeSend: () => before(client) }),
    ...(unauthorized && { onUnauthorized: () => unauthorized(client) }),
  };
  // Until the portal is known, calls are paced under the token.
  const probe = new HubspotApi({ accountId: `token:${accessToken}`, appKind, settings: config.hubspot, ...hooks });
  const endpoint = 'GET /account-info/v3/details';
  const raw = await probe.call(endpoint, async () => {
    const res = await client.apiRequest({ method: 'GET', path: '/account-info/v3/details' });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // keep the text
    }
    if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { code: res.status, body, headers: {} });
    return body;
  });
  const details = parseBody(AccountDetails, raw, endpoint);
  const api = new HubspotApi({ accountId: details.portalId, appKind, settings: config.hubspot, ...hooks });
  api.adopt(probe);
  return { client, api, portalId: details.portalId, timeZone: details.timeZone, appKind };
}
