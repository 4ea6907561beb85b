/**
 * Builds the `orbit-sync inspect` report from the ingest events, in one pass and bounded memory:
 * fill rates and topic counts are tallies, and only the first `maxListedRows` quarantined rows are
 * kept for display (the count is always exact; `--quarantine-file` writes every one).
 */
import type { IntentPerson, QuarantinedRow, RowWarning } from '../ingest/types';

export const SCORE_BUCKETS = ['1-49', '50-69', '70-89', '90-100'] as const;
export type ScoreBucket = (typeof SCORE_BUCKETS)[number];

export interface IngestTotals {
  rows: number;
  valid: number;
  quarantined: number;
  duplicates: number;
  people: number;
}

export interface InspectReport extends IngestTotals {
  source: { file: string } | { audienceId: string; runId: string };
  warnings: number;
  /** Percent (0–100, two decimals) of people with a value, per field. */
  fillRates: Record<string, number>;
  scoreHistogram: Record<ScoreBucket, number>;
  topTopics: { topic: string; people: number }[];
  quarantinedRows: QuarantinedRow[];
  /** Quarantined rows counted but not listed (beyond `maxListedRows`). */
  quarantinedRowsNotListed: number;
  /** Warnings by field and reason, e.g. invalid secondary emails dropped. */
  warningsByReason: { field: string; reason: string; rows: number }[];
}

/** The person fields a fill rate is reported for, in display order. */
const FILL_FIELDS: readonly [string, (p: IntentPerson) => unknown][] = [
  ['hashedEmail', (p) => p.hashedEmail],
  ['email', (p) => p.emails[0]],
  ['firstName', (p) => p.firstName],
  ['lastName', (p) => p.lastName],
  ['fullName', (p) => p.fullName],
  ['jobTitle', (p) => p.jobTitle],
  ['headline', (p) => p.headline],
  ['seniority', (p) => p.seniority],
  ['department', (p) => p.department],
  ['phone', (p) => p.phone],
  ['linkedinUrl', (p) => p.linkedinUrl],
  ['company.name', (p) => p.company.name],
  ['company.domain', (p) => p.company.domain],
  ['company.industry', (p) => p.company.industry],
  ['intent.matchedTopics', (p) => (p.topics.length > 0 ? p.topics : undefined)],
];

export function scoreBucket(score: number): ScoreBucket {
  if (score >= 90) return '90-100';
  if (score >= 70) return '70-89';
  if (score >= 50) return '50-69';
  return '1-49';
}

const percent = (count: number, total: number): number => (total === 0 ? 0 : Math.round((count / total) * 10_000) / 100);

export class InspectReportBuilder {
  private readonly filled = new Map<string, number>();
  private readonly extraFilled = new Map<string, number>();
  private readonly topics = new Map<string, number>();
  private readonly histogram: Record<ScoreBucket, number> = { '1-49': 0, '50-69': 0, '70-89': 0, '90-100': 0 };
  private readonly quarantined: QuarantinedRow[] = [];
  private quarantinedTotal = 0;
  private readonly warnings = new Map<string, { field: string; reason: string; rows: number }>();
  private warningTotal = 0;
  private peopleSeen = 0;

  constructor(private readonly options: { maxListedRows: number; topTopics: number }) {}

  addPerson(person: IntentPerson): void {
    this.peopleSeen += 1;
    for (const [field, get] of FILL_FIELDS) {
      if (get(person) !== undefined) this.filled.set(field, (this.filled.get(field) ?? 0) + 1);
    }
    for (const column of Object.keys(person.extra)) this.extraFilled.set(column, (this.extraFilled.get(column) ?? 0) + 1);
    this.histogram[scoreBucket(person.score)] += 1;
    for (const topic of person.topics) this.topics.set(topic, (this.topics.get(topic) ?? 0) + 1);
  }

  addQuarantined(row: QuarantinedRow): void {
    this.quarantinedTotal += 1;
    if (this.quarantined.length < this.options.maxListedRows) this.quarantined.push(row);
  }

  addWarning(warning: RowWarning): void {
    this.warningTotal += 1;
    const id = `${warning.field}\u0000${warning.reason}`;
    const entry = this.warnings.get(id) ?? { field: warning.field, reason: warning.reason, rows: 0 };
    entry.rows += 1;
    this.warnings.set(id, entry);
  }

  finish(source: InspectReport['source'], totals: IngestTotals): InspectReport {
    const fillRates: Record<string, number> = {};
    for (const [field] of FILL_FIELDS) fillRates[field] = percent(this.filled.get(field) ?? 0, this.peopleSeen);
    for (const [column, count] of [...this.extraFilled].sort(([a], [b]) => a.localeCompare(b))) {
      fillRates[column] = percent(count, this.peopleSeen);
    }
    const topTopics = [...this.topics]
      .sort(([ta, a], [tb, b]) => b - a || ta.localeCompare(tb))
      .slice(0, this.options.topTopics)
      .map(([topic, people]) => ({ topic, people }));
    return {
      source,
      ...totals,
      warnings: this.warningTotal,
      fillRates,
      scoreHistogram: { ...this.histogram },
      topTopics,
      quarantinedRows: [...this.quarantined],
      quarantinedRowsNotListed: this.quarantinedTotal - this.quarantined.length,
      warningsByReason: [...this.warnings.values()].sort((a, b) => b.rows - a.rows),
    };
  }
}
