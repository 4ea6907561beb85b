/**
 * Bulk API 2.0 ingest jobs (insert, update, upsert; CSV only), as jsforce 3's `bulk2` drives them:
 * POST /jobs/ingest → PUT /jobs/ingest/{id}/batches (text/csv) → PATCH {state: 'UploadComplete'} →
 * GET /jobs/ingest/{id} until JobComplete → GET …/successfulResults, …/failedResults, …/unprocessedrecords.
 *
 * Processing runs on real timers: UploadComplete → (bulkProcessingMs) → InProgress → (bulkProcessingMs,
 * plus rows ÷ bulkRecordsPerSecond seconds when that is set) → every row written through the shared write
 * path (same per-record rules as collections; duplicate rules save, as alert rules do for the Bulk API) →
 * JobComplete. An empty cell leaves a field unchanged, `#N/A` clears it. A header naming an unknown field,
 * or CSV that does not parse, fails the whole job. Each closed job's times (UploadComplete, and JobComplete
 * / Failed / Aborted) are kept on the sandbox clock (`ctx.now`) for `times()`, also after a delete.
 */
import { parse } from 'csv-parse/sync';
import { SalesforceApiError, notFound, saveError, shown } from './errors';
import { writeBatch, type OrgContext, type WriteOp, type WriteOutcome } from './records';
import { formatDateTime, makeId, type FieldDef } from './schema';
import type { BulkJobInfo, BulkJobTimes, SalesforceObjectType, SaveError } from './types';

const DELIMITERS: Record<string, string> = { COMMA: ',', TAB: '\t', PIPE: '|', SEMICOLON: ';', CARET: '^', BACKQUOTE: '`' };

interface Job {
  info: BulkJobInfo;
  type: SalesforceObjectType;
  csv: string | null;
  header: string[];
  successful: string[][];
  failed: string[][];
  unprocessed: string[][];
  timers: NodeJS.Timeout[];
  /** The upload parsed (null: it does not parse), once there is one: the data cannot change after it. */
  rows?: string[][] | null;
}

function jobError(message: string, status = 400): SalesforceApiError {
  return new SalesforceApiError(status, 'INVALIDJOB', `InvalidJob : ${message}`);
}

function stateError(message: string): SalesforceApiError {
  return new SalesforceApiError(409, 'INVALIDJOBSTATE', message);
}

/** `CODE:message:Field1,Field2 --` per error (Bulk API's sf__Error). */
export function bulkErrorText(errors: readonly SaveError[]): string {
  return errors.map((e) => `${e.statusCode}:${e.message}:${e.fields.join(',')} --`).join('');
}

export interface BulkDeps {
  ctx: OrgContext;
  userId: string;
  processingMs: number;
  /** Rows per second of the InProgress → JobComplete step, on top of `processingMs` (undefined: no per-row time). */
  recordsPerSecond?: number;
  /** Called once per uploaded batch (DailyBulkApiBatches). */
  onUpload: () => void;
}

export class BulkIngest {
  private readonly jobs = new Map<string, Job>();
  /** By job id, in the order the jobs were closed; kept after a delete. */
  private readonly timing = new Map<string, BulkJobTimes>();
  private sequence = 0;

  constructor(private readonly deps: BulkDeps) {}

