/**
 * Round trip: any person the sandbox generator (or the export writer) can be given survives
 * export → CSV → ingest, unchanged up to the documented normalization (spelled out in ./helpers.ts).
 *
 * Budget: 60 + 150 + 40 runs of at most 60 rows each; about 2 s on a 2-core machine. Every run must
 * end within 10 s and each property, shrinking included, within 20 s (helpers.ts, RUN_LIMITS). No fixed
 * seed: fast-check prints the seed and path of a failure, and `fc.assert(…, { seed, path })` replays it.
 */
import fc from 'fast-check';
import { EXPORT_CSV_COLUMNS, exportCsvChunks, exportCsvLines, rowCells, type ExportCsvOptions } from '../../src/sandbox/export-csv';
import { generatePeople, type GeneratedRow, type MalformedDefect, type TopicsFormat } from '../../src/sandbox/generate-people';
import { normalizeHeaderName } from '../../src/ingest/resolve-header';
import { CANONICAL_FIELDS, type IntentPerson, type PersonEmail, type QuarantineCode } from '../../src/ingest/types';
import { csvCell } from '../../src/lib/csv-cell';
import {
  canonicalJson,
  config,
  delimitedTopicNameArb,
  expectedRow,
  generatedExpectation,
  ingestOk,
  personSpecArb,
  rowStartLines,
  RUN_LIMITS,
  TEST_TIMEOUT_MS,
  textArb,
  topicNameArb,
  topicsOf,
  type PersonSpec,
} from './helpers';

const chunkSizesArb = fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 6 });
const lineEndingArb = fc.constantFrom<NonNullable<ExportCsvOptions['lineEnding']>>('lf', 'crlf');

/** How each defect the generator makes on purpose must be quarantined. */
const DEFECT_QUARANTINE: Record<MalformedDefect, { code: QuarantineCode; field: string | null }> = {
  'score-not-a-number': { code: 'INVALID_SCORE', field: 'intent.score' },
  'score-zero': { code: 'INVALID_SCORE', field: 'intent.score' },
  'score-over-100': { code: 'INVALID_SCORE', field: 'intent.score' },
  'score-empty': { code: 'INVALID_SCORE', field: 'intent.score' },
  'hash-invalid-no-email': { code: 'INVALID_HASH', field: 'hashedEmail' },
  'no-identity': { code: 'NO_IDENTITY', field: null },
  ragged: { code: 'COLUMN_COUNT', field: null },
};

/** Normalized names taken by a canonical field or an alias (config/columns.json), and the export's own extra column. */
const TAKEN_NAMES: ReadonlySet<string> = new Set(
  [...CANONICAL_FIELDS, ...Object.values(config.columns).flat(), 'intent.topicOverlap'].map((name) => normalizeHeaderName(name)),
);
/**
 * The header of an unknown column: any text a header cell can hold (a header with NUL bytes or U+FFFD
 * is documented as "not CSV"), including names an object's prototype has, unique once normalized.
 */
const extraHeaderArb = fc
  .oneof(textArb, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'City', 'Employee Count', 'notes'))
  .filter((h) => h.trim() !== '' && !h.includes('\u0000') && !h.includes('\uFFFD') && !TAKEN_NAMES.has(normalizeHeaderName(h.trim())));

const KIND_ORDER: Record<PersonEmail['kind'], number> = { primary: 0, business: 1, personal: 2, other: 3 };
const SCALARS = ['hashedEmail', 'firstName', 'lastName', 'fullName', 'jobTitle', 'headline', 'seniority', 'department', 'phone', 'linkedinUrl'] as const;

function withoutPosition(p: IntentPerson): string {
  const { line: _line, rows: _rows, ...content } = p;
  return canonicalJson(content);
}

/**
 * The documented merge (merge-people.ts) of one person's rows: the highest score; each field from the
 * best-ranked row that has it (rank: score, highest first); topics of the best row first, then the
 * others' by rank, deduplicated ignoring case; emails by kind, then rank; the first line; rows summed.
 * Rows with equal scores are ordered by a digest of their content, which a model cannot predict: then
 * `ambiguous` is set and the order-dependent parts are compared as sets.
 */
