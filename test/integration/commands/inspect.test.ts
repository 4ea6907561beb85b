/**
 * `orbit-sync inspect` as a user runs it: on fixture files, on a run streamed from the Leadpipe sandbox
 * over real HTTP, and as a child process (exit codes, stdout JSON, stderr messages).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { runInspectCommand, type InspectOptions } from '../../../src/commands/inspect';
import { loadConfig, type Config } from '../../../src/config';
import type { InspectReport } from '../../../src/inspect/build-report';
import { FixInputFileError } from '../../../src/lib/errors';
import { startLeadpipeSandbox, type LeadpipeSandbox } from '../../../src/sandbox/leadpipe/server';

const ROOT = path.resolve(__dirname, '../../..');
const fixture = (name: string): string => path.join(ROOT, 'test/fixtures/csv', name);

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function inspect(options: Partial<InspectOptions>, config: Config = loadConfig({})): Promise<{ code: number; stdout: string }> {
  const out = capture();
  const err = capture();
  const code = await runInspectCommand({ maxRows: 50, ...options }, config, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text() };
}

describe('inspect <file>', () => {
  it('prints one JSON object with counts, fill rates, histogram, topics and quarantined rows', async () => {
    const { code, stdout } = await inspect({ file: fixture('ragged-row.csv'), json: true });
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as InspectReport;
    expect(report).toMatchObject({ rows: 4, valid: 2, quarantined: 2, duplicates: 0, people: 2 });
    expect(report.quarantinedRows.map((r) => [r.line, r.code])).toEqual([
      [3, 'COLUMN_COUNT'],
      [4, 'COLUMN_COUNT'],
    ]);
    expect(report.fillRates['company.name']).toBe(100);
    expect(report.scoreHistogram['50-69']).toBe(2);
    expect(report.topTopics).toEqual([{ topic: 'Cloud hosting', people: 2 }]);
  });

  it('prints a readable text report by default', async () => {
    const { stdout } = await inspect({ file: fixture('ragged-row.csv') });
    expect(stdout).toMatch(/rows\s+4/);
    expect(stdout).toMatch(/line 3\s+-\s+COLUMN_COUNT: expected 14 columns/);
    expect(stdout).toMatch(/Intent score/);
  });

  it('writes every quarantined row to --quarantine-file, even beyond --max-rows', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orbit-inspect-'));
    const file = path.join(dir, 'bad.csv');
    const { stdout } = await inspect({ file: fixture('invalid-scores.csv'), json: true, maxRows: 1, quarantineFile: file });
    const report = JSON.parse(stdout) as InspectReport;
    expect(report.quarantinedRows).toHaveLength(1);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    rmSync(dir, { recursive: true });
    expect(lines[0]).toBe('line,field,code,reason');
    expect(lines).toHaveLength(report.quarantined + 1);
    expect(lines.slice(1).every((l) => l.includes('INVALID_SCORE'))).toBe(true);
  });

  it('names a missing file', async () => {
    await expect(inspect({ file: '/nonexistent/export.csv' })).rejects.toThrow(FixInputFileError);
  });
});

describe('inspect --audience (streamed from the Leadpipe sandbox)', () => {
  let sandbox: LeadpipeSandbox;
  beforeAll(async () => {
    sandbox = await startLeadpipeSandbox({ seed: 7, peoplePerRun: 1200, duplicateShare: 0.05, malformedShare: 0.01 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('streams the newest completed run and accounts for every row', async () => {
    const config = loadConfig({ LEADPIPE_API_KEY: sandbox.apiKey, LEADPIPE_BASE_URL: sandbox.url });
    const [audience] = sandbox.state.audiences;
    if (!audience) throw new Error('sandbox has no audience');
    const { code, stdout } = await inspect({ audience: audience.id, json: true }, config);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as InspectReport;
    expect(report.rows).toBe(1200);
    expect(report.rows).toBe(report.valid + report.quarantined);
    expect(report.people).toBe(report.valid - report.duplicates);
    expect(report.quarantined).toBeGreaterThan(0);
    expect(report.duplicates).toBeGreaterThan(0);
    expect('audienceId' in report.source && report.source.runId).toBeTruthy();
    expect(sandbox.requestCount('exportCsv')).toBe(1);
  });

  it('says LEADPIPE_API_KEY is needed when it is missing', async () => {
    await expect(inspect({ audience: 'x' }, loadConfig({ LEADPIPE_BASE_URL: sandbox.url }))).rejects.toThrow(/LEADPIPE_API_KEY/);
  });
});

describe('orbit-sync CLI process', () => {
  const run = promisify(execFile);
  const cli = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('exits 0 with --json on stdout for a readable file with quarantined rows', async () => {
    const { code, stdout } = await cli(['inspect', fixture('ragged-row.csv'), '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ rows: 4, quarantined: 2 });
  });

  it('exits 1 and names the column when a required column is missing', async () => {
    const { code, stdout, stderr } = await cli(['inspect', fixture('missing-score-column.csv')]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/CSV_HEADER_INVALID.*intent\.score/);
  });

  it('exits 2 listing every invalid variable', async () => {
    const { code, stderr } = await cli(['inspect', fixture('ragged-row.csv')], { LEADPIPE_BASE_URL: 'nope', PORT: 'x' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/LEADPIPE_BASE_URL/);
    expect(stderr).toMatch(/PORT/);
  });
});
