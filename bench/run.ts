/**
 * `npm run bench -- [name…] [--readme]`: runs the named benchmarks (default: all, in this order) and
 * merges their results into bench/results.json, each stamped with the date, the machine and Node.
 * Every benchmark prints PASS/FAIL for its acceptance checks; at the end the README tables
 * (bench/table.ts) are printed, and with `--readme` written into the README. Timings live here, never
 * in tests.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchE2e } from './e2e';
import { benchEconomy } from './economy';
import { benchIngest } from './ingest';
import { readResults, renderTables, writeReadme } from './table';
import { benchUtilization } from './utilization';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  ingest: benchIngest,
  economy: benchEconomy,
  utilization: benchUtilization,
  e2e: benchE2e,
};

function machine(): string {
  const cpus = os.cpus();
  const model = (cpus[0]?.model ?? 'unknown CPU').trim();
  return `${cpus.length}-core ${model}, ${Math.round(os.totalmem() / 2 ** 30)} GB, ${os.platform()} ${os.release()}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith('-'));
  const selected = names.length > 0 ? names : Object.keys(BENCHES);
  const unknown = selected.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(BENCHES).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const resultsFile = path.join(__dirname, 'results.json');
  const results = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};
  const stamp = { node: process.version, machine: machine() };
  const started = Date.now();
  for (const name of selected) {
    const run = BENCHES[name];
    if (!run) continue;
    console.log(`\n# ${name}`);
    const t = Date.now();
    const measured = await run();
    // A part of a benchmark (e.g. BENCH_UTILIZATION) is printed, not kept: results.json holds whole runs.
    if (measured.partial === true) {
      console.log(`${name}: a partial run, not written to results.json`);
      continue;
    }
    results[name] = { measuredAt: new Date().toISOString(), ...stamp, ...measured, benchS: Math.round((Date.now() - t) / 1000) };
    writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
  }
  const totalS = Math.round((Date.now() - started) / 1000);
  if (selected.length === Object.keys(BENCHES).length) {
    results.run = { measuredAt: new Date().toISOString(), ...stamp, totalS, benches: selected };
    writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
  }
  console.log(`\nresults written to ${path.relative(process.cwd(), resultsFile)} (${totalS} s)\n`);
  const tables = renderTables(readResults());
  console.log(tables);
  if (args.includes('--readme')) {
    writeReadme(tables);
    console.log('README.md: measured tables updated');
  }
}

void main();
