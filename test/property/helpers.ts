/**
 * Shared pieces of the property-based tests (test/property/*.test.ts): running an ingest over bytes cut
 * into arbitrary chunks, the fast-check arbitraries for people and cells, and a model of what ingest must
 * yield for a row, written from the documented rules (src/ingest/normalize-person.ts and the modules it
 * names), not from the code: it is the oracle the round-trip, dedupe and hostile-input properties use.
 *
 * The normalization the model expects, field by field (this is what "unchanged" means in a round trip):
 *
 * - every cell is trimmed (String.prototype.trim: Unicode white space and the BOM); a blank cell is absent;
 * - `hashedEmail`: 64 hex characters, lower-cased; anything else quarantines the row (INVALID_HASH);
 * - emails: trimmed and lower-cased; an invalid one is dropped with a warning for its column; the list
 *   keeps the first column an address appears in (primary, business, personal, email) and
 *   `sha256 = sha256(address)`;
 * - key: the hash, else the sha256 of the first valid email; neither → quarantined (NO_IDENTITY);
 * - names (first, last, full): a value all in lower or all in upper case is title-cased (first letter of
 *   each word upper-cased, words split at space, tab, - ' ’ ‘ . ( /); a mixed-case value is kept;
 * - phone: `+` and 8–15 digits (first not 0), separators dropped → `+digits`; a North American number
 *   (10 digits, area code 2–9, or 11 starting with 1) → `+1…`; anything else kept as written (trimmed);
 * - company.domain: the bare lower-case host of the cell (no scheme, `www.`, port or path) unless it is
 *   not a host name (warning, ignored) or a free-mail domain (warning, ignored); without one, the domain
 *   of the business email, then of the primary email, when not free-mail;
 * - topics: names trimmed, empty names dropped, duplicates ignoring case dropped (first spelling kept);
 * - score: the integer; `intent.topicOverlap` (not a canonical column) is kept in `extra` by its header;
 * - every other field: the trimmed text as written.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { loadConfig, type Config } from '../../src/config';
import { ingestCsv, type IngestCounts } from '../../src/ingest/ingest-csv';
import type { EmailField, IntentPerson, PersonEmail, QuarantinedRow, RowWarning } from '../../src/ingest/types';
import type { LeadpipeResultRow, LeadpipeTopic, TopicsFormat } from '../../src/sandbox/generate-people';

export const config = loadConfig({});

const FREE_MAIL: ReadonlySet<string> = new Set(config.ingest.freeMailDomains.map((d) => d.trim().toLowerCase()));

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// --- running an ingest ------------------------------------------------------------------------------

export type IngestOutcome =
  | {
      ok: true;
      people: IntentPerson[];
      quarantined: QuarantinedRow[];
      warnings: RowWarning[];
      counts: IngestCounts;
      /** Event kinds in the order they came out. */
      order: string[];
    }
  | { ok: false; error: unknown; eventsBefore: number };

/** Cuts `bytes` into chunks whose sizes cycle through `sizes` (chunk boundaries are where framing bugs hide). */
function chunksOf(bytes: Buffer, sizes: readonly number[] = [64 * 1024]): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length] ?? 1);
    parts.push(bytes.subarray(at, at + size));
    at += size;
  }
  return parts;
}

/** Ingests `bytes` (fed in chunks of `chunkSizes`), catching whatever is thrown. */
export async function runIngest(bytes: Buffer, options: { chunkSizes?: readonly number[]; ingest?: Partial<Config['ingest']> } = {}): Promise<IngestOutcome> {
  const run = ingestCsv(Readable.from(chunksOf(bytes, options.chunkSizes)), { columns: config.columns, ingest: { ...config.ingest, ...options.ingest } });
  const people: IntentPerson[] = [];
  const quarantined: QuarantinedRow[] = [];
  const warnings: RowWarning[] = [];
  const order: string[] = [];
  try {
    for await (const event of run) {
      order.push(event.kind);
      if (event.kind === 'person') people.push(event.person);
      else if (event.kind === 'quarantined') quarantined.push(event.row);
      else warnings.push(event.warning);
    }
  } catch (error) {
    return { ok: false, error, eventsBefore: order.length };
  }
  return { ok: true, people, quarantined, warnings, counts: run.counts, order };
}

