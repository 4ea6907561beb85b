/**
 * Enrichment on create (issue #5): a record the CRM created after a sync — a rep typed a contact, a form
 * made a Lead — for a person whose intent we hold is written at once, the same way a sync would write it
 * (same mapping, `ifEmpty` policy against the record's current values, company, deal priority).
 *
 * A webhook job names records by CRM id, with the hash of the email when the webhook carried it (an email
 * change, a Salesforce Outbound Message); otherwise the record's email is read (one batch call) and
 * hashed here, so no plaintext email is ever queued or stored. Records whose email hashes to no held
 * person cost nothing more.
 */
import { hashEmail } from '../ingest/hash-email';
import { isWritten, type PersonIntent, type PlannedPerson } from '../destinations/destination';
import { BatchObjectsResponse, parseBody } from '../destinations/hubspot/schemas';
import { inQueries } from '../destinations/salesforce/soql';
import { chunks } from '../lib/chunks';
import { fingerprintPayload } from '../mapping/fingerprint';
import { mapPerson } from '../mapping/map-person';
import { createHeldIntent } from '../store/held-intent';
import { createLedger, type LedgerUpsert } from '../store/ledger';
import type { AppContext } from './app-context';
import { openConnectionTarget, type ConnectionTarget } from './connection-target';

export interface EnrichRecord {
  id: string;
  /** `contact` (HubSpot), `Lead` or `Contact` (Salesforce). */
  type: string;
  /** sha256 of the record's email, when the webhook carried the email. */
  emailHash?: string;
}

export interface EnrichJobPayload {
  records: EnrichRecord[];
}

export function isEnrichJobPayload(value: unknown): value is EnrichJobPayload {
  const v = value as Partial<EnrichJobPayload> | null;
  return typeof v === 'object' && v !== null && Array.isArray(v.records) && v.records.every((r) => typeof r === 'object' && r !== null && typeof (r).id === 'string');
}

export interface EnrichResult {
  records: number;
  held: number;
  enriched: number;
  failed: number;
}

/** record id → sha256 of its email, read from the CRM for records the webhook named by id only. */
async function emailHashes(target: ConnectionTarget, records: readonly EnrichRecord[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const missing: EnrichRecord[] = [];
  for (const r of records) {
    if (r.emailHash !== undefined) out.set(r.id, r.emailHash);
    else missing.push(r);
  }
  if (missing.length === 0) return out;
  if (target.hubspot) {
    const { client, api } = target.hubspot;
    const endpoint = 'POST /crm/v3/objects/contacts/batch/read';
    for (const part of chunks(missing.map((r) => r.id), 100)) {
      const raw = await api.call(endpoint, () => client.crm.contacts.batchApi.read({ inputs: part.map((id) => ({ id })), properties: ['email'], propertiesWithHistory: [] }, false));
      for (const contact of parseBody(BatchObjectsResponse, raw, endpoint).results) {
        const email = contact.properties.email?.trim();
        if (email) out.set(contact.id, hashEmail(email));
      }
    }
  } else if (target.salesforce) {
    for (const type of ['Lead', 'Contact']) {
      const ids = missing.filter((r) => r.type === type).map((r) => r.id);
      if (ids.length === 0) continue;
      const rows = await target.salesforce.api.queryMany<{ Id: string; Email?: string | null }>(inQueries(type, ['Id', 'Email'], 'Id', ids), type);
      for (const row of rows) if (typeof row.Email === 'string' && row.Email.trim() !== '') out.set(row.Id, hashEmail(row.Email));
    }
  }
  return out;
}

export async function runEnrichJob(ctx: AppContext, connectionId: string, payload: EnrichJobPayload): Promise<EnrichResult> {
  const result: EnrichResult = { records: payload.records.length, held: 0, enriched: 0, failed: 0 };
  const heldIntent = createHeldIntent(ctx.db, ctx.key, { now: ctx.now });
  // Nothing held for this connection: nothing to look up in the CRM either.
  if ((await heldIntent.count(connectionId)) === 0) return result;
  const target = await openConnectionTarget(ctx, connectionId);
  const hashes = await emailHashes(target, payload.records);
  const held = await heldIntent.findByEmailHash(connectionId, [...hashes.values()]);
  const people = [...new Map([...held.values()].map((h) => [h.hashedEmail, h])).values()];
  result.held = people.length;
  if (people.length === 0) return result;

  const { destination, mapping } = target;
  await destination.prepare();
  const ledger = createLedger(ctx.db, { now: ctx.now });
  const known = await ledger.getMany(connectionId, destination.name, people.map((h) => h.hashedEmail));
  const logger = ctx.logger.child({ connectionId });
  for (const group of chunks(people, destination.batchSize)) {
    const planned: PlannedPerson[] = group.map((h) => {
      const mapped = mapPerson(h.person, mapping, h.context);
      return { key: h.hashedEmail, person: h.person, mapped, fingerprint: fingerprintPayload(mapped, mapping.volatile), previous: known.get(h.hashedEmail) };
    });
    const intentAt = group.map((h) => h.context.intentAt).sort().at(-1) ?? ctx.now().toISOString();
    const batch = await destination.writeBatch(planned, { dryRun: false, intentAt });
    const written: LedgerUpsert[] = [];
    const intents: PersonIntent[] = [];
    for (const outcome of batch.outcomes) {
      const p = planned.find((x) => x.key === outcome.key);
      if (!p) continue;
      if (!isWritten(outcome) || outcome.crmRecordId === null) {
        result.failed += 1;
        logger.warn('enrichment of a held person did not land', { code: isWritten(outcome) ? 'NO_RECORD_ID' : outcome.code });
        continue;
      }
      const context = group.find((h) => h.hashedEmail === p.key)?.context;
      written.push({
        hashedEmail: p.key,
        crmRecordId: outcome.crmRecordId,
        crmObjectType: outcome.crmObjectType,
        crmCompanyId: outcome.crmCompanyId,
        payloadFingerprint: p.fingerprint,
        lastScore: p.person.score,
        lastRunId: context?.runId ?? null,
        lastSyncRunId: null,
        lastTopics: p.person.topics.slice(0, ctx.config.sync.maxTopics),
      });
      if (p.person.score >= destination.minIntentScore) {
        intents.push({ crmRecordId: outcome.crmRecordId, crmObjectType: outcome.crmObjectType, crmCompanyId: outcome.crmCompanyId, score: p.person.score, topics: p.person.topics });
      }
    }
    await ctx.db.transaction().execute(async (trx) => {
      await createLedger(trx, { now: ctx.now }).upsertMany(connectionId, destination.name, written);
      await createHeldIntent(trx, ctx.key, { now: ctx.now }).release(connectionId, written.map((w) => w.hashedEmail));
    });
    if (intents.length > 0) await destination.prioritize(intents, { dryRun: false, intentAt });
    result.enriched += written.length;
  }
  logger.info('enriched records created in the CRM from held intent', { ...result });
  return result;
}