function mergeModel(rows: readonly IntentPerson[]): { person: IntentPerson; ambiguous: boolean } {
  const ranked = [...rows].sort((a, b) => b.score - a.score);
  const ambiguous = ranked.some((a, i) => ranked.some((b, j) => i < j && a.score === b.score && withoutPosition(a) !== withoutPosition(b)));
  const best = ranked[0] as IntentPerson;
  const topics: string[] = [];
  for (const row of ranked) for (const t of row.topics) if (!topics.some((s) => s.toLowerCase() === t.toLowerCase())) topics.push(t);
  const emails = new Map<string, { email: PersonEmail; rank: number; pos: number }>();
  ranked.forEach((row, rank) =>
    row.emails.forEach((email, pos) => {
      const current = emails.get(email.address);
      if (current === undefined || KIND_ORDER[email.kind] < KIND_ORDER[current.email.kind]) emails.set(email.address, { email, rank, pos });
    }),
  );
  const person: IntentPerson = {
    key: best.key,
    emails: [...emails.values()].sort((a, b) => KIND_ORDER[a.email.kind] - KIND_ORDER[b.email.kind] || a.rank - b.rank || a.pos - b.pos).map((e) => e.email),
    company: {},
    score: best.score,
    topics,
    extra: {},
    line: Math.min(...rows.map((r) => r.line)),
    rows: rows.reduce((n, r) => n + r.rows, 0),
  };
  for (const field of SCALARS) {
    const value = ranked.find((r) => r[field] !== undefined)?.[field];
    if (value !== undefined) person[field] = value;
  }
  for (const field of ['name', 'domain', 'industry'] as const) {
    const value = ranked.find((r) => r.company[field] !== undefined)?.company[field];
    if (value !== undefined) person.company[field] = value;
  }
  for (const column of [...new Set(rows.flatMap((r) => Object.keys(r.extra)))].sort()) {
    const value = ranked.find((r) => r.extra[column] !== undefined)?.extra[column];
    if (value !== undefined) person.extra[column] = value;
  }
  return { person, ambiguous };
}

/** The parts of a merged person that do not depend on how rows with equal scores are ordered. */
function orderFree(p: IntentPerson): unknown {
  return { ...p, topics: [...p.topics].sort(), emails: [...p.emails].sort((a, b) => (a.address < b.address ? -1 : 1)), extra: Object.keys(p.extra).sort() };
}

function exportText(rows: readonly GeneratedRow[], options: ExportCsvOptions): { lines: string[]; bytes: Buffer } {
  const lines = [...exportCsvLines(rows, options)];
  return { lines, bytes: Buffer.from(lines.join(''), 'utf8') };
}

