/**
 * The org's schema: the five objects' standard fields, custom fields (issue #4's, or any the Metadata API
 * creates), describe bodies, record ids (15/18 characters with Salesforce's checksum) and value rules.
 */
import { recordError } from './errors';
import { KEY_PREFIXES, SALESFORCE_OBJECT_TYPES, type CustomFieldMetadata, type FieldValue, type SalesforceObjectType } from './types';

export type FieldType =
  | 'id'
  | 'string'
  | 'email'
  | 'phone'
  | 'url'
  | 'textarea'
  | 'double'
  | 'currency'
  | 'percent'
  | 'int'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'picklist'
  | 'reference';

export interface PicklistValue {
  value: string;
  label: string;
  active: boolean;
  defaultValue: boolean;
  validFor: null;
}

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  length: number;
  precision: number;
  scale: number;
  digits: number;
  nillable: boolean;
  createable: boolean;
  updateable: boolean;
  /** Must have a value on create (and cannot be cleared). */
  required: boolean;
  unique: boolean;
  externalId: boolean;
  caseSensitive: boolean;
  custom: boolean;
  calculated: boolean;
  defaultedOnCreate: boolean;
  filterable: boolean;
  sortable: boolean;
  picklistValues: PicklistValue[];
  restrictedPicklist: boolean;
  referenceTo: SalesforceObjectType[];
  relationshipName: string | null;
  /** Value given on create when the input has none. */
  defaultValue: FieldValue;
  /** The Metadata API definition of a custom field (kept for re-upserts). */
  metadata?: CustomFieldMetadata;
}

export const LEAD_STATUSES = ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'] as const;
export const LEAD_RATINGS = ['Hot', 'Warm', 'Cold'] as const;
export const OPEN_STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Value Proposition',
  'Id. Decision Makers',
  'Perception Analysis',
  'Proposal/Price Quote',
  'Negotiation/Review',
] as const;
export const CLOSED_STAGES = ['Closed Won', 'Closed Lost'] as const;
export const CONTACT_ROLES = [
  'Business User',
  'Decision Maker',
  'Economic Buyer',
  'Economic Decision Maker',
  'Evaluator',
  'Executive Sponsor',
  'Influencer',
  'Technical Buyer',
  'Other',
] as const;
const INDUSTRIES = [
  'Agriculture',
  'Apparel',
  'Banking',
  'Biotechnology',
  'Chemicals',
  'Communications',
  'Construction',
  'Consulting',
  'Education',
  'Electronics',
  'Energy',
  'Engineering',
  'Entertainment',
  'Environmental',
  'Finance',
  'Food & Beverage',
  'Government',
  'Healthcare',
  'Hospitality',
  'Insurance',
  'Machinery',
  'Manufacturing',
  'Media',
  'Not For Profit',
  'Recreation',
  'Retail',
  'Shipping',
  'Technology',
  'Telecommunications',
  'Transportation',
  'Utilities',
  'Other',
];
const LEAD_SOURCES = ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'];
const ACCOUNT_TYPES = ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Channel Partner / Reseller', 'Installation Partner', 'Technology Partner', 'Other'];

// --- ids ---------------------------------------------------------------------------------------------

const CHECKSUM_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The 3-character suffix that makes a 15-character id case-insensitive (Salesforce's algorithm). */
export function idChecksum(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= 'A' && c <= 'Z') flags += 1 << i;
    }
    suffix += CHECKSUM_CHARS.charAt(flags);
  }
  return suffix;
}

/** An 18-character id from a key prefix and a sequence number. */
export function makeId(prefix: string, sequence: number): string {
  let n = sequence;
  let digits = '';
  do {
    digits = (BASE62[n % 62] ?? '0') + digits;
    n = Math.floor(n / 62);
  } while (n > 0);
  const id15 = `${prefix}5g0${digits.padStart(9, '0')}`;
  return id15 + idChecksum(id15);
}

