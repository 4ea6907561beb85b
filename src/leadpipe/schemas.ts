/**
 * Zod schemas for the Leadpipe Orbit API (run-based "Gen 3" API, reference/leadpipe-api.md §10).
 *
 * Every object is a `z.looseObject`: Leadpipe adds fields without notice and we must not drop or reject
 * them. Fields the reference marks [UNKNOWN]/[INFER], or that only appear in some examples, are
 * `.nullish()`. Enum-like values (run and export `status`, `runType`) are kept as plain strings so a new
 * status value degrades to "not completed" instead of failing the parse; the known values are listed
 * as constants.
 */
import { z } from 'zod';

const optString = z.string().nullish();
const optNumber = z.number().nullish();

/** Documented run statuses (reference §3.1, https://docs.leadpipe.com/orbit-api/daily-runs). */
export const LEADPIPE_RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

/** `meta` of every current response: `{ timestamp, request_id }` (reference §1.4). */
export const LeadpipeMeta = z.looseObject({
  timestamp: optString,
  request_id: optString,
});
export type LeadpipeMeta = z.infer<typeof LeadpipeMeta>;

/** The `{ data, meta }` envelope wrapping every current response. */
export function leadpipeEnvelope<T extends z.ZodType>(data: T) {
  return z.looseObject({ data, meta: LeadpipeMeta.nullish() });
}

// ── audiences (reference §2) ─────────────────────────────────────────────────────────────────────────

export const LeadpipeAudienceTopic = z.looseObject({
  id: z.union([z.number(), z.string()]),
  name: optString,
});

export const LeadpipeAudience = z.looseObject({
  id: z.string().min(1),
  organizationId: optString,
  name: optString,
  /** `draft` | `active` | `paused` (reference §2.2). */
  status: optString,
  accessType: optString,
  dailyRefreshEnabled: z.boolean().nullish(),
  audienceSize: optNumber,
  lastRefreshedAt: optString,
  createdAt: optString,
  updatedAt: optString,
  /** Audience definition (topicIds, scores, filters). Shape varies by API generation, so kept open. */
  config: z.record(z.string(), z.unknown()).nullish(),
  topics: z.array(LeadpipeAudienceTopic).nullish(),
});
export type LeadpipeAudience = z.infer<typeof LeadpipeAudience>;

export const LeadpipeAudienceResponse = leadpipeEnvelope(LeadpipeAudience);
/** Paging past `limit` is [UNKNOWN] (reference §2.4): no cursor is documented. */
export const LeadpipeAudienceListResponse = leadpipeEnvelope(z.array(LeadpipeAudience));

// ── runs (reference §3.4, IntentAudienceRun) ─────────────────────────────────────────────────────────

export const LeadpipeRun = z.looseObject({
  id: z.string().min(1),
  /** Absent from the trimmed run inside results/202 bodies. */
  audienceId: optString,
  organizationId: optString,
  /** See LEADPIPE_RUN_STATUSES. */
  status: z.string().min(1),
  /** `manual` | `daily` | `preview`. */
  runType: optString,
  configHash: optString,
  dataDate: optString,
  resultKey: optString,
  candidateCount: optNumber,
  resultCount: optNumber,
  attempts: optNumber,
  nextAttemptAt: optString,
  idempotencyKey: optString,
  errorCode: optString,
  errorMessage: optString,
  startedAt: optString,
  completedAt: optString,
  cancelledAt: optString,
  readyEmailSentAt: optString,
  readyEmailExportId: optString,
  readyEmailError: optString,
  createdAt: optString,
  updatedAt: optString,
});
export type LeadpipeRun = z.infer<typeof LeadpipeRun>;

export const LeadpipeRunResponse = leadpipeEnvelope(LeadpipeRun);
/** The contents of the list's `meta` are [UNKNOWN] (reference §3.4); it is kept loose. */
export const LeadpipeRunListResponse = leadpipeEnvelope(z.array(LeadpipeRun));

// ── run results (reference §4) ───────────────────────────────────────────────────────────────────────

export const LeadpipeMatchedTopic = z.looseObject({
  topicId: z.union([z.number(), z.string()]).nullish(),
  topicName: optString,
  type: optString,
  industry: optString,
  category: optString,
});

/** Seen in preview samples; [INFER] results rows carry the same block (reference §4.2). */
export const LeadpipeIntent = z.looseObject({
  score: optNumber,
  topicOverlap: optNumber,
  matchedTopics: z.array(LeadpipeMatchedTopic).nullish(),
});

/** The stored copy is cut off inside `company` (reference §4.1): only these four are documented. */
export const LeadpipeResultCompany = z.looseObject({
  name: optString,
  domain: optString,
  industry: optString,
  industryGroup: optString,
});

/**
 * One person row. Everything is optional: the row schema is only partly documented, and validating
 * a row (email present, score 1–100…) is the normalize stage's job, where a bad row is quarantined
 * instead of failing the whole page.
 */
