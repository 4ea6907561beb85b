/**
 * `/metrics` in Prometheus' text format (0.0.4), computed from the store, so every process serving it
 * reports the same totals: syncs by status, rows by outcome, API calls and 429s by destination, and
 * sync duration (sum and count, a summary without quantiles).
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../store/schema';

const OUTCOMES = ['quarantined', 'duplicates', 'unchanged', 'created', 'updated', 'skipped', 'failed'] as const;

function labels(values: Record<string, string>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'summary';
  samples: Array<{ suffix?: string; labels: Record<string, string>; value: number }>;
}

function render(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${s.suffix ?? ''}${labels(s.labels)} ${Number.isFinite(s.value) ? s.value : 0}`);
  }
  return lines.join('\n') + '\n';
}

export async function renderMetrics(db: Kysely<Database>): Promise<string> {
  const byStatus = await db
    .selectFrom('sync_runs')
    .select(['destination', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['destination', 'status'])
    .orderBy('destination')
    .orderBy('status')
    .execute();
  const sums = await db
    .selectFrom('sync_runs')
    .select([
      'destination',
      ...OUTCOMES.map((o) => sql<number>`coalesce(sum(${sql.ref(o)}), 0)`.as(o)),
      sql<number>`coalesce(sum(api_calls_total), 0)`.as('api_calls'),
      sql<number>`coalesce(sum(rate_limited), 0)`.as('rate_limited'),
      sql<number>`coalesce(sum(duration_ms), 0)`.as('duration_ms'),
      sql<number>`count(duration_ms)`.as('timed'),
    ])
    .groupBy('destination')
    .orderBy('destination')
    .execute();
  return render([
    {
      name: 'orbit_sync_syncs_total',
      help: 'Sync runs by destination and status.',
      type: 'counter',
      samples: byStatus.map((r) => ({ labels: { destination: r.destination, status: r.status }, value: Number(r.n) })),
    },
    {
      name: 'orbit_sync_rows_total',
      help: 'Input rows by the bucket they ended in (rows = the sum of all outcomes).',
      type: 'counter',
      samples: sums.flatMap((r) => OUTCOMES.map((o) => ({ labels: { destination: r.destination, outcome: o }, value: Number(r[o]) }))),
    },
    {
      name: 'orbit_sync_api_calls_total',
      help: 'CRM API requests sent, retries included.',
      type: 'counter',
      samples: sums.map((r) => ({ labels: { destination: r.destination }, value: Number(r.api_calls) })),
    },
    {
      name: 'orbit_sync_rate_limited_total',
      help: 'HTTP 429 responses received from the CRM.',
      type: 'counter',
      samples: sums.map((r) => ({ labels: { destination: r.destination }, value: Number(r.rate_limited) })),
    },
    {
      name: 'orbit_sync_sync_duration_seconds',
      help: 'Time from start to end of finished sync runs.',
      type: 'summary',
      samples: sums.flatMap((r) => [
        { suffix: '_sum', labels: { destination: r.destination }, value: Number(r.duration_ms) / 1000 },
        { suffix: '_count', labels: { destination: r.destination }, value: Number(r.timed) },
      ]),
    },
  ]);
}
