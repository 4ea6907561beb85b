/**
 * CRM records (contacts, companies, deals) and their batch endpoints, one implementation for all three:
 * read, upsert, update (by record id or a unique property) and create. Each store tells an optional
 * observer of new records and changed values (the sandbox turns them into webhook events).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { associationType, type AssociationStore } from './associations';
import {
  HubspotError,
  parseBody,
  propertyValuesMessage,
  standardError,
  validationError,
  type PropertyValidation,
  type StandardError,
} from './errors';
import { CLOSED_DEAL_STAGES, DEFAULT_PIPELINE, DEFAULT_READ_PROPERTIES, LAST_MODIFIED_PROPERTY, normalizeValue, valueProblem, type PortalSchema } from './schema';
import { HUBSPOT_BATCH_LIMIT, type HubspotObjectType, type HubspotRecord } from './types';

export interface StoredRecord {
  id: string;
  properties: Map<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** Everything the endpoints work on. */
export interface PortalContext {
  now: () => number;
  /** Fault injection: whether this write input (by its id or unique key) fails alone this time. */
  recordFault?: (type: HubspotObjectType, key: string) => boolean;
  schema: PortalSchema;
  invalidEmail: (email: string) => boolean;
  stores: Record<HubspotObjectType, RecordStore>;
  associations: AssociationStore;
}

/** A handler's answer: the status and the JSON body (and extra headers, e.g. a redirect's Location). */
export interface OpResult {
  status: number;
  body: unknown;
  headers?: OutgoingHttpHeaders;
}

/**
 * What a store reports to its observer: a new record (its values set at creation are not also reported
 * as changes), or a stored value that changed (`value` normalized; "" when cleared).
 */
export type RecordChange =
  | { kind: 'created'; type: HubspotObjectType; id: string }
  | { kind: 'propertyChanged'; type: HubspotObjectType; id: string; name: string; value: string };

export const SINGULAR: Record<HubspotObjectType, string> = { contacts: 'contact', companies: 'company', deals: 'deal' };

/** Properties every view computes rather than stores. */
function derivedProperties(type: HubspotObjectType, record: StoredRecord): Record<string, string> {
  const out: Record<string, string> = {
    hs_object_id: record.id,
    createdate: new Date(record.createdAt).toISOString(),
    [LAST_MODIFIED_PROPERTY[type]]: new Date(record.updatedAt).toISOString(),
  };
  if (type === 'deals') out.hs_is_closed = CLOSED_DEAL_STAGES.includes(record.properties.get('dealstage') ?? '') ? 'true' : 'false';
  return out;
}

/** The records of one object type, with an index per unique property. */
export class RecordStore {
  private readonly records = new Map<string, StoredRecord>();
  /** Unique property → lookup key → record id. */
  private readonly index = new Map<string, Map<string, string>>();
  private nextId: number;
  /** Told of every insert and every changed value (seeding included: the observer decides). */
  observer: ((change: RecordChange) => void) | undefined;

  constructor(
    readonly type: HubspotObjectType,
    private readonly schema: PortalSchema,
    firstId: number,
  ) {
    this.nextId = firstId;
  }

  get size(): number {
    return this.records.size;
  }

  /** Emails match case-insensitively; other unique values exactly. */
  keyOf(name: string, value: string): string {
    return this.type === 'contacts' && name === 'email' ? value.trim().toLowerCase() : value;
  }

  get(id: string): StoredRecord | undefined {
    return this.records.get(id);
  }

  all(): StoredRecord[] {
    return [...this.records.values()];
  }

  /** By record id (no idProperty / hs_object_id) or by a unique property's value. */
  find(idProperty: string | undefined, value: string): StoredRecord | undefined {
    if (idProperty === undefined || idProperty === 'hs_object_id') return this.records.get(value);
    const id = this.index.get(idProperty)?.get(this.keyOf(idProperty, value));
    return id === undefined ? undefined : this.records.get(id);
  }

