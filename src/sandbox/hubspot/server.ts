/**
 * A stateful HubSpot portal sandbox on loopback, part 1: auth, the 10-second rate limit, the properties
 * API (properties and groups) and contacts batch read / batch upsert by email. `@hubspot/api-client` can
 * reach it with `new Client({ accessToken, basePath: sandbox.url })` (no trailing slash, reference §1.2).
 *
 * Sources: /work/shared/reference/hubspot.md (error bodies, 207s, rate limit headers and 429 bodies) and the
 * OpenAPI specs in /work/shared/specs/hubspot/ (crm-properties-v3.json, crm-contacts-v3.json). Every
 * success body matches the spec schema named next to its handler; every error body matches the spec's
 * `Error` (`category`, `correlationId`, `message` required) plus HubSpot's observed `status: 'error'`.
 *
 * Request flow:
 *   1. route the method + path (unknown path → 404, wrong method → 405, both with HubSpot's error body);
 *   2. count the request for its route (test control);
 *   3. `Authorization: Bearer <token>` (missing/unknown → 401 INVALID_AUTHENTICATION);
 *   4. rolling 10-second window per token (over it → 429 `TEN_SECONDLY_ROLLING`), and an optional daily
 *      cap (over it → 429 `DAILY`); `X-HubSpot-RateLimit-*` headers on every authenticated response;
 *   5. the handler.
 *
 * Choices where the reference is silent or marked [INFER] (revisit against a developer test account):
 *   - [INFER] Rate limit is counted per token (HubSpot: per app / per installing account; one token per
 *     app in the sandbox makes these the same). 401s are not counted. No `Retry-After` on 429 (HubSpot
 *     documents none for the 10-second limit). Default: 110 per 10 s (OAuth apps, reference §7).
 *     The daily headers are sent only when a daily limit is configured (absent for OAuth, reference §7).
 *   - [INFER] Emails are identifiers matched case-insensitively and stored lower-cased (reference §2.1).
 *   - [INFER] Other unique-value (`hasUniqueValue`) properties match exactly (case-sensitive).
 *   - [INFER] Duplicate ids in one upsert batch reject the whole batch with 400 VALIDATION_ERROR
 *     (reference §2.1 / §11 #13: "rejected and non-retryable"); the message follows HubSpot's
 *     "Duplicate IDs found in batch input: [...]. IDs must be unique".
 *   - [INFER] Unknown property names in an upsert reject the whole batch with 400 VALIDATION_ERROR whose
 *     message is HubSpot's "Property values were not valid: [...PROPERTY_DOESNT_EXIST...]" shape;
 *     writing a read-only property (hs_object_id, createdate, lastmodifieddate) is rejected the same
 *     way with READ_ONLY_VALUE.
 *   - [INFER] More than 100 inputs → 400 VALIDATION_ERROR (reference §2.1 "limited to 100 records").
 *   - [INFER] An upsert whose value for a unique property is already held by another contact fails that
 *     input only: 207 with a CONFLICT error naming the existing id.
 *   - [INFER] Batch read omits requested properties the record has no value for (HubSpot sends `null`,
 *     which the spec's `additionalProperties: {type: string}` does not allow). With no `properties`
 *     requested it returns HubSpot's defaults (createdate, email, firstname, hs_object_id,
 *     lastmodifieddate, lastname). Unknown requested property names are ignored, as HubSpot does.
 *   - [INFER] Missing records in batch read → 207 with one OBJECT_NOT_FOUND StandardError listing all
 *     missing ids in `context.ids`, HubSpot's observed shape.
 *   - Setting a property to "" clears it (HubSpot semantics).
 *
 * Left for part 2: companies, deals, search, associations v4, OAuth endpoints, value validation
 * (malformed email → 207, number/enum/date checks), injected faults, 423s.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { describeZodError, matchRoute, readBodyText, type RouteSpec } from '../http';

// --- public types ---------------------------------------------------------------------------------

export const HUBSPOT_OBJECT_TYPES = ['contacts', 'companies', 'deals'] as const;
export type HubspotObjectType = (typeof HUBSPOT_OBJECT_TYPES)[number];

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

/** `SimplePublicObject`, crm-contacts-v3.json (all properties). */
export interface HubspotContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
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
] as const;
export type HubspotSandboxRoute = (typeof HUBSPOT_SANDBOX_ROUTES)[number];

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

export interface SeedContactInput {
  /** Default: the next id. */
  id?: string;
  /** Property values; `email` is lower-cased. Unknown property names throw. */
  properties: Record<string, string>;
  createdAt?: string;
}

export interface HubspotRateLimitOptions {
  /** Requests per rolling interval per token (default 110: OAuth apps, reference §7). */
  max?: number;
  /** Default 10,000 ms. */
  intervalMs?: number;
  /** Requests per token before every call answers 429 `DAILY` (default: none). */
  daily?: number;
}

