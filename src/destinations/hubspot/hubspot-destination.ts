/**
 * The HubSpot destination: contacts, companies, associations and deals, on `@hubspot/api-client`.
 *
 * One `writeBatch` (≤ `hubspot.peoplePerWrite` people, default 400: several API batches planned together,
 * so the smaller follow-up calls below fill up instead of going out a few records at a time):
 * 1. Read: contacts batch read by each person's first email (100 per call); people not found who have
 *    other emails are read again by those (fewer, full calls). The values read feed the `ifEmpty`
 *    policy, and a person whose business email is unknown but whose personal email is known updates that
 *    contact instead of creating a second one (DESIGN.md, identity).
 * 2. Plan: the mapping's policies against the values read (apply-policy.ts). Nothing to change on an
 *    existing contact → no write. Two people of the batch on one contact → the second is skipped with
 *    DUPLICATE_CONTACT (HubSpot rejects two inputs with one key).
 * 3. Write: batch upserts (100 per call) by email (the email the contact was found under, else the first email),
 *    `objectWriteTraceId` = the person's hashed email, so every result and error maps back to a person.
 *    A 207 is read per record; a whole-batch 400 is split in halves until the bad record is alone.
 * 4. Companies (companies.ts), then contact → company associations, v4 batch, only for pairs the ledger
 *    does not already hold.
 * A dry run does steps 1–2 and the company lookups (reads only) and writes nothing.
 */
import type { Client } from '@hubspot/api-client';
import type { HubspotSettings } from '../../config';
import { SyncError } from '../../lib/errors';
import { chunks } from '../../lib/chunks';
import type { Logger } from '../../lib/logger';
import { applyPolicy } from '../../mapping/apply-policy';
import type { Mapping } from '../../mapping/mapping-schema';
import type { CompanyCache } from '../../store/company-cache';
import { isWritten, notInCrm, type BatchResult, type CreatePolicy, type CrmDestination, type PersonIntent, type PlannedPerson, type PrioritizeResult, type WriteOptions, type WriteOutcome } from '../destination';
import { CompanyResolver, normalizeCompanyDomain, type ResolvedCompany } from './companies';
import { DealPrioritizer, priorityOptions } from './deals';
import type { HubspotApi } from './hubspot-api';
import { AssociationWriteResponse, BatchObjectsResponse, BatchUpsertResponse, parseBody, PERMANENT_CATEGORIES, type Property, type SimpleObject, type StandardError } from './schemas';
import { customProperties, listProperties, standardProperties, type HubspotObject } from './setup';

export interface HubspotDestinationOptions {
  client: Client;
  api: HubspotApi;
  /** Portal id. */
  accountId: string;
  connectionId: string;
  mapping: Mapping;
  settings: HubspotSettings;
  companyCache: CompanyCache;
  maxTopics: number;
  /** Who may be created when HubSpot has no contact for them (default: everyone). */
  createPolicy?: CreatePolicy;
  logger?: Logger;
}

interface ContactInput {
  planned: PlannedPerson;
  /** The email the upsert is keyed on. */
  email: string;
  existing: SimpleObject | undefined;
  properties: Record<string, string>;
  /** Was in a call sent more than once before this one: a send whose answer was lost may have created it. */
  resent?: boolean;
}


function errorText(error: StandardError): string {
  const details = (error.errors ?? []).map((e) => e.message).filter((m): m is string => typeof m === 'string' && m !== error.message);
  return [error.message, ...details].filter((m) => m !== '').join('; ') || `HubSpot error ${error.category ?? ''}`.trim();
}

export class HubspotDestination implements CrmDestination {
  readonly name = 'hubspot' as const;
  readonly accountId: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly minIntentScore: number;
  /** Inputs per HubSpot batch call (the API maximum, 100). */
  private readonly apiBatch: number;
  /** Company domains already counted in this sync (a company is matched or created once per sync). */
  private readonly countedDomains = new Set<string>();
  private prioritizer: DealPrioritizer | undefined;
  private readonly companies: CompanyResolver;
  private readonly contactProperties: string[];