  /** The record holding a unique value, other than `selfId`. */
  holder(name: string, value: string, selfId: string | undefined): string | undefined {
    const id = this.index.get(name)?.get(this.keyOf(name, value));
    return id !== undefined && id !== selfId ? id : undefined;
  }

  newId(): string {
    while (this.records.has(String(this.nextId))) this.nextId++;
    return String(this.nextId++);
  }

  /** All properties (stored and derived), or only the named ones that have a value. */
  view(record: StoredRecord, only?: readonly string[]): HubspotRecord {
    const all: Record<string, string> = { ...Object.fromEntries(record.properties), ...derivedProperties(this.type, record) };
    const properties = only === undefined ? all : Object.fromEntries(only.filter((n) => all[n] !== undefined).map((n) => [n, all[n] as string]));
    return {
      id: record.id,
      properties,
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
      archived: false,
    };
  }

  /** Adds a new record (or replaces one with the same id) and writes its values. */
  insert(id: string, values: Record<string, string>, at: number): StoredRecord {
    const existing = this.records.get(id);
    if (existing) this.unindex(existing);
    const record: StoredRecord = { id, properties: new Map(), createdAt: at, updatedAt: at };
    this.records.set(id, record);
    this.apply(record, values, at);
    this.observer?.({ kind: 'created', type: this.type, id });
    return record;
  }

  /** Applies validated values ("" clears) to an existing record; the observer hears of each changed one. */
  write(record: StoredRecord, values: Record<string, string>, at: number): void {
    const before = Object.keys(values).map((name) => [name, record.properties.get(name) ?? ''] as const);
    this.apply(record, values, at);
    for (const [name, previous] of before) {
      const value = record.properties.get(name) ?? '';
      if (value !== previous) this.observer?.({ kind: 'propertyChanged', type: this.type, id: record.id, name, value });
    }
  }

  /** Deletes a record (its associations are the caller's business). False when missing. */
  remove(id: string): boolean {
    const record = this.records.get(id);
    if (!record) return false;
    this.unindex(record);
    this.records.delete(id);
    return true;
  }

  /** Stores the normalized values and re-indexes. */
  private apply(record: StoredRecord, values: Record<string, string>, at: number): void {
    this.unindex(record);
    for (const [name, raw] of Object.entries(values)) {
      const value = normalizeValue(this.type, this.schema.property(this.type, name), raw);
      if (value === '') record.properties.delete(name);
      else record.properties.set(name, value);
    }
    record.updatedAt = at;
    for (const name of this.schema.uniqueNames(this.type)) {
      const value = record.properties.get(name);
      if (value === undefined) continue;
      let idx = this.index.get(name);
      if (!idx) {
        idx = new Map();
        this.index.set(name, idx);
      }
      idx.set(this.keyOf(name, value), record.id);
    }
  }

  private unindex(record: StoredRecord): void {
    for (const [name, idx] of this.index) {
      const value = record.properties.get(name);
      if (value !== undefined && idx.get(this.keyOf(name, value)) === record.id) idx.delete(this.keyOf(name, value));
    }
  }
}

// --- request schemas (zod at the boundary; shapes from the specs) --------------------------------------

/** `BatchReadInputSimplePublicObjectId` (properties and propertiesWithHistory are required by the spec). */
const BatchReadBody = z.object({
  idProperty: z.string().optional(),
  inputs: z.array(z.object({ id: z.string() })),
  properties: z.array(z.string()),
  propertiesWithHistory: z.array(z.string()),
});

const Properties = z.record(z.string(), z.string());

/** `BatchInputSimplePublicObjectBatchInputUpsert`. */
const BatchUpsertBody = z.object({
  inputs: z.array(z.object({ id: z.string(), idProperty: z.string().optional(), objectWriteTraceId: z.string().optional(), properties: Properties })),
});

