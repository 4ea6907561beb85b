/**
 * In-run dedupe by person key in memory that does not grow with the number of rows (Leadpipe exports
 * go up to 300,000 rows; DESIGN.md), so people are never all held in a Map:
 *
 * A. Every person is appended to a spool file (one line each, in the compact format of spool-codec.ts,
 *    in a fresh private temp directory, written with backpressure by spool-file.ts) while its key is
 *    counted in a KeyCounter (a typed-array hash table, under 20 bytes per distinct key). Other events
 *    (quarantined rows, warnings) pass straight through, so they reach the consumer at once.
 * B. The spool is read back line by line. A key seen once is yielded at once; a key seen k > 1 times is
 *    merged (merge-people.ts) until its k-th row, then yielded. Only people with duplicates still to
 *    come are in memory.
 *
 * The spool directory is always removed: after the last person, on error, and when the consumer stops
 * early (the generator's `finally`). The generator's return value is the stats.
 */
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KeyCounter } from './count-keys';
import { PersonMerger } from './merge-people';
import { decodePerson, encodePerson } from './spool-codec';
import { eachLine, SpoolWriter } from './spool-file';
import type { IngestEvent, IntentPerson } from './types';

export interface DedupeOptions {
  /** Directory in which the spool directory is created (default: the OS temp directory). */
  tmpDir?: string;
  /**
   * Counts kept live as people are yielded (`people`) and set at the end (`duplicates`), so a caller
   * can read them without wrapping this generator in another one (a generator layer per row costs
   * measurable time on 300,000-row exports).
   */
  live?: { people: number; duplicates: number };
}

export interface DedupeStats {
  /** People received (valid rows). */
  valid: number;
  /** People yielded after merging. */
  people: number;
  /** Rows merged into an earlier row of the same person; counted, so valid = people + duplicates is checkable. */
  duplicates: number;
}

/**
 * Dedupes the `person` events of a stream by `person.key`; every other event passes through unchanged
 * and immediately. People come out after the input is exhausted.
 */
export function dedupePeople(events: AsyncIterable<IngestEvent>, options: DedupeOptions = {}): AsyncGenerator<IngestEvent, DedupeStats, undefined> {
  return dedupePeopleBatches(oneByOne(events), options);
}

async function* oneByOne(events: AsyncIterable<IngestEvent>): AsyncGenerator<readonly IngestEvent[], void, undefined> {
  for await (const event of events) yield [event];
}

/** `dedupePeople` over batches of events (ingest-csv.ts: one batch per chunk of input); the same output. */
export async function* dedupePeopleBatches(batches: AsyncIterable<readonly IngestEvent[]>, options: DedupeOptions = {}): AsyncGenerator<IngestEvent, DedupeStats, undefined> {
  const live = options.live ?? { people: 0, duplicates: 0 };
  const dir = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'orbit-sync-dedupe-'));
  const file = path.join(dir, 'people.ndjson');
  let writer: SpoolWriter | undefined;
  try {
    // Phase A: spool and count.
    const counter = new KeyCounter();
    writer = await SpoolWriter.create(file);
    // The spool holds plaintext emails and names: with no name on disk it cannot outlive this process,
    // even one killed with SIGKILL or Ctrl-C mid-run. It is read back through the open handle.
    await unlink(file);
    await rm(dir, { recursive: true, force: true });
    let valid = 0;
    for await (const batch of batches) {
      for (const event of batch) {
        if (event.kind !== 'person') {
          yield event;
          continue;
        }
        valid += 1;
        counter.add(event.person.key);
        const line = encodePerson(event.person);
        if (!writer.tryWrite(line)) await writer.writeLine(line);
      }
    }
    await writer.end();

    // Phase B: read back, yield singles at once and duplicates at their last row.
    let people = 0;
    const emit = (person: IntentPerson): IngestEvent => {
      people += 1;
      live.people += 1;
      return { kind: 'person', person };
    };
    const waiting = new Map<string, { merger: PersonMerger; seen: number }>();
    let duplicates = 0;
    for await (const block of writer.readBack()) {
      for (const line of eachLine(block)) {
        const person = decodePerson(line);
        const total = counter.get(person.key);
        if (total <= 1) {
          yield emit(person);
          continue;
        }
        let entry = waiting.get(person.key);
        if (entry === undefined) {
          entry = { merger: new PersonMerger(person.key), seen: 0 };
          waiting.set(person.key, entry);
        } else duplicates += 1;
        entry.merger.add(person);
        entry.seen += 1;
        if (entry.seen === total) {
          waiting.delete(person.key);
          yield emit(entry.merger.result());
        }
      }
    }
    // Only if two keys shared a fingerprint in the counter (see count-keys.ts): their counts were summed.
    for (const entry of waiting.values()) yield emit(entry.merger.result());
    // Counted row by row, not derived, so `people = valid − duplicates` is a check that can fail.
    live.duplicates = duplicates;
    return { valid, people, duplicates };
  } finally {
    await writer?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
