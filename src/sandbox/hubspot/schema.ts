/**
 * The portal's schema: property groups and properties per object type (HubSpot's defaults that orbit-sync
 * touches, plus what the API creates), and the value rules of each property type.
 */
import { z } from 'zod';
import { HubspotError, validationError, type PropertyValidation } from './errors';
import {
  HUBSPOT_FIELD_TYPES,
  HUBSPOT_OBJECT_TYPE_IDS,
  HUBSPOT_OBJECT_TYPES,
  HUBSPOT_PROPERTY_TYPES,
  MAX_UNIQUE_PROPERTIES,
  type HubspotObjectType,
  type HubspotOption,
  type HubspotProperty,
  type HubspotPropertyGroup,
} from './types';

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
    ['website', 'Website URL', 'string', 'text'],
    ['industry', 'Industry', 'enumeration', 'select'],
    ['phone', 'Phone Number', 'string', 'phonenumber'],
    ['city', 'City', 'string', 'text'],
    ['state', 'State/Region', 'string', 'text'],
    ['country', 'Country/Region', 'string', 'text'],
    ['numberofemployees', 'Number of Employees', 'number', 'number'],
    ['annualrevenue', 'Annual Revenue', 'number', 'number'],
    ['description', 'Description', 'string', 'textarea'],
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
    ['closedate', 'Close Date', 'datetime', 'date'],
    ['description', 'Deal Description', 'string', 'textarea'],
    ['hs_priority', 'Priority', 'enumeration', 'select'],
    ['hs_is_closed', 'Is Deal Closed?', 'bool', 'booleancheckbox', true],
    ['hs_object_id', 'Record ID', 'number', 'number', true],
    ['createdate', 'Create Date', 'datetime', 'date', true],
    ['hs_lastmodifieddate', 'Last Modified Date', 'datetime', 'date', true],
  ],
};

/** The default sales pipeline's stages (HubSpot's internal values), in order; the last two are closed. */
export const DEAL_STAGES: ReadonlyArray<{ value: string; label: string; closed: boolean }> = [
  { value: 'appointmentscheduled', label: 'Appointment Scheduled', closed: false },
  { value: 'qualifiedtobuy', label: 'Qualified To Buy', closed: false },
  { value: 'presentationscheduled', label: 'Presentation Scheduled', closed: false },
  { value: 'decisionmakerboughtin', label: 'Decision Maker Bought-In', closed: false },
  { value: 'contractsent', label: 'Contract Sent', closed: false },
  { value: 'closedwon', label: 'Closed Won', closed: true },
  { value: 'closedlost', label: 'Closed Lost', closed: true },
];
export const OPEN_DEAL_STAGES = DEAL_STAGES.filter((s) => !s.closed).map((s) => s.value);
export const CLOSED_DEAL_STAGES = DEAL_STAGES.filter((s) => s.closed).map((s) => s.value);
export const DEFAULT_PIPELINE = 'default';

/** [INFER] A subset of HubSpot's ~150 company industry values (upper snake case, as HubSpot stores them). */
export const COMPANY_INDUSTRIES: readonly string[] = [
  'ACCOUNTING',
  'AIRLINES_AVIATION',
  'APPAREL_FASHION',
  'AUTOMOTIVE',
  'BANKING',
  'BIOTECHNOLOGY',
  'BROADCAST_MEDIA',
  'BUILDING_MATERIALS',
  'CHEMICALS',
  'COMPUTER_HARDWARE',
  'COMPUTER_NETWORK_SECURITY',
  'COMPUTER_SOFTWARE',
  'CONSTRUCTION',
  'CONSUMER_GOODS',
  'CONSUMER_SERVICES',
  'E_LEARNING',
  'EDUCATION_MANAGEMENT',
  'ENTERTAINMENT',
  'FINANCIAL_SERVICES',
  'FOOD_BEVERAGES',
  'GOVERNMENT_ADMINISTRATION',
  'HOSPITAL_HEALTH_CARE',
  'HOSPITALITY',
  'HUMAN_RESOURCES',
  'INFORMATION_TECHNOLOGY_AND_SERVICES',
  'INSURANCE',
  'INTERNET',
  'INVESTMENT_MANAGEMENT',
  'LEGAL_SERVICES',
  'LOGISTICS_AND_SUPPLY_CHAIN',
  'MANAGEMENT_CONSULTING',
  'MARKETING_AND_ADVERTISING',
  'MEDICAL_DEVICES',
  'NONPROFIT_ORGANIZATION_MANAGEMENT',
  'OIL_ENERGY',
  'PHARMACEUTICALS',
  'REAL_ESTATE',
  'RETAIL',
  'STAFFING_AND_RECRUITING',
  'TELECOMMUNICATIONS',
  'VENTURE_CAPITAL_PRIVATE_EQUITY',
];

