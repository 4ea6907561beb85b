/**
 * Companies of a batch of people: found by domain, created when missing, enriched with `ifEmpty` fields.
 *
 * 1. The company cache (store) answers domains resolved by earlier syncs of this connection: no search;
 *    they are read by id (one batch read per 100) to fill their empty fields as in 3.
 * 2. The rest are searched by `domain IN (…)` (search limiter, ≤ 5/s; chunks of
 *    `searchValuesPerFilter` values; 200 per page). Where a portal holds several companies with one
 *    domain, the oldest wins, so every sync picks the same one.
 * 3. Found companies get the mapping's empty fields filled (batch update by id, only when something
 *    changes); the unique `leadpipe_company_key` is filled the same way.
 * 4. Missing companies are upserted on `leadpipe_company_key` (reference/hubspot.md §3): a retried or
 *    resumed create finds the company it made before instead of making a second one.
 * A company HubSpot refuses to create or enrich for a passing reason (a 207 error not about the data) is
 * returned as `refused`: its people are not done, and a later sync tries again.
 */
import type { Client } from '@hubspot/api-client';
import { FilterOperatorEnum, type PublicObjectSearchRequest } from '@hubspot/api-client/lib/codegen/crm/companies';
import { applyPolicy } from '../../mapping/apply-policy';
import type { Mapping } from '../../mapping/mapping-schema';
import type { CompanyCache } from '../../store/company-cache';
import { chunks } from '../../lib/chunks';
import { KeyTurns } from '../../lib/key-turns';
import type { Logger } from '../../lib/logger';
import type { HubspotApi } from './hubspot-api';
import { BatchObjectsResponse, BatchUpsertResponse, parseBody, PERMANENT_CATEGORIES, SearchResponse, type SimpleObject } from './schemas';
import { COMPANY_KEY_PROPERTY } from './setup';

export interface CompanyRequest {
  domain: string;
  /** The mapped company properties of the first person of the batch at that domain. */
  properties: Record<string, string>;
}

export interface ResolvedCompany {
  crmCompanyId: string | null;
  action: 'matched' | 'created';
}

export interface CompanyResolverOptions {
  client: Client;
  api: HubspotApi;
  mapping: Mapping;
  cache: CompanyCache;
  connectionId: string;
  batchSize: number;
  searchValuesPerFilter: number;
  logger?: Logger;
}