/** The 18-character form of a 15- or 18-character id, or null when it is not a well-formed id. */
export function normalizeId(input: string): string | null {
  if (/^[a-zA-Z0-9]{15}$/.test(input)) return input + idChecksum(input);
  if (/^[a-zA-Z0-9]{18}$/.test(input)) {
    const id15 = input.slice(0, 15);
    return idChecksum(id15) === input.slice(15).toUpperCase() ? id15 + idChecksum(id15) : null;
  }
  return null;
}

export function objectTypeOfId(id: string): SalesforceObjectType | undefined {
  const prefix = id.slice(0, 3);
  return SALESFORCE_OBJECT_TYPES.find((t) => KEY_PREFIXES[t] === prefix);
}

// --- field definitions ----------------------------------------------------------------------------------

type FieldInit = Partial<FieldDef> & { name: string; type: FieldType };

function field(init: FieldInit): FieldDef {
  const type = init.type;
  const lengths: Partial<Record<FieldType, number>> = { id: 18, reference: 18, string: 255, email: 80, phone: 40, url: 255, textarea: 255, picklist: 255 };
  const textual = type !== 'double' && type !== 'currency' && type !== 'percent' && type !== 'int' && type !== 'boolean' && type !== 'date' && type !== 'datetime';
  const longText = type === 'textarea' && (init.length ?? 255) > 255;
  return {
    label: init.name,
    length: textual ? (lengths[type] ?? 255) : 0,
    precision: 0,
    scale: 0,
    digits: 0,
    nillable: true,
    createable: true,
    updateable: true,
    required: false,
    unique: false,
    externalId: false,
    caseSensitive: false,
    custom: false,
    calculated: false,
    defaultedOnCreate: false,
    filterable: !longText,
    sortable: !longText,
    picklistValues: [],
    restrictedPicklist: false,
    referenceTo: [],
    relationshipName: null,
    defaultValue: null,
    ...init,
  };
}

const readOnly = { createable: false, updateable: false } as const;

function picklist(name: string, values: readonly string[], extra: Partial<FieldDef> = {}): FieldDef {
  return field({
    name,
    type: 'picklist',
    picklistValues: values.map((v) => ({ value: v, label: v, active: true, defaultValue: extra.defaultValue === v, validFor: null })),
    ...extra,
  });
}

function reference(name: string, to: SalesforceObjectType, relationshipName: string, extra: Partial<FieldDef> = {}): FieldDef {
  return field({ name, type: 'reference', referenceTo: [to], relationshipName, ...extra });
}

function systemFields(): FieldDef[] {
  return [
    field({ name: 'Id', label: 'Record ID', type: 'id', nillable: false, ...readOnly, defaultedOnCreate: true }),
    field({ name: 'CreatedDate', label: 'Created Date', type: 'datetime', nillable: false, ...readOnly, defaultedOnCreate: true }),
    field({ name: 'LastModifiedDate', label: 'Last Modified Date', type: 'datetime', nillable: false, ...readOnly, defaultedOnCreate: true }),
    field({ name: 'SystemModstamp', label: 'System Modstamp', type: 'datetime', nillable: false, ...readOnly, defaultedOnCreate: true }),
  ];
}

