/** Public types and constants of the HubSpot sandbox (re-exported by ./server). */
import type { FaultConfig, FaultControls } from '../faults';
import type { LatencyModel } from '../latency';

export const HUBSPOT_OBJECT_TYPES = ['contacts', 'companies', 'deals'] as const;
export type HubspotObjectType = (typeof HUBSPOT_OBJECT_TYPES)[number];

/** HubSpot's object type ids, as in `Unable to perform update/upsert by non-unique 0-2 property domain`. */
export const HUBSPOT_OBJECT_TYPE_IDS: Record<HubspotObjectType, string> = { contacts: '0-1', companies: '0-2', deals: '0-3' };

export const HUBSPOT_PROPERTY_TYPES = ['bool', 'date', 'datetime', 'enumeration', 'number', 'phone_number', 'string'] as const;
export const HUBSPOT_FIELD_TYPES = [
  'booleancheckbox',
  'calculation_equation',
  'checkbox',
  'date',
  'file',
  'html',
  'number',
  'phonenumber',
  'radio',
  'select',
  'text',
  'textarea',
] as const;

export interface HubspotOption {
  label: string;
  value: string;
  hidden: boolean;
  displayOrder?: number;
  description?: string;
}

/** `Property`, crm-properties-v3.json. */
export interface HubspotProperty {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  description: string;
  options: HubspotOption[];
  displayOrder: number;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  calculated: boolean;
  externalOptions: boolean;
  hubspotDefined?: boolean;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean; readOnlyOptions?: boolean };
}

/** `PropertyGroup`, crm-properties-v3.json. */
export interface HubspotPropertyGroup {
  name: string;
  label: string;
  displayOrder: number;
  archived: boolean;
}

/** `SimplePublicObject` (all properties, including hs_object_id, createdate and the last-modified date). */
export interface HubspotRecord {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}
export type HubspotContact = HubspotRecord;
export type HubspotCompany = HubspotRecord;
export type HubspotDeal = HubspotRecord;

/** One association between two records, listed once per pair from its canonical side. */
export interface HubspotAssociationEdge {
  fromType: HubspotObjectType;
  fromId: string;
  toType: HubspotObjectType;
  toId: string;
  /** HubSpot-defined association type ids in the from → to direction, ascending (e.g. [1, 279]). */
  typeIds: number[];
}

export const HUBSPOT_SANDBOX_ROUTES = [
  'listProperties',
  'createProperty',
  'getProperty',
  'listPropertyGroups',
  'createPropertyGroup',
  'getPropertyGroup',
  'batchReadContacts',
  'batchUpsertContacts',
  'batchUpdateContacts',
  'batchCreateContacts',
  'searchContacts',
  'batchReadCompanies',
  'batchUpsertCompanies',
  'batchUpdateCompanies',
  'batchCreateCompanies',
  'searchCompanies',
  'batchReadDeals',
  'batchUpsertDeals',
  'batchUpdateDeals',
  'batchCreateDeals',
  'searchDeals',
  'batchAssociateDefault',
  'batchCreateAssociations',
  'batchReadAssociations',
  'listAssociations',
  'oauthAuthorize',
  'oauthToken',
  'accessTokenInfo',
  'accountInfo',
] as const;
export type HubspotSandboxRoute = (typeof HUBSPOT_SANDBOX_ROUTES)[number];

export const RECORD_OPERATIONS = ['read', 'upsert', 'update', 'create', 'search'] as const;
export type RecordOperation = (typeof RECORD_OPERATIONS)[number];

/** The route of each record operation, per object type. */
export const RECORD_ROUTES: Record<HubspotObjectType, Record<RecordOperation, HubspotSandboxRoute>> = {
  contacts: {
    read: 'batchReadContacts',
    upsert: 'batchUpsertContacts',
    update: 'batchUpdateContacts',
    create: 'batchCreateContacts',
    search: 'searchContacts',
  },
  companies: {
    read: 'batchReadCompanies',
    upsert: 'batchUpsertCompanies',
    update: 'batchUpdateCompanies',
    create: 'batchCreateCompanies',
    search: 'searchCompanies',
  },
  deals: {
    read: 'batchReadDeals',
    upsert: 'batchUpsertDeals',
    update: 'batchUpdateDeals',
    create: 'batchCreateDeals',
    search: 'searchDeals',
  },
};

