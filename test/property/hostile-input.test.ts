/**
 * Hostile input: whatever bytes arrive, ingest either throws one of the documented file-level errors
 * (CSV_EMPTY, CSV_NOT_CSV, CSV_HEADER_INVALID) before yielding anything, or reads the whole file and
 * accounts for every data row: it becomes (part of) a person or is quarantined with a documented code,
 * and the counts reconcile (`rows = valid + quarantined`, `people = valid − duplicates`; ingest-csv.ts).
 * Inputs: random bytes, CSV-like noise, and valid exports with broken quoting, truncation, NUL bytes,
 * invalid UTF-8, BOMs, mixed CRLF/LF/CR, huge cells and rows, permuted, removed and renamed header
 * cells, fed in random chunk sizes. Small `ingest.maxCellBytes`/`maxRowBytes` keep huge cells cheap.
 * And no reason, warning or error message holds an email address or a hash from the file (types.ts,
 * QuarantinedRow.reason), even when a header cell is one (a data row taken for the header).
 *
 * Budget: 400 + 150 + 150 runs on inputs of at most ~8 KB; about 4 s on a 2-core machine. Every run
 * must end within 10 s (a hang fails the property) and each property, shrinking included, within 20 s
 * (helpers.ts, RUN_LIMITS). No fixed seed: fast-check prints the seed and path of a failure, and
 * `fc.assert(…, { seed, path })` replays it.
 */
import fc from 'fast-check';
import { normalizeEmail } from '../../src/ingest/normalize-email';
import type { IntentPerson } from '../../src/ingest/types';
import { FixInputFileError, isSyncError } from '../../src/lib/errors';
import { EXPORT_CSV_COLUMNS, exportCsvLines, rowCells } from '../../src/sandbox/export-csv';
import { generatePeople, type GeneratedRow, type LeadpipeLooseResultRow } from '../../src/sandbox/generate-people';
import {
  canonicalJson,
  DOCUMENTED_ERROR_CODES,
  DOCUMENTED_QUARANTINE_CODES,
  expectedRow,
  messagesOf,
  personSpecArb,
  rowStartLines,
  RUN_LIMITS,
  runIngest,
  TEST_TIMEOUT_MS,
  textArb,
  type IngestOutcome,
} from './helpers';

/** The errors a file as a whole can fail with (docs/errors.md); anything else thrown is a bug. */
const FILE_LEVEL_CODES = ['CSV_EMPTY', 'CSV_NOT_CSV', 'CSV_HEADER_INVALID'] as const;

const limitsArb = fc.record({ maxCellBytes: fc.integer({ min: 64, max: 400 }), maxRowBytes: fc.integer({ min: 1024, max: 1600 }) });
const chunkSizesArb = fc.array(fc.integer({ min: 1, max: 2048 }), { minLength: 1, maxLength: 6 });

// --- valid exports to break --------------------------------------------------------------------------

interface Export {
  rows: GeneratedRow[];
  lines: string[];
  /**
   * Every email address and hash written, lower-cased: none may appear in a message (types.ts,
   * QuarantinedRow.reason: "never contains an email address or other cell values of identity fields").
   */
  identities: string[];
}

/** The email addresses (as ingest recognizes one: normalizeEmail) and hashes a row holds. */
function identitiesOf(person: LeadpipeLooseResultRow): string[] {
  return [person.primaryContactEmail, person.businessEmail, person.personalEmail, person.email, person.hashedEmail].flatMap((e) => {
    const t = e?.trim().toLowerCase() ?? '';
    const address = normalizeEmail(t);
    return address !== null ? [address] : /^[0-9a-f]{64}$/.test(t) ? [t] : [];
  });
}

function makeExport(rows: GeneratedRow[], lineEnding: 'lf' | 'crlf'): Export {
  return { rows, lines: [...exportCsvLines(rows, { lineEnding })], identities: rows.flatMap((r) => identitiesOf(r.person)) };
}