export interface HubspotSandboxOptions {
  /** Default `pat-sandbox-orbit-sync`. */
  accessToken?: string;
  /** `false` turns rate limiting off. */
  rateLimit?: HubspotRateLimitOptions | false;
  /** Portal id reported by the sandbox (default 12345678). */
  portalId?: number;
  /** Clock (ms since epoch), for tests. Default `Date.now`. */
  now?: () => number;
}

export interface HubspotSandboxState {
  contacts: HubspotContact[];
  properties: Record<HubspotObjectType, HubspotProperty[]>;
  groups: Record<HubspotObjectType, HubspotPropertyGroup[]>;
  requests: Record<HubspotSandboxRoute, number>;
  /** Requests answered 429, by route. */
  rateLimited: Record<HubspotSandboxRoute, number>;
}

export interface HubspotSandbox {
  /** Base URL for `basePath`, e.g. `http://127.0.0.1:54321` (no trailing slash). */
  url: string;
  accessToken: string;
  portalId: number;
  close(): Promise<void>;
  /** A snapshot (copies) of the portal and the request counts. */
  readonly state: HubspotSandboxState;
  /** Adds (or replaces, by id) contacts without going through the API or the rate limit. */
  seedContacts(inputs: readonly SeedContactInput[]): HubspotContact[];
  /** Adds a property without the API; its group is created when missing. Throws when it exists. */
  seedProperty(objectType: HubspotObjectType, input: PropertyInput): HubspotProperty;
  listContacts(): HubspotContact[];
  /** Case-insensitive, as HubSpot matches emails. */
  contactByEmail(email: string): HubspotContact | undefined;
  /** Another token accepted by the portal (for OAuth tokens later); it gets its own rate limit window. */
  addAccessToken(token: string): void;
  requestCount(route: HubspotSandboxRoute): number;
  resetRequestCounts(): void;
}

// --- constants --------------------------------------------------------------------------------------

export const DEFAULT_HUBSPOT_ACCESS_TOKEN = 'pat-sandbox-orbit-sync';
export const HUBSPOT_BATCH_LIMIT = 100;
/** reference §3 / props-guide: at most 10 unique-value properties per object type. */
export const MAX_UNIQUE_PROPERTIES = 10;
const DEFAULT_RATE_MAX = 110;
const DEFAULT_RATE_INTERVAL_MS = 10_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const READ_DEFAULT_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];

/** reference §5: valid type → fieldType pairs (v3 rejects mismatches since 2021-02-01). */
const FIELD_TYPES_BY_TYPE: Record<string, readonly string[]> = {
  bool: ['booleancheckbox', 'calculation_equation'],
  enumeration: ['booleancheckbox', 'checkbox', 'radio', 'select', 'calculation_equation'],
  date: ['date'],
  datetime: ['date'],
  string: ['text', 'textarea', 'file', 'html', 'phonenumber', 'calculation_equation'],
  number: ['number', 'calculation_equation'],
  phone_number: ['phonenumber', 'text'],
};

const DEFAULT_GROUPS: Record<HubspotObjectType, ReadonlyArray<{ name: string; label: string }>> = {
  contacts: [
    { name: 'contactinformation', label: 'Contact information' },
    { name: 'contact_activity', label: 'Contact activity' },
  ],
  companies: [{ name: 'companyinformation', label: 'Company information' }],
  deals: [{ name: 'dealinformation', label: 'Deal information' }],
};

type DefaultProperty = [name: string, label: string, type: string, fieldType: string, readOnly?: boolean];
/** HubSpot-defined properties orbit-sync touches (names as in HubSpot's default property lists). */
const DEFAULT_PROPERTIES: Record<HubspotObjectType, ReadonlyArray<DefaultProperty>> = {
  contacts: [
    ['email', 'Email', 'string', 'text'],
    ['firstname', 'First Name', 'string', 'text'],
    ['lastname', 'Last Name', 'string', 'text'],
    ['jobtitle', 'Job Title', 'string', 'text'],
    ['phone', 'Phone Number', 'string', 'phonenumber'],
    ['mobilephone', 'Mobile Phone Number', 'string', 'phonenumber'],
    ['company', 'Company Name', 'string', 'text'],
    ['website', 'Website URL', 'string', 'text'],
    ['city', 'City', 'string', 'text'],
    ['state', 'State/Region', 'string', 'text'],
    ['country', 'Country/Region', 'string', 'text'],
    ['industry', 'Industry', 'string', 'text'],
    ['hs_linkedin_url', 'LinkedIn URL', 'string', 'text'],
    ['hs_additional_emails', 'Additional email addresses', 'enumeration', 'checkbox', true],
    ['lifecyclestage', 'Lifecycle Stage', 'enumeration', 'radio'],
    ['hs_object_id', 'Record ID', 'number', 'number', true],
    ['createdate', 'Create Date', 'datetime', 'date', true],
    ['lastmodifieddate', 'Last Modified Date', 'datetime', 'date', true],
  ],
  companies: [
    ['name', 'Company name', 'string', 'text'],
    ['domain', 'Company Domain Name', 'string', 'text'],
    ['industry', 'Industry', 'enumeration', 'select'],
    ['linkedin_company_page', 'LinkedIn Company Page', 'string', 'text'],
    ['hs_object_id', 'Record ID', 'number', 'number', true],
    ['createdate', 'Create Date', 'datetime', 'date', true],
    ['hs_lastmodifieddate', 'Last Modified Date', 'datetime', 'date', true],
  ],
  deals: [
    ['dealname', 'Deal Name', 'string', 'text'],
    ['dealstage', 'Deal Stage', 'enumeration', 'radio'],
    ['pipeline', 'Pipeline', 'enumeration', 'select'],
    ['amount', 'Amount', 'number', 'number'],
    ['hs_priority', 'Priority', 'enumeration', 'select'],
    ['hs_is_closed', 'Is Deal Closed?', 'bool', 'booleancheckbox', true],
    ['hs_object_id', 'Record ID', 'number', 'number', true],
    ['createdate', 'Create Date', 'datetime', 'date', true],
    ['hs_lastmodifieddate', 'Last Modified Date', 'datetime', 'date', true],
  ],
};

