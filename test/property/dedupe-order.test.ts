/**
 * Dedupe is order-independent: a re-sorted export syncs the same way (merge-people.ts: "a result that
 * does not depend on the order the rows came in"). Shuffling the rows of an export, with duplicate
 * people, people sharing emails and rows that tie on score, yields the same people: the same merged
 * fields, emails, hashes and keys, compared as sorted canonical JSON. The one field that legitimately
 * moves is `line`, documented as "the line number (in the file) of the first row of this person": it
 * is checked to be that, in each file.
 *
 * Budget: 80 + 150 runs of two ingests of at most 60 rows; about 2 s on a 2-core machine. Every run
 * must end within 10 s and each property, shrinking included, within 20 s (helpers.ts, RUN_LIMITS). No
 * fixed seed: fast-check prints the seed and path of a failure, and `fc.assert(…, { seed, path })`
 * replays it.
 */
import fc from 'fast-check';
import type { IntentPerson } from '../../src/ingest/types';
import { exportCsvLines } from '../../src/sandbox/export-csv';
import { generatePeople, type GeneratedRow, type LeadpipeResultRow, type TopicsFormat } from '../../src/sandbox/generate-people';
import { canonicalJson, expectedRow, generatedExpectation, ingestOk, rowStartLines, RUN_LIMITS, sha256, TEST_TIMEOUT_MS, topicsOf, type IngestOutcome, type PersonSpec } from './helpers';

type Ingested = Extract<IngestOutcome, { ok: true }>;

/** The people of an ingest without their position in the file, in a canonical order. */
function content(out: Ingested): string[] {
  return out.people.map(({ line: _line, ...rest }) => canonicalJson(rest)).sort();
}

/** What a reordering must not change: the people, the counts, and the quarantine codes and warnings (by kind). */
function expectSameResult(a: Ingested, b: Ingested): void {
  expect(content(b)).toEqual(content(a));
  expect(b.counts).toEqual(a.counts);
  expect(b.quarantined.map((q) => q.code).sort()).toEqual(a.quarantined.map((q) => q.code).sort());
  expect(b.warnings.map((w) => `${w.field}: ${w.reason}`).sort()).toEqual(a.warnings.map((w) => `${w.field}: ${w.reason}`).sort());
}

/** Each person's `line` is the smallest start line of the rows with its key, in that file. */
function expectFirstLines(out: Ingested, rows: readonly GeneratedRow[], lines: readonly string[], keyOf: (row: GeneratedRow) => string | undefined): void {
  const starts = rowStartLines(lines);
  const first = new Map<string, number>();
  rows.forEach((row, i) => {
    const key = keyOf(row);
    if (key !== undefined && !first.has(key)) first.set(key, starts[i] as number);
  });
  expect(new Map(out.people.map((p) => [p.key, p.line]))).toEqual(first);
}

async function ingestRows(rows: readonly GeneratedRow[], topicsFormat: TopicsFormat): Promise<{ out: Ingested; lines: string[] }> {
  const lines = [...exportCsvLines(rows, { topicsFormat })];
  return { out: await ingestOk(Buffer.from(lines.join(''), 'utf8'), { chunkSizes: [997] }), lines };
}

function permute<T>(items: readonly T[], order: readonly number[]): T[] {
  return order.map((i) => items[i] as T);
}

const orderOf = (n: number): fc.Arbitrary<number[]> => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });

