/**
 * One measurement in its own process, so its peak RSS is its own:
 *   ingest-worker.ts raw|full <file.csv>
 * prints one JSON line {mode, rows, people?, ms, cpuMs, maxRssMb}: wall and CPU (user + system) time of
 * the read alone (module loading excluded), and the process's peak RSS.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { loadConfig } from '../src/config';
import { ingestCsv } from '../src/ingest/ingest-csv';

async function raw(file: string): Promise<Record<string, number>> {
  let rows = 0;
  for await (const _record of createReadStream(file).pipe(parse({ columns: true }))) rows += 1;
  return { rows };
}

async function full(file: string): Promise<Record<string, number>> {
  const config = loadConfig({});
  const run = ingestCsv(createReadStream(file), { columns: config.columns, ingest: config.ingest });
  let people = 0;
  for await (const event of run) if (event.kind === 'person') people += 1;
  return { rows: run.counts.rows, quarantined: run.counts.quarantined, people };
}

async function main(): Promise<void> {
  const [mode, file] = process.argv.slice(2);
  if ((mode !== 'raw' && mode !== 'full') || !file) throw new Error('usage: ingest-worker.ts raw|full <file.csv>');
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const result = mode === 'raw' ? await raw(file) : await full(file);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ mode, ...result, ms, cpuMs, maxRssMb }) + '\n');
}

void main();
