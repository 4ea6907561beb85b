/**
 * Ingest benchmark (issue #2): the full pipeline against raw csv-parse on the same 300,000-row export,
 * and peak RSS of the full pipeline at 30,000 and 300,000 rows.
 *
 * 1. Generate the two exports with the sandbox generator (seeded, so every run measures the same bytes).
 * 2. Run raw and full alternately, several rounds, each in a fresh process (so peak RSS and JIT state
 *    are per measurement and both modes see the same machine noise), and take the median rows/s.
 * 3. Measure peak RSS of the full pipeline at 30k and 300k rows, also in fresh processes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeExportFile } from '../src/sandbox/export-csv';

const OUT_DIR = path.join(__dirname, 'out');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Sample {
  mode: string;
  rows: number;
  ms: number;
  maxRssMb: number;
  people?: number;
  quarantined?: number;
}

function measure(mode: 'raw' | 'full', file: string): Sample {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'ingest-worker.ts'), mode, file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '') as Sample;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

/** Written afresh on every run (about 2 s for 300k rows), so a changed generator is never measured stale. */
async function writeExport(rows: number): Promise<string> {
  mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `export-${rows}.csv`);
  process.stdout.write(`generating ${rows.toLocaleString('en-US')}-row export… `);
  await writeExportFile(file, { seed: 2026, count: rows });
  console.log(`${(statSync(file).size / 1e6).toFixed(1)} MB`);
  return file;
}

export async function benchIngest(): Promise<Record<string, unknown>> {
  const big = await writeExport(300_000);
  const small = await writeExport(30_000);

  const raw: number[] = [];
  const full: number[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    const r = measure('raw', big);
    const f = measure('full', big);
    raw.push((r.rows / r.ms) * 1000);
    full.push((f.rows / f.ms) * 1000);
    console.log(`round ${round}: raw csv-parse ${Math.round(raw.at(-1) ?? 0)} rows/s, full ingest ${Math.round(full.at(-1) ?? 0)} rows/s`);
  }
  const rss30k = measure('full', small).maxRssMb;
  const rss300k = measure('full', big).maxRssMb;
  const result = {
    rows: 300_000,
    rawRowsPerSec: Math.round(median(raw)),
    ingestRowsPerSec: Math.round(median(full)),
    ratio: Math.round((median(full) / median(raw)) * 100) / 100,
    peakRssMb30k: Math.round(rss30k),
    peakRssMb300k: Math.round(rss300k),
    rssRatio: Math.round((rss300k / rss30k) * 100) / 100,
    rounds: ROUNDS,
  };
  console.table(result);
  return result;
}
