/** Public types and constants of the Salesforce sandbox (re-exported by ./server). */
import type { FaultConfig, FaultControls, TrafficStats } from '../faults';
import type { LatencyModel } from '../latency';

export const SALESFORCE_OBJECT_TYPES = ['Account', 'Contact', 'Lead', 'Opportunity', 'OpportunityContactRole'] as const;
export type SalesforceObjectType = (typeof SALESFORCE_OBJECT_TYPES)[number];

/** Salesforce's real key prefixes (the first three characters of a record id). */
export const KEY_PREFIXES: Record<SalesforceObjectType, string> = {
  Account: '001',
  Contact: '003',
  Lead: '00Q',
  Opportunity: '006',
  OpportunityContactRole: '00K',
};

/** A stored field value: text, dates (`YYYY-MM-DD`) and date-times (`…T…000+0000`) are strings. */
export type FieldValue = string | number | boolean | null;

/** A record as the sandbox's inspection helpers return it: every field of the object, unset ones null. */
export interface SalesforceRecord {
  Id: string;
  [field: string]: FieldValue;
}

/** A per-record error, as sObject Collections answer it (`statusCode`, not jsforce's typed `errorCode`). */
export interface SaveError {
  statusCode: string;
  message: string;
  fields: string[];
  /** On DUPLICATES_DETECTED: which rule fired and the records it matched. */
  duplicateResult?: DuplicateResult;
}

export interface DuplicateResult {
  allowSave: boolean;
  duplicateRule: string;
  duplicateRuleEntityType: string;
  errorMessage: string;
  matchResults: Array<{
    entityType: string;
    errors: [];
    matchEngine: string;
    matchRecords: Array<{ additionalInformation: []; fieldDiffs: []; matchConfidence: number; record: { attributes: { type: string; url: string }; Id: string } }>;
    rule: string;
    size: number;
    success: boolean;
  }>;
}

/** One entry of a collections answer, in input order. */
export type CollectionResult =
  | { id: string; success: true; errors: []; created?: boolean }
  | { id?: string; success: false; errors: SaveError[]; created?: boolean };

export const SALESFORCE_SANDBOX_ROUTES = [
  'oauthAuthorize',
  'oauthToken',
  'oauthRevoke',
  'oauthUserinfo',
  'identity',
  'versions',
  'resources',
  'limits',
  'describeGlobal',
  'describe',
  'sobjectCreate',
  'sobjectRetrieve',
  'sobjectUpdate',
  'sobjectUpsert',
  'query',
  'queryMore',
  'queryAll',
  'queryAllMore',
  'collectionsCreate',
  'collectionsUpdate',
  'collectionsUpsert',
  'composite',
  'bulkCreateJob',
  'bulkUpload',
  'bulkSetState',
  'bulkGetJob',
  'bulkDeleteJob',
  'bulkSuccessfulResults',
  'bulkFailedResults',
  'bulkUnprocessedRecords',
  'metadata',
] as const;
export type SalesforceSandboxRoute = (typeof SALESFORCE_SANDBOX_ROUTES)[number];

/** Routes that write: records (collections, single records, bulk jobs) and metadata. `writeRequestCount()` sums these. */
export const SALESFORCE_WRITE_ROUTES: readonly SalesforceSandboxRoute[] = [
  'sobjectCreate',
  'sobjectUpdate',
  'sobjectUpsert',
  'collectionsCreate',
  'collectionsUpdate',
  'collectionsUpsert',
  'bulkCreateJob',
  'bulkUpload',
  'bulkSetState',
  'metadata',
];

/** Routes answered without a session and not counted against the daily API allocation. */
export const SALESFORCE_OAUTH_ROUTES: readonly SalesforceSandboxRoute[] = ['oauthAuthorize', 'oauthToken', 'oauthRevoke', 'oauthUserinfo', 'identity'];

/** A custom field as the Metadata API describes it (`CustomField`); also what `installCustomFields()` installs. */
export interface CustomFieldMetadata {
  /** `Object.Field__c`. */
  fullName: string;
  label?: string;
  /** Metadata type: Text, LongTextArea, TextArea, Number, Currency, Percent, Checkbox, Date, DateTime, Email, Phone, Url, Picklist. */
  type?: string;
  length?: number;
  precision?: number;
  scale?: number;
  visibleLines?: number;
  externalId?: boolean;
  unique?: boolean;
  caseSensitive?: boolean;
  required?: boolean;
  defaultValue?: string;
  description?: string;
  inlineHelpText?: string;
  valueSet?: { restricted?: boolean; valueSetDefinition?: { sorted?: boolean; value: Array<{ fullName: string; label?: string; default?: boolean }> } };
}

