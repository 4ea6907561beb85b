/**
 * One error type for the whole app. Every error a user or operator can meet carries a code from the
 * closed list below, says whether retrying can help, and (for rate limits) how long to wait.
 * Subclasses are named for what the operator must do. `docs/errors.md` lists every code.
 */
export const ERROR_CODES = [
  // configuration and input files
  'CONFIG_INVALID',
  'FILE_NOT_FOUND',
  'CSV_EMPTY',
  'CSV_NOT_CSV',
  'CSV_HEADER_INVALID',
  'ROW_INVALID',
  // Leadpipe and other upstream HTTP APIs
  'AUTH_INVALID',
  'AUTH_FORBIDDEN',
  'SLOTS_FULL',
  'NOT_FOUND',
  'BAD_REQUEST',
  'RATE_LIMITED',
  'UPSTREAM_5XX',
  'NETWORK',
  'TIMEOUT',
  'BAD_RESPONSE',
  'RUN_NOT_READY',
  'RUN_NOT_SERVABLE',
  'EXPORT_NOT_READY',
  'EXPORT_URL_EXPIRED',
  'DOWNLOAD_HOST_NOT_ALLOWED',
  // CRM destinations
  'DAILY_LIMIT_REACHED',
  'CRM_LOCKED',
  'CRM_RECORD_REJECTED',
  'CRM_BATCH_FAILED',
  'CRM_SETUP_REQUIRED',
  'NO_EMAIL',
  'RETRIES_EXHAUSTED',
  // the installed app (issue #5)
  'OAUTH_STATE_INVALID',
  'SIGNATURE_INVALID',
  'NEEDS_REAUTH',
  // the store
  'STORE_MIGRATION_FAILED',
  'SYNC_RUN_TRANSITION_INVALID',
  // a bug in orbit-sync itself (a caller broke a documented contract)
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface SyncErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
  /** HTTP status of the upstream response, when there was one. */
  status?: number;
  /** Upstream request id (Leadpipe `meta.request_id`), for support tickets. */
  requestId?: string;
}

export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly requestId: string | undefined;

  constructor(code: ErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    this.requestId = options.requestId;
  }
}

/** The configuration (env vars or config/*.json) is invalid: fix the listed variables. */
export class FixConfigurationError extends SyncError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** The input file cannot be processed at all (not CSV, bad header): fix the file or the column aliases. */
export class FixInputFileError extends SyncError {
  /** The column the problem is about, when there is one. */
  readonly column: string | undefined;
  constructor(
    code: 'FILE_NOT_FOUND' | 'CSV_EMPTY' | 'CSV_NOT_CSV' | 'CSV_HEADER_INVALID',
    message: string,
    options: SyncErrorOptions & { column?: string } = {},
  ) {
    super(code, message, options);
    this.column = options.column;
  }
}

/** Leadpipe rejected the API key (401) or the organization has no access (403): fix the key or the account. */
export class FixLeadpipeCredentialsError extends SyncError {}

/** All audience slots are in use (403 SLOTS_FULL): pause an audience or buy more slots. */
export class FreeAudienceSlotError extends SyncError {}

export function isSyncError(err: unknown): err is SyncError {
  return err instanceof SyncError;
}

/** A short, single-line description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof SyncError) {
    const ref = err.requestId ? ` (request id ${err.requestId})` : '';
    return `${err.code}: ${err.message}${ref}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
