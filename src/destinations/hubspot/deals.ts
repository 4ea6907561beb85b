/**
 * Prioritize: open deals of people showing intent get the intent and a raised `hs_priority`.
 *
 * 1. Deals of the people's contacts and companies through v4 association batch reads (≤ 1,000 inputs).
 * 2. Per deal: the highest score and the union of topics of every such person (and company).
 * 3. Deals read in batches of 100: closed ones (`hs_is_closed`) are never touched.
 * 4. `hs_priority`'s options are read from the portal (prepare), not assumed: the value whose name or
 *    label says high / medium / low. A score ≥ `priority.high` targets high, ≥ `priority.medium`
 *    medium. A priority is only raised (a rep's `high` stays `high`), unless `lowerPriority` is set.
 * 5. A deal is written only when something it shows changes; `leadpipe_last_intent_at` alone (it moves
 *    with every run) is not a change, so re-running the same people writes no deal.
 */
import type { Client } from '@hubspot/api-client';
import type { HubspotSettings } from '../../config';
import { applyPolicy, type FieldChange } from '../../mapping/apply-policy';
import type { MappingEntry } from '../../mapping/mapping-schema';
import { TOPIC_SEPARATOR } from '../../mapping/map-person';
import { chunks } from '../../lib/chunks';
import type { Logger } from '../../lib/logger';
import type { DealChange, PersonIntent, PrioritizeResult } from '../destination';
import type { HubspotApi } from './hubspot-api';
import { AssociationReadResponse, BatchObjectsResponse, parseBody, PERMANENT_CATEGORIES, type Property } from './schemas';

export const ASSOCIATION_READ_LIMIT = 1000;

export type PriorityLevel = 'low' | 'medium' | 'high';

/** The portal's hs_priority option value for each level we use, and the rank of every option value. */
export interface PriorityOptions {
  values: Partial<Record<PriorityLevel, string>>;
  rank: Map<string, number>;
}

const LEVEL_RANK: Record<PriorityLevel, number> = { low: 1, medium: 2, high: 3 };

/** Reads hs_priority's options: each level is the option whose value or label names it. */
export function priorityOptions(property: Property | undefined): PriorityOptions {
  const values: Partial<Record<PriorityLevel, string>> = {};
  const rank = new Map<string, number>();
  for (const option of property?.options ?? []) {
    const text = `${option.value} ${option.label}`.toLowerCase();
    const level = (['high', 'medium', 'low'] as const).find((l) => new RegExp(`\\b${l}\\b`).test(text));
    if (level === undefined) continue;
    values[level] ??= option.value;
    rank.set(option.value, LEVEL_RANK[level]);
  }
  return { values, rank };
}

const DEAL_ENTRIES: readonly MappingEntry[] = [
  { property: 'leadpipe_intent_score', source: 'intent.score', policy: 'always', type: 'number' },
  { property: 'leadpipe_intent_topics', source: 'intent.topics', policy: 'always', type: 'string' },
  { property: 'leadpipe_last_intent_at', source: 'context.intentAt', policy: 'always', type: 'datetime' },
  { property: 'hs_priority', source: 'intent.tier', policy: 'always', type: 'enumeration', options: ['low', 'medium', 'high'] },
];

export interface DealPrioritizerOptions {
  client: Client;
  api: HubspotApi;
  settings: HubspotSettings;
  maxTopics: number;
  priority: PriorityOptions;
  logger?: Logger;
}

interface DealIntent {
  score: number;
  topics: string[];
}

function addIntent(target: Map<string, DealIntent>, id: string, score: number, topics: readonly string[], maxTopics: number): void {
  const current = target.get(id) ?? { score: 0, topics: [] };
  current.score = Math.max(current.score, score);
  for (const topic of topics) {
    if (current.topics.length >= maxTopics) break;
    if (!current.topics.some((t) => t.toLowerCase() === topic.toLowerCase())) current.topics.push(topic);
  }
  target.set(id, current);
}

export class DealPrioritizer {
  constructor(private readonly o: DealPrioritizerOptions) {}

  targetLevel(score: number): PriorityLevel | undefined {
    const { high, medium } = this.o.settings.priority;
    if (score >= high) return 'high';
    if (score >= medium) return 'medium';
    return undefined;
  }

  async prioritize(intents: readonly PersonIntent[], options: { dryRun: boolean; intentAt: string }): Promise<PrioritizeResult> {
    const { maxTopics } = this.o;
    const byContact = new Map<string, DealIntent>();
    const byCompany = new Map<string, DealIntent>();
    // Highest scores first, so a deal's topics start with those of its most engaged people.
    const sorted = [...intents].sort((a, b) => b.score - a.score);
    for (const intent of sorted) {
      addIntent(byContact, intent.crmRecordId, intent.score, intent.topics, maxTopics);
      if (intent.crmCompanyId !== null) addIntent(byCompany, intent.crmCompanyId, intent.score, intent.topics, maxTopics);
    }
    const deals = new Map<string, DealIntent>();
    for (const [from, source] of [['contacts', byContact], ['companies', byCompany]] as const) {
      const links = await this.associatedDeals(from, [...source.keys()]);
      for (const [id, dealIds] of links) {
        const intent = source.get(id);
        if (!intent) continue;
        for (const dealId of dealIds) addIntent(deals, dealId, intent.score, intent.topics, maxTopics);
      }
    }
    return this.apply(deals, options);
  }