  constructor(private readonly o: HubspotDestinationOptions) {
    this.accountId = o.accountId;
    this.batchSize = o.settings.peoplePerWrite;
    // Twice the requests allowed in flight: while a batch plans or reads an answer, another's request takes the slot.
    this.concurrency = 2 * o.settings.maxConcurrent;
    this.minIntentScore = o.settings.priority.minScore;
    this.apiBatch = o.settings.batchSize;
    this.contactProperties = [...new Set(['email', ...o.mapping.contact.map((e) => e.property)])];
    this.companies = new CompanyResolver({
      client: o.client,
      api: o.api,
      mapping: o.mapping,
      cache: o.companyCache,
      connectionId: o.connectionId,
      batchSize: o.settings.batchSize,
      searchValuesPerFilter: o.settings.searchValuesPerFilter,
      ...(o.logger && { logger: o.logger }),
    });
  }

  get stats(): HubspotApi['stats'] {
    return this.o.api.stats;
  }

  async prepare(): Promise<void> {
    const { client, api, mapping } = this.o;
    const custom = customProperties(mapping);
    const standard = standardProperties(mapping);
    const missing: string[] = [];
    let dealProperties = new Map<string, Property>();
    for (const object of ['contacts', 'companies', 'deals'] as HubspotObject[]) {
      const existing = await listProperties(client, api, object);
      if (object === 'deals') dealProperties = existing;
      for (const name of [...custom[object].map((p) => p.name), ...standard[object]]) if (!existing.has(name)) missing.push(`${object}.${name}`);
    }
    if (missing.length > 0) {
      throw new SyncError(
        'CRM_SETUP_REQUIRED',
        `HubSpot portal ${this.accountId} is missing properties orbit-sync writes: ${missing.join(', ')}. Run \`orbit-sync setup hubspot\` first.`,
      );
    }
    const priority = priorityOptions(dealProperties.get('hs_priority'));
    if (priority.values.high === undefined && priority.values.medium === undefined) {
      this.o.logger?.warn('hs_priority has no option named high or medium: deals get intent but no priority', {});
    }
    this.prioritizer = new DealPrioritizer({
      client,
      api,
      settings: this.o.settings,
      maxTopics: this.o.maxTopics,
      priority,
      ...(this.o.logger && { logger: this.o.logger }),
    });
  }

  async prioritize(intents: readonly PersonIntent[], options: WriteOptions): Promise<PrioritizeResult> {
    if (!this.prioritizer) throw new SyncError('INTERNAL', 'HubspotDestination.prepare() must run before prioritize()');
    return this.prioritizer.prioritize(intents, options);
  }

