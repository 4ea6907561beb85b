/**
 * The Salesforce destination: Contacts and Leads, Accounts and Opportunities, on jsforce 3.
 *
 * One `writeBatch` (≤ `salesforce.peoplePerWrite` people):
 * 1. Resolve (DESIGN.md, identity): every email of every person, in SOQL chunks sized by URL length
 *    (soql.ts): a Contact with one of the person's emails wins; else a Lead that is not converted; a
 *    converted Lead is followed to its Contact and never written itself; else the person becomes a new
 *    Lead. Emails are tried in the person's rank order (primary, business, personal).
 * 2. Plan: the mapping's policies against the values read — `contact` fields for Contacts, `lead` fields
 *    for Leads; a new Lead gets `LastName`/`Company` fallbacks when Leadpipe has none (both required).
 *    Nothing to change → no write.
 * 3. Write with sObject Collections, 200 per call, `allOrNone: false`, results read per record in order:
 *    Contacts and existing Leads updated by Id, new Leads upserted on the external id
 *    `Leadpipe_Hashed_Email__c` (unique), so a retried or resumed create finds the Lead it made.
 *    `UNABLE_TO_LOCK_ROW` records are sent again (up to the retry settings); other record errors are kept
 *    with Salesforce's `statusCode` and message (`DUPLICATES_DETECTED` included; the opt-in
 *    `allowSaveOnDuplicates` sends the duplicate-rule allow-save header).
 * Prioritize: Accounts of the people's Contacts get the rolled-up intent; open Opportunities found
 * through `OpportunityContactRole` and through those Accounts get `Leadpipe_Intent_Score__c` and
 * `Leadpipe_Priority__c` by the thresholds (never lowered by default); closed ones are left alone.
 */
import type { Record as SfRecord, SaveResult, UpsertResult } from 'jsforce';
import { z } from 'zod';
import type { SalesforceSettings } from '../../config';
import { SyncError } from '../../lib/errors';
import { chunks } from '../../lib/chunks';
import { settleAll } from '../../lib/settle-all';
import type { Logger } from '../../lib/logger';
import { applyPolicy, type FieldChange } from '../../mapping/apply-policy';
import type { Mapping, MappingEntry } from '../../mapping/mapping-schema';
import { TOPIC_SEPARATOR } from '../../mapping/map-person';
import { isWritten, notInCrm, type BatchResult, type CreatePolicy, type CrmDestination, type DealChange, type PersonIntent, type PlannedPerson, type PrioritizeResult, type WriteOptions, type WriteOutcome } from '../destination';
import { classifySalesforceError, type SalesforceApi } from './salesforce-api';
import { BulkPace } from './bulk-pace';
import { inQueries } from './soql';

export const HASH_FIELD = 'Leadpipe_Hashed_Email__c';
/** Bulk 2.0 jobs started for one group of rows before giving up (see startBulkJob). */
const BULK_JOB_ATTEMPTS = 3;
export const PRIORITY_FIELD = 'Leadpipe_Priority__c';
const INTENT_FIELDS = ['Leadpipe_Intent_Score__c', 'Leadpipe_Intent_Topics__c', 'Leadpipe_Last_Intent_At__c'] as const;

export interface SalesforceDestinationOptions {
  api: SalesforceApi;
  orgId: string;
  mapping: Mapping;
  settings: SalesforceSettings;
  maxTopics: number;
  /** Who may become a new Lead when Salesforce has no Contact or Lead for them (default: everyone). */
  createPolicy?: CreatePolicy;
  logger?: Logger;
}

type SfObject = 'Contact' | 'Lead';
type BulkJob = ReturnType<SalesforceApi['conn']['bulk2']['createJob']>;
/** GET /jobs/ingest/{id}: what the poll reads. */
const JobInfo = z.looseObject({ state: z.string(), errorMessage: z.string().optional() });

interface Target {
  object: SfObject;
  /** Null for a Lead to create. */
  record: SfRecord | null;
}

interface Write {
  planned: PlannedPerson;
  object: SfObject;
  id: string | null;
  properties: Record<string, string>;
  accountId: string | null;
  /** Was in a call sent more than once before this one: a send whose answer was lost may have created it. */
  resent?: boolean;
}

interface SfRecordError {
  statusCode?: string;
  errorCode?: string;
  message?: string;
  fields?: string[];
}

const lower = (v: unknown): string => (typeof v === 'string' ? v.trim().toLowerCase() : '');
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null);

