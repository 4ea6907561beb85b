/**
 * Records and writes: the store (with unique / external-id / email indexes and an undo journal for
 * allOrNone), and the one write path every API shares — collections, single-record calls, Bulk 2.0 rows
 * and seeding — so a record fails for the same reasons whichever way it arrives.
 *
 * Creations that commit (not seeding, not rolled back) are reported to `OrgContext.onCreated` after the
 * write (a batch: once, after its commit), which is what fires outbound messages.
 *
 * Order of checks for one record (the first that fails decides its errors):
 *   type → target (id / external id) → converted Lead → unknown fields → read-only fields → values →
 *   references exist → required fields → unique values → duplicate rules → injected errors → write.
 */
import { recordError, RecordError, requiredMissing, ROLLED_BACK_MESSAGE, saveError, shown } from './errors';
import { coerceValue, formatDateTime, indexKey, makeId, normalizeId, objectTypeOfId, type FieldDef, type OrgSchema } from './schema';
import {
  KEY_PREFIXES,
  SALESFORCE_OBJECT_TYPES,
  type CollectionResult,
  type DuplicateResult,
  type FieldValue,
  type SalesforceObjectType,
  type SalesforceRecord,
  type SaveError,
} from './types';

/** A stored record: canonical field names → values (unset fields absent). */
export type StoredRecord = Record<string, FieldValue> & { Id: string };

interface JournalEntry {
  type: SalesforceObjectType;
  id: string;
  before: StoredRecord | undefined;
}

export class RecordStore {
  private readonly records = new Map<SalesforceObjectType, Map<string, StoredRecord>>();
  private readonly sequences = new Map<SalesforceObjectType, number>();
  /** type → field (lower-case) → index key → ids. */
  private indexes = new Map<SalesforceObjectType, Map<string, Map<string, Set<string>>>>();
  private indexedSchemaVersion = -1;
  private journal: JournalEntry[] | null = null;

  constructor(private readonly schema: OrgSchema) {
    for (const type of SALESFORCE_OBJECT_TYPES) {
      this.records.set(type, new Map());
      this.sequences.set(type, 0);
    }
  }

  newId(type: SalesforceObjectType): string {
    const next = (this.sequences.get(type) ?? 0) + 1;
    this.sequences.set(type, next);
    // Spread the sequence so neighbouring ids differ in more than the last character.
    return makeRecordId(type, next);
  }

  all(type: SalesforceObjectType): StoredRecord[] {
    return [...(this.records.get(type)?.values() ?? [])];
  }

  get(type: SalesforceObjectType, id: string): StoredRecord | undefined {
    return this.records.get(type)?.get(id);
  }

  /** A record of any type by (normalized) id. */
  byId(id: string): { type: SalesforceObjectType; record: StoredRecord } | undefined {
    const type = objectTypeOfId(id);
    const record = type === undefined ? undefined : this.get(type, id);
    return type === undefined || record === undefined ? undefined : { type, record };
  }

  put(type: SalesforceObjectType, record: StoredRecord): void {
    const map = this.records.get(type);
    if (!map) return;
    const before = map.get(record.Id);
    this.journal?.push({ type, id: record.Id, before });
    if (before) this.unindex(type, before);
    map.set(record.Id, record);
    this.index(type, record);
  }

  /** Ids holding `value` in an indexed field (unique, external id, or Email). */
  lookup(type: SalesforceObjectType, def: FieldDef, value: FieldValue): string[] {
    this.ensureIndexes();
    const key = indexKey(def, value);
    if (key === null) return [];
    return [...(this.indexes.get(type)?.get(def.name.toLowerCase())?.get(key) ?? [])];
  }

  /** Starts recording undo information (allOrNone). */
  begin(): void {
    this.journal = [];
  }