  async writeBatch(batch: readonly PlannedPerson[], options: WriteOptions): Promise<BatchResult> {
    if (batch.length > this.batchSize) throw new SyncError('INTERNAL', `writeBatch takes at most ${this.batchSize} people, got ${batch.length}`);
    const outcomes = new Map<string, WriteOutcome>();
    const found = await this.readContacts(batch);

    // Plan each person against the contact found for them.
    const inputs: ContactInput[] = [];
    const claimed = new Map<string, string>();
    for (const planned of batch) {
      const hit = found.get(planned.key);
      if (!hit && this.o.createPolicy && !this.o.createPolicy(planned)) {
        outcomes.set(planned.key, notInCrm(planned.key, 'HubSpot'));
        continue;
      }
      const email = hit?.email ?? planned.person.emails[0]?.address ?? '';
      const claimKey = hit ? `id:${hit.contact.id}` : `email:${email}`;
      const owner = claimed.get(claimKey);
      if (owner !== undefined) {
        outcomes.set(planned.key, {
          kind: 'skipped',
          key: planned.key,
          code: 'DUPLICATE_CONTACT',
          message: `This person matches the same HubSpot ${hit ? `contact ${hit.contact.id}` : 'email'} as another person of the run (line ${owner}); only the first is written.`,
          retryable: false,
        });
        continue;
      }
      claimed.set(claimKey, String(planned.person.line));
      const policy = applyPolicy(planned.mapped.contact, hit?.contact.properties, this.o.mapping.contact);
      inputs.push({ planned, email, existing: hit?.contact, properties: policy.properties });
      outcomes.set(planned.key, {
        kind: hit ? (Object.keys(policy.properties).length > 0 ? 'updated' : 'unchanged') : 'created',
        key: planned.key,
        crmRecordId: hit?.contact.id ?? null,
        crmObjectType: 'contact',
        crmCompanyId: null,
        changes: policy.changes,
        kept: policy.kept,
      });
    }

    if (!options.dryRun) {
      const toWrite = inputs.filter((i) => !i.existing || Object.keys(i.properties).length > 0);
      for (const part of chunks(toWrite, this.apiBatch)) await this.upsertContacts(part, outcomes);
    }

    // Companies and associations of the people who now have (or would have) a contact.
    const result: BatchResult = { outcomes: [], companies: { matched: 0, created: 0 }, associations: 0 };
    const withCompany = inputs.filter((i) => i.planned.mapped.company !== undefined && outcomes.get(i.planned.key)?.kind !== 'failed');
    const requests = withCompany.flatMap((i) => {
      const domain = normalizeCompanyDomain(i.planned.person.company.domain);
      return domain ? [{ domain, properties: i.planned.mapped.company as Record<string, string> }] : [];
    });
    let companies = new Map<string, ResolvedCompany>();
    let refused = new Map<string, string>();
    if (requests.length > 0) {
      ({ companies, refused } = await this.companies.resolve(requests, options.dryRun));
      for (const [domain, c] of companies) {
        if (this.countedDomains.has(domain)) continue;
        this.countedDomains.add(domain);
        result.companies[c.action] += 1;
      }
    }
    const pairs: Array<{ key: string; contactId: string; companyId: string }> = [];
    for (const input of withCompany) {
      const outcome = outcomes.get(input.planned.key);
      const domain = normalizeCompanyDomain(input.planned.person.company.domain);
      const company = domain === undefined ? undefined : companies.get(domain);
      const refusal = domain === undefined ? undefined : refused.get(domain);
      if (outcome && isWritten(outcome) && refusal !== undefined) {
        // The contact is written but its company is not: not done, so the next sync writes it again.
        this.fail(outcomes, input.planned.key, 'CRM_RECORD_REJECTED', refusal, true);
        continue;
      }
      if (!outcome || !isWritten(outcome) || !company || domain === undefined) continue;
      outcome.company = { domain, crmCompanyId: company.crmCompanyId, action: company.action };
      outcome.crmCompanyId = company.crmCompanyId;
      if (outcome.crmRecordId !== null && company.crmCompanyId !== null && input.planned.previous?.crmCompanyId !== company.crmCompanyId) {
        pairs.push({ key: input.planned.key, contactId: outcome.crmRecordId, companyId: company.crmCompanyId });
      }
    }
    if (options.dryRun) result.associations = pairs.length + withCompany.filter((i) => outcomes.get(i.planned.key)?.kind === 'created').length;
    else result.associations = await this.associate(pairs, outcomes);

    result.outcomes = batch.map((p) => outcomes.get(p.key) as WriteOutcome);
    return result;
  }