/** Runs an ingest that must succeed (a file-level error here is a failed property, with its message). */
export async function ingestOk(bytes: Buffer, options: Parameters<typeof runIngest>[1] = {}): Promise<Extract<IngestOutcome, { ok: true }>> {
  const outcome = await runIngest(bytes, options);
  if (!outcome.ok) throw new Error(`ingest failed: ${String(outcome.error)}`);
  return outcome;
}

/**
 * Limits for every property: a run that takes over 10 s fails (a hang is a failure, not a stuck CI
 * job), and the whole property, shrinking included, stops after 20 s with the best counterexample
 * found so far (shrinking a failure of a big input could otherwise outlast jest's timeout and report
 * nothing). Passing properties take a few seconds: hitting the 20 s limit is reported as a failure.
 */
export const RUN_LIMITS = [fc.timeout(10_000), fc.interruptAfterTimeLimit(20_000, { failOnInterrupt: true })];
/** Jest's limit for one property test: above RUN_LIMITS, so fast-check reports first. */
export const TEST_TIMEOUT_MS = 45_000;

// --- documented codes --------------------------------------------------------------------------------

/** The codes of one table of docs/errors.md (the first column of the rows after `heading`). */
function documentedCodes(heading: string): string[] {
  const doc = readFileSync(path.resolve(__dirname, '../../docs/errors.md'), 'utf8');
  const start = doc.indexOf(heading);
  if (start === -1) throw new Error(`docs/errors.md has no "${heading}" section`);
  const next = doc.indexOf('\n## ', start + heading.length);
  const section = doc.slice(start, next === -1 ? undefined : next);
  return [...section.matchAll(/^\| `([A-Z_0-9]+)` \|/gm)].map((m) => m[1] as string);
}

/** Quarantine codes, as docs/errors.md lists them ("Quarantine codes (rows)"). */
export const DOCUMENTED_QUARANTINE_CODES: ReadonlySet<string> = new Set(documentedCodes('## Quarantine codes'));
/** Error codes, as docs/errors.md lists them ("Errors"). */
export const DOCUMENTED_ERROR_CODES: ReadonlySet<string> = new Set(documentedCodes('## Errors'));

// --- the model -----------------------------------------------------------------------------------------

const EMAIL_KIND: Record<EmailField, PersonEmail['kind']> = { primaryContactEmail: 'primary', businessEmail: 'business', personalEmail: 'personal', email: 'other' };
const EMAIL_COLUMNS: readonly EmailField[] = ['primaryContactEmail', 'businessEmail', 'personalEmail', 'email'];

/**
 * What a row's identity cells are expected to normalize to, known by construction: the arbitraries build
 * a cell from its expected value (an address, then cased and padded), or pick it from known-invalid text.
 */
export interface RowExpectation {
  /** Per email column: the address it normalizes to, null when invalid, undefined when blank. */
  emails: Record<EmailField, string | null | undefined>;
  /** The lower-case hash, 'invalid', or undefined when blank. */
  hash: string | undefined;
  /** The expected phone, or undefined when blank. */
  phone: string | undefined;
  /** The host of `company.domain`, 'invalid' when it is not a host name, undefined when blank. */
  domain: string | undefined;
}

export interface PersonSpec {
  row: LeadpipeResultRow;
  expect: RowExpectation;
}

const INVALID = 'invalid';

function trimmed(value: string | null): string | undefined {
  if (value === null) return undefined;
  const t = value.trim();
  return t === '' ? undefined : t;
}

const WORD_BREAKS: ReadonlySet<string> = new Set([' ', '\t', '-', "'", '’', '‘', '.', '(', '/']);

/** Title case as documented in title-case.ts, by code point (names in any script, astral ones too). */
function titleCaseModel(name: string): string {
  const lower = name.toLowerCase();
  if (name !== lower && name !== name.toUpperCase()) return name;
  let out = '';
  let wordStart = true;
  for (const ch of lower) {
    out += wordStart && /\p{L}/u.test(ch) ? ch.toUpperCase() : ch;
    wordStart = WORD_BREAKS.has(ch);
  }
  return out;
}

