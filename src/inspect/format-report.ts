/** Renders an InspectReport as plain text for a person at a terminal. Pure. */
import { SCORE_BUCKETS, type InspectReport } from './build-report';

const n = (value: number): string => value.toLocaleString('en-US');

function bar(pct: number, width = 20): string {
  const filled = Math.round((pct / 100) * width);
  return '█'.repeat(filled) + '·'.repeat(width - filled);
}

export function formatReport(report: InspectReport): string {
  const out: string[] = [];
  const source = 'file' in report.source ? report.source.file : `audience ${report.source.audienceId}, run ${report.source.runId}`;
  out.push(`Inspected ${source}`, '');
  out.push(
    `  rows         ${n(report.rows)}`,
    `  valid        ${n(report.valid)}`,
    `  quarantined  ${n(report.quarantined)}`,
    `  duplicates   ${n(report.duplicates)}   (rows merged into a person already seen)`,
    `  people       ${n(report.people)}`,
  );
  if (report.warnings > 0) out.push(`  warnings     ${n(report.warnings)}`);

  out.push('', 'Fill rate per field (people with a value)');
  const width = Math.max(...Object.keys(report.fillRates).map((f) => f.length), 5);
  for (const [field, pct] of Object.entries(report.fillRates)) {
    out.push(`  ${field.padEnd(width)}  ${bar(pct)} ${pct.toFixed(2).padStart(6)}%`);
  }

  out.push('', 'Intent score');
  const maxBucket = Math.max(1, ...SCORE_BUCKETS.map((b) => report.scoreHistogram[b]));
  for (const bucket of SCORE_BUCKETS) {
    const count = report.scoreHistogram[bucket];
    out.push(`  ${bucket.padEnd(6)}  ${bar((count / maxBucket) * 100)} ${n(count)}`);
  }

  if (report.topTopics.length > 0) {
    out.push('', 'Top topics');
    for (const { topic, people } of report.topTopics) out.push(`  ${n(people).padStart(8)}  ${topic}`);
  }

  if (report.warningsByReason.length > 0) {
    out.push('', 'Warnings (the rows were kept)');
    for (const w of report.warningsByReason) out.push(`  ${n(w.rows).padStart(8)}  ${w.field}: ${w.reason}`);
  }

  if (report.quarantined > 0) {
    out.push('', `Quarantined rows (${n(report.quarantined)}; not synced, the rest of the file was)`);
    for (const row of report.quarantinedRows) {
      out.push(`  line ${String(row.line).padEnd(7)} ${(row.field ?? '-').padEnd(20)} ${row.code}: ${row.reason}`);
    }
    if (report.quarantinedRowsNotListed > 0) {
      out.push(`  … and ${n(report.quarantinedRowsNotListed)} more (use --quarantine-file to write them all)`);
    }
  }
  return out.join('\n') + '\n';
}