  /** Stops recording; with `rollback`, undoes every write since `begin()`. */
  end(rollback: boolean): void {
    const journal = this.journal ?? [];
    this.journal = null;
    if (!rollback) return;
    for (const entry of journal.reverse()) {
      const map = this.records.get(entry.type);
      const current = map?.get(entry.id);
      if (!map) continue;
      if (current) this.unindex(entry.type, current);
      if (entry.before) {
        map.set(entry.id, entry.before);
        this.index(entry.type, entry.before);
      } else map.delete(entry.id);
    }
  }

  private indexedFields(type: SalesforceObjectType): FieldDef[] {
    return this.schema.fields(type).filter((f) => f.unique || f.externalId || f.type === 'email');
  }

  private ensureIndexes(): void {
    if (this.indexedSchemaVersion === this.schema.version) return;
    this.indexedSchemaVersion = this.schema.version;
    this.indexes = new Map();
    for (const type of SALESFORCE_OBJECT_TYPES) for (const record of this.all(type)) this.index(type, record);
  }

  private index(type: SalesforceObjectType, record: StoredRecord): void {
    if (this.indexedSchemaVersion !== this.schema.version) return; // rebuilt on the next lookup
    let byField = this.indexes.get(type);
    if (!byField) this.indexes.set(type, (byField = new Map<string, Map<string, Set<string>>>()));
    for (const def of this.indexedFields(type)) {
      const key = indexKey(def, record[def.name] ?? null);
      if (key === null) continue;
      let byKey = byField.get(def.name.toLowerCase());
      if (!byKey) byField.set(def.name.toLowerCase(), (byKey = new Map<string, Set<string>>()));
      let ids = byKey.get(key);
      if (!ids) byKey.set(key, (ids = new Set()));
      ids.add(record.Id);
    }
  }

  private unindex(type: SalesforceObjectType, record: StoredRecord): void {
    if (this.indexedSchemaVersion !== this.schema.version) return;
    const byField = this.indexes.get(type);
    for (const def of this.indexedFields(type)) {
      const key = indexKey(def, record[def.name] ?? null);
      if (key !== null) byField?.get(def.name.toLowerCase())?.get(key)?.delete(record.Id);
    }
  }
}

/** 62^9: the id space below the prefix. */
const ID_SPACE = 13_537_086_546_263_552;

function makeRecordId(type: SalesforceObjectType, sequence: number): string {
  // An affine map modulo 62^9 (7,919 is coprime with 62) keeps ids unique while mixing letter case, so the
  // 18-character checksum is exercised and neighbouring ids differ in more than their last character.
  return makeId(KEY_PREFIXES[type], (sequence * 7_919 + 104_729) % ID_SPACE);
}

// --- the write path -----------------------------------------------------------------------------------

export interface InjectedErrors {
  statusCode: string;
  message?: string;
  remaining: number;
}

export interface OrgContext {
  schema: OrgSchema;
  store: RecordStore;
  now: () => number;
  duplicateRules: boolean;
  injected: InjectedErrors[];
  /** Fault injection: whether this record (by type and key: its id, external id or email) fails alone this time. */
  recordFault?: (type: SalesforceObjectType, key: string) => boolean;
  /** Records created by a committed write (never by seeding), in write order. */
  onCreated?: (created: ReadonlyArray<{ type: SalesforceObjectType; id: string }>) => void;
}

export type WriteOp =
  | { kind: 'create'; type: string | undefined; fields: Record<string, unknown> }
  | { kind: 'update'; type: string | undefined; id: unknown; fields: Record<string, unknown> }
  | { kind: 'upsert'; type: string; extField: string; extValue: unknown; fields: Record<string, unknown>; declaredType?: string };

export interface WriteOptions {
  /** `Sforce-Duplicate-Rule-Header: allowSave=true`. */
  allowSave: boolean;
  source: 'json' | 'csv';
  /** Seeding: no duplicate rules, no injected errors, explicit ids, read-only system fields allowed. */
  seeding?: { id?: string; createdAt?: number; allowReadOnly?: readonly string[] };
  /** Bulk 2.0: duplicate rules save (alert-only, reference §8 [INFER]). */
  bulk?: boolean;
  /** A rep's save in the UI: injected errors are left for the API. */
  interactive?: boolean;
}