/** `BatchInputSimplePublicObjectBatchInput`. */
const BatchUpdateBody = z.object({
  inputs: z.array(z.object({ id: z.string(), idProperty: z.string().optional(), objectWriteTraceId: z.string().optional(), properties: Properties })),
});

/**
 * `BatchInputSimplePublicObjectBatchInputForCreate`. [INFER] `associations` is required by the spec but
 * optional here, as HubSpot accepts inputs without it.
 */
const BatchCreateBody = z.object({
  inputs: z.array(
    z.object({
      properties: Properties,
      objectWriteTraceId: z.string().optional(),
      associations: z
        .array(
          z.object({
            to: z.object({ id: z.string().min(1) }),
            types: z.array(z.object({ associationCategory: z.string(), associationTypeId: z.number().int() })),
          }),
        )
        .optional(),
    }),
  ),
});

// --- shared checks ----------------------------------------------------------------------------------------

function checkBatchSize(count: number): void {
  if (count > HUBSPOT_BATCH_LIMIT) {
    throw validationError(`Batch input size ${count} exceeds the limit of ${HUBSPOT_BATCH_LIMIT} inputs`, {
      context: { limit: [String(HUBSPOT_BATCH_LIMIT)], size: [String(count)] },
    });
  }
}

/** Every property name exists and is writable, or the whole batch fails (HubSpot's shape). */
export function checkWritable(ctx: PortalContext, type: HubspotObjectType, names: Iterable<string>): void {
  const problems: PropertyValidation[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const property = ctx.schema.property(type, name);
    if (!property) {
      const message = `Property "${name}" does not exist`;
      problems.push({ isValid: false, message, error: 'PROPERTY_DOESNT_EXIST', name, localizedErrorMessage: message });
    } else if (property.modificationMetadata.readOnlyValue) {
      const message = `"${name}" is a read only property; its value cannot be set.`;
      problems.push({ isValid: false, message, error: 'READ_ONLY_VALUE', name, localizedErrorMessage: message });
    }
  }
  if (problems.length > 0) {
    throw validationError(propertyValuesMessage(problems), {
      errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
    });
  }
}

/** Value problems of one input's properties (each property's type, options and, for contacts, the email). */
export function valueProblems(ctx: PortalContext, type: HubspotObjectType, values: Record<string, string>): PropertyValidation[] {
  return Object.entries(values).flatMap(([name, value]) => {
    const property = ctx.schema.property(type, name);
    const p = property ? valueProblem(type, property, value, ctx.invalidEmail) : undefined;
    return p ? [p] : [];
  });
}

/** The 207 error of an input whose values are invalid: VALIDATION_ERROR with HubSpot's message. */
function invalidValuesError(problems: PropertyValidation[], context: Record<string, string[]>): StandardError {
  return standardError(
    'VALIDATION_ERROR',
    propertyValuesMessage(problems),
    { propertyName: problems.map((p) => p.name), ...context },
    problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
  );
}

/** A unique value (email or a `hasUniqueValue` property) another record already holds. */
function uniqueConflict(
  ctx: PortalContext,
  type: HubspotObjectType,
  values: Record<string, string>,
  selfId: string | undefined,
): { name: string; value: string; holder: string } | undefined {
  const store = ctx.stores[type];
  for (const [name, value] of Object.entries(values)) {
    if (value === '' || !ctx.schema.isUnique(type, name)) continue;
    const holder = store.holder(name, value, selfId);
    if (holder !== undefined) return { name, value, holder };
  }
  return undefined;
}

function conflictError(type: HubspotObjectType, conflict: { name: string; value: string; holder: string }, context: Record<string, string[]>): StandardError {
  return standardError('CONFLICT', `A ${SINGULAR[type]} with ${conflict.name} ${conflict.value} already exists. Existing ID: ${conflict.holder}`, {
    ...context,
    existingId: [conflict.holder],
    propertyName: [conflict.name],
  });
}