/** A record's current values as strings (what apply-policy compares). */
function currentValues(record: SfRecord | null): Record<string, string | null> | undefined {
  if (record === null) return undefined;
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(record)) if (k !== 'attributes') out[k] = str(v);
  return out;
}

function recordErrorText(errors: readonly SfRecordError[]): { code: string; message: string } {
  const first = errors[0];
  const code = first?.statusCode ?? first?.errorCode ?? 'UNKNOWN_ERROR';
  const message = errors.map((e) => `${e.statusCode ?? e.errorCode ?? 'ERROR'}: ${e.message ?? ''}${e.fields && e.fields.length > 0 ? ` (${e.fields.join(', ')})` : ''}`).join('; ');
  return { code, message };
}

export class SalesforceDestination implements CrmDestination {
  readonly name = 'salesforce' as const;
  readonly accountId: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly minIntentScore: number;
  private priorityValues: { high?: string; medium?: string; low?: string } = {};
  private readonly pace: BulkPace;

  constructor(private readonly o: SalesforceDestinationOptions) {
    this.accountId = o.orgId;
    this.batchSize = o.settings.peoplePerWrite;
    // Twice the requests allowed in flight: while a batch plans or reads an answer, another's request takes the slot.
    this.concurrency = 2 * o.settings.maxConcurrent;
    this.minIntentScore = o.settings.priority.minScore;
    this.pace = new BulkPace(o.settings.bulkPollIntervalMs);
  }

  get stats(): SalesforceApi['stats'] {
    return this.o.api.stats;
  }

  private fieldsOf(entries: readonly MappingEntry[]): string[] {
    return entries.map((e) => e.property);
  }

  async prepare(): Promise<void> {
    const { api, mapping } = this.o;
    const wanted: Record<string, string[]> = {
      Contact: [...this.fieldsOf(mapping.contact), 'AccountId'],
      Lead: [...this.fieldsOf(mapping.lead), 'IsConverted', 'ConvertedContactId'],
      Account: ['Name', ...INTENT_FIELDS],
      Opportunity: ['StageName', 'IsClosed', 'AccountId', ...INTENT_FIELDS, PRIORITY_FIELD],
    };
    const missing: string[] = [];
    for (const [object, fields] of Object.entries(wanted)) {
      const raw: unknown = await api.call(`GET /sobjects/${object}/describe`, () => api.conn.describe(object));
      const describe = Describe.safeParse(raw);
      if (!describe.success) throw new SyncError('BAD_RESPONSE', `Salesforce's describe of ${object} is not what its API documents.`);
      const names = new Map(describe.data.fields.map((f) => [f.name, f]));
      for (const f of fields) if (!names.has(f)) missing.push(`${object}.${f}`);
      const priority = object === 'Opportunity' ? names.get(PRIORITY_FIELD) : undefined;
      for (const p of priority?.picklistValues ?? []) {
        const level = (['high', 'medium', 'low'] as const).find((l) => new RegExp(`\\b${l}\\b`, 'i').test(`${p.value} ${p.label ?? ''}`));
        if (level !== undefined && p.active !== false) this.priorityValues[level] ??= p.value;
      }
    }
    if (missing.length > 0) {
      throw new SyncError('CRM_SETUP_REQUIRED', `Salesforce org ${this.accountId} is missing fields orbit-sync writes: ${missing.join(', ')}. Run \`orbit-sync setup salesforce\` first.`);
    }
  }

  batchSizeFor(peopleInRun: number): number {
    return peopleInRun >= this.o.settings.bulkThreshold ? Math.max(this.batchSize, this.o.settings.bulkPeoplePerWrite) : this.batchSize;
  }

