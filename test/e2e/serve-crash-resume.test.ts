/**
 * `orbit-sync serve` killed with SIGKILL in the middle of a sync the scheduler started, then started
 * again: the job is taken back, the sync run resumes, and the portal ends with one contact per person of
 * the run (no duplicates, every score written) and counts that add up. Then SIGTERM stops it cleanly.
 *
 * serve runs as a real child process (`node --import tsx src/cli.ts serve`); the Leadpipe and HubSpot
 * sandboxes live in this process and survive the kill.
 */
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import type { GeneratedRow } from '../../src/sandbox/generate-people';
import type { SyncRunRow } from '../../src/store/schema';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/server';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../../src/sandbox/leadpipe/server';
import { killAfter, runCli, type CliRun } from './helpers/cli';
import { tmpDir } from './helpers/hubspot-sync';
import { open } from '../../src/security/token-vault';
import { ADMIN_TOKEN, ENCRYPTION_KEY, HUBSPOT_CLIENT, adminCall, appEnv, freePort, installThroughRedirects, waitFor } from './helpers/installed-app';

const KEY = Buffer.from(ENCRYPTION_KEY, 'hex');

const PEOPLE = 1500;


function syncRuns(dbFile: string): SyncRunRow[] {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    return db.prepare('select * from sync_runs').all() as unknown as SyncRunRow[];
  } finally {
    db.close();
  }
}

describe('serve killed with SIGKILL during a scheduled sync, then started again', () => {
  let lp: LeadpipeSandbox;
  let hs: HubspotSandbox;
  let env: Record<string, string>;
  let base: string;
  let dbFile: string;
  let serve: CliRun | undefined;

  const start = async (): Promise<CliRun> => {
    const run = runCli(['serve'], env);
    await waitFor('serve to answer /healthz', async () => {
      if (run.child.exitCode !== null) throw new Error(`serve exited: ${(await run.done).stderr}`);
      return (await fetch(`${base}/healthz`).catch(() => undefined))?.ok;
    });
    return run;
  };

  beforeAll(async () => {
    lp = await startLeadpipeSandbox({ seed: 'crash', audiences: [{ name: 'Big audience', dailyRuns: 1, peoplePerRun: PEOPLE }] });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    hs = await startHubspotSandbox({ oauth: { ...HUBSPOT_CLIENT, redirectUris: [`${base}/oauth/hubspot/callback`] } });
    const dir = tmpDir();
    dbFile = path.join(dir, 'orbit-sync.db');
    env = appEnv(port, dir, {
      HUBSPOT_CLIENT_ID: HUBSPOT_CLIENT.clientId,
      HUBSPOT_CLIENT_SECRET: HUBSPOT_CLIENT.clientSecret,
      HUBSPOT_BASE_URL: hs.url,
      HUBSPOT_AUTHORIZE_URL: `${hs.url}/oauth/authorize`,
      LEADPIPE_BASE_URL: lp.url,
      LOG_LEVEL: 'debug',
    });
  });

  afterAll(async () => {
    if (serve && serve.child.exitCode === null) serve.child.kill('SIGKILL');
    await hs.close();
    await lp.close();
  });

  it('resumes the sync and ends with one contact per person, counts adding up, then stops on SIGTERM', async () => {
    serve = await start();
    const installed = await installThroughRedirects(`${base}/oauth/hubspot/install`);
    expect(installed.status).toBe(200);
    const connectionId = (JSON.parse(installed.text) as { connection: { id: string } }).connection.id;
    const audienceId = lp.state.audiences[0]?.id ?? '';
    const runId = lp.state.runs[0]?.id ?? '';
    expect((await adminCall(base, 'PUT', `/api/connections/${connectionId}/leadpipe-key`, { apiKey: lp.apiKey })).status).toBe(200);
    hs.resetRequestCounts();
    expect((await adminCall(base, 'PUT', `/api/connections/${connectionId}/audiences/${audienceId}`)).status).toBe(200);

    // The scheduler starts the sync; it is killed after a few contact upserts of the 15 it needs.
    const killed = await killAfter(serve, () => hs.requestCount('batchUpsertContacts') >= 4, 60_000);
    expect(killed.signal).toBe('SIGKILL');
    const interrupted = syncRuns(dbFile).filter((r) => r.run_id === runId);
    expect(interrupted.map((r) => r.status)).toEqual(['running']);
    const contactsAtKill = hs.listContacts().length;
    expect(contactsAtKill).toBeGreaterThan(0);
    expect(contactsAtKill).toBeLessThan(PEOPLE);

    serve = await start();
    const finished = await waitFor('the resumed sync to finish', () => syncRuns(dbFile).find((r) => r.run_id === runId && r.status !== 'running'), 60_000);
    expect(finished.id).toBe(interrupted[0]?.id); // the same sync run, resumed
    expect(finished.status).toBe('succeeded');

    const people = new Map<string, number>();
    for (const row of lp.runRows(runId) as Iterable<GeneratedRow>) {
      if (row.kind !== 'person') continue;
      const email = row.person.primaryContactEmail.toLowerCase();
      people.set(email, Math.max(people.get(email) ?? 0, row.person.intent.score));
    }
    const contacts = hs.listContacts();
    const emails = contacts.map((c) => c.properties.email);
    expect(new Set(emails).size).toBe(emails.length); // no duplicate contact
    expect(contacts).toHaveLength(people.size);
    for (const [email, score] of people) expect(hs.contactByEmail(email)?.properties.leadpipe_intent_score).toBe(String(score));
    const domains = hs.listCompanies().map((c) => c.properties.domain);
    expect(new Set(domains).size).toBe(domains.length); // no duplicate company
    const f = finished;
    expect(f.quarantined + f.duplicates + f.unchanged + f.created + f.updated + f.skipped + f.failed).toBe(f.rows);
    // A batch written but not yet recorded when the process died is found in HubSpot on resume, already up
    // to date (unchanged) or completed (updated): no duplicate, and every person is counted once.
    expect(f.created + f.updated + f.unchanged).toBe(people.size);
    expect(f.created).toBeGreaterThan(0);

    serve.child.kill('SIGTERM');
    const stopped = await serve.done;
    expect(stopped.code).toBe(0);

    // Both processes' logs (debug level) hold no secret and no email of the run.
    const logs = (killed.stderr + stopped.stderr).toLowerCase();
    expect(logs).toContain('"msg":"stopped"');
    const db = new DatabaseSync(dbFile, { readOnly: true });
    const sealed = (db.prepare('select sealed from connection_credentials').all() as Array<{ sealed: string }>).map((r) => r.sealed);
    db.close();
    const tokens = sealed.flatMap((v) => Object.values(JSON.parse(open(KEY, v)) as Record<string, string>).filter((x) => x.length > 20));
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const secret of [...tokens, lp.apiKey, HUBSPOT_CLIENT.clientSecret, ADMIN_TOKEN]) expect(logs.includes(secret.toLowerCase()) ? `${secret.slice(0, 6)}… leaked` : 'absent').toBe('absent');
    expect([...people.keys()].filter((email) => logs.includes(email))).toEqual([]);
  }, 180_000);
});