/** A valid export: sandbox rows (with malformed ones), or arbitrary people with one row each. */
function exportArb(options: { malformed: boolean; duplicates: boolean }): fc.Arbitrary<Export> {
  const generated = fc
    .record({
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      count: fc.integer({ min: 0, max: 15 }),
      malformedShare: fc.double({ min: 0, max: options.malformed ? 0.5 : 0, noNaN: true }),
      duplicateShare: fc.double({ min: 0, max: options.duplicates ? 0.3 : 0, noNaN: true }),
      lineEnding: fc.constantFrom<'lf' | 'crlf'>('lf', 'crlf'),
    })
    .map(({ lineEnding, ...o }) => makeExport([...generatePeople(o)], lineEnding));
  const arbitrary = fc.record({ specs: fc.array(personSpecArb('json'), { maxLength: 8 }), lineEnding: fc.constantFrom<'lf' | 'crlf'>('lf', 'crlf') }).map(({ specs, lineEnding }) => {
    const seen = new Set<string>();
    const unique = specs.filter((spec) => {
      const result = expectedRow(spec, 0);
      if (!result.ok) return true;
      if (seen.has(result.person.key)) return false;
      seen.add(result.person.key);
      return true;
    });
    return makeExport(unique.map((spec, index) => ({ kind: 'person', index, person: spec.row, duplicateOf: null })), lineEnding);
  });
  return fc.oneof(generated, arbitrary);
}

// --- mutations ---------------------------------------------------------------------------------------

const BYTE_SNIPPETS: readonly number[][] = [
  [0x00], [0xff], [0xfe], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf],
  [0x22], [0x22, 0x22], [0x22, 0x0d], [0x22, 0x00], [0x2c], [0x0d], [0x0a], [0x0d, 0x0a], [0x0a, 0x0a], [0x2c, 0x22, 0x0a], [0x7b], [0x3c],
];
const BOMS: readonly number[][] = [[0xef, 0xbb, 0xbf], [0xff, 0xfe], [0xfe, 0xff], [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]];
/** An email address as a header cell: what a header row that is really a data row holds (lib/logger.ts, maskValue). */
const HEADER_EMAIL = 'jane.doe@acme.com';
const HEADER_NAMES = ['score', 'Intent Score', 'hem', 'Email Address', 'e-mail', 'company', 'name', '', ' ', '__proto__', 'constructor', 'intent.score', 'email', HEADER_EMAIL];

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: readonly number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'lineEndings'; choices: readonly string[] }
  | { kind: 'prefix'; bytes: readonly number[] }
  | { kind: 'huge'; at: number; extra: number; unit: string; of: 'cell' | 'row'; quote: '' | '"' }
  | { kind: 'header'; swaps: ReadonlyArray<readonly [number, number]>; remove: number | null; duplicate: number | null; rename: readonly [number, string] | null };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.constantFrom(...BYTE_SNIPPETS), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('lineEndings' as const), choices: fc.array(fc.constantFrom('\n', '\r\n', '\r'), { minLength: 1, maxLength: 5 }) }),
  fc.record({ kind: fc.constant('prefix' as const), bytes: fc.constantFrom(...BOMS) }),
  fc.record({
    kind: fc.constant('huge' as const),
    at: fc.nat(),
    extra: fc.integer({ min: -2, max: 300 }),
    unit: fc.constantFrom('x', 'é', '😀', ',', '""'),
    of: fc.constantFrom<'cell' | 'row'>('cell', 'row'),
    quote: fc.constantFrom<'' | '"'>('', '"'),
  }),
  fc.record({
    kind: fc.constant('header' as const),
    swaps: fc.array(fc.tuple(fc.nat(30), fc.nat(30)), { maxLength: 6 }),
    remove: fc.option(fc.nat(30), { nil: null }),
    duplicate: fc.option(fc.nat(30), { nil: null }),
    rename: fc.option(fc.tuple(fc.nat(30), fc.oneof(fc.constantFrom(...HEADER_NAMES), textArb)), { nil: null }),
  }),
);

function mutate(input: Buffer, m: Mutation, limits: { maxCellBytes: number; maxRowBytes: number }): Buffer {
  const at = (n: number): number => n % (input.length + 1);
  switch (m.kind) {
    case 'truncate':
      return input.subarray(0, at(m.at));
    case 'insert':
      return Buffer.concat([input.subarray(0, at(m.at)), Buffer.from(m.bytes), input.subarray(at(m.at))]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at(m.at)), input.subarray(at(m.at) + m.length)]);
    case 'lineEndings': {
      let i = 0;
      // latin1 keeps every byte as one character, so invalid UTF-8 from earlier mutations survives.
      return Buffer.from(input.toString('latin1').replace(/\r\n|\n|\r/g, () => m.choices[i++ % m.choices.length] as string), 'latin1');
    }
    case 'prefix':
      return Buffer.concat([Buffer.from(m.bytes), input]);
    case 'huge': {
      const target = (m.of === 'cell' ? limits.maxCellBytes : limits.maxRowBytes) + m.extra;
      const unit = Buffer.from(m.unit, 'utf8');
      const blob = Buffer.concat([Buffer.from(m.quote), Buffer.alloc(Math.max(1, Math.ceil(target / unit.length)) * unit.length, unit)]);
      return Buffer.concat([input.subarray(0, at(m.at)), blob, input.subarray(at(m.at))]);
    }
    case 'header': {
      const text = input.toString('latin1');
      const end = text.search(/\r|\n/);
      const header = end === -1 ? text : text.slice(0, end);
      const cells = header.split(',');
      const n = cells.length;
      for (const [a, b] of m.swaps) {
        const x = cells[a % n] as string;
        cells[a % n] = cells[b % n] as string;
        cells[b % n] = x;
      }
      if (m.rename !== null) cells[m.rename[0] % n] = Buffer.from(m.rename[1], 'utf8').toString('latin1');
      if (m.duplicate !== null) cells.push(cells[m.duplicate % n] as string);
      if (m.remove !== null && cells.length > 1) cells.splice(m.remove % cells.length, 1);
      return Buffer.from(cells.join(',') + (end === -1 ? '' : text.slice(end)), 'latin1');
    }
  }
}

