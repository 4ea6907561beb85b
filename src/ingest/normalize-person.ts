/**
 * One CSV record → an IntentPerson, or a QuarantinedRow, plus warnings.
 *
 * 1. The record is read through the column plan into a resolved row (canonical field → trimmed,
 *    non-empty cell) and validated with `PersonRowSchema` (zod): the score must be a whole number 1–100,
 *    a given `hashedEmail` must be 64 hex characters. Either failure quarantines the row. On the hot
 *    path a hand check of the same rules (`fastParsePersonRow`, proved equal by its test) runs first,
 *    cells are read by column index, and the row object and `safeParse` are only built for a row it rejects.
 * 2. Emails are trimmed, lower-cased and syntax-checked; an invalid one is dropped with a warning. With
 *    no valid hash and no valid email the row is quarantined (NO_IDENTITY).
 * 3. The key is the hashedEmail, else the sha256 of the first valid email (primary, business, personal,
 *    other). Names are title-cased, the phone put in E.164 when possible, the company domain derived,
 *    topics parsed, unknown columns kept in `extra`.
 *
 * Reasons and warnings never contain an email address or a hash: they end up in logs and reports.
 */
import { z } from 'zod';
import type { Config } from '../config';
import { hashEmail } from './hash-email';
import { displayCell } from './mask-cell';
import { deriveCompanyDomain } from './normalize-domain';
import { normalizeEmail } from './normalize-email';
import { normalizePhone } from './normalize-phone';
import { parseTopics } from './parse-topics';
import { setExtra } from './set-extra';
import type { CsvRecord } from './parse-csv';
import type { ColumnPlan } from './resolve-header';
import { titleCaseName } from './title-case';
import { CANONICAL_FIELDS, EMAIL_FIELDS, type CanonicalField, type EmailField, type IntentPerson, type PersonEmail, type QuarantinedRow, type RowWarning } from './types';

const SCORE_RE = /^\d{1,3}(?:\.0+)?$/;
const HASH_RE = /^[0-9a-fA-F]{64}$/;
const NOT_HEX = /[^0-9a-fA-F]/;

/**
 * The zod schema of a resolved row (canonical field → trimmed, non-empty cell). Only the fields with
 * rules are declared: every cell is a string already, and declaring the 17 plain text fields too
 * costs about 0.1 s per 300,000 rows (measured) for no check at all. The rules:
 * the score must be a whole number 1–100 (a zero fraction such as `85.0` is accepted), and a given
 * hashedEmail must be 64 hex characters (lower-cased here).
 */
export const PersonRowSchema = z.object({
  'intent.score': z
    .string({ error: 'intent.score is empty' })
    .regex(SCORE_RE, 'not a whole number')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, 'not between 1 and 100'),
  hashedEmail: z
    .string()
    .regex(HASH_RE, 'not 64 hexadecimal characters')
    .transform((h) => h.toLowerCase())
    .optional(),
});
export type PersonRow = z.infer<typeof PersonRowSchema>;
/** A row read through the column plan: canonical field → trimmed, non-empty cell. */
export type ResolvedRow = Partial<Record<CanonicalField, string>>;

export type NormalizedRow =
  | { ok: true; person: IntentPerson; warnings: readonly RowWarning[] }
  | { ok: false; row: QuarantinedRow };

export type NormalizeOptions = Pick<Config['ingest'], 'freeMailDomains'>;

const EMAIL_KIND: Record<EmailField, PersonEmail['kind']> = {
  primaryContactEmail: 'primary',
  businessEmail: 'business',
  personalEmail: 'personal',
  email: 'other',
};

const NO_WARNINGS: readonly RowWarning[] = Object.freeze([]);
const INVALID_EMAIL = 'not a valid email address; dropped';


function quarantine(error: z.ZodError, row: ResolvedRow, line: number): QuarantinedRow {
  const scoreIssue = error.issues.find((issue) => issue.path[0] === 'intent.score');
  if (scoreIssue !== undefined) {
    const raw = row['intent.score'];
    return {
      line,
      field: 'intent.score',
      code: 'INVALID_SCORE',
      reason:
        raw === undefined
          ? 'intent.score is empty; it must be a whole number from 1 to 100'
          : `intent.score ${displayCell(raw)} is not a whole number from 1 to 100`,
    };
  }
  const hash = row.hashedEmail ?? '';
  if (error.issues.some((issue) => issue.path[0] === 'hashedEmail')) {
    return {
      line,
      field: 'hashedEmail',
      code: 'INVALID_HASH',
      reason: `hashedEmail is not a SHA-256 hash (64 hexadecimal characters): it has ${hash.length} characters${NOT_HEX.test(hash) ? ', not all hexadecimal' : ''}`,
    };
  }
  // Unreachable with the schema above; kept so a future schema rule cannot slip through unreported.
  const issue = error.issues[0];
  return { line, field: issue ? String(issue.path[0]) : null, code: 'INVALID_SCORE', reason: issue?.message ?? 'invalid row' };
}