/** A permission set as upserted through the Metadata API (only what the sandbox keeps). */
export interface PermissionSetMetadata {
  fullName: string;
  label: string;
  fieldPermissions: Array<{ field: string; readable: boolean; editable: boolean }>;
}

/** The custom fields of issue #4. */
export const LEADPIPE_CUSTOM_FIELDS: readonly CustomFieldMetadata[] = [
  ...(['Lead', 'Contact', 'Account', 'Opportunity'] as const).flatMap((o): CustomFieldMetadata[] => [
    { fullName: `${o}.Leadpipe_Intent_Score__c`, label: 'Leadpipe Intent Score', type: 'Number', precision: 3, scale: 0 },
    { fullName: `${o}.Leadpipe_Intent_Topics__c`, label: 'Leadpipe Intent Topics', type: 'LongTextArea', length: 32768, visibleLines: 5 },
    { fullName: `${o}.Leadpipe_Last_Intent_At__c`, label: 'Leadpipe Last Intent At', type: 'DateTime' },
  ]),
  ...(['Lead', 'Contact'] as const).map(
    (o): CustomFieldMetadata => ({
      fullName: `${o}.Leadpipe_Hashed_Email__c`,
      label: 'Leadpipe Hashed Email',
      type: 'Text',
      length: 64,
      externalId: true,
      unique: true,
      caseSensitive: false,
    }),
  ),
  {
    fullName: 'Opportunity.Leadpipe_Priority__c',
    label: 'Leadpipe Priority',
    type: 'Picklist',
    valueSet: {
      restricted: true,
      valueSetDefinition: {
        sorted: false,
        value: ['High', 'Medium', 'Low'].map((v) => ({ fullName: v, label: v, default: false })),
      },
    },
  },
];

export type SeedFields = Record<string, FieldValue>;

export interface SeedRecordInput {
  /** Default: the next id of the type. */
  id?: string;
  /** ISO date-time; default: the sandbox clock. */
  createdAt?: string;
  /** Field values, validated as the API would (unknown or read-only fields, bad values, missing required fields throw). */
  fields: SeedFields;
}

export interface SeedLeadInput extends SeedRecordInput {
  /**
   * A converted Lead: IsConverted true, Status 'Closed - Converted', ConvertedDate, and ConvertedContactId /
   * ConvertedAccountId. `true` creates the Contact from the Lead (and an Account named after Company, or the
   * Account already so named), as a conversion does; an object points at existing records (the Account
   * defaults to the Contact's).
   */
  converted?: boolean | { contactId: string; accountId?: string };
}

export interface SeedOpportunityInput extends SeedRecordInput {
  /** OpportunityContactRole records to create for it. */
  contactRoles?: Array<{ contactId: string; role?: string; isPrimary?: boolean }>;
}

export interface BulkJobInfo {
  id: string;
  operation: 'insert' | 'update' | 'upsert';
  object: string;
  createdById: string;
  createdDate: string;
  systemModstamp: string;
  state: 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
  externalIdFieldName?: string;
  concurrencyMode: 'Parallel';
  contentType: 'CSV';
  apiVersion: number;
  jobType: 'V2Ingest';
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  contentUrl: string;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  retries: number;
  totalProcessingTime: number;
  errorMessage?: string;
}

