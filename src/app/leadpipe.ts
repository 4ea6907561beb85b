/** The Leadpipe client of a connection, with the organization's API key the admin stored (sealed). */
import { createLeadpipeClient, type LeadpipeClient } from '../leadpipe/client';
import type { Config } from '../config';
import { SyncError } from '../lib/errors';
import { isLoopbackHost } from '../lib/is-loopback';
import type { Logger } from '../lib/logger';
import { createConnectionSettings } from '../store/connection-settings';
import type { AppContext } from './app-context';

export function leadpipeClientWithKey(config: Config, apiKey: string, logger?: Logger): LeadpipeClient {
  return createLeadpipeClient({
    ...config.leadpipe,
    apiKey,
    // The SSRF guard: only https on allow-listed hosts; loopback only when the API itself is the local sandbox.
    allowLoopbackDownloads: isLoopbackHost(new URL(config.leadpipe.baseUrl).hostname),
    ...(logger && { logger }),
  });
}

export async function leadpipeFor(ctx: AppContext, connectionId: string): Promise<LeadpipeClient> {
  const apiKey = (await createConnectionSettings(ctx.db, ctx.key).get(connectionId)).leadpipeApiKey;
  if (apiKey === undefined) {
    throw new SyncError('BAD_REQUEST', `Connection ${connectionId} has no Leadpipe API key yet: PUT /api/connections/${connectionId}/leadpipe-key { "apiKey": "…" }.`);
  }
  return leadpipeClientWithKey(ctx.config, apiKey, ctx.logger.child({ connectionId }));
}
