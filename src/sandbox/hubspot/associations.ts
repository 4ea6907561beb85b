/**
 * Associations v4: HubSpot-defined association types between contacts, companies and deals, a symmetric
 * store, and the batch endpoints (associate default, create, read) plus the per-record list.
 */
import { z } from 'zod';
import { parseBody, standardError, validationError, type StandardError } from './errors';
import type { OpResult, PortalContext } from './records';
import {
  HUBSPOT_ASSOCIATION_READ_LIMIT,
  HUBSPOT_ASSOCIATION_WRITE_LIMIT,
  HUBSPOT_OBJECT_TYPE_IDS,
  type HubspotAssociationEdge,
  type HubspotObjectType,
} from './types';

export interface AssociationTypeDef {
  from: HubspotObjectType;
  to: HubspotObjectType;
  typeId: number;
  /** null for the unlabelled default type. */
  label: string | null;
  primary: boolean;
  /** The same association seen from the other side. */
  inverse: number;
}

/** reference §4 (the SDK's `AssociationTypes` enum). */
export const ASSOCIATION_TYPES: readonly AssociationTypeDef[] = [
  { from: 'contacts', to: 'companies', typeId: 279, label: null, primary: false, inverse: 280 },
  { from: 'contacts', to: 'companies', typeId: 1, label: 'Primary', primary: true, inverse: 2 },
  { from: 'companies', to: 'contacts', typeId: 280, label: null, primary: false, inverse: 279 },
  { from: 'companies', to: 'contacts', typeId: 2, label: 'Primary', primary: true, inverse: 1 },
  { from: 'deals', to: 'contacts', typeId: 3, label: null, primary: false, inverse: 4 },
  { from: 'contacts', to: 'deals', typeId: 4, label: null, primary: false, inverse: 3 },
  { from: 'deals', to: 'companies', typeId: 341, label: null, primary: false, inverse: 342 },
  { from: 'deals', to: 'companies', typeId: 5, label: 'Primary', primary: true, inverse: 6 },
  { from: 'companies', to: 'deals', typeId: 342, label: null, primary: false, inverse: 341 },
  { from: 'companies', to: 'deals', typeId: 6, label: 'Primary', primary: true, inverse: 5 },
];

const BY_ID = new Map(ASSOCIATION_TYPES.map((t) => [t.typeId, t]));

export function associationType(typeId: number): AssociationTypeDef | undefined {
  return BY_ID.get(typeId);
}

/** The unlabelled type between two object types, or undefined when HubSpot defines none here. */
export function defaultAssociationType(from: HubspotObjectType, to: HubspotObjectType): AssociationTypeDef | undefined {
  return ASSOCIATION_TYPES.find((t) => t.from === from && t.to === to && !t.primary);
}

/** The primary type between two object types, if any. */
export function primaryAssociationType(from: HubspotObjectType, to: HubspotObjectType): AssociationTypeDef | undefined {
  return ASSOCIATION_TYPES.find((t) => t.from === from && t.to === to && t.primary);
}

const SINGULAR: Record<HubspotObjectType, string> = { contacts: 'contact', companies: 'company', deals: 'deal' };
/** Canonical direction for listing: contacts → deals → companies. */
const RANK: Record<HubspotObjectType, number> = { contacts: 0, deals: 1, companies: 2 };

const key = (type: HubspotObjectType, id: string): string => `${type}:${id}`;
const byNumericId = (a: string, b: string): number => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0);

/** Symmetric store: adding contact→company also records company→contact with the inverse type. */
export class AssociationStore {
  private readonly edges = new Map<string, Map<string, Set<number>>>();

  private set(fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string): Set<number> {
    const fromKey = key(fromType, fromId);
    let targets = this.edges.get(fromKey);
    if (!targets) {
      targets = new Map();
      this.edges.set(fromKey, targets);
    }
    const toKey = key(toType, toId);
    let types = targets.get(toKey);
    if (!types) {
      types = new Set();
      targets.set(toKey, types);
    }
    return types;
  }