/** HubSpot may hold `WWW.Acme.com`; people carry `acme.com`. */
export function normalizeCompanyDomain(domain: string | null | undefined): string | undefined {
  const d = (domain ?? '').trim().toLowerCase().replace(/^https?:\/\//, '').replace(/^www\./, '').replace(/\/.*$/, '');
  return d === '' ? undefined : d;
}

function older(a: SimpleObject, b: SimpleObject): SimpleObject {
  const ta = Date.parse(a.properties.createdate ?? '');
  const tb = Date.parse(b.properties.createdate ?? '');
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta < tb ? a : b;
  return Number(a.id) <= Number(b.id) ? a : b;
}

export interface ResolvedCompanies {
  companies: Map<string, ResolvedCompany>;
  /**
   * Domains whose company HubSpot refused to create or enrich for a passing reason (a 207 error that is
   * not about the data): the people at them are not done, and a later sync tries again. Domain → message.
   */
  refused: Map<string, string>;
}

interface WriteError {
  category?: string | undefined;
  message?: string | undefined;
  context?: Record<string, string[] | undefined> | undefined;
}

export class CompanyResolver {
  /** Company id → its values as this sync last saw or wrote them (so a company is read at most once a sync). */
  private readonly known = new Map<string, SimpleObject['properties']>();

  /** Resolves of batches in flight, one at a time per domain. */
  private readonly byDomain = new KeyTurns();

  constructor(private readonly o: CompanyResolverOptions) {}

  /**
   * Batches written at once never resolve the same domain at the same time: the later one waits, then finds
   * the company the earlier one matched or created (in the cache) instead of searching and creating again.
   */
  async resolve(requests: readonly CompanyRequest[], dryRun: boolean): Promise<ResolvedCompanies> {
    return this.byDomain.run(
      requests.map((r) => r.domain),
      () => this.resolveNow(requests, dryRun),
    );
  }

  private async resolveNow(requests: readonly CompanyRequest[], dryRun: boolean): Promise<ResolvedCompanies> {
    const { cache, connectionId } = this.o;
    const byDomain = new Map<string, CompanyRequest>();
    for (const r of requests) if (!byDomain.has(r.domain)) byDomain.set(r.domain, r);
    const resolved = new Map<string, ResolvedCompany>();
    const cached = await cache.getMany(connectionId, byDomain.keys());
    const updates: Array<{ id: string; domain: string; properties: Record<string, string> }> = [];
    // A cached company gets the same empty-field filling as a found one, so its fields do not depend on
    // which of its people happened to be written first: its values are read by id (no search) the first
    // time this sync meets it.
    await this.readByIds([...new Set(cached.values())].filter((id) => !this.known.has(id)));
    for (const [domain, id] of cached) {
      const values = this.known.get(id);
      if (!values) continue; // gone from the CRM (merged, deleted): searched again below
      resolved.set(domain, { crmCompanyId: id, action: 'matched' });
      const request = byDomain.get(domain) as CompanyRequest;
      const { properties } = applyPolicy(request.properties, values, this.o.mapping.company);
      if (Object.keys(properties).length > 0) updates.push({ id, domain, properties });
    }

    const missing = [...byDomain.keys()].filter((d) => !resolved.has(d));
    const found = await this.searchByDomain(missing);
    const toCreate: CompanyRequest[] = [];
    for (const domain of missing) {
      const request = byDomain.get(domain) as CompanyRequest;
      const company = found.get(domain);
      if (company) {
        this.known.set(company.id, { ...company.properties });
        resolved.set(domain, { crmCompanyId: company.id, action: 'matched' });
        const { properties } = applyPolicy(request.properties, company.properties, this.o.mapping.company);
        if (Object.keys(properties).length > 0) updates.push({ id: company.id, domain, properties });
      } else {
        toCreate.push(request);
      }
    }
    const refused = new Map<string, string>();
    if (!dryRun) {
      await this.update(updates, refused);
      for (const [domain, company] of await this.create(toCreate, refused)) resolved.set(domain, company);
      // A refused company is not cached: the next sync searches it again and sends the same write.
      const fresh = [...resolved].filter(([d, c]) => c.crmCompanyId !== null && cached.get(d) !== c.crmCompanyId && !refused.has(d));
      await cache.putMany(connectionId, fresh.map(([domain, c]) => ({ domain, crmCompanyId: c.crmCompanyId as string })));
    } else {
      for (const r of toCreate) resolved.set(r.domain, { crmCompanyId: null, action: 'created' });
    }
    return { companies: resolved, refused };
  }

  /**
   * Sorts a batch's 207 errors: a refusal of the data is logged and the people still sync; any other is a
   * passing failure of that company, put in `refused` under its domain (found by the error's trace id).
   */
  private sortErrors(errors: readonly WriteError[], what: string, refused: Map<string, string>): void {
    for (const error of errors) {
      const domains = error.context?.objectWriteTraceId ?? [];
      if (PERMANENT_CATEGORIES.has(error.category ?? '') || domains.length === 0) {
        this.o.logger?.warn(`company ${what} refused by HubSpot`, { category: error.category, message: error.message });
        continue;
      }
      for (const domain of domains) refused.set(domain, `HubSpot did not ${what} the company ${domain}: ${error.message ?? error.category ?? 'no message'}`);
    }
  }

  /** Reads companies by id into `known`, with the properties the mapping fills (batch read, 100 per call). */
  private async readByIds(ids: readonly string[]): Promise<void> {
    const { client, api, mapping } = this.o;
    const properties = [...new Set(['domain', ...mapping.company.map((e) => e.property)])];
    const endpoint = 'POST /crm/v3/objects/companies/batch/read';
    for (const part of chunks(ids, this.o.batchSize)) {
      const raw = await api.call(endpoint, () => client.crm.companies.batchApi.read({ inputs: part.map((id) => ({ id })), properties, propertiesWithHistory: [] }, false));
      for (const company of parseBody(BatchObjectsResponse, raw, endpoint).results) this.known.set(company.id, { ...company.properties });
    }
  }

  private async searchByDomain(domains: readonly string[]): Promise<Map<string, SimpleObject>> {
    const { client, api, mapping } = this.o;
    const found = new Map<string, SimpleObject>();
    const properties = [...new Set(['domain', 'createdate', ...mapping.company.map((e) => e.property)])];
    const endpoint = 'POST /crm/v3/objects/companies/search';
    for (const part of chunks(domains, this.o.searchValuesPerFilter)) {
      // The spec requires `after`; "0" asks for the first page.
      let after: string | undefined = '0';
      do {
        const request: PublicObjectSearchRequest = {
          filterGroups: [{ filters: [{ propertyName: 'domain', operator: FilterOperatorEnum.In, values: [...part] }] }],
          properties,
          sorts: ['hs_object_id'],
          limit: 200,
          after,
        };
        const body = parseBody(SearchResponse, await api.call(endpoint, () => client.crm.companies.searchApi.doSearch(request), { search: true }), endpoint);
        for (const company of body.results) {
          const domain = normalizeCompanyDomain(company.properties.domain);
          if (domain === undefined) continue;
          const existing = found.get(domain);
          found.set(domain, existing ? older(existing, company) : company);
        }
        after = body.paging?.next?.after;
      } while (after !== undefined);
    }
    return found;
  }

  private async update(updates: ReadonlyArray<{ id: string; domain: string; properties: Record<string, string> }>, refused: Map<string, string>): Promise<void> {
    const { client, api } = this.o;
    const endpoint = 'POST /crm/v3/objects/companies/batch/update';
    for (const part of chunks(updates, this.o.batchSize)) {
      const inputs = part.map((u) => ({ id: u.id, objectWriteTraceId: u.domain, properties: u.properties }));
      const body = parseBody(BatchObjectsResponse, await api.call(endpoint, () => client.crm.companies.batchApi.update({ inputs })), endpoint);
      // Filling an empty field of an existing company is a courtesy: a refusal of the data (say, a company
      // key another company already holds) is logged, and the people still sync.
      this.sortErrors(body.errors ?? [], 'enrich', refused);
      for (const result of body.results) this.known.set(result.id, { ...this.known.get(result.id), ...result.properties });
    }
  }

  private async create(requests: readonly CompanyRequest[], refused: Map<string, string>): Promise<Map<string, ResolvedCompany>> {
    const { client, api, mapping } = this.o;
    const created = new Map<string, ResolvedCompany>();
    const endpoint = 'POST /crm/v3/objects/companies/batch/upsert';
    for (const part of chunks(requests, this.o.batchSize)) {
      const inputs = part.map((r) => {
        const key = r.properties[COMPANY_KEY_PROPERTY] ?? r.domain;
        const { properties } = applyPolicy(r.properties, undefined, mapping.company);
        delete properties[COMPANY_KEY_PROPERTY];
        return { idProperty: COMPANY_KEY_PROPERTY, id: key, objectWriteTraceId: r.domain, properties };
      });
      const body = parseBody(BatchUpsertResponse, await api.call(endpoint, () => client.crm.companies.batchApi.upsert({ inputs })), endpoint);
      for (const result of body.results) {
        this.known.set(result.id, { ...this.known.get(result.id), ...result.properties });
        const domain = result.objectWriteTraceId ?? normalizeCompanyDomain(result.properties.domain) ?? result.properties[COMPANY_KEY_PROPERTY];
        if (domain) created.set(domain, { crmCompanyId: result.id, action: (result._new ?? result.new) === false ? 'matched' : 'created' });
      }
      this.sortErrors(body.errors ?? [], 'create', refused);
    }
    return created;
  }
}
