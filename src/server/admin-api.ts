/**
 * The admin API (issue #5), read-only part: connections and their status, sync runs with their
 * summaries, and a run's record errors. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`,
 * compared in constant time; without ADMIN_TOKEN configured the API is off (503 says how to turn it on).
 * Input is validated with zod; errors are JSON `{ error: { code, message } }`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { createConnections } from '../store/connections';
import { createRecordErrors } from '../store/record-errors';
import type { Database } from '../store/schema';
import { createSyncRuns } from '../store/sync-runs';

export interface AdminApiOptions {
  db: Kysely<Database>;
  adminToken: string | undefined;
}

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Equal-length digests, so the comparison time says nothing about the token. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const ListRunsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  connectionId: z.string().min(1).optional(),
  audienceId: z.string().min(1).optional(),
});

export function adminApi(options: AdminApiOptions): Router {
  const router = Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (options.adminToken === undefined) {
      fail(res, 503, 'ADMIN_API_DISABLED', 'The admin API is off: set ADMIN_TOKEN (at least 24 characters) and restart.');
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1] || !sameToken(match[1], options.adminToken)) {
      res.set('WWW-Authenticate', 'Bearer');
      fail(res, 401, 'AUTH_INVALID', 'Send Authorization: Bearer <ADMIN_TOKEN>.');
      return;
    }
    next();
  });

  router.get('/connections', async (_req, res) => {
    res.json({ connections: await createConnections(options.db).list() });
  });

  router.get('/sync-runs', async (req, res) => {
    const query = ListRunsQuery.safeParse(req.query);
    if (!query.success) {
      fail(res, 400, 'BAD_REQUEST', query.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      return;
    }
    const { limit, connectionId, audienceId } = query.data;
    const runs = await createSyncRuns(options.db).listRecent({ limit, ...(connectionId && { connectionId }), ...(audienceId && { audienceId }) });
    res.json({ syncRuns: runs });
  });

  router.get('/sync-runs/:id/errors', async (req, res) => {
    const id = req.params.id ?? '';
    const run = await createSyncRuns(options.db).get(id);
    if (!run) {
      fail(res, 404, 'NOT_FOUND', `No sync run ${id}.`);
      return;
    }
    res.json({ syncRunId: id, errors: await createRecordErrors(options.db).listBySyncRun(id) });
  });

  return router;
}