/** Topic names as ingest must give them back: trimmed, non-empty, first spelling of each (ignoring case). */
function topicsModel(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name === '' || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}

export type RowResult =
  | { ok: true; person: IntentPerson; warnings: Array<Pick<RowWarning, 'line' | 'field'>> }
  | { ok: false; quarantined: Pick<QuarantinedRow, 'line' | 'code' | 'field'> };

/** The model: what ingest must yield for one row written by the export writer, on `line`. */
export function expectedRow(spec: PersonSpec, line: number): RowResult {
  const { row, expect } = spec;
  if (expect.hash === INVALID) return { ok: false, quarantined: { line, code: 'INVALID_HASH', field: 'hashedEmail' } };
  const warnings: Array<Pick<RowWarning, 'line' | 'field'>> = [];
  const emails: PersonEmail[] = [];
  for (const column of EMAIL_COLUMNS) {
    const address = expect.emails[column];
    if (address === undefined) continue;
    if (address === null) {
      warnings.push({ line, field: column });
      continue;
    }
    if (!emails.some((e) => e.address === address)) emails.push({ address, sha256: sha256(address), kind: EMAIL_KIND[column] });
  }
  const key = expect.hash ?? emails[0]?.sha256;
  if (key === undefined) return { ok: false, quarantined: { line, code: 'NO_IDENTITY', field: null } };

  const company: IntentPerson['company'] = {};
  const name = trimmed(row.company.name);
  if (name !== undefined) company.name = name;
  let domain: string | undefined;
  if (expect.domain !== undefined) {
    if (expect.domain !== INVALID && !FREE_MAIL.has(expect.domain)) domain = expect.domain;
    else warnings.push({ line, field: 'company.domain' });
  }
  if (domain === undefined) {
    for (const address of [expect.emails.businessEmail, expect.emails.primaryContactEmail]) {
      if (typeof address !== 'string') continue;
      const host = address.slice(address.lastIndexOf('@') + 1);
      if (!FREE_MAIL.has(host)) {
        domain = host;
        break;
      }
    }
  }
  if (domain !== undefined) company.domain = domain;
  const industry = trimmed(row.company.industry);
  if (industry !== undefined) company.industry = industry;

  const person: IntentPerson = {
    key,
    emails,
    company,
    score: row.intent.score,
    topics: topicsModel(row.intent.matchedTopics.map((t) => t.topicName)),
    extra: { 'intent.topicOverlap': String(row.intent.topicOverlap) },
    line,
    rows: 1,
  };
  if (expect.hash !== undefined) person.hashedEmail = expect.hash;
  for (const field of ['firstName', 'lastName', 'fullName'] as const) {
    const value = trimmed(row[field]);
    if (value !== undefined) person[field] = titleCaseModel(value);
  }
  for (const field of ['jobTitle', 'headline', 'seniority', 'department', 'linkedinUrl'] as const) {
    const value = trimmed(row[field]);
    if (value !== undefined) person[field] = value;
  }
  if (expect.phone !== undefined) person.phone = expect.phone;
  return { ok: true, person, warnings };
}

/** The expectation for a row of the sandbox generator: its identity cells are valid by design. */
export function generatedExpectation(row: LeadpipeResultRow): RowExpectation {
  const lower = (v: string | null): string | undefined => (v === null || v.trim() === '' ? undefined : v.trim().toLowerCase());
  return {
    emails: {
      primaryContactEmail: lower(row.primaryContactEmail),
      businessEmail: lower(row.businessEmail),
      personalEmail: lower(row.personalEmail),
      email: lower(row.email),
    },
    hash: lower(row.hashedEmail),
    phone: trimmed(row.phone),
    domain: lower(row.company.domain),
  };
}

/** 1-based line on which each data row starts, given the exported lines (header first). */
export function rowStartLines(lines: readonly string[]): number[] {
  const starts: number[] = [];
  let line = 1;
  lines.forEach((text, i) => {
    if (i > 0) starts.push(line);
    for (const ch of text) if (ch === '\n') line += 1;
  });
  return starts;
}

