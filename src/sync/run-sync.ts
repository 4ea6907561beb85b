/**
 * One sync of (audience run | local CSV file) → destination: the stages of DESIGN.md wired in one place.
 *
 *   ingest (fetch → parse → normalize → dedupe)  →  plan  →  write  →  prioritize  →  record
 *
 * - plan: map each person (config/mappings/<destination>.json), fingerprint the mapped payload, and skip
 *   people whose fingerprint equals the ledger's (no API call). People without an email, or whose
 *   earlier failures used up `sync.maxRecordAttempts`, are skipped with a reason.
 * - write: changed people go to the destination in batches of its maximum, up to its `concurrency`
 *   batches at once (never two that share an email address).
 * - record: after every batch, in one transaction, the ledger rows of the people written (and of the
 *   unchanged people planned since), their record errors, and the sync run's counts and API calls.
 *
 * Resumable: a sync killed at any point and started again for the same run and connection takes over
 * the unfinished sync run. People the killed process already recorded are recognized (their ledger row
 * or error names this sync run) and skipped without being counted twice; a batch that was written but
 * not recorded is written again, which is safe because every CRM write is an upsert on a unique key.
 * So the CRM ends identical to an uninterrupted sync, with no duplicates, and the counts still add up:
 * `rows = quarantined + duplicates + unchanged + created + updated + skipped + failed`.
 *
 * A dry run reads the CRM (to plan field-level before/after) and writes nothing anywhere: no CRM write,
 * no ledger, no sync run.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Config } from '../config';
import { isWritten, NOT_IN_CRM, type BatchResult, type CrmDestination, type PersonIntent, type PlannedPerson, type PrioritizeResult, type WrittenOutcome } from '../destinations/destination';
import { ingestCsv } from '../ingest/ingest-csv';
import type { IntentPerson, QuarantinedRow } from '../ingest/types';
import { describeError, FixInputFileError, SyncError } from '../lib/errors';
import { KeyTurns } from '../lib/key-turns';
import { scrubText, type Logger } from '../lib/logger';
import type { FieldChange } from '../mapping/apply-policy';
import { fingerprintPayload } from '../mapping/fingerprint';
import { mapPerson, type MapContext } from '../mapping/map-person';
import type { Mapping } from '../mapping/mapping-schema';
import { createConnections } from '../store/connections';
import { createHeldIntent } from '../store/held-intent';
import { createLedger, type LedgerEntry, type LedgerUpsert } from '../store/ledger';
import { createRecordErrors, type RecordError, type RecordFailure } from '../store/record-errors';
import type { Database, SyncRunStatus } from '../store/schema';
import { createSyncRuns, type SyncRun, type SyncRunCounts } from '../store/sync-runs';

/** People planned per ledger read. */
const PLAN_CHUNK = 500;

export type SyncSource =
  | { kind: 'file'; path: string }
  | {
      kind: 'stream';
      /** Opens the run's export; called once per sync. */
      open: () => Promise<Readable>;
      audienceId: string;
      runId: string;
      audienceName?: string;
      /** The run's date (completedAt), ISO 8601. */
      intentAt: string;
    };

export interface SyncProgress {
  phase: 'reading' | 'writing' | 'prioritizing' | 'done';
  rowsRead: number;
  /** People planned so far (written, unchanged, skipped or failed). */
  peopleDone: number;
  /** People in the run, once the file has been read. */
  peopleTotal: number | undefined;
  written: number;
  apiCalls: number;
}

export interface PlanItem {
  line: number;
  hashedEmail: string;
  action: 'create' | 'update' | 'unchanged' | 'skip' | 'fail';
  crmRecordId: string | null;
  changes: FieldChange[];
  company?: { domain: string; action: 'matched' | 'created'; crmCompanyId: string | null } | undefined;
  reason?: string;
}

