/**
 * Company cache: company domain → CRM company id, per connection, so a domain search (HubSpot: ≤ 5
 * req/s) is paid once per connection rather than once per sync. Keyed by `(connection, domain)`: a
 * connection is one CRM account, so it already determines the destination.
 *
 * Domains are compared lower-cased and trimmed (`Acme.com` and `acme.com ` are one company).
 */
import type { Kysely } from 'kysely';
import { SyncError } from '../lib/errors';
import type { Database } from './schema';
import { chunks } from '../lib/chunks';

/** Domains per `IN (…)` read. Well under SQLite's and PostgreSQL's bound-parameter limits. */
export const COMPANY_CACHE_READ_CHUNK = 500;
/** Rows per multi-row upsert (4 parameters each). */
export const COMPANY_CACHE_WRITE_CHUNK = 200;

export interface CompanyCachePut {
  domain: string;
  crmCompanyId: string;
}

export interface CompanyCache {
  /** CRM company ids of the given domains, keyed by normalized (lower-cased, trimmed) domain; unknown domains are absent. */
  getMany(connectionId: string, domains: Iterable<string>): Promise<Map<string, string>>;
  /** Inserts or overwrites, atomically (inside the caller's transaction if `db` is one). Last entry wins for a domain given twice. */
  putMany(connectionId: string, entries: readonly CompanyCachePut[]): Promise<void>;
}

export interface CompanyCacheOptions {
  now?: () => Date;
}

/** Lower-cased, trimmed; `undefined` for a blank domain. */
export function normalizeDomain(domain: string): string | undefined {
  const normalized = domain.trim().toLowerCase();
  return normalized === '' ? undefined : normalized;
}

export function createCompanyCache(db: Kysely<Database>, options: CompanyCacheOptions = {}): CompanyCache {
  const now = options.now ?? (() => new Date());

  return {
    async getMany(connectionId, domains) {
      const keys = [...new Set([...domains].map(normalizeDomain).filter((d): d is string => d !== undefined))];
      const found = new Map<string, string>();
      for (const part of chunks(keys, COMPANY_CACHE_READ_CHUNK)) {
        const rows = await db
          .selectFrom('company_cache')
          .select(['domain', 'crm_company_id'])
          .where('connection_id', '=', connectionId)
          .where('domain', 'in', part)
          .execute();
        for (const row of rows) found.set(row.domain, row.crm_company_id);
      }
      return found;
    },

    async putMany(connectionId, entries) {
      const byDomain = new Map<string, string>();
      for (const entry of entries) {
        const domain = normalizeDomain(entry.domain);
        if (domain === undefined) throw new SyncError('INTERNAL', 'The company cache was given a blank domain; skip companies without a domain.');
        if (entry.crmCompanyId.trim() === '') {
          throw new SyncError('INTERNAL', `The company cache was given an empty CRM company id for ${domain}.`);
        }
        byDomain.set(domain, entry.crmCompanyId);
      }
      if (byDomain.size === 0) return;
      const updatedAt = now().toISOString();
      const rows = [...byDomain].map(([domain, crmCompanyId]) => ({
        connection_id: connectionId,
        domain,
        crm_company_id: crmCompanyId,
        updated_at: updatedAt,
      }));
      const write = async (trx: Kysely<Database>): Promise<void> => {
        for (const part of chunks(rows, COMPANY_CACHE_WRITE_CHUNK)) {
          await trx
            .insertInto('company_cache')
            .values(part)
            .onConflict((oc) =>
              oc.columns(['connection_id', 'domain']).doUpdateSet((eb) => ({
                crm_company_id: eb.ref('excluded.crm_company_id'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute();
        }
      };
      if (db.isTransaction) await write(db);
      else await db.transaction().execute(write);
    },
  };
}