/** JSON with object keys sorted at every level: equal people give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Every quarantine, warning and file-level message a user can read. */
export function messagesOf(outcome: IngestOutcome): string[] {
  if (!outcome.ok) return [outcome.error instanceof Error ? outcome.error.message : String(outcome.error)];
  return [...outcome.quarantined.map((q) => q.reason), ...outcome.warnings.map((w) => w.reason)];
}

// --- arbitraries -----------------------------------------------------------------------------------------

/** Characters that break naive CSV and text handling: delimiters, quotes, line breaks, NUL, BOM, odd case, emoji. */
const TRICKY = [
  ',', '"', '""', '\r', '\n', '\r\n', ' ', '\t', '\u00a0', '\uFEFF', '\u0000', '\u2028', ';', '|', '[', ']', '{', '}', '\\',
  "'", '’', '-', '.', '(', '/', 'a', 'b', 'Z', 'é', 'É', 'ß', 'İ', 'ǅ', '中', '😀', '👩‍💻', '🇨🇿',
  // cased letters outside the BMP (Adlam, Deseret): names in these scripts are title-cased too
  '𞤀', '𞤢', '𐐀', '𐐨',
];

/** Free text for a cell: any code point, or the tricky characters above, with spaces at either end at times. */
export const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom('mary-jane o\'neil', 'JOSÉ', 'van der Berg', 'McDonald', '  sherry  ', 'dvořák', 'ǆemal'),
);

const optionalTextArb: fc.Arbitrary<string | null> = fc.option(textArb, { nil: null, freq: 3 });

const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
const DIGITS = '0123456789'.split('');
const upperSome = (text: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: [...text].length, maxLength: [...text].length }).map((flags) => [...text].map((ch, i) => (flags[i] ? ch.toUpperCase() : ch)).join(''));
const pad = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom('', '', ' ', '\t', ' \u00a0'), text, fc.constantFrom('', '', ' ', '\u00a0 ')).map(([a, t, b]) => `${a}${t}${b}`);

const label: fc.Arbitrary<string> = fc
  .tuple(fc.string({ unit: fc.constantFrom(...LOWER, ...DIGITS, 'ü', 'é', '中'), minLength: 1, maxLength: 8 }), fc.boolean())
  .map(([text, hyphen]) => (hyphen && text.length > 1 ? `${text.slice(0, 1)}-${text.slice(1)}` : text))
  .filter((l) => l !== 'www');
const tld = fc.string({ unit: fc.constantFrom(...LOWER), minLength: 2, maxLength: 5 });
/** A lower-case host name that is valid by construction. */
const hostArb: fc.Arbitrary<string> = fc
  .oneof(
    { arbitrary: fc.tuple(fc.array(label, { minLength: 1, maxLength: 2 }), tld).map(([labels, top]) => [...labels, top].join('.')), weight: 4 },
    { arbitrary: fc.constantFrom(...FREE_MAIL), weight: 1 },
  );