describe('dedupe: shuffling the rows of an export yields the same people', () => {
  it('sandbox exports with many duplicates (same hashedEmail, emails in other cases, other scores and topics)', async () => {
    const inputArb = fc
      .record({
        seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        count: fc.integer({ min: 2, max: 60 }),
        duplicateShare: fc.double({ min: 0.2, max: 0.8, noNaN: true }),
        malformedShare: fc.double({ min: 0, max: 0.2, noNaN: true }),
        topicsFormat: fc.constantFrom<TopicsFormat>('json', 'delimited'),
      })
      .chain((options) => fc.record({ options: fc.constant(options), order: orderOf(options.count) }));
    await fc.assert(
      fc.asyncProperty(inputArb, async ({ options, order }) => {
        const rows = [...generatePeople(options)];
        const keyOf = (row: GeneratedRow): string | undefined => (row.kind === 'person' ? row.person.hashedEmail : undefined);
        const original = await ingestRows(rows, options.topicsFormat);
        const shuffled = await ingestRows(permute(rows, order), options.topicsFormat);
        expectSameResult(original.out, shuffled.out);
        expectFirstLines(original.out, rows, original.lines, keyOf);
        expectFirstLines(shuffled.out, permute(rows, order), shuffled.lines, keyOf);
      }),
      { numRuns: 80, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);

  /**
   * Rows drawn from a few identities that share email addresses, each row with its own mix of values
   * from small pools, so rows of one person conflict on every field and tie on score; some rows are
   * exact copies of others.
   */
  it('rows of people who share emails, conflict on every field and tie on score', async () => {
    const addresses = ['mary@contoso.com', 'mary.major@gmail.com', 'm.major@outlook.com', 'tom@fabrikam.io'];
    const identityArb = fc.record({
      hash: fc.option(fc.constantFrom(sha256('mary@contoso.com'), 'a'.repeat(64), 'B'.repeat(64)), { nil: '' }),
      emails: fc.uniqueArray(fc.constantFrom(...addresses), { minLength: 1, maxLength: 3 }),
    });
    const pick = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
    const rowArb = (identities: number): fc.Arbitrary<{ identity: number; row: Omit<LeadpipeResultRow, 'hashedEmail' | 'primaryContactEmail' | 'businessEmail' | 'personalEmail' | 'email'>; columns: number[]; upper: boolean }> =>
      fc.record({
        identity: fc.nat(identities - 1),
        columns: fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 4, maxLength: 4 }),
        upper: fc.boolean(),
        row: fc.record({
          firstName: pick(null, 'mary', 'MARY', 'Mary', 'tom'),
          lastName: pick(null, 'major', 'Major-Smith'),
          fullName: pick(null, 'mary major'),
          jobTitle: pick(null, 'cmo', 'CMO', 'vp marketing'),
          headline: pick(null, 'growth'),
          seniority: pick(null, 'vp', 'c_suite'),
          department: pick(null, 'marketing', 'sales'),
          phone: pick(null, '+14155550100', '(206) 555-0100'),
          linkedinUrl: pick(null, 'https://www.linkedin.com/in/mary'),
          company: fc.record({ name: pick(null, 'contoso', 'Contoso Ltd'), domain: pick(null, 'contoso.com', 'https://www.Contoso.com/', 'gmail.com'), industry: pick(null, 'software') }),
          intent: fc.record({
            score: pick(40, 60, 60, 85, 100),
            topicOverlap: fc.nat(3),
            matchedTopics: fc.shuffledSubarray(['CRM', 'crm', 'ABM', 'Intent Data', 'intent data', 'Data'], { maxLength: 4 }).map((names) => topicsOf(names, [7])),
          }),
        }),
      });
    const inputArb = fc
      .record({ identities: fc.array(identityArb, { minLength: 1, maxLength: 4 }), copies: fc.array(fc.nat(), { maxLength: 5 }) })
      .chain(({ identities, copies }) =>
        fc.record({
          identities: fc.constant(identities),
          copies: fc.constant(copies),
          rows: fc.array(rowArb(identities.length), { minLength: 1, maxLength: 30 }),
          topicsFormat: fc.constantFrom<TopicsFormat>('json', 'delimited'),
        }),
      )
      .chain((input) => fc.record({ input: fc.constant(input), order: orderOf(input.rows.length + input.copies.length) }));

    await fc.assert(
      fc.asyncProperty(inputArb, async ({ input, order }) => {
        const people: LeadpipeResultRow[] = input.rows.map(({ identity, row, columns, upper }) => {
          const id = input.identities[identity] as { hash: string; emails: string[] };
          const column = (i: number): string | null => {
            const pickAt = columns[i] ?? -1;
            const address = pickAt < 0 ? undefined : id.emails[pickAt % id.emails.length];
            return address === undefined ? null : upper ? address.toUpperCase() : address;
          };
          return { ...row, hashedEmail: id.hash, primaryContactEmail: column(0) ?? '', businessEmail: column(1), personalEmail: column(2), email: column(3) ?? '' };
        });
        // Exact copies of earlier rows: the same person exported twice.
        for (const c of input.copies) people.push(people[c % people.length] as LeadpipeResultRow);
        const rows: GeneratedRow[] = people.map((person, index) => ({ kind: 'person', index, person, duplicateOf: null }));
        const keyOf = (row: GeneratedRow): string | undefined => {
          const spec: PersonSpec = { row: row.person as LeadpipeResultRow, expect: generatedExpectation(row.person as LeadpipeResultRow) };
          const result = expectedRow(spec, 0);
          return result.ok ? result.person.key : undefined;
        };
        const original = await ingestRows(rows, input.topicsFormat);
        const shuffled = await ingestRows(permute(rows, order), input.topicsFormat);
        expectSameResult(original.out, shuffled.out);
        expectFirstLines(original.out, rows, original.lines, keyOf);
        expectFirstLines(shuffled.out, permute(rows, order), shuffled.lines, keyOf);
        // Every valid row is in exactly one person.
        expect(original.out.people.reduce((n, p: IntentPerson) => n + p.rows, 0)).toBe(original.out.counts.valid);
      }),
      { numRuns: 150, plugins: RUN_LIMITS },
    );
  }, TEST_TIMEOUT_MS);
});