const ZERO = 48;
const NINE = 57;
const DOT = 46;

/** True for the character code of a hex digit: `0`–`9`, `a`–`f`, `A`–`F` only. */
function isHexCode(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * The score as `PersonRowSchema` would parse it, or -1 where the schema would reject it: 1–3 ASCII
 * digits, optionally `.` and one or more zeros, with a value from 1 to 100. A hand check of the same
 * rules as SCORE_RE + the refine, about five times faster than `safeParse` on the hot path.
 */
function fastScore(raw: string): number {
  const length = raw.length;
  let value = 0;
  let i = 0;
  for (; i < length && i < 4; i++) {
    const c = raw.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
  }
  if (i === 0 || i > 3) return -1;
  if (i < length) {
    if (raw.charCodeAt(i) !== DOT || i + 1 === length) return -1;
    for (let j = i + 1; j < length; j++) if (raw.charCodeAt(j) !== ZERO) return -1;
  }
  return value >= 1 && value <= 100 ? value : -1;
}

/**
 * The hash as the schema would give it (lower-cased) where HASH_RE matches (exactly 64 hexadecimal
 * characters), or undefined. Hashes are nearly always lower-case already, and then no copy is made.
 */
function fastHash(raw: string): string | undefined {
  if (raw.length !== 64) return undefined;
  let upper = false;
  for (let i = 0; i < 64; i++) {
    const c = raw.charCodeAt(i);
    if (!isHexCode(c)) return undefined;
    if (c >= 65 && c <= 70) upper = true;
  }
  return upper ? raw.toLowerCase() : raw;
}

/**
 * The fast path of `PersonRowSchema`: the parsed row when the hand-written check accepts it, or
 * undefined when it does not, and then the caller runs `PersonRowSchema.safeParse` (the contract and
 * the source of the quarantine reason). It accepts exactly the rows the schema accepts, with equal
 * values; test/unit/ingest/normalize-person.test.ts proves it on many generated cells.
 */
export function fastParsePersonRow(score: string | undefined, hashedEmail: string | undefined): PersonRow | undefined {
  if (score === undefined) return undefined;
  const value = fastScore(score);
  if (value === -1) return undefined;
  if (hashedEmail === undefined) return { 'intent.score': value };
  const hash = fastHash(hashedEmail);
  return hash === undefined ? undefined : { 'intent.score': value, hashedEmail: hash };
}

/** The trimmed cell at `index`, or undefined when the column is absent (-1) or the cell is blank. */
function cell(values: readonly string[], index: number): string | undefined {
  if (index < 0) return undefined;
  const raw = values[index];
  if (raw === undefined || raw === '') return undefined;
  // Nearly every cell starts and ends with a visible ASCII character (never white space), and then
  // trim() would return it unchanged: this runs for every cell of every row.
  const first = raw.charCodeAt(0);
  const last = raw.charCodeAt(raw.length - 1);
  if (first > 32 && first < 127 && last > 32 && last < 127) return raw;
  const value = raw.trim();
  return value === '' ? undefined : value;
}

interface EmailColumn {
  index: number;
  field: EmailField;
  kind: PersonEmail['kind'];
}

/**
 * Builds the normalizer for one file: the column plan and the free-mail set are prepared once, so the
 * per-row function does no setup work. Cells are read by a precomputed column index per canonical
 * field (-1 when the file lacks it); the resolved row object is built only for a row that fails the
 * fast check, to give the schema and the quarantine reason.
 */
export function createPersonNormalizer(plan: ColumnPlan, options: NormalizeOptions): (record: CsvRecord) => NormalizedRow {
  const column = new Int32Array(CANONICAL_FIELDS.length).fill(-1);
  for (const c of plan.columns) if (c.field !== null) column[CANONICAL_FIELDS.indexOf(c.field)] = c.index;
  const at = (field: CanonicalField): number => column[CANONICAL_FIELDS.indexOf(field)] as number;
  const mapped = CANONICAL_FIELDS.map((field) => ({ field, index: at(field) })).filter((m) => m.index >= 0);
  const emailColumns: EmailColumn[] = EMAIL_FIELDS.map((field) => ({ field, index: at(field), kind: EMAIL_KIND[field] })).filter((e) => e.index >= 0);
  const iHash = at('hashedEmail');
  const iScore = at('intent.score');
  const iTopics = at('intent.matchedTopics');
  const iFirst = at('firstName');
  const iLast = at('lastName');
  const iFull = at('fullName');
  const iJob = at('jobTitle');
  const iHeadline = at('headline');
  const iSeniority = at('seniority');
  const iDepartment = at('department');
  const iPhone = at('phone');
  const iLinkedin = at('linkedinUrl');
  const iCompanyName = at('company.name');
  const iCompanyDomain = at('company.domain');
  const iIndustry = at('company.industry');
  const extras = plan.extras.map((c) => ({ index: c.index, header: c.header }));
  const freeMail: ReadonlySet<string> = new Set(options.freeMailDomains.map((d) => d.trim().toLowerCase()));

  function resolve(values: readonly string[]): ResolvedRow {
    const row: ResolvedRow = {};
    for (const { index, field } of mapped) {
      const value = cell(values, index);
      if (value !== undefined) row[field] = value;
    }
    return row;
  }

  return function normalizePerson(record: CsvRecord): NormalizedRow {
    const { line, values } = record;
    let data = fastParsePersonRow(cell(values, iScore), cell(values, iHash));
    if (data === undefined) {
      const row = resolve(values);
      const parsed = PersonRowSchema.safeParse(row);
      if (!parsed.success) return { ok: false, row: quarantine(parsed.error, row, line) };
      data = parsed.data;
    }
    const { 'intent.score': score, hashedEmail } = data;

    let warnings: RowWarning[] | undefined;
    const emails: PersonEmail[] = [];
    let invalidEmails = 0;
    let businessEmail: string | undefined;
    let primaryContactEmail: string | undefined;
    // Leadpipe repeats addresses across columns (primaryContactEmail = businessEmail, email =
    // personalEmail; leadpipe-api.md §4.2), so a value equal to the previous column's is not re-checked.
    let previousRaw: string | undefined;
    let previousAddress: string | null = null;
    for (const { index, field, kind } of emailColumns) {
      const raw = cell(values, index);
      if (raw === undefined) continue;
      const address: string | null = raw === previousRaw ? previousAddress : normalizeEmail(raw);
      previousRaw = raw;
      previousAddress = address;
      if (address === null) {
        invalidEmails += 1;
        (warnings ??= []).push({ line, field, reason: INVALID_EMAIL });
        continue;
      }
      if (field === 'businessEmail') businessEmail = address;
      else if (field === 'primaryContactEmail') primaryContactEmail = address;
      let seen = false;
      for (const e of emails) if (e.address === address) seen = true;
      if (!seen) emails.push({ address, sha256: hashEmail(address), kind });
    }

    const key = hashedEmail ?? emails[0]?.sha256;
    if (key === undefined) {
      const invalid = invalidEmails > 0 ? `; ${invalidEmails} email ${invalidEmails > 1 ? 'values were' : 'value was'} not valid` : '';
      return {
        ok: false,
        row: {
          line,
          field: null,
          code: 'NO_IDENTITY',
          reason: `no hashedEmail and no valid email address (${EMAIL_FIELDS.join(', ')})${invalid}`,
        },
      };
    }

    const company: IntentPerson['company'] = {};
    const companyName = cell(values, iCompanyName);
    if (companyName !== undefined) company.name = companyName;
    const domain = deriveCompanyDomain({ companyDomain: cell(values, iCompanyDomain), businessEmail, primaryContactEmail }, freeMail);
    if (domain.domain !== undefined) company.domain = domain.domain;
    if (domain.rejected !== undefined) {
      (warnings ??= []).push({
        line,
        field: 'company.domain',
        reason: domain.rejected === 'invalid' ? 'not a domain name; ignored' : 'a free-mail domain, not a company domain; ignored',
      });
    }
    const industry = cell(values, iIndustry);
    if (industry !== undefined) company.industry = industry;

    const extra: Record<string, string> = {};
    for (const { index, header } of extras) {
      const value = cell(values, index);
      if (value !== undefined) setExtra(extra, header, value);
    }

    const topics = cell(values, iTopics);
    const person: IntentPerson = {
      key,
      emails,
      company,
      score,
      topics: topics === undefined ? [] : parseTopics(topics),
      extra,
      line,
      rows: 1,
    };
    if (hashedEmail !== undefined) person.hashedEmail = hashedEmail;
    const firstName = cell(values, iFirst);
    if (firstName !== undefined) person.firstName = titleCaseName(firstName);
    const lastName = cell(values, iLast);
    if (lastName !== undefined) person.lastName = titleCaseName(lastName);
    const fullName = cell(values, iFull);
    if (fullName !== undefined) person.fullName = titleCaseName(fullName);
    const jobTitle = cell(values, iJob);
    if (jobTitle !== undefined) person.jobTitle = jobTitle;
    const headline = cell(values, iHeadline);
    if (headline !== undefined) person.headline = headline;
    const seniority = cell(values, iSeniority);
    if (seniority !== undefined) person.seniority = seniority;
    const department = cell(values, iDepartment);
    if (department !== undefined) person.department = department;
    const phone = cell(values, iPhone);
    if (phone !== undefined) person.phone = normalizePhone(phone);
    const linkedinUrl = cell(values, iLinkedin);
    if (linkedinUrl !== undefined) person.linkedinUrl = linkedinUrl;
    return { ok: true, person, warnings: warnings ?? NO_WARNINGS };
  };
}