const LOCAL_CHARS = [...LOWER, ...DIGITS, ..."!#$%&'*+/=?^_`{|}~-".split(''), 'é', 'ø', '😀'];
const localPart = fc.array(fc.string({ unit: fc.constantFrom(...LOCAL_CHARS), minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }).map((atoms) => atoms.join('.'));

/** A valid address (lower case) and the cell it is written as: some letters upper-cased, padded. */
const validEmailArb: fc.Arbitrary<{ written: string; address: string }> = fc
  .tuple(localPart, hostArb)
  .map(([local, host]) => `${local}@${host}`)
  .chain((address) => pad(upperSome(address)).map((written) => ({ written, address })));

const INVALID_EMAILS = [
  'not-an-email', 'a@@acme.com', 'jane@localhost', 'a..b@acme.com', '.jane@acme.com', 'jane.@acme.com', 'jane doe@acme.com',
  'jane@acme.123', 'jane@-acme.com', 'jane@acme-.com', '"jane"@acme.com', 'jane@[10.0.0.1]', 'jane@acme.c', '@acme.com', 'jane@',
  `${'x'.repeat(65)}@acme.com`, 'jane,doe@acme.com', 'ja"ne@acme.com',
];
const invalidEmailArb: fc.Arbitrary<{ written: string; address: null }> = pad(fc.constantFrom(...INVALID_EMAILS)).map((written) => ({ written, address: null }));

const hex64 = fc.string({ unit: fc.constantFrom(...DIGITS, ...'abcdef'.split('')), minLength: 64, maxLength: 64 });
/** A hashedEmail cell: blank, 64 hex in any case (padded), or not a hash. */
const hashArb: fc.Arbitrary<{ written: string; hash: string | undefined }> = fc.oneof(
  { arbitrary: fc.constantFrom('', ' ').map((written) => ({ written, hash: undefined })), weight: 3 },
  { arbitrary: hex64.chain((h) => pad(upperSome(h)).map((written) => ({ written, hash: h }))), weight: 3 },
  { arbitrary: fc.constantFrom('abc', `${'a'.repeat(63)}g`, 'f'.repeat(65), `${'a'.repeat(32)} ${'b'.repeat(31)}`).map((written) => ({ written, hash: INVALID })), weight: 1 },
);

const digitsArb = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...DIGITS), minLength: min, maxLength: max });
/** A phone cell and the value ingest must give back. */
const phoneArb: fc.Arbitrary<{ written: string; phone: string }> = fc.oneof(
  // E.164 with separators: `+44 20-7946.0018` → `+442079460018`
  fc.tuple(fc.constantFrom('1', '2', '3', '4', '7', '9'), digitsArb(7, 14), fc.array(fc.constantFrom(' ', '-', '.', '(', ')'), { maxLength: 3 }), fc.nat())
    .map(([first, rest, seps, at]) => {
      const digits = first + rest;
      let written = digits;
      for (const sep of seps) {
        const i = 1 + (at % written.length);
        written = written.slice(0, i) + sep + written.slice(i);
      }
      return { written: `+${written}`, phone: `+${digits}` };
    }),
  // North American numbers in the usual spellings → +1…
  fc.tuple(fc.constantFrom('2', '4', '6', '9'), digitsArb(2, 2), digitsArb(3, 3), digitsArb(4, 4), fc.constantFrom(0, 1, 2, 3)).map(([a0, a, b, c, style]) => {
    const area = a0 + a;
    const written = [`(${area}) ${b}-${c}`, `${area}.${b}.${c}`, `${area}${b}${c}`, `1 ${area} ${b} ${c}`][style] as string;
    return { written, phone: `+1${area}${b}${c}` };
  }),
  // anything else is kept as written: extensions, local numbers of unknown country
  fc.tuple(digitsArb(5, 12), fc.nat(999)).map(([d, ext]) => ({ written: `${d} ext ${ext}`, phone: `${d} ext ${ext}` })),
  digitsArb(3, 7).map((d) => ({ written: d, phone: d })),
);
const paddedPhoneArb = phoneArb.chain(({ written, phone }) => pad(fc.constant(written)).map((w) => ({ written: w, phone })));

/** A company.domain cell: a host as a URL or bare (any case, padded), or text that is not a host. */
const domainArb: fc.Arbitrary<{ written: string; domain: string }> = fc.oneof(
  fc
    .tuple(hostArb, fc.constantFrom('', 'https://', 'HTTP://', '//'), fc.boolean(), fc.constantFrom('', ':443', ':8080'), fc.constantFrom('', '/', '/about?x=1', '#top'))
    .chain(([host, scheme, www, port, rest]) => pad(upperSome(`${scheme}${www ? 'www.' : ''}${host}${port}${rest}`)).map((written) => ({ written, domain: host }))),
  pad(fc.constantFrom('n/a', 'none', 'localhost', 'acme', 'not a domain', '-', 'acme..com', 'http://', '1.2.3.4')).map((written) => ({ written, domain: INVALID })),
);