/**
 * Routes that write records or associations (`writeRequestCount()` sums these). Property and group
 * creation (install-time schema set-up) is not counted.
 */
export const HUBSPOT_WRITE_ROUTES: readonly HubspotSandboxRoute[] = [
  'batchUpsertContacts',
  'batchUpdateContacts',
  'batchCreateContacts',
  'batchUpsertCompanies',
  'batchUpdateCompanies',
  'batchCreateCompanies',
  'batchUpsertDeals',
  'batchUpdateDeals',
  'batchCreateDeals',
  'batchAssociateDefault',
  'batchCreateAssociations',
];

/** Search routes: their own per-second limit, outside the 10-second bucket and without rate limit headers. */
export const HUBSPOT_SEARCH_ROUTES: readonly HubspotSandboxRoute[] = ['searchContacts', 'searchCompanies', 'searchDeals'];

/** OAuth routes: no bearer token, no rate limit. */
export const HUBSPOT_OAUTH_ROUTES: readonly HubspotSandboxRoute[] = ['oauthAuthorize', 'oauthToken', 'accessTokenInfo'];

export interface PropertyInput {
  name: string;
  label?: string;
  type?: string;
  fieldType?: string;
  groupName?: string;
  description?: string;
  options?: HubspotOption[];
  hasUniqueValue?: boolean;
  hidden?: boolean;
  displayOrder?: number;
}

export interface SeedRecordInput {
  /** Default: the next id. */
  id?: string;
  /** Property values, validated as the API would (contacts' `email` is lower-cased). Problems throw. */
  properties: Record<string, string>;
  createdAt?: string;
}
export type SeedContactInput = SeedRecordInput;
export type SeedCompanyInput = SeedRecordInput;
export interface SeedDealInput extends SeedRecordInput {
  /** Records to associate the deal with (default association types: deal→contact 3, deal→company 341). */
  associations?: { contacts?: string[]; companies?: string[] };
}

export interface HubspotRateLimitOptions {
  /** Requests per rolling interval per token (default 110: OAuth apps, reference §7). */
  max?: number;
  /** Default 10,000 ms. */
  intervalMs?: number;
  /** Requests per token before every call answers 429 `DAILY` (default: none). */
  daily?: number;
}

export interface HubspotOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** Default 1234567. */
  appId?: number;
  /** Lifetime of issued access tokens (default 1800 s, HubSpot's). */
  accessTokenTtlSec?: number;
  /** The installing user (defaults: 7654321, `installer@sandbox.example`). */
  userId?: number;
  user?: string;
  /** Default `sandbox-<portalId>.hubspot.example`. */
  hubDomain?: string;
  /** The app's redirect URLs: GET /oauth/authorize refuses any other `redirect_uri` (default: any http(s) URL). */
  redirectUris?: string[];
  /** The app's configured scopes (required and optional): the authorize page refuses others (default: any). */
  allowedScopes?: string[];
}

/** The default webhook subscriptions (`<object>.propertyChange:<propertyName>` names one property). */
export const DEFAULT_HUBSPOT_WEBHOOK_SUBSCRIPTIONS: readonly string[] = ['contact.creation', 'contact.propertyChange:email', 'contact.privacyDeletion'];

/** Webhook (v3 signature) deliveries to the app's target URL, signed with `oauth.clientSecret`. */
export interface HubspotWebhookOptions {
  /** Absolute http(s) URL the sandbox POSTs to; signed as written here (query included). */
  targetUrl: string;
  /**
   * `contact|company|deal` + `.creation` or `.propertyChange:<propertyName>`, and `contact.privacyDeletion`.
   * Default DEFAULT_HUBSPOT_WEBHOOK_SUBSCRIPTIONS.
   */
  subscriptions?: string[];
  /** Events per POST (default 100, HubSpot's). */
  maxEventsPerRequest?: number;
  /** Attempts per batch, the first included (default 3; HubSpot retries up to 10 times over 24 h). */
  maxAttempts?: number;
  /** Delay before a retry (default 50 ms; HubSpot's are randomized, minutes to hours). */
  retryDelayMs?: number;
  /** Per attempt, the whole exchange (default 5000 ms, HubSpot's). */
  timeoutMs?: number;
}