function titleOf(value: string): string {
  return value
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

function options(pairs: ReadonlyArray<{ value: string; label: string }>): HubspotOption[] {
  return pairs.map((p, i) => ({ label: p.label, value: p.value, hidden: false, displayOrder: i }));
}

const DEFAULT_OPTIONS: Record<string, HubspotOption[]> = {
  'deals.hs_priority': options(['low', 'medium', 'high'].map((value) => ({ value, label: value.charAt(0).toUpperCase() + value.slice(1) }))),
  'deals.dealstage': options(DEAL_STAGES),
  'deals.pipeline': options([{ value: DEFAULT_PIPELINE, label: 'Sales Pipeline' }]),
  'deals.hs_is_closed': options([
    { value: 'true', label: 'Yes' },
    { value: 'false', label: 'No' },
  ]),
  'contacts.lifecyclestage': options(
    ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'].map((value) => ({ value, label: value })),
  ),
  'companies.industry': options(COMPANY_INDUSTRIES.map((value) => ({ value, label: titleOf(value) }))),
};

/** Default properties of a batch read / search without `properties` (HubSpot's defaults per object). */
export const DEFAULT_READ_PROPERTIES: Record<HubspotObjectType, readonly string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
  deals: ['amount', 'closedate', 'createdate', 'dealname', 'dealstage', 'hs_lastmodifieddate', 'hs_object_id', 'pipeline'],
};

/** The last-modified property: contacts keep the legacy name. */
export const LAST_MODIFIED_PROPERTY: Record<HubspotObjectType, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  deals: 'hs_lastmodifieddate',
};

const OptionInput = z.object({
  label: z.string(),
  value: z.string(),
  hidden: z.boolean(),
  displayOrder: z.number().int().optional(),
  description: z.string().optional(),
});

/** `PropertyCreate`, crm-properties-v3.json. */
export const PropertyCreateBody = z.object({
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
export type PropertyCreate = z.infer<typeof PropertyCreateBody>;

/** `PropertyGroupCreate`. */
export const PropertyGroupCreateBody = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'Group names must be lower case, start with a letter and contain only letters, digits and _'),
  label: z.string().min(1),
  displayOrder: z.number().int().optional(),
});
export type PropertyGroupCreate = z.infer<typeof PropertyGroupCreateBody>;

const TYPE_ALIASES: Record<string, HubspotObjectType> = {
  contact: 'contacts',
  company: 'companies',
  deal: 'deals',
  '0-1': 'contacts',
  '0-2': 'companies',
  '0-3': 'deals',
};

/** An object type from a path segment (`contacts`, `contact`, `0-1`), or undefined. */
export function parseObjectType(raw: string | undefined): HubspotObjectType | undefined {
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  return (HUBSPOT_OBJECT_TYPES as readonly string[]).includes(lower) ? (lower as HubspotObjectType) : TYPE_ALIASES[lower];
}

/** Like parseObjectType, but a 400 VALIDATION_ERROR for anything the sandbox does not serve. */
export function objectTypeOf(raw: string | undefined): HubspotObjectType {
  const t = parseObjectType(raw);
  if (!t) throw validationError(`Unable to infer object type from: ${raw ?? ''}`);
  return t;
}

