/**
 * The admin API (issue #5): connections and their settings, audience subscriptions, overrides, syncs
 * (queued, previewed as a dry run, retried) and the work queue. Every route needs
 * `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time; without ADMIN_TOKEN configured the
 * API is off (503 says how to turn it on). Without ENCRYPTION_KEY (`ctx` undefined) the API is read-only:
 * routes that need the key, the Leadpipe API or the queue answer 503 ENCRYPTION_KEY_REQUIRED.
 *
 * Reads: GET /connections, /connections/:id, /connections/:id/subscriptions, /connections/:id/overrides,
 * /sync-runs, /sync-runs/:id, /sync-runs/:id/errors, /jobs.
 * Needs the key: PUT /connections/:id/leadpipe-key, GET /connections/:id/audiences,
 * PUT|DELETE /connections/:id/audiences/:audienceId, PUT /connections/:id/overrides,
 * POST /connections/:id/syncs, POST /connections/:id/syncs/preview, POST /sync-runs/:id/retry.
 *
 * Input is validated with zod; errors are JSON `{ error: { code, message } }`. A `SyncError` maps to its
 * HTTP status here; anything else goes to the app's error handler (500 INTERNAL, details in the log).
 * The Leadpipe API key is never echoed: responses say only whether one is set.
 */
import express, { Router, type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AppContext } from '../app/app-context';
import { leadpipeClientWithKey } from '../app/leadpipe';
import { overrideProblems, OverridesSchema } from '../app/overrides';
import { runSyncJob, type SyncJobPayload } from '../app/sync-job';
import type { QuarantineCode } from '../ingest/types';
import { SyncError } from '../lib/errors';
import { loadMapping } from '../mapping/load-mapping';
import { createConnectionSettings } from '../store/connection-settings';
import { createConnections, type Connection } from '../store/connections';
import { createJobs, type Job } from '../store/jobs';
import { createRecordErrors } from '../store/record-errors';
import { JOB_KINDS, JOB_STATUSES, type Database } from '../store/schema';
import { createSyncRuns, type SyncRun } from '../store/sync-runs';
import { HttpError } from '../lib/http-error';
import { syncDedupeKey } from '../scheduler/scheduler';
import { sameSecret } from '../security/signatures';

export interface AdminApiOptions {
  /** The installed app's context; undefined when ENCRYPTION_KEY is missing (read-only API). */
  ctx: AppContext | undefined;
  db: Kysely<Database>;
  adminToken: string | undefined;
}


function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}


/** Every zod issue, each naming its field: `audienceId: …; runId: …`. */
function describeIssues(error: z.ZodError, what: string): string {
  return error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'BAD_REQUEST', describeIssues(result.error, what));
  return result.data;
}

/** A path parameter (Express 5 types them loosely once handlers are spread in). */
function param(req: Request, name: string): string {
  const value: unknown = req.params[name];
  return typeof value === 'string' ? value : '';
}

/** Quarantined rows (unreadable input) never become retryable: the same row fails the same way. */
const QUARANTINE_CODES = Object.keys({
  COLUMN_COUNT: true,
  UNBALANCED_QUOTE: true,
  CSV_SYNTAX: true,
  CELL_TOO_LARGE: true,
  ROW_TOO_LARGE: true,
  INVALID_SCORE: true,
  INVALID_HASH: true,
  NO_IDENTITY: true,
} satisfies Record<QuarantineCode, true>);

/** Leadpipe lists at most 100 audiences per call (reference: limit 1–100). */
const AUDIENCE_LIST_LIMIT = 100;

const id = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

const ListRunsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  connectionId: z.string().min(1).optional(),
  audienceId: z.string().min(1).optional(),
});

const ListJobsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  connectionId: z.string().min(1).optional(),
  status: z.enum(JOB_STATUSES).optional(),
  kind: z.enum(JOB_KINDS).optional(),
});