export type WriteOutcome = { success: true; id: string; created: boolean } | { success: false; id?: string; errors: SaveError[] };

/** Keys that are not fields in a record body. */
const NON_FIELD_KEYS = new Set(['attributes']);

export function apiUrl(type: SalesforceObjectType, id: string, version = '62.0'): string {
  return `/services/data/v${version}/sobjects/${type}/${id}`;
}

/** Derived values: Name, IsClosed/IsWon, timestamps. */
function derive(type: SalesforceObjectType, record: StoredRecord, at: number, created: boolean): void {
  const stamp = formatDateTime(at);
  if (created && record.CreatedDate === undefined) record.CreatedDate = stamp;
  record.LastModifiedDate = stamp;
  record.SystemModstamp = stamp;
  if (type === 'Lead' || type === 'Contact') {
    const name = [record.FirstName, record.LastName].filter((v) => typeof v === 'string' && v !== '').join(' ');
    record.Name = name === '' ? null : name;
  }
  if (type === 'Opportunity') {
    const stage = typeof record.StageName === 'string' ? record.StageName.toLowerCase() : '';
    record.IsClosed = stage === 'closed won' || stage === 'closed lost';
    record.IsWon = stage === 'closed won';
  }
}

/** Resolves the record a write targets; throws RecordError. */
function resolveTarget(ctx: OrgContext, op: WriteOp): { type: SalesforceObjectType; existing: StoredRecord | undefined } {
  const typeName = op.type;
  if (typeName === undefined || typeName === '') {
    if (op.kind === 'update' && typeof op.id === 'string') {
      const id = normalizeId(op.id);
      const t = id === null ? undefined : objectTypeOfId(id);
      if (t) return resolveTarget(ctx, { ...op, type: t });
    }
    throw recordError('INVALID_TYPE', 'Must specify a type in attributes', []);
  }
  const type = ctx.schema.objectType(typeName);
  if (!type) {
    throw recordError(
      'INVALID_TYPE',
      `sObject type '${typeName}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`,
    );
  }
  if (op.kind === 'create') return { type, existing: undefined };
  if (op.kind === 'update') {
    if (op.id === undefined || op.id === null || op.id === '') throw recordError('MISSING_ARGUMENT', 'Id not specified in an update call');
    const id = typeof op.id === 'string' ? normalizeId(op.id) : null;
    if (id === null || objectTypeOfId(id) !== type) throw recordError('MALFORMED_ID', `${type} ID: id value of incorrect type: ${shown(op.id)}`, ['Id']);
    const existing = ctx.store.get(type, id);
    if (!existing) throw recordError('ENTITY_IS_DELETED', 'entity is deleted');
    return { type, existing };
  }
  // upsert
  if (op.declaredType !== undefined && ctx.schema.objectType(op.declaredType) !== type) {
    throw recordError('INVALID_TYPE', `The record's attributes.type ${op.declaredType} does not match the request's sObject type ${type}`);
  }
  const def = ctx.schema.field(type, op.extField);
  if (!def) throw recordError('INVALID_FIELD', `No such column '${op.extField}' on sobject of type ${type}`, [op.extField]);
  const raw = op.extValue;
  if (raw === undefined || raw === null || raw === '') throw requiredMissing([def.name]);
  if (def.type === 'id') {
    const id = typeof raw === 'string' ? normalizeId(raw) : null;
    if (id === null || objectTypeOfId(id) !== type) throw recordError('MALFORMED_ID', `${type} ID: id value of incorrect type: ${shown(raw)}`, ['Id']);
    const existing = ctx.store.get(type, id);
    if (!existing) throw recordError('NOT_FOUND', 'Provided external ID field does not exist or is not accessible: Id');
    return { type, existing };
  }
  const value = coerceValue(def, raw, 'json');
  const ids = ctx.store.lookup(type, def, value);
  if (ids.length > 1) {
    throw recordError('DUPLICATE_EXTERNAL_ID', `${def.name}: more than one record found for external id field: [${ids.join(', ')}]`, [def.name]);
  }
  const existing = ids[0] === undefined ? undefined : ctx.store.get(type, ids[0]);
  return { type, existing };
}