const DEFAULT_OPTIONS: Record<string, HubspotOption[]> = {
  'deals.hs_priority': ['low', 'medium', 'high'].map((value, i) => ({
    label: value.charAt(0).toUpperCase() + value.slice(1),
    value,
    hidden: false,
    displayOrder: i,
  })),
  'contacts.lifecyclestage': ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'].map(
    (value, i) => ({ label: value, value, hidden: false, displayOrder: i }),
  ),
};

// --- routing ----------------------------------------------------------------------------------------


const SEG = '([^/]+)';
const P = '/crm/v3/properties';
/** Order matters: `/groups` must win over `/{propertyName}`. */
const ROUTES: readonly RouteSpec<HubspotSandboxRoute>[] = [
  { route: 'listPropertyGroups', method: 'GET', pattern: new RegExp(`^${P}/${SEG}/groups$`) },
  { route: 'createPropertyGroup', method: 'POST', pattern: new RegExp(`^${P}/${SEG}/groups$`) },
  { route: 'getPropertyGroup', method: 'GET', pattern: new RegExp(`^${P}/${SEG}/groups/${SEG}$`) },
  { route: 'listProperties', method: 'GET', pattern: new RegExp(`^${P}/${SEG}$`) },
  { route: 'createProperty', method: 'POST', pattern: new RegExp(`^${P}/${SEG}$`) },
  { route: 'getProperty', method: 'GET', pattern: new RegExp(`^${P}/${SEG}/${SEG}$`) },
  { route: 'batchReadContacts', method: 'POST', pattern: /^\/crm\/v3\/objects\/contacts\/batch\/read$/ },
  { route: 'batchUpsertContacts', method: 'POST', pattern: /^\/crm\/v3\/objects\/contacts\/batch\/upsert$/ },
];


// --- request schemas (zod at the boundary; shapes from the specs) ----------------------------------

const OptionInput = z.object({
  label: z.string(),
  value: z.string(),
  hidden: z.boolean(),
  displayOrder: z.number().int().optional(),
  description: z.string().optional(),
});

/** `PropertyCreate`, crm-properties-v3.json. */
const PropertyCreateBody = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'Property names must be lower case, start with a letter and contain only letters, digits and _'),
  label: z.string().min(1),
  type: z.enum(HUBSPOT_PROPERTY_TYPES),
  fieldType: z.enum(HUBSPOT_FIELD_TYPES),
  groupName: z.string().min(1),
  description: z.string().optional(),
  options: z.array(OptionInput).optional(),
  hasUniqueValue: z.boolean().optional(),
  hidden: z.boolean().optional(),
  displayOrder: z.number().int().optional(),
  formField: z.boolean().optional(),
  calculationFormula: z.string().optional(),
  externalOptions: z.boolean().optional(),
  referencedObjectType: z.string().optional(),
  dataSensitivity: z.enum(['highly_sensitive', 'non_sensitive', 'sensitive']).optional(),
});

/** `PropertyGroupCreate`. */
const PropertyGroupCreateBody = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'Group names must be lower case, start with a letter and contain only letters, digits and _'),
  label: z.string().min(1),
  displayOrder: z.number().int().optional(),
});

/** `BatchReadInputSimplePublicObjectId` (properties and propertiesWithHistory are required by the spec). */
const BatchReadBody = z.object({
  idProperty: z.string().optional(),
  inputs: z.array(z.object({ id: z.string() })),
  properties: z.array(z.string()),
  propertiesWithHistory: z.array(z.string()),
});

/** `BatchInputSimplePublicObjectBatchInputUpsert`. */
const BatchUpsertBody = z.object({
  inputs: z.array(
    z.object({
      id: z.string(),
      idProperty: z.string().optional(),
      objectWriteTraceId: z.string().optional(),
      properties: z.record(z.string(), z.string()),
    }),
  ),
});


// --- errors -----------------------------------------------------------------------------------------

