/**
 * A stateful Leadpipe Orbit sandbox on loopback: the run-based API subset orbit-sync uses
 * (/work/shared/reference/leadpipe-api.md §1–§7), so the demo and end-to-end tests run with no account.
 *
 * Request flow (API routes):
 *   1. route the method + path (unknown path → 404, wrong method → 405);
 *   2. count the request for its route (test control);
 *   3. check `x-api-key` (missing/wrong → 401 UNAUTHORIZED);
 *   4. sliding one-minute window per key (over it → 429 RATE_LIMITED with Retry-After seconds);
 *   5. an injected fault (../faults: `faults` option, `setFaults`), seeded: a 429 RATE_LIMITED with
 *      Retry-After 1, a 5xx, an answer held past the client's timeout or cut half-way (a download cut
 *      half-way through the file), or, on the storage route only, a signed URL refused as expired (API keys
 *      never expire); then an injected response for this route, if a test queued one;
 *   6. the handler. JSON is always `{data, meta:{timestamp, request_id}}` or `{error:{code,message}, meta}`.
 * The signed storage route (`/_storage/exports/…`) stands in for Backblaze B2: no api key, no rate limit,
 * only the URL signature and expiry are checked.
 *
 * Run lifecycle: a manual run is `queued` when created, becomes `running` `runTransitionMs` later and
 * `completed` after another `runTransitionMs`. The status is derived from the clock whenever the run is
 * read, so there are no timers to leak and an injected clock (`now`) drives it deterministically.
 *
 * Result rows are never stored: each run keeps only a seed, and results pages, stats, `export.csv` and
 * stored exports regenerate the rows they need from it (generatePeople is random-access and streams).
 * The server never calls anything but itself.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { exportCsvChunks, resultFieldValue } from '../export-csv';
import type { ExportCsvOptions } from '../export-csv';
import { DEFAULT_TOPICS, generatePeople, LEADPIPE_RESULT_FIELDS } from '../generate-people';
import type { GeneratedRow, LeadpipeResultField, LeadpipeTopic } from '../generate-people';
import { hashSeed } from '../random';
import { SandboxFaults, serverErrorStatus, type FaultConfig, type FaultControls } from '../faults';
import { describeZodError, listenOnLoopback, matchRoute, readBodyText, type RouteSpec } from '../http';
import { HttpError } from '../../lib/http-error';

// --- public types ---------------------------------------------------------------------------------

export type LeadpipeAudienceStatus = 'draft' | 'active' | 'paused';
export type LeadpipeRunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type LeadpipeRunType = 'manual' | 'daily' | 'preview';

export interface LeadpipeAudience {
  id: string;
  organizationId: string;
  name: string;
  status: LeadpipeAudienceStatus;
  accessType: 'paid';
  dailyRefreshEnabled: boolean;
  audienceSize: number;
  lastRefreshedAt: string | null;
  config: { topicIds: number[]; minScore: number; maxScore: number; minTopicOverlap: number; filters: Record<string, unknown> };
  topics: Array<{ id: number; name: string }>;
  createdAt: string;
  updatedAt: string;
}

/** `IntentAudienceRun`, reference §3.4. */
export interface LeadpipeRun {
  id: string;
  audienceId: string;
  organizationId: string;
  status: LeadpipeRunStatus;
  runType: LeadpipeRunType;
  configHash: string;
  dataDate: string;
  resultKey: string | null;
  candidateCount: number;
  resultCount: number;
  attempts: number;
  nextAttemptAt: string | null;
  idempotencyKey: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  startedAt: string | null;
  completedAt: string | null;
  cancelledAt: string | null;
  readyEmailSentAt: string | null;
  readyEmailExportId: string | null;
  readyEmailError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A stored export, reference §7.2 (`storageProvider` is `sandbox` instead of `b2`). */
export interface LeadpipeExport {
  id: string;
  organizationId: string;
  audienceId: string;
  runId: string;
  exportType: 'csv';
  status: 'completed';
  storageProvider: 'sandbox';
  contentType: 'text/csv';
  byteSize: number;
  rowCount: number;
  bucketName: string;
  fileId: string;
  fileName: string;
  contentSha1: string;
  errorCode: string | null;
  errorMessage: string | null;
  requestedBy: string | null;
  completedAt: string;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
}

export const LEADPIPE_SANDBOX_ROUTES = [
  'listAudiences',
  'getAudience',
  'listRuns',
  'createRun',
  'cancelRun',
  'getRunResults',
  'getRunStats',
  'exportCsv',
  'createExport',
  'getExport',
  'downloadExport',
] as const;
export type LeadpipeSandboxRoute = (typeof LEADPIPE_SANDBOX_ROUTES)[number];

export interface SandboxAudienceInput {
  id?: string;
  name?: string;
  status?: LeadpipeAudienceStatus;
  /** Ids from DEFAULT_TOPICS; unknown ids get a generic topic. Default: three marketing topics. */
  topicIds?: number[];
  /** Completed daily runs to create, one per past day (default 3). */
  dailyRuns?: number;
  /** Rows per run of this audience (default: the sandbox's `peoplePerRun`). */
  peoplePerRun?: number;
}

export interface SandboxRunInput {
  id?: string;
  runType?: LeadpipeRunType;
  /** Default `completed`. A `queued` run then follows the timed lifecycle. */
  status?: LeadpipeRunStatus;
  /** Rows in the run (default: the audience's `peoplePerRun`). May exceed the 300,000 export cap. */
  people?: number;
  idempotencyKey?: string;
  /** Serve these rows (and, for exports, these exact bytes) instead of generated people (`orbit-sync sandbox --fixture`). */
  fixture?: SandboxFixture;
}

/** A run's content taken from a file: the rows for results and stats, the bytes for exports. */
export interface SandboxFixture {
  rows: readonly GeneratedRow[];
  csv: Buffer;
}

export interface ResponseInjection {
  status: number;
  /** How many of the next responses of the route to replace (default 1). */
  times?: number;
  code?: string;
  message?: string;
  /** Sent as `Retry-After` (default 1 for a 429). */
  retryAfterSeconds?: number;
}

export interface LeadpipeSandboxOptions {
  /** Default `sk_sandbox_orbit_sync`. */
  apiKey?: string;
  /** Seeds ids and rows: same seed + same calls → same data. Default `orbit-sync`. */
  seed?: number | string;
  /** Default: two active audiences with 3 completed daily runs each. `[]` starts empty. */
  audiences?: SandboxAudienceInput[];
  /** Rows per run (default 150). */
  peoplePerRun?: number;
  /** Per api key, over a sliding 60 s window. Default: unlimited. */
  rateLimit?: { requestsPerMinute: number };
  /** Lifetime of signed download URLs (default 1 hour). */
  exportUrlTtlMs?: number;
  /** Time a manual run spends queued, then running (default 250 ms each). */
  runTransitionMs?: number;
  /** Share of malformed rows in every run (default 0). */
  malformedShare?: number;
  /** Share of duplicate people in every run (default 0.02). */
  duplicateShare?: number;
  /** How CSV exports are written (default: JSON topics, LF). */
  csv?: ExportCsvOptions;
  /** Clock (ms since epoch), for tests. Default `Date.now`. */
  now?: () => number;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Faults to inject from the start (see ../faults); `setFaults` changes them later. */
  faults?: FaultConfig;
}

export interface LeadpipeSandboxState {
  audiences: LeadpipeAudience[];
  runs: LeadpipeRun[];
  exports: LeadpipeExport[];
  requests: Record<LeadpipeSandboxRoute, number>;
}

export interface LeadpipeSandbox extends FaultControls {
  /** Base URL, e.g. `http://127.0.0.1:54321` (paths start with `/v1/…`). */
  url: string;
  apiKey: string;
  close(): Promise<void>;
  /** A snapshot (copies) of audiences, runs (statuses brought up to date), exports and request counts. */
  readonly state: LeadpipeSandboxState;
  addAudience(input?: SandboxAudienceInput): LeadpipeAudience;
  addRun(audienceId: string, input?: SandboxRunInput): LeadpipeRun;
  setRunStatus(runId: string, status: LeadpipeRunStatus, error?: { code: string; message: string }): LeadpipeRun;
  requestCount(route: LeadpipeSandboxRoute): number;
  resetRequestCounts(): void;
  /** The next `times` requests of `route` that pass auth and the rate limit get this status instead. */
  injectResponses(route: LeadpipeSandboxRoute, injection: ResponseInjection): void;
  /** The rows a run serves (its export, in order), regenerated from its seed: e.g. to seed a CRM sandbox with some of them. */
  runRows(runId: string): Generator<GeneratedRow, void, undefined>;
}

// --- constants --------------------------------------------------------------------------------------

export const DEFAULT_SANDBOX_API_KEY = 'sk_sandbox_orbit_sync';
/** ref-csv: "Export is capped at 300,000 rows". */
export const EXPORT_ROW_CAP = 300_000;
const DAY_MS = 86_400_000;
const RATE_WINDOW_MS = 60_000;
const MAX_BODY_BYTES = 64 * 1024;
/** Stats and stored exports walk whole runs; yielding this often keeps other requests served. */
const ROWS_PER_TICK = 2_000;

const DEFAULT_AUDIENCES: readonly SandboxAudienceInput[] = [
  { name: 'Marketing Directors at Tech Companies', status: 'active', topicIds: [117805, 117890, 117918] },
  { name: 'Finance Leaders Evaluating Spend Tools', status: 'active', topicIds: [119406, 119517, 118233] },
];

// --- internal records -------------------------------------------------------------------------------

interface AudienceRecord {
  audience: LeadpipeAudience;
  topics: readonly LeadpipeTopic[];
  peoplePerRun: number;
}

interface RunRecord {
  run: LeadpipeRun;
  seed: number;
  /** Rows the run holds once completed. */
  people: number;
  /** Timed lifecycle of a queued run; null once settled or set by hand. */
  schedule: { runningAt: number; completedAt: number } | null;
  /** Computed once: a completed run never changes. */
  stats?: Promise<RunStats>;
  fixture?: SandboxFixture;
}

interface RunStats {
  total: number;
  fillRates: Record<string, { count: number; percent: number }>;
  scoreHistogram: Array<{ bucket: string; count: number; percent: number }>;
  averages: { score: number | null };
}



const A = '/v1/intent/audiences';
const SEG = '([^/]+)';
const ROUTES: readonly RouteSpec<LeadpipeSandboxRoute>[] = [
  { route: 'listAudiences', method: 'GET', pattern: new RegExp(`^${A}$`) },
  { route: 'getAudience', method: 'GET', pattern: new RegExp(`^${A}/${SEG}$`) },
  { route: 'listRuns', method: 'GET', pattern: new RegExp(`^${A}/${SEG}/runs$`) },
  { route: 'createRun', method: 'POST', pattern: new RegExp(`^${A}/${SEG}/runs$`) },
  { route: 'cancelRun', method: 'DELETE', pattern: new RegExp(`^${A}/${SEG}/runs/${SEG}$`) },
  { route: 'getRunResults', method: 'GET', pattern: new RegExp(`^${A}/${SEG}/runs/${SEG}/results$`) },
  { route: 'getRunStats', method: 'GET', pattern: new RegExp(`^${A}/${SEG}/runs/${SEG}/stats$`) },
  { route: 'exportCsv', method: 'GET', pattern: new RegExp(`^${A}/${SEG}/runs/${SEG}/export\\.csv$`) },
  { route: 'createExport', method: 'POST', pattern: new RegExp(`^${A}/${SEG}/runs/${SEG}/exports$`) },
  { route: 'getExport', method: 'GET', pattern: new RegExp(`^${A}/${SEG}/runs/${SEG}/exports/${SEG}$`) },
  { route: 'downloadExport', method: 'GET', pattern: /^\/_storage\/exports\/([^/]+)\.csv$/ },
];


// --- request schemas (zod at the boundary) -------------------------------------------------------

const limitParam = (fallback: number) => z.coerce.number().int().min(1).max(100).default(fallback);
const ListAudiencesQuery = z.object({
  status: z.enum(['draft', 'active', 'paused']).optional(),
  limit: limitParam(50),
});
const ListRunsQuery = z.object({ limit: limitParam(25) });
const ResultsQuery = z.object({ limit: limitParam(50), offset: z.coerce.number().int().min(0).default(0) });
const CreateRunBody = z.object({
  runType: z
    .literal('manual', { error: "runType must be 'manual': daily runs are queued by Leadpipe's scheduler" })
    .default('manual'),
});
const IdempotencyKey = z.string().min(1).max(120, 'Idempotency-Key must be at most 120 characters').optional();
const SignedUrlQuery = z.object({ expires: z.string().regex(/^\d+$/), sig: z.string().regex(/^[0-9a-f]{64}$/) });


// --- small helpers --------------------------------------------------------------------------------

/** A UUID-shaped id (version 4 bits set) derived from the seed, so the same seed gives the same ids. */
function uuidFrom(...parts: ReadonlyArray<string | number>): string {
  const h = createHash('sha256').update(parts.map(String).join('\u0000')).digest('hex');
  const variant = ((parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoDate(ms: number): string {
  return iso(ms).slice(0, 10);
}

function percent(count: number, total: number): number {
  return total === 0 ? 0 : Math.round((count / total) * 10_000) / 100;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  429: 'RATE_LIMITED',
  500: 'INTERNAL_ERROR',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

/** Skips/takes a byte range of a chunk stream without holding more than one chunk. */
function* byteRange(chunks: Iterable<Buffer>, start: number, endInclusive: number): Generator<Buffer, void, undefined> {
  let offset = 0;
  for (const chunk of chunks) {
    const chunkEnd = offset + chunk.length;
    if (chunkEnd > start) {
      const from = Math.max(0, start - offset);
      const to = Math.min(chunk.length, endInclusive + 1 - offset);
      if (to > from) yield chunk.subarray(from, to);
    }
    offset = chunkEnd;
    if (offset > endInclusive) return;
  }
}


// --- the sandbox ----------------------------------------------------------------------------------

export async function startLeadpipeSandbox(options: LeadpipeSandboxOptions = {}): Promise<LeadpipeSandbox> {
  const apiKey = options.apiKey ?? DEFAULT_SANDBOX_API_KEY;
  const seedText = String(options.seed ?? 'orbit-sync');
  const now = options.now ?? Date.now;
  const peoplePerRun = options.peoplePerRun ?? 150;
  const exportUrlTtlMs = options.exportUrlTtlMs ?? 3_600_000;
  const runTransitionMs = options.runTransitionMs ?? 250;
  const duplicateShare = options.duplicateShare ?? 0.02;
  const malformedShare = options.malformedShare ?? 0;
  const csvOptions: ExportCsvOptions = options.csv ?? {};
  const requestsPerMinute = options.rateLimit?.requestsPerMinute;
  // Fresh per server: a URL signed by one sandbox must not open another one's exports.
  const signingKey = randomBytes(32);
  const organizationId = uuidFrom(seedText, 'organization');

  const audiences = new Map<string, AudienceRecord>();
  const runs = new Map<string, RunRecord>();
  const exportsById = new Map<string, LeadpipeExport>();
  const exportIdByRun = new Map<string, string>();
  const pendingExports = new Map<string, Promise<LeadpipeExport>>();
  const idempotentRuns = new Map<string, string>();
  const rateWindows = new Map<string, number[]>();
  const injections = new Map<LeadpipeSandboxRoute, ResponseInjection[]>();
  const faults = new SandboxFaults(options.faults, now);
  const requestCounts = Object.fromEntries(LEADPIPE_SANDBOX_ROUTES.map((r) => [r, 0])) as Record<
    LeadpipeSandboxRoute,
    number
  >;
  let audienceSeq = 0;
  let runSeq = 0;
  let baseUrl = '';

  // 1. state changes ------------------------------------------------------------------------------

  function topicsFor(topicIds: readonly number[]): LeadpipeTopic[] {
    return topicIds.map(
      (id) =>
        DEFAULT_TOPICS.find((t) => t.topicId === id) ?? {
          topicId: id,
          topicName: `Topic ${id}`,
          type: 'b2b',
          industry: 'Technology',
          category: 'Service',
        },
    );
  }

  function complete(record: RunRecord, at: number): void {
    const run = record.run;
    run.status = 'completed';
    run.startedAt ??= iso(at);
    run.completedAt = iso(at);
    run.updatedAt = iso(at);
    run.resultCount = record.people;
    // Leadpipe's candidate count is the pre-cap pool, far larger than what is materialized.
    run.candidateCount = record.people * 40 + (record.seed % 997);
    run.resultKey = `intent-audiences/${run.audienceId}/runs/${run.id}`;
    run.attempts = Math.max(run.attempts, 1);
    record.schedule = null;
    const audience = audiences.get(run.audienceId)?.audience;
    if (audience && (audience.lastRefreshedAt === null || audience.lastRefreshedAt <= run.completedAt)) {
      audience.audienceSize = record.people;
      audience.lastRefreshedAt = run.completedAt;
      audience.updatedAt = run.completedAt;
    }
  }

  /** Moves a timed run along its lifecycle up to the current time. */
  function advance(record: RunRecord): RunRecord {
    const schedule = record.schedule;
    if (!schedule) return record;
    const t = now();
    if (record.run.status === 'queued' && t >= schedule.runningAt) {
      record.run.status = 'running';
      record.run.startedAt = iso(schedule.runningAt);
      record.run.updatedAt = iso(schedule.runningAt);
      record.run.attempts = 1;
    }
    if (record.run.status === 'running' && t >= schedule.completedAt) complete(record, schedule.completedAt);
    return record;
  }

  function setStatus(record: RunRecord, status: LeadpipeRunStatus, error?: { code: string; message: string }): void {
    const t = now();
    const run = record.run;
    record.schedule = null;
    run.status = status;
    run.updatedAt = iso(t);
    if (status === 'completed') {
      complete(record, t);
      return;
    }
    run.resultCount = 0;
    if (status === 'running') run.startedAt ??= iso(t);
    if (status === 'cancelled') run.cancelledAt = iso(t);
    if (status === 'failed') {
      run.errorCode = error?.code ?? 'MATERIALIZATION_FAILED';
      run.errorMessage = error?.message ?? 'The sandbox was told to fail this run.';
    }
  }

  function addRun(audienceId: string, input: SandboxRunInput = {}, createdAtMs?: number): RunRecord {
    const owner = audiences.get(audienceId);
    if (!owner) throw new RangeError(`Leadpipe sandbox: no audience ${audienceId}`);
    runSeq++;
    const id = input.id ?? uuidFrom(seedText, 'run', audienceId, runSeq);
    if (runs.has(id)) throw new RangeError(`Leadpipe sandbox: run ${id} exists already`);
    const created = createdAtMs ?? now();
    const run: LeadpipeRun = {
      id,
      audienceId,
      organizationId,
      status: 'queued',
      runType: input.runType ?? 'manual',
      configHash: createHash('sha256').update(JSON.stringify(owner.audience.config)).digest('hex'),
      dataDate: isoDate(created - DAY_MS),
      resultKey: null,
      candidateCount: 0,
      resultCount: 0,
      attempts: 0,
      nextAttemptAt: null,
      idempotencyKey: input.idempotencyKey ?? null,
      errorCode: null,
      errorMessage: null,
      startedAt: null,
      completedAt: null,
      cancelledAt: null,
      readyEmailSentAt: null,
      readyEmailExportId: null,
      readyEmailError: null,
      createdAt: iso(created),
      updatedAt: iso(created),
    };
    const record: RunRecord = {
      run,
      seed: hashSeed(seedText, 'run', id),
      people: input.fixture?.rows.length ?? input.people ?? owner.peoplePerRun,
      schedule: null,
      ...(input.fixture && { fixture: input.fixture }),
    };
    runs.set(id, record);
    const status = input.status ?? 'completed';
    if (status === 'queued') {
      record.schedule = { runningAt: created + runTransitionMs, completedAt: created + 2 * runTransitionMs };
    } else if (status === 'completed' && createdAtMs !== undefined) {
      // Seeded daily runs: started a minute after creation, done five minutes later.
      run.startedAt = iso(created + 60_000);
      complete(record, created + 6 * 60_000);
    } else {
      setStatus(record, status);
    }
    return record;
  }

  function addAudience(input: SandboxAudienceInput = {}): AudienceRecord {
    audienceSeq++;
    const id = input.id ?? uuidFrom(seedText, 'audience', audienceSeq);
    if (audiences.has(id)) throw new RangeError(`Leadpipe sandbox: audience ${id} exists already`);
    const topicIds = input.topicIds ?? [117805, 117890, 117918];
    const topics = topicsFor(topicIds);
    const status = input.status ?? 'active';
    const createdAt = iso(now() - 30 * DAY_MS);
    const record: AudienceRecord = {
      audience: {
        id,
        organizationId,
        name: input.name ?? `Sandbox audience ${audienceSeq}`,
        status,
        accessType: 'paid',
        dailyRefreshEnabled: status === 'active',
        audienceSize: 0,
        lastRefreshedAt: null,
        config: { topicIds: [...topicIds], minScore: 70, maxScore: 100, minTopicOverlap: 1, filters: {} },
        topics: topics.map((t) => ({ id: t.topicId, name: t.topicName })),
        createdAt,
        updatedAt: createdAt,
      },
      topics,
      peoplePerRun: input.peoplePerRun ?? peoplePerRun,
    };
    audiences.set(id, record);
    const dailyRuns = input.dailyRuns ?? 3;
    for (let daysAgo = dailyRuns; daysAgo >= 1; daysAgo--) {
      addRun(id, { runType: 'daily', status: 'completed' }, now() - daysAgo * DAY_MS);
    }
    return record;
  }

  for (const input of options.audiences ?? DEFAULT_AUDIENCES) addAudience(input);

  // 2. data derived from a run's seed ------------------------------------------------------------

  function runRows(record: RunRecord, start: number, count: number): Generator<GeneratedRow, void, undefined> {
    if (record.fixture) return fixtureRows(record.fixture, start, count);
    const owner = audiences.get(record.run.audienceId);
    return generatePeople({
      seed: record.seed,
      start,
      count,
      duplicateShare,
      malformedShare,
      topics: owner?.topics ?? DEFAULT_TOPICS,
    });
  }

  function* fixtureRows(fixture: SandboxFixture, start: number, count: number): Generator<GeneratedRow, void, undefined> {
    yield* fixture.rows.slice(start, start + count);
  }

  function* fixtureChunks(csv: Buffer): Generator<Buffer, void, undefined> {
    for (let at = 0; at < csv.length; at += 64 * 1024) yield csv.subarray(at, at + 64 * 1024);
  }

  function exportRowCount(record: RunRecord): number {
    return Math.min(record.run.resultCount, EXPORT_ROW_CAP);
  }

  function csvChunks(record: RunRecord): Generator<Buffer, void, undefined> {
    if (record.fixture) return fixtureChunks(record.fixture.csv);
    return exportCsvChunks(runRows(record, 0, exportRowCount(record)), csvOptions);
  }

  async function computeStats(record: RunRecord): Promise<RunStats> {
    const total = record.run.resultCount;
    const counts = new Map<LeadpipeResultField, number>(LEADPIPE_RESULT_FIELDS.map((f) => [f, 0]));
    const buckets = [
      { bucket: '50-69', min: 50, max: 69, count: 0 },
      { bucket: '70-89', min: 70, max: 89, count: 0 },
      { bucket: '90-99', min: 90, max: 99, count: 0 },
    ];
    let scoreSum = 0;
    let scored = 0;
    let seen = 0;
    for (const row of runRows(record, 0, total)) {
      for (const field of LEADPIPE_RESULT_FIELDS) {
        if (resultFieldValue(row.person, field) !== '') counts.set(field, (counts.get(field) ?? 0) + 1);
      }
      const score = row.person.intent.score;
      if (typeof score === 'number' && Number.isInteger(score) && score >= 1 && score <= 100) {
        scoreSum += score;
        scored++;
        const bucket = buckets.find((b) => score >= b.min && score <= b.max);
        if (bucket) bucket.count++;
      }
      if (++seen % ROWS_PER_TICK === 0) await yieldToEventLoop();
    }
    return {
      total,
      fillRates: Object.fromEntries(
        LEADPIPE_RESULT_FIELDS.map((f) => {
          const count = counts.get(f) ?? 0;
          return [f, { count, percent: percent(count, total) }];
        }),
      ),
      scoreHistogram: buckets.map((b) => ({ bucket: b.bucket, count: b.count, percent: percent(b.count, total) })),
      averages: { score: scored === 0 ? null : Math.round((scoreSum / scored) * 100) / 100 },
    };
  }

  async function createStoredExport(record: RunRecord): Promise<LeadpipeExport> {
    // Walk the CSV once for its size and checksum, like an upload would; nothing is kept but the numbers.
    const sha1 = createHash('sha1');
    let byteSize = 0;
    let chunks = 0;
    for (const chunk of csvChunks(record)) {
      sha1.update(chunk);
      byteSize += chunk.length;
      if (++chunks % 8 === 0) await yieldToEventLoop();
    }
    const t = iso(now());
    const run = record.run;
    const id = uuidFrom(seedText, 'export', run.id);
    return {
      id,
      organizationId,
      audienceId: run.audienceId,
      runId: run.id,
      exportType: 'csv',
      status: 'completed',
      storageProvider: 'sandbox',
      contentType: 'text/csv',
      byteSize,
      rowCount: exportRowCount(record),
      bucketName: 'orbit-sandbox-exports',
      fileId: uuidFrom(seedText, 'file', id),
      fileName: `intent-audiences/${run.audienceId}/runs/${run.id}/${id}.csv`,
      contentSha1: sha1.digest('hex'),
      errorCode: null,
      errorMessage: null,
      requestedBy: null,
      completedAt: t,
      expiresAt: iso(now() + 7 * DAY_MS),
      createdAt: t,
      updatedAt: t,
    };
  }

  function sign(exportId: string, expires: number): string {
    return createHmac('sha256', signingKey).update(`${exportId}\n${expires}`).digest('hex');
  }

  function exportBody(stored: LeadpipeExport): object {
    const expires = now() + exportUrlTtlMs;
    const downloadUrl = `${baseUrl}/_storage/exports/${encodeURIComponent(stored.id)}.csv?expires=${expires}&sig=${sign(stored.id, expires)}`;
    return {
      export: { ...stored },
      downloadUrl,
      downloadUrlExpiresAt: iso(expires),
      downloadUrlTtlSeconds: exportUrlTtlMs / 1000,
    };
  }

  // 3. HTTP plumbing ------------------------------------------------------------------------------

  function meta(): { timestamp: string; request_id: string } {
    return { timestamp: iso(now()), request_id: `req_${randomUUID()}` };
  }

  function sendJson(res: ServerResponse, status: number, body: object, headers: OutgoingHttpHeaders = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function sendData(res: ServerResponse, status: number, data: unknown): void {
    sendJson(res, status, { data, meta: meta() });
  }

  function sendError(res: ServerResponse, status: number, code: string, message: string, headers?: OutgoingHttpHeaders): void {
    sendJson(res, status, { error: { code, message }, meta: meta() }, headers);
  }

  /** Backblaze-B2-shaped error for the storage route, which is not part of Leadpipe's API. */
  function sendStorageError(res: ServerResponse, status: number, code: string, message: string): void {
    sendJson(res, status, { status, code, message });
  }

  async function readJsonBody(req: IncomingMessage): Promise<unknown> {
    const text = (await readBodyText(req, MAX_BODY_BYTES, () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `Request body exceeds ${MAX_BODY_BYTES} bytes`))).trim();
    if (text === '') return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpError(400, 'BAD_REQUEST', 'Request body is not valid JSON');
    }
  }

  function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
    const result = schema.safeParse(input);
    if (!result.success) throw new HttpError(400, 'BAD_REQUEST', describeZodError(result.error));
    return result.data;
  }

  function audienceOr404(id: string | undefined): AudienceRecord {
    const record = id === undefined ? undefined : audiences.get(id);
    if (!record) throw new HttpError(404, 'NOT_FOUND', `Audience ${id ?? ''} not found`);
    return record;
  }

  function runOr404(audienceId: string | undefined, runId: string | undefined): RunRecord {
    audienceOr404(audienceId);
    const record = runId === undefined ? undefined : runs.get(runId);
    if (!record || record.run.audienceId !== audienceId) throw new HttpError(404, 'NOT_FOUND', `Run ${runId ?? ''} not found`);
    return advance(record);
  }

  function requireCompleted(record: RunRecord, what: string): void {
    const { status, id, errorCode } = record.run;
    if (status === 'completed') return;
    const reason = status === 'failed' && errorCode ? ` (${errorCode})` : '';
    throw new HttpError(409, `RUN_${status.toUpperCase()}`, `Run ${id} is ${status}${reason}; ${what} need a completed run`);
  }

  /** Streams chunks into the response; a client hanging up mid-download is not a server error. */
  async function streamChunks(res: ServerResponse, chunks: Iterable<Buffer>): Promise<void> {
    try {
      await pipeline(Readable.from(chunks), res);
    } catch (err) {
      if (!res.destroyed && !res.writableFinished) throw err;
    }
  }

  function checkRateLimit(key: string): number | null {
    if (requestsPerMinute === undefined) return null;
    const t = now();
    const hits = rateWindows.get(key) ?? [];
    while (hits.length > 0 && (hits[0] ?? 0) <= t - RATE_WINDOW_MS) hits.shift();
    if (hits.length >= requestsPerMinute) return (hits[0] ?? t) + RATE_WINDOW_MS - t;
    hits.push(t);
    rateWindows.set(key, hits);
    return null;
  }

  // 4. handlers -------------------------------------------------------------------------------------

  /** Handlers throw HttpError for 4xx answers; dispatch turns it into the error envelope. */
  type Handler = (
    req: IncomingMessage,
    res: ServerResponse,
    params: string[],
    query: Record<string, string>,
  ) => void | Promise<void>;

  const handlers: Record<LeadpipeSandboxRoute, Handler> = {
    listAudiences: (_req, res, _params, query) => {
      const q = parse(ListAudiencesQuery, query);
      const list = [...audiences.values()]
        .map((a) => a.audience)
        .filter((a) => q.status === undefined || a.status === q.status)
        .slice(0, q.limit);
      sendData(res, 200, list);
    },

    getAudience: (_req, res, [audienceId]) => {
      sendData(res, 200, audienceOr404(audienceId).audience);
    },

    listRuns: (_req, res, [audienceId], query) => {
      audienceOr404(audienceId);
      const q = parse(ListRunsQuery, query);
      const list = [...runs.values()]
        .filter((r) => r.run.audienceId === audienceId)
        .map((r) => advance(r).run)
        .sort((x, y) => (x.createdAt === y.createdAt ? y.id.localeCompare(x.id) : y.createdAt.localeCompare(x.createdAt)))
        .slice(0, q.limit);
      sendData(res, 200, list);
    },

    createRun: async (req, res, [audienceId]) => {
      const owner = audienceOr404(audienceId);
      const header = req.headers['idempotency-key'];
      const key = parse(IdempotencyKey, Array.isArray(header) ? header[0] : header);
      parse(CreateRunBody, await readJsonBody(req));
      const memoKey = key === undefined ? undefined : `${owner.audience.id}\u0000${key}`;
      const existing = memoKey === undefined ? undefined : idempotentRuns.get(memoKey);
      const replay = existing === undefined ? undefined : runs.get(existing);
      if (replay) {
        sendData(res, 200, advance(replay).run);
        return;
      }
      const record = addRun(owner.audience.id, { runType: 'manual', status: 'queued', idempotencyKey: key });
      if (memoKey !== undefined) idempotentRuns.set(memoKey, record.run.id);
      // The run is returned as created (queued), before any time has passed.
      sendData(res, 201, record.run);
    },

    cancelRun: (_req, res, [audienceId, runId]) => {
      const record = runOr404(audienceId, runId);
      // Reference §3.2: only queued runs can be cancelled.
      if (record.run.status !== 'queued') {
        throw new HttpError(409, 'RUN_NOT_CANCELLABLE', `Run ${record.run.id} is ${record.run.status}; only queued runs can be cancelled`);
      }
      setStatus(record, 'cancelled');
      sendData(res, 200, record.run);
    },

    getRunResults: (_req, res, [audienceId, runId], query) => {
      const record = runOr404(audienceId, runId);
      const q = parse(ResultsQuery, query);
      const { status } = record.run;
      if (status === 'queued' || status === 'running') {
        // Reference §4.1: 202 with an empty page while the run materializes.
        sendData(res, 202, { run: record.run, state: status, results: [], total: 0, limit: q.limit, offset: q.offset });
        return;
      }
      if (status !== 'completed') {
        throw new HttpError(409, `RUN_${status.toUpperCase()}`, `Run ${record.run.id} is ${status}; its results cannot be served`);
      }
      const total = record.run.resultCount;
      const count = Math.max(0, Math.min(q.limit, total - q.offset));
      const results = Array.from(runRows(record, q.offset, count), (row) => row.person);
      sendData(res, 200, { run: record.run, results, total, limit: q.limit, offset: q.offset });
    },

    getRunStats: async (_req, res, [audienceId, runId]) => {
      const record = runOr404(audienceId, runId);
      requireCompleted(record, 'stats');
      record.stats ??= computeStats(record);
      const stats = await record.stats;
      sendData(res, 200, { run: record.run, stats });
    },

    exportCsv: async (_req, res, [audienceId, runId]) => {
      const record = runOr404(audienceId, runId);
      requireCompleted(record, 'exports');
      // No content-length: the body is generated as it is sent, so node uses chunked transfer.
      res.writeHead(200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${record.run.id}.csv"`,
        'x-export-row-cap': String(EXPORT_ROW_CAP),
        'x-clickhouse-query-id': randomUUID(),
      });
      await streamChunks(res, csvChunks(record));
    },

    createExport: async (_req, res, [audienceId, runId]) => {
      const record = runOr404(audienceId, runId);
      requireCompleted(record, 'exports');
      const existingId = exportIdByRun.get(record.run.id);
      const existing = existingId === undefined ? undefined : exportsById.get(existingId);
      if (existing) {
        sendData(res, 200, exportBody(existing));
        return;
      }
      // Two concurrent POSTs for one run share one export, as "create or reuse" promises.
      let pending = pendingExports.get(record.run.id);
      if (!pending) {
        pending = createStoredExport(record);
        pendingExports.set(record.run.id, pending);
      }
      let stored: LeadpipeExport;
      try {
        stored = await pending;
      } finally {
        pendingExports.delete(record.run.id);
      }
      const created = !exportsById.has(stored.id);
      exportsById.set(stored.id, stored);
      exportIdByRun.set(record.run.id, stored.id);
      sendData(res, created ? 201 : 200, exportBody(stored));
    },

    getExport: (_req, res, [audienceId, runId, exportId]) => {
      const record = runOr404(audienceId, runId);
      const stored = exportId === undefined ? undefined : exportsById.get(exportId);
      if (!stored || stored.runId !== record.run.id) throw new HttpError(404, 'NOT_FOUND', `Export ${exportId ?? ''} not found`);
      sendData(res, 200, exportBody(stored));
    },

    downloadExport: async (req, res, [exportId], query) => {
      const q = SignedUrlQuery.safeParse(query);
      if (!q.success || exportId === undefined) {
        sendStorageError(res, 403, 'access_denied', 'The download URL is not signed');
        return;
      }
      const expected = Buffer.from(sign(exportId, Number(q.data.expires)), 'hex');
      const given = Buffer.from(q.data.sig, 'hex');
      if (!timingSafeEqual(expected, given)) {
        sendStorageError(res, 403, 'access_denied', 'The download URL signature does not match');
        return;
      }
      if (now() > Number(q.data.expires)) {
        sendStorageError(res, 403, 'download_url_expired', 'The download URL has expired; request a fresh one');
        return;
      }
      const stored = exportsById.get(exportId);
      const record = stored ? runs.get(stored.runId) : undefined;
      if (!stored || !record) {
        sendStorageError(res, 404, 'not_found', `File ${exportId}.csv not present`);
        return;
      }
      const size = stored.byteSize;
      const headers: OutgoingHttpHeaders = {
        'content-type': 'text/csv; charset=utf-8',
        'accept-ranges': 'bytes',
        'x-bz-content-sha1': stored.contentSha1,
        'x-bz-file-name': stored.fileName,
      };
      const range = req.headers.range;
      if (range === undefined) {
        res.writeHead(200, { ...headers, 'content-length': size });
        await streamChunks(res, csvChunks(record));
        return;
      }
      // Single ranges only: `bytes=N-` (resume a download), `bytes=N-M` and the suffix form `bytes=-N`.
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      let start = NaN;
      let end = size - 1;
      if (m && m[1] !== '') {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(Number(m[2]), size - 1);
      } else if (m && m[2] !== '' && Number(m[2]) > 0) {
        start = Math.max(0, size - Number(m[2]));
      }
      if (!(start < size) || end < start) {
        res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
        res.end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
      await streamChunks(res, byteRange(csvChunks(record), start, end));
    },
  };

  // 5. dispatch -------------------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const match = matchRoute(ROUTES, req.method ?? 'GET', url.pathname);
    if (match === null) {
      sendError(res, 404, 'NOT_FOUND', `No route for ${req.method ?? 'GET'} ${url.pathname}`);
      return;
    }
    if (match === 'method-not-allowed') {
      sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method ?? ''} is not supported on ${url.pathname}`);
      return;
    }
    requestCounts[match.route]++;
    await faults.received(match.route, req, res);
    // `?status=&limit=` means "no filter, default limit", so empty parameters count as absent.
    const query = Object.fromEntries([...url.searchParams].filter(([, value]) => value !== ''));

    if (match.route !== 'downloadExport') {
      const header = req.headers['x-api-key'];
      const key = Array.isArray(header) ? header[0] : header;
      if (key === undefined || key !== apiKey) {
        sendError(res, 401, 'UNAUTHORIZED', key === undefined ? 'Missing x-api-key header' : 'Invalid API key');
        return;
      }
      const waitMs = checkRateLimit(key);
      if (waitMs !== null) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        sendError(res, 429, 'RATE_LIMITED', `Rate limit of ${requestsPerMinute ?? 0} requests per minute exceeded; retry in ${seconds}s`, {
          'retry-after': String(seconds),
        });
        return;
      }
    }

    const fault = faults.plan?.forRequest(match.route, req) ?? null;
    const storage = match.route === 'downloadExport';
    if (fault === 'rateLimited') {
      if (storage) sendStorageError(res, 429, 'too_many_requests', 'Too many requests; slow down');
      else sendError(res, 429, 'RATE_LIMITED', 'Rate limit exceeded; retry in 1s', { 'retry-after': '1' });
      return;
    }
    if (fault === 'serverError' && faults.plan) {
      const status = serverErrorStatus(faults.plan, match.route);
      const code = status === 500 ? 'INTERNAL_ERROR' : status === 503 ? 'SERVICE_UNAVAILABLE' : status === 502 ? 'BAD_GATEWAY' : 'GATEWAY_TIMEOUT';
      if (storage) sendStorageError(res, status, status === 503 ? 'service_unavailable' : 'internal_error', 'The storage service is temporarily unavailable');
      else sendError(res, status, code, 'The service is temporarily unavailable; try again');
      return;
    }
    if (fault === 'tokenExpiry') {
      // API keys do not expire; a signed download URL does: it is refused as expired.
      if (storage) {
        sendStorageError(res, 403, 'download_url_expired', 'The download URL has expired; request a fresh one');
        return;
      }
    }
    if ((fault === 'timeout' || fault === 'reset') && faults.plan) faults.shapeAnswer(fault, res, faults.plan.timeoutMs);

    const queued = injections.get(match.route);
    const injection = queued?.[0];
    if (queued && injection) {
      const left = (injection.times ?? 1) - 1;
      if (left <= 0) queued.shift();
      else queued[0] = { ...injection, times: left };
      const headers: OutgoingHttpHeaders = {};
      const retryAfter = injection.retryAfterSeconds ?? (injection.status === 429 ? 1 : undefined);
      if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
      const code = injection.code ?? STATUS_CODES[injection.status] ?? 'INJECTED';
      sendError(res, injection.status, code, injection.message ?? `Injected ${injection.status} for ${match.route}`, headers);
      return;
    }

    await handlers[match.route](req, res, match.params, query);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) sendError(res, err.status, err.code, err.message);
      else sendError(res, 500, 'INTERNAL_ERROR', err instanceof Error ? err.message : 'Unexpected sandbox error');
    });
  });

  const listening = await listenOnLoopback(server, options.port);
  baseUrl = listening.url;
  const close = listening.close;

  function runRecordOr(runId: string): RunRecord {
    const record = runs.get(runId);
    if (!record) throw new RangeError(`Leadpipe sandbox: no run ${runId}`);
    return record;
  }

  return {
    ...faults.controls(),
    url: baseUrl,
    apiKey,
    close,
    get state(): LeadpipeSandboxState {
      return {
        audiences: [...audiences.values()].map((a) => structuredClone(a.audience)),
        runs: [...runs.values()].map((r) => ({ ...advance(r).run })),
        exports: [...exportsById.values()].map((e) => ({ ...e })),
        requests: { ...requestCounts },
      };
    },
    addAudience: (input) => structuredClone(addAudience(input).audience),
    addRun: (audienceId, input) => ({ ...addRun(audienceId, input).run }),
    setRunStatus: (runId, status, error) => {
      const record = runRecordOr(runId);
      setStatus(record, status, error);
      return { ...record.run };
    },
    runRows: (runId) => {
      const record = runRecordOr(runId);
      return runRows(record, 0, exportRowCount(record));
    },
    requestCount: (route) => requestCounts[route],
    resetRequestCounts: () => {
      for (const route of LEADPIPE_SANDBOX_ROUTES) requestCounts[route] = 0;
    },
    injectResponses: (route, injection) => {
      if (!Number.isInteger(injection.status) || injection.status < 100 || injection.status > 599) {
        throw new RangeError(`injectResponses: ${injection.status} is not an HTTP status`);
      }
      const list = injections.get(route) ?? [];
      list.push({ ...injection });
      injections.set(route, list);
    },
  };
}