function standardFields(type: SalesforceObjectType): FieldDef[] {
  const required = (name: string): Partial<FieldDef> => ({ nillable: false, required: true, label: name });
  switch (type) {
    case 'Account':
      return [
        field({ name: 'Name', type: 'string', length: 255, ...required('Account Name') }),
        field({ name: 'Website', type: 'url', length: 255 }),
        picklist('Industry', INDUSTRIES),
        field({ name: 'Phone', type: 'phone', label: 'Account Phone' }),
        picklist('Type', ACCOUNT_TYPES, { label: 'Account Type' }),
        field({ name: 'NumberOfEmployees', type: 'int', label: 'Employees', precision: 8, digits: 8 }),
        field({ name: 'Description', type: 'textarea', length: 32000, label: 'Account Description' }),
      ];
    case 'Contact':
      return [
        field({ name: 'FirstName', type: 'string', length: 40, label: 'First Name' }),
        field({ name: 'LastName', type: 'string', length: 80, ...required('Last Name') }),
        field({ name: 'Name', type: 'string', length: 121, label: 'Full Name', ...readOnly, calculated: true }),
        field({ name: 'Email', type: 'email', length: 80 }),
        field({ name: 'Title', type: 'string', length: 128 }),
        field({ name: 'Phone', type: 'phone', label: 'Business Phone' }),
        field({ name: 'MobilePhone', type: 'phone', label: 'Mobile Phone' }),
        field({ name: 'Department', type: 'string', length: 80 }),
        reference('AccountId', 'Account', 'Account', { label: 'Account ID' }),
        picklist('LeadSource', LEAD_SOURCES, { label: 'Lead Source' }),
        field({ name: 'Description', type: 'textarea', length: 32000, label: 'Contact Description' }),
      ];
    case 'Lead':
      return [
        field({ name: 'FirstName', type: 'string', length: 40, label: 'First Name' }),
        field({ name: 'LastName', type: 'string', length: 80, ...required('Last Name') }),
        field({ name: 'Name', type: 'string', length: 121, label: 'Full Name', ...readOnly, calculated: true }),
        field({ name: 'Email', type: 'email', length: 80 }),
        field({ name: 'Title', type: 'string', length: 128 }),
        field({ name: 'Phone', type: 'phone' }),
        field({ name: 'MobilePhone', type: 'phone', label: 'Mobile Phone' }),
        field({ name: 'Company', type: 'string', length: 255, ...required('Company') }),
        field({ name: 'Website', type: 'url', length: 255 }),
        picklist('Industry', INDUSTRIES),
        picklist('LeadSource', LEAD_SOURCES, { label: 'Lead Source' }),
        picklist('Status', LEAD_STATUSES, { nillable: false, defaultedOnCreate: true, defaultValue: 'Open - Not Contacted', label: 'Lead Status' }),
        picklist('Rating', LEAD_RATINGS),
        field({ name: 'Description', type: 'textarea', length: 32000 }),
        field({ name: 'IsConverted', type: 'boolean', label: 'Converted', nillable: false, ...readOnly, defaultedOnCreate: true, defaultValue: false }),
        field({ name: 'ConvertedDate', type: 'date', label: 'Converted Date', ...readOnly }),
        reference('ConvertedAccountId', 'Account', 'ConvertedAccount', { label: 'Converted Account ID', ...readOnly }),
        reference('ConvertedContactId', 'Contact', 'ConvertedContact', { label: 'Converted Contact ID', ...readOnly }),
        reference('ConvertedOpportunityId', 'Opportunity', 'ConvertedOpportunity', { label: 'Converted Opportunity ID', ...readOnly }),
      ];
    case 'Opportunity':
      return [
        field({ name: 'Name', type: 'string', length: 120, ...required('Name') }),
        reference('AccountId', 'Account', 'Account', { label: 'Account ID' }),
        picklist('StageName', [...OPEN_STAGES, ...CLOSED_STAGES], { ...required('Stage') }),
        field({ name: 'CloseDate', type: 'date', ...required('Close Date') }),
        field({ name: 'Amount', type: 'currency', precision: 18, scale: 2 }),
        field({ name: 'IsClosed', type: 'boolean', label: 'Closed', nillable: false, ...readOnly, calculated: false, defaultedOnCreate: true, defaultValue: false }),
        field({ name: 'IsWon', type: 'boolean', label: 'Won', nillable: false, ...readOnly, defaultedOnCreate: true, defaultValue: false }),
        picklist('LeadSource', LEAD_SOURCES, { label: 'Lead Source' }),
        field({ name: 'Description', type: 'textarea', length: 32000 }),
      ];
    case 'OpportunityContactRole':
      return [
        reference('OpportunityId', 'Opportunity', 'Opportunity', { label: 'Opportunity ID', nillable: false, required: true, updateable: false }),
        reference('ContactId', 'Contact', 'Contact', { label: 'Contact ID', nillable: false, required: true }),
        picklist('Role', CONTACT_ROLES),
        field({ name: 'IsPrimary', type: 'boolean', label: 'Primary', nillable: false, defaultedOnCreate: true, defaultValue: false }),
      ];
  }
}

// --- custom fields from metadata ----------------------------------------------------------------------

const CUSTOM_NAME = /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*__c$/;

