/**
 * Domain types of the ingest pipeline. Vendor shapes (Leadpipe's JSON) live in `src/leadpipe/`; these
 * are ours, and every later stage (mapping, planning, writing) works on them.
 */

/** Canonical field names of a person row (Leadpipe's run-results names, nested with dots). */
export const CANONICAL_FIELDS = [
  'hashedEmail',
  'primaryContactEmail',
  'businessEmail',
  'personalEmail',
  'email',
  'firstName',
  'lastName',
  'fullName',
  'jobTitle',
  'headline',
  'seniority',
  'department',
  'phone',
  'linkedinUrl',
  'company.name',
  'company.domain',
  'company.industry',
  'intent.score',
  'intent.matchedTopics',
] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];

/** Email columns, in the order CRM matching tries them (DESIGN.md: primary, business, personal). */
export const EMAIL_FIELDS = ['primaryContactEmail', 'businessEmail', 'personalEmail', 'email'] as const;
export type EmailField = (typeof EMAIL_FIELDS)[number];

export interface PersonEmail {
  /** Trimmed, lower-cased, syntax-checked. */
  address: string;
  /** sha256(lowercase(trim(address))) as 64 lower-case hex. */
  sha256: string;
  /** The column(s) it came from; the first one decides its rank. */
  kind: 'primary' | 'business' | 'personal' | 'other';
}

export interface IntentCompany {
  name?: string;
  /** Bare lower-case host, no scheme, path or `www.`. From `company.domain` or a business email. */
  domain?: string;
  industry?: string;
}

/** One person, validated and normalized. Optional fields are absent (never empty strings). */
export interface IntentPerson {
  /** The dedupe and ledger key: Leadpipe's `hashedEmail`, else the sha256 of the first valid email. */
  key: string;
  /** `hashedEmail` exactly as Leadpipe sent it (validated as 64 hex, lower-cased), if it did. */
  hashedEmail?: string;
  /** Valid emails, deduplicated, in matching order (primary, business, personal, other). */
  emails: PersonEmail[];
  firstName?: string;
  lastName?: string;
  fullName?: string;
  jobTitle?: string;
  headline?: string;
  seniority?: string;
  department?: string;
  /** E.164 when it could be normalized, otherwise as given. */
  phone?: string;
  linkedinUrl?: string;
  company: IntentCompany;
  /** Integer 1–100. After dedupe: the highest score of the person's rows. */
  score: number;
  /** Topic names, deduplicated (case-insensitive), in first-seen order. */
  topics: string[];
  /** Columns not in the alias table, by their header name as written in the file. Non-empty values only. */
  extra: Record<string, string>;
  /** 1-based line number (in the file) of the first row of this person. */
  line: number;
  /** How many input rows were merged into this person (1 when it had no duplicates). */
  rows: number;
}

export type QuarantineCode =
  | 'COLUMN_COUNT'
  | 'UNBALANCED_QUOTE'
  | 'CSV_SYNTAX'
  | 'CELL_TOO_LARGE'
  /** The row is larger than `ingest.maxRowBytes`; it was skipped without being parsed (bounded memory). */
  | 'ROW_TOO_LARGE'
  | 'INVALID_SCORE'
  | 'INVALID_HASH'
  | 'NO_IDENTITY';

/** A row that could not become a person. It is kept with its reason; the rest of the file goes on. */
export interface QuarantinedRow {
  /** 1-based line number in the file where the row starts. */
  line: number;
  /** The canonical field (or header name) at fault, or null for row-level problems. */
  field: string | null;
  code: QuarantineCode;
  /** What is wrong, for a person to read. Never contains an email address or other cell values of identity fields. */
  reason: string;
}

/** Non-fatal remarks on a valid row (an invalid secondary email that was dropped, say). */
export interface RowWarning {
  line: number;
  field: string;
  reason: string;
}

/**
 * What the ingest pipeline yields, in order: quarantined rows and warnings as soon as they are found,
 * people once the whole file has been read (in-run dedupe needs to have seen every row).
 */
export type IngestEvent =
  | { kind: 'person'; person: IntentPerson }
  | { kind: 'quarantined'; row: QuarantinedRow }
  | { kind: 'warning'; warning: RowWarning };
