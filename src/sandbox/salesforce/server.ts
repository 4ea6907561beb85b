/**
 * A stateful Salesforce org sandbox on loopback that jsforce 3 talks to unchanged:
 *
 *   new Connection({ instanceUrl: sb.url, loginUrl: sb.url, accessToken: sb.accessToken,
 *     refreshToken: sb.refreshToken, oauth2: { clientId: sb.clientId, clientSecret: sb.clientSecret,
 *     loginUrl: sb.url }, version: '62.0' })
 *
 * OAuth (the authorize page, token refresh, authorization code with PKCE, revoke, userinfo / identity URL), describe,
 * SOQL query + queryMore, sObject Collections create / update / upsert (and the single-record calls),
 * the Metadata API's SOAP upsert of CustomField and PermissionSet, Bulk API 2.0 ingest, the daily API
 * allocation (Sforce-Limit-Info on every REST answer, 403 REQUEST_LIMIT_EXCEEDED past it) and /limits;
 * outbound messages (SOAP notifications) when Leads or Contacts are created.
 *
 * Sources: /work/shared/reference/salesforce.md (§1 connection and refresh, §2 the web-server flow,
 * §3 collections, §4 bulk2, §5 SOQL and the URI limit, §6 metadata, §8 errors and limits, §9 item 3
 * outbound messages, §11 the fake-server checklist) and the
 * jsforce 3.10.26 sources in node_modules (what it sends, how it reads answers).
 *
 * Files: ./types (public types), ./schema (objects, fields, ids, value rules, describe), ./records (store
 * and the one write path), ./soql (parser, evaluator, cursors), ./oauth, ./metadata (SOAP), ./bulk
 * (Bulk 2.0 ingest), ./outbound (outbound messages), ./errors; ./seed-org seeds a realistic org from
 * generated people.
 *
 * Request flow:
 *   1. a request-target over 16,384 bytes → 414 (before anything else; jsforce does not retry it);
 *   2. route the method + path (unknown path → 404 NOT_FOUND, wrong method → 405), count it per route;
 *      a REST request with a session (not GET /services/data) is checked against `concurrentRequestLimit`
 *      on arrival (refused: answered in 4 as the throttle);
 *   2b. REST (/services/data/…) only: the simulated latency (`latency` option, `setLatency`; ../latency)
 *      waits `baseMs + perRecordMs × records` on a timer (records: collections' `records`, composite's
 *      `compositeRequest`, a bulk upload's CSV data lines, else 1; a refused request: baseMs only), so
 *      concurrent requests overlap and everything below happens at the end of the wait;
 *   3. OAuth routes (/services/oauth2/authorize, /token, /revoke) need no session; userinfo and the identity URL take
 *      the bearer token (or `oauth_token`) and answer 403 `Bad_OAuth_Token` otherwise; none of them count
 *      against the API allocation;
 *   4. REST (/services/data/…): `Authorization: Bearer <token>` (also `OAuth <token>`); missing, unknown,
 *      revoked or expired → 401 [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]
 *      (jsforce then refreshes and replays). Then the allocation: used ≥ max → 403 REQUEST_LIMIT_EXCEEDED,
 *      then a request refused by the concurrent request limit (or given the `rateLimited` fault) → 403
 *      REQUEST_LIMIT_EXCEEDED ConcurrentRequests (not counted), else the call counts. Every REST answer
 *      carries `Sforce-Limit-Info: api-usage=used/max`;
 *   5. SOAP (/services/Soap/m/…): the session id from the envelope; a bad one is HTTP 500 with faultcode
 *      `sf:INVALID_SESSION_ID` (what jsforce's SOAP client refreshes on); the allocation as for REST;
 *   6. the handler. JSON answers are `application/json;charset=UTF-8`; errors `[{ message, errorCode }]`.
 *
 * Choices where the reference is silent or marked [INFER] (revisit against a real org):
 *   Connection / OAuth
 *   - [INFER] Any /services/data/vNN.N version is served; sObject Collections (create, update, upsert)
 *     answer 404 NOT_FOUND below 46.0 (upsert needs 46.0; create/update really need only 42.0).
 *     GET /services/data lists 46.0–64.0 and needs no session.
 *   - [INFER] Access tokens look like `<orgId15>!AR…`, refresh tokens `5Aep861…`; the token answer's
 *     `signature` is Salesforce's HMAC-SHA256(id + issued_at, client secret). A refresh answers no
 *     refresh_token unless `rotateRefreshToken` (then the old one is revoked).
 *   - [INFER] The client secret is required for refresh (the connected-app default "Require Secret for
 *     Refresh Token Flow") and for code exchange unless the code carries a PKCE challenge. Errors:
 *     invalid_client_id, invalid_client, invalid_grant ('expired access/refresh token', 'invalid
 *     authorization code', 'invalid code verifier'), redirect_uri_mismatch, unsupported_grant_type.
 *   - Revoking a refresh token kills the access tokens issued from it (Salesforce does).
 *   - [INFER] userinfo / identity calls and OAuth calls do not count against the daily allocation.
 *   - GET /services/oauth2/authorize: the org's admin approves at once (see ./oauth for its checks). A
 *     redirect is a 302 with an empty body; [INFER] an error page is a small text/html page (400) showing
 *     `error=…&error_description=…`, as Salesforce's is.
 *   Outbound messages (./outbound)
 *   - configureOutboundMessage() defines one on record creation for Lead and/or Contact; creations through
 *     the API (collections, single records, Bulk 2.0) and createRecordAsUser() fire it, seeding does not.
 *   Records and writes
 *   - Ids are 18 characters (real key prefixes, Salesforce's checksum suffix); 15-character ids are
 *     accepted wherever an id is read. [INFER] The pod part of ids is `5g0`.
 *   - Field names in writes are matched case-insensitively and stored under the canonical name; '' is
 *     stored as null (Salesforce keeps no empty strings); emails keep their case and compare
 *     case-insensitively (duplicate rules, SOQL); external ids and unique Text fields compare
 *     case-insensitively unless `caseSensitive`.
 *   - Per-record failures (the first failing check decides; see ./records): INVALID_TYPE, MISSING_ARGUMENT
 *     (update without id), MALFORMED_ID, [INFER] ENTITY_IS_DELETED (update of an unknown id),
 *     CANNOT_UPDATE_CONVERTED_LEAD, INVALID_FIELD (unknown field — [INFER] per record, not the whole
 *     request), INVALID_FIELD_FOR_INSERT_UPDATE (read-only field, or an Id on insert), [INFER]
 *     INVALID_TYPE_ON_FIELD_IN_RECORD "<Label>: value not of required type: x" (Salesforce fails the whole
 *     JSON request with JSON_PARSER_ERROR for some of these), NUMBER_OUTSIDE_VALID_RANGE, STRING_TOO_LONG,
 *     INVALID_EMAIL_ADDRESS ([INFER] ASCII-only check), INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST (custom
 *     picklists with `restricted`; [INFER] standard picklists accept any value), INVALID_CROSS_REFERENCE_KEY
 *     (a reference to a missing record), REQUIRED_FIELD_MISSING "Required fields are missing: [LastName]",
 *     DUPLICATE_VALUE "duplicate value found: <field> duplicates value on record with id: <id>",
 *     DUPLICATES_DETECTED (with `duplicateResult`), then injected errors.
 *   - [INFER] An external id matching two records → DUPLICATE_EXTERNAL_ID "<field>: more than one record
 *     found for external id field: [ids]" (the single-record upsert answers HTTP 300, jsforce's
 *     MULTIPLE_CHOICES). Two records with the same external id (or update id) in one request all fail
 *     (DUPLICATE_EXTERNAL_ID "Duplicate external id specified: x" / DUPLICATE_VALUE "Duplicate id in list").
 *   - [INFER] Collections upsert takes an External ID field only, not Id (reference §3); anything else →
 *     400 INVALID_FIELD for the whole request. Records past 200 → 400 EXCEEDED_ID_LIMIT. Results carry
 *     `id` on failure only when the record existed (update, matched upsert).
 *   - Duplicate rules (option / setDuplicateRules): [INFER] a create (or upsert-create) of a Lead or
 *     Contact whose Email matches an unconverted Lead or a Contact fails with DUPLICATES_DETECTED "Use one
 *     of these records?" unless `Sforce-Duplicate-Rule-Header: allowSave=true`; updates are not checked;
 *     Bulk API rows save (alert rules do not block the Bulk API).
 *   - Opportunity IsClosed / IsWon derive from StageName ('Closed Won', 'Closed Lost'); Lead and Contact
 *     Name from FirstName + LastName; CreatedDate / LastModifiedDate / SystemModstamp from the clock.
 *   SOQL
 *   - Parsed with a tokenizer (./soql). [INFER] A duplicated SELECT field → MALFORMED_QUERY. Long text
 *     areas cannot be filtered or sorted (INVALID_FIELD), as in Salesforce. An Id filter value that is not
 *     a 15/18-character id → INVALID_QUERY_FILTER_OPERATOR "invalid ID field: x". Unsupported SOQL
 *     (GROUP BY, subqueries, semi-joins, date literals such as TODAY) → MALFORMED_QUERY saying so.
 *   - Page size 2,000 (option); nextRecordsUrl `/services/data/vXX.X/query/<01g…>-<offset>`; [INFER] 50
 *     open cursors, the oldest dropped (→ 400 INVALID_QUERY_LOCATOR). Results are a snapshot.
 *   - [INFER] 414 body: [{"errorCode":"URI_TOO_LONG","message":…}] (Salesforce may answer HTML or 431).
 *   Metadata API
 *   - CustomField (Text, TextArea, LongTextArea, Number, Currency, Percent, Checkbox, Date, DateTime,
 *     Email, Phone, Url, Picklist) and PermissionSet (fieldPermissions, merged by field). [INFER] More
 *     than 10 components → fault sf:EXCEEDED_ID_LIMIT; an unknown object → per-component
 *     INVALID_CROSS_REFERENCE_KEY; a bad definition → FIELD_INTEGRITY_EXCEPTION; a type change while
 *     records hold values → FIELD_INTEGRITY_EXCEPTION. Field-level security is not simulated: a created
 *     field is readable and writable at once.
 *   Bulk API 2.0
 *   - [INFER] One upload per job (a second → 409 INVALIDJOBSTATE); a job closed without data completes
 *     with 0 records; an unknown header column → job Failed "InvalidBatch : Field name not found : X";
 *     a row with the wrong number of cells fails that row. Result CSVs quote every value.
 *   Limits
 *   - Every authenticated REST or SOAP call counts 1 (a bulk upload of any size too; failed calls too).
 *     The 403 itself is not counted. GET /limits reports DailyApiRequests and DailyBulkApiBatches.
 *   - Concurrent requests (`concurrentRequestLimit`, `setConcurrentRequestLimit`): Salesforce counts only
 *     requests running 20 s or more (limit 25); the sandbox counts every REST request in flight (its
 *     latency wait included) so a benchmark can scale the limit down. Refusals: `traffic().concurrencyRefused`.
 *   - Bulk 2.0 throughput (`bulkRecordsPerSecond`): InProgress → JobComplete takes rows ÷ rate seconds
 *     more; `bulkJobTimes()` reports each closed job's UploadComplete and done times (sandbox clock).
 *
 * Faults (../faults: `faults` option, `setFaults`): REST calls only (not OAuth, not the Metadata API). A
 * seeded plan may answer a call with Salesforce's throttle, 403 REQUEST_LIMIT_EXCEEDED "ConcurrentRequests
 * (Concurrent API Requests) Limit exceeded." (not counted); a 500 UNKNOWN_EXCEPTION with an ErrorId, a 503
 * SERVER_UNAVAILABLE, or a 502/504 HTML page; process it and hold the answer past the client's timeout, or
 * cut it half-way; or expire the session presented (401 INVALID_SESSION_ID; jsforce refreshes). Per record
 * (`partial`), a write fails alone with UNABLE_TO_LOCK_ROW (collections, single records and Bulk 2.0 rows).
 *
 * Not simulated: field-level security, sharing, triggers / validation rules, record types, owners and
 * assignment rules, deletes, Lead conversion through the API, Bulk query jobs, composite graph / batch /
 * tree, SOSL, the 20-second threshold of the concurrent-request limit, retries of 5xx (jsforce retries GETs
 * only).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { hashUnit, SandboxFaults, serverErrorStatus } from '../faults';
import { listenOnLoopback, matchRoute, readBodyText, type RouteSpec } from '../http';
import { countCsvDataLines, countJsonInputs, RequestBodies, SandboxLatency } from '../latency';
import { BulkIngest } from './bulk';
import { jsonParserError, notFound, RecordError, SalesforceApiError, sessionInvalid, shown } from './errors';
import { MetadataService, parseSoapRequest, SoapFault, soapFaultXml } from './metadata';
import { SalesforceOAuth } from './oauth';
import { OutboundMessaging } from './outbound';
import { collectionResult, viewRecord, writeBatch, writeRecord, apiUrl, RecordStore, type OrgContext, type WriteOp, type WriteOptions } from './records';
import { formatDateTime, makeId, normalizeId, objectTypeOfId, OrgSchema } from './schema';
import { QueryService } from './soql';
import {
  COLLECTIONS_LIMIT,
  DEFAULT_ACCESS_TOKEN_TTL_MS,
  DEFAULT_BULK_PROCESSING_MS,
  DEFAULT_DAILY_API_LIMIT,
  DEFAULT_QUERY_PAGE_SIZE,
  DEFAULT_SALESFORCE_CLIENT_ID,
  DEFAULT_SALESFORCE_CLIENT_SECRET,
  LEADPIPE_CUSTOM_FIELDS,
  MAX_URI_BYTES,
  MIN_COMPOSITE_VERSION,
  SALESFORCE_OAUTH_ROUTES,
  SALESFORCE_OBJECT_TYPES,
  SALESFORCE_SANDBOX_ROUTES,
  SALESFORCE_WRITE_ROUTES,
  type FieldValue,
  type OutboundObjectType,
  type SalesforceObjectType,
  type SalesforceRecord,
  type SalesforceSandbox,
  type SalesforceSandboxOptions,
  type SalesforceSandboxRoute,
  type SaveError,
  type SeedLeadInput,
  type SeedOpportunityInput,
  type SeedRecordInput,
} from './types';

export * from './types';
export type { SaveError } from './types';
export type { LatencyModel } from '../latency';
export { CLOSED_STAGES, CONTACT_ROLES, LEAD_RATINGS, LEAD_STATUSES, OPEN_STAGES, idChecksum, normalizeId } from './schema';
export { bulkErrorText } from './bulk';
export { RecordError } from './errors';
export { isOutboundAck, outboundMessageEnvelope } from './outbound';

const MAX_JSON_BYTES = 50 * 1024 * 1024;
const MAX_CSV_BYTES = 150 * 1024 * 1024;
const MAX_SOAP_BYTES = 10 * 1024 * 1024;
const JSON_TYPE = 'application/json;charset=UTF-8';
const API_VERSIONS = Array.from({ length: 64 - 46 + 1 }, (_, i) => `${46 + i}.0`);

// --- routing ----------------------------------------------------------------------------------------

const SEG = '([^/]+)';
const D = '^/services/data/v(\\d+\\.\\d+)';

/** Order matters: `…/describe` before `…/{id}`, `/query/{locator}` after `/query`. */
const ROUTES: readonly RouteSpec<SalesforceSandboxRoute>[] = [
  { route: 'oauthAuthorize', method: 'GET', pattern: /^\/services\/oauth2\/authorize$/ },
  { route: 'oauthToken', method: 'POST', pattern: /^\/services\/oauth2\/token$/ },
  { route: 'oauthRevoke', method: 'POST', pattern: /^\/services\/oauth2\/revoke$/ },
  { route: 'oauthUserinfo', method: 'GET', pattern: /^\/services\/oauth2\/userinfo$/ },
  { route: 'identity', method: 'GET', pattern: new RegExp(`^/id/${SEG}/${SEG}$`) },
  { route: 'versions', method: 'GET', pattern: /^\/services\/data\/?$/ },
  { route: 'resources', method: 'GET', pattern: new RegExp(`${D}/?$`) },
  { route: 'limits', method: 'GET', pattern: new RegExp(`${D}/limits/?$`) },
  { route: 'describeGlobal', method: 'GET', pattern: new RegExp(`${D}/sobjects/?$`) },
  { route: 'describe', method: 'GET', pattern: new RegExp(`${D}/sobjects/${SEG}/describe/?$`) },
  { route: 'sobjectCreate', method: 'POST', pattern: new RegExp(`${D}/sobjects/${SEG}/?$`) },
  { route: 'sobjectRetrieve', method: 'GET', pattern: new RegExp(`${D}/sobjects/${SEG}/${SEG}$`) },
  { route: 'sobjectUpdate', method: 'PATCH', pattern: new RegExp(`${D}/sobjects/${SEG}/${SEG}$`) },
  { route: 'sobjectUpsert', method: 'PATCH', pattern: new RegExp(`${D}/sobjects/${SEG}/${SEG}/${SEG}$`) },
  { route: 'query', method: 'GET', pattern: new RegExp(`${D}/query/?$`) },
  { route: 'queryMore', method: 'GET', pattern: new RegExp(`${D}/query/${SEG}$`) },
  { route: 'queryAll', method: 'GET', pattern: new RegExp(`${D}/queryAll/?$`) },
  { route: 'queryAllMore', method: 'GET', pattern: new RegExp(`${D}/queryAll/${SEG}$`) },
  { route: 'composite', method: 'POST', pattern: new RegExp(`${D}/composite/?$`) },
  { route: 'collectionsCreate', method: 'POST', pattern: new RegExp(`${D}/composite/sobjects/?$`) },
  { route: 'collectionsUpdate', method: 'PATCH', pattern: new RegExp(`${D}/composite/sobjects/?$`) },
  { route: 'collectionsUpsert', method: 'PATCH', pattern: new RegExp(`${D}/composite/sobjects/${SEG}/${SEG}$`) },
  { route: 'bulkCreateJob', method: 'POST', pattern: new RegExp(`${D}/jobs/ingest/?$`) },
  { route: 'bulkUpload', method: 'PUT', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/batches/?$`) },
  { route: 'bulkSetState', method: 'PATCH', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/?$`) },
  { route: 'bulkGetJob', method: 'GET', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/?$`) },
  { route: 'bulkDeleteJob', method: 'DELETE', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/?$`) },
  { route: 'bulkSuccessfulResults', method: 'GET', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/successfulResults/?$`) },
  { route: 'bulkFailedResults', method: 'GET', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/failedResults/?$`) },
  { route: 'bulkUnprocessedRecords', method: 'GET', pattern: new RegExp(`${D}/jobs/ingest/${SEG}/unprocessedrecords/?$`) },
  { route: 'metadata', method: 'POST', pattern: /^\/services\/Soap\/m\/(\d+\.\d+)(?:\/[^/]*)?$/ },
];