/** One webhook event as HubSpot sends it (reference §9); a POST body is a JSON array of these. */
export interface HubspotWebhookEvent {
  eventId: number;
  /** Stable per subscription (type and property name). */
  subscriptionId: number;
  portalId: number;
  appId: number;
  /** ms since epoch, on the sandbox clock. */
  occurredAt: number;
  /** e.g. `contact.creation`, `contact.propertyChange`, `contact.privacyDeletion`. */
  subscriptionType: string;
  /** 0 on the first attempt. */
  attemptNumber: number;
  objectId: number;
  propertyName?: string;
  propertyValue?: string;
  /** Creation events. */
  changeFlag?: 'CREATED';
  /** `INTEGRATION` (the app's OAuth token), `API` (another token), `CRM_UI`, `GDPR`. */
  changeSource: string;
  /** `INTEGRATION`: the app id; `CRM_UI`: `userId:<id>`. */
  sourceId?: string;
}

/** One POST the sandbox tried (test control `webhookDeliveries()`). */
export interface HubspotWebhookDelivery {
  events: HubspotWebhookEvent[];
  /** 0 for the first attempt (= the events' attemptNumber). */
  attempt: number;
  /** The receiver's status, or 'error' for a connection failure or a timeout. */
  status: number | 'error';
  error?: string;
  /** The raw JSON body sent (what the signature covers). */
  body: string;
  /** The request headers sent. */
  headers: Record<string, string>;
}

/** A hand-made delivery through the sandbox's sending path (test control `deliverRawWebhook`). */
export interface HubspotRawWebhookInput {
  body: string;
  /** Added to (or overriding) the sandbox's headers. */
  headers?: Record<string, string>;
  /** X-HubSpot-Request-Timestamp (and the signed one). Default the sandbox clock. */
  timestamp?: number;
  /** Default true: X-HubSpot-Signature-v3 (and v1) over this body and timestamp. */
  sign?: boolean;
}

export interface HubspotSandboxOptions {
  /** Default `pat-sandbox-orbit-sync`. */
  accessToken?: string;
  /** `false` turns rate limiting off (the search limit too, unless `searchPerSecond` is a number). */
  rateLimit?: HubspotRateLimitOptions | false;
  /** Search requests per rolling second per token (default 5; `false` disables). */
  searchPerSecond?: number | false;
  /** Portal id reported by the sandbox (default 12345678). */
  portalId?: number;
  /** Clock (ms since epoch), for tests. Default `Date.now`. */
  now?: () => number;
  /** Which contact emails the portal rejects (INVALID_EMAIL). Default: non-ASCII or failing a basic syntax check. */
  invalidEmail?: (email: string) => boolean;
  /** Enables the OAuth endpoints for one app. */
  oauth?: HubspotOAuthOptions;
  /** Webhook deliveries of the OAuth app (needs `oauth`); `configureWebhooks` sets them later. */
  webhooks?: HubspotWebhookOptions;
  /** The portal's time zone reported by GET /account-info/v3/details (default `US/Eastern`). */
  timeZone?: string;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Faults to inject from the start (see ../faults); `setFaults` changes them later. */
  faults?: FaultConfig;
  /**
   * Simulated API latency (see ../latency); `setLatency` changes it later. Every request to an API route
   * (not the OAuth routes: authorize, token, access-token info) waits `baseMs + perRecordMs × records`
   * after routing and before authentication, rate limits, faults and the handler. `records` is the
   * length of the body's `inputs` on the batch routes (objects' batch read / upsert / update / create,
   * associations' batch associate-default / create / read), else 1. Default: none.
   */
  latency?: LatencyModel;
}

export interface HubspotSandboxState {
  contacts: HubspotContact[];
  companies: HubspotCompany[];
  deals: HubspotDeal[];
  associations: HubspotAssociationEdge[];
  properties: Record<HubspotObjectType, HubspotProperty[]>;
  groups: Record<HubspotObjectType, HubspotPropertyGroup[]>;
  requests: Record<HubspotSandboxRoute, number>;
  /** Requests answered 429, by route. */
  rateLimited: Record<HubspotSandboxRoute, number>;
}