  /**
   * Adds an association of `typeId` (which must run from → to) and its inverse. A labelled (primary) type
   * brings the default type with it, and a primary replaces the record's previous primary.
   */
  add(fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string, typeId: number): void {
    const def = associationType(typeId);
    if (!def || def.from !== fromType || def.to !== toType) throw new RangeError(`association type ${typeId} does not run from ${fromType} to ${toType}`);
    if (def.primary && fromType === 'companies') {
      // "Primary" is held by the contact or deal side: one primary company each.
      this.add(toType, toId, fromType, fromId, def.inverse);
      return;
    }
    if (def.primary) {
      for (const other of this.list(fromType, fromId, toType)) {
        if (other.toId === toId || !other.typeIds.includes(typeId)) continue;
        this.set(fromType, fromId, toType, other.toId).delete(typeId);
        this.set(toType, other.toId, fromType, fromId).delete(def.inverse);
      }
    }
    const plain = defaultAssociationType(fromType, toType);
    const forward = this.set(fromType, fromId, toType, toId);
    const backward = this.set(toType, toId, fromType, fromId);
    forward.add(typeId);
    backward.add(def.inverse);
    if (plain) {
      forward.add(plain.typeId);
      backward.add(plain.inverse);
    }
  }

  /** The type ids from → to, ascending (empty when not associated). */
  types(fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string): number[] {
    return [...(this.edges.get(key(fromType, fromId))?.get(key(toType, toId)) ?? [])].sort((a, b) => a - b);
  }

  /** Records of `toType` associated with one record, by ascending id. */
  list(fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType): Array<{ toId: string; typeIds: number[] }> {
    const prefix = `${toType}:`;
    return [...(this.edges.get(key(fromType, fromId)) ?? [])]
      .filter(([k, types]) => k.startsWith(prefix) && types.size > 0)
      .map(([k, types]) => ({ toId: k.slice(prefix.length), typeIds: [...types].sort((a, b) => a - b) }))
      .sort((a, b) => byNumericId(a.toId, b.toId));
  }

  /** Drops every association of one record, both directions (the record is being deleted). */
  removeRecord(type: HubspotObjectType, id: string): void {
    const fromKey = key(type, id);
    for (const toKey of this.edges.get(fromKey)?.keys() ?? []) this.edges.get(toKey)?.delete(fromKey);
    this.edges.delete(fromKey);
  }

  /** Every associated pair once, from its canonical side (contacts → deals → companies). */
  snapshot(): HubspotAssociationEdge[] {
    const out: HubspotAssociationEdge[] = [];
    for (const [fromKey, targets] of this.edges) {
      const [fromType, fromId] = splitKey(fromKey);
      for (const [toKey, types] of targets) {
        const [toType, toId] = splitKey(toKey);
        if (types.size === 0 || RANK[fromType] >= RANK[toType]) continue;
        out.push({ fromType, fromId, toType, toId, typeIds: [...types].sort((a, b) => a - b) });
      }
    }
    return out.sort((a, b) => RANK[a.fromType] - RANK[b.fromType] || RANK[a.toType] - RANK[b.toType] || byNumericId(a.fromId, b.fromId) || byNumericId(a.toId, b.toId));
  }
}

function splitKey(k: string): [HubspotObjectType, string] {
  const i = k.indexOf(':');
  return [k.slice(0, i) as HubspotObjectType, k.slice(i + 1)];
}

// --- endpoints -----------------------------------------------------------------------------------------

const ObjectId = z.object({ id: z.string().min(1) });

/** `BatchInputPublicDefaultAssociationMultiPost`. */
const AssociateDefaultBody = z.object({ inputs: z.array(z.object({ from: ObjectId, to: ObjectId })) });

/** `BatchInputPublicAssociationMultiPost`. */
const CreateBody = z.object({
  inputs: z.array(
    z.object({
      from: ObjectId,
      to: ObjectId,
      types: z.array(
        z.object({
          associationCategory: z.enum(['HUBSPOT_DEFINED', 'INTEGRATOR_DEFINED', 'USER_DEFINED', 'WORK']),
          associationTypeId: z.number().int(),
        }),
      ),
    }),
  ),
});

/** `BatchInputPublicFetchAssociationsBatchRequest`. */
const ReadBody = z.object({ inputs: z.array(z.object({ id: z.string().min(1), after: z.string().optional() })) });

/** Per from-record page size of batch read and the list endpoint (HubSpot: 500). */
export const ASSOCIATIONS_PAGE_SIZE = 500;

