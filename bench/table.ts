/**
 * bench/results.json → the README's measured tables (markdown).
 *
 *   npx tsx bench/table.ts            prints them
 *   npx tsx bench/table.ts --write    replaces the block between the README's bench:results markers
 *
 * A benchmark missing from results.json leaves its table out; every figure is read as results.json
 * holds it, nothing is recomputed here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const RESULTS_FILE = path.join(__dirname, 'results.json');
const README = path.join(__dirname, '..', 'README.md');
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

const CheckRow = z.object({ name: z.string(), value: z.number(), op: z.enum(['>=', '<=', '=']), threshold: z.number(), pass: z.boolean() });
const BenchRun = z.looseObject({
  measuredAt: z.string(),
  node: z.string(),
  machine: z.string().optional(),
  checks: z.array(CheckRow).default([]),
});
type BenchRun = z.infer<typeof BenchRun>;
const Results = z.record(z.string(), BenchRun);
type Results = z.infer<typeof Results>;

const n = (v: unknown, digits?: number): string => {
  if (typeof v !== 'number') return '—';
  return digits === undefined ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
};
const get = (run: BenchRun, key: string): unknown => run[key];
const day = (iso: string): string => iso.slice(0, 10);

function acceptance(results: Results): string[] {
  const rows = Object.entries(results).flatMap(([bench, run]) => run.checks.map((c) => ({ bench, c })));
  if (rows.length === 0) return [];
  const op = { '>=': '≥', '<=': '≤', '=': '=' } as const;
  return [
    '| acceptance | measured | aim | |',
    '|---|---|---|---|',
    ...rows.map(({ c }) => `| ${c.name} | ${n(c.value)} | ${op[c.op]} ${n(c.threshold)} | ${c.pass ? 'PASS' : '**FAIL**'} |`),
  ];
}

function ingest(r: BenchRun): string[] {
  const mb = (key: string): string => `${n(get(r, key))} MB`;
  return [
    `**Ingest** — ${n(get(r, 'rows'))}-row export (${n(Math.round(Number(get(r, 'bytes')) / 1e6))} MB), ${n(get(r, 'rounds'))} rounds, raw and full alternating, each run in a fresh process; medians:`,
    '',
    '| | rows/s (wall) | rows per CPU-second | peak RSS |',
    '|---|---|---|---|',
    `| raw csv-parse (\`columns: true\`, no other work) | ${n(get(r, 'rawRowsPerSec'))} | ${n(get(r, 'rawRowsPerCpuSec'))} | |`,
    `| full ingest (frame, parse, validate, normalize, hash, dedupe) | ${n(get(r, 'ingestRowsPerSec'))} | ${n(get(r, 'ingestRowsPerCpuSec'))} | ${mb('peakRssMb300k')} |`,
    `| **ratio ingest ÷ csv-parse** | **${n(get(r, 'ratio'), 2)}** (rounds ${n(get(r, 'ratioMin'), 2)}–${n(get(r, 'ratioMax'), 2)}) | ${n(get(r, 'ratioCpu'), 2)} | |`,
    `| full ingest of the first 30,000 rows | | | ${mb('peakRssMb30k')} |`,
    `| full ingest of the header alone (Node, tsx and the modules: the baseline) | | | ${mb('peakRssMbBaseline')} |`,
    `| **peak RSS 300k ÷ 30k** | | | **${n(get(r, 'rssRatio'), 2)}** (above the baseline: ${n(get(r, 'rssGrowthRatio'), 1)}×) |`,
  ];
}

function economy(r: BenchRun): string[] {
  const cell = (crm: string, scenario: string): string => {
    const per100 = n(get(r, `${crm}.${scenario}.callsPer100`), 2);
    const path = n(get(r, `${crm}.${scenario}.peoplePathPer100`), 2);
    const writes = get(r, `${crm}.${scenario}.writeCalls`);
    return `${per100} (${path} without deals) · ${n(writes)} write calls`;
  };
  const naive = (crm: string, scenario: string): string => n(get(r, `${crm}.${scenario}.naivePer100`), 0);
  const row = (label: string, scenario: string): string =>
    `| ${label} | ${cell('hubspot', scenario)} | ${naive('hubspot', scenario)} | ${cell('salesforce', scenario)} | ${naive('salesforce', scenario)} |`;
  return [
    `**API economy** — a ${n(get(r, 'rows'))}-row run (${n(get(r, 'hubspot.new.people'))} people) into a seeded portal and org; API calls per 100 people of the run as the sandbox counted them (the acceptance rows compare them with the sync summaries' own counts):`,
    '',
    '| | HubSpot | naive HubSpot | Salesforce | naive Salesforce |',
    '|---|---|---|---|---|',
    row(
      `new run (HubSpot: ${n(get(r, 'hubspot.new.created'))} contacts created, ${n(get(r, 'hubspot.new.updated'))} updated; Salesforce: ${n(get(r, 'salesforce.new.created'))} created, ${n(get(r, 'salesforce.new.updated'))} updated)`,
      'new',
    ),
    row('the same run again', 'unchanged'),
    row(`the next run, ${n(get(r, 'changedPeople'))} people (5%) changed`, 'changed'),
  ];
}

function utilization(r: BenchRun): string[] {
  const throttled = (v: unknown, what: string): string => (v === 0 ? '0' : `**${n(v)}** ${what}`);
  return [
    `**Rate-limit utilization** — a ${n(get(r, 'rows'))}-row run, during the write phase:`,
    '',
    '| | permitted | used | utilization | throttled |',
    '|---|---|---|---|---|',
    `| HubSpot, ${n(get(r, 'hubspot.permittedPer10s'))} requests per 10 s (write phase ${n(get(r, 'hubspot.writePhaseS'), 1)} s, its first ${n(get(r, 'hubspot.measuredWindows'))} whole windows) | ${n(get(r, 'hubspot.permittedPerS'), 1)} requests/s | ${n(get(r, 'hubspot.achievedPerS'), 1)} requests/s | **${n(get(r, 'hubspot.utilization'), 2)}** | ${throttled(get(r, 'hubspot.rateLimited'), '× 429')} |`,
    ...(['salesforceBulk', 'salesforceCollections'] as const).map((k) => {
      const label = k === 'salesforceBulk' ? 'Bulk API 2.0 (the default at this size)' : 'sObject Collections only';
      return `| Salesforce, ${label} (write phase ${n(get(r, `${k}.writePhaseS`), 1)} s) | ${n(get(r, `${k}.maxConcurrent`))} requests in flight (a Bulk job holds one) | ${n(get(r, `${k}.meanSlotsInUse`), 2)} in use on average (requests in flight ${n(get(r, `${k}.meanInFlight`), 2)}, at most ${n(get(r, `${k}.maxInFlight`))}) | **${n(get(r, `${k}.utilization`), 2)}** | ${throttled(get(r, `${k}.requestLimitExceeded`), '× REQUEST_LIMIT_EXCEEDED')} |`;
    }),
  ];
}

function e2e(r: BenchRun): string[] {
  return [
    `**End to end** — a ${n(get(r, 'rows'))}-row run into each sandbox at its default limits:`,
    '',
    '| | people/s | sync | API calls | throttled |',
    '|---|---|---|---|---|',
    `| HubSpot, ${n(get(r, 'hubspotPer10s'))} requests per 10 s | **${n(get(r, 'hubspot.peoplePerS'))}** | ${n(get(r, 'hubspot.syncS'), 1)} s | ${n(get(r, 'hubspot.calls'))} | ${n(get(r, 'hubspot.throttled'))} |`,
    `| Salesforce, defaults | **${n(get(r, 'salesforce.peoplePerS'))}** | ${n(get(r, 'salesforce.syncS'), 1)} s | ${n(get(r, 'salesforce.calls'))} | ${n(get(r, 'salesforce.throttled'))} |`,
  ];
}

export function renderTables(results: Results): string {
  const runs = Object.entries(results).filter(([name]) => name !== 'run');
  const latest = runs.map(([, r]) => r).sort((a, b) => b.measuredAt.localeCompare(a.measuredAt))[0];
  const meta = results.run;
  const took = meta && typeof get(meta, 'totalS') === 'number' ? `; the last full \`npm run bench\` took ${n(Math.round(Number(get(meta, 'totalS')) / 6) / 10, 1)} min` : '';
  const lines: string[] = [];
  if (latest) lines.push(`Measured ${day(latest.measuredAt)} on ${latest.machine ?? 'an unnamed machine'}, Node ${latest.node}${took}.`, '');
  lines.push(...acceptance(Object.fromEntries(runs)), '');
  const sections: Array<[string, (r: BenchRun) => string[]]> = [
    ['ingest', ingest],
    ['economy', economy],
    ['utilization', utilization],
    ['e2e', e2e],
  ];
  for (const [name, render] of sections) {
    const run = results[name];
    if (run) lines.push(...render(run), '');
  }
  return lines.join('\n').trimEnd() + '\n';
}

export function readResults(): Results {
  return Results.parse(JSON.parse(readFileSync(RESULTS_FILE, 'utf8')));
}

/** Replaces the README's generated block with the tables. */
export function writeReadme(tables: string): void {
  const text = readFileSync(README, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from === -1 || to < from) throw new Error(`README.md has no ${START} … ${END} block`);
  writeFileSync(README, `${text.slice(0, from + START.length)}\n${tables}${text.slice(to)}`);
}

if (require.main === module) {
  const tables = renderTables(readResults());
  if (process.argv.includes('--write')) {
    writeReadme(tables);
    console.log(`README.md: measured tables updated from ${path.relative(process.cwd(), RESULTS_FILE)}`);
  } else process.stdout.write(tables);
}