// --- value rules ----------------------------------------------------------------------------------------

/** [INFER] The sandbox's default email check: ASCII only, one @, a dotted domain, no empty or doubled dots. */
export function defaultInvalidEmail(email: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(email)) return true;
  const m = /^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)$/.exec(
    email,
  );
  if (!m) return true;
  const tld = email.slice(email.lastIndexOf('.') + 1);
  return (m[1] ?? '').length > 64 || email.length > 254 || tld.length < 2 || /^\d+$/.test(tld);
}

const MAX_STRING_LENGTH = 65_536;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Epoch ms of a datetime value (ISO 8601 or epoch milliseconds), or undefined. */
export function parseTimestamp(value: string): number | undefined {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) {
    const ms = Number(v);
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  const m = ISO_DATE_RE.exec(v);
  if (!m) return undefined;
  // A date alone is midnight UTC; a date-time without an offset is read as UTC too (never the host's zone).
  const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : m[1] === undefined ? `${v}Z` : v);
  return Number.isNaN(ms) ? undefined : ms;
}

function problem(name: string, error: string, message: string): PropertyValidation {
  return { isValid: false, message, error, name };
}

/**
 * The problem with writing `value` to `property`, or undefined when it is valid. "" always passes: it
 * clears the property.
 */
export function valueProblem(
  objectType: HubspotObjectType,
  property: HubspotProperty,
  value: string,
  invalidEmail: (email: string) => boolean,
): PropertyValidation | undefined {
  if (value === '') return undefined;
  const name = property.name;
  if (objectType === 'contacts' && name === 'email') {
    return invalidEmail(value.trim()) ? problem(name, 'INVALID_EMAIL', `Email address ${value} is invalid`) : undefined;
  }
  switch (property.type) {
    case 'number':
      return NUMBER_RE.test(value.trim()) ? undefined : problem(name, 'INVALID_LONG', `${value} was not a valid long.`);
    case 'bool':
      return /^(true|false)$/i.test(value.trim()) ? undefined : problem(name, 'INVALID_BOOLEAN', `${value} was not a valid boolean.`);
    case 'datetime':
      return parseTimestamp(value) === undefined
        ? problem(name, 'INVALID_DATETIME', `${value} was not a valid datetime: use ISO 8601 or epoch milliseconds.`)
        : undefined;
    case 'date': {
      const ms = parseTimestamp(value);
      if (ms === undefined) return problem(name, 'INVALID_DATE', `${value} was not a valid date: use YYYY-MM-DD or epoch milliseconds.`);
      return ms % 86_400_000 === 0 ? undefined : problem(name, 'INVALID_DATE', `${value} is not midnight UTC.`);
    }
    case 'enumeration': {
      if (property.options.length === 0) return undefined;
      const allowed = new Set(property.options.map((o) => o.value));
      const values = property.fieldType === 'checkbox' ? value.split(';').filter((v) => v !== '') : [value];
      const bad = values.find((v) => !allowed.has(v));
      return bad === undefined
        ? undefined
        : problem(name, 'INVALID_OPTION', `${bad} was not one of the allowed options: [${property.options.map((o) => o.value).join(', ')}]`);
    }
    default:
      return value.length > MAX_STRING_LENGTH ? problem(name, 'STRING_TOO_LONG', `The value of ${name} is longer than ${MAX_STRING_LENGTH} characters.`) : undefined;
  }
}

/** The stored form of a valid value: emails lower-cased, datetimes as ISO, dates as YYYY-MM-DD, bools lower-case. */
export function normalizeValue(objectType: HubspotObjectType, property: HubspotProperty | undefined, value: string): string {
  if (value === '' || !property) return value;
  if (objectType === 'contacts' && property.name === 'email') return value.trim().toLowerCase();
  switch (property.type) {
    case 'datetime': {
      const ms = parseTimestamp(value);
      return ms === undefined ? value : new Date(ms).toISOString();
    }
    case 'date': {
      const ms = parseTimestamp(value);
      return ms === undefined ? value : new Date(ms).toISOString().slice(0, 10);
    }
    case 'bool':
      return value.trim().toLowerCase();
    case 'number':
      return value.trim();
    default:
      return value;
  }
}

