/**
 * The Express 5 app factory of `orbit-sync serve` (no `listen` inside, so tests and the CLI choose the
 * port):
 *
 * - `GET /healthz` — liveness: the process answers.
 * - `GET /readyz` — readiness: the store answers a query and every migration is applied; 503 otherwise,
 *   with the reason, so a load balancer stops sending work to a process that cannot do it.
 * - `GET /metrics` — Prometheus text from the store (metrics.ts).
 * - `GET /` — the admin dashboard (dashboard.ts).
 * - `/api/…` — the admin API (admin-api.ts), behind `Bearer ADMIN_TOKEN`.
 * - `/oauth/…` — HubSpot and Salesforce installs (oauth.ts).
 * - `/webhooks/…` — HubSpot, Salesforce and Leadpipe webhooks (webhooks.ts).
 *
 * Every answer gets security headers (helmet; the dashboard sets its own nonce'd CSP); the admin API,
 * OAuth and webhook routes are rate limited per client (`app.limits`); bodies have size limits. Unknown
 * routes and errors answer JSON `{ error: { code, message } }`.
 */
import express, { type ErrorRequestHandler, type Express } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { sql, type Kysely } from 'kysely';
import type { AppContext } from '../app/app-context';
import { MIGRATIONS } from '../store/migrations';
import type { Database } from '../store/schema';
import { adminApi } from './admin-api';
import { dashboard } from './dashboard';
import type { AppManifest } from './app-manifest';
import { oauthRoutes } from './oauth';
import { webhookRoutes } from './webhooks';
import { renderMetrics } from './metrics';

export interface AppOptions {
  db: Kysely<Database>;
  /** Bearer token of the admin API under /api; undefined turns the API off. */
  adminToken?: string | undefined;
  /** The installed app's context; undefined (no ENCRYPTION_KEY) leaves the admin API read-only. */
  ctx?: AppContext | undefined;
  /** app.json, for the OAuth install route; with `ctx`, the OAuth and webhook routes are mounted. */
  manifest?: AppManifest | undefined;
  /** Where an unexpected error is reported (its message never reaches the client). */
  onError?: (err: unknown) => void;
}

async function readiness(db: Kysely<Database>): Promise<{ ready: boolean; reason?: string }> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    return { ready: false, reason: `store unreachable: ${err instanceof Error ? err.message : String(err)}` };
  }
  try {
    const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    const names = new Set(applied.rows.map((r) => r.name));
    const missing = Object.keys(MIGRATIONS).filter((m) => !names.has(m));
    return missing.length === 0 ? { ready: true } : { ready: false, reason: `migrations not applied: ${missing.join(', ')}` };
  } catch (err) {
    return { ready: false, reason: `migrations unknown: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Security headers on every answer; JSON and redirects need no script, frame or plugin.
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"] } },
      crossOriginEmbedderPolicy: false,
    }),
  );
  const limits = options.ctx?.config.app.limits;
  const limiter = (perMinute: number): ReturnType<typeof rateLimit> =>
    rateLimit({
      windowMs: 60_000,
      limit: perMinute,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      handler: (_req, res) => {
        res.status(429).json({ error: { code: 'RATE_LIMITED', message: `Too many requests: at most ${perMinute} a minute; try again shortly.` } });
      },
    });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const r = await readiness(options.db);
    res.status(r.ready ? 200 : 503).json(r.ready ? { status: 'ready' } : { status: 'not ready', reason: r.reason });
  });

  app.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4; charset=utf-8').send(await renderMetrics(options.db));
  });

  // The admin dashboard (a static page; it calls the admin API with the token the admin types in).
  app.use(dashboard());
  if (limits) app.use('/api', limiter(limits.adminPerMinute));
  if (options.ctx && options.manifest) app.use('/oauth', limiter(options.ctx.config.app.limits.oauthPerMinute), oauthRoutes(options.ctx, options.manifest));
  if (options.ctx) app.use('/webhooks', limiter(options.ctx.config.app.limits.webhooksPerMinute), webhookRoutes(options.ctx));
  app.use('/api', adminApi({ ctx: options.ctx, db: options.db, adminToken: options.adminToken }));

  app.use((req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.path}` } });
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    void _next;
    // The body parsers' own errors are the client's: too large (413) or unreadable (400).
    const status = typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    if (status === 413) {
      res.status(413).json({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than this route accepts.' } });
      return;
    }
    if (status >= 400 && status < 500) {
      res.status(400).json({ error: { code: 'BAD_REQUEST', message: 'The request body could not be read.' } });
      return;
    }
    options.onError?.(err);
    res.status(500).json({ error: { code: 'INTERNAL', message: 'Internal error; the server log has the details.' } });
  };
  app.use(onError);
  return app;
}