export interface SalesforceSandboxOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Clock (ms since epoch) for token expiry and record timestamps. Default `Date.now`. */
  now?: () => number;
  /** The connected app (defaults `orbit-sync-sandbox-client` / `orbit-sync-sandbox-secret`). */
  clientId?: string;
  clientSecret?: string;
  /** The initial session (defaults: generated). */
  accessToken?: string;
  refreshToken?: string;
  /** 18-character ids (defaults: generated 00D… / 005…). */
  orgId?: string;
  userId?: string;
  /** Access-token lifetime on the sandbox clock (default 2 h). */
  accessTokenTtlMs?: number;
  /** A refresh answers a new refresh token and revokes the old one (Salesforce's refresh token rotation; default off). */
  rotateRefreshToken?: boolean;
  /**
   * The connected app's callback URLs: GET /services/oauth2/authorize refuses any other redirect_uri (400
   * `redirect_uri_mismatch` page). Default: any absolute http(s) URL.
   */
  callbackUrls?: readonly string[];
  /** The connected app's "Require Proof Key for Code Exchange (PKCE)" (default off). */
  requirePkce?: boolean;
  /** Whether issue #4's custom fields exist from the start (default true). `false`: only after the Metadata upsert or `installCustomFields()`. */
  customFields?: boolean;
  /** Standard-style duplicate rules on Lead and Contact email (default off); see `setDuplicateRules`. */
  duplicateRules?: boolean;
  /** Daily API allocation (default 15,000). */
  dailyApiLimit?: number;
  /** Records per query page (default 2,000, Salesforce's). */
  queryPageSize?: number;
  /** Real-time delay of each Bulk 2.0 processing step (UploadComplete → InProgress → JobComplete), default 50 ms. */
  bulkProcessingMs?: number;
  /**
   * Bulk 2.0 throughput (rows per second, > 0): when set, the InProgress → JobComplete step takes
   * `rows ÷ bulkRecordsPerSecond` seconds on top of `bulkProcessingMs` (rows: the uploaded CSV's data
   * rows). Default: unset, processing takes `bulkProcessingMs` whatever the size. See `bulkJobTimes()`.
   */
  bulkRecordsPerSecond?: number;
  /** Faults to inject from the start (see ../faults); `setFaults` changes them later. */
  faults?: FaultConfig;
  /**
   * Simulated API latency (see ../latency); `setLatency` changes it later. Every REST request
   * (/services/data/…; not OAuth, userinfo / identity, nor the Metadata SOAP API) waits
   * `baseMs + perRecordMs × records` after routing and before the session check, the allocation,
   * faults and the handler, so every REST answer takes at least that long and a write lands at its end.
   * `records`: `records.length` for sObject Collections (/composite/sobjects), `compositeRequest.length`
   * for /composite, the CSV's data lines (non-blank lines after the header) for a Bulk 2.0 upload, else 1.
   * A request refused by `concurrentRequestLimit` waits `baseMs` only. Default: none.
   */
  latency?: LatencyModel;
  /**
   * Concurrent REST requests allowed (an integer ≥ 1; default: no limit). A REST request (session
   * routes under /services/data, not GET /services/data, OAuth or the Metadata API) arriving while this
   * many are in flight — routed and not yet answered, their latency wait included — is refused as
   * Salesforce's throttle: 403 [{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"ConcurrentRequests
   * (Concurrent API Requests) Limit exceeded."}] with Sforce-Limit-Info, after `latency.baseMs`, not
   * counted against the allocation and nothing processed (the same answer as the `rateLimited` fault;
   * a refused request is not put to the fault plan; a bad session still gets its 401 and an exhausted
   * allocation its TotalRequests 403 first). `traffic().concurrencyRefused` counts refusals.
   * A request leaves the count when its answer finishes or its connection closes.
   *
   * Real Salesforce counts only requests that have run for 20 s or more toward its limit (25 in
   * production orgs); the sandbox counts every request in flight, so a benchmark scales the limit down
   * (with latency) to reproduce the pressure. `setConcurrentRequestLimit` changes it later.
   */
  concurrentRequestLimit?: number;
}

/** `traffic()` of the Salesforce sandbox: ../faults' TrafficStats plus its concurrency refusals. */
export interface SalesforceTrafficStats extends TrafficStats {
  /** REST requests refused by `concurrentRequestLimit` (403 ConcurrentRequests) since start or `resetTraffic()`; not the `rateLimited` faults. */
  concurrencyRefused: number;
}

/**
 * A Bulk 2.0 job's processing times, in ms on the sandbox clock (`now` option, default Date.now: the
 * clock of `traffic().firstAt` / `lastAt`).
 */
export interface BulkJobTimes {
  id: string;
  /** The job's object, e.g. 'Lead'. */
  object: string;
  /** When the job was closed (state UploadComplete), i.e. its processing started. */
  uploadCompleteAt: number;
  /** When it reached JobComplete, Failed or Aborted; null while processing. */
  doneAt: number | null;
}

export interface SalesforceSandboxState {
  records: Record<SalesforceObjectType, SalesforceRecord[]>;
  /** Custom field names per object. */
  customFields: Record<SalesforceObjectType, string[]>;
  permissionSets: PermissionSetMetadata[];
  bulkJobs: BulkJobInfo[];
  requests: Record<SalesforceSandboxRoute, number>;
  apiUsage: { used: number; max: number };
}