/** HubSpot's error body: the spec's `Error` plus `status: 'error'` (reference §7 bodies). */
export interface HubspotErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: Array<{ message: string; code?: string; in?: string; context?: Record<string, string[]> }>;
  links?: Record<string, string>;
  policyName?: string;
  errorType?: string;
  groupName?: string;
  requestId?: string;
}

class HubspotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: Partial<HubspotErrorBody> = {},
  ) {
    super(message);
  }
}

function validationError(message: string, extra: Partial<HubspotErrorBody> = {}): HubspotError {
  return new HubspotError(400, 'VALIDATION_ERROR', message, extra);
}

interface PropertyValidation {
  isValid: false;
  message: string;
  error: string;
  name: string;
  localizedErrorMessage: string;
}

// --- the sandbox ----------------------------------------------------------------------------------

interface ContactRecord {
  id: string;
  properties: Map<string, string>;
  createdAt: number;
  updatedAt: number;
}

export async function startHubspotSandbox(options: HubspotSandboxOptions = {}): Promise<HubspotSandbox> {
  const accessToken = options.accessToken ?? DEFAULT_HUBSPOT_ACCESS_TOKEN;
  const tokens = new Set<string>([accessToken]);
  const now = options.now ?? Date.now;
  const portalId = options.portalId ?? 12_345_678;
  const rate =
    options.rateLimit === false
      ? null
      : {
          max: options.rateLimit?.max ?? DEFAULT_RATE_MAX,
          intervalMs: options.rateLimit?.intervalMs ?? DEFAULT_RATE_INTERVAL_MS,
          daily: options.rateLimit?.daily,
        };
  if (rate && (!Number.isInteger(rate.max) || rate.max < 1)) throw new RangeError('rateLimit.max must be a positive integer');

  const requestCounts = Object.fromEntries(HUBSPOT_SANDBOX_ROUTES.map((r) => [r, 0])) as Record<HubspotSandboxRoute, number>;
  const rateLimitedCounts = Object.fromEntries(HUBSPOT_SANDBOX_ROUTES.map((r) => [r, 0])) as Record<HubspotSandboxRoute, number>;
  /** Per token: timestamps of accepted requests in the current window, and the day's count. */
  const windows = new Map<string, number[]>();
  const daily = new Map<string, number>();

  const properties = new Map<HubspotObjectType, Map<string, HubspotProperty>>();
  const groups = new Map<HubspotObjectType, Map<string, HubspotPropertyGroup>>();
  const contacts = new Map<string, ContactRecord>();
  /** Lower-cased email → contact id. */
  const contactIdByEmail = new Map<string, string>();
  /** Unique-value property → value → contact id. */
  const uniqueIndex = new Map<string, Map<string, string>>();
  let nextContactId = 100_001;

  // 1. portal schema ----------------------------------------------------------------------------------

  const createdAtIso = new Date(now()).toISOString();
  for (const objectType of HUBSPOT_OBJECT_TYPES) {
    const groupMap = new Map<string, HubspotPropertyGroup>();
    DEFAULT_GROUPS[objectType].forEach((g, i) => groupMap.set(g.name, { ...g, displayOrder: i, archived: false }));
    groups.set(objectType, groupMap);
    const propMap = new Map<string, HubspotProperty>();
    const defaultGroup = DEFAULT_GROUPS[objectType][0]?.name ?? 'default';
    DEFAULT_PROPERTIES[objectType].forEach(([name, label, type, fieldType, readOnly], i) => {
      propMap.set(name, {
        name,
        label,
        type,
        fieldType,
        groupName: defaultGroup,
        description: '',
        options: structuredClone(DEFAULT_OPTIONS[`${objectType}.${name}`] ?? []),
        displayOrder: i,
        hasUniqueValue: false,
        hidden: false,
        formField: !readOnly,
        calculated: false,
        externalOptions: false,
        hubspotDefined: true,
        archived: false,
        createdAt: createdAtIso,
        updatedAt: createdAtIso,
        modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: readOnly === true, readOnlyOptions: false },
      });
    });
    properties.set(objectType, propMap);
  }

  function objectTypeOf(raw: string | undefined): HubspotObjectType {
    // HubSpot also accepts object type ids; the sandbox maps the three it serves.
    const aliases: Record<string, HubspotObjectType> = { contact: 'contacts', company: 'companies', deal: 'deals', '0-1': 'contacts', '0-2': 'companies', '0-3': 'deals' };
    const t = raw === undefined ? undefined : ((HUBSPOT_OBJECT_TYPES as readonly string[]).includes(raw) ? (raw as HubspotObjectType) : aliases[raw]);
    if (!t) throw validationError(`Unable to infer object type from: ${raw ?? ''}`);
    return t;
  }

  function propsOf(objectType: HubspotObjectType): Map<string, HubspotProperty> {
    const map = properties.get(objectType);
    if (!map) throw new Error(`no property map for ${objectType}`);
    return map;
  }

  function groupsOf(objectType: HubspotObjectType): Map<string, HubspotPropertyGroup> {
    const map = groups.get(objectType);
    if (!map) throw new Error(`no group map for ${objectType}`);
    return map;
  }

  /** Validates a PropertyCreate and stores it; throws HubspotError (409 when the name exists). */
  function createProperty(objectType: HubspotObjectType, input: z.infer<typeof PropertyCreateBody>): HubspotProperty {
    const props = propsOf(objectType);
    if (props.has(input.name)) {
      throw new HubspotError(409, 'OBJECT_ALREADY_EXISTS', `Property already exists: ${input.name}`, {
        subCategory: 'Property.ALREADY_EXISTS',
        context: { name: [input.name], objectType: [objectType] },
      });
    }
    if (!groupsOf(objectType).has(input.groupName)) {
      throw validationError(`Property group ${input.groupName} does not exist for object type ${objectType}`, {
        context: { groupName: [input.groupName] },
      });
    }
    const allowed = FIELD_TYPES_BY_TYPE[input.type] ?? [];
    if (!allowed.includes(input.fieldType)) {
      throw validationError(`Invalid fieldType ${input.fieldType} for property type ${input.type}; allowed: ${allowed.join(', ')}`, {
        context: { fieldType: [input.fieldType], type: [input.type] },
      });
    }
    if (input.type === 'enumeration' && input.fieldType !== 'booleancheckbox' && (input.options ?? []).length === 0) {
      throw validationError(`Enumeration property ${input.name} needs at least one option`);
    }
    if (input.hasUniqueValue === true) {
      const unique = [...props.values()].filter((p) => p.hasUniqueValue).length;
      if (unique >= MAX_UNIQUE_PROPERTIES) {
        throw validationError(`Object type ${objectType} already has ${MAX_UNIQUE_PROPERTIES} unique value properties`);
      }
    }
    const at = new Date(now()).toISOString();
    const property: HubspotProperty = {
      name: input.name,
      label: input.label,
      type: input.type,
      fieldType: input.fieldType,
      groupName: input.groupName,
      description: input.description ?? '',
      options: (input.options ?? []).map((o, i) => ({ ...o, displayOrder: o.displayOrder ?? i })),
      displayOrder: input.displayOrder ?? -1,
      hasUniqueValue: input.hasUniqueValue ?? false,
      hidden: input.hidden ?? false,
      formField: input.formField ?? false,
      calculated: false,
      externalOptions: input.externalOptions ?? false,
      hubspotDefined: false,
      archived: false,
      createdAt: at,
      updatedAt: at,
      modificationMetadata: { archivable: true, readOnlyDefinition: false, readOnlyValue: false, readOnlyOptions: false },
    };
    props.set(property.name, property);
    if (objectType === 'contacts' && property.hasUniqueValue) uniqueIndex.set(property.name, new Map());
    return property;
  }

  function createGroup(objectType: HubspotObjectType, input: z.infer<typeof PropertyGroupCreateBody>): HubspotPropertyGroup {
    const map = groupsOf(objectType);
    if (map.has(input.name)) {
      throw new HubspotError(409, 'OBJECT_ALREADY_EXISTS', `Property group already exists: ${input.name}`, {
        subCategory: 'PropertyGroup.ALREADY_EXISTS',
        context: { name: [input.name], objectType: [objectType] },
      });
    }
    const group: HubspotPropertyGroup = { name: input.name, label: input.label, displayOrder: input.displayOrder ?? -1, archived: false };
    map.set(group.name, group);
    return group;
  }

  // 2. contacts ----------------------------------------------------------------------------------------

  function contactView(record: ContactRecord, only?: readonly string[]): HubspotContact {
    const all = Object.fromEntries(record.properties);
    all.hs_object_id = record.id;
    all.createdate = new Date(record.createdAt).toISOString();
    all.lastmodifieddate = new Date(record.updatedAt).toISOString();
    const props = only === undefined ? all : Object.fromEntries(only.filter((n) => all[n] !== undefined).map((n) => [n, all[n] as string]));
    return {
      id: record.id,
      properties: props,
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
      archived: false,
    };
  }

  function lookupKey(idProperty: string, value: string): string {
    return idProperty === 'email' ? value.trim().toLowerCase() : value;
  }

  function findContact(idProperty: string | undefined, value: string): ContactRecord | undefined {
    if (idProperty === undefined || idProperty === 'hs_object_id') return contacts.get(value);
    const id = idProperty === 'email' ? contactIdByEmail.get(lookupKey('email', value)) : uniqueIndex.get(idProperty)?.get(value);
    return id === undefined ? undefined : contacts.get(id);
  }

  function checkIdProperty(idProperty: string | undefined): void {
    if (idProperty === undefined || idProperty === 'email' || idProperty === 'hs_object_id') return;
    const property = propsOf('contacts').get(idProperty);
    if (!property?.hasUniqueValue) {
      throw validationError(`Unable to perform update/upsert by non-unique 0-1 property ${idProperty}`, {
        context: { idProperty: [idProperty] },
      });
    }
  }

  /** Every property name exists and is writable, or the whole batch fails (HubSpot's shape). */
  function checkWritable(names: Iterable<string>): void {
    const props = propsOf('contacts');
    const problems: PropertyValidation[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      const property = props.get(name);
      if (!property) {
        const message = `Property "${name}" does not exist`;
        problems.push({ isValid: false, message, error: 'PROPERTY_DOESNT_EXIST', name, localizedErrorMessage: message });
      } else if (property.modificationMetadata.readOnlyValue) {
        const message = `"${name}" is a read only property; its value cannot be set.`;
        problems.push({ isValid: false, message, error: 'READ_ONLY_VALUE', name, localizedErrorMessage: message });
      }
    }
    if (problems.length > 0) {
      throw validationError(`Property values were not valid: ${JSON.stringify(problems)}`, {
        errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
      });
    }
  }

  /** Holder of a unique value other than `selfId`, if any. */
  function uniqueHolder(name: string, value: string, selfId: string | undefined): string | undefined {
    const holder = name === 'email' ? contactIdByEmail.get(lookupKey('email', value)) : uniqueIndex.get(name)?.get(value);
    return holder !== undefined && holder !== selfId ? holder : undefined;
  }

  function unindex(record: ContactRecord): void {
    const email = record.properties.get('email');
    if (email !== undefined && contactIdByEmail.get(email) === record.id) contactIdByEmail.delete(email);
    for (const [name, index] of uniqueIndex) {
      const value = record.properties.get(name);
      if (value !== undefined && index.get(value) === record.id) index.delete(value);
    }
  }

  function index(record: ContactRecord): void {
    const email = record.properties.get('email');
    if (email !== undefined) contactIdByEmail.set(email, record.id);
    for (const [name, idx] of uniqueIndex) {
      const value = record.properties.get(name);
      if (value !== undefined) idx.set(value, record.id);
    }
  }

  /** Applies values ("" clears); emails are stored lower-cased. */
  function writeProperties(record: ContactRecord, values: Record<string, string>, at: number): void {
    unindex(record);
    for (const [name, raw] of Object.entries(values)) {
      const value = name === 'email' ? raw.trim().toLowerCase() : raw;
      if (value === '') record.properties.delete(name);
      else record.properties.set(name, value);
    }
    record.updatedAt = at;
    index(record);
  }

  function newContactId(): string {
    while (contacts.has(String(nextContactId))) nextContactId++;
    return String(nextContactId++);
  }

  function seedContacts(inputs: readonly SeedContactInput[]): HubspotContact[] {
    return inputs.map((input) => {
      checkWritable(Object.keys(input.properties));
      const at = input.createdAt === undefined ? now() : Date.parse(input.createdAt);
      const id = input.id ?? newContactId();
      const existing = contacts.get(id);
      if (existing) unindex(existing);
      const record: ContactRecord = { id, properties: new Map(), createdAt: at, updatedAt: at };
      for (const [name, value] of Object.entries(input.properties)) {
        if (value === '') continue;
        const holder = uniqueHolder(name, value, id);
        if (holder !== undefined) throw new RangeError(`HubSpot sandbox: ${name}=${value} already belongs to contact ${holder}`);
      }
      contacts.set(id, record);
      writeProperties(record, input.properties, at);
      return contactView(record);
    });
  }

  // 3. HTTP helpers ---------------------------------------------------------------------------------------

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function errorBody(category: string, message: string, extra: Partial<HubspotErrorBody> = {}): HubspotErrorBody {
    return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
  }

  async function readJsonBody(req: IncomingMessage): Promise<unknown> {
    const text = (await readBodyText(req, MAX_BODY_BYTES, () => new HubspotError(413, 'VALIDATION_ERROR', `Request body exceeds ${MAX_BODY_BYTES} bytes`))).trim();
    if (text === '') throw validationError('Invalid input JSON: the request body is empty');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw validationError(`Invalid input JSON: ${err instanceof Error ? err.message : 'unparseable'}`);
    }
  }

  function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
    const result = schema.safeParse(input);
    if (!result.success) throw validationError(`Invalid input JSON: ${describeZodError(result.error)}`);
    return result.data;
  }

  function checkBatchSize(count: number): void {
    if (count > HUBSPOT_BATCH_LIMIT) {
      throw validationError(`Batch input size ${count} exceeds the limit of ${HUBSPOT_BATCH_LIMIT} inputs`, {
        context: { limit: [String(HUBSPOT_BATCH_LIMIT)], size: [String(count)] },
      });
    }
  }

  // 4. handlers --------------------------------------------------------------------------------------------

  type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], headers: OutgoingHttpHeaders) => Promise<void> | void;

  const handlers: Record<HubspotSandboxRoute, Handler> = {
    /** 200 `CollectionResponsePropertyNoPaging`. */
    listProperties: (_req, res, [rawType], headers) => {
      const objectType = objectTypeOf(rawType);
      sendJson(res, 200, { results: [...propsOf(objectType).values()] }, headers);
    },

    /** 201 `Property`; 409 when the name exists. */
    createProperty: async (req, res, [rawType], headers) => {
      const objectType = objectTypeOf(rawType);
      const input = parse(PropertyCreateBody, await readJsonBody(req));
      sendJson(res, 201, createProperty(objectType, input), headers);
    },

    /** 200 `Property`; 404 when missing. */
    getProperty: (_req, res, [rawType, name], headers) => {
      const objectType = objectTypeOf(rawType);
      const property = name === undefined ? undefined : propsOf(objectType).get(name);
      if (!property) {
        throw new HubspotError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${name ?? ''} for object type ${objectType}`, {
          context: { name: [name ?? ''] },
        });
      }
      sendJson(res, 200, property, headers);
    },

    /** 200 `CollectionResponsePropertyGroupNoPaging`. */
    listPropertyGroups: (_req, res, [rawType], headers) => {
      const objectType = objectTypeOf(rawType);
      sendJson(res, 200, { results: [...groupsOf(objectType).values()] }, headers);
    },

    /** 201 `PropertyGroup`; 409 when the name exists. */
    createPropertyGroup: async (req, res, [rawType], headers) => {
      const objectType = objectTypeOf(rawType);
      const input = parse(PropertyGroupCreateBody, await readJsonBody(req));
      sendJson(res, 201, createGroup(objectType, input), headers);
    },

    /** 200 `PropertyGroup`; 404 when missing. */
    getPropertyGroup: (_req, res, [rawType, name], headers) => {
      const objectType = objectTypeOf(rawType);
      const group = name === undefined ? undefined : groupsOf(objectType).get(name);
      if (!group) {
        throw new HubspotError(404, 'OBJECT_NOT_FOUND', `Unable to find property group ${name ?? ''} for object type ${objectType}`);
      }
      sendJson(res, 200, group, headers);
    },

    /** 200 `BatchResponseSimplePublicObject`, or 207 `…WithErrors` when some ids are not found. */
    batchReadContacts: async (req, res, _params, headers) => {
      const startedAt = new Date(now()).toISOString();
      const body = parse(BatchReadBody, await readJsonBody(req));
      checkBatchSize(body.inputs.length);
      checkIdProperty(body.idProperty);
      const wanted = body.properties.length > 0 ? body.properties : READ_DEFAULT_PROPERTIES;
      const results: HubspotContact[] = [];
      const seen = new Set<string>();
      const missing: string[] = [];
      for (const { id } of body.inputs) {
        const record = findContact(body.idProperty, id);
        if (!record) {
          missing.push(id);
          continue;
        }
        // HubSpot returns one result per record, however many inputs point at it.
        if (seen.has(record.id)) continue;
        seen.add(record.id);
        results.push(contactView(record, wanted));
      }
      const completedAt = new Date(now()).toISOString();
      if (missing.length === 0) {
        sendJson(res, 200, { status: 'COMPLETE', results, startedAt, completedAt }, headers);
        return;
      }
      const errors = [
        {
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
          context: { ids: missing },
          errors: [],
          links: {},
        },
      ];
      sendJson(res, 207, { status: 'COMPLETE', results, numErrors: errors.length, errors, startedAt, completedAt }, headers);
    },

    /** 200 `BatchResponseSimplePublicUpsertObject`, or 207 `…WithErrors` for per-input conflicts. */
    batchUpsertContacts: async (req, res, _params, headers) => {
      const startedAt = new Date(now()).toISOString();
      const body = parse(BatchUpsertBody, await readJsonBody(req));
      checkBatchSize(body.inputs.length);
      // Whole-batch checks first: HubSpot writes nothing when these fail.
      const keys = new Map<string, string[]>();
      for (const input of body.inputs) {
        const idProperty = input.idProperty ?? 'hs_object_id';
        if (idProperty === 'hs_object_id') {
          throw validationError('Upsert requires idProperty: the name of a unique value property such as email');
        }
        checkIdProperty(idProperty);
        const key = `${idProperty}\u0000${lookupKey(idProperty, input.id)}`;
        keys.set(key, [...(keys.get(key) ?? []), input.id]);
      }
      const duplicates = [...keys.values()].filter((ids) => ids.length > 1).map((ids) => ids[0] as string);
      if (duplicates.length > 0) {
        throw validationError(`Duplicate IDs found in batch input: [${duplicates.join(', ')}]. IDs must be unique`, {
          context: { ids: duplicates },
        });
      }
      checkWritable(body.inputs.flatMap((input) => Object.keys(input.properties)));

      const at = now();
      const results: Array<HubspotContact & { new: boolean; objectWriteTraceId?: string }> = [];
      const errors: Array<Record<string, unknown>> = [];
      for (const input of body.inputs) {
        const idProperty = input.idProperty ?? 'email';
        const existing = findContact(idProperty, input.id);
        const values: Record<string, string> = { ...input.properties };
        if (!existing) values[idProperty] = input.id;
        // A unique value another contact already holds fails this input only.
        const conflict = Object.entries(values)
          .filter(([name, value]) => value !== '' && (name === 'email' || uniqueIndex.has(name)))
          .map(([name, value]) => ({ name, value, holder: uniqueHolder(name, value, existing?.id) }))
          .find((c) => c.holder !== undefined);
        if (conflict) {
          errors.push({
            status: 'error',
            category: 'CONFLICT',
            message: `A contact with ${conflict.name} ${conflict.value} already exists. Existing ID: ${conflict.holder ?? ''}`,
            context: { id: [input.id], existingId: [conflict.holder ?? ''], propertyName: [conflict.name] },
            errors: [],
            links: {},
          });
          continue;
        }
        const record = existing ?? { id: newContactId(), properties: new Map<string, string>(), createdAt: at, updatedAt: at };
        if (!existing) contacts.set(record.id, record);
        writeProperties(record, values, at);
        const written = [...new Set([...Object.keys(values), 'hs_object_id', 'createdate', 'lastmodifieddate'])];
        results.push({
          ...contactView(record, written),
          new: !existing,
          ...(input.objectWriteTraceId === undefined ? {} : { objectWriteTraceId: input.objectWriteTraceId }),
        });
      }
      const completedAt = new Date(now()).toISOString();
      if (errors.length === 0) {
        sendJson(res, 200, { status: 'COMPLETE', results, startedAt, completedAt }, headers);
      } else {
        sendJson(res, 207, { status: 'COMPLETE', results, numErrors: errors.length, errors, startedAt, completedAt }, headers);
      }
    },
  };

  // 5. dispatch -----------------------------------------------------------------------------------------

  /** Rate limit check for an authenticated token: the headers to send, or a 429 body. */
  function rateLimit(token: string): { headers: OutgoingHttpHeaders; rejected?: HubspotErrorBody } {
    if (!rate) return { headers: {} };
    const t = now();
    const window = (windows.get(token) ?? []).filter((ts) => ts > t - rate.intervalMs);
    windows.set(token, window);
    const usedToday = daily.get(token) ?? 0;
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
    daily.set(token, usedToday + 1);
    headers['x-hubspot-ratelimit-remaining'] = String(rate.max - window.length);
    if (rate.daily !== undefined) headers['x-hubspot-ratelimit-daily-remaining'] = String(rate.daily - usedToday - 1);
    return { headers };
  }

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
    requestCounts[match.route]++;

    const auth = req.headers.authorization;
    const bearer = auth === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    if (bearer === undefined || !tokens.has(bearer)) {
      const message =
        bearer === undefined
          ? 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview'
          : 'Authentication credentials are invalid: the access token is not valid for this portal.';
      sendJson(res, 401, errorBody('INVALID_AUTHENTICATION', message));
      return;
    }

    const limited = rateLimit(bearer);
    if (limited.rejected) {
      rateLimitedCounts[match.route]++;
      sendJson(res, 429, limited.rejected, limited.headers);
      return;
    }
    await handlers[match.route](req, res, match.params, limited.headers);
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

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
    return closing;
  };

  const snapshotByType = <T>(source: Map<HubspotObjectType, Map<string, T>>): Record<HubspotObjectType, T[]> =>
    Object.fromEntries(HUBSPOT_OBJECT_TYPES.map((t) => [t, [...(source.get(t)?.values() ?? [])].map((v) => structuredClone(v))])) as Record<
      HubspotObjectType,
      T[]
    >;

  return {
    url: `http://127.0.0.1:${port}`,
    accessToken,
    portalId,
    close,
    get state(): HubspotSandboxState {
      return {
        contacts: [...contacts.values()].map((c) => contactView(c)),
        properties: snapshotByType(properties),
        groups: snapshotByType(groups),
        requests: { ...requestCounts },
        rateLimited: { ...rateLimitedCounts },
      };
    },
    seedContacts,
    seedProperty: (objectType, input) => {
      if (input.groupName !== undefined && !groupsOf(objectType).has(input.groupName)) {
        createGroup(objectType, { name: input.groupName, label: input.groupName });
      }
      const parsed = PropertyCreateBody.parse({
        label: input.name,
        type: 'string',
        fieldType: 'text',
        groupName: DEFAULT_GROUPS[objectType][0]?.name,
        ...input,
      });
      try {
        return structuredClone(createProperty(objectType, parsed));
      } catch (err) {
        if (err instanceof HubspotError) throw new RangeError(`HubSpot sandbox: ${err.message}`, { cause: err });
        throw err;
      }
    },
    listContacts: () => [...contacts.values()].map((c) => contactView(c)),
    contactByEmail: (email) => {
      const record = findContact('email', email);
      return record ? contactView(record) : undefined;
    },
    addAccessToken: (token) => {
      tokens.add(token);
    },
    requestCount: (route) => requestCounts[route],
    resetRequestCounts: () => {
      for (const route of HUBSPOT_SANDBOX_ROUTES) {
        requestCounts[route] = 0;
        rateLimitedCounts[route] = 0;
      }
    },
  };
}