/** A custom field definition from Metadata API input, or the problem with it (Metadata API's statusCode + message). */
export function customFieldFromMetadata(md: CustomFieldMetadata): { type: SalesforceObjectType; def: FieldDef } | { statusCode: string; message: string; fields: string[] } {
  const [objectName, fieldName, ...rest] = md.fullName.split('.');
  const objectType = SALESFORCE_OBJECT_TYPES.find((t) => t === objectName);
  if (objectName === undefined || fieldName === undefined || rest.length > 0) {
    return { statusCode: 'FIELD_INTEGRITY_EXCEPTION', message: `Invalid fullName, must be of the form Object.Field__c: ${md.fullName}`, fields: ['fullName'] };
  }
  if (!objectType) return { statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: `In field: fullName - no CustomObject named ${objectName} found`, fields: ['fullName'] };
  if (!CUSTOM_NAME.test(fieldName) || fieldName.length > 43) {
    return {
      statusCode: 'FIELD_INTEGRITY_EXCEPTION',
      message: `The Field Name "${fieldName}" can only contain underscores and alphanumeric characters, must begin with a letter, not include spaces, not end with an underscore, not contain two consecutive underscores, and end with __c.`,
      fields: ['fullName'],
    };
  }
  const bad = (message: string, f: string): { statusCode: string; message: string; fields: string[] } => ({ statusCode: 'FIELD_INTEGRITY_EXCEPTION', message, fields: [f] });
  if (!md.label) return bad('Must specify label for a CustomField', 'label');
  if (md.label.length > 40) return bad('Label: data value too large (max length=40)', 'label');
  const mdType = md.type ?? '';
  const base = { name: fieldName, label: md.label, custom: true, metadata: structuredClone(md) } as const;
  const required = md.required === true ? { required: true, nillable: false } : {};
  const keys = (allowed: boolean): Partial<FieldDef> | string => {
    if (!allowed && (md.externalId === true || md.unique === true)) return `${mdType} fields cannot be External IDs or unique`;
    return { externalId: md.externalId === true, unique: md.unique === true, caseSensitive: md.caseSensitive === true };
  };
  let def: FieldDef;
  switch (mdType) {
    case 'Text':
    case 'Email':
    case 'Phone':
    case 'Url': {
      const k = keys(mdType === 'Text' || mdType === 'Email');
      if (typeof k === 'string') return bad(k, 'externalId');
      if (mdType === 'Text' && !(Number.isInteger(md.length) && (md.length ?? 0) >= 1 && (md.length ?? 0) <= 255)) {
        return bad('Length must be between 1 and 255 for a CustomField of type Text', 'length');
      }
      const type: FieldType = mdType === 'Text' ? 'string' : mdType === 'Email' ? 'email' : mdType === 'Phone' ? 'phone' : 'url';
      def = field({ ...base, type, length: mdType === 'Text' ? (md.length ?? 255) : type === 'email' ? 80 : type === 'phone' ? 40 : 255, ...k, ...required });
      break;
    }
    case 'TextArea':
      def = field({ ...base, type: 'textarea', length: 255, ...required });
      break;
    case 'LongTextArea': {
      const length = md.length ?? 0;
      if (!(Number.isInteger(length) && length >= 256 && length <= 131072)) return bad('Length must be between 256 and 131072 for a CustomField of type LongTextArea', 'length');
      if (!(Number.isInteger(md.visibleLines) && (md.visibleLines ?? 0) >= 2)) return bad("Must specify 'visibleLines' (at least 2) for a CustomField of type LongTextArea", 'visibleLines');
      def = field({ ...base, type: 'textarea', length, filterable: false, sortable: false });
      break;
    }
    case 'Number':
    case 'Currency':
    case 'Percent': {
      const k = keys(mdType === 'Number');
      if (typeof k === 'string') return bad(k, 'externalId');
      const precision = md.precision;
      const scale = md.scale ?? 0;
      if (precision === undefined) return bad(`Must specify 'precision' for a CustomField of type ${mdType}`, 'precision');
      if (!(Number.isInteger(precision) && precision >= 1 && precision <= 18)) return bad('Precision must be between 1 and 18', 'precision');
      if (!(Number.isInteger(scale) && scale >= 0 && scale <= precision)) return bad('Scale must be between 0 and the precision', 'scale');
      const type: FieldType = mdType === 'Number' ? 'double' : mdType === 'Currency' ? 'currency' : 'percent';
      def = field({ ...base, type, precision, scale, ...k, ...required });
      break;
    }
    case 'Checkbox': {
      if (md.defaultValue !== 'true' && md.defaultValue !== 'false') return bad("Must specify 'defaultValue' (true or false) for a CustomField of type Checkbox", 'defaultValue');
      def = field({ ...base, type: 'boolean', nillable: false, defaultedOnCreate: true, defaultValue: md.defaultValue === 'true' });
      break;
    }
    case 'Date':
      def = field({ ...base, type: 'date', ...required });
      break;
    case 'DateTime':
      def = field({ ...base, type: 'datetime', ...required });
      break;
    case 'Picklist': {
      const values = md.valueSet?.valueSetDefinition?.value ?? [];
      if (values.length === 0) return bad("Must specify 'valueSet' with at least one value for a CustomField of type Picklist", 'valueSet');
      const names = new Set<string>();
      for (const v of values) {
        if (!v.fullName) return bad('Picklist values need a fullName', 'valueSet');
        if (names.has(v.fullName.toLowerCase())) return bad(`Duplicate picklist value: ${v.fullName}`, 'valueSet');
        names.add(v.fullName.toLowerCase());
      }
      const dflt = values.find((v) => v.default === true)?.fullName ?? null;
      def = field({
        ...base,
        type: 'picklist',
        picklistValues: values.map((v) => ({ value: v.fullName, label: v.label ?? v.fullName, active: true, defaultValue: v.default === true, validFor: null })),
        restrictedPicklist: md.valueSet?.restricted === true,
        defaultValue: dflt,
        defaultedOnCreate: dflt !== null,
        ...required,
      });
      break;
    }
    default:
      return bad(`Unsupported or missing CustomField type: ${mdType || '(none)'}`, 'type');
  }
  return { type: objectType, def };
}

