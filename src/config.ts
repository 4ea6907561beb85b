/**
 * The only reader of environment variables and config files. `loadConfig(env)` parses everything once
 * at start-up and throws one `FixConfigurationError` that lists every bad variable or setting, so an
 * operator fixes them all in one go instead of one per restart.
 *
 * Secrets come only from the environment; everything else (limits, batch sizes, aliases) from
 * `config/*.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FixConfigurationError } from './lib/errors';
import { isLoopbackHost } from './lib/is-loopback';
import type { LogLevel } from './lib/logger';

export const DEFAULT_CONFIG_DIR = path.resolve(__dirname, '..', 'config');

const httpUrl = z
  .string()
  .trim()
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an absolute http(s) URL, e.g. https://example.com')
  .transform((u) => u.replace(/\/+$/, ''));

/** An API base URL: https, or plain http only on this machine (the sandboxes), so keys never travel unencrypted. */
const apiUrl = httpUrl.refine((u) => new URL(u).protocol === 'https:' || isLoopbackHost(new URL(u).hostname), 'must be https (plain http only for localhost)');

const optionalNonEmpty = z.string().trim().min(1, 'must not be empty').optional();

/** 32 bytes, given as 64 hex characters or base64. Used for AES-256-GCM token encryption. */
const encryptionKey = z
  .string()
  .trim()
  .refine((v) => decodeKey(v) !== null, 'must be 32 bytes as 64 hex characters or base64 (try: openssl rand -hex 32)')
  .transform((v) => decodeKey(v) as Buffer);

function decodeKey(value: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const buf = Buffer.from(value, 'base64');
    if (buf.length === 32) return buf;
  }
  return null;
}

const databaseUrl = z
  .string()
  .trim()
  .refine((v) => /^(postgres(ql)?:\/\/|sqlite:|file:)/.test(v) || !v.includes('://'), 'must be postgres://…, sqlite:<path> or a file path');