function duplicateResult(type: SalesforceObjectType, matches: Array<{ type: SalesforceObjectType; id: string }>): DuplicateResult {
  const byType = new Map<SalesforceObjectType, string[]>();
  for (const m of matches) byType.set(m.type, [...(byType.get(m.type) ?? []), m.id]);
  return {
    allowSave: true,
    duplicateRule: type === 'Lead' ? 'Standard_Lead_Duplicate_Rule' : 'Standard_Contact_Duplicate_Rule',
    duplicateRuleEntityType: type,
    errorMessage: 'Use one of these records?',
    matchResults: [...byType].map(([entityType, ids]) => ({
      entityType,
      errors: [],
      matchEngine: 'ExactMatchEngine',
      matchRecords: ids.map((id) => ({ additionalInformation: [], fieldDiffs: [], matchConfidence: 100, record: { attributes: { type: entityType, url: apiUrl(entityType, id) }, Id: id } })),
      rule: entityType === 'Lead' ? 'Standard_Lead_Match_Rule_v1_0' : 'Standard_Contact_Match_Rule_v1_1',
      size: ids.length,
      success: true,
    })),
  };
}

/** Tells `ctx.onCreated` about the committed creations among `outcomes`. */
function reportCreated(ctx: OrgContext, outcomes: readonly WriteOutcome[], options: WriteOptions): void {
  if (options.seeding || !ctx.onCreated) return;
  const created: Array<{ type: SalesforceObjectType; id: string }> = [];
  for (const o of outcomes) {
    const type = o.success && o.created ? objectTypeOfId(o.id) : undefined;
    if (o.success && type !== undefined) created.push({ type, id: o.id });
  }
  if (created.length > 0) ctx.onCreated(created);
}

/** One record, validated and written (or not). Never throws for record-level problems. */
export function writeRecord(ctx: OrgContext, op: WriteOp, options: WriteOptions): WriteOutcome {
  const outcome = writeOne(ctx, op, options);
  reportCreated(ctx, [outcome], options);
  return outcome;
}

