import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { dedupePeople, type DedupeStats } from '../../../src/ingest/dedupe-people';
import type { IngestEvent, IntentPerson } from '../../../src/ingest/types';

const keyOf = (n: number): string => createHash('sha256').update(`p${n}`).digest('hex');

function person(n: number, line: number, score: number, topics: string[] = []): IntentPerson {
  return {
    key: keyOf(n),
    hashedEmail: keyOf(n),
    emails: [{ address: `p${n}@acme.com`, sha256: keyOf(n), kind: 'primary' }],
    firstName: `P${n}`,
    company: { domain: 'acme.com' },
    score,
    topics,
    extra: line % 2 === 0 ? { parity: 'even' } : {},
    line,
    rows: 1,
  };
}

function from(events: IngestEvent[]): AsyncIterable<IngestEvent> {
  return Readable.from(events);
}

async function run(events: IngestEvent[], tmpDir: string): Promise<{ out: IngestEvent[]; stats: DedupeStats }> {
  const generator = dedupePeople(from(events), { tmpDir });
  const out: IngestEvent[] = [];
  for (;;) {
    const step = await generator.next();
    if (step.done) return { out, stats: step.value };
    out.push(step.value);
  }
}

/** A seeded shuffle, so a failure can be replayed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('dedupePeople', () => {
  let tmpDir: string;
  beforeEach(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'orbit-sync-dedupe-test-'));
  });
  afterEach(async () => {
    await rm(tmpDir, { recursive: true, force: true });
  });

  it('yields one person per key, merged, and passes other events through first', async () => {
    const events: IngestEvent[] = [
      { kind: 'person', person: person(1, 2, 40, ['CRM']) },
      { kind: 'quarantined', row: { line: 3, field: null, code: 'COLUMN_COUNT', reason: 'x' } },
      { kind: 'person', person: person(2, 4, 10) },
      { kind: 'person', person: person(1, 5, 90, ['ABM', 'crm']) },
      { kind: 'warning', warning: { line: 6, field: 'email', reason: 'y' } },
      { kind: 'person', person: person(1, 7, 20, ['Data']) },
    ];
    const { out, stats } = await run(events, tmpDir);
    expect(out.map((e) => e.kind)).toEqual(['quarantined', 'warning', 'person', 'person']);
    expect(stats).toEqual({ valid: 4, people: 2, duplicates: 2 });
    const merged = out.find((e) => e.kind === 'person' && e.person.key === keyOf(1));
    expect(merged?.kind === 'person' && merged.person).toMatchObject({ score: 90, topics: ['ABM', 'crm', 'Data'], line: 2, rows: 3 });
  });

  it('gives the same people whatever the order of the rows', async () => {
    const rows: IntentPerson[] = [];
    let line = 2;
    for (let n = 0; n < 300; n++) {
      const copies = n % 10 === 0 ? 3 : n % 7 === 0 ? 2 : 1;
      for (let c = 0; c < copies; c++) rows.push(person(n, line++, ((n * 13 + c * 29) % 100) + 1, [`T${(n + c) % 5}`, `t${c}`]));
    }
    const canonical = (people: IntentPerson[]) =>
      people.map(({ line: _line, ...rest }) => rest).sort((a, b) => a.key.localeCompare(b.key));
    const reference = await run(
      rows.map((p) => ({ kind: 'person', person: p })),
      tmpDir,
    );
    const referencePeople = reference.out.flatMap((e) => (e.kind === 'person' ? [e.person] : []));
    expect(reference.stats.people).toBe(300);
    for (const seed of [1, 2, 3]) {
      // Shuffling moves rows to other lines too; everything but `line` must be the same.
      const shuffled = shuffle(rows, seed).map((p, i) => ({ ...p, line: i + 2 }));
      const result = await run(
        shuffled.map((p) => ({ kind: 'person', person: p })),
        tmpDir,
      );
      expect(canonical(result.out.flatMap((e) => (e.kind === 'person' ? [e.person] : [])))).toEqual(canonical(referencePeople));
      expect(result.stats).toEqual(reference.stats);
    }
  });

  it('removes its spool directory after a full iteration', async () => {
    await run([{ kind: 'person', person: person(1, 2, 5) }], tmpDir);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('removes its spool directory when the consumer stops early, in either phase', async () => {
    const events: IngestEvent[] = [
      { kind: 'person', person: person(1, 2, 5) },
      { kind: 'quarantined', row: { line: 3, field: null, code: 'CSV_SYNTAX', reason: 'x' } },
      { kind: 'person', person: person(2, 4, 5) },
      { kind: 'person', person: person(3, 5, 5) },
    ];
    // Phase A: stop at the quarantined row, while people are being spooled. The spool (plaintext
    // emails) has no name on disk even now, so a killed process cannot leave it behind.
    for await (const event of dedupePeople(from(events), { tmpDir })) {
      expect(await readdir(tmpDir)).toEqual([]);
      if (event.kind === 'quarantined') break;
    }
    expect(await readdir(tmpDir)).toEqual([]);
    // Phase B: stop at the first person, while the spool is being read.
    for await (const event of dedupePeople(from(events), { tmpDir })) {
      if (event.kind === 'person') break;
    }
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('removes its spool directory when the input fails', async () => {
    async function* failing(): AsyncGenerator<IngestEvent> {
      yield { kind: 'person', person: person(1, 2, 5) };
      await new Promise((resolve) => setImmediate(resolve));
      throw new Error('source failed');
    }
    await expect(
      (async () => {
        for await (const _event of dedupePeople(failing(), { tmpDir })) void _event;
      })(),
    ).rejects.toThrow('source failed');
    expect(await readdir(tmpDir)).toEqual([]);
  });
});

describe('dedupePeople with a fingerprint collision in the counter', () => {
  it('still yields each person once, unmerged', async () => {
    const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'orbit-sync-dedupe-test-'));
    try {
      // Same first and last 32 bits, different middles: one counter slot, two people.
      const a = `${'1'.repeat(8)}${'a'.repeat(48)}${'2'.repeat(8)}`;
      const b = `${'1'.repeat(8)}${'b'.repeat(48)}${'2'.repeat(8)}`;
      const rows = [person(1, 2, 10), person(2, 3, 20), person(1, 4, 30)].map((p, i) => ({ ...p, key: i === 1 ? b : a }));
      const { out, stats } = await run(
        rows.map((p) => ({ kind: 'person', person: p })),
        tmpDir,
      );
      const people = out.flatMap((e) => (e.kind === 'person' ? [e.person] : []));
      expect(people.map((p) => [p.key, p.rows, p.score])).toEqual([
        [a, 2, 30],
        [b, 1, 20],
      ]);
      expect(stats).toEqual({ valid: 3, people: 2, duplicates: 1 });
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  });
});
