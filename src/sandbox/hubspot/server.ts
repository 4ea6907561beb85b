/**
 * A stateful HubSpot portal sandbox on loopback: auth (private-app token and OAuth), the 10-second and
 * daily rate limits, the search limit, the properties API, contacts / companies / deals batch read,
 * upsert, update and create, search, associations v4, the OAuth install page and v1 token endpoints, the
 * account details, and webhook deliveries to the app (./webhooks).
 * `@hubspot/api-client` reaches it with `new Client({ accessToken, basePath: sandbox.url })` (no trailing
 * slash, reference §1.2); every path is the one the SDK 14 calls (/crm/v3/…, /crm/v4/…, /oauth/v1/…).
 *
 * Sources: /work/shared/reference/hubspot.md (error bodies, 207s, limits, quirks) and the OpenAPI specs in
 * /work/shared/specs/hubspot/. Every success body matches the spec schema of its operation and status,
 * and only statuses the spec lists are answered on success (the SDK throws on any other, even a 2xx):
 * associate/default answers 200 only (per-input failures go in that body's `errors`); association batch
 * create 201/207; batch read 200/207; object batch create 201/207, read/update/upsert 200/207; search 200;
 * OAuth 200. Error bodies match the spec's `Error` (category, correlationId, message) plus HubSpot's
 * observed `status: 'error'` (OAuth errors carry HubSpot's `status: 'BAD_…'` instead).
 *
 * Files: ./types (public types), ./schema (properties, groups, value rules), ./records (records and
 * their batch endpoints), ./search, ./associations, ./oauth, ./webhooks, ./errors; ./seed-portal seeds a realistic
 * portal from generated people.
 *
 * Request flow:
 *   1. route the method + path (unknown path → 404, wrong method → 405, both with HubSpot's error body);
 *   2. count the request for its route (test control);
 *   3. OAuth routes (authorize, token, access-token info) are answered here: no bearer, no rate limit,
 *      no latency;
 *   3b. the simulated latency, when set (`latency` option, `setLatency`; ../latency): the request waits
 *      `baseMs + perRecordMs × records` (records: a batch body's `inputs`, else 1) on a timer, so
 *      concurrent requests overlap; everything below (faults included) happens at the end of the wait;
 *   4. `Authorization: Bearer <token>` (missing/unknown/revoked → 401 INVALID_AUTHENTICATION, an expired
 *      OAuth access token → 401 EXPIRED_AUTHENTICATION);
 *   5. search routes: a rolling one-second window (over it → 429 "You have reached your secondly limit.",
 *      no rate limit headers); other routes: the rolling 10-second window (over it → 429
 *      `TEN_SECONDLY_ROLLING`) and an optional daily cap (429 `DAILY`), with `X-HubSpot-RateLimit-*`;
 *   6. the handler.
 *
 * Choices where the reference is silent or marked [INFER] (revisit against a developer test account):
 *   Rate limits
 *   - [INFER] Limits are counted per token for private-app tokens, and per app for OAuth access tokens
 *     (HubSpot: per app per installing account), so a refreshed token shares its window. 401s are not
 *     counted. No `Retry-After` on 429 (HubSpot documents none for the 10-second limit). Default: 110 per
 *     10 s (OAuth apps, reference §7). Daily headers only when a daily limit is configured.
 *   - [INFER] Search: 5 per rolling second per token/app (`searchPerSecond`), outside the 10-second bucket
 *     and the daily count, no X-HubSpot-RateLimit-* headers (reference §2.3/§7). `rateLimit: false` turns
 *     the search limit off too unless `searchPerSecond` is a number.
 *   Records
 *   - [INFER] Emails are identifiers matched case-insensitively and stored lower-cased (reference §2.1).
 *     Other unique-value (`hasUniqueValue`) properties match exactly (case-sensitive).
 *   - Upsert/read by idProperty only with a `hasUniqueValue` property (contacts' email is natively unique);
 *     anything else → 400 "Unable to perform update/upsert by non-unique 0-2 property domain". Batch update
 *     by contacts' email is refused the same way (reference §2.1, issue #548); update by a unique property
 *     works.
 *   - [INFER] Duplicate ids in one batch (upsert/update; for create, the same unique value twice) → 400
 *     VALIDATION_ERROR "Duplicate IDs found in batch input: [...]. IDs must be unique", nothing written.
 *   - [INFER] More than 100 inputs → 400 VALIDATION_ERROR (reference §2.1 "limited to 100 records").
 *   - [INFER] Unknown property names reject the whole batch with 400 VALIDATION_ERROR "Property values
 *     were not valid: [...PROPERTY_DOESNT_EXIST...]"; read-only ones (hs_object_id, createdate, the
 *     last-modified date, hs_is_closed, hs_additional_emails) the same way with READ_ONLY_VALUE.
 *   - Value validation fails only that input (207, VALIDATION_ERROR, message "Property values were not
 *     valid: [{isValid,message,error,name}]", `context.propertyName`). [INFER] codes and rules: number →
 *     INVALID_LONG unless it parses as a number; enumeration → INVALID_OPTION unless an option value
 *     (exact case; checkbox values `;`-separated); datetime → INVALID_DATETIME unless ISO 8601 or epoch ms
 *     (a date-time without offset is UTC; stored as ISO); date → INVALID_DATE unless midnight UTC (stored
 *     YYYY-MM-DD); bool → INVALID_BOOLEAN unless true/false; strings over 65,536 characters →
 *     STRING_TOO_LONG. Contacts' email → INVALID_EMAIL ("Email address <x> is invalid") when non-ASCII or
 *     failing a basic syntax check (option `invalidEmail` overrides).
 *   - [INFER] Per-input 207 errors carry `context.id` (upsert/update) and `context.objectWriteTraceId`
 *     (when the input has one), so callers can tell which input failed.
 *   - [INFER] An upsert/update whose unique value another record already holds fails that input only: 207
 *     CONFLICT naming the existing id. Batch create with a unique value an existing record holds rejects
 *     the whole batch: 409 CONFLICT "Contact already exists. Existing ID: N" (pain points #7/#9).
 *   - Batch update of a missing id → 207 with one OBJECT_NOT_FOUND error listing the missing ids in
 *     `context.ids` (as batch read, HubSpot's observed shape); the other inputs are written.
 *   - [INFER] Batch read omits requested properties the record has no value for (HubSpot sends `null`,
 *     which the spec's `additionalProperties: {type: string}` does not allow). Without `properties` it
 *     returns HubSpot's defaults per object. Unknown requested property names are ignored.
 *   - Deals: `hs_is_closed` is read-only and derived from `dealstage` (closedwon/closedlost → 'true');
 *     pipeline `default` with HubSpot's seven stages; [INFER] `pipeline` defaults to `default` on create.
 *     [INFER] Companies' `industry` is an enumeration of a subset of HubSpot's industry values.
 *   - [INFER] Batch create accepts inputs without `associations` (the spec requires the field).
 *   - Setting a property to "" clears it (HubSpot semantics).
 *   Search
 *   - [INFER] String comparison (EQ, NEQ, IN, NOT_IN, CONTAINS_TOKEN, ordering) is case-insensitive, for
 *     enumerations too; numbers compare numerically, dates/datetimes by instant (ISO or epoch ms values).
 *   - [INFER] Records without the property match NEQ, NOT_IN and NOT_CONTAINS_TOKEN; never LT…BETWEEN.
 *   - [INFER] CONTAINS_TOKEN matches the whole value, a whitespace word or an alphanumeric run ('*'
 *     wildcards allowed): `acme` and `*@acme.com` both match jane@acme.com.
 *   - Pseudo-properties associations.contact / .company / .deal (EQ, IN, and NEQ, NOT_IN, HAS_PROPERTY,
 *     NOT_HAS_PROPERTY) filter by associated record ids.
 *   - [INFER] A filter or sort on an unknown property → 400. The spec's required request fields
 *     (after, filterGroups, limit, properties, sorts) are optional (defaults: limit 10, ascending id).
 *   - limit ≤ 200, after = offset, `offset + limit` > 10,000 → 400; ≤ 5 filterGroups, ≤ 10 filters per
 *     group, ≤ 25 in all → 400 otherwise. `total` counts every match. [INFER] Results always include
 *     hs_object_id, createdate and the last-modified date. The index does not lag behind writes.
 *   Associations
 *   - HubSpot-defined types only (reference §4 table); associations are symmetric. [INFER] A primary type
 *     (1/2 contact↔company, 5/6 deal↔company) brings the default type with it and replaces the contact's
 *     (deal's) previous primary company.
 *   - associate/default: 200 only (spec), one result per associated input in the requested direction;
 *     [INFER] a missing record fails that input as an OBJECT_NOT_FOUND entry in the 200 body's `errors`.
 *   - batch/create: 201, or 207 for inputs naming a missing record or a type that does not run from → to.
 *   - batch/read (≤ 1,000 inputs): [INFER] an id with no associations of that type (also an unknown id)
 *     gets an OBJECT_NOT_FOUND error "No deal is associated with contact 123." → 207; at most 500
 *     associations per id and page, `paging.next.after` resumes. GET …/associations/{toType} answers an
 *     empty list for an unknown id. Unlabelled types carry no `label` (HubSpot sends null; spec: string).
 *   - [INFER] associate/default and batch/create take at most 2,000 inputs (HubSpot documents no limit).
 *   Account
 *   - [INFER] GET /account-info/v3/details (no spec file here) answers `{portalId, accountType: 'STANDARD',
 *     timeZone, companyCurrency, additionalCurrencies, utcOffset, utcOffsetMilliseconds, uiDomain,
 *     dataHostingLocation}`; it is authenticated and counted in the 10-second bucket.
 *   OAuth
 *   - GET /oauth/authorize and /oauth/{hubId}/authorize (the install page) consent at once as the
 *     portal's admin: 302 to redirect_uri with `code` and `state`; see OAuthApp.authorize for the checks
 *     ([INFER] refusals: 400 JSON without a redirect, or a redirect with `error=invalid_scope`).
 *     [INFER] `uninstallApp()` revokes every token and unused code of the app; webhooks keep their settings.
 *   - Token responses carry `token_use: 'access_token'` (required by the spec's `AccessTokenResponse`),
 *     `hub_id`, `user_id`, `scopes`, `expires_in` (default 1800). A refresh answers the same refresh token.
 *   - Errors are HTTP 400 `{status: 'BAD_GRANT_TYPE'|'BAD_CLIENT_ID'|'BAD_CLIENT_SECRET'|'BAD_AUTH_CODE'|
 *     'BAD_REDIRECT_URI'|'BAD_REFRESH_TOKEN', message, error, error_description, correlationId}`;
 *     [INFER] plus `category: 'VALIDATION_ERROR'` so they match the spec's `Error`. Codes are single-use.
 *   - [INFER] An expired OAuth access token → 401 EXPIRED_AUTHENTICATION "The OAuth token used to make this
 *     call expired N minute(s) ago."; `revokeRefreshToken` (an uninstall) also kills the access tokens
 *     issued from it → 401 INVALID_AUTHENTICATION. Access-token info of an unknown, expired or revoked
 *     token → 404 OBJECT_NOT_FOUND. Scopes are reported, not enforced.
 *
 *   Webhooks (./webhooks has the details)
 *   - Events: record creation and changes of subscribed properties through the API (batch create,
 *     upsert, update) and the "HubSpot UI" controls `createContactAsUser` / `updateContactAsUser`;
 *     `contact.privacyDeletion` from `gdprDeleteContact`. Seeding never fires events; association
 *     changes, merges and API deletions are not simulated. They are sent after the request that caused
 *     them has been answered.
 *
 *   Test controls
 *   - `requestCount(route)` counts every routed request (401s and 429s included); `writeRequestCount()`
 *     sums the record and association write routes (HUBSPOT_WRITE_ROUTES: batch upsert/update/create,
 *     associate default, association batch create), not property or group creation.
 *
 *   Faults (../faults: `faults` option, `setFaults`): after routing and before authentication a seeded
 *   plan may answer a request with HubSpot's TEN_SECONDLY_ROLLING 429 (with the X-HubSpot-RateLimit-*
 *   headers), a 500 (JSON `INTERNAL_ERROR`) or a 502/503/504 (an HTML page, as HubSpot's edge sends);
 *   process it and hold the answer past the client's timeout, or cut the answer half-way; or expire the
 *   OAuth access token presented (private-app tokens never expire). Per batch input (`partial`), an
 *   upsert or update input fails alone in a 207 with [INFER] category `INTERNAL_ERROR`, which a
 *   retry cures. OAuth routes get no faults.
 *
 * Not simulated: archived records, merges, upserts keyed on hs_additional_emails, search index lag,
 * 423 locks, 477 migrations, scopes (403).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { SandboxFaults, serverErrorStatus } from '../faults';
import { listenOnLoopback, matchRoute, readBodyText, type RouteSpec } from '../http';
import { countJsonInputs, RequestBodies, SandboxLatency } from '../latency';
import {
  associateDefault,
  AssociationStore,
  createAssociations,
  defaultAssociationType,
  listAssociations,
  primaryAssociationType,
  readAssociations,
} from './associations';
import { errorBody, HubspotError, parseBody, validationError, type HubspotErrorBody } from './errors';
import { OAuthApp } from './oauth';
import { batchCreate, batchRead, batchUpdate, batchUpsert, checkWritable, RecordStore, valueProblems, type OpResult, type PortalContext } from './records';
import { WebhookDispatcher, type WebhookActor } from './webhooks';
import { DEFAULT_PIPELINE, defaultInvalidEmail, objectTypeOf, PortalSchema, PropertyCreateBody, PropertyGroupCreateBody } from './schema';
import { search } from './search';
import {
  DEFAULT_HUBSPOT_ACCESS_TOKEN,
  HUBSPOT_OAUTH_ROUTES,
  HUBSPOT_OBJECT_TYPES,
  HUBSPOT_SANDBOX_ROUTES,
  HUBSPOT_SEARCH_ROUTES,
  HUBSPOT_WRITE_ROUTES,
  RECORD_ROUTES,
  type HubspotContact,
  type HubspotObjectType,
  type HubspotRecord,
  type HubspotSandbox,
  type HubspotSandboxOptions,
  type HubspotSandboxRoute,
  type HubspotSandboxState,
  type RecordOperation,
  type SeedRecordInput,
} from './types';

export * from './types';
export type { HubspotErrorBody, StandardError } from './errors';
export type { LatencyModel } from '../latency';
export { ASSOCIATION_TYPES } from './associations';
export { CLOSED_DEAL_STAGES, COMPANY_INDUSTRIES, DEAL_STAGES, defaultInvalidEmail, OPEN_DEAL_STAGES } from './schema';
export { signHubspotWebhookV3, WEBHOOK_USER_AGENT } from './webhooks';

const DEFAULT_RATE_MAX = 110;
const DEFAULT_RATE_INTERVAL_MS = 10_000;
const DEFAULT_SEARCH_PER_SECOND = 5;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Record ids per object type start apart, so a contact id never names a company by accident. */
const FIRST_IDS: Record<HubspotObjectType, number> = { contacts: 100_001, companies: 5_000_001, deals: 9_000_001 };

