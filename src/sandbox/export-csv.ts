/**
 * Generated rows → a Leadpipe-style CSV export.
 *
 * Leadpipe does not document its CSV header (reference §7.4), so the sandbox writes the run-results
 * field names nested with dots, which is what DESIGN.md's parser and config/columns.json expect.
 * Quoting follows RFC 4180: a cell is quoted when it holds a comma, a quote, CR or LF, and inner
 * quotes are doubled. Malformed rows are written as they are (a ragged row really lacks a cell).
 *
 * Everything here is a generator pulled one chunk at a time, so a 300,000-row export never sits in
 * memory: `writeExportFile` and the sandbox's `export.csv` both pipe these chunks with backpressure.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { generatePeople, LEADPIPE_RESULT_FIELDS } from './generate-people';
import { csvCell } from '../lib/csv-cell';
import type {
  GeneratePeopleOptions,
  GeneratedRow,
  LeadpipeLooseResultRow,
  LeadpipeResultField,
  TopicsFormat,
} from './generate-people';

/** The header, in order: the result field names of generate-people. */
export const EXPORT_CSV_COLUMNS: readonly LeadpipeResultField[] = LEADPIPE_RESULT_FIELDS;
export const EXPORT_CSV_HEADER = EXPORT_CSV_COLUMNS.join(',');

export type LineEnding = 'lf' | 'crlf';

export interface ExportCsvOptions {
  /** `json`: `[{"topicId":117805,"topicName":"Marketing ROI"}]` (default); `delimited`: `Marketing ROI;Intent Data`. */
  topicsFormat?: TopicsFormat;
  /** Default `lf`. */
  lineEnding?: LineEnding;
}

export type WriteExportOptions = GeneratePeopleOptions & ExportCsvOptions;

/** Chunks handed to a stream are about this many characters: 300k one-line writes would be slow. */
const CHUNK_CHARS = 64 * 1024;

export { csvCell };

function text(value: string | number | null): string {
  return value === null ? '' : String(value);
}

/** The unquoted text of one field of a row, as the CSV carries it ('' when absent). */
export function resultFieldValue(
  person: LeadpipeLooseResultRow,
  field: LeadpipeResultField,
  topicsFormat: TopicsFormat = 'json',
): string {
  switch (field) {
    case 'company.name':
      return text(person.company.name);
    case 'company.domain':
      return text(person.company.domain);
    case 'company.industry':
      return text(person.company.industry);
    case 'intent.score':
      return text(person.intent.score);
    case 'intent.topicOverlap':
      return text(person.intent.topicOverlap);
    case 'intent.matchedTopics': {
      const topics = person.intent.matchedTopics;
      if (topics.length === 0) return '';
      return topicsFormat === 'json'
        ? JSON.stringify(topics.map(({ topicId, topicName }) => ({ topicId, topicName })))
        : topics.map((t) => t.topicName).join(';');
    }
    default:
      return text(person[field]);
  }
}

/** The quoted cells of one row; a ragged row comes back one cell short. */
export function rowCells(row: GeneratedRow, topicsFormat: TopicsFormat = 'json'): string[] {
  const missing = row.kind === 'malformed' ? row.missingField : null;
  const cells: string[] = [];
  for (const field of EXPORT_CSV_COLUMNS) {
    if (field !== missing) cells.push(csvCell(resultFieldValue(row.person, field, topicsFormat)));
  }
  return cells;
}

/** The header line, then one line per row, each ending with the line terminator. */
export function* exportCsvLines(
  rows: Iterable<GeneratedRow>,
  options: ExportCsvOptions = {},
): Generator<string, void, undefined> {
  const eol = options.lineEnding === 'crlf' ? '\r\n' : '\n';
  const topicsFormat = options.topicsFormat ?? 'json';
  yield EXPORT_CSV_HEADER + eol;
  for (const row of rows) yield rowCells(row, topicsFormat).join(',') + eol;
}

/** The same text as `exportCsvLines`, batched into ~64 KiB UTF-8 buffers for streams. */
export function* exportCsvChunks(
  rows: Iterable<GeneratedRow>,
  options: ExportCsvOptions = {},
): Generator<Buffer, void, undefined> {
  let pending = '';
  for (const line of exportCsvLines(rows, options)) {
    pending += line;
    if (pending.length >= CHUNK_CHARS) {
      yield Buffer.from(pending, 'utf8');
      pending = '';
    }
  }
  if (pending.length > 0) yield Buffer.from(pending, 'utf8');
}

/**
 * Generates `options.count` rows and streams them as CSV to `path`. `Readable.from` pulls the next
 * chunk only when the file stream asks for it, so memory stays flat for any row count.
 * Resolves with the number of data rows (header excluded) and the bytes written.
 */
export async function writeExportFile(path: string, options: WriteExportOptions): Promise<{ rows: number; bytes: number }> {
  const people = generatePeople(options);
  let rows = 0;
  let bytes = 0;
  function* countedRows(): Generator<GeneratedRow, void, undefined> {
    for (const row of people) {
      rows++;
      yield row;
    }
  }
  function* countedChunks(): Generator<Buffer, void, undefined> {
    for (const chunk of exportCsvChunks(countedRows(), options)) {
      bytes += chunk.length;
      yield chunk;
    }
  }
  await pipeline(Readable.from(countedChunks()), createWriteStream(path));
  return { rows, bytes };
}