  async writeBatch(batch: readonly PlannedPerson[], options: WriteOptions): Promise<BatchResult> {
    const max = Math.max(this.batchSize, this.o.settings.bulkPeoplePerWrite);
    if (batch.length > max) throw new SyncError('INTERNAL', `writeBatch takes at most ${max} people, got ${batch.length}`);
    const targets = await this.resolve(batch);
    const outcomes = new Map<string, WriteOutcome>();
    const writes: Write[] = [];
    const claimed = new Map<string, number>();
    for (const planned of batch) {
      const target = targets.get(planned.key) ?? { object: 'Lead', record: null };
      if (target.record === null && this.o.createPolicy && !this.o.createPolicy(planned)) {
        outcomes.set(planned.key, notInCrm(planned.key, 'Salesforce'));
        continue;
      }
      const claim = target.record?.Id ?? `new:${planned.key}`;
      const owner = claimed.get(claim);
      if (owner !== undefined) {
        outcomes.set(planned.key, {
          kind: 'skipped',
          key: planned.key,
          code: 'DUPLICATE_CONTACT',
          message: `This person matches the same Salesforce ${target.object} ${target.record?.Id ?? ''} as another person of the run (line ${owner}); only the first is written.`,
          retryable: false,
        });
        continue;
      }
      claimed.set(claim, planned.person.line);
      const entries = target.object === 'Contact' ? this.o.mapping.contact : this.o.mapping.lead;
      const mapped = (target.object === 'Contact' ? planned.mapped.contact : planned.mapped.lead) ?? planned.mapped.contact;
      const policy = applyPolicy(mapped, currentValues(target.record), entries);
      if (target.record === null) this.leadFallbacks(planned, policy.properties, policy.changes);
      if (target.object === 'Lead' && this.o.settings.leadRating) this.rating(planned, target.record, policy.properties, policy.changes);
      const id = target.record?.Id ?? null;
      const accountId = str(target.record?.AccountId) ?? null;
      outcomes.set(planned.key, {
        kind: target.record === null ? 'created' : Object.keys(policy.properties).length > 0 ? 'updated' : 'unchanged',
        key: planned.key,
        crmRecordId: id,
        crmObjectType: target.object === 'Contact' ? 'contact' : 'lead',
        crmCompanyId: accountId,
        changes: policy.changes,
        kept: policy.kept,
      });
      if (target.record === null || Object.keys(policy.properties).length > 0) writes.push({ planned, object: target.object, id, properties: policy.properties, accountId });
    }
    if (!options.dryRun) await this.write(writes, outcomes);
    return { outcomes: batch.map((p) => outcomes.get(p.key) as WriteOutcome), companies: { matched: 0, created: 0 }, associations: 0 };
  }

  /** Required Lead fields Leadpipe may not have (LastName, Company): configurable placeholders. */
  private leadFallbacks(planned: PlannedPerson, properties: Record<string, string>, changes: FieldChange[]): void {
    const defaults = this.o.settings.leadDefaults;
    const fill = (field: string, value: string): void => {
      if (properties[field] !== undefined) return;
      properties[field] = value;
      changes.push({ property: field, before: null, after: value, policy: 'ifEmpty' });
    };
    fill('LastName', defaults.lastName);
    fill('Company', planned.person.company.name ?? planned.person.company.domain ?? defaults.company);
  }

  private rating(planned: PlannedPerson, record: SfRecord | null, properties: Record<string, string>, changes: FieldChange[]): void {
    const { tiers } = this.o.mapping;
    const value = planned.person.score >= tiers.hot ? 'Hot' : planned.person.score >= tiers.warm ? 'Warm' : 'Cold';
    const before = str(record?.Rating);
    if (before === value) return;
    properties.Rating = value;
    changes.push({ property: 'Rating', before, after: value, policy: 'always' });
  }

  /** person key → the record to write (Contact, unconverted Lead) or a Lead to create (record null). */
  private async resolve(batch: readonly PlannedPerson[]): Promise<Map<string, Target>> {
    const { api, mapping } = this.o;
    const emails = batch.flatMap((p) => p.person.emails.map((e) => e.address));
    const contactFields = ['Id', 'Email', 'AccountId', 'CreatedDate', ...this.fieldsOf(mapping.contact)];
    const leadFields = ['Id', 'Email', 'IsConverted', 'ConvertedContactId', 'CreatedDate', ...this.fieldsOf(mapping.lead), ...(this.o.settings.leadRating ? ['Rating'] : [])];
    const oldestFirst = (a: SfRecord, b: SfRecord): number => String(a.CreatedDate ?? '').localeCompare(String(b.CreatedDate ?? '')) || String(a.Id).localeCompare(String(b.Id));

    const contactByEmail = new Map<string, SfRecord>();
    const contactById = new Map<string, SfRecord>();
    for (const c of (await api.queryMany<SfRecord>(inQueries('Contact', contactFields, 'Email', emails), 'Contact')).sort(oldestFirst)) {
      if (!contactByEmail.has(lower(c.Email))) contactByEmail.set(lower(c.Email), c);
      if (c.Id) contactById.set(c.Id, c);
    }
    const withoutContact = batch.filter((p) => !p.person.emails.some((e) => contactByEmail.has(e.address)));
    const leadByEmail = new Map<string, SfRecord>();
    const leadQueries = inQueries('Lead', leadFields, 'Email', withoutContact.flatMap((p) => p.person.emails.map((e) => e.address)));
    for (const l of (await api.queryMany<SfRecord>(leadQueries, 'Lead')).sort(oldestFirst)) {
      const key = lower(l.Email);
      const existing = leadByEmail.get(key);
      // An open Lead wins over a converted one with the same email.
      if (!existing || (existing.IsConverted === true && l.IsConverted !== true)) leadByEmail.set(key, l);
    }
    const convertedTo = [...leadByEmail.values()].map((l) => str(l.ConvertedContactId)).filter((id): id is string => id !== null && !contactById.has(id));
    for (const c of await api.queryMany<SfRecord>(inQueries('Contact', contactFields, 'Id', convertedTo), 'Contact')) if (c.Id) contactById.set(c.Id, c);

    const targets = new Map<string, Target>();
    for (const p of batch) {
      const addresses = p.person.emails.map((e) => e.address);
      const contact = addresses.map((a) => contactByEmail.get(a)).find((c) => c !== undefined);
      if (contact) {
        targets.set(p.key, { object: 'Contact', record: contact });
        continue;
      }
      const leads = addresses.map((a) => leadByEmail.get(a)).filter((l): l is SfRecord => l !== undefined);
      const open = leads.find((l) => l.IsConverted !== true);
      if (open) {
        targets.set(p.key, { object: 'Lead', record: open });
        continue;
      }
      const converted = leads.map((l) => contactById.get(str(l.ConvertedContactId) ?? '')).find((c) => c !== undefined);
      targets.set(p.key, converted ? { object: 'Contact', record: converted } : { object: 'Lead', record: null });
    }
    return targets;
  }