// --- routing ----------------------------------------------------------------------------------------

const SEG = '([^/]+)';
const P = '/crm/v3/properties';
const A = '/crm/v4/associations';
const OBJECT_SEGMENTS: Record<HubspotObjectType, string> = { contacts: '(?:contacts|0-1)', companies: '(?:companies|0-2)', deals: '(?:deals|0-3)' };
const RECORD_PATHS: Record<RecordOperation, string> = { read: 'batch/read', upsert: 'batch/upsert', update: 'batch/update', create: 'batch/create', search: 'search' };

/** Order matters: `/groups` must win over `/{propertyName}`. */
const ROUTES: readonly RouteSpec<HubspotSandboxRoute>[] = [
  { route: 'listPropertyGroups', method: 'GET', pattern: new RegExp(`^${P}/${SEG}/groups$`) },
  { route: 'createPropertyGroup', method: 'POST', pattern: new RegExp(`^${P}/${SEG}/groups$`) },
  { route: 'getPropertyGroup', method: 'GET', pattern: new RegExp(`^${P}/${SEG}/groups/${SEG}$`) },
  { route: 'listProperties', method: 'GET', pattern: new RegExp(`^${P}/${SEG}$`) },
  { route: 'createProperty', method: 'POST', pattern: new RegExp(`^${P}/${SEG}$`) },
  { route: 'getProperty', method: 'GET', pattern: new RegExp(`^${P}/${SEG}/${SEG}$`) },
  ...HUBSPOT_OBJECT_TYPES.flatMap((type) =>
    (Object.keys(RECORD_PATHS) as RecordOperation[]).map((op) => ({
      route: RECORD_ROUTES[type][op],
      method: 'POST',
      pattern: new RegExp(`^/crm/v3/objects/${OBJECT_SEGMENTS[type]}/${RECORD_PATHS[op]}$`),
    })),
  ),
  { route: 'batchAssociateDefault', method: 'POST', pattern: new RegExp(`^${A}/${SEG}/${SEG}/batch/associate/default$`) },
  { route: 'batchCreateAssociations', method: 'POST', pattern: new RegExp(`^${A}/${SEG}/${SEG}/batch/create$`) },
  { route: 'batchReadAssociations', method: 'POST', pattern: new RegExp(`^${A}/${SEG}/${SEG}/batch/read$`) },
  { route: 'listAssociations', method: 'GET', pattern: new RegExp(`^/crm/v4/objects/${SEG}/${SEG}/associations/${SEG}$`) },
  { route: 'oauthAuthorize', method: 'GET', pattern: /^\/oauth\/authorize$/ },
  { route: 'oauthToken', method: 'POST', pattern: /^\/oauth\/v1\/token$/ },
  { route: 'oauthAuthorize', method: 'GET', pattern: new RegExp(`^/oauth/${SEG}/authorize$`) },
  { route: 'accessTokenInfo', method: 'GET', pattern: new RegExp(`^/oauth/v1/access-tokens/${SEG}$`) },
  { route: 'accountInfo', method: 'GET', pattern: /^\/account-info\/v3\/details$/ },
];

