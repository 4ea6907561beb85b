import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { RecordFramer, type RecordFrame } from '../../../src/ingest/frame-records';

interface Framed {
  frames: RecordFrame[];
  out: Buffer;
}

function frame(input: Buffer, chunkSize: number, maxRowBytes = 1 << 20): Framed {
  const frames: RecordFrame[] = [];
  const framer = new RecordFramer({ maxRowBytes, onFrame: (f) => frames.push(f) });
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunkSize) out.push(...framer.push(input.subarray(i, i + chunkSize)));
  out.push(...framer.end());
  return { frames, out: Buffer.concat(out) };
}

interface Parsed {
  /** End offset (csv-parse info.bytes) of each record. */
  records: { end: number; lines: number }[];
  /** csv-parse info.bytes at each 'skip' event. */
  skips: number[];
}

/** csv-parse with the options parse-csv.ts uses, plus `info` to see where each record ends. */
async function csvParse(input: Buffer): Promise<Parsed> {
  const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: true, skip_records_with_error: true, info: true });
  const result: Parsed = { records: [], skips: [] };
  parser.on('skip', () => result.skips.push(parser.info.bytes));
  Readable.from([input]).pipe(parser);
  for await (const item of parser as AsyncIterable<{ info: { bytes: number; lines: number } }>) {
    result.records.push({ end: item.info.bytes, lines: item.info.lines });
  }
  return result;
}

/** A pseudo-random generator with a seed, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const PIECES = ['a', 'b', 'cd', ',', ',', '"', '""', '\n', '\n', '\r\n', '\r', ' ', 'é', '\u0000'];

function randomCsv(next: () => number, length: number, pieces: readonly string[]): Buffer {
  let text = next() < 0.2 ? '\uFEFF' : '';
  for (let i = 0; i < length; i++) text += pieces[Math.floor(next() * pieces.length)];
  return Buffer.from(text, 'utf8');
}

function linesBefore(input: Buffer, offset: number, lineByte: number): number {
  let lines = 1;
  for (let i = 0; i < offset; i++) if (input[i] === lineByte) lines += 1;
  return lines;
}

describe('RecordFramer', () => {
  it('frames records exactly where csv-parse ends them, rejects included (fuzzed against csv-parse)', async () => {
    for (let seed = 1; seed <= 400; seed++) {
      const next = random(seed);
      const input = randomCsv(next, 5 + Math.floor(next() * 80), PIECES);
      const { frames, out } = frame(input, 1 + Math.floor(next() * 9));
      const parsed = await csvParse(input);
      const context = { seed, input: JSON.stringify(input.toString('utf8')) };

      // Nothing dropped at this size: the parser sees the file as it is.
      expect({ ...context, out: out.equals(input) }).toEqual({ ...context, out: true });
      // Every record csv-parse emits ends where a frame ends, in order; every other frame was rejected.
      const recordEnds = new Set(parsed.records.map((r) => r.end));
      const rejected = frames.filter((f) => !recordEnds.has(f.outEnd));
      expect({ ...context, ends: frames.filter((f) => recordEnds.has(f.outEnd)).map((f) => f.outEnd) }).toEqual({
        ...context,
        ends: parsed.records.map((r) => r.end),
      });
      // Each skip event falls inside a rejected frame, and each rejected frame had one.
      const owner = (bytes: number): RecordFrame | undefined => frames.find((f) => f.outEnd > bytes);
      expect({ ...context, skipOwners: parsed.skips.map((b) => rejected.includes(owner(b) as RecordFrame)) }).toEqual({
        ...context,
        skipOwners: parsed.skips.map(() => true),
      });
      expect({ ...context, rejectedWithSkip: rejected.every((f) => parsed.skips.some((b) => owner(b) === f)) }).toEqual({ ...context, rejectedWithSkip: true });
    }
  });

  it('gives each record the line it starts on (LF, CRLF, quoted line breaks, blank lines)', async () => {
    const pieces = ['a', ',', '"', '""', '\n', '\n', 'x y'];
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const crlf = next() < 0.5;
      let input = randomCsv(next, 5 + Math.floor(next() * 60), pieces);
      if (crlf) input = Buffer.from(input.toString('utf8').replace(/\n/g, '\r\n'), 'utf8');
      const { frames } = frame(input, 1 + Math.floor(next() * 5));
      const parsed = await csvParse(input);
      const context = { seed, input: JSON.stringify(input.toString('utf8')) };
      // Start line: one more than the line breaks before the record's first byte.
      expect({ ...context, starts: frames.map((f) => f.startLine) }).toEqual({ ...context, starts: frames.map((f) => linesBefore(input, f.outStart, 0x0a)) });
      if (!crlf) {
        // Without CR, csv-parse's own line count is right for the line a record ends on.
        const byEnd = new Map(frames.map((f) => [f.outEnd, f.endLine]));
        expect({ ...context, ends: parsed.records.map((r) => byEnd.get(r.end)) }).toEqual({ ...context, ends: parsed.records.map((r) => r.lines) });
      }
    }
  });

  it('counts a quoted CRLF as one line, where csv-parse counts two', async () => {
    const input = Buffer.from('a,b\r\n1,"x\r\ny"\r\n2,z\r\n');
    const { frames } = frame(input, 4);
    expect(frames.map((f) => [f.startLine, f.endLine])).toEqual([
      [1, 1],
      [2, 3],
      [4, 4],
    ]);
    const parsed = await csvParse(input);
    expect(parsed.records.map((r) => r.lines)).toEqual([1, 4, 5]); // why the framer counts lines itself
  });

  it('drops a record over maxRowBytes without keeping it, and frames the rest of the file', () => {
    const big = 'x'.repeat(5000);
    const input = Buffer.from(`h1,h2\n1,${big}\n2,ok\n`);
    const { frames, out } = frame(input, 64, 1024);
    expect(frames.map((f) => [f.startLine, f.dropped, f.bytes])).toEqual([
      [1, false, 5],
      [2, true, 5002],
      [3, false, 4],
    ]);
    // Only the dropped record's line break is passed on: a blank line, which csv-parse skips.
    expect(out.toString()).toBe('h1,h2\n\n2,ok\n');
    const dropped = frames[1] as RecordFrame;
    expect(dropped.outStart).toBe(dropped.outEnd);
    expect((frames[2] as RecordFrame).outStart).toBe(7);
  });

  it('reports a quote never closed, over maxRowBytes, as one dropped frame to the end of the file', () => {
    const rows = Array.from({ length: 200 }, (_, i) => `${i},row ${i}`).join('\n');
    const input = Buffer.from(`h1,h2\n1,"open\n${rows}\n`);
    const { frames, out } = frame(input, 100, 1024);
    expect(frames).toHaveLength(2);
    expect(frames[1]).toMatchObject({ startLine: 2, endLine: 202, dropped: true, unclosedQuote: true });
    expect(out.toString()).toBe('h1,h2\n');
  });

  it('recognizes the BOM and a UTF-16 BOM', () => {
    const bom = frame(Buffer.from('\uFEFFa,b\n1,2\n'), 1);
    expect(bom.frames.map((f) => f.outStart)).toEqual([3, 7]);
    const framer = new RecordFramer({ maxRowBytes: 1024, onFrame: () => undefined });
    framer.push(Buffer.from([0xff, 0xfe, 0x61, 0x00]));
    expect(framer.utf16).toBe(true);
  });
});
