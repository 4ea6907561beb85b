/**
 * OAuth installs (issue #5): `GET /oauth/hubspot/install` + `/callback` and `GET /oauth/salesforce/install`
 * + `/callback`.
 *
 * - install: a random state id, stored single-use and expiring (`app.oauthStateTtlMs`), sent signed
 *   (`<id>.<hmac>`), and a redirect to the CRM's authorize page — HubSpot with the scopes of app.json,
 *   Salesforce with PKCE (S256; the verifier is kept sealed with the state).
 * - callback: the state is checked (signature, then consumed from the store: forged, expired and replayed
 *   states are refused), the code exchanged, the account learned (HubSpot hub id from the token info,
 *   Salesforce org id from userinfo), the tokens stored sealed, the connection created (or re-activated
 *   after a re-install) and `setup` run. The page says what happened and what to do next.
 *
 * The Salesforce `instance_url` the token endpoint returns is a URL the server will call with the token,
 * so it passes the same guard as Leadpipe downloads: https on `app.salesforceInstanceHosts` (loopback
 * only when the login URL itself is the local sandbox).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../app/app-context';
import { connectHubspotConnection, connectSalesforceConnection } from '../app/connection-target';
import { exchangeHubspotCode, hubspotTokenKeeper } from '../app/hubspot-oauth';
import { setupHubspot } from '../destinations/hubspot/setup';
import { setupSalesforce } from '../destinations/salesforce/setup';
import { checkDownloadUrl } from '../leadpipe/client';
import { describeError, SyncError } from '../lib/errors';
import { isLoopbackHost } from '../lib/is-loopback';
import { loadMapping } from '../mapping/load-mapping';
import { signState, stateId } from '../security/signatures';
import { createConnections, type Connection } from '../store/connections';
import { createConnectionSettings } from '../store/connection-settings';
import { createCredentials } from '../store/credentials';
import { createOAuthStates } from '../store/oauth-states';
import type { Crm } from '../store/schema';
import type { AppManifest } from './app-manifest';

const SALESFORCE_SCOPES = 'api refresh_token';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function page(res: Response, status: number, title: string, lines: readonly string[]): void {
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto">` +
        `<h1>${escapeHtml(title)}</h1>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}<p><a href="/">Back to the orbit-sync dashboard</a></p></body></html>`,
    );
}

function publicUrl(ctx: AppContext): string {
  if (ctx.config.publicUrl === undefined) throw new SyncError('CONFIG_INVALID', 'PUBLIC_URL: set it to this server’s public https URL; the CRM redirects the browser back to it.');
  return ctx.config.publicUrl;
}

function absolute(ctx: AppContext, pathOrUrl: string): string {
  return pathOrUrl.startsWith('/') ? `${publicUrl(ctx)}${pathOrUrl}` : pathOrUrl;
}

const Callback = z.object({ code: z.string().min(1).max(2048).optional(), state: z.string().max(256).optional(), error: z.string().max(200).optional(), error_description: z.string().max(1000).optional() });

async function checkState(ctx: AppContext, crm: Crm, state: string | undefined): Promise<{ verifier: string | undefined }> {
  const id = stateId(ctx.key, state);
  const consumed = id === undefined ? undefined : await createOAuthStates(ctx.db, ctx.key, { now: ctx.now }).consume(id, crm);
  if (!consumed) throw new SyncError('OAUTH_STATE_INVALID', 'This install link is invalid, expired or was already used. Start the install again.');
  return consumed;
}

/** Creates the connection, or brings a re-installed one back to active. */
async function connectionFor(ctx: AppContext, crm: Crm, accountId: string): Promise<Connection> {
  const connections = createConnections(ctx.db, { now: ctx.now });
  const connection = await connections.create({ crm, accountId });
  return connection.status === 'active' ? connection : connections.setStatus(connection.id, 'active');
}