  private async associatedDeals(from: 'contacts' | 'companies', ids: readonly string[]): Promise<Map<string, string[]>> {
    const { client, api } = this.o;
    const endpoint = `POST /crm/v4/associations/${from}/deals/batch/read`;
    const links = new Map<string, string[]>();
    for (const part of chunks(ids, ASSOCIATION_READ_LIMIT)) {
      const raw = await api.call(endpoint, () => client.crm.associations.v4.batchApi.getPage(from, 'deals', { inputs: part.map((id) => ({ id })) }));
      const body = parseBody(AssociationReadResponse, raw, endpoint);
      for (const result of body.results) {
        const id = (result._from ?? result.from)?.id;
        if (id !== undefined) links.set(id, [...(links.get(id) ?? []), ...result.to.map((t) => t.toObjectId)]);
      }
    }
    return links;
  }

  private async apply(deals: Map<string, DealIntent>, options: { dryRun: boolean; intentAt: string }): Promise<PrioritizeResult> {
    const { client, api, settings } = this.o;
    const result: PrioritizeResult = { deals: [], unchangedDeals: 0, closedDeals: 0 };
    const readEndpoint = 'POST /crm/v3/objects/deals/batch/read';
    const updateEndpoint = 'POST /crm/v3/objects/deals/batch/update';
    const properties = ['dealname', 'dealstage', 'hs_is_closed', ...DEAL_ENTRIES.map((e) => e.property)];
    for (const part of chunks([...deals.keys()], settings.batchSize)) {
      const raw = await api.call(readEndpoint, () =>
        client.crm.deals.batchApi.read({ inputs: part.map((id) => ({ id })), properties, propertiesWithHistory: [] }, false),
      );
      const body = parseBody(BatchObjectsResponse, raw, readEndpoint);
      const updates: Array<{ id: string; properties: Record<string, string> }> = [];
      const changed: DealChange[] = [];
      for (const deal of body.results) {
        if (deal.properties.hs_is_closed === 'true') {
          result.closedDeals += 1;
          continue;
        }
        const intent = deals.get(deal.id);
        if (!intent) continue;
        const wanted: Record<string, string> = {
          leadpipe_intent_score: String(intent.score),
          leadpipe_intent_topics: intent.topics.join(TOPIC_SEPARATOR),
        };
        const raise = this.priorityChange(deal.properties.hs_priority ?? null, intent.score);
        if (raise !== undefined) wanted.hs_priority = raise;
        const policy = applyPolicy(wanted, deal.properties, DEAL_ENTRIES);
        if (policy.changes.length === 0) {
          result.unchangedDeals += 1;
          continue;
        }
        const changes: FieldChange[] = [...policy.changes];
        const props = { ...policy.properties };
        if (deal.properties.leadpipe_last_intent_at !== options.intentAt) {
          props.leadpipe_last_intent_at = options.intentAt;
          changes.push({ property: 'leadpipe_last_intent_at', before: deal.properties.leadpipe_last_intent_at ?? null, after: options.intentAt, policy: 'always' });
        }
        updates.push({ id: deal.id, properties: props });
        changed.push({ dealId: deal.id, name: deal.properties.dealname ?? null, changes, priorityRaised: raise !== undefined });
      }
      if (!options.dryRun && updates.length > 0) {
        const ok = new Set<string>();
        let pending = updates;
        // A deal refused for a passing reason (a 207 error not about the data) is sent again, up to the
        // retry settings; what is still refused is reported, and the sync ends partial.
        for (let attempt = 1; pending.length > 0; attempt += 1) {
          const inputs = pending;
          const updated = parseBody(BatchObjectsResponse, await api.call(updateEndpoint, () => client.crm.deals.batchApi.update({ inputs })), updateEndpoint);
          for (const d of updated.results) ok.add(d.id);
          const again = new Set<string>();
          for (const error of updated.errors ?? []) {
            const ids = error.context?.id ?? error.context?.ids ?? [];
            const transient = !PERMANENT_CATEGORIES.has(error.category ?? '') && attempt < this.o.settings.retry.maxAttempts;
            for (const id of ids) {
              if (transient) again.add(id);
              else (result.failed ??= []).push({ id, message: `HubSpot refused to update deal ${id}: ${error.message ?? error.category ?? 'no message'}` });
            }
            if (ids.length === 0) this.o.logger?.warn('deal update refused by HubSpot', { category: error.category, message: error.message });
          }
          pending = inputs.filter((u) => again.has(u.id));
        }
        result.deals.push(...changed.filter((d) => ok.has(d.dealId)));
      } else {
        result.deals.push(...changed);
      }
    }
    return result;
  }

  /** The hs_priority value to write, or undefined to leave the deal's priority as it is. */
  private priorityChange(current: string | null, score: number): string | undefined {
    const level = this.targetLevel(score);
    if (level === undefined) return undefined;
    const target = this.o.priority.values[level];
    if (target === undefined) return undefined;
    if (current === null || current.trim() === '') return target;
    const currentRank = this.o.priority.rank.get(current);
    const targetRank = LEVEL_RANK[level];
    // An option we do not recognize was set by a person on purpose: leave it.
    if (currentRank === undefined) return undefined;
    if (currentRank < targetRank) return target;
    if (currentRank > targetRank && this.o.settings.priority.lowerPriority) return target;
    return undefined;
  }
}
