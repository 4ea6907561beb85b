/**
 * Streams a CSV export into records (`{line, values}`) and quarantined rows, header-driven.
 *
 * 1. `frame-records.ts` finds each record's start line and size and drops records over
 *    `maxRowBytes` before they reach csv-parse, so memory stays bounded and the file is read to the end.
 * 2. csv-parse (stream, `for await`) splits fields: BOM stripped, CRLF/LF/CR, quoted commas, line
 *    breaks and doubled quotes. `relax_column_count` lets ragged rows through so they are quarantined
 *    here (COLUMN_COUNT) instead of failing the file; `skip_records_with_error` turns a bad row into a
 *    'skip' event, which is attached to its record's frame by byte offset and quarantined.
 * 3. The first non-blank record is the header: it is checked (not CSV, empty) and resolved into a column
 *    plan before anything else is yielded, so file-level problems throw before any row.
 *
 * Line numbers are 1-based lines of the file where a row starts (the header is line 1 unless the file
 * starts with blank lines); blank lines are skipped and are not rows.
 */
import { pipeline, type Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import type { ColumnAliases } from '../config';
import { FixInputFileError } from '../lib/errors';
import { RecordFramer, type RecordFrame } from './frame-records';
import { maskCell } from './mask-cell';
import { resolveHeader, type ColumnPlan } from './resolve-header';
import type { QuarantinedRow } from './types';

/** A Node Readable (file, HTTP body) or any async iterable of bytes or text. */
export type CsvSource = Readable | AsyncIterable<Uint8Array | string>;

export interface ParseCsvOptions {
  columns: ColumnAliases;
  /** A cell larger than this (UTF-8 bytes) quarantines its row (CELL_TOO_LARGE). */
  maxCellBytes: number;
  /** A row larger than this (bytes) is skipped unparsed and quarantined (ROW_TOO_LARGE). */
  maxRowBytes: number;
}

/** One data row: the cells in header order, and the line the row starts on. */
export interface CsvRecord {
  line: number;
  values: string[];
}

export type CsvItem =
  | { kind: 'header'; line: number; plan: ColumnPlan }
  | ({ kind: 'record' } & CsvRecord)
  | { kind: 'quarantined'; row: QuarantinedRow };

interface Rejection {
  code: string;
  column: number | undefined;
}

interface QueuedFrame extends RecordFrame {
  rejection?: Rejection;
}

/** Frames between the framer and csv-parse's output, oldest first. Bounded by the stream buffers. */
class FrameQueue {
  private items: QueuedFrame[] = [];
  private head = 0;

  push(frame: QueuedFrame): void {
    this.items.push(frame);
  }

  shift(): QueuedFrame | undefined {
    const frame = this.items[this.head];
    if (frame === undefined) return undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  /** The record csv-parse was in when it rejected one: the first frame not yet ended at `bytes`. */
  reject(bytes: number, rejection: Rejection): boolean {
    for (let i = this.head; i < this.items.length; i++) {
      const frame = this.items[i] as QueuedFrame;
      if (frame.dropped || frame.outEnd <= bytes) continue;
      frame.rejection ??= rejection;
      return true;
    }
    return false;
  }
}

const NOT_CSV_START = /^[{[<]/;

function notCsv(message: string): FixInputFileError {
  return new FixInputFileError('CSV_NOT_CSV', `The file is not a CSV export: ${message}. Check that you picked the run's export.csv.`);
}

function isBlank(values: readonly string[]): boolean {
  return values.length === 1 && (values[0] ?? '').trim() === '';
}

function lines(frame: RecordFrame): string {
  return frame.endLine > frame.startLine ? `lines ${frame.startLine}–${frame.endLine}` : `line ${frame.startLine}`;
}

function checkHeader(values: string[], columns: ColumnAliases): ColumnPlan {
  if (values.some((v) => v.includes('\u0000'))) throw notCsv('its first line contains NUL bytes (binary data)');
  if (values.some((v) => v.includes('\uFFFD'))) throw notCsv('its first line is not UTF-8 text');
  const first = (values[0] ?? '').replace(/^\uFEFF/, '').trimStart();
  if (values.length === 1 && NOT_CSV_START.test(first)) {
    throw notCsv(`its first line starts with "${first[0] ?? ''}" and has no commas (a JSON, HTML or XML document?)`);
  }
  return resolveHeader(values, columns);
}

/** The header row itself was rejected by csv-parse or was too large to parse. */
function rejectedHeader(frame: QueuedFrame, framer: RecordFramer, maxRowBytes: number): FixInputFileError {
  if (framer.head.includes(0)) return notCsv('it contains NUL bytes (binary data)');
  const start = framer.head.toString('utf8').trimStart();
  if (NOT_CSV_START.test(start)) return notCsv(`it starts with "${start[0] ?? ''}" (a JSON, HTML or XML document?)`);
  if (frame.dropped) return notCsv(`its first row is over ${maxRowBytes} bytes (ingest.maxRowBytes) without a line break`);
  const why = frame.unclosedQuote ? 'a quote is opened and never closed' : 'a quote is misplaced';
  return new FixInputFileError('CSV_HEADER_INVALID', `The CSV header (${lines(frame)}) is not valid CSV: ${why}. Fix the file's first line.`);
}

/**
 * The column a quarantined row names: its canonical field, or its header text with emails and hashes
 * masked (mask-cell.ts). A header cell can be a person's email (a header row that is really a data
 * row), and the name goes into the reason and the run's stored errors, which never hold one (types.ts).
 */
function columnName(plan: ColumnPlan, index: number | undefined): string | null {
  if (index === undefined) return null;
  const column = plan.columns[index];
  return column ? (column.field ?? maskCell(column.header, Number.POSITIVE_INFINITY)) : null;
}

/** Why a frame that produced no record is quarantined. */
function quarantineFrame(frame: QueuedFrame, plan: ColumnPlan, maxRowBytes: number): QuarantinedRow {
  const line = frame.startLine;
  if (frame.dropped) {
    if (frame.unclosedQuote) {
      return {
        line,
        field: null,
        code: 'UNBALANCED_QUOTE',
        reason: `a quote opened in the row starting on line ${line} is never closed: ${lines(frame)} (the rest of the file) were read as one row of ${frame.bytes} bytes, over ingest.maxRowBytes (${maxRowBytes}), and skipped`,
      };
    }
    return {
      line,
      field: null,
      code: 'ROW_TOO_LARGE',
      reason: `the row (${lines(frame)}) is ${frame.bytes} bytes, over ingest.maxRowBytes (${maxRowBytes}); it was skipped without being parsed (an unclosed quote makes rows this long)`,
    };
  }
  const rejection = frame.rejection;
  const field = columnName(plan, rejection?.column);
  if (frame.unclosedQuote) {
    return {
      line,
      field: null,
      code: 'UNBALANCED_QUOTE',
      reason:
        frame.endLine > line
          ? `a quote opened on line ${line} is never closed: ${lines(frame)} (to the end of the file) were read as one row and skipped`
          : `a quote opened on line ${line} is never closed before the end of the file`,
    };
  }
  if (rejection?.code === 'CSV_INVALID_CLOSING_QUOTE') {
    const spread = frame.endLine > line ? `; the value stays open, so ${lines(frame)} were read as one row` : '';
    return {
      line,
      field,
      code: 'UNBALANCED_QUOTE',
      reason: `a quoted value${field ? ` in column "${field}"` : ''} has a quote that is not doubled ("") or is followed by text instead of a comma or line break${spread}`,
    };
  }
  if (rejection?.code === 'INVALID_OPENING_QUOTE') {
    return {
      line,
      field,
      code: 'CSV_SYNTAX',
      reason: `a quote appears inside an unquoted value${field ? ` in column "${field}"` : ''}; quote the whole value and double the quotes in it`,
    };
  }
  return { line, field, code: 'CSV_SYNTAX', reason: `the row is not valid CSV (${rejection?.code ?? 'unknown error'})` };
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new FixInputFileError('CSV_NOT_CSV', `The CSV source yielded a ${typeof chunk}, not bytes or text.`);
}

/**
 * Parses a CSV source. Yields `{kind: 'header'}` first (after checking it), then records and
 * quarantined rows in file order. Throws `FixInputFileError` (CSV_EMPTY, CSV_NOT_CSV,
 * CSV_HEADER_INVALID) before yielding anything when the file cannot be read as a whole.
 */
export async function* parseCsv(source: CsvSource, options: ParseCsvOptions): AsyncGenerator<CsvItem, void, undefined> {
  for await (const batch of parseCsvBatches(source, options)) yield* batch;
}

/**
 * `parseCsv` in batches: the same items in the same order, as arrays of what csv-parse made of one chunk
 * of input (about 180 rows of a 64 KiB chunk). ingest-csv.ts reads these, so the stages up to the dedupe
 * spool take one async step per chunk rather than three per row: about a tenth of the pipeline's time
 * and 15 MB of peak RSS on a 300,000-row export (bench/ingest.ts, issue #6).
 */
export async function* parseCsvBatches(source: CsvSource, options: ParseCsvOptions): AsyncGenerator<CsvItem[], void, undefined> {
  const { maxCellBytes, maxRowBytes } = options;
  const frames = new FrameQueue();
  const framer = new RecordFramer({ maxRowBytes, onFrame: (frame) => frames.push(frame) });
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // A backstop only: the framer never passes on a record this large.
    max_record_size: maxRowBytes,
  });
  parser.on('skip', (err: CsvError | undefined) => {
    const code = err?.code ?? 'CSV_UNKNOWN_ERROR';
    // csv-parse loses the rest of its input after this one (see frame-records.ts), so it must not happen.
    if (code === 'CSV_MAX_RECORD_SIZE') throw new Error('internal: csv-parse saw a record over maxRowBytes that the framer passed on');
    const column = typeof err?.column === 'number' ? err.column : undefined;
    // Throwing here fails the parse stream (csv-parse returns on_skip errors), so a mismatch is loud.
    if (!frames.reject(parser.info.bytes, { code, column })) throw new Error(`internal: csv-parse rejected a record at byte ${parser.info.bytes} that was not framed`);
  });

  async function* framed(input: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
    let first = true;
    for await (const chunk of input) {
      const parts = framer.push(toBuffer(chunk));
      if (first && framer.head.length > 0) {
        first = false;
        if (framer.utf16) throw notCsv('it is UTF-16 encoded; export or save it as UTF-8');
      }
      yield* parts;
    }
    const parts = framer.end();
    if (framer.utf16) throw notCsv('it is UTF-16 encoded; export or save it as UTF-8');
    yield* parts;
  }
  // Errors (source, framer, csv-parse) destroy the parser, so they surface in the `for await` below;
  // stopping early destroys the parser and pipeline closes the source.
  pipeline(source, framed, parser, () => undefined);

  let plan: ColumnPlan | undefined;
  const fastCellLimit = Math.floor(maxCellBytes / 3); // a string of n UTF-16 units is at most 3n UTF-8 bytes
  try {
    for await (const first of parser as AsyncIterable<unknown>) {
      const batch: CsvItem[] = [];
      // The records csv-parse has buffered are read at once, without an async step each. Like the
      // stream's own iterator, nothing more is read from a destroyed (failed) parser.
      for (let output: unknown = first; output !== null; output = parser.destroyed ? null : parser.read()) {
        if (!Array.isArray(output)) continue;
        const values = output as string[];
        let frame = frames.shift();
        while (frame !== undefined && (frame.dropped || frame.rejection !== undefined)) {
          if (plan === undefined) throw rejectedHeader(frame, framer, maxRowBytes);
          batch.push({ kind: 'quarantined', row: quarantineFrame(frame, plan, maxRowBytes) });
          frame = frames.shift();
        }
        if (frame === undefined) throw new Error('internal: csv-parse produced a record that was not framed');
        const line = frame.startLine;
        if (isBlank(values)) continue; // a line of spaces is a blank line, not a row
        if (plan === undefined) {
          plan = checkHeader(values, options.columns);
          batch.push({ kind: 'header', line, plan });
          continue;
        }
        if (values.length !== plan.width) {
          batch.push({
            kind: 'quarantined',
            row: { line, field: null, code: 'COLUMN_COUNT', reason: `expected ${plan.width} columns (as in the header), found ${values.length}` },
          });
          continue;
        }
        let tooLarge = -1;
        let tooLargeBytes = 0;
        for (let i = 0; i < values.length; i++) {
          const value = values[i] as string;
          if (value.length > fastCellLimit) {
            const bytes = Buffer.byteLength(value, 'utf8');
            if (bytes > maxCellBytes) {
              tooLarge = i;
              tooLargeBytes = bytes;
              break;
            }
          }
        }
        if (tooLarge >= 0) {
          const field = columnName(plan, tooLarge);
          batch.push({
            kind: 'quarantined',
            row: {
              line,
              field,
              code: 'CELL_TOO_LARGE',
              reason: `the value in column "${field ?? ''}" is ${tooLargeBytes} bytes, over ingest.maxCellBytes (${maxCellBytes})`,
            },
          });
          continue;
        }
        batch.push({ kind: 'record', line, values });
      }
      if (batch.length > 0) yield batch;
    }
    // Rows rejected or dropped after the last record.
    const last: CsvItem[] = [];
    for (let frame = frames.shift(); frame !== undefined; frame = frames.shift()) {
      if (plan === undefined) throw rejectedHeader(frame, framer, maxRowBytes);
      if (!frame.dropped && frame.rejection === undefined) throw new Error(`internal: line ${frame.startLine} was framed but csv-parse produced nothing`);
      last.push({ kind: 'quarantined', row: quarantineFrame(frame, plan, maxRowBytes) });
    }
    if (last.length > 0) yield last;
    if (plan === undefined) {
      throw new FixInputFileError('CSV_EMPTY', 'The CSV file is empty: it has no header row. Check that the export finished and try again.');
    }
  } finally {
    parser.destroy();
  }
}