function traceContext(input: { objectWriteTraceId?: string | undefined }): Record<string, string[]> {
  return input.objectWriteTraceId === undefined ? {} : { objectWriteTraceId: [input.objectWriteTraceId] };
}

/** 400 when two inputs resolve to the same key (HubSpot: "Duplicate IDs found in batch input"). */
function checkDuplicates(keys: ReadonlyArray<{ key: string; id: string }>): void {
  const byKey = new Map<string, string[]>();
  for (const { key, id } of keys) byKey.set(key, [...(byKey.get(key) ?? []), id]);
  const duplicates = [...byKey.values()].filter((ids) => ids.length > 1).map((ids) => ids[0] as string);
  if (duplicates.length > 0) {
    throw validationError(`Duplicate IDs found in batch input: [${duplicates.join(', ')}]. IDs must be unique`, { context: { ids: duplicates } });
  }
}

/** The properties a write answers with: the written ones plus the record's id and dates. */
function writtenNames(type: HubspotObjectType, values: Record<string, string>): string[] {
  const names = [...Object.keys(values), 'hs_object_id', 'createdate', LAST_MODIFIED_PROPERTY[type]];
  if (type === 'deals' && 'dealstage' in values) names.push('hs_is_closed');
  return [...new Set(names)];
}

function batchResult(ctx: PortalContext, startedAt: string, okStatus: number, results: unknown[], errors: StandardError[]): OpResult {
  const completedAt = new Date(ctx.now()).toISOString();
  if (errors.length === 0) return { status: okStatus, body: { status: 'COMPLETE', results, startedAt, completedAt } };
  return { status: 207, body: { status: 'COMPLETE', results, numErrors: errors.length, errors, startedAt, completedAt } };
}

// --- endpoints -------------------------------------------------------------------------------------------

/**
 * POST /crm/v3/objects/{type}/batch/read → 200 `BatchResponseSimplePublicObject`, or 207 `…WithErrors`
 * with one OBJECT_NOT_FOUND error listing every missing id in `context.ids`.
 */
export function batchRead(ctx: PortalContext, type: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(BatchReadBody, raw);
  checkBatchSize(body.inputs.length);
  ctx.schema.checkIdProperty(type, body.idProperty, 'read');
  const store = ctx.stores[type];
  const wanted = body.properties.length > 0 ? body.properties : DEFAULT_READ_PROPERTIES[type];
  const results: HubspotRecord[] = [];
  const seen = new Set<string>();
  const missing: string[] = [];
  for (const { id } of body.inputs) {
    const record = store.find(body.idProperty, id);
    if (!record) {
      missing.push(id);
      continue;
    }
    // HubSpot returns one result per record, however many inputs point at it.
    if (seen.has(record.id)) continue;
    seen.add(record.id);
    results.push(store.view(record, wanted));
  }
  const errors =
    missing.length === 0
      ? []
      : [
          standardError(
            'OBJECT_NOT_FOUND',
            `Could not get some ${SINGULAR[type].toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`,
            { ids: missing },
          ),
        ];
  return batchResult(ctx, startedAt, 200, results, errors);
}

/**
 * Why HubSpot refuses one input on its own (207): an invalid value, a unique value another record holds,
 * or an injected transient failure (`key`: the input's id or unique value).
 */
function inputError(
  ctx: PortalContext,
  type: HubspotObjectType,
  values: Record<string, string>,
  selfId: string | undefined,
  context: Record<string, string[]>,
  key: string,
): StandardError | undefined {
  const problems = valueProblems(ctx, type, values);
  if (problems.length > 0) return invalidValuesError(problems, context);
  const conflict = uniqueConflict(ctx, type, values, selfId);
  if (conflict) return conflictError(type, conflict, context);
  if (ctx.recordFault?.(type, key) === true) {
    return standardError('INTERNAL_ERROR', `Internal error while writing this ${SINGULAR[type]}; it was not saved. Try again (injected by the sandbox).`, context);
  }
  return undefined;
}