// --- the invariants ----------------------------------------------------------------------------------

/** Every string of a person is trimmed and non-empty: "optional fields are absent (never empty strings)". */
function expectWellFormed(person: IntentPerson): void {
  expect(person.key).toMatch(/^[0-9a-f]{64}$/);
  if (person.hashedEmail !== undefined) expect(person.hashedEmail).toMatch(/^[0-9a-f]{64}$/);
  expect(Number.isInteger(person.score) && person.score >= 1 && person.score <= 100).toBe(true);
  for (const e of person.emails) expect(e.address).toBe(e.address.trim().toLowerCase());
  const { firstName, lastName, fullName, jobTitle, headline, seniority, department, phone, linkedinUrl } = person;
  const texts = [firstName, lastName, fullName, jobTitle, headline, seniority, department, phone, linkedinUrl, person.company.name, person.company.domain, person.company.industry, ...person.topics, ...Object.values(person.extra)].filter(
    (t): t is string => t !== undefined,
  );
  for (const text of texts) {
    expect(text).not.toBe('');
    expect(text).toBe(text.trim());
  }
}

/** The properties every outcome must have, whatever the input. */
function expectAccountedFor(outcome: IngestOutcome, input: Buffer, identities: readonly string[]): void {
  for (const message of messagesOf(outcome)) for (const identity of [...identities, HEADER_EMAIL]) expect(message.toLowerCase()).not.toContain(identity);
  if (!outcome.ok) {
    // Only a documented file-level error, and before any event.
    if (!(outcome.error instanceof FixInputFileError)) throw outcome.error;
    expect(isSyncError(outcome.error) && (FILE_LEVEL_CODES as readonly string[]).includes(outcome.error.code)).toBe(true);
    expect(DOCUMENTED_ERROR_CODES.has(outcome.error.code)).toBe(true);
    expect(outcome.eventsBefore).toBe(0);
    return;
  }
  const { counts, people, quarantined, warnings, order } = outcome;
  expect(counts.rows).toBe(counts.valid + counts.quarantined);
  expect(counts.people).toBe(counts.valid - counts.duplicates);
  expect(quarantined.length).toBe(counts.quarantined);
  expect(people.length).toBe(counts.people);
  expect(warnings.length).toBe(counts.warnings);
  // Every valid row is in exactly one person.
  expect(people.reduce((n, p) => n + p.rows, 0)).toBe(counts.valid);
  for (const q of quarantined) expect(DOCUMENTED_QUARANTINE_CODES.has(q.code)).toBe(true);
  // Quarantined rows and warnings as soon as found, people once the whole file has been read.
  const firstPerson = order.indexOf('person');
  if (firstPerson !== -1) expect(order.slice(firstPerson).every((kind) => kind === 'person')).toBe(true);
  // Rows are reported on distinct lines of the file, after the header, in file order.
  const lastLine = 1 + [...input].filter((b) => b === 0x0a || b === 0x0d).length;
  const lines = [...quarantined.map((q) => q.line), ...people.map((p) => p.line)];
  expect(new Set(lines).size).toBe(lines.length);
  for (const line of lines) expect(line >= 2 && line <= lastLine).toBe(true);
  quarantined.forEach((q, i) => i > 0 && expect(q.line).toBeGreaterThan((quarantined[i - 1] as { line: number }).line));
  people.forEach(expectWellFormed);
}

/** Outcome of each row by the line it starts on: a person (as canonical JSON) or a quarantine code. */
function byLine(outcome: Extract<IngestOutcome, { ok: true }>): Map<number, string> {
  const map = new Map<number, string>();
  for (const q of outcome.quarantined) map.set(q.line, q.code);
  for (const p of outcome.people) map.set(p.line, canonicalJson(p));
  return map;
}