// --- the schema -------------------------------------------------------------------------------------

export class PortalSchema {
  private readonly properties = new Map<HubspotObjectType, Map<string, HubspotProperty>>();
  private readonly groups = new Map<HubspotObjectType, Map<string, HubspotPropertyGroup>>();

  constructor(private readonly now: () => number) {
    const createdAtIso = new Date(now()).toISOString();
    for (const objectType of HUBSPOT_OBJECT_TYPES) {
      const groupMap = new Map<string, HubspotPropertyGroup>();
      DEFAULT_GROUPS[objectType].forEach((g, i) => groupMap.set(g.name, { ...g, displayOrder: i, archived: false }));
      this.groups.set(objectType, groupMap);
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
      this.properties.set(objectType, propMap);
    }
  }

  propsOf(objectType: HubspotObjectType): Map<string, HubspotProperty> {
    const map = this.properties.get(objectType);
    if (!map) throw new Error(`no property map for ${objectType}`);
    return map;
  }

  groupsOf(objectType: HubspotObjectType): Map<string, HubspotPropertyGroup> {
    const map = this.groups.get(objectType);
    if (!map) throw new Error(`no group map for ${objectType}`);
    return map;
  }

  property(objectType: HubspotObjectType, name: string): HubspotProperty | undefined {
    return this.propsOf(objectType).get(name);
  }

  /** Properties that identify a record: contacts' email (native) and every `hasUniqueValue` property. */
  uniqueNames(objectType: HubspotObjectType): string[] {
    const names = [...this.propsOf(objectType).values()].filter((p) => p.hasUniqueValue).map((p) => p.name);
    return objectType === 'contacts' ? ['email', ...names.filter((n) => n !== 'email')] : names;
  }

  isUnique(objectType: HubspotObjectType, name: string): boolean {
    return (objectType === 'contacts' && name === 'email') || this.property(objectType, name)?.hasUniqueValue === true;
  }

  /**
   * 400 unless `idProperty` may key a read, update or upsert: the record id, a `hasUniqueValue`
   * property, or (except for batch update, reference §2.1) contacts' email.
   */
  checkIdProperty(objectType: HubspotObjectType, idProperty: string | undefined, operation: 'read' | 'update' | 'upsert'): void {
    if (idProperty === undefined || idProperty === 'hs_object_id') return;
    if (objectType === 'contacts' && idProperty === 'email' && operation !== 'update') return;
    if (this.property(objectType, idProperty)?.hasUniqueValue === true) return;
    throw validationError(`Unable to perform update/upsert by non-unique ${HUBSPOT_OBJECT_TYPE_IDS[objectType]} property ${idProperty}`, {
      context: { idProperty: [idProperty] },
    });
  }

  /** Validates a PropertyCreate and stores it; throws HubspotError (409 when the name exists). */
  createProperty(objectType: HubspotObjectType, input: PropertyCreate): HubspotProperty {
    const props = this.propsOf(objectType);
    if (props.has(input.name)) {
      throw new HubspotError(409, 'OBJECT_ALREADY_EXISTS', `Property already exists: ${input.name}`, {
        subCategory: 'Property.ALREADY_EXISTS',
        context: { name: [input.name], objectType: [objectType] },
      });
    }
    if (!this.groupsOf(objectType).has(input.groupName)) {
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
    const at = new Date(this.now()).toISOString();
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
    return property;
  }

  createGroup(objectType: HubspotObjectType, input: PropertyGroupCreate): HubspotPropertyGroup {
    const map = this.groupsOf(objectType);
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

  /** The first group of an object type (seedProperty's default). */
  defaultGroup(objectType: HubspotObjectType): string {
    return DEFAULT_GROUPS[objectType][0]?.name ?? 'default';
  }
}