/**
 * POST /crm/v3/objects/{type}/batch/upsert → 200 `BatchResponseSimplePublicUpsertObject` (`new` per
 * result), or 207 `…WithErrors` for inputs with invalid values or a unique value another record holds.
 */
export function batchUpsert(ctx: PortalContext, type: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(BatchUpsertBody, raw);
  checkBatchSize(body.inputs.length);
  const store = ctx.stores[type];
  // Whole-batch checks first: HubSpot writes nothing when these fail.
  const keys = body.inputs.map((input) => {
    const idProperty = input.idProperty ?? 'hs_object_id';
    if (idProperty === 'hs_object_id') {
      throw validationError(`Upsert requires idProperty: the name of a unique value property${type === 'contacts' ? ' such as email' : ''}`);
    }
    ctx.schema.checkIdProperty(type, idProperty, 'upsert');
    return { key: `${idProperty}\u0000${store.keyOf(idProperty, input.id)}`, id: input.id };
  });
  checkDuplicates(keys);
  checkWritable(ctx, type, body.inputs.flatMap((input) => Object.keys(input.properties)));

  const at = ctx.now();
  const results: unknown[] = [];
  const errors: StandardError[] = [];
  for (const input of body.inputs) {
    const idProperty = input.idProperty ?? 'email';
    const existing = store.find(idProperty, input.id);
    const values: Record<string, string> = { ...input.properties };
    if (!existing) values[idProperty] = input.id;
    if (!existing && type === 'deals' && values.pipeline === undefined) values.pipeline = DEFAULT_PIPELINE;
    const context = { id: [input.id], ...traceContext(input) };
    const refused = inputError(ctx, type, values, existing?.id, context, input.id);
    if (refused) {
      errors.push(refused);
      continue;
    }
    // A new record's values are part of its creation (no separate change reported).
    if (existing) store.write(existing, values, at);
    const record = existing ?? store.insert(store.newId(), values, at);
    results.push({
      ...store.view(record, writtenNames(type, values)),
      new: !existing,
      ...(input.objectWriteTraceId === undefined ? {} : { objectWriteTraceId: input.objectWriteTraceId }),
    });
  }
  return batchResult(ctx, startedAt, 200, results, errors);
}

/**
 * POST /crm/v3/objects/{type}/batch/update → 200 `BatchResponseSimplePublicObject`, or 207 `…WithErrors`
 * for missing ids (one OBJECT_NOT_FOUND error listing them), invalid values or unique conflicts. Keyed by
 * record id or a `hasUniqueValue` property; contacts' email is refused (reference §2.1, issue #548).
 */
export function batchUpdate(ctx: PortalContext, type: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(BatchUpdateBody, raw);
  checkBatchSize(body.inputs.length);
  const store = ctx.stores[type];
  const keys = body.inputs.map((input) => {
    ctx.schema.checkIdProperty(type, input.idProperty, 'update');
    const idProperty = input.idProperty ?? 'hs_object_id';
    return { key: `${idProperty}\u0000${store.keyOf(idProperty, input.id)}`, id: input.id };
  });
  checkDuplicates(keys);
  checkWritable(ctx, type, body.inputs.flatMap((input) => Object.keys(input.properties)));

  const at = ctx.now();
  const results: unknown[] = [];
  const errors: StandardError[] = [];
  const missing: string[] = [];
  for (const input of body.inputs) {
    const record = store.find(input.idProperty, input.id);
    if (!record) {
      missing.push(input.id);
      continue;
    }
    const context = { id: [input.id], ...traceContext(input) };
    const refused = inputError(ctx, type, input.properties, record.id, context, input.id);
    if (refused) {
      errors.push(refused);
      continue;
    }
    store.write(record, input.properties, at);
    results.push({
      ...store.view(record, writtenNames(type, input.properties)),
      ...(input.objectWriteTraceId === undefined ? {} : { objectWriteTraceId: input.objectWriteTraceId }),
    });
  }
  if (missing.length > 0) {
    errors.unshift(
      standardError('OBJECT_NOT_FOUND', `Could not update some ${SINGULAR[type].toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`, {
        ids: missing,
      }),
    );
  }
  return batchResult(ctx, startedAt, 200, results, errors);
}