// --- the org schema -------------------------------------------------------------------------------------

const LABELS: Record<SalesforceObjectType, [string, string]> = {
  Account: ['Account', 'Accounts'],
  Contact: ['Contact', 'Contacts'],
  Lead: ['Lead', 'Leads'],
  Opportunity: ['Opportunity', 'Opportunities'],
  OpportunityContactRole: ['Opportunity Contact Role', 'Opportunity Contact Role'],
};

export class OrgSchema {
  private readonly objects = new Map<SalesforceObjectType, Map<string, FieldDef>>();
  /** Bumped on every change (indexes are rebuilt when it moves). */
  version = 0;

  constructor() {
    for (const type of SALESFORCE_OBJECT_TYPES) {
      const fields = new Map<string, FieldDef>();
      for (const def of [...systemFields().slice(0, 1), ...standardFields(type), ...systemFields().slice(1)]) fields.set(def.name.toLowerCase(), def);
      this.objects.set(type, fields);
    }
  }

  /** The object type named (case-insensitive), if the org has it. */
  objectType(name: string): SalesforceObjectType | undefined {
    const lower = name.toLowerCase();
    return SALESFORCE_OBJECT_TYPES.find((t) => t.toLowerCase() === lower);
  }

  fields(type: SalesforceObjectType): FieldDef[] {
    return [...(this.objects.get(type)?.values() ?? [])];
  }

  /** A field by name, case-insensitive. */
  field(type: SalesforceObjectType, name: string): FieldDef | undefined {
    return this.objects.get(type)?.get(name.toLowerCase());
  }

  /** A reference field by its relationship name (`Account` → AccountId), case-insensitive. */
  relationship(type: SalesforceObjectType, name: string): FieldDef | undefined {
    const lower = name.toLowerCase();
    return this.fields(type).find((f) => f.relationshipName?.toLowerCase() === lower);
  }