/** `+hh:mm` offset of a time zone at an instant, and in ms (for the account details). */
function utcOffset(timeZone: string, at: number): { text: string; ms: number } {
  const name =
    new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(at)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
  if (!m) return { text: '+00:00', ms: 0 };
  const sign = m[1] === '-' ? -1 : 1;
  return { text: `${m[1] ?? '+'}${m[2] ?? '00'}:${m[3] ?? '00'}`, ms: sign * (Number(m[2]) * 3_600_000 + Number(m[3]) * 60_000) };
}

/** Which object type and operation each record route serves. */
const RECORD_ROUTE_TARGETS = new Map<HubspotSandboxRoute, { type: HubspotObjectType; op: RecordOperation }>(
  HUBSPOT_OBJECT_TYPES.flatMap((type) => (Object.keys(RECORD_PATHS) as RecordOperation[]).map((op) => [RECORD_ROUTES[type][op], { type, op }] as const)),
);

/** Batch routes: their `inputs` are the records of the per-record latency. */
const BATCH_ROUTES: ReadonlySet<HubspotSandboxRoute> = new Set<HubspotSandboxRoute>([
  ...[...RECORD_ROUTE_TARGETS].filter(([, { op }]) => op !== 'search').map(([route]) => route),
  'batchAssociateDefault',
  'batchCreateAssociations',
  'batchReadAssociations',
]);