const COLLECTION_ROUTES: readonly SalesforceSandboxRoute[] = ['collectionsCreate', 'collectionsUpdate', 'collectionsUpsert'];
/** Composite resource: subrequests per request (developer.salesforce.com, resources-composite-composite-post). */
const COMPOSITE_SUBREQUEST_LIMIT = 25;
/** Answered without a session, not counted against the allocation. */
const OPEN_ROUTES: readonly SalesforceSandboxRoute[] = ['versions'];
/** Routes whose body's records set the per-record latency: the array counted (or the CSV's data lines). */
const RECORD_COUNTS: Partial<Record<SalesforceSandboxRoute, 'records' | 'compositeRequest' | 'csv'>> = {
  collectionsCreate: 'records',
  collectionsUpdate: 'records',
  collectionsUpsert: 'records',
  composite: 'compositeRequest',
  bulkUpload: 'csv',
};

interface RequestInfo {
  req: IncomingMessage;
  /** Path parameters after the version. */
  params: string[];
  version: string;
  query: URLSearchParams;
}

interface Answer {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: OutgoingHttpHeaders;
}

type Handler = (info: RequestInfo) => Promise<Answer> | Answer;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function htmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** `Sforce-Duplicate-Rule-Header: allowSave=true[, includeRecordDetails=…]`. */
function allowSaveOf(req: IncomingMessage): boolean {
  const header = req.headers['sforce-duplicate-rule-header'];
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text.split(/[,;]/).some((part) => /^\s*allowSave\s*=\s*true\s*$/i.test(part));
}

function bearerOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  return auth === undefined ? undefined : /^(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(auth)?.[1];
}

/** A record body's fields: everything but `attributes` and the keys named. */
function fieldsOf(record: Record<string, unknown>, omit: readonly string[] = []): Record<string, unknown> {
  const skip = new Set(['attributes', ...omit.map((k) => k.toLowerCase())]);
  return Object.fromEntries(Object.entries(record).filter(([k]) => !skip.has(k.toLowerCase())));
}

function attributesType(record: Record<string, unknown>): string | undefined {
  const attributes = record.attributes;
  return isObject(attributes) && typeof attributes.type === 'string' ? attributes.type : undefined;
}

/** The env vars that point orbit-sync (CLI or config) at this sandbox org with its session and connected app. */
export function salesforceSandboxEnv(sb: SalesforceSandbox): Record<string, string> {
  return {
    SALESFORCE_INSTANCE_URL: sb.url,
    SALESFORCE_LOGIN_URL: sb.url,
    SALESFORCE_ACCESS_TOKEN: sb.accessToken,
    SALESFORCE_REFRESH_TOKEN: sb.refreshToken,
    SALESFORCE_CLIENT_ID: sb.clientId,
    SALESFORCE_CLIENT_SECRET: sb.clientSecret,
  };
}