function checkPair(from: HubspotObjectType, to: HubspotObjectType): AssociationTypeDef {
  const plain = defaultAssociationType(from, to);
  if (!plain) {
    throw validationError(`Associations from ${from} to ${to} are not supported by the sandbox`, {
      context: { fromObjectType: [from], toObjectType: [to] },
    });
  }
  return plain;
}

function checkSize(count: number, limit: number): void {
  if (count > limit) {
    throw validationError(`Batch input size ${count} exceeds the limit of ${limit} inputs`, {
      context: { limit: [String(limit)], size: [String(count)] },
    });
  }
}

function missingError(ctx: PortalContext, from: HubspotObjectType, fromId: string, to: HubspotObjectType, toId: string): StandardError | undefined {
  const missing: Array<[HubspotObjectType, string, string]> = [];
  if (!ctx.stores[from].get(fromId)) missing.push([from, fromId, 'fromObjectId']);
  if (!ctx.stores[to].get(toId)) missing.push([to, toId, 'toObjectId']);
  if (missing.length === 0) return undefined;
  return standardError(
    'OBJECT_NOT_FOUND',
    missing.map(([type, id]) => `No ${SINGULAR[type]} with id ${id} exists.`).join(' '),
    Object.fromEntries(missing.map(([, id, field]) => [field, [id]])),
  );
}

function batchBody(startedAt: string, ctx: PortalContext, results: unknown[], errors: StandardError[]): Record<string, unknown> {
  const body: Record<string, unknown> = { status: 'COMPLETE', results, startedAt, completedAt: new Date(ctx.now()).toISOString() };
  if (errors.length > 0) {
    body.numErrors = errors.length;
    body.errors = errors;
  }
  return body;
}

/**
 * POST /crm/v4/associations/{from}/{to}/batch/associate/default → always 200
 * `BatchResponsePublicDefaultAssociation` (the spec lists no 207): missing records are reported in
 * `errors` / `numErrors` of that 200 body. One result per associated input, in the requested direction.
 */
export function associateDefault(ctx: PortalContext, from: HubspotObjectType, to: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(AssociateDefaultBody, raw);
  checkSize(body.inputs.length, HUBSPOT_ASSOCIATION_WRITE_LIMIT);
  const plain = checkPair(from, to);
  const results: unknown[] = [];
  const errors: StandardError[] = [];
  for (const input of body.inputs) {
    const missing = missingError(ctx, from, input.from.id, to, input.to.id);
    if (missing) {
      errors.push(missing);
      continue;
    }
    ctx.associations.add(from, input.from.id, to, input.to.id, plain.typeId);
    results.push({
      from: { id: input.from.id },
      to: { id: input.to.id },
      associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: plain.typeId },
    });
  }
  return { status: 200, body: batchBody(startedAt, ctx, results, errors) };
}

/**
 * POST /crm/v4/associations/{from}/{to}/batch/create → 201 `BatchResponseLabelsBetweenObjectPair`, or
 * 207 `…WithErrors` when an input names a missing record or a type that does not run from → to.
 */
export function createAssociations(ctx: PortalContext, from: HubspotObjectType, to: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(CreateBody, raw);
  checkSize(body.inputs.length, HUBSPOT_ASSOCIATION_WRITE_LIMIT);
  checkPair(from, to);
  const results: unknown[] = [];
  const errors: StandardError[] = [];
  for (const input of body.inputs) {
    const badType = input.types.find((t) => {
      const def = associationType(t.associationTypeId);
      return t.associationCategory !== 'HUBSPOT_DEFINED' || !def || def.from !== from || def.to !== to;
    });
    if (input.types.length === 0 || badType) {
      errors.push(
        standardError(
          'VALIDATION_ERROR',
          badType
            ? `Association type ${badType.associationCategory}/${badType.associationTypeId} is not defined from ${from} to ${to}.`
            : 'At least one association type is required.',
          { fromObjectId: [input.from.id], toObjectId: [input.to.id] },
        ),
      );
      continue;
    }
    const missing = missingError(ctx, from, input.from.id, to, input.to.id);
    if (missing) {
      errors.push(missing);
      continue;
    }
    for (const t of input.types) ctx.associations.add(from, input.from.id, to, input.to.id, t.associationTypeId);
    const labels = ctx.associations
      .types(from, input.from.id, to, input.to.id)
      .map((id) => associationType(id)?.label)
      .filter((l): l is string => typeof l === 'string');
    results.push({
      fromObjectTypeId: HUBSPOT_OBJECT_TYPE_IDS[from],
      fromObjectId: input.from.id,
      toObjectTypeId: HUBSPOT_OBJECT_TYPE_IDS[to],
      toObjectId: input.to.id,
      labels,
    });
  }
  return { status: errors.length === 0 ? 201 : 207, body: batchBody(startedAt, ctx, results, errors) };
}

