/**
 * One CSV record → an IntentPerson, or a QuarantinedRow, plus warnings.
 *
 * 1. The record is read through the column plan into a resolved row (canonical field → trimmed,
 *    non-empty cell) and validated with `PersonRowSchema` (zod): the score must be a whole number 1–100,
 *    a given `hashedEmail` must be 64 hex characters. Either failure quarantines the row.
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
import { displayValue } from '../lib/logger';
import { hashEmail } from './hash-email';
import { deriveCompanyDomain } from './normalize-domain';
import { normalizeEmail } from './normalize-email';
import { normalizePhone } from './normalize-phone';
import { parseTopics } from './parse-topics';
import type { CsvRecord } from './parse-csv';
import type { ColumnPlan } from './resolve-header';
import { titleCaseName } from './title-case';
import { EMAIL_FIELDS, type CanonicalField, type EmailField, type IntentPerson, type PersonEmail, type QuarantinedRow, type RowWarning } from './types';

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
          : `intent.score ${displayValue(raw)} is not a whole number from 1 to 100`,
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

interface MappedColumn {
  index: number;
  field: CanonicalField;
}

/**
 * Builds the normalizer for one file: the column plan and the free-mail set are prepared once, so the
 * per-row function does no setup work.
 */
export function createPersonNormalizer(plan: ColumnPlan, options: NormalizeOptions): (record: CsvRecord) => NormalizedRow {
  const mapped: MappedColumn[] = [];
  for (const column of plan.columns) if (column.field !== null) mapped.push({ index: column.index, field: column.field });
  const extras = plan.extras.map((c) => ({ index: c.index, header: c.header }));
  const freeMail: ReadonlySet<string> = new Set(options.freeMailDomains.map((d) => d.trim().toLowerCase()));

  return function normalizePerson(record: CsvRecord): NormalizedRow {
    const { line, values } = record;
    const row: ResolvedRow = {};
    for (const { index, field } of mapped) {
      const value = (values[index] ?? '').trim();
      if (value !== '') row[field] = value;
    }
    const parsed = PersonRowSchema.safeParse(row);
    if (!parsed.success) return { ok: false, row: quarantine(parsed.error, row, line) };
    const { 'intent.score': score, hashedEmail } = parsed.data;

    let warnings: RowWarning[] | undefined;
    const emails: PersonEmail[] = [];
    let invalidEmails = 0;
    let businessEmail: string | undefined;
    let primaryContactEmail: string | undefined;
    // Leadpipe repeats addresses across columns (primaryContactEmail = businessEmail, email =
    // personalEmail; leadpipe-api.md §4.2), so a value equal to the previous column's is not re-checked.
    let previousRaw: string | undefined;
    let previousAddress: string | null = null;
    for (const field of EMAIL_FIELDS) {
      const raw = row[field];
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
      if (!seen) emails.push({ address, sha256: hashEmail(address), kind: EMAIL_KIND[field] });
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
    if (row['company.name'] !== undefined) company.name = row['company.name'];
    const domain = deriveCompanyDomain({ companyDomain: row['company.domain'], businessEmail, primaryContactEmail }, freeMail);
    if (domain.domain !== undefined) company.domain = domain.domain;
    if (domain.rejected !== undefined) {
      (warnings ??= []).push({
        line,
        field: 'company.domain',
        reason: domain.rejected === 'invalid' ? 'not a domain name; ignored' : 'a free-mail domain, not a company domain; ignored',
      });
    }
    if (row['company.industry'] !== undefined) company.industry = row['company.industry'];

    const extra: Record<string, string> = {};
    for (const { index, header } of extras) {
      const value = (values[index] ?? '').trim();
      if (value !== '') extra[header] = value;
    }

    const person: IntentPerson = {
      key,
      emails,
      company,
      score,
      topics: row['intent.matchedTopics'] === undefined ? [] : parseTopics(row['intent.matchedTopics']),
      extra,
      line,
      rows: 1,
    };
    if (hashedEmail !== undefined) person.hashedEmail = hashedEmail;
    if (row.firstName !== undefined) person.firstName = titleCaseName(row.firstName);
    if (row.lastName !== undefined) person.lastName = titleCaseName(row.lastName);
    if (row.fullName !== undefined) person.fullName = titleCaseName(row.fullName);
    if (row.jobTitle !== undefined) person.jobTitle = row.jobTitle;
    if (row.headline !== undefined) person.headline = row.headline;
    if (row.seniority !== undefined) person.seniority = row.seniority;
    if (row.department !== undefined) person.department = row.department;
    if (row.phone !== undefined) person.phone = normalizePhone(row.phone);
    if (row.linkedinUrl !== undefined) person.linkedinUrl = row.linkedinUrl;
    return { ok: true, person, warnings: warnings ?? NO_WARNINGS };
  };
}