export const LeadpipeResultRow = z.looseObject({
  hashedEmail: optString,
  firstName: optString,
  lastName: optString,
  fullName: optString,
  businessEmail: optString,
  personalEmail: optString,
  email: optString,
  primaryContactEmail: optString,
  phone: optString,
  linkedinUrl: optString,
  headline: optString,
  jobTitle: optString,
  seniority: optString,
  department: optString,
  company: LeadpipeResultCompany.nullish(),
  intent: LeadpipeIntent.nullish(),
});
export type LeadpipeResultRow = z.infer<typeof LeadpipeResultRow>;

/**
 * `data` of `GET …/runs/{runId}/results`, for both the 202 (pending: `state`, empty `results`) and the
 * 200 (completed) body. `total`/`limit`/`offset` are documented on the 202 body and [INFER] on the 200.
 */
export const LeadpipeRunResults = z.looseObject({
  run: LeadpipeRun,
  state: optString,
  results: z.array(LeadpipeResultRow).nullish(),
  total: z.number().int().nonnegative().nullish(),
  limit: z.number().int().positive().nullish(),
  offset: z.number().int().nonnegative().nullish(),
});
export type LeadpipeRunResults = z.infer<typeof LeadpipeRunResults>;
export const LeadpipeRunResultsResponse = leadpipeEnvelope(LeadpipeRunResults);

// ── stats (reference §5) ─────────────────────────────────────────────────────────────────────────────

export const LeadpipeFillRate = z.looseObject({ count: z.number(), percent: z.number() });
export const LeadpipeScoreBucket = z.looseObject({ bucket: z.string(), count: z.number(), percent: optNumber });

export const LeadpipeRunStats = z.looseObject({
  run: LeadpipeRun.nullish(),
  stats: z.looseObject({
    total: optNumber,
    /** Keys are the public result field names, nested ones dotted (`company.name`). */
    fillRates: z.record(z.string(), LeadpipeFillRate).nullish(),
    scoreHistogram: z.array(LeadpipeScoreBucket).nullish(),
    averages: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type LeadpipeRunStats = z.infer<typeof LeadpipeRunStats>;
export const LeadpipeRunStatsResponse = leadpipeEnvelope(LeadpipeRunStats);

// ── stored exports (reference §7.2) ──────────────────────────────────────────────────────────────────

export const LeadpipeExport = z.looseObject({
  id: z.string().min(1),
  /** `processing` | `completed` | … (the full list is [UNKNOWN]). */
  status: z.string().min(1),
  organizationId: optString,
  audienceId: optString,
  runId: optString,
  exportType: optString,
  storageProvider: optString,
  contentType: optString,
  byteSize: optNumber,
  rowCount: optNumber,
  bucketName: optString,
  fileId: optString,
  fileName: optString,
  contentSha1: optString,
  errorCode: optString,
  errorMessage: optString,
  requestedBy: optString,
  completedAt: optString,
  expiresAt: optString,
  createdAt: optString,
  updatedAt: optString,
});
export type LeadpipeExport = z.infer<typeof LeadpipeExport>;

/**
 * `data` of `POST …/exports` and `GET …/exports/{exportId}`. The signed URL may be absent while the
 * export is still processing. Its TTL is not hard-coded anywhere: read `downloadUrlExpiresAt`.
 */
export const LeadpipeStoredExport = z.looseObject({
  export: LeadpipeExport,
  downloadUrl: optString,
  downloadUrlExpiresAt: optString,
  downloadUrlTtlSeconds: optNumber,
});
export type LeadpipeStoredExport = z.infer<typeof LeadpipeStoredExport>;
export const LeadpipeStoredExportResponse = leadpipeEnvelope(LeadpipeStoredExport);

// ── errors (reference §1.4: the real shape is [UNKNOWN]) ─────────────────────────────────────────────

/** A string field that degrades to undefined when it has another type (e.g. FastAPI-style `detail: [...]`). */
const lenientString = z.string().optional().catch(undefined);

/**
 * What the official SDK's parser looks for: `{ error: { code, message } }`, else a top-level string in
 * `message`, `error`, `detail` or `title`. Also covers storage (Backblaze B2) JSON errors, which use a
 * top-level `code` (`{ "code": "unauthorized", "message": "…", "status": 401 }`).
 */
export const LeadpipeErrorBody = z.looseObject({
  error: z
    .union([z.looseObject({ code: lenientString, message: lenientString }), z.string()])
    .optional()
    .catch(undefined),
  code: lenientString,
  message: lenientString,
  detail: lenientString,
  title: lenientString,
  meta: z.looseObject({ request_id: lenientString }).optional().catch(undefined),
});
export type LeadpipeErrorBody = z.infer<typeof LeadpipeErrorBody>;