export const EnvSchema = z.object({
  LEADPIPE_API_KEY: optionalNonEmpty,
  LEADPIPE_BASE_URL: apiUrl.default('https://api.aws53.cloud'),
  HUBSPOT_ACCESS_TOKEN: optionalNonEmpty,
  HUBSPOT_CLIENT_ID: optionalNonEmpty,
  HUBSPOT_CLIENT_SECRET: optionalNonEmpty,
  HUBSPOT_BASE_URL: apiUrl.default('https://api.hubapi.com'),
  SALESFORCE_INSTANCE_URL: apiUrl.optional(),
  SALESFORCE_ACCESS_TOKEN: optionalNonEmpty,
  SALESFORCE_REFRESH_TOKEN: optionalNonEmpty,
  SALESFORCE_LOGIN_URL: apiUrl.default('https://login.salesforce.com'),
  SALESFORCE_CLIENT_ID: optionalNonEmpty,
  SALESFORCE_CLIENT_SECRET: optionalNonEmpty,
  DATABASE_URL: databaseUrl.default('./data/orbit-sync.db'),
  ENCRYPTION_KEY: encryptionKey.optional(),
  ADMIN_TOKEN: z.string().trim().min(24, 'must be at least 24 characters (try: openssl rand -hex 24)').optional(),
  PUBLIC_URL: httpUrl.optional(),
  HUBSPOT_AUTHORIZE_URL: apiUrl.default('https://app.hubspot.com/oauth/authorize'),
  LEADPIPE_WEBHOOK_SECRET: z.string().trim().min(24, 'must be at least 24 characters (try: openssl rand -hex 24)').optional(),
  SCHEDULE_CRON: optionalNonEmpty,
  PORT: z.coerce.number().int('must be a whole number').min(1).max(65535, 'must be a port number 1–65535').default(3000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  ORBIT_SYNC_CONFIG_DIR: optionalNonEmpty,
});

const RetrySettings = z.object({
  maxAttempts: z.number().int().min(1).max(20),
  baseDelayMs: z.number().int().min(0),
  maxDelayMs: z.number().int().min(0),
  /** The longest `Retry-After` we sleep through in-process; a longer one fails the job with the wait in its message. */
  maxRetryAfterMs: z.number().int().min(0),
});

const score = z.number().int('must be a whole number').min(1, 'must be 1–100').max(100, 'must be 1–100');

const HubspotSettings = z.object({
  requestsPer10s: z.object({
    privateApp: z.number().int().min(1).max(250, 'HubSpot allows at most 250 per 10 s (with the API limit increase)'),
    oauthApp: z.number().int().min(1).max(110, 'HubSpot allows OAuth apps 110 per 10 s per account'),
  }),
  searchPerSecond: z.number().int().min(1).max(5, 'HubSpot allows 5 search requests per second'),
  maxConcurrent: z.number().int().min(1).max(32),
  windowMarginMs: z.number().int().min(0).max(5000),
  timeoutMs: z.number().int().min(100),
  retry: RetrySettings,
  batchSize: z.number().int().min(1).max(100, 'HubSpot batch endpoints take at most 100 inputs'),
  peoplePerWrite: z.number().int().min(1).max(2000),
  searchValuesPerFilter: z.number().int().min(1).max(100),
  priority: z
    .object({ minScore: score, high: score, medium: score, lowerPriority: z.boolean() })
    .refine((p) => p.high >= p.medium, { message: 'high must be ≥ medium' }),
});

const SalesforceSettings = z.object({
  apiVersion: z.string().regex(/^\d{2,3}\.0$/, 'must be an API version such as "62.0"').refine((v) => Number(v) >= 46, 'must be 46.0 or later (sObject Collections upsert)'),
  maxConcurrent: z.number().int().min(1).max(25, 'Salesforce allows 25 long-running requests per org'),
  timeoutMs: z.number().int().min(1000),
  retry: RetrySettings,
  collectionSize: z.number().int().min(1).max(200, 'sObject Collections take at most 200 records'),
  peoplePerWrite: z.number().int().min(1).max(10_000),
  bulkThreshold: z.number().int().min(1),
  bulkPeoplePerWrite: z.number().int().min(1).max(150_000),
  bulkPollIntervalMs: z.number().int().min(10),
  bulkPollTimeoutMs: z.number().int().min(1000),
  allowSaveOnDuplicates: z.boolean(),
  leadRating: z.boolean(),
  leadDefaults: z.object({ lastName: z.string().trim().min(1), company: z.string().trim().min(1) }),
  priority: z
    .object({ minScore: score, high: score, medium: score, lowerPriority: z.boolean() })
    .refine((p) => p.high >= p.medium, { message: 'high must be ≥ medium' }),
});

const AppSettings = z.object({
  schedule: z.string().trim().min(9, 'must be a cron expression such as "*/15 * * * *"'),
  maxSyncAttempts: z.number().int().min(1).max(100),
  holdDays: z.number().int().min(1).max(365),
  worker: z.object({
    concurrency: z.number().int().min(1).max(32),
    leaseMs: z.number().int().min(1000),
    heartbeatMs: z.number().int().min(100),
    pollMs: z.number().int().min(10),
    maxJobAttempts: z.number().int().min(1).max(100),
    retryDelayMs: z.number().int().min(0),
    shutdownGraceMs: z.number().int().min(0),
  }),
  tokenRefreshMarginMs: z.number().int().min(0).max(1_500_000, 'must leave the 30-minute HubSpot token some life (at most 25 minutes)'),
  oauthStateTtlMs: z.number().int().min(10_000),
  limits: z.object({
    jsonBody: z.string().regex(/^\d+(b|kb|mb)$/, 'must be a size such as "256kb"'),
    webhookBody: z.string().regex(/^\d+(b|kb|mb)$/, 'must be a size such as "1mb"'),
    adminPerMinute: z.number().int().min(1),
    webhooksPerMinute: z.number().int().min(1),
    oauthPerMinute: z.number().int().min(1),
  }),
  webhookTimestampToleranceMs: z.number().int().min(1000).max(3_600_000),
  salesforceInstanceHosts: z.array(z.string().min(3)).min(1),
});

const SyncSettings = z.object({
  maxRecordAttempts: z.number().int().min(1).max(100),
  maxTopics: z.number().int().min(1).max(100),
});

export const FileConfigSchema = z.object({
  leadpipe: z.object({
    requestsPerMinute: z.number().int().min(1).max(200, 'must stay within Leadpipe’s published 200 req/min'),
    maxConcurrent: z.number().int().min(1).max(32),
    timeoutMs: z.number().int().min(100),
    retry: RetrySettings,
    resultsPageSize: z.number().int().min(1).max(100),
    allowedDownloadHosts: z.array(z.string().min(1)).min(1),
  }),
  hubspot: HubspotSettings,
  salesforce: SalesforceSettings,
  sync: SyncSettings,
  app: AppSettings,
  ingest: z.object({
    maxCellBytes: z.number().int().min(64),
    maxRowBytes: z.number().int().min(1024),
    topTopics: z.number().int().min(1).max(100),
    freeMailDomains: z.array(z.string().min(3)),
  }),
});

/** Canonical field name → header aliases (matched ignoring case, spaces, dots, dashes, underscores). */
export const ColumnAliasesSchema = z.record(z.string(), z.array(z.string()));

export type RetrySettings = z.infer<typeof RetrySettings>;
export type FileConfig = z.infer<typeof FileConfigSchema>;
export type HubspotSettings = z.infer<typeof HubspotSettings>;
export type SyncSettings = z.infer<typeof SyncSettings>;
export type AppSettings = z.infer<typeof AppSettings>;
export type SalesforceSettings = z.infer<typeof SalesforceSettings>;
export type ColumnAliases = z.infer<typeof ColumnAliasesSchema>;

export interface Config {
  leadpipe: FileConfig['leadpipe'] & { apiKey: string | undefined; baseUrl: string };
  hubspot: HubspotSettings & { accessToken?: string; clientId?: string; clientSecret?: string; baseUrl: string };
  sync: SyncSettings;
  app: AppSettings & {
    /** HubSpot's authorize page (the sandbox serves its own). */
    hubspotAuthorizeUrl: string;
    /** Secret of the HMAC-signed POST /webhooks/leadpipe; the route is off without it. */
    leadpipeWebhookSecret: string | undefined;
  };
  salesforce: SalesforceSettings & {
    instanceUrl?: string;
    accessToken?: string;
    refreshToken?: string;
    loginUrl: string;
    clientId?: string;
    clientSecret?: string;
  };
  ingest: FileConfig['ingest'];
  columns: ColumnAliases;
  databaseUrl: string;
  encryptionKey: Buffer | undefined;
  adminToken: string | undefined;
  publicUrl: string | undefined;
  port: number;
  logLevel: LogLevel;
  configDir: string;
}

function formatIssues(error: z.ZodError, prefix: (p: PropertyKey[]) => string): string[] {
  return error.issues.map((issue) => `${prefix(issue.path)}: ${issue.message}`);
}

function readJson(file: string, problems: string[]): unknown {
  if (!existsSync(file)) {
    problems.push(`${file}: file not found`);
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    problems.push(`${file}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
}

/**
 * Parses the environment and the config files. Unknown env vars are ignored; empty strings count as
 * unset (a `.env` line `FOO=` should not fail as "must not be empty").
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));

  const envResult = EnvSchema.safeParse(cleaned);
  if (!envResult.success) problems.push(...formatIssues(envResult.error, (p) => String(p[0] ?? 'environment')));

  const configDir = path.resolve(envResult.success && envResult.data.ORBIT_SYNC_CONFIG_DIR ? envResult.data.ORBIT_SYNC_CONFIG_DIR : DEFAULT_CONFIG_DIR);
  const defaultFile = path.join(configDir, 'default.json');
  const columnsFile = path.join(configDir, 'columns.json');

  const fileRaw = readJson(defaultFile, problems);
  const fileResult = fileRaw === undefined ? undefined : FileConfigSchema.safeParse(fileRaw);
  if (fileResult && !fileResult.success) problems.push(...formatIssues(fileResult.error, (p) => `${defaultFile} → ${p.join('.')}`));

  const columnsRaw = readJson(columnsFile, problems);
  const columnsInput =
    columnsRaw !== null && typeof columnsRaw === 'object'
      ? Object.fromEntries(Object.entries(columnsRaw).filter(([k]) => !k.startsWith('$')))
      : columnsRaw;
  const columnsResult = columnsInput === undefined ? undefined : ColumnAliasesSchema.safeParse(columnsInput);
  if (columnsResult && !columnsResult.success) problems.push(...formatIssues(columnsResult.error, (p) => `${columnsFile} → ${p.join('.')}`));

  if (problems.length > 0 || !envResult.success || !fileResult?.success || !columnsResult?.success) {
    throw new FixConfigurationError(problems);
  }
  const e = envResult.data;
  return {
    leadpipe: { ...fileResult.data.leadpipe, apiKey: e.LEADPIPE_API_KEY, baseUrl: e.LEADPIPE_BASE_URL },
    hubspot: {
      ...fileResult.data.hubspot,
      ...(e.HUBSPOT_ACCESS_TOKEN && { accessToken: e.HUBSPOT_ACCESS_TOKEN }),
      ...(e.HUBSPOT_CLIENT_ID && { clientId: e.HUBSPOT_CLIENT_ID }),
      ...(e.HUBSPOT_CLIENT_SECRET && { clientSecret: e.HUBSPOT_CLIENT_SECRET }),
      baseUrl: e.HUBSPOT_BASE_URL,
    },
    salesforce: {
      ...fileResult.data.salesforce,
      ...(e.SALESFORCE_INSTANCE_URL && { instanceUrl: e.SALESFORCE_INSTANCE_URL }),
      ...(e.SALESFORCE_ACCESS_TOKEN && { accessToken: e.SALESFORCE_ACCESS_TOKEN }),
      ...(e.SALESFORCE_REFRESH_TOKEN && { refreshToken: e.SALESFORCE_REFRESH_TOKEN }),
      loginUrl: e.SALESFORCE_LOGIN_URL,
      ...(e.SALESFORCE_CLIENT_ID && { clientId: e.SALESFORCE_CLIENT_ID }),
      ...(e.SALESFORCE_CLIENT_SECRET && { clientSecret: e.SALESFORCE_CLIENT_SECRET }),
    },
    sync: fileResult.data.sync,
    app: {
      ...fileResult.data.app,
      ...(e.SCHEDULE_CRON !== undefined && { schedule: e.SCHEDULE_CRON }),
      hubspotAuthorizeUrl: e.HUBSPOT_AUTHORIZE_URL,
      leadpipeWebhookSecret: e.LEADPIPE_WEBHOOK_SECRET,
    },
    ingest: fileResult.data.ingest,
    columns: columnsResult.data,
    databaseUrl: e.DATABASE_URL,
    encryptionKey: e.ENCRYPTION_KEY,
    adminToken: e.ADMIN_TOKEN,
    publicUrl: e.PUBLIC_URL,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    configDir,
  };
}