  /** Adds or replaces a custom field; `created` is false when one of that name existed. */
  putCustomField(type: SalesforceObjectType, def: FieldDef): { created: boolean } {
    const fields = this.objects.get(type);
    if (!fields) throw new RangeError(`no object ${type}`);
    const existing = fields.get(def.name.toLowerCase());
    fields.set(def.name.toLowerCase(), { ...def, name: existing?.name ?? def.name });
    this.version++;
    return { created: existing === undefined };
  }

  customFieldNames(type: SalesforceObjectType): string[] {
    return this.fields(type)
      .filter((f) => f.custom)
      .map((f) => f.name);
  }

  /** GET /sobjects/{type}/describe (the subset clients read). */
  describe(type: SalesforceObjectType, version: string): Record<string, unknown> {
    const [label, labelPlural] = LABELS[type];
    const base = `/services/data/v${version}/sobjects/${type}`;
    return {
      name: type,
      label,
      labelPlural,
      keyPrefix: KEY_PREFIXES[type],
      custom: false,
      createable: true,
      updateable: true,
      deletable: true,
      queryable: true,
      searchable: type !== 'OpportunityContactRole',
      fields: this.fields(type).map((f) => ({
        name: f.name,
        label: f.label,
        type: f.type,
        soapType: SOAP_TYPES[f.type],
        length: f.length,
        byteLength: f.length * 3,
        precision: f.precision,
        scale: f.scale,
        digits: f.digits,
        unique: f.unique,
        externalId: f.externalId,
        idLookup: f.type === 'id' || f.externalId || f.name === 'Email',
        caseSensitive: f.caseSensitive,
        nillable: f.nillable,
        createable: f.createable,
        updateable: f.updateable,
        defaultedOnCreate: f.defaultedOnCreate,
        defaultValue: f.type === 'boolean' ? f.defaultValue : null,
        calculated: f.calculated,
        custom: f.custom,
        filterable: f.filterable,
        sortable: f.sortable,
        groupable: f.filterable && f.type !== 'double' && f.type !== 'currency' && f.type !== 'percent' && f.type !== 'datetime',
        picklistValues: f.picklistValues,
        restrictedPicklist: f.restrictedPicklist,
        referenceTo: f.referenceTo,
        relationshipName: f.relationshipName,
        extraTypeInfo: f.type === 'textarea' ? (f.length > 255 ? 'plaintextarea' : null) : null,
      })),
      childRelationships: [],
      recordTypeInfos: [],
      urls: { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` },
    };
  }

  /** GET /sobjects (describeGlobal). */
  describeGlobal(version: string): Record<string, unknown> {
    return {
      encoding: 'UTF-8',
      maxBatchSize: 200,
      sobjects: SALESFORCE_OBJECT_TYPES.map((type) => {
        const base = `/services/data/v${version}/sobjects/${type}`;
        return {
          name: type,
          label: LABELS[type][0],
          labelPlural: LABELS[type][1],
          keyPrefix: KEY_PREFIXES[type],
          custom: false,
          createable: true,
          updateable: true,
          queryable: true,
          urls: { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` },
        };
      }),
    };
  }
}

const SOAP_TYPES: Record<FieldType, string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  string: 'xsd:string',
  email: 'xsd:string',
  phone: 'xsd:string',
  url: 'xsd:string',
  textarea: 'xsd:string',
  picklist: 'xsd:string',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
  int: 'xsd:int',
  boolean: 'xsd:boolean',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
};

// --- values --------------------------------------------------------------------------------------------

/** Salesforce's date-time form: `2026-01-05T09:00:00.000+0000`. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;

/** A `YYYY-MM-DD` that is a real calendar day. */
export function parseDate(text: string): string | null {
  const m = DATE.exec(text);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === text ? text : null;
}

/** An ISO 8601 date-time (offset optional: UTC) as epoch ms. */
export function parseDateTimeMs(text: string): number | null {
  const m = DATETIME.exec(text);
  if (!m) return null;
  if (parseDate(`${m[1]}-${m[2]}-${m[3]}`) === null) return null;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return null;
  const millis = m[7] ? Math.round(Number(`0${m[7]}`) * 1000) : 0;
  let ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), millis);
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return ms;
}