export interface SyncSummary {
  syncRunId: string | null;
  audienceId: string | null;
  runId: string;
  destination: string;
  status: SyncRunStatus | 'dry-run';
  rows: number;
  quarantined: number;
  duplicates: number;
  unchanged: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  companies: { matched: number; created: number };
  associations: number;
  deals: { prioritized: number; raised: number; closedSkipped: number };
  apiCalls: { total: number; byEndpoint: Record<string, number> };
  rateLimited: number;
  durationMs: number;
  /** True when this sync took over an interrupted one. */
  resumed: boolean;
  /** Why the run is partial or failed. */
  message?: string;
  /** The code of the error that failed the run (e.g. AUTH_INVALID, CRM_SETUP_REQUIRED), and whether trying again may help. */
  error?: { code: string; retryable: boolean };
  /** Dry run only: every planned record with field-level before/after. */
  plan?: PlanItem[];
  /** Dry run only: deals that would be changed. */
  dealPlan?: PrioritizeResult['deals'];
}

export interface RunSyncOptions {
  db: Kysely<Database>;
  config: Config;
  mapping: Mapping;
  destination: CrmDestination;
  connectionId: string;
  source: SyncSource;
  dryRun?: boolean;
  logger?: Logger;
  onProgress?: (progress: SyncProgress) => void;
  now?: () => Date;
  /** Where ingest keeps its dedupe spool (default: OS temp dir). */
  tmpDir?: string;
  /**
   * Keep the intent of people the destination does not create (its create policy) for enrichment, sealed
   * with `key`, for `ttlMs`. Without it they are only counted as skipped.
   */
  hold?: { key: Buffer; ttlMs: number };
  /**
   * Stops the sync at the next batch boundary (shutdown): what was written is recorded, the sync run stays
   * `running` and the next sync of the same run resumes it. The summary then has status `running`.
   */
  signal?: AbortSignal;
}

/** Thrown inside runSync when its signal aborts; never escapes it. */
class SyncInterrupted extends Error {}

/** Reads of a downloaded export that broke off before it was read whole. */
const SOURCE_ATTEMPTS = 3;

