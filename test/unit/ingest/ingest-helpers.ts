/** Shared helpers for the ingest tests: config, fixture paths, and running a whole ingest. */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../../src/config';
import { ingestCsv, type IngestCounts, type IngestOptions } from '../../../src/ingest/ingest-csv';
import type { IntentPerson, QuarantinedRow, RowWarning } from '../../../src/ingest/types';

export const config = loadConfig({});

export const FIXTURES = path.resolve(__dirname, '../../fixtures/csv');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export interface IngestResult {
  people: IntentPerson[];
  quarantined: QuarantinedRow[];
  warnings: RowWarning[];
  counts: IngestCounts;
  /** Event kinds in the order they came out. */
  order: string[];
}

/** Cuts a text into chunks of `size` bytes, to exercise chunk boundaries. */
export function chunked(text: string | Buffer, size: number): Readable {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

export async function ingest(source: string | Readable | AsyncIterable<Buffer | string>, options: Partial<IngestOptions> = {}): Promise<IngestResult> {
  const input = typeof source === 'string' ? createReadStream(fixture(source)) : source;
  const run = ingestCsv(input, { columns: config.columns, ingest: config.ingest, ...options });
  const result: IngestResult = { people: [], quarantined: [], warnings: [], counts: run.counts, order: [] };
  for await (const event of run) {
    result.order.push(event.kind);
    if (event.kind === 'person') result.people.push(event.person);
    else if (event.kind === 'quarantined') result.quarantined.push(event.row);
    else result.warnings.push(event.warning);
  }
  result.counts = run.counts;
  return result;
}

/** Runs an ingest that must fail; returns the error. */
export async function ingestError(source: string | Readable | AsyncIterable<Buffer | string>): Promise<Error & { code?: string; column?: string }> {
  try {
    await ingest(source);
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('expected the ingest to fail');
}

/** The counts every ingest must reconcile to. */
export function expectReconciled(counts: IngestCounts): void {
  expect(counts.rows).toBe(counts.valid + counts.quarantined);
  expect(counts.people).toBe(counts.valid - counts.duplicates);
}
