/**
 * Connections: one row per CRM account (HubSpot portal, Salesforce org) orbit-sync writes to. A
 * `(crm, accountId)` pair is unique, so connecting the same account twice returns the connection that
 * already exists instead of creating a second one (and a second ledger for the same people).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { SyncError } from '../lib/errors';
import { CONNECTION_STATUSES, CRMS, type ConnectionRow, type ConnectionStatus, type Crm, type Database } from './schema';

export interface Connection {
  id: string;
  crm: Crm;
  /** HubSpot portal id / Salesforce org id. */
  accountId: string;
  status: ConnectionStatus;
  /** Why (e.g. the refresh error behind `needs_reauth`); null when there is nothing to say. */
  statusMessage: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreateConnectionInput {
  crm: Crm;
  accountId: string;
  /** Status of a newly created connection; ignored when the connection already exists. Default `active`. */
  status?: ConnectionStatus;
  /** Id of a newly created connection; defaults to a random UUID. Ignored when it already exists. */
  id?: string;
}

export interface Connections {
  /** Creates the connection, or returns the existing one for the same `(crm, accountId)` unchanged. */
  create(input: CreateConnectionInput): Promise<Connection>;
  get(id: string): Promise<Connection | undefined>;
  getByAccount(crm: Crm, accountId: string): Promise<Connection | undefined>;
  /** Oldest first. */
  list(options?: { crm?: Crm; status?: ConnectionStatus }): Promise<Connection[]>;
  /** Throws NOT_FOUND for an unknown connection. `message` says why (cleared when omitted). */
  setStatus(id: string, status: ConnectionStatus, message?: string): Promise<Connection>;
}

export interface ConnectionsOptions {
  now?: () => Date;
}

export function createConnections(db: Kysely<Database>, options: ConnectionsOptions = {}): Connections {
  const now = options.now ?? (() => new Date());

  async function getByAccount(crm: Crm, accountId: string): Promise<Connection | undefined> {
    const row = await db.selectFrom('connections').selectAll().where('crm', '=', crm).where('account_id', '=', accountId).executeTakeFirst();
    return row && toConnection(row);
  }

  return {
    async create(input) {
      assertCrm(input.crm);
      const accountId = normalizeAccountId(input.accountId);
      const status = input.status ?? 'active';
      assertStatus(status);
      const at = now().toISOString();
      // Insert-or-nothing, then read back: two processes connecting the same account at once both get the one row.
      await db
        .insertInto('connections')
        .values({ id: input.id ?? randomUUID(), crm: input.crm, account_id: accountId, status, status_message: null, created_at: at, updated_at: at })
        .onConflict((oc) => oc.columns(['crm', 'account_id']).doNothing())
        .execute();
      const connection = await getByAccount(input.crm, accountId);
      if (!connection) throw new SyncError('INTERNAL', `Connection ${input.crm} ${accountId} was not found right after it was created.`);
      return connection;
    },

    async get(id) {
      const row = await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toConnection(row);
    },

    async getByAccount(crm, accountId) {
      return getByAccount(crm, accountId.trim());
    },

    async list(opts = {}) {
      let query = db.selectFrom('connections').selectAll();
      if (opts.crm !== undefined) query = query.where('crm', '=', opts.crm);
      if (opts.status !== undefined) query = query.where('status', '=', opts.status);
      const rows = await query.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
      return rows.map(toConnection);
    },

    async setStatus(id, status, message) {
      assertStatus(status);
      const result = await db
        .updateTable('connections')
        .set({ status, status_message: message ?? null, updated_at: now().toISOString() })
        .where('id', '=', id)
        .executeTakeFirst();
      if (result.numUpdatedRows !== 1n) {
        throw new SyncError('NOT_FOUND', `Connection ${id} does not exist; connect the CRM account first (e.g. \`orbit-sync setup hubspot\`).`);
      }
      const row = await db.selectFrom('connections').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return toConnection(row);
    },
  };
}

function normalizeAccountId(accountId: string): string {
  const trimmed = accountId.trim();
  if (trimmed === '') throw new SyncError('INTERNAL', 'A connection needs a CRM account id (HubSpot portal id or Salesforce org id); got an empty one.');
  return trimmed;
}

function assertCrm(crm: string): asserts crm is Crm {
  if (!(CRMS as readonly string[]).includes(crm)) {
    throw new SyncError('INTERNAL', `Unknown CRM "${crm}"; expected one of: ${CRMS.join(', ')}.`);
  }
}

function assertStatus(status: string): asserts status is ConnectionStatus {
  if (!(CONNECTION_STATUSES as readonly string[]).includes(status)) {
    throw new SyncError('INTERNAL', `Unknown connection status "${status}"; expected one of: ${CONNECTION_STATUSES.join(', ')}.`);
  }
}

function toConnection(row: ConnectionRow): Connection {
  return {
    id: row.id,
    crm: row.crm,
    accountId: row.account_id,
    status: row.status,
    statusMessage: row.status_message,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