describe('round trip: export → CSV → ingest', () => {
  it('every row of the sandbox generator comes back: people merged by hashedEmail, malformed rows quarantined with their defect', async () => {
    const topicsArb = (format: TopicsFormat): fc.Arbitrary<readonly string[] | null> =>
      fc.option(fc.uniqueArray(format === 'json' ? topicNameArb : delimitedTopicNameArb, { minLength: 1, maxLength: 6 }), { nil: null, freq: 2 });
    const optionsArb = fc.constantFrom<TopicsFormat>('json', 'delimited').chain((topicsFormat) =>
      fc.record({
        seed: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.string({ maxLength: 8 })),
        count: fc.integer({ min: 0, max: 60 }),
        start: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_000_000 })),
        duplicateShare: fc.double({ min: 0, max: 0.6, noNaN: true }),
        malformedShare: fc.double({ min: 0, max: 0.4, noNaN: true }),
        topics: topicsArb(topicsFormat),
        topicsFormat: fc.constant(topicsFormat),
        lineEnding: lineEndingArb,
        chunkSizes: chunkSizesArb,
      }),
    );
    await fc.assert(
      fc.asyncProperty(optionsArb, async ({ topics, chunkSizes, ...options }) => {
        const rows = [...generatePeople({ ...options, ...(topics !== null && { topics: topicsOf(topics, [117805]) }) })];
        const { lines, bytes } = exportText(rows, options);
        // The streamed export is the same bytes as the line-by-line one.
        expect(Buffer.concat([...exportCsvChunks(rows, options)]).equals(bytes)).toBe(true);
        const starts = rowStartLines(lines);

        const quarantines: Array<{ line: number; code: QuarantineCode; field: string | null }> = [];
        const byKey = new Map<string, IntentPerson[]>();
        rows.forEach((row, i) => {
          const line = starts[i] as number;
          if (row.kind === 'malformed') {
            quarantines.push({ line, ...DEFECT_QUARANTINE[row.defect] });
            return;
          }
          const result = expectedRow({ row: row.person, expect: generatedExpectation(row.person) }, line);
          if (!result.ok) throw new Error(`the generator made an invalid person on line ${line}: ${result.quarantined.code}`);
          byKey.set(result.person.key, [...(byKey.get(result.person.key) ?? []), result.person]);
        });

        const out = await ingestOk(bytes, { chunkSizes });
        expect(out.quarantined.map(({ line, code, field }) => ({ line, code, field }))).toEqual(quarantines);
        expect(out.warnings).toEqual([]);
        const people = [...out.people].sort((a, b) => a.line - b.line);
        const expected = [...byKey.values()].map(mergeModel).sort((a, b) => a.person.line - b.person.line);
        expect(people.length).toBe(expected.length);
        people.forEach((person, i) => {
          const model = expected[i] as { person: IntentPerson; ambiguous: boolean };
          if (model.ambiguous) expect(orderFree(person)).toEqual(orderFree(model.person));
          else expect(person).toEqual(model.person);
        });
        const valid = rows.length - quarantines.length;
        expect(out.counts).toEqual({ rows: rows.length, valid, quarantined: quarantines.length, duplicates: valid - byKey.size, people: byKey.size, warnings: 0 });
      }),
      { numRuns: 60, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);

  it('any person written through the export writer comes back as written (after normalization), or quarantined as the model says', async () => {
    const inputArb = fc.constantFrom<TopicsFormat>('json', 'delimited').chain((topicsFormat) =>
      fc.record({
        specs: fc.array(personSpecArb(topicsFormat), { maxLength: 20 }),
        extraHeaders: fc.uniqueArray(extraHeaderArb, { selector: (h) => normalizeHeaderName(h.trim()), maxLength: 3 }),
        extraValues: fc.array(fc.array(fc.option(textArb, { nil: '' }), { minLength: 3, maxLength: 3 }), { minLength: 20, maxLength: 20 }),
        topicsFormat: fc.constant(topicsFormat),
        lineEnding: lineEndingArb,
        chunkSizes: chunkSizesArb,
      }),
    );
    await fc.assert(
      fc.asyncProperty(inputArb, async ({ specs, chunkSizes, extraHeaders, extraValues, ...options }) => {
        // One row per person: merging is the dedupe property's business (dedupe-order.test.ts).
        const seen = new Set<string>();
        const unique: PersonSpec[] = specs.filter((spec) => {
          const result = expectedRow(spec, 0);
          if (!result.ok) return true;
          if (seen.has(result.person.key)) return false;
          seen.add(result.person.key);
          return true;
        });
        const rows: GeneratedRow[] = unique.map((spec, index) => ({ kind: 'person', index, person: spec.row, duplicateOf: null }));
        // Unknown columns appended to the export: kept in `extra` by their header text (trimmed), non-empty values only.
        const eol = options.lineEnding === 'crlf' ? '\r\n' : '\n';
        const lines = exportText(rows, options).lines.map((line, i) => {
          const cells = i === 0 ? extraHeaders : extraHeaders.map((_h, j) => extraValues[i - 1]?.[j] ?? '');
          return line.slice(0, -eol.length) + cells.map((c) => `,${csvCell(c)}`).join('') + eol;
        });
        const bytes = Buffer.from(lines.join(''), 'utf8');
        const starts = rowStartLines(lines);
        const results = unique.map((spec, i) => {
          const result = expectedRow(spec, starts[i] as number);
          if (result.ok) {
            extraHeaders.forEach((header, j) => {
              const value = (extraValues[i]?.[j] ?? '').trim();
              // defineProperty, not `=`: an own property even for the header "__proto__".
              if (value !== '') Object.defineProperty(result.person.extra, header.trim(), { value, enumerable: true, writable: true, configurable: true });
            });
          }
          return result;
        });

        const out = await ingestOk(bytes, { chunkSizes });
        expect([...out.people].sort((a, b) => a.line - b.line)).toEqual(results.flatMap((r) => (r.ok ? [r.person] : [])));
        expect(out.quarantined.map(({ line, code, field }) => ({ line, code, field }))).toEqual(results.flatMap((r) => (r.ok ? [] : [r.quarantined])));
        const byLineAndField = (a: { line: number; field: string }, b: { line: number; field: string }): number => a.line - b.line || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0);
        expect(out.warnings.map(({ line, field }) => ({ line, field })).sort(byLineAndField)).toEqual(results.flatMap((r) => (r.ok ? r.warnings : [])).sort(byLineAndField));
      }),
      { numRuns: 150, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);

  it('columns are matched by name, never by position: permuting whole columns yields the same people', async () => {
    const inputArb = fc.record({
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      count: fc.integer({ min: 1, max: 40 }),
      duplicateShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
      order: fc.shuffledSubarray(EXPORT_CSV_COLUMNS.map((_c, i) => i), { minLength: EXPORT_CSV_COLUMNS.length }),
      topicsFormat: fc.constantFrom<TopicsFormat>('json', 'delimited'),
      lineEnding: lineEndingArb,
    });
    await fc.assert(
      fc.asyncProperty(inputArb, async ({ order, ...options }) => {
        const rows = [...generatePeople(options)];
        const eol = options.lineEnding === 'crlf' ? '\r\n' : '\n';
        const permuted = [order.map((i) => EXPORT_CSV_COLUMNS[i]).join(','), ...rows.map((row) => order.map((i) => rowCells(row, options.topicsFormat)[i]).join(','))]
          .map((line) => line + eol)
          .join('');
        const original = await ingestOk(exportText(rows, options).bytes);
        const shuffled = await ingestOk(Buffer.from(permuted, 'utf8'));
        const canonical = (people: IntentPerson[]): string[] => people.map(canonicalJson).sort();
        expect(canonical(shuffled.people)).toEqual(canonical(original.people));
        expect(shuffled.counts).toEqual(original.counts);
      }),
      { numRuns: 40, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);
});