/** A topic name: free text, or a realistic name with case variants and spaces (duplicates ignoring case). */
export const topicNameArb: fc.Arbitrary<string> = fc.oneof(textArb, fc.constantFrom('CRM', 'crm', ' Intent Data ', 'intent data', 'ABM', 'Zero Trust Security'));
/**
 * Topic names that survive the `delimited` format (`A;B`). The CSV encoding of topics is undocumented
 * and ingest accepts every shape seen (parse-topics.ts): "a list delimited by `;` or `|`" and "a JSON
 * array" when the cell starts with `[`. So a name holding `;` or `|`, or a cell starting with `[`, cannot
 * come back as written in that format; the JSON format (the default) carries any name.
 */
export const delimitedTopicNameArb: fc.Arbitrary<string> = topicNameArb.filter((n) => !/[;|[]/.test(n));

export function topicsOf(names: readonly string[], ids: readonly number[]): LeadpipeTopic[] {
  return names.map((topicName, i) => ({ topicId: ids[i % Math.max(1, ids.length)] ?? i + 1, topicName, type: 'b2b', industry: 'Marketing', category: 'Service' }));
}

/** An email cell: blank, valid (cased, padded) or invalid. */
const emailCellArb: fc.Arbitrary<{ written: string; address: string | null | undefined }> = fc.oneof(
  { arbitrary: fc.constantFrom('', '  ').map((written) => ({ written, address: undefined })), weight: 2 },
  { arbitrary: validEmailArb, weight: 4 },
  { arbitrary: invalidEmailArb, weight: 1 },
);

/**
 * Any person the export writer can be given: every optional field blank or present, free text with
 * commas, quotes, line breaks, NUL, emoji and spaces at either end, 0–40 topics, scores 1–100. Email
 * columns repeat each other at times, as Leadpipe's do (`primaryContactEmail` = `businessEmail`).
 */
export function personSpecArb(topicsFormat: TopicsFormat): fc.Arbitrary<PersonSpec> {
  const names = topicsFormat === 'json' ? topicNameArb : delimitedTopicNameArb;
  return fc
    .record({
      hash: hashArb,
      pool: fc.array(emailCellArb, { minLength: 1, maxLength: 3 }),
      picks: fc.tuple(fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 })),
      firstName: optionalTextArb,
      lastName: optionalTextArb,
      fullName: optionalTextArb,
      jobTitle: optionalTextArb,
      headline: optionalTextArb,
      seniority: optionalTextArb,
      department: optionalTextArb,
      linkedinUrl: optionalTextArb,
      companyName: optionalTextArb,
      industry: optionalTextArb,
      phone: fc.option(paddedPhoneArb, { nil: null }),
      domain: fc.option(domainArb, { nil: null }),
      score: fc.integer({ min: 1, max: 100 }),
      overlap: fc.nat(50),
      topics: fc.array(names, { maxLength: 40 }),
      topicIds: fc.array(fc.integer({ min: 1, max: 2 ** 31 }), { minLength: 1, maxLength: 5 }),
    })
    .map((r): PersonSpec => {
      const cells = r.picks.map((pick) => (pick < 0 ? undefined : r.pool[pick % r.pool.length]));
      const written = (i: number): string => cells[i]?.written ?? '';
      const expected = (i: number): string | null | undefined => cells[i]?.address;
      const row: LeadpipeResultRow = {
        hashedEmail: r.hash.written,
        primaryContactEmail: written(0),
        businessEmail: cells[1] === undefined ? null : written(1),
        personalEmail: cells[2] === undefined ? null : written(2),
        email: written(3),
        firstName: r.firstName,
        lastName: r.lastName,
        fullName: r.fullName,
        jobTitle: r.jobTitle,
        headline: r.headline,
        seniority: r.seniority,
        department: r.department,
        phone: r.phone?.written ?? null,
        linkedinUrl: r.linkedinUrl,
        company: { name: r.companyName, domain: r.domain?.written ?? null, industry: r.industry },
        intent: { score: r.score, topicOverlap: r.overlap, matchedTopics: topicsOf(r.topics, r.topicIds) },
      };
      return {
        row,
        expect: {
          emails: { primaryContactEmail: expected(0), businessEmail: expected(1), personalEmail: expected(2), email: expected(3) },
          hash: r.hash.hash,
          phone: r.phone?.phone,
          domain: r.domain?.domain,
        },
      };
    });
}
