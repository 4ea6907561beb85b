/**
 * The ingest pipeline, wired in this one place:
 *
 * 1. parse-csv.ts: bytes → header plan, records `{line, values}` and quarantined rows;
 * 2. normalize-person.ts: record → IntentPerson (+ warnings) or quarantined row;
 * 3. dedupe-people.ts: people spooled and counted, then yielded merged by key.
 *
 * Up to the spool, rows travel in batches, one per chunk of input (parseCsvBatches): an async step per
 * chunk instead of one per row and stage, which a 300,000-row export measurably pays for (bench/ingest.ts).
 *
 * Usage:
 *
 *     const run = ingestCsv(createReadStream(file), { columns: config.columns, ingest: config.ingest });
 *     for await (const event of run) {
 *       if (event.kind === 'person') … else if (event.kind === 'quarantined') … else …event.warning
 *     }
 *     run.counts; // { rows, valid, quarantined, duplicates, people, warnings }
 *
 * Quarantined rows and warnings are yielded as soon as they are found; people once the whole file has
 * been read. `counts` is live during iteration and final once the loop ends; then
 * `rows = valid + quarantined` and `people = valid − duplicates`. File-level problems (empty file, not
 * CSV, bad header) throw a FixInputFileError from the first iteration step, before any event.
 */
import type { ColumnAliases, Config } from '../config';
import { dedupePeopleBatches } from './dedupe-people';
import { createPersonNormalizer, type NormalizedRow } from './normalize-person';
import { parseCsvBatches, type CsvRecord, type CsvSource } from './parse-csv';
import type { ColumnPlan } from './resolve-header';
import type { IngestEvent } from './types';

export type { CsvSource } from './parse-csv';
export type { IngestEvent } from './types';

export interface IngestCounts {
  /** Data rows read (blank lines are not rows): valid + quarantined. */
  rows: number;
  /** Rows that became a person. */
  valid: number;
  /** Rows set aside with a reason. */
  quarantined: number;
  /** Valid rows merged into an earlier row of the same person (counted, not derived). Final when iteration ends. */
  duplicates: number;
  /** People yielded. */
  people: number;
  /** Warnings yielded (e.g. invalid secondary emails dropped). */
  warnings: number;
}

export interface IngestProgress {
  /** Data rows read so far. */
  rows: number;
}

export interface IngestOptions {
  columns: ColumnAliases;
  ingest: Config['ingest'];
  /** Called every `progressEvery` rows while the file is read, and once when it has been read. */
  onProgress?: (progress: IngestProgress) => void;
  /** Rows between progress calls (default 10,000). */
  progressEvery?: number;
  /** Where the dedupe spool directory is created (default: the OS temp directory). */
  tmpDir?: string;
}

const DEFAULT_PROGRESS_EVERY = 10_000;

/** One ingest of one CSV source: iterate it once for the events, then read `counts`. */
export class IngestRun implements AsyncIterable<IngestEvent> {
  private readonly live: IngestCounts = { rows: 0, valid: 0, quarantined: 0, duplicates: 0, people: 0, warnings: 0 };
  private plan: ColumnPlan | undefined;
  private started = false;

  constructor(
    private readonly source: CsvSource,
    private readonly options: IngestOptions,
  ) {}

  /** A snapshot of the counts: live while iterating, final after the loop has run to the end. */
  get counts(): IngestCounts {
    return { ...this.live };
  }

  /** The resolved header (column plan), once the first event has been requested. */
  get header(): ColumnPlan | undefined {
    return this.plan;
  }

  [Symbol.asyncIterator](): AsyncIterator<IngestEvent> {
    if (this.started) throw new TypeError('An IngestRun can be iterated only once; call ingestCsv() again.');
    this.started = true;
    // dedupe keeps `people` and `duplicates` of the live counts itself: no wrapper generator per row.
    return dedupePeopleBatches(this.normalized(), { live: this.live, ...(this.options.tmpDir !== undefined && { tmpDir: this.options.tmpDir }) });
  }

  /** Normalized events, a batch (one chunk of input) at a time; see parseCsvBatches. */
  private async *normalized(): AsyncGenerator<IngestEvent[], void, undefined> {
    const { ingest, onProgress } = this.options;
    const every = Math.max(1, this.options.progressEvery ?? DEFAULT_PROGRESS_EVERY);
    const counts = this.live;
    let normalize: ((record: CsvRecord) => NormalizedRow) | undefined;
    const batches = parseCsvBatches(this.source, { columns: this.options.columns, maxCellBytes: ingest.maxCellBytes, maxRowBytes: ingest.maxRowBytes });
    for await (const items of batches) {
      const events: IngestEvent[] = [];
      for (const item of items) {
        if (item.kind === 'header') {
          this.plan = item.plan;
          normalize = createPersonNormalizer(item.plan, ingest);
          continue;
        }
        counts.rows += 1;
        if (onProgress !== undefined && counts.rows % every === 0) onProgress({ rows: counts.rows });
        if (item.kind === 'quarantined') {
          counts.quarantined += 1;
          events.push({ kind: 'quarantined', row: item.row });
          continue;
        }
        // parseCsv yields the header before any record.
        const result = (normalize as (record: CsvRecord) => NormalizedRow)(item);
        if (!result.ok) {
          counts.quarantined += 1;
          events.push({ kind: 'quarantined', row: result.row });
          continue;
        }
        counts.valid += 1;
        for (const warning of result.warnings) {
          counts.warnings += 1;
          events.push({ kind: 'warning', warning });
        }
        events.push({ kind: 'person', person: result.person });
      }
      if (events.length > 0) yield events;
    }
    onProgress?.({ rows: counts.rows });
  }
}

/** Starts an ingest of `source` (nothing is read until the run is iterated). */
export function ingestCsv(source: CsvSource, options: IngestOptions): IngestRun {
  return new IngestRun(source, options);
}