export interface SalesforceSandbox extends FaultControls {
  /** Requests, answers by status, requests in flight, and `concurrencyRefused`, since start or `resetTraffic()`. */
  traffic(): SalesforceTrafficStats;
  /** Sets (or with undefined, removes) the simulated latency for requests arriving from now on (see the `latency` option). */
  setLatency(model: LatencyModel | undefined): void;
  /** Sets (or with undefined, removes) the concurrent REST request limit for requests arriving from now on (see the option). */
  setConcurrentRequestLimit(limit: number | undefined): void;
  /**
   * Processing times of every Bulk 2.0 job that was closed (UploadComplete), in the order they were
   * closed; deleted jobs stay listed. Jobs aborted while Open are not listed.
   */
  bulkJobTimes(): BulkJobTimes[];
  /** Base URL (instance and login URL), e.g. `http://127.0.0.1:54321` (no trailing slash). */
  url: string;
  accessToken: string;
  refreshToken: string;
  clientId: string;
  clientSecret: string;
  orgId: string;
  userId: string;
  close(): Promise<void>;
  /** A snapshot (copies). */
  readonly state: SalesforceSandboxState;

  seedAccounts(inputs: readonly SeedRecordInput[]): SalesforceRecord[];
  seedContacts(inputs: readonly SeedRecordInput[]): SalesforceRecord[];
  seedLeads(inputs: readonly SeedLeadInput[]): SalesforceRecord[];
  /** Opportunities and their contact roles (see `list('OpportunityContactRole')`). */
  seedOpportunities(inputs: readonly SeedOpportunityInput[]): SalesforceRecord[];
  list(type: SalesforceObjectType): SalesforceRecord[];
  /** By 15- or 18-character id. */
  get(type: SalesforceObjectType, id: string): SalesforceRecord | undefined;
  find(type: SalesforceObjectType, predicate: (record: SalesforceRecord) => boolean): SalesforceRecord[];
  /** Case-insensitive, as Salesforce compares emails. */
  findByEmail(type: 'Lead' | 'Contact', email: string): SalesforceRecord[];
  /** The describe body of an object (as GET …/sobjects/{type}/describe answers). */
  describe(type: SalesforceObjectType): unknown;
  hasField(type: SalesforceObjectType, field: string): boolean;

  /** Installs issue #4's custom fields as the Metadata upsert would (idempotent). */
  installCustomFields(): void;
  /**
   * A single-use authorization code for `grant_type=authorization_code` (what GET /services/oauth2/authorize
   * redirects with); with `codeChallenge` (S256) the exchange needs the verifier.
   */
  issueAuthorizationCode(input: { redirectUri: string; codeChallenge?: string }): string;
  /** Every access token issued so far stops working (401 INVALID_SESSION_ID); refresh tokens still work. */
  expireAccessTokens(): void;
  /** Revokes a refresh token and the access tokens issued from it. False when unknown or already revoked. */
  revokeRefreshToken(token: string): boolean;
  /** Turns the Lead/Contact email duplicate rules on or off. */
  setDuplicateRules(on: boolean): void;
  /** The next `count` records that would be written fail with `statusCode` instead (e.g. UNABLE_TO_LOCK_ROW). */
  injectRecordErrors(statusCode: string, count: number, message?: string): void;

  requestCount(route: SalesforceSandboxRoute): number;
  /** Requests (answered or not) to SALESFORCE_WRITE_ROUTES. */
  writeRequestCount(): number;
  resetRequestCounts(): void;
  /** The daily API allocation as Sforce-Limit-Info reports it. */
  apiUsage(): { used: number; max: number };
  /** Sets the day's usage (e.g. near the limit). */
  setApiUsage(used: number): void;
  /** A new day: the usage starts again at 0. */
  startNewDay(): void;
  bulkJobs(): BulkJobInfo[];
  permissionSets(): PermissionSetMetadata[];