const LeadpipeKeyBody = z.strictObject({ apiKey: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters') });
const SyncBody = z.strictObject({ audienceId: id, runId: id.optional() });
const PreviewQuery = z.object({ limit: z.coerce.number().int().min(1).max(5000).default(200) });

export interface Subscription {
  connectionId: string;
  audienceId: string;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The queue's dedupe key of a sync: per Leadpipe run, or per audience when "its latest run" is asked for. */
export function syncJobDedupeKey(connectionId: string, audienceId: string, runId: string | undefined): string {
  return syncDedupeKey(connectionId, runId ?? `latest:${audienceId}`);
}

/** The HTTP status of a SyncError met while serving a route (upstream failures are 502). */
function statusOf(err: SyncError): number {
  switch (err.code) {
    case 'NOT_FOUND':
      return 404;
    case 'BAD_REQUEST':
      return 400;
    case 'NEEDS_REAUTH':
      return 409;
    case 'RATE_LIMITED':
      return 429;
    case 'CONFIG_INVALID':
      return 500;
    default:
      return 502;
  }
}

function isBodyParserError(err: unknown): err is { status: number; type: string } {
  const e = err as { status?: unknown; type?: unknown } | null;
  return typeof e === 'object' && e !== null && typeof e.status === 'number' && typeof e.type === 'string';
}

export function adminApi(options: AdminApiOptions): Router {
  const { db, ctx } = options;
  const router = Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (options.adminToken === undefined) {
      fail(res, 503, 'ADMIN_API_DISABLED', 'The admin API is off: set ADMIN_TOKEN (at least 24 characters) and restart.');
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1] || !sameSecret(match[1], options.adminToken)) {
      res.set('WWW-Authenticate', 'Bearer');
      fail(res, 401, 'AUTH_INVALID', 'Send Authorization: Bearer <ADMIN_TOKEN>.');
      return;
    }
    next();
  });

  /** Routes that seal, call Leadpipe or queue work need the context (and so ENCRYPTION_KEY). */
  const needsKey: RequestHandler = (_req, res, next) => {
    if (ctx === undefined) {
      fail(res, 503, 'ENCRYPTION_KEY_REQUIRED', 'This route needs ENCRYPTION_KEY (it seals Leadpipe keys and CRM tokens): set it (openssl rand -hex 32) and restart.');
      return;
    }
    next();
  };
  const jsonBody = express.json({ limit: ctx?.config.app.limits.jsonBody ?? '100kb' });
  const write: RequestHandler[] = [needsKey, jsonBody];

  /** Only behind `needsKey`. */
  const app = (): AppContext => {
    if (ctx === undefined) throw new SyncError('INTERNAL', 'The admin API reached a route that needs ENCRYPTION_KEY without it.');
    return ctx;
  };
  const now = (): Date => ctx?.now() ?? new Date();

  const mustConnection = async (connectionId: string): Promise<Connection> => {
    const connection = await createConnections(db).get(connectionId);
    if (!connection) throw new HttpError(404, 'NOT_FOUND', `No connection ${connectionId}.`);
    return connection;
  };
  const mustSyncRun = async (syncRunId: string): Promise<SyncRun> => {
    const run = await createSyncRuns(db).get(syncRunId);
    if (!run) throw new HttpError(404, 'NOT_FOUND', `No sync run ${syncRunId}.`);
    return run;
  };
  const mustBeActive = (connection: Connection): void => {
    if (connection.status !== 'active') {
      const why = connection.statusMessage ? `: ${connection.statusMessage}` : '';
      throw new HttpError(409, 'CONNECTION_NOT_ACTIVE', `Connection ${connection.id} is ${connection.status}${why}.`);
    }
  };
  /** The connection's Leadpipe key, opened; 409 until the admin sets one. */
  const mustLeadpipeKey = async (connectionId: string): Promise<string> => {
    const apiKey = (await createConnectionSettings(db, app().key).get(connectionId)).leadpipeApiKey;
    if (apiKey === undefined) {
      throw new HttpError(409, 'LEADPIPE_KEY_MISSING', `Connection ${connectionId} has no Leadpipe API key yet: PUT /api/connections/${connectionId}/leadpipe-key { "apiKey": "…" }.`);
    }
    return apiKey;
  };
  const leadpipe = async (connectionId: string) => {
    const c = app();
    return leadpipeClientWithKey(c.config, await mustLeadpipeKey(connectionId), c.logger.child({ connectionId }));
  };

  /** Settings readable without ENCRYPTION_KEY: whether a key is set (never the key) and the overrides. */
  const plainSettings = async (connectionId: string): Promise<{ leadpipeKeySet: boolean; overrides: unknown }> => {
    const row = await db.selectFrom('connection_settings').select(['leadpipe_key_sealed', 'overrides']).where('connection_id', '=', connectionId).executeTakeFirst();
    return { leadpipeKeySet: !!row?.leadpipe_key_sealed, overrides: row ? (JSON.parse(row.overrides) as unknown) : {} };
  };

  const listSubscriptions = async (connectionId: string): Promise<Subscription[]> => {
    const rows = await db.selectFrom('audience_subscriptions').selectAll().where('connection_id', '=', connectionId).orderBy('created_at', 'asc').orderBy('audience_id', 'asc').execute();
    return rows.map((r) => ({ connectionId: r.connection_id, audienceId: r.audience_id, active: r.active === 1, createdAt: r.created_at, updatedAt: r.updated_at }));
  };

  /** Queues a sync (deduplicated), wakes the worker, and answers 202, or 200 with the job already queued. */
  const queueSync = async (res: Response, connectionId: string, payload: SyncJobPayload, extra: Record<string, unknown> = {}): Promise<void> => {
    const c = app();
    const { job, created } = await createJobs(db, { now: c.now }).enqueue({
      kind: 'sync',
      connectionId,
      payload,
      dedupeKey: syncJobDedupeKey(connectionId, payload.audienceId, payload.runId),
    });
    c.notify();
    answerJob(res, job, created, extra);
  };
  const answerJob = (res: Response, job: Job, created: boolean, extra: Record<string, unknown>): void => {
    if (created) res.status(202).json({ job, ...extra });
    else res.status(200).json({ job, alreadyQueued: true, ...extra });
  };

  // ── connections ────────────────────────────────────────────────────────────────────────────────────

  router.get('/connections', async (_req, res) => {
    res.json({ connections: await createConnections(db).list() });
  });

  router.get('/connections/:id', async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    res.json({ connection: { ...connection, ...(await plainSettings(connection.id)), subscriptions: await listSubscriptions(connection.id) } });
  });

  router.put('/connections/:id/leadpipe-key', ...write, async (req, res) => {
    const c = app();
    const connection = await mustConnection(param(req, 'id'));
    const { apiKey } = parse(LeadpipeKeyBody, req.body, 'body');
    let audiences: number;
    try {
      audiences = (await leadpipeClientWithKey(c.config, apiKey, c.logger.child({ connectionId: connection.id })).listAudiences({ limit: AUDIENCE_LIST_LIMIT })).length;
    } catch (err) {
      if (err instanceof SyncError && (err.code === 'AUTH_INVALID' || err.code === 'AUTH_FORBIDDEN')) {
        throw new HttpError(422, 'LEADPIPE_KEY_INVALID', `Leadpipe refused this API key; nothing was stored. ${err.message.split(apiKey).join('[key]')}`);
      }
      throw err;
    }
    await createConnectionSettings(db, c.key, { now: c.now }).setLeadpipeKey(connection.id, apiKey);
    c.logger.info('leadpipe key set', { connectionId: connection.id, audiences });
    res.json({ connectionId: connection.id, leadpipeKey: 'set', audiences });
  });

  // ── audiences and subscriptions ────────────────────────────────────────────────────────────────────

  router.get('/connections/:id/audiences', needsKey, async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    const client = await leadpipe(connection.id);
    const audiences = await client.listAudiences({ limit: AUDIENCE_LIST_LIMIT });
    const subscribed = new Set((await listSubscriptions(connection.id)).filter((s) => s.active).map((s) => s.audienceId));
    res.json({ connectionId: connection.id, audiences: audiences.map((a) => ({ ...a, subscribed: subscribed.has(a.id) })) });
  });

  router.get('/connections/:id/subscriptions', async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    res.json({ connectionId: connection.id, subscriptions: await listSubscriptions(connection.id) });
  });

  router.put('/connections/:id/audiences/:audienceId', ...write, async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    const audienceId = parse(id, param(req, 'audienceId'), 'audienceId');
    const client = await leadpipe(connection.id);
    try {
      await client.getAudience(audienceId);
    } catch (err) {
      if (err instanceof SyncError && err.code === 'NOT_FOUND') throw new HttpError(404, 'NOT_FOUND', `Leadpipe has no audience ${audienceId} in this organization.`);
      throw err;
    }
    const at = now().toISOString();
    await db
      .insertInto('audience_subscriptions')
      .values({ connection_id: connection.id, audience_id: audienceId, active: 1, created_at: at, updated_at: at })
      .onConflict((oc) => oc.columns(['connection_id', 'audience_id']).doUpdateSet({ active: 1, updated_at: at }))
      .execute();
    const subscription = (await listSubscriptions(connection.id)).find((s) => s.audienceId === audienceId);
    res.json({ subscription });
  });

  router.delete('/connections/:id/audiences/:audienceId', ...write, async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    const audienceId = parse(id, param(req, 'audienceId'), 'audienceId');
    const result = await db
      .updateTable('audience_subscriptions')
      .set({ active: 0, updated_at: now().toISOString() })
      .where('connection_id', '=', connection.id)
      .where('audience_id', '=', audienceId)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw new HttpError(404, 'NOT_FOUND', `Connection ${connection.id} was never subscribed to audience ${audienceId}.`);
    const subscription = (await listSubscriptions(connection.id)).find((s) => s.audienceId === audienceId);
    res.json({ subscription });
  });

  /** The Outbound Message endpoint of a Salesforce connection (its URL carries the connection's secret). */
  router.get('/connections/:id/salesforce-outbound', ...write, async (req, res) => {
    const c = app();
    const connection = await mustConnection(param(req, 'id'));
    if (connection.crm !== 'salesforce') {
      fail(res, 409, 'NOT_SALESFORCE', `Connection ${connection.id} is a ${connection.crm} connection; Outbound Messages are Salesforce's.`);
      return;
    }
    if (c.config.publicUrl === undefined) {
      fail(res, 409, 'PUBLIC_URL_MISSING', 'Set PUBLIC_URL (this server’s public https URL) first: Salesforce posts to it.');
      return;
    }
    const secret = await createConnectionSettings(db, c.key).outboundSecret(connection.id);
    res.json({
      connectionId: connection.id,
      url: `${c.config.publicUrl}/webhooks/salesforce?key=${secret}`,
      objects: ['Lead', 'Contact'],
      fields: ['Id', 'Email'],
      howTo: 'Setup > Outbound Messages > New: object Lead (and again for Contact), Endpoint URL as above, fields Id and Email; fire it from a record-triggered Flow on create.',
    });
  });

  // ── overrides ──────────────────────────────────────────────────────────────────────────────────────

  router.get('/connections/:id/overrides', async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    res.json({ connectionId: connection.id, overrides: (await plainSettings(connection.id)).overrides });
  });

  router.put('/connections/:id/overrides', ...write, async (req, res) => {
    const c = app();
    const connection = await mustConnection(param(req, 'id'));
    const body: unknown = req.body;
    const problems = overrideProblems(body, loadMapping(connection.crm, c.config.configDir), c.config, connection.crm);
    if (problems.length > 0) throw new HttpError(400, 'BAD_REQUEST', `Invalid overrides: ${problems.join('; ')}`);
    const overrides = OverridesSchema.parse(body);
    await createConnectionSettings(db, c.key, { now: c.now }).setOverrides(connection.id, overrides);
    res.json({ connectionId: connection.id, overrides });
  });

  // ── syncs ──────────────────────────────────────────────────────────────────────────────────────────

  router.post('/connections/:id/syncs', ...write, async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    const { audienceId, runId } = parse(SyncBody, req.body, 'body');
    mustBeActive(connection);
    await mustLeadpipeKey(connection.id);
    await queueSync(res, connection.id, { audienceId, ...(runId !== undefined && { runId }), trigger: 'admin' });
  });

  router.post('/connections/:id/syncs/preview', ...write, async (req, res) => {
    const connection = await mustConnection(param(req, 'id'));
    const { limit } = parse(PreviewQuery, req.query, 'query');
    const { audienceId, runId } = parse(SyncBody, req.body, 'body');
    mustBeActive(connection);
    await mustLeadpipeKey(connection.id);
    const summary = await runSyncJob(app(), connection.id, { audienceId, ...(runId !== undefined && { runId }), trigger: 'preview' }, { dryRun: true });
    const plan = summary.plan ?? [];
    res.json({ summary: { ...summary, plan: plan.slice(0, limit) }, planTotal: plan.length });
  });

  router.get('/jobs', async (req, res) => {
    const { limit, connectionId, status, kind } = parse(ListJobsQuery, req.query, 'query');
    const jobs = await createJobs(db).list({ limit, ...(connectionId && { connectionId }), ...(status && { status }), ...(kind && { kind }) });
    res.json({ jobs });
  });

  // ── sync runs ──────────────────────────────────────────────────────────────────────────────────────

  router.get('/sync-runs', async (req, res) => {
    const { limit, connectionId, audienceId } = parse(ListRunsQuery, req.query, 'query');
    const runs = await createSyncRuns(db).listRecent({ limit, ...(connectionId && { connectionId }), ...(audienceId && { audienceId }) });
    res.json({ syncRuns: runs });
  });

  router.get('/sync-runs/:id', async (req, res) => {
    const run = await mustSyncRun(param(req, 'id'));
    const counts = await db
      .selectFrom('record_errors')
      .select((eb) => [eb.fn.countAll<number | string>().as('total'), eb.fn.sum<number | string | null>('retryable').as('retryable')])
      .where('sync_run_id', '=', run.id)
      .executeTakeFirst();
    res.json({ syncRun: run, recordErrors: { total: Number(counts?.total ?? 0), retryable: Number(counts?.retryable ?? 0) } });
  });

  router.get('/sync-runs/:id/errors', async (req, res) => {
    const run = await mustSyncRun(param(req, 'id'));
    res.json({ syncRunId: run.id, errors: await createRecordErrors(db).listBySyncRun(run.id) });
  });

  router.post('/sync-runs/:id/retry', ...write, async (req, res) => {
    const c = app();
    const run = await mustSyncRun(param(req, 'id'));
    if (run.audienceId === null) {
      throw new HttpError(409, 'NOT_RETRYABLE', `Sync run ${run.id} synced a file; sync the file again instead (orbit-sync sync --file …).`);
    }
    const audienceId = run.audienceId;
    mustBeActive(await mustConnection(run.connectionId));
    await mustLeadpipeKey(run.connectionId);
    const payload: SyncJobPayload = { audienceId, ...(run.runId !== null && { runId: run.runId }), trigger: 'retry' };
    const { job, created, errorsReset } = await db.transaction().execute(async (trx) => {
      const reset = await trx
        .updateTable('record_errors')
        .set({ attempts: 0, retryable: 1 })
        .where('sync_run_id', '=', run.id)
        .where('hashed_email', 'is not', null)
        .where('code', 'not in', QUARANTINE_CODES)
        .executeTakeFirst();
      const queued = await createJobs(trx, { now: c.now }).enqueue({
        kind: 'sync',
        connectionId: run.connectionId,
        payload,
        dedupeKey: syncJobDedupeKey(run.connectionId, audienceId, payload.runId),
      });
      return { ...queued, errorsReset: Number(reset.numUpdatedRows) };
    });
    c.notify();
    answerJob(res, job, created, { errorsReset });
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, next) => {
    if (err instanceof HttpError) {
      fail(res, err.status, err.code, err.message);
    } else if (isBodyParserError(err)) {
      if (err.type === 'entity.too.large') fail(res, 413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${ctx?.config.app.limits.jsonBody ?? 'allowed'}.`);
      else if (err.type === 'entity.parse.failed') fail(res, 400, 'BAD_REQUEST', 'body: not valid JSON.');
      else fail(res, err.status >= 400 && err.status < 500 ? err.status : 400, 'BAD_REQUEST', `body: unreadable (${err.type}).`);
    } else if (err instanceof SyncError && err.code !== 'INTERNAL') {
      if (err.retryAfterMs !== undefined && err.retryAfterMs > 0) res.set('Retry-After', String(Math.ceil(err.retryAfterMs / 1000)));
      fail(res, statusOf(err), err.code, err.message);
    } else {
      // Unexpected: the app's handler logs it and answers 500 INTERNAL without the details.
      next(err);
    }
  };
  router.use(onError);

  return router;
}
