/**
 * The interface between the sync engine (src/sync/) and a CRM adapter (hubspot/, later salesforce/).
 *
 * The engine owns everything CRM-neutral: ingest, mapping, fingerprints, the ledger, skip-unchanged,
 * counts, checkpoints and record errors. An adapter owns the CRM: matching people to records, reading
 * current values for the `ifEmpty` policy, writing in batches, companies, associations and deals, its
 * rate limits and its error shapes. Every write an adapter makes is idempotent (upsert on a unique key),
 * so the engine may hand it the same person again after a crash.
 */
import type { IntentPerson } from '../ingest/types';
import type { FieldChange, KeptField } from '../mapping/apply-policy';
import type { MappedPerson } from '../mapping/map-person';
import type { LedgerEntry } from '../store/ledger';
import type { Destination as DestinationName } from '../store/schema';
import type { ApiStats } from './hubspot/hubspot-api';

export type { ApiStats } from './hubspot/hubspot-api';

/** A person the engine decided to write (its fingerprint differs from the ledger's). */
export interface PlannedPerson {
  /** Ledger key: sha256 hex of the person's email (Leadpipe's hashedEmail). */
  key: string;
  person: IntentPerson;
  mapped: MappedPerson;
  fingerprint: string;
  /** What the ledger knew of this person for this destination, if anything. */
  previous: LedgerEntry | undefined;
}

export type WriteOutcome =
  | {
      kind: 'created' | 'updated' | 'unchanged';
      key: string;
      /** Null only in a dry run for a record that would be created. */
      crmRecordId: string | null;
      crmObjectType: string;
      crmCompanyId: string | null;
      /** Fields sent (or, in a dry run, that would be sent), with before/after. */
      changes: FieldChange[];
      /** Mapped fields not sent, with why (policy, equal, not empty). */
      kept: KeptField[];
      /** Company of the person: matched to an existing record, created, or none. */
      company?: { domain: string; crmCompanyId: string | null; action: 'matched' | 'created' } | undefined;
    }
  | {
      kind: 'failed' | 'skipped';
      key: string;
      /** Our code, e.g. CRM_RECORD_REJECTED, DUPLICATE_CONTACT. */
      code: string;
      /** The CRM's own message when it gave one, else ours. */
      message: string;
      retryable: boolean;
    };

/**
 * The code of a person left out because the connection does not create records for them (update-only
 * mode, or a score under its create threshold): the engine holds their intent for enrichment instead of
 * recording an error.
 */
export const NOT_IN_CRM = 'NOT_IN_CRM';

/** Says whether a person who has no CRM record yet may get one. Absent: everyone may. */
export type CreatePolicy = (person: PlannedPerson) => boolean;

export function notInCrm(key: string, crm: string): WriteOutcome {
  return {
    kind: 'skipped',
    key,
    code: NOT_IN_CRM,
    message: `Not in ${crm} and this connection does not create records for them: their intent is held for enrichment when the record is created.`,
    retryable: true,
  };
}

export type WrittenOutcome = Extract<WriteOutcome, { kind: 'created' | 'updated' | 'unchanged' }>;

/** The person has a CRM record (or, in a dry run, would have): created, updated or already up to date. */
export function isWritten(outcome: WriteOutcome): outcome is WrittenOutcome {
  return outcome.kind === 'created' || outcome.kind === 'updated' || outcome.kind === 'unchanged';
}

export interface BatchResult {
  outcomes: WriteOutcome[];
  companies: { matched: number; created: number };
  associations: number;
}

/** One person of the run at or above the priority threshold, as the ledger holds it. */
export interface PersonIntent {
  crmRecordId: string;
  /** `contact` (HubSpot, Salesforce) or `lead` (Salesforce): leads have no deals or accounts. */
  crmObjectType: string;
  crmCompanyId: string | null;
  score: number;
  topics: string[];
}

export interface DealChange {
  dealId: string;
  name: string | null;
  changes: FieldChange[];
  priorityRaised: boolean;
}

export interface PrioritizeResult {
  /** Deals written (or, in a dry run, that would be). */
  deals: DealChange[];
  /** Open deals looked at and left alone (already at or above the target). */
  unchangedDeals: number;
  /** Closed deals skipped. */
  closedDeals: number;
  /** Deals (Salesforce: and Accounts) the CRM refused to update even after retries, with its message. */
  failed?: Array<{ id: string; message: string }>;
}

export interface WriteOptions {
  dryRun: boolean;
  /** The run's date/time (ISO 8601), written as the last intent date. */
  intentAt: string;
}

export interface CrmDestination {
  readonly name: DestinationName;
  /** The CRM account: HubSpot portal id, Salesforce org id. */
  readonly accountId: string;
  /** Checks the account is set up for orbit-sync (custom properties exist) and reads what the sync needs. */
  prepare(): Promise<void>;
  /** Writes (or, in a dry run, plans) up to one batch of people. Never throws for a per-record failure. */
  writeBatch(batch: readonly PlannedPerson[], options: WriteOptions): Promise<BatchResult>;
  /** Raises open deals of the given people; closed deals are never touched. */
  prioritize(intents: readonly PersonIntent[], options: WriteOptions): Promise<PrioritizeResult>;
  /** API calls so far, by endpoint, and 429s. */
  readonly stats: ApiStats;
  /**
   * Batches `writeBatch` may be given at once (default 1). Batches in flight never share an email address;
   * anything else they share (a company, an account) is the destination's to keep consistent.
   */
  readonly concurrency?: number;
  /** Largest batch `writeBatch` takes. */
  readonly batchSize: number;
  /** The batch size for a run of this many people, when it differs (Salesforce: bulk-sized groups for large runs). */
  batchSizeFor?(peopleInRun: number): number;
  /** People at or above this score reach `prioritize`. */
  readonly minIntentScore: number;
}