export interface HubspotSandbox extends FaultControls {
  /** Base URL for `basePath`, e.g. `http://127.0.0.1:54321` (no trailing slash). */
  url: string;
  accessToken: string;
  portalId: number;
  close(): Promise<void>;
  /** Sets (or with undefined, removes) the simulated latency for requests arriving from now on (see the `latency` option). */
  setLatency(model: LatencyModel | undefined): void;
  /** A snapshot (copies) of the portal and the request counts. */
  readonly state: HubspotSandboxState;
  /** Adds (or replaces, by id) contacts without going through the API or the rate limit. */
  seedContacts(inputs: readonly SeedContactInput[]): HubspotContact[];
  /** Adds (or replaces, by id) companies without the API. */
  seedCompanies(inputs: readonly SeedCompanyInput[]): HubspotCompany[];
  /** Adds (or replaces, by id) deals without the API, with their associations. */
  seedDeals(inputs: readonly SeedDealInput[]): HubspotDeal[];
  /** Associates two records (default type, or primary where HubSpot has one). Throws when one is missing. */
  associate(fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string, options?: { primary?: boolean }): void;
  /** Adds a property without the API; its group is created when missing. Throws when it exists. */
  seedProperty(objectType: HubspotObjectType, input: PropertyInput): HubspotProperty;
  listContacts(): HubspotContact[];
  listCompanies(): HubspotCompany[];
  listDeals(): HubspotDeal[];
  /** Case-insensitive, as HubSpot matches emails. */
  contactByEmail(email: string): HubspotContact | undefined;
  contactById(id: string): HubspotContact | undefined;
  companyById(id: string): HubspotCompany | undefined;
  dealById(id: string): HubspotDeal | undefined;
  /** Ids of the `toType` records associated with a record, ascending. */
  associatedIds(fromType: HubspotObjectType, id: string, toType: HubspotObjectType): string[];
  /** Another token accepted by the portal; it gets its own rate limit window. */
  addAccessToken(token: string): void;
  /** A single-use authorization code for the OAuth app (needs the `oauth` option). */
  issueAuthorizationCode(input: { redirectUri: string; scopes?: readonly string[] }): string;
  /** Revokes a refresh token and every access token issued from it (an uninstall). False when unknown. */
  revokeRefreshToken(token: string): boolean;
  /** The portal uninstalls the OAuth app: every refresh and access token it was issued is revoked. */
  uninstallApp(): void;
  /** Sets, replaces or (undefined) removes the webhook settings; removal drops events not yet sent. */
  configureWebhooks(options: HubspotWebhookOptions | undefined): void;
  /** A sales rep creates a contact in the HubSpot UI: API validation (problems throw), `CRM_UI` events. */
  createContactAsUser(properties: Record<string, string>): HubspotContact;
  /** A sales rep edits a contact in the HubSpot UI ("" clears a value). Throws when missing or invalid. */
  updateContactAsUser(id: string, properties: Record<string, string>): HubspotContact;
  /** A GDPR delete: the contact and its associations go, then `contact.privacyDeletion` fires. False when missing. */
  gdprDeleteContact(id: string): boolean;
  /** Every webhook POST tried, in order (retries included). */
  webhookDeliveries(): HubspotWebhookDelivery[];
  /** Resolves when no webhook event is queued or in flight (retries included). */
  flushWebhooks(): Promise<void>;
  /** POSTs a hand-made body to the target URL through the sandbox's sending path (not recorded, no retry). */
  deliverRawWebhook(input: HubspotRawWebhookInput): Promise<{ status: number; text: string }>;
  requestCount(route: HubspotSandboxRoute): number;
  /** Requests (answered or not) to the record and association write routes in HUBSPOT_WRITE_ROUTES. */
  writeRequestCount(): number;
  /** Midnight in the portal: every token's daily count starts again. */
  startNewDay(): void;
  resetRequestCounts(): void;
}

export const DEFAULT_HUBSPOT_ACCESS_TOKEN = 'pat-sandbox-orbit-sync';
export const HUBSPOT_BATCH_LIMIT = 100;
/** Associations v4 batch read: at most 1,000 inputs (enforced by HubSpot since 2025-02-10). */
export const HUBSPOT_ASSOCIATION_READ_LIMIT = 1000;
/** [INFER] Associations v4 batch create / associate default: HubSpot documents no limit. */
export const HUBSPOT_ASSOCIATION_WRITE_LIMIT = 2000;
/** reference §3 / props-guide: at most 10 unique-value properties per object type. */
export const MAX_UNIQUE_PROPERTIES = 10;
export const SEARCH_MAX_LIMIT = 200;
export const SEARCH_MAX_RESULTS = 10_000;
export const SEARCH_MAX_FILTER_GROUPS = 5;
export const SEARCH_MAX_FILTERS_PER_GROUP = 10;
export const SEARCH_MAX_FILTERS = 25;