  /**
   * A rep creates a record in the UI: the same validation and duplicate rules as an API insert (no
   * `allowSave`; injected errors are left for the API), and it fires outbound messages. Throws RecordError
   * (`errors`: the save errors) when the record does not save.
   */
  createRecordAsUser(type: OutboundObjectType, fields: Record<string, FieldValue>): SalesforceRecord;
  /** Sets up (or with undefined, deactivates) the outbound message fired when a Lead or Contact is created. */
  configureOutboundMessage(config: OutboundMessageConfig | undefined): void;
  /** Every delivery attempt so far, in the order they finished. */
  outboundDeliveries(): OutboundDelivery[];
  /** Resolves once nothing is queued, in flight or waiting for a retry. */
  flushOutboundMessages(): Promise<void>;
  /** POSTs `body` as an outbound message (same headers, transport and timeout) to `url` or the configured endpoint. Not recorded. */
  deliverRawOutboundMessage(input: { body: string; url?: string }): Promise<{ status: number; text: string }>;
}

/** Objects an outbound message can be defined on in the sandbox. */
export const OUTBOUND_OBJECT_TYPES = ['Lead', 'Contact'] as const;
export type OutboundObjectType = (typeof OUTBOUND_OBJECT_TYPES)[number];

/** An outbound message (Setup → Outbound Messages) fired by a flow / workflow rule on record creation. */
export interface OutboundMessageConfig {
  /** Where the SOAP messages are POSTed (absolute http(s) URL). */
  endpointUrl: string;
  /** Objects whose creation fires it (default both; one outbound message definition per object). */
  objects?: readonly OutboundObjectType[];
  /** Fields sent (default Id, Email, FirstName, LastName); Id always comes first, null fields are left out. */
  fields?: readonly string[];
  /** Notifications per SOAP message (default and Salesforce's maximum 100). */
  maxNotificationsPerMessage?: number;
  /** Delivery attempts per message before it is dropped (default 3). */
  maxAttempts?: number;
  /** Delay before the first retry, doubling after each failure (default 50 ms). */
  retryDelayMs?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
}

/** One POST of an outbound message to the endpoint. */
export interface OutboundDelivery {
  /** The Notification Ids (04l…) in the message, the same on every attempt. */
  notificationIds: string[];
  objectType: OutboundObjectType;
  url: string;
  /** 1 for the first try. */
  attempt: number;
  /** The endpoint's HTTP status, or 'error' (connection refused, reset, timeout). */
  status: number | 'error';
  /** 2xx with `<Ack>true</Ack>` in the outbound namespace: the notifications are done. */
  acked: boolean;
  /** The SOAP envelope sent. */
  body: string;
}

/** What `outboundMessageEnvelope` renders: one `notifications` element. */
export interface OutboundEnvelopeInput {
  /** 18-character 00D… id (the SOAP URLs use its 15-character form). */
  orgId: string;
  /** 04k… id of the outbound message definition. */
  actionId: string;
  /** The instance URL (EnterpriseUrl / PartnerUrl are built from it). */
  url: string;
  notifications: ReadonlyArray<{ id: string; type: OutboundObjectType; fields: Readonly<Record<string, string>> }>;
}

export const DEFAULT_SALESFORCE_CLIENT_ID = 'orbit-sync-sandbox-client';
export const DEFAULT_SALESFORCE_CLIENT_SECRET = 'orbit-sync-sandbox-secret';
export const DEFAULT_ACCESS_TOKEN_TTL_MS = 2 * 60 * 60 * 1000;
export const DEFAULT_DAILY_API_LIMIT = 15_000;
export const DEFAULT_QUERY_PAGE_SIZE = 2000;
export const DEFAULT_BULK_PROCESSING_MS = 50;
/** sObject Collections: records per request. */
export const COLLECTIONS_LIMIT = 200;
/** Metadata API CRUD calls: components per request. */
export const METADATA_COMPONENT_LIMIT = 10;
/** Salesforce's cap on the request URI (reference §5). */
export const MAX_URI_BYTES = 16_384;
/** Collections and single-record calls need this API version (upsert: 46.0). */
export const MIN_COMPOSITE_VERSION = 46;
/** The outbound messaging namespace (the `notifications` element and the `Ack` the endpoint answers). */
export const OUTBOUND_MESSAGE_NAMESPACE = 'http://soap.sforce.com/2005/09/outbound';
export const DEFAULT_OUTBOUND_FIELDS: readonly string[] = ['Id', 'Email', 'FirstName', 'LastName'];
export const DEFAULT_OUTBOUND_MAX_NOTIFICATIONS = 100;
export const DEFAULT_OUTBOUND_MAX_ATTEMPTS = 3;
export const DEFAULT_OUTBOUND_RETRY_DELAY_MS = 50;
export const DEFAULT_OUTBOUND_TIMEOUT_MS = 10_000;