  /** person key → the contact found and the email it was found under. */
  private async readContacts(batch: readonly PlannedPerson[]): Promise<Map<string, { contact: SimpleObject; email: string }>> {
    const found = new Map<string, { contact: SimpleObject; email: string }>();
    const first = await this.readByEmail(batch.map((p) => p.person.emails[0]?.address).filter((e): e is string => e !== undefined));
    const retry: Array<{ key: string; emails: string[] }> = [];
    for (const p of batch) {
      const primary = p.person.emails[0]?.address;
      const contact = primary === undefined ? undefined : first.get(primary);
      if (contact && primary !== undefined) found.set(p.key, { contact, email: primary });
      else if (p.person.emails.length > 1) retry.push({ key: p.key, emails: p.person.emails.slice(1).map((e) => e.address) });
    }
    if (retry.length > 0) {
      const second = await this.readByEmail(retry.flatMap((r) => r.emails));
      for (const r of retry) {
        const email = r.emails.find((e) => second.has(e));
        const contact = email === undefined ? undefined : second.get(email);
        if (contact && email !== undefined) found.set(r.key, { contact, email });
      }
    }
    return found;
  }

  /** Contacts by (lower-case) email; emails HubSpot does not know are absent. */
  private async readByEmail(emails: readonly string[]): Promise<Map<string, SimpleObject>> {
    const { client, api } = this.o;
    const endpoint = 'POST /crm/v3/objects/contacts/batch/read';
    const byEmail = new Map<string, SimpleObject>();
    for (const part of chunks([...new Set(emails)], this.apiBatch)) {
      const raw = await api.call(endpoint, () =>
        client.crm.contacts.batchApi.read({ idProperty: 'email', inputs: part.map((id) => ({ id })), properties: this.contactProperties, propertiesWithHistory: [] }, false),
      );
      const body = parseBody(BatchObjectsResponse, raw, endpoint);
      for (const contact of body.results) {
        const email = contact.properties.email?.trim().toLowerCase();
        if (email) byEmail.set(email, contact);
      }
    }
    return byEmail;
  }

