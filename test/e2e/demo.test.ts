/** The demo a new user runs first: sandbox, real client, signed-URL download, ingest, report. */
import { PassThrough } from 'node:stream';
import { runDemoCommand } from '../../src/commands/demo';
import { loadConfig } from '../../src/config';
import type { InspectReport } from '../../src/inspect/build-report';

it('streams a generated run from the sandbox and accounts for every row', async () => {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await runDemoCommand({ people: 3000, seed: 11, json: true }, loadConfig({}), { stdout, stderr: new PassThrough() });
  const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as InspectReport & { reconciles: boolean };
  expect(code).toBe(0);
  expect(report.rows).toBe(3000);
  expect(report.reconciles).toBe(true);
  expect(report.quarantined).toBeGreaterThan(0);
  expect(report.duplicates).toBeGreaterThan(0);
  expect(report.people).toBe(report.valid - report.duplicates);
});
