/**
 * `orbit-sync sandbox`: the Leadpipe and HubSpot sandboxes standalone on loopback, until Ctrl+C, so a
 * user can try orbit-sync (or their own mapping) without touching a real portal.
 *
 * The Leadpipe sandbox serves one active audience with one completed run: generated people
 * (`--seed`, `--rows`) or an export file (`--fixture`). The HubSpot portal is seeded from that run as a
 * real portal looks (some people already contacts, some companies, open and closed deals), unless
 * `--empty-portal`. It prints the base URLs and the exact variables to export.
 */
import type { Config } from '../config';
import { loadFixture } from '../sandbox/fixture';
import { seedPortalFromPeople } from '../sandbox/hubspot/seed-portal';
import { startHubspotSandbox, type HubspotSandbox } from '../sandbox/hubspot/server';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../sandbox/leadpipe/server';
import type { Io } from './inspect';

export interface SandboxOptions {
  seed: number;
  rows: number;
  fixture?: string | undefined;
  leadpipePort?: number | undefined;
  hubspotPort?: number | undefined;
  emptyPortal?: boolean | undefined;
}

export interface RunningSandboxes {
  leadpipe: LeadpipeSandbox;
  hubspot: HubspotSandbox;
  audienceId: string;
  runId: string;
  close(): Promise<void>;
}

export async function startSandboxes(options: SandboxOptions): Promise<RunningSandboxes> {
  const fixture = options.fixture === undefined ? undefined : loadFixture(options.fixture);
  const leadpipe = await startLeadpipeSandbox({
    seed: options.seed,
    audiences: [],
    peoplePerRun: options.rows,
    duplicateShare: 0.02,
    malformedShare: 0.005,
    ...(options.leadpipePort !== undefined && { port: options.leadpipePort }),
  });
  let hubspot: HubspotSandbox | undefined;
  try {
    const audience = leadpipe.addAudience({ name: fixture ? `Fixture ${options.fixture ?? ''}` : 'Marketing Directors at Tech Companies', status: 'active', dailyRuns: 0 });
    const run = leadpipe.addRun(audience.id, { runType: 'daily', ...(fixture ? { fixture } : { people: options.rows }) });
    hubspot = await startHubspotSandbox(options.hubspotPort === undefined ? {} : { port: options.hubspotPort });
    if (!options.emptyPortal) seedPortalFromPeople(hubspot, leadpipe.runRows(run.id), { seed: options.seed });
    const hs = hubspot;
    return {
      leadpipe,
      hubspot: hs,
      audienceId: audience.id,
      runId: run.id,
      close: async () => {
        await hs.close();
        await leadpipe.close();
      },
    };
  } catch (err) {
    await hubspot?.close();
    await leadpipe.close();
    throw err;
  }
}

/** Starts the sandboxes, prints how to use them, and resolves once SIGINT/SIGTERM stopped them. */
export async function runSandboxCommand(options: SandboxOptions, _config: Config, io: Io, stop?: Promise<void>): Promise<number> {
  const s = await startSandboxes(options);
  const runs = s.leadpipe.state.runs.find((r) => r.id === s.runId);
  const portal = s.hubspot.state;
  const lines = [
    `Leadpipe sandbox  ${s.leadpipe.url}`,
    `  audience ${s.audienceId}, completed run ${s.runId} (${runs?.resultCount ?? 0} rows${options.fixture ? ` from ${options.fixture}` : `, seed ${options.seed}`})`,
    `HubSpot sandbox   ${s.hubspot.url}  (portal ${s.hubspot.portalId}, ${portal.contacts.length} contacts, ${portal.companies.length} companies, ${portal.deals.length} deals; HubSpot's limit of 110 requests per 10 s)`,
    '',
    'Use them from another terminal:',
    `  export LEADPIPE_API_KEY=${s.leadpipe.apiKey} LEADPIPE_BASE_URL=${s.leadpipe.url}`,
    `  export HUBSPOT_ACCESS_TOKEN=${s.hubspot.accessToken} HUBSPOT_BASE_URL=${s.hubspot.url}`,
    '  export DATABASE_URL=./data/sandbox.db',
    '  npm run cli -- setup hubspot',
    `  npm run cli -- sync --audience ${s.audienceId} --to hubspot --dry-run`,
    `  npm run cli -- sync --audience ${s.audienceId} --to hubspot`,
    '  npm run cli -- runs',
    '',
    'These are sandbox credentials for loopback only. Press Ctrl+C to stop.',
    '',
  ];
  io.stdout.write(lines.join('\n'));
  await (stop ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }));
  await s.close();
  io.stderr.write('sandboxes stopped\n');
  return 0;
}