interface ResolvedSource {
  stream: Readable;
  /** Opens the source again from the start (downloads). */
  reopen?: () => Promise<Readable>;
  audienceId: string | null;
  runId: string;
  context: MapContext;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function resolveSource(source: SyncSource): Promise<ResolvedSource> {
  if (source.kind === 'stream') {
    return {
      stream: await source.open(),
      reopen: () => source.open(),
      audienceId: source.audienceId,
      runId: source.runId,
      context: { runId: source.runId, audienceId: source.audienceId, intentAt: source.intentAt, ...(source.audienceName !== undefined && { audienceName: source.audienceName }) },
    };
  }
  let stat;
  try {
    stat = statSync(source.path);
  } catch {
    throw new FixInputFileError('FILE_NOT_FOUND', `${source.path}: no such file`);
  }
  if (!stat.isFile()) throw new FixInputFileError('FILE_NOT_FOUND', `${source.path}: not a file`);
  // A file has no Leadpipe run id: its content hash stands in, so re-syncing the same bytes resumes or
  // re-plans against the same ledger run, and the file's date is the intent date.
  const runId = `file:${await sha256File(source.path)}`;
  return {
    stream: createReadStream(source.path),
    audienceId: null,
    runId,
    // No audience: the audience properties are left out (an empty value is never written).
    context: { runId, audienceId: '', intentAt: stat.mtime.toISOString() },
  };
}

const ZERO_COUNTS: SyncRunCounts = {
  rows: 0,
  quarantined: 0,
  duplicates: 0,
  unchanged: 0,
  created: 0,
  updated: 0,
  skipped: 0,
  failed: 0,
  companiesMatched: 0,
  companiesCreated: 0,
  associations: 0,
  dealsPrioritized: 0,
  rateLimited: 0,
};

function addCalls(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

export async function runSync(options: RunSyncOptions): Promise<SyncSummary> {
  const { db, config, mapping, destination, connectionId, logger } = options;
  const dryRun = options.dryRun ?? false;
  const startedMs = Date.now();
  const source = await resolveSource(options.source);
  const syncRuns = createSyncRuns(db, options.now ? { now: options.now } : {});
  const ledger = createLedger(db, options.now ? { now: options.now } : {});
  const recordErrors = createRecordErrors(db, options.now ? { now: options.now } : {});

  // 1. Take over an unfinished sync of the same run, or start a new one.
  let run: SyncRun | undefined;
  let resumed = false;
  if (!dryRun) {
    const recent = await syncRuns.listRecent({ connectionId, limit: 50, ...(source.audienceId !== null && { audienceId: source.audienceId }) });
    run = recent.find((r) => r.runId === source.runId && r.destination === destination.name && (r.status === 'running' || r.status === 'pending'));
    if (run) {
      resumed = true;
      if (run.status === 'pending') run = await syncRuns.transition(run.id, 'running');
      logger?.info('resuming an interrupted sync', { syncRunId: run.id, runId: source.runId });
    } else {
      run = await syncRuns.create({ connectionId, destination: destination.name, audienceId: source.audienceId, runId: source.runId });
      run = await syncRuns.transition(run.id, 'running');
    }
  }
  const syncRunId = run?.id ?? null;
  const counts: SyncRunCounts = run ? { ...ZERO_COUNTS, ...pickCounts(run) } : { ...ZERO_COUNTS };
  const baseCalls = run?.apiCalls.byEndpoint ?? {};
  const baseRateLimited = counts.rateLimited;
  const apiCalls = (): Record<string, number> => addCalls(baseCalls, destination.stats.byEndpoint);

  const plan: PlanItem[] = [];
  const planDeals: PersonIntent[] = [];
  const progress: SyncProgress = { phase: 'reading', rowsRead: 0, peopleDone: 0, peopleTotal: undefined, written: 0, apiCalls: 0 };
  const report = (phase: SyncProgress['phase']): void => {
    progress.phase = phase;
    progress.apiCalls = Object.values(apiCalls()).reduce((a, b) => a + b, 0);
    options.onProgress?.(progress);
  };

  let pending: PlannedPerson[] = [];
  let touched: LedgerUpsert[] = [];
  let failures: RecordFailure[] = [];
  let quarantine: QuarantinedRow[] = [];
  let resolvedKeys: string[] = [];
  let held: IntentPerson[] = [];

  const commit = async (): Promise<void> => {
    counts.rateLimited = baseRateLimited + destination.stats.rateLimited;
    if (dryRun || syncRunId === null) {
      touched = [];
      failures = [];
      quarantine = [];
      resolvedKeys = [];
      held = [];
      return;
    }
    const toHold = held;
    held = [];
    const ledgerRows = touched;
    const errors: RecordFailure[] = [
      ...quarantine.map((q) => ({ hashedEmail: null, line: q.line, code: q.code, crmMessage: `${q.field ?? 'row'}: ${q.reason}`, retryable: false })),
      ...failures,
    ];
    const resolved = resolvedKeys;
    touched = [];
    failures = [];
    quarantine = [];
    resolvedKeys = [];
    await db.transaction().execute(async (trx) => {
      await createLedger(trx).upsertMany(connectionId, destination.name, ledgerRows);
      const errorsRepo = createRecordErrors(trx);
      await errorsRepo.recordMany(syncRunId, errors);
      if (resolved.length > 0) await errorsRepo.resolve(connectionId, source.audienceId, resolved);
      if (options.hold) {
        const heldIntent = createHeldIntent(trx, options.hold.key, options.now ? { now: options.now } : {});
        await heldIntent.hold(connectionId, toHold.map((person) => ({ person, context: source.context })), options.hold.ttlMs);
        // Written now: nothing left to enrich later.
        if (resolved.length > 0) await heldIntent.release(connectionId, resolved);
      }
      // No separate checkpoint: the ledger rows and errors naming this sync run are the resume point.
      await createSyncRuns(trx).updateProgress(syncRunId, { ...counts, apiCallsByEndpoint: apiCalls() });
    });
  };

  const ledgerRow = (p: PlannedPerson, crmRecordId: string, crmObjectType: string, crmCompanyId: string | null): LedgerUpsert => ({
    hashedEmail: p.key,
    crmRecordId,
    crmObjectType,
    crmCompanyId,
    payloadFingerprint: p.fingerprint,
    lastScore: p.person.score,
    lastRunId: source.runId,
    lastSyncRunId: syncRunId,
    lastTopics: p.person.topics.slice(0, config.sync.maxTopics),
  });

  const applyOutcomes = (batch: readonly PlannedPerson[], result: BatchResult): void => {
    const byKey = new Map(batch.map((p) => [p.key, p]));
    counts.companiesMatched += result.companies.matched;
    counts.companiesCreated += result.companies.created;
    counts.associations += result.associations;
    for (const outcome of result.outcomes) {
      const p = byKey.get(outcome.key);
      if (!p) continue;
      progress.peopleDone += 1;
      if (!isWritten(outcome) && outcome.code === NOT_IN_CRM) {
        // Not an error: the connection does not create this person; their intent waits for the record.
        counts.skipped += 1;
        held.push(p.person);
        if (dryRun) plan.push({ line: p.person.line, hashedEmail: p.key, action: 'skip', crmRecordId: null, changes: [], reason: outcome.message });
        continue;
      }
      if (!isWritten(outcome)) {
        counts[outcome.kind] += 1;
        // The store never holds a plaintext email: HubSpot's messages quote them ("Email address … is invalid").
        const message = scrubText(outcome.message);
        failures.push({ hashedEmail: p.key, line: p.person.line, code: outcome.code, crmMessage: message, retryable: outcome.retryable });
        if (dryRun) plan.push({ line: p.person.line, hashedEmail: p.key, action: outcome.kind === 'failed' ? 'fail' : 'skip', crmRecordId: null, changes: [], reason: message });
        continue;
      }
      counts[outcome.kind] += 1;
      if (outcome.kind !== 'unchanged') progress.written += 1;
      if (dryRun) {
        plan.push(planItem(p, outcome));
        if (outcome.crmRecordId !== null && p.person.score >= destination.minIntentScore) {
          planDeals.push({ crmRecordId: outcome.crmRecordId, crmObjectType: outcome.crmObjectType, crmCompanyId: outcome.crmCompanyId, score: p.person.score, topics: p.person.topics });
        }
        continue;
      }
      if (outcome.crmRecordId === null) throw new SyncError('INTERNAL', `the destination wrote line ${p.person.line} but returned no record id`);
      touched.push(ledgerRow(p, outcome.crmRecordId, outcome.crmObjectType, outcome.crmCompanyId ?? p.previous?.crmCompanyId ?? null));
      resolvedKeys.push(p.key);
    }
  };

  // Records one batch at a time: a transaction per commit, in the order batches finish.
  let commits: Promise<void> = Promise.resolve();
  const commitInTurn = (): Promise<void> => {
    const turn = commits.then(commit);
    commits = turn.catch(() => undefined);
    return turn;
  };

  // Batches in flight: up to the destination's concurrency, so the CRM's permitted requests are used while
  // one batch waits on an answer. Two batches that share an email address never run at once (the second
  // waits for the first), so a person is matched against what the batch before wrote, never created twice.
  let writeSize = destination.batchSize;
  const maxInFlight = dryRun ? 1 : Math.max(1, destination.concurrency ?? 1);
  const inFlight = new Set<Promise<void>>();
  const byAddress = new KeyTurns();
  let writeError: { error: unknown } | undefined;
  const dispatch = (batch: PlannedPerson[]): void => {
    const addresses = batch.flatMap((p) => p.person.emails.map((e) => e.address));
    const task = byAddress
      .run(addresses, async () => {
        // An earlier batch stopped the sync: this one is left for the next sync, like the batches not yet formed.
        if (writeError !== undefined) return;
        const result = await destination.writeBatch(batch, { dryRun, intentAt: source.context.intentAt });
        applyOutcomes(batch, result);
        await commitInTurn();
      })
      .catch((error: unknown) => {
        writeError ??= { error };
      });
    inFlight.add(task);
    void task.then(() => inFlight.delete(task));
  };
  /** Waits for every batch in flight to be written and recorded (their tasks never reject). */
  const drain = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };
  const flush = async (all: boolean): Promise<void> => {
    let stopped = false;
    while (writeError === undefined && (pending.length >= writeSize || (all && pending.length > 0))) {
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (writeError !== undefined) break;
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      const batch = pending.slice(0, writeSize);
      pending = pending.slice(batch.length);
      report('writing');
      dispatch(batch);
    }
    if (all || stopped || writeError !== undefined) await drain();
    if (writeError !== undefined) throw writeError.error;
    if (stopped) throw new SyncInterrupted();
  };

  const planChunk = async (people: IntentPerson[]): Promise<void> => {
    if (options.signal?.aborted) throw new SyncInterrupted();
    const keys = people.map((p) => p.key);
    const known = await ledger.getMany(connectionId, destination.name, keys);
    const errors: Map<string, RecordError> = syncRunId === null ? new Map<string, RecordError>() : await recordErrors.lookup(syncRunId, keys);
    for (const person of people) {
      const previous = known.get(person.key);
      const error = errors.get(person.key);
      // Already recorded by this very sync run before it was interrupted: counted then, not again.
      if (syncRunId !== null && (previous?.lastSyncRunId === syncRunId || error?.syncRunId === syncRunId)) continue;
      if (person.emails.length === 0) {
        skip(person, 'NO_EMAIL', 'The row has a hashed email but no email address: HubSpot needs an email to match or create a contact.');
        continue;
      }
      if (error && (!error.retryable || error.attempts >= config.sync.maxRecordAttempts)) {
        const why = error.retryable ? `failed ${error.attempts} times` : 'was rejected';
        skip(person, 'RETRIES_EXHAUSTED', `Not tried again: it ${why} before (${error.code}: ${error.crmMessage ?? 'no message'}). Fix the data in Leadpipe or the CRM, then resolve the error.`, error);
        continue;
      }
      const mapped = mapPerson(person, mapping, source.context);
      const fingerprint = fingerprintPayload(mapped, mapping.volatile);
      if (previous && previous.payloadFingerprint === fingerprint) {
        counts.unchanged += 1;
        progress.peopleDone += 1;
        if (dryRun) plan.push({ line: person.line, hashedEmail: person.key, action: 'unchanged', crmRecordId: previous.crmRecordId, changes: [] });
        else touched.push(touch(previous, person));
        continue;
      }
      pending.push({ key: person.key, person, mapped, fingerprint, previous });
    }
    await flush(false);
  };

  const skip = (person: IntentPerson, code: string, message: string, existing?: RecordError): void => {
    counts.skipped += 1;
    progress.peopleDone += 1;
    // An exhausted error stays as it is (its attempts are not bumped by skipping it).
    if (!existing) failures.push({ hashedEmail: person.key, line: person.line, code, crmMessage: message, retryable: false });
    if (dryRun) plan.push({ line: person.line, hashedEmail: person.key, action: 'skip', crmRecordId: null, changes: [], reason: message });
  };

  const touch = (previous: LedgerEntry, person: IntentPerson): LedgerUpsert => ({
    hashedEmail: previous.hashedEmail,
    crmRecordId: previous.crmRecordId,
    crmObjectType: previous.crmObjectType,
    crmCompanyId: previous.crmCompanyId,
    payloadFingerprint: previous.payloadFingerprint,
    lastScore: person.score,
    lastRunId: source.runId,
    lastSyncRunId: syncRunId,
    lastTopics: person.topics.slice(0, config.sync.maxTopics),
  });

  let message: string | undefined;
  let status: SyncRunStatus = 'succeeded';
  let interrupted = false;
  let failure: { code: string; retryable: boolean } | undefined;
  let dealResult: PrioritizeResult | undefined;
  try {
    await destination.prepare();
    let chunk: IntentPerson[] = [];
    let sawPerson = false;
    let ingest: ReturnType<typeof ingestCsv>;
    for (let attempt = 1; ; attempt += 1) {
      ingest = ingestCsv(source.stream, {
        columns: config.columns,
        ingest: config.ingest,
        onProgress: (p) => {
          progress.rowsRead = p.rows;
          report('reading');
        },
        ...(options.tmpDir !== undefined && { tmpDir: options.tmpDir }),
      });
      try {
        for await (const event of ingest) {
          if (event.kind === 'quarantined') {
            quarantine.push(event.row);
            continue;
          }
          if (event.kind !== 'person') continue;
          if (!sawPerson) {
            // Every row has been read once people flow (dedupe needs the whole file): the file counts are final.
            sawPerson = true;
            Object.assign(counts, { rows: ingest.counts.rows, quarantined: ingest.counts.quarantined, duplicates: ingest.counts.duplicates });
            progress.peopleTotal = ingest.counts.valid - ingest.counts.duplicates;
            writeSize = destination.batchSizeFor?.(progress.peopleTotal) ?? destination.batchSize;
          }
          chunk.push(event.person);
          if (chunk.length >= PLAN_CHUNK) {
            await planChunk(chunk);
            chunk = [];
          }
        }
        break;
      } catch (err) {
        // A download that broke off while the file was still being read (nothing planned yet: dedupe reads
        // the whole file first) is read again from the start.
        if (sawPerson || source.reopen === undefined || !(err instanceof SyncError) || !err.retryable || attempt >= SOURCE_ATTEMPTS) throw err;
        logger?.warn('the export broke off while it was being read; reading it again from the start', { attempt, code: err.code, error: err.message });
        quarantine = [];
        source.stream = await source.reopen();
      }
    }
    Object.assign(counts, { rows: ingest.counts.rows, quarantined: ingest.counts.quarantined, duplicates: ingest.counts.duplicates });
    progress.rowsRead = ingest.counts.rows;
    progress.peopleTotal = ingest.counts.people;
    if (chunk.length > 0) await planChunk(chunk);
    await flush(true);
    await commitInTurn();

    // Prioritize from the ledger: every person of this run, including those recorded before a crash.
    report('prioritizing');
    const minScore = destination.minIntentScore;
    const intents: PersonIntent[] = dryRun
      ? planDeals
      : (await ledger.listForRun(connectionId, destination.name, source.runId, minScore)).map((e) => ({
          crmRecordId: e.crmRecordId,
          crmObjectType: e.crmObjectType,
          crmCompanyId: e.crmCompanyId,
          score: e.lastScore ?? 0,
          topics: e.lastTopics,
        }));
    dealResult = await destination.prioritize(intents, { dryRun, intentAt: source.context.intentAt });
    counts.dealsPrioritized = dealResult.deals.length;
    const refusedDeals = dealResult.failed ?? [];
    if (counts.failed > 0) {
      status = 'partial';
      message = `${counts.failed} record(s) failed; each is listed with the CRM's message (orbit-sync runs ${syncRunId ?? ''} --errors). They are retried by the next sync of this audience.`;
    }
    if (refusedDeals.length > 0) {
      // Not a person's record: the summary says which deals and why; the next sync of the run raises them.
      status = 'partial';
      for (const refused of refusedDeals) logger?.warn('deal or account not updated', { id: refused.id, error: refused.message });
      const shown = refusedDeals.slice(0, 3).map((r) => r.message).join('; ');
      message = `${message ? `${message} ` : ''}${refusedDeals.length} deal/account update(s) refused: ${shown}${refusedDeals.length > 3 ? '; …' : ''}. The next sync of this run tries them again.`;
    }
  } catch (err) {
    if (err instanceof SyncInterrupted) {
      interrupted = true;
      status = 'running';
      message = 'Stopped at a batch boundary for a shutdown; the next sync of this run resumes it.';
      logger?.info('sync interrupted for a shutdown', { syncRunId });
    } else if (err instanceof SyncError && err.code === 'DAILY_LIMIT_REACHED') {
      status = 'partial';
      // People the sync did not reach are counted as skipped, so the run's rows still add up.
      const reached = counts.unchanged + counts.created + counts.updated + counts.skipped + counts.failed;
      const notReached = Math.max(0, counts.rows - counts.quarantined - counts.duplicates - reached);
      counts.skipped += notReached;
      message = `${err.message} ${notReached} people were not reached (counted as skipped).`;
    } else {
      status = 'failed';
      message = scrubText(describeError(err));
      failure = err instanceof SyncError ? { code: err.code, retryable: err.retryable } : { code: 'INTERNAL', retryable: false };
      if (err instanceof SyncError && err.code === 'AUTH_INVALID' && !dryRun) {
        // The CRM no longer accepts our credentials: the connection waits for a person to re-authorize it.
        await createConnections(db).setStatus(connectionId, 'needs_reauth', message).catch(() => undefined);
      }
    }
    if (!interrupted) logger?.error('sync stopped', { syncRunId, error: describeError(err) });
    try {
      // Batches still in flight (the sync stopped elsewhere) are written and recorded first.
      await drain();
      await commitInTurn();
    } catch (commitErr) {
      logger?.error('could not record the progress of the stopped sync', { error: describeError(commitErr) });
    }
  }

  counts.rateLimited = baseRateLimited + destination.stats.rateLimited;
  const byEndpoint = apiCalls();
  const durationMs = Date.now() - startedMs;
  if (syncRunId !== null) {
    await syncRuns.updateProgress(syncRunId, { ...counts, apiCallsByEndpoint: byEndpoint });
    if (!interrupted) await syncRuns.transition(syncRunId, status, message === undefined ? {} : { errorMessage: message });
  }
  report('done');
  return {
    syncRunId,
    audienceId: source.audienceId,
    runId: source.runId,
    destination: destination.name,
    status: dryRun && status !== 'failed' ? 'dry-run' : status,
    rows: counts.rows,
    quarantined: counts.quarantined,
    duplicates: counts.duplicates,
    unchanged: counts.unchanged,
    created: counts.created,
    updated: counts.updated,
    skipped: counts.skipped,
    failed: counts.failed,
    companies: { matched: counts.companiesMatched, created: counts.companiesCreated },
    associations: counts.associations,
    deals: {
      prioritized: counts.dealsPrioritized,
      raised: dealResult?.deals.filter((d) => d.priorityRaised).length ?? 0,
      closedSkipped: dealResult?.closedDeals ?? 0,
    },
    apiCalls: { total: Object.values(byEndpoint).reduce((a, b) => a + b, 0), byEndpoint },
    rateLimited: counts.rateLimited,
    durationMs,
    resumed,
    ...(message !== undefined && { message }),
    ...(failure && { error: failure }),
    ...(dryRun && { plan, dealPlan: dealResult?.deals ?? [] }),
  };
}

function pickCounts(run: SyncRun): SyncRunCounts {
  const { rows, quarantined, duplicates, unchanged, created, updated, skipped, failed, companiesMatched, companiesCreated, associations, dealsPrioritized, rateLimited } = run;
  return { rows, quarantined, duplicates, unchanged, created, updated, skipped, failed, companiesMatched, companiesCreated, associations, dealsPrioritized, rateLimited };
}

function planItem(p: PlannedPerson, outcome: WrittenOutcome): PlanItem {
  return {
    line: p.person.line,
    hashedEmail: p.key,
    action: outcome.kind === 'created' ? 'create' : outcome.kind === 'updated' ? 'update' : 'unchanged',
    crmRecordId: outcome.crmRecordId,
    changes: outcome.changes,
    ...(outcome.company && { company: outcome.company }),
  };
}