function writeOne(ctx: OrgContext, op: WriteOp, options: WriteOptions): WriteOutcome {
  let knownId: string | undefined;
  try {
    const { type, existing } = resolveTarget(ctx, op);
    knownId = existing?.Id;
    const creating = existing === undefined;
    if (type === 'Lead' && existing?.IsConverted === true) throw recordError('CANNOT_UPDATE_CONVERTED_LEAD', 'cannot reference converted lead');

    // Field names.
    const unknown: string[] = [];
    const readOnly: string[] = [];
    const entries: Array<[FieldDef, unknown]> = [];
    const allowReadOnly = new Set((options.seeding?.allowReadOnly ?? []).map((n) => n.toLowerCase()));
    for (const [key, raw] of Object.entries(op.fields)) {
      if (NON_FIELD_KEYS.has(key)) continue;
      const def = ctx.schema.field(type, key);
      if (!def) {
        unknown.push(key);
        continue;
      }
      if (def.name === 'Id') {
        // The id of an update / upsert-by-id may travel in the body; a create may not carry one.
        if (creating && raw !== undefined && raw !== null && raw !== '' && op.kind === 'create') {
          throw recordError('INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', ['Id']);
        }
        continue;
      }
      if (op.kind === 'upsert' && def.name.toLowerCase() === op.extField.toLowerCase()) continue;
      const writable = creating ? def.createable : def.updateable;
      if (!writable && !allowReadOnly.has(def.name.toLowerCase())) {
        readOnly.push(def.name);
        continue;
      }
      entries.push([def, raw]);
    }
    if (unknown.length > 0) {
      throw new RecordError(unknown.map((name) => saveError('INVALID_FIELD', `No such column '${name}' on sobject of type ${type}`, [name])));
    }
    if (readOnly.length > 0) {
      throw recordError(
        'INVALID_FIELD_FOR_INSERT_UPDATE',
        `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        readOnly,
      );
    }

    // Values.
    const record: StoredRecord = existing ? { ...existing } : { Id: options.seeding?.id ?? '' };
    const problems: SaveError[] = [];
    if (op.kind === 'upsert' && creating) {
      const def = ctx.schema.field(type, op.extField);
      if (def) record[def.name] = coerceValue(def, op.extValue, options.source);
    }
    for (const [def, raw] of entries) {
      try {
        const value = coerceValue(def, raw, options.source);
        if (value !== null && def.type === 'reference') {
          const target = def.referenceTo[0];
          if (target && !ctx.store.get(target, String(value))) {
            throw recordError('INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [def.name]);
          }
        }
        record[def.name] = value;
      } catch (err) {
        if (err instanceof RecordError) problems.push(...err.errors);
        else throw err;
      }
    }
    if (problems.length > 0) throw new RecordError(problems);

    if (creating) {
      for (const def of ctx.schema.fields(type)) {
        if (record[def.name] === undefined && def.defaultValue !== null) record[def.name] = def.defaultValue;
      }
    }
    const isEmpty = (def: FieldDef): boolean => record[def.name] === undefined || record[def.name] === null;
    const missing = (creating ? ctx.schema.fields(type) : entries.map(([def]) => def)).filter((def) => def.required && isEmpty(def)).map((def) => def.name);
    if (missing.length > 0) throw requiredMissing(missing);

    // Unique values.
    const recordId = existing?.Id ?? record.Id;
    for (const def of ctx.schema.fields(type)) {
      if (!def.unique) continue;
      const value = record[def.name] ?? null;
      if (value === null || (existing && indexKey(def, existing[def.name] ?? null) === indexKey(def, value))) continue;
      const holder = ctx.store.lookup(type, def, value).find((id) => id !== recordId);
      if (holder !== undefined) throw recordError('DUPLICATE_VALUE', `duplicate value found: ${def.name} duplicates value on record with id: ${holder}`, []);
    }

    // Duplicate rules (Lead and Contact emails, on create).
    if (creating && ctx.duplicateRules && !options.seeding && !options.bulk && !options.allowSave && (type === 'Lead' || type === 'Contact')) {
      const email = record.Email;
      if (typeof email === 'string') {
        const matches: Array<{ type: SalesforceObjectType; id: string }> = [];
        for (const t of ['Lead', 'Contact'] as const) {
          const def = ctx.schema.field(t, 'Email');
          if (!def) continue;
          for (const id of ctx.store.lookup(t, def, email)) {
            if (t === 'Lead' && ctx.store.get('Lead', id)?.IsConverted === true) continue;
            matches.push({ type: t, id });
          }
        }
        if (matches.length > 0) {
          throw new RecordError([{ ...saveError('DUPLICATES_DETECTED', 'Use one of these records?'), duplicateResult: duplicateResult(type, matches) }]);
        }
      }
    }

    // Injected failures.
    const injected = options.seeding || options.interactive ? undefined : ctx.injected.find((i) => i.remaining > 0);
    if (injected) {
      injected.remaining--;
      const message = injected.message ?? (injected.statusCode === 'UNABLE_TO_LOCK_ROW' ? `unable to obtain exclusive access to this record or 1 records: ${existing?.Id ?? ''}` : `${injected.statusCode} (injected by the sandbox)`);
      throw recordError(injected.statusCode, message);
    }
    const faultKey = existing?.Id ?? (op.kind === 'upsert' ? String(op.extValue) : typeof record.Email === 'string' ? record.Email : undefined);
    if (!options.seeding && !options.interactive && faultKey !== undefined && ctx.recordFault?.(type, faultKey) === true) {
      // A transient per-record failure Salesforce documents (a row lock), which a retry cures.
      throw recordError('UNABLE_TO_LOCK_ROW', `unable to obtain exclusive access to this record or 1 records: ${existing?.Id ?? ''}`);
    }

    if (creating && record.Id === '') record.Id = ctx.store.newId(type);
    derive(type, record, options.seeding?.createdAt ?? ctx.now(), creating);
    if (creating && options.seeding?.createdAt !== undefined) {
      record.CreatedDate = formatDateTime(options.seeding.createdAt);
    }
    ctx.store.put(type, record);
    return { success: true, id: record.Id, created: creating };
  } catch (err) {
    if (err instanceof RecordError) return { success: false, ...(knownId !== undefined ? { id: knownId } : {}), errors: err.errors };
    throw err;
  }
}

/**
 * A batch of writes in order. Records sharing an external id (upsert) or an id (update) in one batch all
 * fail [INFER]. With `allOrNone`, one failure rolls every write back and the good records report
 * ALL_OR_NONE_OPERATION_ROLLED_BACK.
 */
export function writeBatch(ctx: OrgContext, ops: readonly WriteOp[], options: WriteOptions & { allOrNone: boolean }): WriteOutcome[] {
  const keyOf = (op: WriteOp): string | null => {
    if (op.kind === 'update') {
      const id = typeof op.id === 'string' ? normalizeId(op.id) : null;
      return id === null ? null : `id:${id}`;
    }
    if (op.kind === 'upsert') {
      if (op.extValue === undefined || op.extValue === null || op.extValue === '') return null;
      if (typeof op.extValue !== 'string' && typeof op.extValue !== 'number') return null;
      const text = String(op.extValue);
      return `ext:${op.extField.toLowerCase() === 'id' ? (normalizeId(text) ?? text) : text.toLowerCase()}`;
    }
    return null;
  };
  const counts = new Map<string, number>();
  for (const op of ops) {
    const key = keyOf(op);
    if (key !== null) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  ctx.store.begin();
  let failed = false;
  const outcomes = ops.map((op): WriteOutcome => {
    const key = keyOf(op);
    if (key !== null && (counts.get(key) ?? 0) > 1) {
      failed = true;
      const errors =
        op.kind === 'update'
          ? [saveError('DUPLICATE_VALUE', `Duplicate id in list: ${key.slice(3)}`)]
          : [saveError('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${op.kind === 'upsert' ? shown(op.extValue) : ''}`, op.kind === 'upsert' ? [op.extField] : [])];
      return { success: false, errors };
    }
    const outcome = writeOne(ctx, op, options);
    if (!outcome.success) failed = true;
    return outcome;
  });
  const rollback = options.allOrNone && failed;
  ctx.store.end(rollback);
  if (!rollback) {
    reportCreated(ctx, outcomes, options);
    return outcomes;
  }
  return outcomes.map((o) => (o.success ? { success: false, errors: [saveError('ALL_OR_NONE_OPERATION_ROLLED_BACK', ROLLED_BACK_MESSAGE)] } : { success: false, errors: o.errors }));
}

/** A write outcome as sObject Collections answer it. */
export function collectionResult(outcome: WriteOutcome, withCreated: boolean): CollectionResult {
  if (outcome.success) return { id: outcome.id, success: true, errors: [], ...(withCreated ? { created: outcome.created } : {}) };
  return { ...(outcome.id !== undefined ? { id: outcome.id } : {}), success: false, errors: outcome.errors };
}

/** Every field of a record (unset → null), as the inspection helpers return it. */
export function viewRecord(schema: OrgSchema, type: SalesforceObjectType, record: StoredRecord): SalesforceRecord {
  const view: SalesforceRecord = { Id: record.Id };
  for (const def of schema.fields(type)) if (def.name !== 'Id') view[def.name] = record[def.name] ?? null;
  return view;
}