// --- the sandbox ----------------------------------------------------------------------------------

interface RequestInfo {
  req: IncomingMessage;
  params: string[];
  query: URLSearchParams;
  /** Who is calling, for webhook events (undefined on the OAuth routes). */
  actor?: WebhookActor;
}

type Handler = (info: RequestInfo) => Promise<OpResult> | OpResult;
type RecordRoute = (typeof RECORD_ROUTES)[HubspotObjectType][RecordOperation];

export async function startHubspotSandbox(options: HubspotSandboxOptions = {}): Promise<HubspotSandbox> {
  const accessToken = options.accessToken ?? DEFAULT_HUBSPOT_ACCESS_TOKEN;
  const tokens = new Set<string>([accessToken]);
  const now = options.now ?? Date.now;
  const portalId = options.portalId ?? 12_345_678;
  const timeZone = options.timeZone ?? 'US/Eastern';
  utcOffset(timeZone, now()); // throws a RangeError for an unknown time zone
  const rate =
    options.rateLimit === false
      ? null
      : {
          max: options.rateLimit?.max ?? DEFAULT_RATE_MAX,
          intervalMs: options.rateLimit?.intervalMs ?? DEFAULT_RATE_INTERVAL_MS,
          daily: options.rateLimit?.daily,
        };
  if (rate && (!Number.isInteger(rate.max) || rate.max < 1)) throw new RangeError('rateLimit.max must be a positive integer');
  const searchPerSecond =
    options.searchPerSecond === false ? null : (options.searchPerSecond ?? (options.rateLimit === false ? null : DEFAULT_SEARCH_PER_SECOND));
  if (searchPerSecond !== null && (!Number.isInteger(searchPerSecond) || searchPerSecond < 1)) {
    throw new RangeError('searchPerSecond must be a positive integer or false');
  }

  const requestCounts = Object.fromEntries(HUBSPOT_SANDBOX_ROUTES.map((r) => [r, 0])) as Record<HubspotSandboxRoute, number>;
  const rateLimitedCounts = Object.fromEntries(HUBSPOT_SANDBOX_ROUTES.map((r) => [r, 0])) as Record<HubspotSandboxRoute, number>;
  /** Per rate key: timestamps of accepted requests in the current window, the day's count, searches. */
  const windows = new Map<string, number[]>();
  const daily = new Map<string, number>();
  const searchWindows = new Map<string, number[]>();

  const schema = new PortalSchema(now);
  const faults = new SandboxFaults(options.faults, now);
  const latency = new SandboxLatency(options.latency);
  const bodies = new RequestBodies();
  const ctx: PortalContext = {
    now,
    recordFault: (type, key) => faults.plan?.forRecord(`${type}:write`, type, key) ?? false,
    schema,
    invalidEmail: options.invalidEmail ?? defaultInvalidEmail,
    stores: {
      contacts: new RecordStore('contacts', schema, FIRST_IDS.contacts),
      companies: new RecordStore('companies', schema, FIRST_IDS.companies),
      deals: new RecordStore('deals', schema, FIRST_IDS.deals),
    },
    associations: new AssociationStore(),
  };
  const oauth = new OAuthApp(options.oauth, portalId, now);
  const webhooks = new WebhookDispatcher({
    portalId,
    appId: oauth.appId,
    clientSecret: options.oauth?.clientSecret,
    userId: options.oauth?.userId ?? 7_654_321,
    now,
  });
  webhooks.configure(options.webhooks);
  /** Set while an API call or a "UI" control writes: the stores' changes become webhook events. Seeding leaves it unset. */
  let actor: WebhookActor | undefined;
  for (const type of HUBSPOT_OBJECT_TYPES) {
    ctx.stores[type].observer = (change) => {
      if (actor) webhooks.recordChange(change, actor);
    };
  }
  function actingAs<T>(who: WebhookActor | undefined, write: () => T): T {
    const previous = actor;
    actor = who;
    try {
      return write();
    } finally {
      actor = previous;
    }
  }

  // 1. seeding (no API, no rate limit) -----------------------------------------------------------------

  function seedRecords(type: HubspotObjectType, inputs: readonly SeedRecordInput[]): HubspotRecord[] {
    const store = ctx.stores[type];
    return inputs.map((input) => {
      const values: Record<string, string> = { ...input.properties };
      if (type === 'deals' && values.pipeline === undefined) values.pipeline = DEFAULT_PIPELINE;
      try {
        checkWritable(ctx, type, Object.keys(values));
      } catch (err) {
        if (err instanceof HubspotError) throw new RangeError(`HubSpot sandbox: ${err.message}`, { cause: err });
        throw err;
      }
      const problems = valueProblems(ctx, type, values);
      if (problems.length > 0) throw new RangeError(`HubSpot sandbox: ${problems.map((p) => `${p.name}: ${p.message}`).join('; ')}`);
      const id = input.id ?? store.newId();
      for (const [name, value] of Object.entries(values)) {
        if (value === '' || !schema.isUnique(type, name)) continue;
        const holder = store.holder(name, value, id);
        if (holder !== undefined) throw new RangeError(`HubSpot sandbox: ${name}=${value} already belongs to ${type} ${holder}`);
      }
      const at = input.createdAt === undefined ? now() : Date.parse(input.createdAt);
      if (Number.isNaN(at)) throw new RangeError(`HubSpot sandbox: createdAt ${input.createdAt ?? ''} is not a date`);
      return store.view(store.insert(id, values, at));
    });
  }

  /** A contact written as a sales rep in the HubSpot UI: the API's checks (problems throw), `CRM_UI` events. */
  function updateAsUser(id: string, properties: Record<string, string>): HubspotContact {
    const store = ctx.stores.contacts;
    const record = store.get(id);
    if (!record) throw new RangeError(`HubSpot sandbox: no contact ${id}`);
    try {
      checkWritable(ctx, 'contacts', Object.keys(properties));
    } catch (err) {
      if (err instanceof HubspotError) throw new RangeError(`HubSpot sandbox: ${err.message}`, { cause: err });
      throw err;
    }
    const problems = valueProblems(ctx, 'contacts', properties);
    if (problems.length > 0) throw new RangeError(`HubSpot sandbox: ${problems.map((p) => `${p.name}: ${p.message}`).join('; ')}`);
    for (const [name, value] of Object.entries(properties)) {
      if (value === '' || !schema.isUnique('contacts', name)) continue;
      const holder = store.holder(name, value, id);
      if (holder !== undefined) throw new RangeError(`HubSpot sandbox: ${name}=${value} already belongs to contacts ${holder}`);
    }
    actingAs(webhooks.userActor, () => store.write(record, properties, now()));
    return store.view(record);
  }

  function associate(fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string, primary = false): void {
    if (!ctx.stores[fromType].get(fromId)) throw new RangeError(`HubSpot sandbox: no ${fromType} record ${fromId}`);
    if (!ctx.stores[toType].get(toId)) throw new RangeError(`HubSpot sandbox: no ${toType} record ${toId}`);
    const def = primary ? (primaryAssociationType(fromType, toType) ?? primaryAssociationType(toType, fromType)) : defaultAssociationType(fromType, toType);
    if (!def) throw new RangeError(`HubSpot sandbox: no ${primary ? 'primary ' : ''}association type between ${fromType} and ${toType}`);
    if (def.from === fromType) ctx.associations.add(fromType, fromId, toType, toId, def.typeId);
    else ctx.associations.add(toType, toId, fromType, fromId, def.typeId);
  }

  // 2. HTTP helpers ---------------------------------------------------------------------------------------

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** The body text, trimmed; read once (the latency step may have read it to count the inputs). */
  async function readText(req: IncomingMessage): Promise<string> {
    const text = await bodies.read(req, () => readBodyText(req, MAX_BODY_BYTES, () => new HubspotError(413, 'VALIDATION_ERROR', `Request body exceeds ${MAX_BODY_BYTES} bytes`)));
    return text.trim();
  }

  /** Records for the latency: a batch body's `inputs`, else 1 (an unreadable body counts 1; the handler answers its error). */
  async function recordsOf(route: HubspotSandboxRoute, req: IncomingMessage): Promise<number> {
    if (!BATCH_ROUTES.has(route)) return 1;
    return readText(req).then(
      (text) => countJsonInputs(text, 'inputs'),
      () => 1,
    );
  }

  async function readJsonBody(req: IncomingMessage): Promise<unknown> {
    const text = await readText(req);
    if (text === '') throw validationError('Invalid input JSON: the request body is empty');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw validationError(`Invalid input JSON: ${err instanceof Error ? err.message : 'unparseable'}`);
    }
  }

  // 3. handlers --------------------------------------------------------------------------------------------

  const recordOperations: Record<RecordOperation, (type: HubspotObjectType, body: unknown) => OpResult> = {
    read: (type, body) => batchRead(ctx, type, body),
    upsert: (type, body) => batchUpsert(ctx, type, body),
    update: (type, body) => batchUpdate(ctx, type, body),
    create: (type, body) => batchCreate(ctx, type, body),
    search: (type, body) => search(ctx, type, body),
  };

  /** `POST /crm/v3/objects/{type}/batch/…` and `/search`: one implementation per operation for all types. */
  const recordHandlers = Object.fromEntries(
    [...RECORD_ROUTE_TARGETS].map(([route, { type, op }]): [HubspotSandboxRoute, Handler] => [
      route,
      async ({ req, actor: caller }) => {
        const body = await readJsonBody(req);
        return actingAs(caller, () => recordOperations[op](type, body));
      },
    ]),
  ) as Record<RecordRoute, Handler>;

  const handlers: Record<HubspotSandboxRoute, Handler> = {
    ...recordHandlers,
    /** 200 `CollectionResponsePropertyNoPaging`. */
    listProperties: ({ params: [rawType] }) => ({ status: 200, body: { results: [...schema.propsOf(objectTypeOf(rawType)).values()] } }),

    /** 201 `Property`; 409 when the name exists. */
    createProperty: async ({ req, params: [rawType] }) => {
      const objectType = objectTypeOf(rawType);
      const input = parseBody(PropertyCreateBody, await readJsonBody(req));
      return { status: 201, body: schema.createProperty(objectType, input) };
    },

    /** 200 `Property`; 404 when missing. */
    getProperty: ({ params: [rawType, name] }) => {
      const objectType = objectTypeOf(rawType);
      const property = name === undefined ? undefined : schema.property(objectType, name);
      if (!property) {
        throw new HubspotError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${name ?? ''} for object type ${objectType}`, {
          context: { name: [name ?? ''] },
        });
      }
      return { status: 200, body: property };
    },

    /** 200 `CollectionResponsePropertyGroupNoPaging`. */
    listPropertyGroups: ({ params: [rawType] }) => ({ status: 200, body: { results: [...schema.groupsOf(objectTypeOf(rawType)).values()] } }),

    /** 201 `PropertyGroup`; 409 when the name exists. */
    createPropertyGroup: async ({ req, params: [rawType] }) => {
      const objectType = objectTypeOf(rawType);
      const input = parseBody(PropertyGroupCreateBody, await readJsonBody(req));
      return { status: 201, body: schema.createGroup(objectType, input) };
    },

    /** 200 `PropertyGroup`; 404 when missing. */
    getPropertyGroup: ({ params: [rawType, name] }) => {
      const objectType = objectTypeOf(rawType);
      const group = name === undefined ? undefined : schema.groupsOf(objectType).get(name);
      if (!group) throw new HubspotError(404, 'OBJECT_NOT_FOUND', `Unable to find property group ${name ?? ''} for object type ${objectType}`);
      return { status: 200, body: group };
    },

    batchAssociateDefault: async ({ req, params: [from, to] }) => associateDefault(ctx, objectTypeOf(from), objectTypeOf(to), await readJsonBody(req)),
    batchCreateAssociations: async ({ req, params: [from, to] }) => createAssociations(ctx, objectTypeOf(from), objectTypeOf(to), await readJsonBody(req)),
    batchReadAssociations: async ({ req, params: [from, to] }) => readAssociations(ctx, objectTypeOf(from), objectTypeOf(to), await readJsonBody(req)),
    listAssociations: ({ params: [type, id, toType], query }) => listAssociations(ctx, objectTypeOf(type), id ?? '', objectTypeOf(toType), query),

    /** Form-encoded (the SDK's); query parameters are read too (the spec lists client_secret, refresh_token). */
    oauthToken: async ({ req, query }) => {
      const form = new URLSearchParams(query);
      for (const [k, v] of new URLSearchParams(await readText(req))) form.set(k, v);
      return oauth.token(form);
    },
    accessTokenInfo: ({ params: [token] }) => oauth.info(token ?? ''),
    oauthAuthorize: ({ params: [hubId], query }) => oauth.authorize(query, hubId),

    /** [INFER] HubSpot's account details (no spec file in ../shared/specs): the portal id and time zone. */
    accountInfo: () => {
      const offset = utcOffset(timeZone, now());
      return {
        status: 200,
        body: {
          portalId,
          accountType: 'STANDARD',
          timeZone,
          companyCurrency: 'USD',
          additionalCurrencies: [],
          utcOffset: offset.text,
          utcOffsetMilliseconds: offset.ms,
          uiDomain: 'app.hubspot.com',
          dataHostingLocation: 'na1',
        },
      };
    },
  };

  // 4. auth and rate limits ---------------------------------------------------------------------------------

  /** `oauthApp`: the token is one the OAuth app was issued (its writes are `INTEGRATION` in webhooks). */
  type AuthResult = { rateKey: string; oauthApp: boolean } | { status: 401; body: HubspotErrorBody };

  function bearerOf(req: IncomingMessage): string | undefined {
    const auth = req.headers.authorization;
    return auth === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  }

  function authenticate(req: IncomingMessage): AuthResult {
    const bearer = bearerOf(req);
    if (bearer !== undefined && tokens.has(bearer)) return { rateKey: bearer, oauthApp: false };
    const checked = bearer === undefined ? undefined : oauth.check(bearer);
    if (checked?.ok === true) return { rateKey: checked.rateKey, oauthApp: true };
    if (checked) return { status: 401, body: errorBody(checked.category, checked.message) };
    const message =
      bearer === undefined
        ? 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview'
        : 'Authentication credentials are invalid: the access token is not valid for this portal.';
    return { status: 401, body: errorBody('INVALID_AUTHENTICATION', message) };
  }

  /** Rate limit check of the 10-second bucket (and the daily cap): the headers to send, or a 429 body. */
  function rateLimit(key: string): { headers: OutgoingHttpHeaders; rejected?: HubspotErrorBody } {
    if (!rate) return { headers: {} };
    const t = now();
    const window = (windows.get(key) ?? []).filter((ts) => ts > t - rate.intervalMs);
    windows.set(key, window);
    const usedToday = daily.get(key) ?? 0;
    const headers: OutgoingHttpHeaders = {
      'x-hubspot-ratelimit-max': String(rate.max),
      'x-hubspot-ratelimit-interval-milliseconds': String(rate.intervalMs),
    };
    if (rate.daily !== undefined) headers['x-hubspot-ratelimit-daily'] = String(rate.daily);
    const base = { errorType: 'RATE_LIMIT', groupName: `publicapi:sandbox:${portalId}`, requestId: randomUUID() };
    if (rate.daily !== undefined && usedToday >= rate.daily) {
      headers['x-hubspot-ratelimit-remaining'] = String(Math.max(0, rate.max - window.length));
      headers['x-hubspot-ratelimit-daily-remaining'] = '0';
      return { headers, rejected: errorBody('RATE_LIMITS', 'You have reached your daily limit.', { ...base, policyName: 'DAILY' }) };
    }
    if (window.length >= rate.max) {
      headers['x-hubspot-ratelimit-remaining'] = '0';
      if (rate.daily !== undefined) headers['x-hubspot-ratelimit-daily-remaining'] = String(rate.daily - usedToday);
      return {
        headers,
        rejected: errorBody('RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', { ...base, policyName: 'TEN_SECONDLY_ROLLING' }),
      };
    }
    window.push(t);
    daily.set(key, usedToday + 1);
    headers['x-hubspot-ratelimit-remaining'] = String(rate.max - window.length);
    if (rate.daily !== undefined) headers['x-hubspot-ratelimit-daily-remaining'] = String(rate.daily - usedToday - 1);
    return { headers };
  }

  /** The search limit: a rolling second per rate key; a 429 body when over it. No headers either way. */
  function searchLimit(key: string): HubspotErrorBody | undefined {
    if (searchPerSecond === null) return undefined;
    const t = now();
    const window = (searchWindows.get(key) ?? []).filter((ts) => ts > t - 1000);
    searchWindows.set(key, window);
    if (window.length >= searchPerSecond) {
      return errorBody('RATE_LIMITS', 'You have reached your secondly limit.', { errorType: 'RATE_LIMIT' });
    }
    window.push(t);
    return undefined;
  }

  // 5. dispatch -----------------------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = req.method ?? 'GET';
    const match = matchRoute(ROUTES, method, url.pathname);
    if (match === null) {
      sendJson(res, 404, errorBody('OBJECT_NOT_FOUND', `No route for ${method} ${url.pathname} in the HubSpot sandbox`));
      return;
    }
    if (match === 'method-not-allowed') {
      sendJson(res, 405, errorBody('VALIDATION_ERROR', `${method} is not supported on ${url.pathname}`));
      return;
    }
    const route = match.route;
    requestCounts[route]++;
    await faults.received(route, req, res);
    const info: RequestInfo = { req, params: match.params, query: url.searchParams };

    if (HUBSPOT_OAUTH_ROUTES.includes(route)) {
      const result = await handlers[route](info);
      if (result.status >= 300 && result.status < 400) {
        res.writeHead(result.status, { ...result.headers, 'content-length': 0 });
        res.end();
        return;
      }
      sendJson(res, result.status, result.body, result.headers);
      return;
    }

    // Simulated latency: every API answer waits it; a write lands at its end.
    await latency.wait(() => recordsOf(route, req));

    const bearer = bearerOf(req);
    const fault = faults.plan?.forRequest(route, req, (kind) => kind !== 'tokenExpiry' || (bearer !== undefined && oauth.check(bearer)?.ok === true)) ?? null;
    // An injected token expiry: the OAuth access token presented dies now, so authentication answers 401.
    if (fault === 'tokenExpiry' && bearer !== undefined) oauth.expire(bearer);
    const auth = authenticate(req);
    if ('status' in auth) {
      sendJson(res, auth.status, auth.body);
      return;
    }
    info.actor = webhooks.apiActor(auth.oauthApp);
    if (fault === 'rateLimited') {
      // HubSpot's ten-secondly answer, as when the window is full; nothing is processed.
      const max = rate?.max ?? DEFAULT_RATE_MAX;
      sendJson(
        res,
        429,
        errorBody('RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', {
          errorType: 'RATE_LIMIT',
          groupName: `publicapi:sandbox:${portalId}`,
          requestId: randomUUID(),
          policyName: 'TEN_SECONDLY_ROLLING',
        }),
        {
          'x-hubspot-ratelimit-max': String(max),
          'x-hubspot-ratelimit-interval-milliseconds': String(rate?.intervalMs ?? DEFAULT_RATE_INTERVAL_MS),
          'x-hubspot-ratelimit-remaining': '0',
        },
      );
      return;
    }
    if (fault === 'serverError' && faults.plan) {
      const status = serverErrorStatus(faults.plan, route);
      if (status === 500) {
        sendJson(res, 500, errorBody('INTERNAL_ERROR', 'internal error'));
      } else {
        // HubSpot's edge answers gateway errors with an HTML page, not its JSON error body.
        const text = `<html><head><title>${status}</title></head><body><h1>${status}</h1><p>The server is temporarily unable to service your request.</p></body></html>`;
        res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
      return;
    }
    if ((fault === 'timeout' || fault === 'reset') && faults.plan) faults.shapeAnswer(fault, res, faults.plan.timeoutMs);

    let headers: OutgoingHttpHeaders = {};
    if (HUBSPOT_SEARCH_ROUTES.includes(route)) {
      const rejected = searchLimit(auth.rateKey);
      if (rejected) {
        rateLimitedCounts[route]++;
        sendJson(res, 429, rejected);
        return;
      }
    } else {
      const limited = rateLimit(auth.rateKey);
      if (limited.rejected) {
        rateLimitedCounts[route]++;
        sendJson(res, 429, limited.rejected, limited.headers);
        return;
      }
      headers = limited.headers;
    }

    try {
      const result = await handlers[route](info);
      await faults.handled(route, req);
      sendJson(res, result.status, result.body, { ...result.headers, ...headers });
    } catch (err) {
      if (err instanceof HubspotError) {
        sendJson(res, err.status, errorBody(err.category, err.message, err.extra), headers);
        return;
      }
      throw err;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HubspotError) sendJson(res, err.status, errorBody(err.category, err.message, err.extra));
      else sendJson(res, 500, errorBody('INTERNAL_ERROR', err instanceof Error ? err.message : 'Unexpected sandbox error'));
    });
  });

  const { url, close } = await listenOnLoopback(server, options.port);

  const listOf = (type: HubspotObjectType): HubspotRecord[] => {
    const store = ctx.stores[type];
    return store.all().map((r) => store.view(r));
  };
  const byId = (type: HubspotObjectType, id: string): HubspotRecord | undefined => {
    const store = ctx.stores[type];
    const record = store.get(id);
    return record ? store.view(record) : undefined;
  };
  const byType = <T>(read: (type: HubspotObjectType) => T[]): Record<HubspotObjectType, T[]> =>
    Object.fromEntries(HUBSPOT_OBJECT_TYPES.map((t) => [t, read(t).map((v) => structuredClone(v))])) as Record<HubspotObjectType, T[]>;

  return {
    ...faults.controls(),
    setLatency: (model) => latency.set(model),
    url,
    accessToken,
    portalId,
    close: async () => {
      await webhooks.close();
      await close();
    },
    get state(): HubspotSandboxState {
      return {
        contacts: listOf('contacts'),
        companies: listOf('companies'),
        deals: listOf('deals'),
        associations: ctx.associations.snapshot(),
        properties: byType((t) => [...schema.propsOf(t).values()]),
        groups: byType((t) => [...schema.groupsOf(t).values()]),
        requests: { ...requestCounts },
        rateLimited: { ...rateLimitedCounts },
      };
    },
    seedContacts: (inputs) => seedRecords('contacts', inputs),
    seedCompanies: (inputs) => seedRecords('companies', inputs),
    seedDeals: (inputs) => {
      for (const input of inputs) {
        for (const id of input.associations?.contacts ?? []) if (!ctx.stores.contacts.get(id)) throw new RangeError(`HubSpot sandbox: no contact ${id}`);
        for (const id of input.associations?.companies ?? []) if (!ctx.stores.companies.get(id)) throw new RangeError(`HubSpot sandbox: no company ${id}`);
      }
      const deals = seedRecords('deals', inputs);
      inputs.forEach((input, i) => {
        const dealId = deals[i]?.id;
        if (dealId === undefined) return;
        for (const id of input.associations?.contacts ?? []) associate('deals', dealId, 'contacts', id);
        for (const id of input.associations?.companies ?? []) associate('deals', dealId, 'companies', id);
      });
      return deals;
    },
    associate: (fromType, fromId, toType, toId, opts) => associate(fromType, fromId, toType, toId, opts?.primary === true),
    seedProperty: (objectType, input) => {
      if (input.groupName !== undefined && !schema.groupsOf(objectType).has(input.groupName)) {
        schema.createGroup(objectType, { name: input.groupName, label: input.groupName });
      }
      const parsed = PropertyCreateBody.parse({ label: input.name, type: 'string', fieldType: 'text', groupName: schema.defaultGroup(objectType), ...input });
      try {
        return structuredClone(schema.createProperty(objectType, parsed));
      } catch (err) {
        if (err instanceof HubspotError) throw new RangeError(`HubSpot sandbox: ${err.message}`, { cause: err });
        throw err;
      }
    },
    listContacts: () => listOf('contacts'),
    listCompanies: () => listOf('companies'),
    listDeals: () => listOf('deals'),
    contactByEmail: (email) => {
      const record = ctx.stores.contacts.find('email', email);
      return record ? ctx.stores.contacts.view(record) : undefined;
    },
    contactById: (id) => byId('contacts', id),
    companyById: (id) => byId('companies', id),
    dealById: (id) => byId('deals', id),
    associatedIds: (fromType, id, toType) => ctx.associations.list(fromType, id, toType).map((a) => a.toId),
    addAccessToken: (token) => {
      tokens.add(token);
    },
    issueAuthorizationCode: ({ redirectUri, scopes }) => oauth.issueCode(redirectUri, scopes ?? []),
    revokeRefreshToken: (token) => oauth.revokeRefreshToken(token),
    uninstallApp: () => {
      oauth.revokeAll();
    },
    configureWebhooks: (settings) => {
      webhooks.configure(settings);
    },
    createContactAsUser: (properties) => {
      const [contact] = actingAs(webhooks.userActor, () => seedRecords('contacts', [{ properties }]));
      if (!contact) throw new Error('HubSpot sandbox: contact not created');
      return contact;
    },
    updateContactAsUser: (id, properties) => updateAsUser(id, properties),
    gdprDeleteContact: (id) => {
      if (!ctx.stores.contacts.get(id)) return false;
      ctx.associations.removeRecord('contacts', id);
      ctx.stores.contacts.remove(id);
      webhooks.privacyDeletion(id);
      return true;
    },
    webhookDeliveries: () => webhooks.list(),
    flushWebhooks: () => webhooks.flush(),
    deliverRawWebhook: (input) => webhooks.deliverRaw(input),
    requestCount: (route) => requestCounts[route],
    writeRequestCount: () => HUBSPOT_WRITE_ROUTES.reduce((n, route) => n + requestCounts[route], 0),
    startNewDay: () => {
      daily.clear();
    },
    resetRequestCounts: () => {
      for (const route of HUBSPOT_SANDBOX_ROUTES) {
        requestCounts[route] = 0;
        rateLimitedCounts[route] = 0;
      }
    },
  };
}