function associatedView(ctx: PortalContext, from: HubspotObjectType, fromId: string, to: HubspotObjectType) {
  return ctx.associations.list(from, fromId, to).map(({ toId, typeIds }) => ({
    toObjectId: toId,
    associationTypes: typeIds.map((typeId) => {
      const label = associationType(typeId)?.label ?? null;
      return { category: 'HUBSPOT_DEFINED', typeId, ...(label === null ? {} : { label }) };
    }),
  }));
}

function pageOffset(after: string | undefined): number {
  if (after === undefined || after === '') return 0;
  if (!/^\d+$/.test(after)) throw validationError(`Invalid paging cursor: ${after}`, { context: { after: [after] } });
  return Number(after);
}

/**
 * POST /crm/v4/associations/{from}/{to}/batch/read → 200 `BatchResponsePublicAssociationMultiWithLabel`,
 * or 207 `…WithErrors`. [INFER] An id with no associations of that type (including an id that does not
 * exist) gets an OBJECT_NOT_FOUND error "No deal is associated with contact 123." and no result.
 * At most 500 associations per id and page; `paging.next.after` resumes that id.
 */
export function readAssociations(ctx: PortalContext, from: HubspotObjectType, to: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(ReadBody, raw);
  checkSize(body.inputs.length, HUBSPOT_ASSOCIATION_READ_LIMIT);
  checkPair(from, to);
  const results: unknown[] = [];
  const errors: StandardError[] = [];
  const seen = new Set<string>();
  for (const input of body.inputs) {
    if (seen.has(input.id)) continue;
    seen.add(input.id);
    const all = associatedView(ctx, from, input.id, to);
    if (all.length === 0) {
      errors.push(standardError('OBJECT_NOT_FOUND', `No ${SINGULAR[to]} is associated with ${SINGULAR[from]} ${input.id}.`, { fromObjectId: [input.id] }));
      continue;
    }
    const offset = pageOffset(input.after);
    const page = all.slice(offset, offset + ASSOCIATIONS_PAGE_SIZE);
    const next = offset + ASSOCIATIONS_PAGE_SIZE < all.length ? String(offset + ASSOCIATIONS_PAGE_SIZE) : undefined;
    results.push({ from: { id: input.id }, to: page, ...(next === undefined ? {} : { paging: { next: { after: next } } }) });
  }
  return { status: errors.length === 0 ? 200 : 207, body: batchBody(startedAt, ctx, results, errors) };
}

/**
 * GET /crm/v4/objects/{type}/{id}/associations/{toType}?limit&after → 200
 * `CollectionResponseMultiAssociatedObjectWithLabelForwardPaging` (limit ≤ 500; [INFER] an unknown id
 * answers an empty list, as HubSpot does not check the record here).
 */
export function listAssociations(ctx: PortalContext, from: HubspotObjectType, id: string, to: HubspotObjectType, query: URLSearchParams): OpResult {
  checkPair(from, to);
  const rawLimit = query.get('limit');
  const limit = rawLimit === null || rawLimit === '' ? ASSOCIATIONS_PAGE_SIZE : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > ASSOCIATIONS_PAGE_SIZE) {
    throw validationError(`limit must be an integer from 1 to ${ASSOCIATIONS_PAGE_SIZE}`, { context: { limit: [rawLimit ?? ''] } });
  }
  const offset = pageOffset(query.get('after') ?? undefined);
  const all = associatedView(ctx, from, id, to);
  const results = all.slice(offset, offset + limit);
  const next = offset + limit < all.length ? String(offset + limit) : undefined;
  return { status: 200, body: { results, ...(next === undefined ? {} : { paging: { next: { after: next } } }) } };
}
