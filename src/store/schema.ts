/**
 * Kysely table types of the store. One schema for SQLite and (later, #5/#6) PostgreSQL, so only
 * portable column types: text ids, integers (booleans as 0/1), timestamps as ISO-8601 UTC text, JSON as
 * text. Column names are snake_case in the database; repositories map rows to camelCase domain types.
 *
 * Privacy (DESIGN.md, "Identity, dedupe and privacy"): no table holds a plaintext email or name. People
 * are keyed by `hashed_email` (sha256 hex); the rest are CRM ids, fingerprints and counts.
 */
import type { Insertable, Selectable, Updateable } from 'kysely';

export const CRMS = ['hubspot', 'salesforce'] as const;
export type Crm = (typeof CRMS)[number];

/** Where a sync writes. Today each destination is one CRM; kept separate so a CRM can grow more. */
export type Destination = Crm;

export const CONNECTION_STATUSES = ['active', 'paused', 'disconnected', 'needs_reauth'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

export const SYNC_RUN_STATUSES = ['pending', 'running', 'succeeded', 'partial', 'failed'] as const;
export type SyncRunStatus = (typeof SYNC_RUN_STATUSES)[number];

/** An ISO-8601 UTC timestamp, e.g. `2026-01-31T08:00:00.000Z`. Sorts as text. */
export type IsoTimestamp = string;

/** One CRM account (HubSpot portal, Salesforce org) that orbit-sync writes to. */
export interface ConnectionsTable {
  id: string;
  crm: Crm;
  /** HubSpot portal id / Salesforce org id. */
  account_id: string;
  status: ConnectionStatus;
  /** Why the status is what it is (e.g. the refresh error behind `needs_reauth`); null when active. */
  status_message: string | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

/** A connection's CRM credentials (tokens), sealed with ENCRYPTION_KEY: never stored in clear. */
export interface ConnectionCredentialsTable {
  connection_id: string;
  /** `v1.<iv>.<tag>.<ciphertext>` (base64url), AES-256-GCM of the JSON credentials. */
  sealed: string;
  updated_at: IsoTimestamp;
}

/** A Leadpipe audience whose completed runs sync into a connection. */
export interface AudienceSubscriptionsTable {
  connection_id: string;
  audience_id: string;
  /** 1 = synced by the scheduler, 0 = paused. */
  active: number;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

/** Every count of the sync summary (DESIGN.md), one column each. */
export interface SyncRunCountColumns {
  rows: number;
  quarantined: number;
  duplicates: number;
  unchanged: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  companies_matched: number;
  companies_created: number;
  associations: number;
  deals_prioritized: number;
  api_calls_total: number;
  /** HTTP 429 responses met during the run. */
  rate_limited: number;
}

/** One sync of (audience run | local file) → destination. */
export interface SyncRunsTable extends SyncRunCountColumns {
  id: string;
  connection_id: string;
  /** Null for a `sync --file` run. */
  audience_id: string | null;
  /** Leadpipe run id; null for a `sync --file` run. */
  run_id: string | null;
  destination: Destination;
  status: SyncRunStatus;
  /** JSON object `{ "<METHOD> <path template>": count }`. */
  api_calls_by_endpoint: string;
  started_at: IsoTimestamp | null;
  finished_at: IsoTimestamp | null;
  duration_ms: number | null;
  /** JSON: where a killed sync resumes. Shape owned by the sync engine. */
  checkpoint: string | null;
  error_message: string | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

/** `(connection, destination, hashed_email)` → what we last wrote for that person. */
export interface LedgerTable {
  connection_id: string;
  destination: Destination;
  /** sha256 hex of the lower-cased, trimmed email: never the email itself. */
  hashed_email: string;
  /** The person's CRM record id (HubSpot contact id, Salesforce Contact or Lead id). */
  crm_record_id: string;
  /** `contact` | `lead` (Salesforce) — what `crm_record_id` points at. */
  crm_object_type: string;
  /** The CRM company/account the person was associated with, if any. */
  crm_company_id: string | null;
  /** Fingerprint of the mapped payload last written; equal fingerprint ⇒ unchanged, no API call. */
  payload_fingerprint: string;
  last_score: number | null;
  /** Leadpipe run id last synced; null when it came from a file. */
  last_run_id: string | null;
  last_sync_run_id: string | null;
  /** JSON array of the person's topics in the last run (migration 0002); null before. */
  last_topics: string | null;
  updated_at: IsoTimestamp;
}

/** One record that failed in a sync run (never a plaintext email: `hashed_email` only). */
export interface RecordErrorsTable {
  id: string;
  sync_run_id: string;
  hashed_email: string | null;
  /** 1-based line of the input file, when the record came from a row. */
  line: number | null;
  code: string;
  /** The CRM's own message, verbatim (e.g. a 207 error's `message`). */
  crm_message: string | null;
  /** 1 = a later sync may retry it. */
  retryable: number;
  attempts: number;
  created_at: IsoTimestamp;
}

/** Company domain → CRM company id, so a domain search is paid once per connection. */
export interface CompanyCacheTable {
  connection_id: string;
  domain: string;
  crm_company_id: string;
  updated_at: IsoTimestamp;
}

/** Per connection: the Leadpipe API key and Outbound Message secret (sealed) and the admin's overrides. */
export interface ConnectionSettingsTable {
  connection_id: string;
  leadpipe_key_sealed: string | null;
  /** JSON object, validated by src/app/overrides.ts. */
  overrides: string;
  outbound_secret_sealed: string | null;
  updated_at: IsoTimestamp;
}

export const JOB_KINDS = ['sync', 'enrich'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The durable work queue of `serve`. */
export interface JobsTable {
  id: string;
  kind: JobKind;
  connection_id: string;
  /** JSON; never a plaintext email (hashes and CRM ids only). */
  payload: string;
  /** At most one queued-or-running job per key. */
  dedupe_key: string | null;
  status: JobStatus;
  attempts: number;
  run_after: IsoTimestamp;
  locked_by: string | null;
  /** The lease: a running job whose lease ran out is taken over. */
  locked_until: IsoTimestamp | null;
  last_error: string | null;
  /** JSON result (e.g. the sync summary's counts). */
  result: string | null;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
  finished_at: IsoTimestamp | null;
}

/** Intent of a person not (yet) in the CRM, sealed (it holds the person's emails and names). */
export interface HeldIntentTable {
  connection_id: string;
  hashed_email: string;
  sealed: string;
  run_id: string;
  score: number;
  expires_at: IsoTimestamp;
  created_at: IsoTimestamp;
  updated_at: IsoTimestamp;
}

/** sha256 of each of a held person's emails → the person's key. */
export interface HeldIntentEmailsTable {
  connection_id: string;
  email_hash: string;
  hashed_email: string;
}

export interface WebhookEventsTable {
  source: string;
  event_key: string;
  received_at: IsoTimestamp;
}

export interface OAuthStatesTable {
  id: string;
  crm: Crm;
  verifier_sealed: string | null;
  expires_at: IsoTimestamp;
  created_at: IsoTimestamp;
}

export interface AppStateTable {
  key: string;
  value: string;
  updated_at: IsoTimestamp;
}

export interface Database {
  connections: ConnectionsTable;
  audience_subscriptions: AudienceSubscriptionsTable;
  sync_runs: SyncRunsTable;
  ledger: LedgerTable;
  record_errors: RecordErrorsTable;
  company_cache: CompanyCacheTable;
  connection_credentials: ConnectionCredentialsTable;
  connection_settings: ConnectionSettingsTable;
  jobs: JobsTable;
  held_intent: HeldIntentTable;
  held_intent_emails: HeldIntentEmailsTable;
  webhook_events: WebhookEventsTable;
  oauth_states: OAuthStatesTable;
  app_state: AppStateTable;
}

export type ConnectionRow = Selectable<ConnectionsTable>;
export type NewConnectionRow = Insertable<ConnectionsTable>;
export type SyncRunRow = Selectable<SyncRunsTable>;
export type NewSyncRunRow = Insertable<SyncRunsTable>;
export type SyncRunRowUpdate = Updateable<SyncRunsTable>;
export type LedgerRow = Selectable<LedgerTable>;
export type NewLedgerRow = Insertable<LedgerTable>;
export type RecordErrorRow = Selectable<RecordErrorsTable>;
export type CompanyCacheRow = Selectable<CompanyCacheTable>;