export function oauthRoutes(ctx: AppContext, manifest: AppManifest): Router {
  const router = Router();
  const fail = (res: Response, err: unknown, crm: string): void => {
    const known = err instanceof SyncError;
    ctx.logger.warn('OAuth install failed', { crm, error: describeError(err) });
    // The browser's request (state, code, a denied consent) is the client's; the CRM or our setup failing is a 502.
    const byCode: Partial<Record<string, number>> = { OAUTH_STATE_INVALID: 400, AUTH_INVALID: 400, AUTH_FORBIDDEN: 403, CONFIG_INVALID: 503 };
    const status = err instanceof z.ZodError ? 400 : known ? (byCode[err.code] ?? 502) : 500;
    const message = err instanceof z.ZodError ? 'The callback’s query is not what the CRM sends (code, state).' : known ? err.message : 'An unexpected error; the server log has the details.';
    page(res, status, 'The install did not complete', [message]);
  };

  router.get('/hubspot/install', async (_req: Request, res: Response) => {
    try {
      const { clientId } = ctx.config.hubspot;
      if (clientId === undefined || ctx.config.hubspot.clientSecret === undefined) throw new SyncError('CONFIG_INVALID', 'HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET: set both (your HubSpot app’s Auth tab).');
      const redirectUri = absolute(ctx, manifest.auth.redirectUrls[0] ?? '/oauth/hubspot/callback');
      const id = await createOAuthStates(ctx.db, ctx.key, { now: ctx.now }).create('hubspot', { ttlMs: ctx.config.app.oauthStateTtlMs });
      const url = new URL(ctx.config.app.hubspotAuthorizeUrl);
      url.searchParams.set('client_id', clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('scope', manifest.auth.requiredScopes.join(' '));
      if (manifest.auth.optionalScopes.length > 0) url.searchParams.set('optional_scope', manifest.auth.optionalScopes.join(' '));
      url.searchParams.set('state', signState(ctx.key, id));
      res.redirect(302, url.toString());
    } catch (err) {
      fail(res, err, 'hubspot');
    }
  });

  router.get('/hubspot/callback', async (req: Request, res: Response) => {
    try {
      const q = Callback.parse(req.query);
      await checkState(ctx, 'hubspot', q.state);
      if (q.error !== undefined || q.code === undefined) throw new SyncError('AUTH_FORBIDDEN', `HubSpot did not authorize the app: ${q.error_description ?? q.error ?? 'no code'}.`);
      const redirectUri = absolute(ctx, manifest.auth.redirectUrls[0] ?? '/oauth/hubspot/callback');
      const tokens = await exchangeHubspotCode(ctx.config, q.code, redirectUri, ctx.now);
      const connection = await connectionFor(ctx, 'hubspot', tokens.hubId);
      await hubspotTokenKeeper(ctx, connection.id).store({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt });
      ctx.logger.info('HubSpot app installed', { connectionId: connection.id, portalId: tokens.hubId });
      const hubspot = await connectHubspotConnection(ctx, connection);
      const setup = await setupHubspot(hubspot.client, hubspot.api, loadMapping('hubspot', ctx.config.configDir));
      respondInstalled(req, res, connection, [
        `orbit-sync is installed in HubSpot portal ${tokens.hubId} (connection ${connection.id}).`,
        `Setup: ${setup.created.length} propert${setup.created.length === 1 ? 'y' : 'ies'} created, ${setup.existing.length} already there.`,
        'Next: set the Leadpipe API key and pick audiences in the dashboard (or the admin API).',
      ]);
    } catch (err) {
      fail(res, err, 'hubspot');
    }
  });

  router.get('/salesforce/install', async (_req: Request, res: Response) => {
    try {
      const { clientId, loginUrl } = ctx.config.salesforce;
      if (clientId === undefined) throw new SyncError('CONFIG_INVALID', 'SALESFORCE_CLIENT_ID (and SALESFORCE_CLIENT_SECRET): set them from your connected app / external client app.');
      const verifier = randomBytes(48).toString('base64url');
      const id = await createOAuthStates(ctx.db, ctx.key, { now: ctx.now }).create('salesforce', { verifier, ttlMs: ctx.config.app.oauthStateTtlMs });
      const url = new URL(`${loginUrl}/services/oauth2/authorize`);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', clientId);
      url.searchParams.set('redirect_uri', absolute(ctx, '/oauth/salesforce/callback'));
      url.searchParams.set('scope', SALESFORCE_SCOPES);
      url.searchParams.set('state', signState(ctx.key, id));
      url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
      url.searchParams.set('code_challenge_method', 'S256');
      res.redirect(302, url.toString());
    } catch (err) {
      fail(res, err, 'salesforce');
    }
  });

  router.get('/salesforce/callback', async (req: Request, res: Response) => {
    try {
      const q = Callback.parse(req.query);
      const { verifier } = await checkState(ctx, 'salesforce', q.state);
      if (q.error !== undefined || q.code === undefined) throw new SyncError('AUTH_FORBIDDEN', `Salesforce did not authorize the app: ${q.error_description ?? q.error ?? 'no code'}.`);
      const tokens = await exchangeSalesforceCode(ctx, q.code, verifier);
      const orgId = /\/id\/(00D[0-9A-Za-z]{12,15})\//.exec(tokens.id)?.[1];
      if (orgId === undefined) throw new SyncError('BAD_RESPONSE', 'Salesforce’s token response did not name the organization (id).');
      const connection = await connectionFor(ctx, 'salesforce', orgId);
      await createCredentials(ctx.db, ctx.key).put(connection.id, { kind: 'salesforce-oauth', instanceUrl: tokens.instanceUrl, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
      // userinfo confirms the org with the token itself; setup creates the fields and permission set.
      const sf = await connectSalesforceConnection(ctx, connection);
      const setup = await setupSalesforce(sf.api);
      const secret = await createConnectionSettings(ctx.db, ctx.key).outboundSecret(connection.id);
      ctx.logger.info('Salesforce app installed', { connectionId: connection.id, orgId });
      respondInstalled(req, res, connection, [
        `orbit-sync is connected to Salesforce org ${orgId} (connection ${connection.id}).`,
        `Setup: ${setup.created.length} created, ${setup.existing.length} already there; assign the permission set "${setup.permissionSet}" to the integration user.`,
        `For enrichment on create, point an Outbound Message (Lead and Contact, fields Id and Email) at ${absolute(ctx, `/webhooks/salesforce?key=${secret}`)}`,
        'Next: set the Leadpipe API key and pick audiences in the dashboard (or the admin API).',
      ]);
    } catch (err) {
      fail(res, err, 'salesforce');
    }
  });

  return router;
}

function respondInstalled(req: Request, res: Response, connection: Connection, lines: string[]): void {
  if (req.accepts(['html', 'json']) === 'json') res.json({ installed: true, connection, messages: lines });
  else page(res, 200, 'orbit-sync is installed', lines);
}

const SalesforceToken = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  instance_url: z.string().min(1),
  id: z.string().min(1),
});

async function exchangeSalesforceCode(ctx: AppContext, code: string, verifier: string | undefined): Promise<{ accessToken: string; refreshToken: string; instanceUrl: string; id: string }> {
  const { clientId, clientSecret, loginUrl, timeoutMs } = ctx.config.salesforce;
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, client_id: clientId ?? '', redirect_uri: absolute(ctx, '/oauth/salesforce/callback') });
  if (clientSecret !== undefined) form.set('client_secret', clientSecret);
  if (verifier !== undefined) form.set('code_verifier', verifier);
  const res = await fetch(`${loginUrl}/services/oauth2/token`, { method: 'POST', body: form, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = z.looseObject({ error: z.string().optional(), error_description: z.string().optional() }).safeParse(body);
    throw new SyncError('AUTH_INVALID', `Salesforce refused the authorization code (${e.success ? (e.data.error ?? res.status) : res.status}${e.success && e.data.error_description ? `: ${e.data.error_description}` : ''}); start the install again.`);
  }
  const parsed = SalesforceToken.safeParse(body);
  if (!parsed.success) throw new SyncError('BAD_RESPONSE', 'Salesforce’s token response lacks access_token, refresh_token, instance_url or id (is the refresh_token scope allowed for the app?).');
  const instance = checkDownloadUrl(parsed.data.instance_url, {
    allowedDownloadHosts: ctx.config.app.salesforceInstanceHosts,
    allowLoopbackDownloads: isLoopbackHost(new URL(loginUrl).hostname),
  });
  return { accessToken: parsed.data.access_token, refreshToken: parsed.data.refresh_token, instanceUrl: instance.origin, id: parsed.data.id };
}