  list(): BulkJobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j.info }));
  }

  /** When each closed job entered UploadComplete and reached JobComplete / Failed / Aborted (ms, `ctx.now`). */
  times(): BulkJobTimes[] {
    return [...this.timing.values()].map((t) => ({ ...t }));
  }

  /** The job reached a final state: its done time, if it was closed (an Open job aborted was not). */
  private markDone(job: Job): void {
    const t = this.timing.get(job.info.id);
    if (t && t.doneAt === null) t.doneAt = this.deps.ctx.now();
  }

  close(): void {
    for (const job of this.jobs.values()) this.clearTimers(job);
  }

  private job(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw notFound();
    return job;
  }

  private clearTimers(job: Job): void {
    for (const t of job.timers) clearTimeout(t);
    job.timers = [];
  }

  private touch(job: Job): void {
    job.info.systemModstamp = formatDateTime(this.deps.ctx.now());
  }

  /** POST /jobs/ingest. */
  create(body: unknown, version: string): BulkJobInfo {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw jobError('The request body must be a JSON object');
    const input = body as Record<string, unknown>;
    const objectName = typeof input.object === 'string' ? input.object : '';
    const type = this.deps.ctx.schema.objectType(objectName);
    if (!type) throw new SalesforceApiError(400, 'INVALIDENTITY', `InvalidEntity : sObject type '${objectName}' is not supported by the Bulk API`);
    const operation = input.operation;
    if (operation !== 'insert' && operation !== 'update' && operation !== 'upsert') {
      throw jobError(`Invalid or unsupported operation: ${shown(operation)} (the sandbox supports insert, update, upsert)`);
    }
    let externalIdFieldName: string | undefined;
    if (operation === 'upsert') {
      const name = typeof input.externalIdFieldName === 'string' ? input.externalIdFieldName : '';
      if (name === '') throw jobError('External ID field is required for upsert');
      const def = this.deps.ctx.schema.field(type, name);
      if (!def || !(def.externalId || def.type === 'id')) throw jobError(`The field ${name} is not an External ID or Id field of ${type}`);
      externalIdFieldName = def.name;
    }
    if (input.contentType !== undefined && input.contentType !== 'CSV') throw jobError(`Unsupported contentType: ${shown(input.contentType)}`);
    const lineEnding = input.lineEnding ?? 'LF';
    if (lineEnding !== 'LF' && lineEnding !== 'CRLF') throw jobError(`Invalid lineEnding: ${shown(lineEnding)}`);
    const columnDelimiter = typeof input.columnDelimiter === 'string' ? input.columnDelimiter : 'COMMA';
    if (DELIMITERS[columnDelimiter] === undefined) throw jobError(`Invalid columnDelimiter: ${columnDelimiter}`);
    const id = makeId('750', ++this.sequence);
    const now = formatDateTime(this.deps.ctx.now());
    const info: BulkJobInfo = {
      id,
      operation,
      object: type,
      createdById: this.deps.userId,
      createdDate: now,
      systemModstamp: now,
      state: 'Open',
      ...(externalIdFieldName !== undefined ? { externalIdFieldName } : {}),
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(version),
      jobType: 'V2Ingest',
      lineEnding,
      columnDelimiter,
      contentUrl: `services/data/v${version}/jobs/ingest/${id}/batches`,
      numberRecordsProcessed: 0,
      numberRecordsFailed: 0,
      retries: 0,
      totalProcessingTime: 0,
    };
    this.jobs.set(id, { info, type, csv: null, header: [], successful: [], failed: [], unprocessed: [], timers: [] });
    return { ...info };
  }

  /** PUT /jobs/ingest/{id}/batches. */
  upload(id: string, csv: string): void {
    const job = this.job(id);
    if (job.info.state !== 'Open') throw stateError(`Unable to upload data: job ${id} is ${job.info.state}, not Open`);
    // [INFER] Bulk 2.0 takes one upload per job.
    if (job.csv !== null) throw stateError(`Job ${id} already has data; a job takes one upload`);
    job.csv = csv;
    this.deps.onUpload();
    this.touch(job);
  }

  /** PATCH /jobs/ingest/{id}: UploadComplete (starts processing) or Aborted. */
  setState(id: string, body: unknown): BulkJobInfo {
    const job = this.job(id);
    const state = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).state : undefined;
    if (state === 'UploadComplete') {
      if (job.info.state !== 'Open') throw stateError(`Unable to close job ${id}: it is ${job.info.state}, not Open`);
      job.info.state = 'UploadComplete';
      this.touch(job);
      this.timing.set(id, { id, object: job.info.object, uploadCompleteAt: this.deps.ctx.now(), doneAt: null });
      const ms = this.deps.processingMs;
      const started = Date.now();
      const t1 = setTimeout(() => {
        job.info.state = 'InProgress';
        this.touch(job);
        const rate = this.deps.recordsPerSecond;
        const rowTimeMs = rate === undefined ? 0 : Math.ceil((this.dataRowCount(job) / rate) * 1000);
        const t2 = setTimeout(() => {
          this.process(job);
          job.info.totalProcessingTime = Date.now() - started;
          this.markDone(job);
        }, ms + rowTimeMs);
        t2.unref();
        job.timers.push(t2);
      }, ms);
      t1.unref();
      job.timers.push(t1);
      return { ...job.info };
    }
    if (state === 'Aborted') {
      if (job.info.state !== 'Open' && job.info.state !== 'UploadComplete' && job.info.state !== 'InProgress') {
        throw stateError(`Unable to abort job ${id}: it is ${job.info.state}`);
      }
      this.clearTimers(job);
      job.info.state = 'Aborted';
      this.touch(job);
      this.markDone(job);
      this.markUnprocessed(job);
      return { ...job.info };
    }
    throw stateError(`Invalid state change requested: ${shown(state)}`);
  }

  get(id: string): BulkJobInfo {
    return { ...this.job(id).info };
  }

  /** DELETE /jobs/ingest/{id}. */
  delete(id: string): void {
    const job = this.job(id);
    if (job.info.state === 'Open' || job.info.state === 'InProgress') throw stateError(`Unable to delete job ${id}: it is ${job.info.state}`);
    this.clearTimers(job);
    this.jobs.delete(id);
  }

  /** The CSV of a result set (every value quoted, so `;` or `|` in data survive jsforce's multi-delimiter parse). */
  results(id: string, kind: 'successful' | 'failed' | 'unprocessed'): string {
    const job = this.job(id);
    const delimiter = DELIMITERS[job.info.columnDelimiter] ?? ',';
    const eol = job.info.lineEnding === 'CRLF' ? '\r\n' : '\n';
    const quote = (v: string): string => `"${v.replace(/"/g, '""')}"`;
    const header = kind === 'successful' ? ['sf__Id', 'sf__Created', ...job.header] : kind === 'failed' ? ['sf__Id', 'sf__Error', ...job.header] : job.header;
    if (header.length === 0) return '';
    const rows = kind === 'successful' ? job.successful : kind === 'failed' ? job.failed : job.unprocessed;
    return [header, ...rows].map((row) => row.map(quote).join(delimiter) + eol).join('');
  }

  private fail(job: Job, message: string): void {
    job.info.state = 'Failed';
    job.info.errorMessage = message;
    this.touch(job);
    this.markUnprocessed(job);
  }

  private parsed(job: Job): string[][] | null {
    if (job.csv === null || job.csv.trim() === '') return [];
    if (job.rows !== undefined) return job.rows;
    try {
      job.rows = parse(job.csv, { delimiter: DELIMITERS[job.info.columnDelimiter] ?? ',', bom: true, skip_empty_lines: true, relax_column_count: true });
    } catch {
      job.rows = null;
    }
    return job.rows;
  }

  /** The upload's data rows (after the header); 0 when there is none or it does not parse. */
  private dataRowCount(job: Job): number {
    return Math.max(0, (this.parsed(job)?.length ?? 0) - 1);
  }

  private markUnprocessed(job: Job): void {
    const rows = this.parsed(job) ?? [];
    job.header = rows[0] ?? job.header;
    job.unprocessed = rows.slice(1);
  }

  private process(job: Job): void {
    job.timers = [];
    const rows = this.parsed(job);
    if (rows === null) {
      this.fail(job, 'InvalidBatch : Failed to parse the CSV data');
      return;
    }
    const [header = [], ...data] = rows;
    job.header = header;
    if (header.length === 0) {
      // [INFER] A job closed without data completes with nothing processed.
      job.info.state = 'JobComplete';
      this.touch(job);
      return;
    }
    const { schema, store } = this.deps.ctx;
    const type = job.type;
    const extField = job.info.externalIdFieldName;

    // Columns: a field, or `Relationship.ExternalIdField` (a parent found by its external id).
    type Column = { kind: 'id' } | { kind: 'field'; def: FieldDef } | { kind: 'parent'; ref: FieldDef; target: SalesforceObjectType; key: FieldDef };
    const columns: Column[] = [];
    for (const name of header) {
      const parts = name.trim().split('.');
      if (parts.length === 1 && parts[0]?.toLowerCase() === 'id') {
        columns.push({ kind: 'id' });
        continue;
      }
      if (parts.length === 1) {
        const def = schema.field(type, parts[0] ?? '');
        if (!def) return this.fail(job, `InvalidBatch : Field name not found : ${name}`);
        columns.push({ kind: 'field', def });
        continue;
      }
      const ref = parts.length === 2 ? schema.relationship(type, parts[0] ?? '') : undefined;
      const target = ref?.referenceTo[0];
      const key = target === undefined ? undefined : schema.field(target, parts[1] ?? '');
      if (!ref || !target || !key || !(key.externalId || key.type === 'id')) return this.fail(job, `InvalidBatch : Field name not found : ${name}`);
      columns.push({ kind: 'parent', ref, target, key });
    }
    const extIndex = extField === undefined ? -1 : columns.findIndex((c) => (c.kind === 'id' && extField === 'Id') || (c.kind === 'field' && c.def.name === extField));
    const idIndex = columns.findIndex((c) => c.kind === 'id');
    if (job.info.operation === 'upsert' && extIndex === -1) return this.fail(job, `InvalidBatch : External ID field ${extField ?? ''} is not in the CSV header`);
    if (job.info.operation === 'update' && idIndex === -1) return this.fail(job, 'InvalidBatch : Field name not found : Id');

    const outcomes: Array<WriteOutcome | undefined> = new Array<WriteOutcome | undefined>(data.length);
    const ops: WriteOp[] = [];
    const opRows: number[] = [];
    data.forEach((row, r) => {
      if (row.length !== header.length) {
        outcomes[r] = { success: false, errors: [saveError('INVALID_FIELD', `The row has ${row.length} values, the header ${header.length}`)] };
        return;
      }
      const fields: Record<string, unknown> = {};
      let preError: SaveError | undefined;
      columns.forEach((col, c) => {
        const cell = row[c] ?? '';
        if (col.kind === 'id') {
          if (job.info.operation === 'insert' && cell !== '') fields.Id = cell;
          return;
        }
        if (c === extIndex) return;
        if (cell === '') return; // empty: leave the field unchanged
        const value = cell === '#N/A' ? null : cell;
        if (col.kind === 'field') {
          fields[col.def.name] = value;
          return;
        }
        if (value === null) {
          fields[col.ref.name] = null;
          return;
        }
        const ids = col.key.type === 'id' ? [value] : store.lookup(col.target, col.key, value);
        const parent = ids.length === 1 && ids[0] !== undefined ? store.get(col.target, ids[0]) : undefined;
        if (!parent) {
          preError ??= saveError(
            ids.length > 1 ? 'DUPLICATE_EXTERNAL_ID' : 'INVALID_FIELD',
            ids.length > 1 ? `${col.key.name}: more than one record found for external id field: [${ids.join(', ')}]` : `Foreign key external ID: ${value} not found for field ${col.key.name} in entity ${col.target}`,
            [col.ref.name],
          );
          return;
        }
        fields[col.ref.name] = parent.Id;
      });
      if (preError) {
        outcomes[r] = { success: false, errors: [preError] };
        return;
      }
      const op: WriteOp =
        job.info.operation === 'insert'
          ? { kind: 'create', type, fields }
          : job.info.operation === 'update'
            ? { kind: 'update', type, id: row[idIndex] ?? '', fields }
            : { kind: 'upsert', type, extField: extField ?? '', extValue: row[extIndex] === '' ? null : row[extIndex], fields };
      ops.push(op);
      opRows.push(r);
    });
    const written = writeBatch(this.deps.ctx, ops, { allOrNone: false, allowSave: false, source: 'csv', bulk: true });
    written.forEach((outcome, i) => {
      const r = opRows[i];
      if (r !== undefined) outcomes[r] = outcome;
    });

    job.successful = [];
    job.failed = [];
    job.unprocessed = [];
    data.forEach((row, r) => {
      const outcome = outcomes[r];
      if (outcome?.success) job.successful.push([outcome.id, String(outcome.created), ...row]);
      else job.failed.push([outcome?.id ?? '', bulkErrorText(outcome?.errors ?? []), ...row]);
    });
    job.info.numberRecordsProcessed = data.length;
    job.info.numberRecordsFailed = job.failed.length;
    job.info.state = 'JobComplete';
    this.touch(job);
  }
}