describe('hostile input: ingest throws only documented file-level errors, and accounts for every row', () => {
  it('random bytes, CSV-like noise, and valid exports broken in every way', async () => {
    const noiseArb = fc.string({
      unit: fc.constantFrom('a', '1', '85', ',', '"', '""', '\r', '\n', '\r\n', ' ', '\u0000', '\uFEFF', '\uFFFD', 'é', '😀', '{', '<', '[', 'x@y.com', 'f'.repeat(64)),
      maxLength: 300,
    });
    const inputArb = fc.oneof(
      { arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => ({ bytes: Buffer.from(bytes), identities: [] as string[] })), weight: 1 },
      {
        arbitrary: fc
          .tuple(fc.constantFrom('', 'email,intent.score\n', `${EXPORT_CSV_COLUMNS.join(',')}\r\n`, 'hashedEmail,score,topics\r'), noiseArb)
          .map(([header, body]) => ({ bytes: Buffer.from(header + body, 'utf8'), identities: [] as string[] })),
        weight: 1,
      },
      {
        arbitrary: fc.record({ base: exportArb({ malformed: true, duplicates: true }), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }), limits: limitsArb }).map(({ base, mutations, limits }) => ({
          bytes: mutations.reduce<Buffer>((bytes, m) => mutate(bytes, m, limits), Buffer.from(base.lines.join(''), 'utf8')),
          identities: base.identities,
          limits,
        })),
        weight: 4,
      },
      {
        // A header cell that is a person's email or hash (a data row taken for the header), with every mutation.
        arbitrary: fc
          .record({ base: exportArb({ malformed: true, duplicates: true }), column: fc.nat(EXPORT_CSV_COLUMNS.length - 1), which: fc.nat(), mutations: fc.array(mutationArb, { maxLength: 3 }), limits: limitsArb })
          .map(({ base, column, which, mutations, limits }) => {
            const header = [...EXPORT_CSV_COLUMNS] as string[];
            header[column] = base.identities[which % Math.max(1, base.identities.length)] ?? HEADER_EMAIL;
            const text = [header.join(',') + (base.lines[0]?.endsWith('\r\n') ? '\r\n' : '\n'), ...base.lines.slice(1)].join('');
            return { bytes: mutations.reduce<Buffer>((bytes, m) => mutate(bytes, m, limits), Buffer.from(text, 'utf8')), identities: base.identities, limits };
          }),
        weight: 2,
      },
    );
    await fc.assert(
      fc.asyncProperty(inputArb, chunkSizesArb, limitsArb, async (input, chunkSizes, limits) => {
        const outcome = await runIngest(input.bytes, { chunkSizes, ingest: 'limits' in input ? input.limits : limits });
        expectAccountedFor(outcome, input.bytes, input.identities);
      }),
      { numRuns: 400, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);

  it('a truncated export: every row before the cut comes out as it does from the whole file, and the cut row is accounted for', async () => {
    const inputArb = fc.record({ base: exportArb({ malformed: true, duplicates: false }), cut: fc.nat(), chunkSizes: chunkSizesArb });
    await fc.assert(
      fc.asyncProperty(inputArb, async ({ base, cut: rawCut, chunkSizes }) => {
        const bytes = Buffer.from(base.lines.join(''), 'utf8');
        const cut = rawCut % (bytes.length + 1);
        const whole = await runIngest(bytes);
        const truncated = await runIngest(bytes.subarray(0, cut), { chunkSizes });
        expectAccountedFor(truncated, bytes.subarray(0, cut), base.identities);
        if (!whole.ok) throw new Error(`the whole export failed: ${String(whole.error)}`);

        const headerEnd = Buffer.byteLength(base.lines[0] as string, 'utf8');
        if (cut < headerEnd) {
          // Only the header is (partly) there: a file-level error, or a header with no rows.
          if (truncated.ok) expect(truncated.counts.rows).toBe(0);
          return;
        }
        if (!truncated.ok) throw new Error(`a cut after the header failed the file: ${String(truncated.error)}`);
        const starts = rowStartLines(base.lines);
        let offset = headerEnd;
        let intact = 0;
        let cutRow = false;
        base.lines.slice(1).forEach((line) => {
          const end = offset + Buffer.byteLength(line, 'utf8');
          if (end <= cut) intact += 1;
          // A cut row is a row unless what is left of it is whitespace alone: parse-csv.ts documents "a line
          // of spaces is a blank line, not a row" (counterexample: a cut one byte into a row starting " …").
          else if (offset < cut && bytes.subarray(offset, cut).toString('utf8').trim() !== '') cutRow = true;
          offset = end;
        });
        expect(truncated.counts.rows).toBe(intact + (cutRow ? 1 : 0));
        const before = byLine(whole);
        const after = byLine(truncated);
        for (const line of starts.slice(0, intact)) {
          const person = truncated.people.find((p) => p.line === line);
          // The cut row can merge into an earlier person if its truncated email matches theirs; the rest is equal.
          if (person !== undefined && person.rows > 1) continue;
          expect(after.get(line)).toBe(before.get(line));
        }
      }),
      { numRuns: 150, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);

  it('an oversized cell or row quarantines that row only (CELL_TOO_LARGE / ROW_TOO_LARGE, by the documented limits)', async () => {
    const inputArb = fc.record({
      base: exportArb({ malformed: false, duplicates: false }).filter((e) => e.rows.length > 0),
      row: fc.nat(),
      column: fc.nat(EXPORT_CSV_COLUMNS.length - 1),
      // Sizes around both limits, where off-by-one errors live.
      of: fc.constantFrom<'cell' | 'row'>('cell', 'row'),
      delta: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -200, max: 400 })),
      unit: fc.constantFrom('x', 'é', '😀'),
      limits: limitsArb,
      chunkSizes: chunkSizesArb,
    });
    await fc.assert(
      fc.asyncProperty(inputArb, async ({ base, row: rawRow, column, of, delta, unit, limits, chunkSizes }) => {
        const k = rawRow % base.rows.length;
        const eol = (base.lines[0] as string).endsWith('\r\n') ? '\r\n' : '\n';
        const cells = rowCells(base.rows[k] as GeneratedRow);
        const old = cells[column] as string;
        const others = Buffer.byteLength(cells.join(','), 'utf8') - Buffer.byteLength(old, 'utf8');
        // The value of the chosen cell, grown so that the cell or the whole row lands at limit + delta bytes.
        const unquote = (c: string): string => (c.startsWith('"') ? c.slice(1, -1).replace(/""/g, '"') : c);
        const oldValue = unquote(old);
        const quoted = old.length - oldValue.length; // the quotes around the cell and the doubled quotes in it (ASCII)
        const target = of === 'cell' ? limits.maxCellBytes + delta : limits.maxRowBytes + delta - others - quoted;
        const unitBytes = Buffer.byteLength(unit, 'utf8');
        const grow = Math.max(0, Math.floor((target - Buffer.byteLength(oldValue, 'utf8')) / unitBytes));
        const value = oldValue + unit.repeat(grow);
        cells[column] = old.startsWith('"') ? `"${value.replace(/"/g, '""')}"` : value;
        const rowText = cells.join(',');
        const lines = [...base.lines];
        lines[k + 1] = rowText + eol;

        const whole = await runIngest(Buffer.from(base.lines.join(''), 'utf8'), { ingest: limits });
        const changed = await runIngest(Buffer.from(lines.join(''), 'utf8'), { chunkSizes, ingest: limits });
        expectAccountedFor(changed, Buffer.from(lines.join(''), 'utf8'), base.identities);
        if (!whole.ok || !changed.ok) throw new Error('a valid export failed as a file');

        // docs/errors.md: ROW_TOO_LARGE "the row is longer than ingest.maxRowBytes"; CELL_TOO_LARGE "a cell is longer than ingest.maxCellBytes".
        const line = rowStartLines(lines)[k] as number;
        const rowBytes = Buffer.byteLength(rowText, 'utf8');
        // The first cell over the limit is the one reported (another cell of the row may be over it already).
        const tooLarge = cells.findIndex((c) => Buffer.byteLength(unquote(c), 'utf8') > limits.maxCellBytes);
        const before = byLine(whole);
        const after = byLine(changed);
        if (rowBytes > limits.maxRowBytes) expect(changed.quarantined.find((q) => q.line === line)).toMatchObject({ code: 'ROW_TOO_LARGE', field: null });
        else if (tooLarge !== -1) {
          expect(changed.quarantined.find((q) => q.line === line)).toMatchObject({ code: 'CELL_TOO_LARGE', field: EXPORT_CSV_COLUMNS[tooLarge] });
        } else {
          // Within both limits: the row is read (its outcome may change with its value, but it is not set aside for size).
          const q = changed.quarantined.find((r) => r.line === line);
          expect(q === undefined || (q.code !== 'ROW_TOO_LARGE' && q.code !== 'CELL_TOO_LARGE')).toBe(true);
        }
        for (const [l, outcome] of before) if (l !== line) expect(after.get(l)).toBe(outcome);
        expect(changed.counts.rows).toBe(whole.counts.rows);
      }),
      { numRuns: 150, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);
});
