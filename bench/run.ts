/**
 * `npm run bench -- [name…]`: runs the named benchmarks (default: all) and merges their results into
 * bench/results.json. Timings live here, never in tests.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { benchIngest } from './ingest';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  ingest: benchIngest,
};

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = names.length > 0 ? names : Object.keys(BENCHES);
  const unknown = selected.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(BENCHES).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const resultsFile = path.join(__dirname, 'results.json');
  const results = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};
  for (const name of selected) {
    const run = BENCHES[name];
    if (!run) continue;
    console.log(`# ${name}`);
    results[name] = { measuredAt: new Date().toISOString(), node: process.version, ...(await run()) };
  }
  writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults written to ${path.relative(process.cwd(), resultsFile)}`);
}

void main();