  private dmlOptions(): { allOrNone: false; headers?: Record<string, string> } {
    return { allOrNone: false, ...(this.o.settings.allowSaveOnDuplicates && { headers: { 'Sforce-Duplicate-Rule-Header': 'allowSave=true' } }) };
  }

  /**
   * The three groups (Contacts by Id, Leads by Id, new Leads on the external id) touch different records, so
   * they go out at once, and so do their Collections calls; the API caps requests in flight.
   */
  private async write(writes: readonly Write[], outcomes: Map<string, WriteOutcome>): Promise<void> {
    const groups: Array<{ object: SfObject; kind: 'update' | 'upsert'; items: Write[] }> = [
      { object: 'Contact', kind: 'update', items: writes.filter((w) => w.object === 'Contact' && w.id !== null) },
      { object: 'Lead', kind: 'update', items: writes.filter((w) => w.object === 'Lead' && w.id !== null) },
      { object: 'Lead', kind: 'upsert', items: writes.filter((w) => w.object === 'Lead' && w.id === null) },
    ];
    await settleAll(groups.map((group) => this.writeGroup(group.object, group.kind, group.items, outcomes)));
  }

  private async writeGroup(object: SfObject, kind: 'update' | 'upsert', items: Write[], outcomes: Map<string, WriteOutcome>): Promise<void> {
    let pending = items;
    if (pending.length >= this.o.settings.bulkThreshold) {
      // Bulk API 2.0; rows it reports locked go on through Collections below.
      pending = await this.bulk(object, kind, pending, outcomes);
    }
    for (let attempt = 1; pending.length > 0; attempt++) {
      const locked: Write[] = [];
      const sendPart = async (part: Write[]): Promise<void> => {
        const { results, resent } = await this.send(object, kind, part);
        part.forEach((w, i) => {
          const r = results[i];
          const outcome = outcomes.get(w.planned.key);
          if (!outcome || !isWritten(outcome)) return;
          if (r?.success) {
            outcome.crmRecordId = r.id ?? w.id;
            // A new Lead the upsert found existing: made by someone else since our read — or, when the call was
            // sent more than once, by an earlier send whose answer was lost, so still created by this sync.
            if (kind === 'upsert' && 'created' in r && r.created === false && !resent && w.resent !== true) outcome.kind = 'updated';
            return;
          }
          const { code, message } = recordErrorText(r?.errors ?? []);
          if (code === 'UNABLE_TO_LOCK_ROW' && attempt < this.o.settings.retry.maxAttempts) {
            locked.push({ ...w, resent: w.resent === true || resent });
            return;
          }
          outcomes.set(w.planned.key, {
            kind: 'failed',
            key: w.planned.key,
            code: 'CRM_RECORD_REJECTED',
            message: r ? message : 'Salesforce returned no result for this record',
            retryable: !r || code === 'UNABLE_TO_LOCK_ROW',
          });
        });
      };
      await settleAll([...chunks(pending, this.o.settings.collectionSize)].map(sendPart));
      pending = locked;
    }
  }

