/**
 * `orbit-sync sandbox` and the CLI flow it prints: setup, `sync --audience` (newest completed run),
 * `runs` — all against the standalone sandboxes, through the real clients.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runSandboxCommand, startSandboxes } from '../../src/commands/sandbox';
import { leadpipeClientFor, runRunsCommand, runSetupCommand, runSyncCommand } from '../../src/commands/sync';
import { loadConfig } from '../../src/config';
import { hashEmail } from '../../src/ingest/hash-email';
import { resetRollingLimiters } from '../../src/lib/rolling-limiter';
import { tmpDir, writeCsv } from './helpers/hubspot-sync';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

beforeEach(() => resetRollingLimiters());

it('prints the URLs and the variables to export, and stops when asked', async () => {
  const out = capture();
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const running = runSandboxCommand({ seed: 5, rows: 50 }, loadConfig({}), { stdout: out.stream, stderr: new PassThrough() }, stopped);
  for (let i = 0; i < 200 && !out.text().includes('Ctrl+C'); i++) await new Promise((r) => setTimeout(r, 10));
  stop();
  expect(await running).toBe(0);
  expect(out.text()).toMatch(/Leadpipe sandbox {2}http:\/\/127\.0\.0\.1:\d+/);
  expect(out.text()).toMatch(/export HUBSPOT_ACCESS_TOKEN=\S+ HUBSPOT_BASE_URL=http:\/\/127\.0\.0\.1:\d+/);
  expect(out.text()).toMatch(/sync --audience \S+ --to hubspot/);
});

it('setup, sync --audience (newest completed run) and runs work from the printed variables alone', async () => {
  const s = await startSandboxes({ seed: 9, rows: 300 });
  const dir = tmpDir();
  try {
    const config = loadConfig({
      LEADPIPE_API_KEY: s.leadpipe.apiKey,
      LEADPIPE_BASE_URL: s.leadpipe.url,
      HUBSPOT_ACCESS_TOKEN: s.hubspot.accessToken,
      HUBSPOT_BASE_URL: s.hubspot.url,
      DATABASE_URL: path.join(dir, 'sandbox.db'),
      LOG_LEVEL: 'silent',
    });
    const io = { stdout: new PassThrough(), stderr: new PassThrough() };
    await runSetupCommand('hubspot', config, io);
    const out = capture();
    const { code, summary } = await runSyncCommand({ audience: s.audienceId, to: 'hubspot', json: true }, config, { stdout: out.stream, stderr: new PassThrough() });
    expect(code).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({ audienceId: s.audienceId, runId: s.runId, status: 'succeeded', rows: 300 });
    expect(summary.created + summary.updated).toBeGreaterThan(250);
    const runs = capture();
    await runRunsCommand({ limit: 5 }, config, { stdout: runs.stream, stderr: new PassThrough() });
    expect(runs.text()).toContain(summary.syncRunId ?? 'missing');
    expect(runs.text()).toContain('succeeded');
  } finally {
    await s.close();
  }
});

it('--fixture serves an export file as the run, byte for byte', async () => {
  const dir = tmpDir();
  const file = writeCsv(dir, 'fixture.csv', [
    { email: 'ada@acme.test', firstName: 'ada', company: 'Acme', domain: 'acme.test', score: 88 },
    { email: 'bob@initech.test', firstName: 'bob', score: 42 },
  ]);
  const s = await startSandboxes({ seed: 1, rows: 10, fixture: file, emptyPortal: true });
  try {
    const config = loadConfig({
      LEADPIPE_API_KEY: s.leadpipe.apiKey,
      LEADPIPE_BASE_URL: s.leadpipe.url,
      HUBSPOT_ACCESS_TOKEN: s.hubspot.accessToken,
      HUBSPOT_BASE_URL: s.hubspot.url,
      DATABASE_URL: path.join(dir, 'fixture.db'),
      LOG_LEVEL: 'silent',
    });
    await runSetupCommand('hubspot', config, { stdout: new PassThrough(), stderr: new PassThrough() });
    const { summary } = await runSyncCommand({ audience: s.audienceId, to: 'hubspot', json: true }, config, { stdout: new PassThrough(), stderr: new PassThrough() });
    expect(summary).toMatchObject({ rows: 2, created: 2, status: 'succeeded' });
    expect(s.hubspot.contactByEmail('ada@acme.test')?.properties).toMatchObject({ firstname: 'Ada', leadpipe_intent_score: '88', leadpipe_hashed_email: hashEmail('ada@acme.test') });
    // Bob has no company column; his domain comes from his (non-free-mail) email.
    expect(s.hubspot.listCompanies().map((c) => c.properties.domain).sort()).toEqual(['acme.test', 'initech.test']);
    const exported: Buffer[] = [];
    for await (const chunk of await leadpipeClientFor(config).exportCsv(s.audienceId, s.runId)) exported.push(chunk as Buffer);
    expect(Buffer.concat(exported).equals(readFileSync(file))).toBe(true);
  } finally {
    await s.close();
  }
});
