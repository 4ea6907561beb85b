/**
 * Opens the CRM side of a sync or an enrichment for one installed connection: its sealed OAuth tokens
 * (refreshed before expiry, rotated ones kept), its overrides applied to config and mapping, and the
 * destination built for its account. A connection that needs re-authorization is refused with the reason.
 */
import type { Config } from '../config';
import type { CrmDestination } from '../destinations/destination';
import { connectHubspot, type HubspotConnection } from '../destinations/hubspot/connect';
import { HubspotDestination } from '../destinations/hubspot/hubspot-destination';
import { connectSalesforce, type SalesforceConnection } from '../destinations/salesforce/connect';
import { SalesforceDestination } from '../destinations/salesforce/salesforce-destination';
import { SyncError } from '../lib/errors';
import { loadMapping } from '../mapping/load-mapping';
import type { Mapping } from '../mapping/mapping-schema';
import { createCompanyCache } from '../store/company-cache';
import { createConnections, type Connection } from '../store/connections';
import { createConnectionSettings } from '../store/connection-settings';
import { createCredentials } from '../store/credentials';
import type { AppContext } from './app-context';
import { hubspotTokenKeeper } from './hubspot-oauth';
import { applyOverrides, OverridesSchema, type Overrides } from './overrides';

export interface ConnectionTarget {
  connection: Connection;
  destination: CrmDestination;
  mapping: Mapping;
  config: Config;
  overrides: Overrides;
  hubspot?: HubspotConnection;
  salesforce?: SalesforceConnection;
}

export async function loadConnection(ctx: AppContext, connectionId: string): Promise<Connection> {
  const connection = await createConnections(ctx.db).get(connectionId);
  if (!connection) throw new SyncError('NOT_FOUND', `No connection ${connectionId}.`);
  if (connection.status === 'needs_reauth') {
    throw new SyncError('NEEDS_REAUTH', `Connection ${connectionId} needs re-authorization: ${connection.statusMessage ?? 'install the app again'}.`);
  }
  if (connection.status !== 'active') throw new SyncError('BAD_REQUEST', `Connection ${connectionId} is ${connection.status}; activate it first.`);
  return connection;
}

export async function connectionOverrides(ctx: AppContext, connectionId: string): Promise<Overrides> {
  const raw = (await createConnectionSettings(ctx.db, ctx.key).get(connectionId)).overrides;
  const parsed = OverridesSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  ctx.logger.warn('stored overrides are invalid and ignored', { connectionId });
  return {};
}

/** The HubSpot client for an OAuth connection, its token refreshed before every request when close to expiry. */
export async function connectHubspotConnection(ctx: AppContext, connection: Connection, config: Config = ctx.config): Promise<HubspotConnection> {
  const keeper = hubspotTokenKeeper(ctx, connection.id);
  const connect = async (accessToken: string): Promise<HubspotConnection> =>
    connectHubspot(config, {
      accessToken,
      appKind: 'oauthApp',
      beforeSend: async (client) => client.setAccessToken(await keeper.fresh()),
      onUnauthorized: async (client) => client.setAccessToken(await keeper.forceRefresh()),
    });
  let hubspot: HubspotConnection;
  try {
    hubspot = await connect(await keeper.fresh());
  } catch (err) {
    if (!(err instanceof SyncError) || err.code !== 'AUTH_INVALID') throw err;
    // HubSpot refused a token we thought fresh (revoked by an uninstall?): one refresh says which. If the
    // refresh token is refused too, the keeper marks the connection `needs_reauth`.
    hubspot = await connect(await keeper.forceRefresh());
  }
  if (hubspot.portalId !== connection.accountId) {
    throw new SyncError('AUTH_INVALID', `The stored HubSpot tokens of connection ${connection.id} belong to portal ${hubspot.portalId}, not ${connection.accountId}; install the app again.`);
  }
  return hubspot;
}

export async function connectSalesforceConnection(ctx: AppContext, connection: Connection, config: Config = ctx.config): Promise<SalesforceConnection> {
  const credentials = createCredentials(ctx.db, ctx.key);
  const stored = await credentials.get(connection.id);
  if (!stored?.instanceUrl || (!stored.accessToken && !stored.refreshToken)) {
    throw new SyncError('NEEDS_REAUTH', `Connection ${connection.id} has no Salesforce tokens; install the app again (/oauth/salesforce/install).`);
  }
  let latest = { ...stored };
  // Refreshed tokens are written one after the other, so an older one never overwrites a newer one.
  let writes = Promise.resolve();
  const effective: Config = {
    ...config,
    salesforce: {
      ...config.salesforce,
      instanceUrl: stored.instanceUrl,
      ...(stored.accessToken !== undefined && { accessToken: stored.accessToken }),
      ...(stored.refreshToken !== undefined && { refreshToken: stored.refreshToken }),
    },
  };
  let sf: SalesforceConnection;
  try {
    sf = await connectSalesforce(effective, {
      onTokens: (t) => {
        // The instance URL stays the one checked at install; a rotated refresh token replaces the old one.
        latest = { ...latest, accessToken: t.accessToken, ...(t.refreshToken !== undefined && { refreshToken: t.refreshToken }) };
        const snapshot = latest;
        writes = writes
          .then(() => credentials.put(connection.id, snapshot))
          .catch((err: unknown) => ctx.logger.error('could not store refreshed Salesforce tokens', { connectionId: connection.id, error: err instanceof Error ? err.message : String(err) }));
      },
    });
  } catch (err) {
    if (err instanceof SyncError && err.code === 'AUTH_INVALID') {
      await createConnections(ctx.db).setStatus(connection.id, 'needs_reauth', err.message);
    }
    throw err;
  }
  if (sf.orgId !== connection.accountId) {
    throw new SyncError('AUTH_INVALID', `The stored Salesforce tokens of connection ${connection.id} belong to org ${sf.orgId}, not ${connection.accountId}; install the app again.`);
  }
  return sf;
}

export async function openConnectionTarget(ctx: AppContext, connectionId: string): Promise<ConnectionTarget> {
  const connection = await loadConnection(ctx, connectionId);
  const overrides = await connectionOverrides(ctx, connectionId);
  const baseMapping = loadMapping(connection.crm, ctx.config.configDir);
  const { config, mapping, createPolicy } = applyOverrides(ctx.config, baseMapping, overrides, connection.crm);
  const logger = ctx.logger.child({ connectionId });
  if (connection.crm === 'hubspot') {
    const hubspot = await connectHubspotConnection(ctx, connection, config);
    const destination = new HubspotDestination({
      client: hubspot.client,
      api: hubspot.api,
      accountId: hubspot.portalId,
      connectionId,
      mapping,
      settings: config.hubspot,
      companyCache: createCompanyCache(ctx.db),
      maxTopics: config.sync.maxTopics,
      logger,
      ...(createPolicy && { createPolicy }),
    });
    return { connection, destination, mapping, config, overrides, hubspot };
  }
  const salesforce = await connectSalesforceConnection(ctx, connection, config);
  const destination = new SalesforceDestination({
    api: salesforce.api,
    orgId: salesforce.orgId,
    mapping,
    settings: config.salesforce,
    maxTopics: config.sync.maxTopics,
    logger,
    ...(createPolicy && { createPolicy }),
  });
  return { connection, destination, mapping, config, overrides, salesforce };
}