  /**
   * One Bulk API 2.0 ingest job for a group of records, run with our own polling (jsforce's default
   * 30-s timeout is far too short, and its timeout path deletes the job: reference/salesforce.md §4).
   * The CSV is built here with every column on every row (jsforce takes columns from the first record
   * only); an empty cell leaves a field unchanged. Results are matched back by Id (updates) or by the
   * hashed email (upserts), never by order. Returns the records that failed with UNABLE_TO_LOCK_ROW.
   */
  private async bulk(object: SfObject, kind: 'update' | 'upsert', writes: readonly Write[], outcomes: Map<string, WriteOutcome>): Promise<Write[]> {
    const { api, settings } = this.o;
    const rows = writes.map((w) => (kind === 'update' ? { Id: w.id as string, ...w.properties } : { ...w.properties, [HASH_FIELD]: w.properties[HASH_FIELD] ?? w.planned.key }));
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const cell = (v: string | undefined): string => (v === undefined ? '' : /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    const csv = [columns.join(','), ...rows.map((r) => columns.map((c) => cell((r as Record<string, string>)[c])).join(','))].join('\n') + '\n';
    const endpoint = `Bulk API 2.0 ${object} ${kind}`;
    // The whole job holds one of the maxConcurrent slots: the org works on it between our requests.
    const results = await api.occupy(async () => {
      const { job, restarted } = await this.startBulkJob(object, kind, csv, endpoint);
      if ((await this.waitForJob(job, object, kind, rows.length, endpoint)) === 'timeout') return undefined;
      // One GET at a time (jsforce's getAllResults sends three at once, past the job's one slot). Rows in
      // neither answer are the unprocessed ones (below), so that third GET is not needed.
      const resultsEndpoint = `GET /jobs/ingest/{id}/results (${endpoint})`;
      const successfulResults = await api.call(resultsEndpoint, () => job.getSuccessfulResults(), { inSlot: true });
      const failedResults = await api.call(resultsEndpoint, () => job.getFailedResults(), { inSlot: true });
      return { successfulResults, failedResults, restarted };
    });
    if (results === undefined) {
      const ms = settings.bulkPollTimeoutMs;
      const after = ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
      const message = `Bulk API 2.0 was still processing this record's job after ${after} (salesforce.bulkPollTimeoutMs); orbit-sync asked Salesforce to abort the job, and the next sync writes the record again`;
      for (const w of writes) {
        outcomes.set(w.planned.key, { kind: 'failed', key: w.planned.key, code: 'CRM_BATCH_FAILED', message, retryable: true });
      }
      return [];
    }
    const byKey = new Map(writes.map((w) => [kind === 'update' ? (w.id as string) : (w.properties[HASH_FIELD] ?? w.planned.key), w]));
    const keyOf = (r: Record<string, unknown>): string => (kind === 'update' ? (str(r.Id) ?? str(r.sf__Id) ?? '') : (str(r[HASH_FIELD]) ?? ''));
    const seen = new Set<string>();
    for (const r of results.successfulResults as Array<Record<string, unknown>>) {
      const w = byKey.get(keyOf(r));
      const outcome = w ? outcomes.get(w.planned.key) : undefined;
      if (!w || !outcome || !isWritten(outcome)) continue;
      seen.add(w.planned.key);
      outcome.crmRecordId = str(r.sf__Id) ?? w.id;
      // A new Lead the job found existing: made by someone else since our read — or by an earlier job of these
      // rows (restarted) or an earlier send of them (resent), so still created by this sync.
      if (kind === 'upsert' && r.sf__Created === 'false' && !results.restarted && w.resent !== true) outcome.kind = 'updated';
    }
    const locked: Write[] = [];
    for (const r of results.failedResults as Array<Record<string, unknown>>) {
      const w = byKey.get(keyOf(r));
      if (!w) continue;
      seen.add(w.planned.key);
      const error = str(r.sf__Error) ?? 'UNKNOWN_ERROR';
      const code = error.split(':')[0] ?? 'UNKNOWN_ERROR';
      // Sent on through Collections; a row of a restarted job may have been created by the first one.
      if (code === 'UNABLE_TO_LOCK_ROW') locked.push({ ...w, resent: w.resent === true || results.restarted });
      else outcomes.set(w.planned.key, { kind: 'failed', key: w.planned.key, code: 'CRM_RECORD_REJECTED', message: error.replace(/\s*--\s*$/, ''), retryable: false });
    }
    for (const w of writes) {
      if (seen.has(w.planned.key)) continue;
      outcomes.set(w.planned.key, { kind: 'failed', key: w.planned.key, code: 'CRM_BATCH_FAILED', message: 'Bulk API 2.0 did not process this record; the next sync tries it again', retryable: true });
    }
    return locked;
  }

  /**
   * Polls a closed job until Salesforce is done with it, at the pace BulkPace sets (our own loop: jsforce's
   * `poll` asks at a fixed interval). A job still processing after `bulkPollTimeoutMs` is aborted (best
   * effort: a late finish would write values older than the next sync's) and 'timeout' returned; a job that
   * Failed or was Aborted throws, as jsforce's poll does.
   */
  private async waitForJob(job: BulkJob, object: SfObject, kind: 'update' | 'upsert', rows: number, endpoint: string): Promise<'done' | 'timeout'> {
    const { api, settings } = this.o;
    const pollEndpoint = `GET /jobs/ingest/{id} (${endpoint})`;
    const closedAt = Date.now();
    const pace = this.pace.job(`${object} ${kind}`, rows, closedAt);
    for (;;) {
      const wait = pace.next(Date.now());
      if (Date.now() + wait - closedAt > settings.bulkPollTimeoutMs) {
        this.o.logger?.warn('a Bulk API 2.0 job is still processing after salesforce.bulkPollTimeoutMs; aborting it', { object, kind, rows, jobId: job.id });
        await api.call(`PATCH /jobs/ingest/{id} abort (${endpoint})`, () => job.abort(), { inSlot: true }).catch(() => undefined);
        return 'timeout';
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      const sentAt = Date.now();
      const raw: unknown = await api.call(pollEndpoint, () => job.check(), { inSlot: true });
      const info = JobInfo.safeParse(raw);
      if (!info.success) throw new SyncError('BAD_RESPONSE', `Salesforce's answer to ${pollEndpoint} is not what its API documents.`);
      const { state, errorMessage } = info.data;
      if (state === 'JobComplete') {
        pace.done(Date.now());
        return 'done';
      }
      if (state === 'Failed' || state === 'Aborted') {
        const why = state === 'Failed' ? `Ingest job failed to complete due to: ${errorMessage ?? 'no reason given'}` : 'Job has been aborted';
        throw classifySalesforceError(new Error(why), { endpoint: pollEndpoint, conn: api.conn });
      }
      pace.stillRunning(sentAt);
    }
  }

  /**
   * Opens a Bulk 2.0 ingest job, uploads the CSV and closes it (inside the job's slot: see bulk). A step Salesforce carried out but whose answer
   * was lost (a dropped connection, a timeout) cannot be sent again to the same job: Salesforce refuses a
   * second upload, or a close of a closed job, with INVALIDJOBSTATE. Then the job is aborted (best effort)
   * and the rows go in a new one; they are upserts on the external id or updates by Id, so a job that did go
   * through writes the same values (`restarted`: the job returned is not the first).
   */
  private async startBulkJob(object: SfObject, kind: 'update' | 'upsert', csv: string, endpoint: string): Promise<{ job: BulkJob; restarted: boolean }> {
    const { api } = this.o;
    for (let attempt = 1; ; attempt += 1) {
      const job = api.conn.bulk2.createJob({ object, operation: kind, ...(kind === 'upsert' && { externalIdFieldName: HASH_FIELD }), lineEnding: 'LF' });
      try {
        await api.call(`POST /jobs/ingest (${endpoint})`, () => job.open(), { inSlot: true });
        // Our own PUT, not jsforce's uploadData: that one refuses a second call on the same job object ("Data
        // can only be uploaded to a job once"), so an upload whose connection dropped could not be retried.
        const batches = `/services/data/v${api.conn.version}/jobs/ingest/${job.id ?? ''}/batches`;
        await api.call(`PUT /jobs/ingest/{id}/batches (${endpoint})`, () => api.conn.request({ method: 'PUT', url: batches, body: csv, headers: { 'Content-Type': 'text/csv' } }), { inSlot: true });
        await api.call(`PATCH /jobs/ingest/{id} (${endpoint})`, () => job.close(), { inSlot: true });
        return { job, restarted: attempt > 1 };
      } catch (err) {
        if (attempt >= BULK_JOB_ATTEMPTS || !(err instanceof SyncError) || !/INVALIDJOBSTATE/.test(err.message)) throw err;
        this.o.logger?.warn('a Bulk API 2.0 job step was refused after an answer was lost; starting a new job with the same rows', { object, kind, attempt });
        if (job.id !== undefined) await api.call(`PATCH /jobs/ingest/{id} abort (${endpoint})`, () => job.abort(), { inSlot: true }).catch(() => undefined);
      }
    }
  }

  /** One Collections call; `resent`: it was sent more than once (retried), so an earlier send may have been carried out. */
  private async send(object: SfObject, kind: 'update' | 'upsert', part: readonly Write[]): Promise<{ results: Array<SaveResult | UpsertResult>; resent: boolean }> {
    const { api } = this.o;
    const sobject = api.conn.sobject(object);
    let sends = 0;
    const counted =
      <T>(send: () => Promise<T>) =>
      (): Promise<T> => {
        sends += 1;
        return send();
      };
    let results: Array<SaveResult | UpsertResult>;
    if (kind === 'update') {
      const records = part.map((w) => ({ Id: w.id as string, ...w.properties }));
      results = await api.call(`PATCH /composite/sobjects (${object} update)`, counted(() => sobject.update(records, this.dmlOptions())));
    } else {
      const records = part.map((w) => ({ ...w.properties, [HASH_FIELD]: w.properties[HASH_FIELD] ?? w.planned.key }));
      results = await api.call(`PATCH /composite/sobjects/${object}/${HASH_FIELD}`, counted(() => sobject.upsert(records, HASH_FIELD, this.dmlOptions())));
    }
    return { results, resent: sends > 1 };
  }

  async prioritize(intents: readonly PersonIntent[], options: WriteOptions): Promise<PrioritizeResult> {
    const { api, maxTopics } = this.o;
    const result: PrioritizeResult = { deals: [], unchangedDeals: 0, closedDeals: 0 };
    const contacts = intents.filter((i) => i.crmObjectType === 'contact');
    const roll = (target: Map<string, { score: number; topics: string[] }>, id: string, i: PersonIntent): void => {
      const cur = target.get(id) ?? { score: 0, topics: [] };
      cur.score = Math.max(cur.score, i.score);
      for (const t of i.topics) if (cur.topics.length < maxTopics && !cur.topics.some((x) => x.toLowerCase() === t.toLowerCase())) cur.topics.push(t);
      target.set(id, cur);
    };
    const sorted = [...contacts].sort((a, b) => b.score - a.score);
    const byAccount = new Map<string, { score: number; topics: string[] }>();
    const byContact = new Map<string, { score: number; topics: string[] }>();
    for (const i of sorted) {
      roll(byContact, i.crmRecordId, i);
      if (i.crmCompanyId !== null) roll(byAccount, i.crmCompanyId, i);
    }

    // 1. Accounts: the rolled-up intent.
    const accountUpdates: Array<{ Id: string } & Record<string, string>> = [];
    for (const a of await api.queryMany<SfRecord>(inQueries('Account', ['Id', ...INTENT_FIELDS], 'Id', [...byAccount.keys()]), 'Account')) {
      const intent = a.Id ? byAccount.get(a.Id) : undefined;
      if (!a.Id || !intent) continue;
      const policy = applyPolicy(this.intentValues(intent), currentValues(a), INTENT_ENTRIES);
      if (policy.changes.length > 0) accountUpdates.push({ Id: a.Id, ...policy.properties, Leadpipe_Last_Intent_At__c: options.intentAt });
    }
    const failed: Array<{ id: string; message: string }> = [];
    if (!options.dryRun) await this.update('Account', accountUpdates, failed);

    // 2. Opportunities: through contact roles and through the Accounts.
    const byOpp = new Map<string, { score: number; topics: string[] }>();
    for (const r of await api.queryMany<SfRecord>(inQueries('OpportunityContactRole', ['OpportunityId', 'ContactId'], 'ContactId', [...byContact.keys()]), 'OpportunityContactRole')) {
      const intent = byContact.get(str(r.ContactId) ?? '');
      const opp = str(r.OpportunityId);
      if (intent && opp) roll(byOpp, opp, { crmRecordId: opp, crmObjectType: 'opportunity', crmCompanyId: null, ...intent });
    }
    const opportunityFields = ['Id', 'Name', 'IsClosed', 'AccountId', ...INTENT_FIELDS, PRIORITY_FIELD];
    const opps = new Map<string, SfRecord>();
    for (const o of await api.queryMany<SfRecord>(inQueries('Opportunity', opportunityFields, 'AccountId', [...byAccount.keys()]), 'Opportunity')) if (o.Id) opps.set(o.Id, o);
    for (const [id, o] of opps) {
      const intent = byAccount.get(str(o.AccountId) ?? '');
      if (intent) roll(byOpp, id, { crmRecordId: id, crmObjectType: 'opportunity', crmCompanyId: null, ...intent });
    }
    const missing = [...byOpp.keys()].filter((id) => !opps.has(id));
    for (const o of await api.queryMany<SfRecord>(inQueries('Opportunity', opportunityFields, 'Id', missing), 'Opportunity')) if (o.Id) opps.set(o.Id, o);
    const oppUpdates: Array<{ Id: string } & Record<string, string>> = [];
    const changed = new Map<string, DealChange>();
    for (const [id, intent] of byOpp) {
      const o = opps.get(id);
      if (!o) continue;
      if (o.IsClosed === true) {
        result.closedDeals += 1;
        continue;
      }
      const wanted = this.intentValues(intent);
      const raise = this.priorityChange(str(o[PRIORITY_FIELD]), intent.score);
      if (raise !== undefined) wanted[PRIORITY_FIELD] = raise;
      const policy = applyPolicy(wanted, currentValues(o), [...INTENT_ENTRIES, { property: PRIORITY_FIELD, source: 'intent.tier', policy: 'always', type: 'string' }]);
      if (policy.changes.length === 0) {
        result.unchangedDeals += 1;
        continue;
      }
      oppUpdates.push({ Id: id, ...policy.properties, Leadpipe_Last_Intent_At__c: options.intentAt });
      changed.set(id, { dealId: id, name: str(o.Name), changes: policy.changes, priorityRaised: raise !== undefined });
    }
    const ok = options.dryRun ? new Set(changed.keys()) : await this.update('Opportunity', oppUpdates, failed);
    result.deals = [...changed.values()].filter((d) => ok.has(d.dealId));
    if (failed.length > 0) result.failed = failed;
    return result;
  }

  private intentValues(intent: { score: number; topics: string[] }): Record<string, string> {
    return { Leadpipe_Intent_Score__c: String(intent.score), Leadpipe_Intent_Topics__c: intent.topics.join(TOPIC_SEPARATOR) };
  }

  private priorityChange(current: string | null, score: number): string | undefined {
    const { high, medium, lowerPriority } = this.o.settings.priority;
    const level = score >= high ? 'high' : score >= medium ? 'medium' : undefined;
    const target = level === undefined ? undefined : this.priorityValues[level];
    if (level === undefined || target === undefined) return undefined;
    if (current === null) return target;
    const rankOf = (v: string): number | undefined => (['low', 'medium', 'high'] as const).findIndex((l) => this.priorityValues[l] === v) + 1 || undefined;
    const currentRank = rankOf(current);
    const targetRank = rankOf(target) ?? 0;
    if (currentRank === undefined) return undefined; // a value we do not know was set on purpose
    if (currentRank < targetRank || (lowerPriority && currentRank > targetRank)) return target;
    return undefined;
  }

  /**
   * Updates by Id, 200 per call; returns the ids written. Records locked (UNABLE_TO_LOCK_ROW) are sent
   * again, up to the retry settings; the others Salesforce refused go in `failed` with its message.
   */
  private async update(object: 'Account' | 'Opportunity', records: ReadonlyArray<{ Id: string } & Record<string, string>>, failed: Array<{ id: string; message: string }>): Promise<Set<string>> {
    const { api } = this.o;
    const ok = new Set<string>();
    for (const part of chunks(records, this.o.settings.collectionSize)) {
      let pending = [...part];
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        const sent = pending;
        const results = await api.call(`PATCH /composite/sobjects (${object} update)`, () => api.conn.sobject(object).update(sent, this.dmlOptions()));
        pending = [];
        sent.forEach((r, i) => {
          const res = results[i];
          if (res?.success) {
            ok.add(r.Id);
            return;
          }
          const errors = res?.errors ?? [];
          const { code, message } = recordErrorText(errors);
          if (code === 'UNABLE_TO_LOCK_ROW' && attempt < this.o.settings.retry.maxAttempts) pending.push(r);
          else failed.push({ id: r.Id, message: `Salesforce refused to update ${object} ${r.Id}: ${message}` });
        });
      }
    }
    return ok;
  }
}

const Describe = z.looseObject({
  fields: z.array(
    z.looseObject({
      name: z.string(),
      picklistValues: z
        .array(z.looseObject({ value: z.string(), label: z.string().nullish(), active: z.boolean().optional() }))
        .nullish(),
    }),
  ),
});

const INTENT_ENTRIES: readonly MappingEntry[] = [
  { property: 'Leadpipe_Intent_Score__c', source: 'intent.score', policy: 'always', type: 'number' },
  { property: 'Leadpipe_Intent_Topics__c', source: 'intent.topics', policy: 'always', type: 'string' },
];