/** [INFER] Salesforce's email check, simplified: ASCII, one @, a dot in the domain, no spaces. */
export function isValidEmail(email: string): boolean {
  return /^[\x21-\x7e]+$/.test(email) && /^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$/.test(email) && !email.includes('..');
}

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A value as stored, from JSON (`source: 'json'`) or a CSV cell (`'csv'`: always text). Throws a
 * RecordError for a value the field cannot hold. '' is null (Salesforce stores no empty strings).
 * Reference existence is checked by the caller.
 */
export function coerceValue(def: FieldDef, raw: unknown, source: 'json' | 'csv'): FieldValue {
  if (raw === null || raw === undefined) return null;
  const label = def.label;
  const notOfType = (): Error => recordError('INVALID_TYPE_ON_FIELD_IN_RECORD', `${label}: value not of required type: ${typeof raw === 'string' ? raw : JSON.stringify(raw)}`, [def.name]);
  switch (def.type) {
    case 'double':
    case 'currency':
    case 'percent':
    case 'int': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string') {
        const text = raw.trim();
        if (text === '') return null;
        if (!NUMBER_TEXT.test(text)) throw notOfType();
        n = Number(text);
      } else throw notOfType();
      if (!Number.isFinite(n)) throw notOfType();
      if (def.type === 'int' && !Number.isInteger(n)) throw notOfType();
      const factor = 10 ** def.scale;
      const rounded = Math.round(n * factor) / factor;
      const maxInteger = def.precision > 0 ? 10 ** (def.precision - def.scale) : Number.POSITIVE_INFINITY;
      if (Math.abs(rounded) >= maxInteger) {
        throw recordError('NUMBER_OUTSIDE_VALID_RANGE', `${label}: value outside of valid range on numeric field: ${String(n)}`, [def.name]);
      }
      return rounded;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string') {
        const text = raw.trim().toLowerCase();
        if (text === 'true' || (source === 'csv' && text === '1')) return true;
        if (text === 'false' || (source === 'csv' && text === '0')) return false;
        if (text === '') return null;
      }
      throw notOfType();
    }
    case 'date': {
      if (typeof raw !== 'string') throw notOfType();
      if (raw === '') return null;
      const date = parseDate(raw) ?? (source === 'csv' ? parseDate(raw.slice(0, 10)) : null);
      if (date === null) throw notOfType();
      return date;
    }
    case 'datetime': {
      if (typeof raw !== 'string') throw notOfType();
      if (raw === '') return null;
      const ms = parseDateTimeMs(raw) ?? (parseDate(raw) !== null ? Date.parse(`${raw}T00:00:00Z`) : null);
      if (ms === null) throw notOfType();
      return formatDateTime(ms);
    }
    default: {
      let text: string;
      if (typeof raw === 'string') text = raw;
      else if (typeof raw === 'number' || typeof raw === 'boolean') text = String(raw);
      else throw notOfType();
      if (text === '') return null;
      if (def.type === 'id' || def.type === 'reference') {
        const id = normalizeId(text);
        const target = def.referenceTo[0];
        if (id === null || (target !== undefined && objectTypeOfId(id) !== target)) {
          throw recordError('MALFORMED_ID', `${label}: id value of incorrect type: ${text}`, [def.name]);
        }
        return id;
      }
      if (text.length > def.length) {
        const shown = text.length > 80 ? `${text.slice(0, 80)}(truncated)` : text;
        throw recordError('STRING_TOO_LONG', `${label}: data value too large: ${shown} (max length=${def.length})`, [def.name]);
      }
      if (def.type === 'email' && !isValidEmail(text)) throw recordError('INVALID_EMAIL_ADDRESS', `${label}: invalid email address: ${text}`, [def.name]);
      if (def.type === 'picklist' && def.restrictedPicklist && !def.picklistValues.some((v) => v.value === text)) {
        throw recordError('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${label}: bad value for restricted picklist field: ${text}`, [def.name]);
      }
      return text;
    }
  }
}

/** The value's key in a unique / external-id / email index (case folded unless the field is case-sensitive). */
export function indexKey(def: FieldDef, value: FieldValue): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return def.caseSensitive ? value : value.toLowerCase();
  return String(value);
}