export async function startSalesforceSandbox(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  const now = options.now ?? Date.now;
  const clientId = options.clientId ?? DEFAULT_SALESFORCE_CLIENT_ID;
  const clientSecret = options.clientSecret ?? DEFAULT_SALESFORCE_CLIENT_SECRET;
  const orgId = normalizeId(options.orgId ?? makeId('00D', 4_242_424)) ?? '';
  const userId = normalizeId(options.userId ?? makeId('005', 1_717_171)) ?? '';
  if (!orgId.startsWith('00D')) throw new RangeError('orgId must be a 15- or 18-character id starting 00D');
  if (!userId.startsWith('005')) throw new RangeError('userId must be a 15- or 18-character id starting 005');
  const positive = (name: string, v: number | undefined, fallback: number, min = 1): number => {
    const value = v ?? fallback;
    if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}`);
    return value;
  };
  const ttl = positive('accessTokenTtlMs', options.accessTokenTtlMs, DEFAULT_ACCESS_TOKEN_TTL_MS);
  const maxApi = positive('dailyApiLimit', options.dailyApiLimit, DEFAULT_DAILY_API_LIMIT);
  const pageSize = positive('queryPageSize', options.queryPageSize, DEFAULT_QUERY_PAGE_SIZE);
  const bulkMs = positive('bulkProcessingMs', options.bulkProcessingMs, DEFAULT_BULK_PROCESSING_MS, 0);
  const bulkRate = options.bulkRecordsPerSecond;
  if (bulkRate !== undefined && !(Number.isFinite(bulkRate) && bulkRate > 0)) throw new RangeError('bulkRecordsPerSecond must be a finite number > 0');
  const checkConcurrentLimit = (limit: number | undefined): number | undefined => {
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new RangeError('concurrentRequestLimit must be an integer >= 1');
    return limit;
  };
  let concurrentLimit = checkConcurrentLimit(options.concurrentRequestLimit);
  for (const callback of options.callbackUrls ?? []) {
    if (!['http:', 'https:'].includes(URL.parse(callback)?.protocol ?? '')) throw new RangeError(`callbackUrls: ${callback} is not an absolute http(s) URL`);
  }

  const schema = new OrgSchema();
  const faults = new SandboxFaults(options.faults, now);
  const latency = new SandboxLatency(options.latency);
  const bodies = new RequestBodies();
  /** REST requests admitted and not yet answered (the concurrent request limit), and the refusals since resetTraffic. */
  let restInFlight = 0;
  let concurrencyRefused = 0;
  const ctx: OrgContext = {
    schema,
    store: new RecordStore(schema),
    now,
    duplicateRules: options.duplicateRules ?? false,
    injected: [],
    recordFault: (type, key) => faults.plan?.forRecord(`${type}:write`, type, key) ?? false,
  };
  const metadata = new MetadataService(ctx);
  const installCustomFields = (): void => {
    for (const md of LEADPIPE_CUSTOM_FIELDS) {
      const result = metadata.putCustomField(md, 'upsert');
      if (!result.success) throw new Error(`Salesforce sandbox: cannot install ${md.fullName}: ${result.errors.map((e) => e.message).join('; ')}`);
    }
  };
  if (options.customFields !== false) installCustomFields();

  let baseUrl = '';
  const oauth = new SalesforceOAuth({
    clientId,
    clientSecret,
    orgId,
    userId,
    accessTokenTtlMs: ttl,
    rotateRefreshToken: options.rotateRefreshToken ?? false,
    now,
    baseUrl: () => baseUrl,
    ...(options.callbackUrls !== undefined ? { callbackUrls: [...options.callbackUrls] } : {}),
    requirePkce: options.requirePkce ?? false,
  });
  const session = oauth.initialSession(options.accessToken, options.refreshToken);
  const queries = new QueryService(ctx, pageSize);
  let bulkBatches = 0;
  const bulk = new BulkIngest({
    ctx,
    userId,
    processingMs: bulkMs,
    ...(bulkRate !== undefined ? { recordsPerSecond: bulkRate } : {}),
    onUpload: () => {
      bulkBatches++;
    },
  });

  const outbound = new OutboundMessaging({
    orgId,
    baseUrl: () => baseUrl,
    fieldName: (type, name) => schema.field(type, name)?.name,
    values: (type, recordId, fields) => {
      const record = ctx.store.get(type, recordId);
      const out: Record<string, string> = {};
      for (const name of fields) {
        const def = schema.field(type, name);
        const value = def === undefined ? undefined : record?.[def.name];
        if (def === undefined || value === undefined || value === null) continue;
        // SOAP date-times end in Z (the REST form's +0000 is not xsd:dateTime).
        out[def.name] = def.type === 'datetime' && typeof value === 'string' ? value.replace(/\+0000$/, 'Z') : String(value);
      }
      return out;
    },
  });
  ctx.onCreated = (created) => outbound.created(created);

  let apiUsed = 0;
  const requestCounts = Object.fromEntries(SALESFORCE_SANDBOX_ROUTES.map((r) => [r, 0])) as Record<SalesforceSandboxRoute, number>;

  // 1. seeding (no HTTP, no allocation) -----------------------------------------------------------------

  function seedOne(type: SalesforceObjectType, input: SeedRecordInput, extraFields: Record<string, FieldValue> = {}, allowReadOnly: readonly string[] = []): SalesforceRecord {
    let id: string | undefined;
    if (input.id !== undefined) {
      id = normalizeId(input.id) ?? undefined;
      if (id === undefined || objectTypeOfId(id) !== type) throw new RangeError(`Salesforce sandbox: ${input.id} is not a ${type} id`);
      if (ctx.store.get(type, id)) throw new RangeError(`Salesforce sandbox: ${type} ${id} exists already`);
    }
    const createdAt = input.createdAt === undefined ? undefined : Date.parse(input.createdAt);
    if (createdAt !== undefined && Number.isNaN(createdAt)) throw new RangeError(`Salesforce sandbox: createdAt ${input.createdAt ?? ''} is not a date`);
    const seeding: NonNullable<WriteOptions['seeding']> = { allowReadOnly, ...(id !== undefined ? { id } : {}), ...(createdAt !== undefined ? { createdAt } : {}) };
    const outcome = writeRecord(ctx, { kind: 'create', type, fields: { ...input.fields, ...extraFields } }, { allowSave: true, source: 'json', seeding });
    if (!outcome.success) {
      throw new RangeError(`Salesforce sandbox: cannot seed ${type}: ${outcome.errors.map((e) => `${e.statusCode}: ${e.message}`).join('; ')}`);
    }
    const record = ctx.store.get(type, outcome.id);
    if (!record) throw new Error('unreachable: a seeded record is missing');
    return viewRecord(schema, type, record);
  }

  const CONVERTED_FIELDS = ['IsConverted', 'ConvertedContactId', 'ConvertedAccountId', 'ConvertedDate'];

  function seedLead(input: SeedLeadInput): SalesforceRecord {
    if (!input.converted) return seedOne('Lead', input);
    let contactId: string;
    let accountId: string | null;
    if (input.converted === true) {
      const f = input.fields;
      const company = typeof f.Company === 'string' ? f.Company : '';
      const account =
        company === ''
          ? undefined
          : (ctx.store.all('Account').find((a) => typeof a.Name === 'string' && a.Name.toLowerCase() === company.toLowerCase()) ?? seedOne('Account', { fields: { Name: company } }));
      const pick = (name: string): Record<string, FieldValue> => (f[name] === undefined ? {} : { [name]: f[name] ?? null });
      const contact = seedOne('Contact', {
        fields: { ...pick('FirstName'), ...pick('LastName'), ...pick('Email'), ...pick('Title'), ...pick('Phone'), ...(account ? { AccountId: account.Id } : {}) },
      });
      contactId = contact.Id;
      accountId = account?.Id ?? null;
    } else {
      const id = normalizeId(input.converted.contactId);
      const contact = id === null ? undefined : ctx.store.get('Contact', id);
      if (!contact) throw new RangeError(`Salesforce sandbox: no Contact ${input.converted.contactId} to convert the Lead into`);
      contactId = contact.Id;
      const requested = input.converted.accountId;
      const account = requested === undefined ? null : normalizeId(requested);
      if (requested !== undefined && (account === null || !ctx.store.get('Account', account))) throw new RangeError(`Salesforce sandbox: no Account ${requested}`);
      accountId = account ?? (typeof contact.AccountId === 'string' ? contact.AccountId : null);
    }
    return seedOne(
      'Lead',
      input,
      {
        Status: 'Closed - Converted',
        IsConverted: true,
        ConvertedContactId: contactId,
        ConvertedAccountId: accountId,
        ConvertedDate: formatDateTime(now()).slice(0, 10),
      },
      CONVERTED_FIELDS,
    );
  }

  function seedOpportunity(input: SeedOpportunityInput): SalesforceRecord {
    for (const role of input.contactRoles ?? []) {
      const id = normalizeId(role.contactId);
      if (id === null || !ctx.store.get('Contact', id)) throw new RangeError(`Salesforce sandbox: no Contact ${role.contactId} for a contact role`);
    }
    const opportunity = seedOne('Opportunity', input);
    for (const role of input.contactRoles ?? []) {
      seedOne('OpportunityContactRole', {
        fields: { OpportunityId: opportunity.Id, ContactId: role.contactId, ...(role.role !== undefined ? { Role: role.role } : {}), IsPrimary: role.isPrimary ?? false },
      });
    }
    return opportunity;
  }

  // 2. HTTP helpers -----------------------------------------------------------------------------------------

  function limitHeader(): OutgoingHttpHeaders {
    return { 'Sforce-Limit-Info': `api-usage=${apiUsed}/${maxApi}` };
  }

  function send(res: ServerResponse, status: number, body: string | undefined, contentType: string | undefined, headers: OutgoingHttpHeaders = {}): void {
    const all: OutgoingHttpHeaders = { ...headers };
    if (body !== undefined && contentType !== undefined) {
      all['content-type'] = contentType;
      all['content-length'] = Buffer.byteLength(body);
    }
    res.writeHead(status, all);
    res.end(body);
  }

  function sendAnswer(res: ServerResponse, answer: Answer, extraHeaders: OutgoingHttpHeaders = {}): void {
    const headers = { ...extraHeaders, ...answer.headers };
    if (answer.json !== undefined) send(res, answer.status, JSON.stringify(answer.json), JSON_TYPE, headers);
    else if (answer.text !== undefined) send(res, answer.status, answer.text, answer.contentType ?? 'text/plain;charset=UTF-8', headers);
    else send(res, answer.status, undefined, undefined, headers);
  }

  /** The body text, read once (the latency step may have read it to count the records). */
  async function readText(req: IncomingMessage, max: number): Promise<string> {
    return bodies.read(req, () => readBodyText(req, max, () => new SalesforceApiError(413, 'REQUEST_ENTITY_TOO_LARGE', `The request body exceeds ${max} bytes`)));
  }

  /** Records for the latency (see RECORD_COUNTS), else 1; an unreadable body counts 1 (the handler answers its error). */
  async function recordsOf(route: SalesforceSandboxRoute, req: IncomingMessage): Promise<number> {
    const kind = RECORD_COUNTS[route];
    if (kind === undefined) return 1;
    return readText(req, kind === 'csv' ? MAX_CSV_BYTES : MAX_JSON_BYTES).then(
      (text) => (kind === 'csv' ? countCsvDataLines(text) : countJsonInputs(text, kind)),
      () => 1,
    );
  }

  /**
   * The concurrent request limit, as a REST request arrives: false when `concurrentLimit` requests are in
   * flight already (refused); else it counts as in flight until its answer finishes or its connection closes.
   */
  function admit(res: ServerResponse): boolean {
    if (concurrentLimit !== undefined && restInFlight >= concurrentLimit) return false;
    restInFlight++;
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      restInFlight--;
    };
    res.once('finish', leave);
    res.once('close', leave);
    return true;
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const text = await readText(req, MAX_JSON_BYTES);
    if (text.trim() === '') throw jsonParserError('The request body is empty');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw jsonParserError(`Unexpected character in the JSON body: ${err instanceof Error ? err.message : 'unparseable'}`);
    }
  }

  function typeOf(name: string | undefined): SalesforceObjectType {
    const type = name === undefined ? undefined : schema.objectType(name);
    if (!type) throw notFound();
    return type;
  }

  /** `{ allOrNone, records: [...] }` with at most 200 records. */
  async function readCollection(req: IncomingMessage): Promise<{ allOrNone: boolean; records: Record<string, unknown>[] }> {
    const body = await readJson(req);
    if (!isObject(body) || !Array.isArray(body.records)) throw jsonParserError('The request body needs a "records" array');
    if (body.records.length > COLLECTIONS_LIMIT) {
      throw new SalesforceApiError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${COLLECTIONS_LIMIT} records into this call`);
    }
    const records = body.records.map((r: unknown) => {
      if (!isObject(r)) throw jsonParserError('Each record must be a JSON object');
      return r;
    });
    return { allOrNone: body.allOrNone === true, records };
  }

  /** A single-record write's failure as Salesforce answers it: 400 with the errors as REST error entries. */
  function recordFailure(errors: readonly SaveError[]): Answer {
    return {
      status: 400,
      json: errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields, ...(e.duplicateResult ? { duplicateResult: e.duplicateResult } : {}) })),
    };
  }

  function externalIdField(type: SalesforceObjectType, name: string | undefined, allowId: boolean): string {
    const def = name === undefined ? undefined : schema.field(type, name);
    if (!def || !(def.externalId || (allowId && def.type === 'id'))) {
      throw new SalesforceApiError(allowId ? 404 : 400, allowId ? 'NOT_FOUND' : 'INVALID_FIELD', `Provided external ID field does not exist or is not accessible: ${name ?? ''}`);
    }
    return def.name;
  }

  // 3. handlers -------------------------------------------------------------------------------------------

  const handlers: Record<SalesforceSandboxRoute, Handler> = {
    oauthAuthorize: ({ query }) => {
      const answer = oauth.authorize(query);
      if (answer.kind === 'redirect') return { status: 302, headers: { location: answer.location, 'cache-control': 'no-cache, no-store' } };
      const shownError = `error=${answer.error}&error_description=${answer.description}`;
      return {
        status: answer.status,
        contentType: 'text/html;charset=UTF-8',
        text: `<!DOCTYPE html>\n<html><head><title>Error</title></head><body><p>${htmlText(shownError)}</p></body></html>\n`,
      };
    },
    oauthToken: async ({ req }) => {
      const answer = oauth.token(new URLSearchParams(await readText(req, MAX_JSON_BYTES)));
      return { status: answer.status, json: answer.body };
    },
    oauthRevoke: async ({ req, query }) => {
      const form = new URLSearchParams(query);
      for (const [k, v] of new URLSearchParams(await readText(req, MAX_JSON_BYTES))) form.set(k, v);
      const answer = oauth.revoke(form);
      // jsforce reads a revoke failure as form data (oauth2.js revokeToken), so that is how it is sent.
      const text = new URLSearchParams(Object.entries(answer.body).map(([k, v]): [string, string] => [k, shown(v)])).toString();
      return answer.status === 200 ? { status: 200 } : { status: answer.status, text, contentType: 'application/x-www-form-urlencoded' };
    },
    oauthUserinfo: () => ({ status: 200, json: oauth.identity() }),
    identity: ({ params: [org, user] }) => {
      if (normalizeId(org ?? '') !== orgId || normalizeId(user ?? '') !== userId) return { status: 404, text: 'Bad_Id' };
      return { status: 200, json: oauth.identity() };
    },
    versions: () => ({ status: 200, json: API_VERSIONS.map((v) => ({ label: `API ${v}`, url: `/services/data/v${v}`, version: v })) }),
    resources: ({ version }) => {
      const base = `/services/data/v${version}`;
      const names = ['sobjects', 'query', 'queryAll', 'composite', 'limits', 'jobs/ingest'];
      return { status: 200, json: { ...Object.fromEntries(names.map((n) => [n === 'jobs/ingest' ? 'jobs' : n, `${base}/${n}`])), identity: oauth.idUrl } };
    },
    limits: () => ({
      status: 200,
      json: {
        DailyApiRequests: { Max: maxApi, Remaining: Math.max(0, maxApi - apiUsed) },
        DailyBulkApiBatches: { Max: 15_000, Remaining: Math.max(0, 15_000 - bulkBatches) },
        DailyBulkV2QueryJobs: { Max: 10_000, Remaining: 10_000 },
        DataStorageMB: { Max: 5, Remaining: 5 },
      },
    }),
    describeGlobal: ({ version }) => ({ status: 200, json: schema.describeGlobal(version) }),
    describe: ({ params: [name], version }) => ({ status: 200, json: schema.describe(typeOf(name), version) }),

    sobjectCreate: async ({ req, params: [name] }) => {
      const type = typeOf(name);
      const body = await readJson(req);
      if (!isObject(body)) throw jsonParserError('The request body must be a JSON object');
      const outcome = writeRecord(ctx, { kind: 'create', type, fields: fieldsOf(body) }, { allowSave: allowSaveOf(req), source: 'json' });
      return outcome.success ? { status: 201, json: { id: outcome.id, success: true, errors: [] } } : recordFailure(outcome.errors);
    },
    sobjectRetrieve: ({ params: [name, rawId], query, version }) => {
      const type = typeOf(name);
      const id = normalizeId(rawId ?? '');
      const record = id === null ? undefined : ctx.store.get(type, id);
      if (!record) throw notFound();
      const view = viewRecord(schema, type, record);
      const wanted = query.get('fields');
      const names = wanted === null ? Object.keys(view) : wanted.split(',').map((f) => f.trim());
      const out: Record<string, unknown> = { attributes: { type, url: apiUrl(type, record.Id, version) } };
      for (const n of names) {
        const def = schema.field(type, n);
        if (!def) throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${n}' on sobject of type ${type}`);
        out[def.name] = view[def.name] ?? null;
      }
      return { status: 200, json: out };
    },
    sobjectUpdate: async ({ req, params: [name, rawId] }) => {
      const type = typeOf(name);
      const id = normalizeId(rawId ?? '');
      if (id === null || !ctx.store.get(type, id)) throw notFound();
      const body = await readJson(req);
      if (!isObject(body)) throw jsonParserError('The request body must be a JSON object');
      const outcome = writeRecord(ctx, { kind: 'update', type, id, fields: fieldsOf(body, ['Id']) }, { allowSave: allowSaveOf(req), source: 'json' });
      return outcome.success ? { status: 204 } : recordFailure(outcome.errors);
    },
    sobjectUpsert: async ({ req, params: [name, fieldName, value] }) => {
      const type = typeOf(name);
      const extField = externalIdField(type, fieldName, true);
      const body = await readJson(req);
      if (!isObject(body)) throw jsonParserError('The request body must be a JSON object');
      const outcome = writeRecord(ctx, { kind: 'upsert', type, extField, extValue: value, fields: fieldsOf(body, [extField]) }, { allowSave: allowSaveOf(req), source: 'json' });
      if (outcome.success) return { status: outcome.created ? 201 : 200, json: { id: outcome.id, success: true, errors: [], created: outcome.created } };
      const multiple = outcome.errors.find((e) => e.statusCode === 'DUPLICATE_EXTERNAL_ID' && /more than one record/.test(e.message));
      if (multiple) {
        const ids = /\[(.*)\]/.exec(multiple.message)?.[1]?.split(', ') ?? [];
        return { status: 300, json: ids.map((id) => apiUrl(type, id)) };
      }
      return recordFailure(outcome.errors);
    },

    query: ({ query, version }) => {
      const q = query.get('q');
      if (q === null || q.trim() === '') throw new SalesforceApiError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
      return { status: 200, json: queries.run(q, version) };
    },
    queryMore: ({ params: [locator], version }) => ({ status: 200, json: queries.more(locator ?? '', version) }),
    queryAll: (info) => handlers.query(info),
    queryAllMore: (info) => handlers.queryMore(info),

    /**
     * Composite: up to 25 subrequests, one API call in all. [INFER] the sandbox runs GET query and
     * queryMore subrequests (what orbit-sync sends); any other subrequest answers 400 NOT_SUPPORTED in its slot.
     */
    composite: async ({ req, version }) => {
      const body = await readJson(req);
      if (!isObject(body) || !Array.isArray(body.compositeRequest)) throw jsonParserError('The request body needs a "compositeRequest" array');
      if (body.compositeRequest.length > COMPOSITE_SUBREQUEST_LIMIT) {
        throw new SalesforceApiError(400, 'INVALID_BATCH_REQUEST', `Limit of ${COMPOSITE_SUBREQUEST_LIMIT} subrequests per composite request exceeded`);
      }
      const compositeResponse = body.compositeRequest.map((sub: unknown, i: number) => {
        const referenceId = isObject(sub) && typeof sub.referenceId === 'string' ? sub.referenceId : `ref${i}`;
        try {
          if (!isObject(sub) || sub.method !== 'GET' || typeof sub.url !== 'string') {
            throw new SalesforceApiError(400, 'NOT_SUPPORTED', 'The sandbox runs GET query subrequests only');
          }
          const url = new URL(sub.url, 'http://sandbox.invalid');
          const more = /\/query\/([^/]+)$/.exec(url.pathname);
          if (more) return { body: queries.more(decodeURIComponent(more[1] ?? ''), version), httpHeaders: {}, httpStatusCode: 200, referenceId };
          if (!/\/query\/?$/.test(url.pathname)) throw new SalesforceApiError(400, 'NOT_SUPPORTED', 'The sandbox runs GET query subrequests only');
          const q = url.searchParams.get('q');
          if (q === null || q.trim() === '') throw new SalesforceApiError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
          return { body: queries.run(q, version), httpHeaders: {}, httpStatusCode: 200, referenceId };
        } catch (err) {
          if (!(err instanceof SalesforceApiError)) throw err;
          return { body: [{ errorCode: err.errorCode, message: err.message }], httpHeaders: {}, httpStatusCode: err.status, referenceId };
        }
      });
      return { status: 200, json: { compositeResponse } };
    },
    collectionsCreate: async ({ req }) => {
      const { allOrNone, records } = await readCollection(req);
      const ops: WriteOp[] = records.map((r) => ({ kind: 'create', type: attributesType(r), fields: fieldsOf(r) }));
      const outcomes = writeBatch(ctx, ops, { allOrNone, allowSave: allowSaveOf(req), source: 'json' });
      return { status: 200, json: outcomes.map((o) => collectionResult(o, false)) };
    },
    collectionsUpdate: async ({ req }) => {
      const { allOrNone, records } = await readCollection(req);
      const ops: WriteOp[] = records.map((r) => ({ kind: 'update', type: attributesType(r), id: r.id ?? r.Id, fields: fieldsOf(r, ['id']) }));
      const outcomes = writeBatch(ctx, ops, { allOrNone, allowSave: allowSaveOf(req), source: 'json' });
      return { status: 200, json: outcomes.map((o) => collectionResult(o, false)) };
    },
    collectionsUpsert: async ({ req, params: [name, fieldName] }) => {
      const type = typeOf(name);
      const extField = externalIdField(type, fieldName, false);
      const { allOrNone, records } = await readCollection(req);
      const ops: WriteOp[] = records.map((r) => {
        const key = Object.keys(r).find((k) => k.toLowerCase() === extField.toLowerCase());
        const declaredType = attributesType(r);
        return { kind: 'upsert', type, extField, extValue: key === undefined ? undefined : r[key], fields: fieldsOf(r, [extField]), ...(declaredType !== undefined ? { declaredType } : {}) };
      });
      const outcomes = writeBatch(ctx, ops, { allOrNone, allowSave: allowSaveOf(req), source: 'json' });
      return { status: 200, json: outcomes.map((o) => collectionResult(o, true)) };
    },

    bulkCreateJob: async ({ req, version }) => ({ status: 200, json: bulk.create(await readJson(req), version) }),
    bulkUpload: async ({ req, params: [id] }) => {
      bulk.upload(id ?? '', await readText(req, MAX_CSV_BYTES));
      return { status: 201 };
    },
    bulkSetState: async ({ req, params: [id] }) => ({ status: 200, json: bulk.setState(id ?? '', await readJson(req)) }),
    bulkGetJob: ({ params: [id] }) => ({ status: 200, json: bulk.get(id ?? '') }),
    bulkDeleteJob: ({ params: [id] }) => {
      bulk.delete(id ?? '');
      return { status: 204 };
    },
    bulkSuccessfulResults: ({ params: [id] }) => ({ status: 200, text: bulk.results(id ?? '', 'successful'), contentType: 'text/csv' }),
    bulkFailedResults: ({ params: [id] }) => ({ status: 200, text: bulk.results(id ?? '', 'failed'), contentType: 'text/csv' }),
    bulkUnprocessedRecords: ({ params: [id] }) => ({ status: 200, text: bulk.results(id ?? '', 'unprocessed'), contentType: 'text/csv' }),

    // Answered by handleSoap (the session travels in the envelope).
    metadata: () => ({ status: 500 }),
  };

  // 4. dispatch -----------------------------------------------------------------------------------------

  function sendError(res: ServerResponse, err: SalesforceApiError, headers: OutgoingHttpHeaders = {}): void {
    send(res, err.status, JSON.stringify(err.body()), JSON_TYPE, headers);
  }

  async function handleSoap(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sendXml = (status: number, xml: string): void => send(res, status, xml, 'text/xml;charset=UTF-8');
    try {
      const request = await parseSoapRequest(await readText(req, MAX_SOAP_BYTES));
      if (oauth.check(request.sessionId) !== 'ok') throw new SoapFault('sf:INVALID_SESSION_ID', 'Invalid Session ID found in SessionHeader: Illegal Session');
      if (apiUsed >= maxApi) throw new SoapFault('sf:REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
      apiUsed++;
      sendXml(200, metadata.invoke(request));
    } catch (err) {
      if (err instanceof SoapFault) sendXml(500, soapFaultXml(err));
      else if (err instanceof SalesforceApiError) sendXml(500, soapFaultXml(new SoapFault(`sf:${err.errorCode}`, err.message)));
      else throw err;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    if (Buffer.byteLength(rawUrl) > MAX_URI_BYTES) {
      sendError(res, new SalesforceApiError(414, 'URI_TOO_LONG', `The request URI is ${Buffer.byteLength(rawUrl)} bytes long; Salesforce accepts at most ${MAX_URI_BYTES}`));
      return;
    }
    const url = new URL(rawUrl, 'http://sandbox.invalid');
    const method = req.method ?? 'GET';
    const match = matchRoute(ROUTES, method, url.pathname);
    const isRest = url.pathname.startsWith('/services/data');
    if (match === null) {
      sendError(res, notFound(), isRest ? limitHeader() : {});
      return;
    }
    if (match === 'method-not-allowed') {
      const allowed = ROUTES.filter((r) => r.pattern.test(url.pathname)).map((r) => r.method);
      sendError(res, new SalesforceApiError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`), isRest ? limitHeader() : {});
      return;
    }
    const route = match.route;
    requestCounts[route]++;
    // The concurrent request limit is checked on arrival; a refusal is answered below, after the session check.
    const refused = isRest && !OPEN_ROUTES.includes(route) && !admit(res);
    await faults.received(route, req, res);
    if (route === 'metadata') {
      await handleSoap(req, res);
      return;
    }
    const [version = '', ...params] = isRest && route !== 'versions' ? match.params : ['', ...match.params];
    const info: RequestInfo = { req, params, version, query: url.searchParams };
    // Simulated latency on REST calls: everything below (faults included) happens at the end of the wait,
    // so a write lands then. A refused request is not processed: it waits baseMs only.
    if (isRest) await latency.wait(refused ? () => 0 : () => recordsOf(route, req));

    if (SALESFORCE_OAUTH_ROUTES.includes(route) || OPEN_ROUTES.includes(route)) {
      if (route === 'oauthUserinfo' || route === 'identity') {
        const token = bearerOf(req) ?? url.searchParams.get('oauth_token') ?? undefined;
        if (oauth.check(token) !== 'ok') {
          send(res, 403, 'Bad_OAuth_Token', 'text/plain;charset=UTF-8');
          return;
        }
      }
      sendAnswer(res, await handlers[route](info));
      return;
    }

    const token = bearerOf(req);
    const fault = refused ? null : (faults.plan?.forRequest(route, req, (kind) => kind !== 'tokenExpiry' || oauth.check(token) === 'ok') ?? null);
    // An injected token expiry: the session presented dies now, so the check below answers 401 (jsforce refreshes).
    if (fault === 'tokenExpiry') oauth.expire(token);
    if (oauth.check(token) !== 'ok') {
      sendError(res, sessionInvalid(), limitHeader());
      return;
    }
    if (apiUsed >= maxApi) {
      sendError(res, new SalesforceApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'), limitHeader());
      return;
    }
    if (fault === 'rateLimited' || refused) {
      // Salesforce's throttle on REST: too many long-running requests at once (an injected fault, or over
      // concurrentRequestLimit). Not counted, nothing processed.
      if (refused) concurrencyRefused++;
      sendError(res, new SalesforceApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.'), limitHeader());
      return;
    }
    apiUsed++;
    if (fault === 'serverError' && faults.plan) {
      const status = serverErrorStatus(faults.plan, route);
      if (status === 500) {
        const errorId = Math.floor(hashUnit(faults.plan.config.seed, route, apiUsed) * 1e9);
        sendError(res, new SalesforceApiError(500, 'UNKNOWN_EXCEPTION', `An unexpected error occurred. Please include this ErrorId if you contact support: ${errorId}-1 (-${errorId % 100000})`), limitHeader());
      } else if (status === 503) {
        sendError(res, new SalesforceApiError(503, 'SERVER_UNAVAILABLE', 'Server is temporarily unavailable. Please try again later.'), limitHeader());
      } else {
        // A gateway in front of the instance: an HTML page (jsforce: "HTTP response contains html content").
        send(res, status, `<html><head><title>${status}</title></head><body>Service temporarily unavailable (${status}).</body></html>`, 'text/html');
      }
      return;
    }
    if ((fault === 'timeout' || fault === 'reset') && faults.plan) faults.shapeAnswer(fault, res, faults.plan.timeoutMs);
    try {
      if (COLLECTION_ROUTES.includes(route) && Number(version) < MIN_COMPOSITE_VERSION) throw notFound();
      const answer = await handlers[route](info);
      await faults.handled(route, req);
      sendAnswer(res, answer, limitHeader());
    } catch (err) {
      if (err instanceof SalesforceApiError) {
        sendError(res, err, limitHeader());
        return;
      }
      throw err;
    }
  }

  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const error = err instanceof SalesforceApiError ? err : new SalesforceApiError(500, 'UNKNOWN_EXCEPTION', err instanceof Error ? err.message : 'Unexpected sandbox error');
      sendError(res, error);
    });
  });

  const listening = await listenOnLoopback(server, options.port, () => {
    bulk.close();
    outbound.close();
  });
  baseUrl = listening.url;
  const close = listening.close;

  const list = (type: SalesforceObjectType): SalesforceRecord[] => ctx.store.all(type).map((r) => viewRecord(schema, type, r));

  return {
    ...faults.controls(),
    traffic: () => ({ ...faults.stats(), concurrencyRefused }),
    resetTraffic: () => {
      faults.resetTraffic();
      concurrencyRefused = 0;
    },
    setLatency: (model) => latency.set(model),
    setConcurrentRequestLimit: (limit) => {
      concurrentLimit = checkConcurrentLimit(limit);
    },
    bulkJobTimes: () => bulk.times(),
    url: baseUrl,
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    clientId,
    clientSecret,
    orgId,
    userId,
    close,
    get state() {
      return {
        records: Object.fromEntries(SALESFORCE_OBJECT_TYPES.map((t) => [t, list(t)])) as Record<SalesforceObjectType, SalesforceRecord[]>,
        customFields: Object.fromEntries(SALESFORCE_OBJECT_TYPES.map((t) => [t, schema.customFieldNames(t)])) as Record<SalesforceObjectType, string[]>,
        permissionSets: metadata.listPermissionSets(),
        bulkJobs: bulk.list(),
        requests: { ...requestCounts },
        apiUsage: { used: apiUsed, max: maxApi },
      };
    },
    seedAccounts: (inputs) => inputs.map((input) => seedOne('Account', input)),
    seedContacts: (inputs) => inputs.map((input) => seedOne('Contact', input)),
    seedLeads: (inputs) => inputs.map((input) => seedLead(input)),
    seedOpportunities: (inputs) => inputs.map((input) => seedOpportunity(input)),
    list,
    get: (type, id) => {
      const normalized = normalizeId(id);
      const record = normalized === null ? undefined : ctx.store.get(type, normalized);
      return record ? viewRecord(schema, type, record) : undefined;
    },
    find: (type, predicate) => list(type).filter(predicate),
    findByEmail: (type, email) => {
      const def = schema.field(type, 'Email');
      if (!def) return [];
      return ctx.store
        .lookup(type, def, email)
        .map((id) => ctx.store.get(type, id))
        .filter((r) => r !== undefined)
        .map((r) => viewRecord(schema, type, r));
    },
    describe: (type) => schema.describe(type, '62.0'),
    hasField: (type, name) => schema.field(type, name) !== undefined,
    installCustomFields,
    issueAuthorizationCode: ({ redirectUri, codeChallenge }) => oauth.issueCode(redirectUri, codeChallenge),
    createRecordAsUser: (type: OutboundObjectType, fields) => {
      if (type !== 'Lead' && type !== 'Contact') throw new RangeError(`createRecordAsUser: ${String(type)} is not Lead or Contact`);
      const outcome = writeRecord(ctx, { kind: 'create', type, fields: { ...fields } }, { allowSave: false, source: 'json', interactive: true });
      if (!outcome.success) throw new RecordError(outcome.errors);
      const record = ctx.store.get(type, outcome.id);
      if (!record) throw new Error('unreachable: a created record is missing');
      return viewRecord(schema, type, record);
    },
    configureOutboundMessage: (config) => outbound.configure(config),
    outboundDeliveries: () => outbound.deliveries(),
    flushOutboundMessages: () => outbound.flush(),
    deliverRawOutboundMessage: (input) => outbound.deliverRaw(input),
    expireAccessTokens: () => oauth.expireAll(),
    revokeRefreshToken: (token) => oauth.revokeRefreshToken(token),
    setDuplicateRules: (on) => {
      ctx.duplicateRules = on;
    },
    injectRecordErrors: (statusCode, count, message) => {
      if (!Number.isInteger(count) || count < 0) throw new RangeError('injectRecordErrors: count must be a non-negative integer');
      ctx.injected.push({ statusCode, remaining: count, ...(message !== undefined ? { message } : {}) });
    },
    requestCount: (route) => requestCounts[route],
    writeRequestCount: () => SALESFORCE_WRITE_ROUTES.reduce((n, route) => n + requestCounts[route], 0),
    resetRequestCounts: () => {
      for (const route of SALESFORCE_SANDBOX_ROUTES) requestCounts[route] = 0;
    },
    apiUsage: () => ({ used: apiUsed, max: maxApi }),
    setApiUsage: (used) => {
      if (!Number.isInteger(used) || used < 0) throw new RangeError('setApiUsage: used must be a non-negative integer');
      apiUsed = used;
    },
    startNewDay: () => {
      apiUsed = 0;
      bulkBatches = 0;
    },
    bulkJobs: () => bulk.list(),
    permissionSets: () => metadata.listPermissionSets(),
  };
}