/**
 * POST /crm/v3/objects/{type}/batch/create → 201 `BatchResponseSimplePublicObject`, or 207 `…WithErrors`
 * for inputs with invalid values or a missing association target. [INFER] A unique value (e.g. an email)
 * that an existing record holds rejects the whole batch with 409 CONFLICT naming the first one ("Contact
 * already exists. Existing ID: 123", pain point #7/#9); the same unique value twice in the batch is a 400.
 */
export function batchCreate(ctx: PortalContext, type: HubspotObjectType, raw: unknown): OpResult {
  const startedAt = new Date(ctx.now()).toISOString();
  const body = parseBody(BatchCreateBody, raw);
  checkBatchSize(body.inputs.length);
  const store = ctx.stores[type];
  checkWritable(ctx, type, body.inputs.flatMap((input) => Object.keys(input.properties)));
  const keys: Array<{ key: string; id: string }> = [];
  for (const input of body.inputs) {
    for (const [name, value] of Object.entries(input.properties)) {
      if (value === '' || !ctx.schema.isUnique(type, name)) continue;
      keys.push({ key: `${name}\u0000${store.keyOf(name, value)}`, id: value });
      const holder = store.holder(name, value, undefined);
      if (holder !== undefined) {
        const label = SINGULAR[type].charAt(0).toUpperCase() + SINGULAR[type].slice(1);
        throw new HubspotError(409, 'CONFLICT', `${label} already exists. Existing ID: ${holder}`, {
          context: { existingId: [holder], propertyName: [name] },
        });
      }
    }
    for (const assoc of input.associations ?? []) {
      for (const t of assoc.types) {
        const def = associationType(t.associationTypeId);
        if (t.associationCategory !== 'HUBSPOT_DEFINED' || !def || def.from !== type) {
          throw validationError(`Association type ${t.associationCategory}/${t.associationTypeId} is not defined from ${type}`, {
            context: { associationTypeId: [String(t.associationTypeId)] },
          });
        }
      }
    }
  }
  checkDuplicates(keys);

  const at = ctx.now();
  const results: unknown[] = [];
  const errors: StandardError[] = [];
  for (const input of body.inputs) {
    const values: Record<string, string> = { ...input.properties };
    if (type === 'deals' && values.pipeline === undefined) values.pipeline = DEFAULT_PIPELINE;
    const context = traceContext(input);
    const problems = valueProblems(ctx, type, values);
    if (problems.length > 0) {
      errors.push(invalidValuesError(problems, context));
      continue;
    }
    const targets = (input.associations ?? []).flatMap((a) =>
      a.types.map((t) => ({ toId: a.to.id, typeId: t.associationTypeId, toType: associationType(t.associationTypeId)?.to ?? type })),
    );
    const missingTarget = targets.find((t) => !ctx.stores[t.toType].get(t.toId));
    if (missingTarget) {
      errors.push(
        standardError('OBJECT_NOT_FOUND', `No ${SINGULAR[missingTarget.toType]} with id ${missingTarget.toId} exists to associate with.`, {
          ...context,
          toObjectId: [missingTarget.toId],
        }),
      );
      continue;
    }
    const record = store.insert(store.newId(), values, at);
    for (const t of targets) ctx.associations.add(type, record.id, t.toType, t.toId, t.typeId);
    results.push({
      ...store.view(record, writtenNames(type, values)),
      ...(input.objectWriteTraceId === undefined ? {} : { objectWriteTraceId: input.objectWriteTraceId }),
    });
  }
  return batchResult(ctx, startedAt, 201, results, errors);
}