  /**
   * One batch upsert. Inputs HubSpot refuses for a passing reason (a 207 error not about the data) are sent
   * again at once, up to `hubspot.retry.maxAttempts` in all; the rest of the refusals fail their person.
   */
  private async upsertContacts(inputs: readonly ContactInput[], outcomes: Map<string, WriteOutcome>, attempt = 1): Promise<void> {
    if (inputs.length === 0) return;
    const { client, api } = this.o;
    const endpoint = 'POST /crm/v3/objects/contacts/batch/upsert';
    let body: ReturnType<typeof BatchUpsertResponse.parse>;
    let sends = 0;
    try {
      const raw = await api.call(endpoint, () => {
        sends += 1;
        return client.crm.contacts.batchApi.upsert({
          inputs: inputs.map((i) => ({ idProperty: 'email', id: i.email, objectWriteTraceId: i.planned.key, properties: i.properties })),
        });
      });
      body = parseBody(BatchUpsertResponse, raw, endpoint);
    } catch (err) {
      if (!(err instanceof SyncError)) throw err;
      // A whole-batch refusal of one bad record: halve until it stands alone (reference §2.1, "split it and retry").
      if (err.code === 'BAD_REQUEST' && inputs.length > 1) {
        const mid = Math.ceil(inputs.length / 2);
        const halves = inputs.map((i) => ({ ...i, resent: i.resent === true || sends > 1 }));
        await this.upsertContacts(halves.slice(0, mid), outcomes);
        await this.upsertContacts(halves.slice(mid), outcomes);
        return;
      }
      if (err.code === 'BAD_REQUEST' || err.code === 'BAD_RESPONSE' || (err.retryable && err.code !== 'RATE_LIMITED')) {
        for (const input of inputs) this.fail(outcomes, input.planned.key, err.code === 'BAD_REQUEST' ? 'CRM_RECORD_REJECTED' : 'CRM_BATCH_FAILED', err.message, err.code !== 'BAD_REQUEST');
        return;
      }
      throw err; // daily limit, auth, setup: stop the sync
    }

    const pending = new Map(inputs.map((i) => [i.planned.key, i]));
    const byEmail = new Map(inputs.map((i) => [i.email, i.planned.key]));
    const byId = new Map(inputs.filter((i) => i.existing).map((i) => [i.existing?.id as string, i.planned.key]));
    for (const result of body.results) {
      const key =
        (result.objectWriteTraceId !== undefined && pending.has(result.objectWriteTraceId) ? result.objectWriteTraceId : undefined) ??
        byEmail.get(result.properties.email?.toLowerCase() ?? '') ??
        byId.get(result.id);
      if (key === undefined) continue;
      const input = pending.get(key);
      pending.delete(key);
      const outcome = outcomes.get(key);
      if (!input || !outcome || !isWritten(outcome)) continue;
      outcome.crmRecordId = result.id;
      // A contact planned as new (kind 'created') that the upsert found existing: made by someone else since
      // our read ('updated') — or, when it was sent more than once, by an earlier send whose answer was lost
      // (a timeout, a dropped connection, a 5xx after the write): still created by this sync.
      if ((result._new ?? result.new) === true) outcome.kind = 'created';
      else if (!input.existing && sends === 1 && input.resent !== true) outcome.kind = 'updated';
    }
    // Errors: by trace id, by the email in their context or message; what is left is shared by the rest.
    const unattributed: StandardError[] = [];
    const again: ContactInput[] = [];
    for (const error of body.errors ?? []) {
      const ids = [...(error.context?.objectWriteTraceId ?? []), ...(error.context?.id ?? []), ...(error.context?.ids ?? [])].map((v) => v.toLowerCase());
      const key =
        ids.map((id) => (pending.has(id) ? id : byEmail.get(id))).find((k) => k !== undefined && pending.has(k)) ??
        [...pending.values()].find((i) => error.message.toLowerCase().includes(i.email))?.planned.key;
      if (key === undefined) {
        unattributed.push(error);
        continue;
      }
      const input = pending.get(key);
      pending.delete(key);
      const permanent = PERMANENT_CATEGORIES.has(error.category ?? '');
      if (!permanent && input && attempt < this.o.settings.retry.maxAttempts) again.push({ ...input, resent: input.resent === true || sends > 1 });
      else this.fail(outcomes, key, 'CRM_RECORD_REJECTED', errorText(error), !permanent);
    }
    for (const key of pending.keys()) {
      const message = unattributed.length > 0 ? unattributed.map(errorText).join(' | ') : 'HubSpot returned no result for this record';
      const retryable = unattributed.length === 0 || unattributed.some((e) => !PERMANENT_CATEGORIES.has(e.category ?? ''));
      this.fail(outcomes, key, unattributed.length > 0 ? 'CRM_RECORD_REJECTED' : 'CRM_BATCH_FAILED', message, retryable);
    }
    await this.upsertContacts(again, outcomes, attempt + 1);
  }

  private fail(outcomes: Map<string, WriteOutcome>, key: string, code: string, message: string, retryable: boolean): void {
    outcomes.set(key, { kind: 'failed', key, code, message, retryable });
  }

  private async associate(pairs: ReadonlyArray<{ key: string; contactId: string; companyId: string }>, outcomes: Map<string, WriteOutcome>): Promise<number> {
    const { client, api } = this.o;
    const endpoint = 'POST /crm/v4/associations/contacts/companies/batch/associate/default';
    let made = 0;
    for (const part of chunks(pairs, this.apiBatch)) {
      const raw = await api.call(endpoint, () =>
        client.crm.associations.v4.batchApi.createDefault('contacts', 'companies', {
          inputs: part.map((p) => ({ _from: { id: p.contactId }, to: { id: p.companyId } })),
        }),
      );
      const body = parseBody(AssociationWriteResponse, raw, endpoint);
      const failed = (body.errors ?? []).length;
      made += Math.max(0, part.length - failed);
      if (failed > 0) {
        // Without the association the person is written but not linked: keep the old company id in the
        // ledger so the next sync tries the association again.
        for (const p of part) {
          const outcome = outcomes.get(p.key);
          if (outcome && isWritten(outcome)) outcome.crmCompanyId = null;
        }
        for (const error of body.errors ?? []) this.o.logger?.warn('association refused by HubSpot', { category: error.category, message: error.message });
      }
    }
    return made;
  }
}
