/**
 * The Metadata API's SOAP endpoint (POST /services/Soap/m/{version}), for what an installer needs:
 * upsertMetadata / createMetadata / updateMetadata / readMetadata of CustomField and PermissionSet.
 * Results are per component (`success false` + `errors` for a bad one, never a fault); faults are for the
 * whole call (session, limits, unknown operation, too many components).
 *
 * The envelope jsforce 3 sends (soap.js `_createEnvelope`, metadata.js `_invoke`): the session id in
 * `soapenv:Header/SessionHeader/sessionId` (no Authorization header), the call as the first element of
 * `soapenv:Body`, each component a `<metadata xsi:type="CustomField">`. jsforce reads the answer with
 * xml2js and looks for `*:Envelope` → `*:Body` → the first child, so the Body carries no attributes.
 * It is parsed here with xml2js too (installed with jsforce, which parses SOAP with it).
 */
import * as xml2js from 'xml2js';
import type { OrgContext } from './records';
import { customFieldFromMetadata } from './schema';
import { METADATA_COMPONENT_LIMIT, SALESFORCE_OBJECT_TYPES, type CustomFieldMetadata, type PermissionSetMetadata } from './types';

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlNode[];
}

/** A SOAP fault (HTTP 500): `<faultcode>sf:CODE</faultcode><faultstring>CODE: message</faultstring>`. */
export class SoapFault extends Error {
  constructor(
    readonly faultcode: string,
    message: string,
  ) {
    super(message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** xml2js's explicitArray form as a plain tree (prefixes stripped; child order is grouped by name). */
function toNode(name: string, value: unknown): XmlNode {
  if (typeof value === 'string') return { name, attrs: {}, text: value.trim(), children: [] };
  if (!isObject(value)) return { name, attrs: {}, text: '', children: [] };
  const attrs: Record<string, string> = {};
  if (isObject(value.$)) for (const [k, v] of Object.entries(value.$)) attrs[k] = String(v);
  const children: XmlNode[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k === '$' || k === '_') continue;
    for (const item of Array.isArray(v) ? v : [v]) children.push(toNode(k, item));
  }
  return { name, attrs, text: typeof value._ === 'string' ? value._.trim() : '', children };
}

export async function parseXml(xml: string): Promise<XmlNode> {
  let parsed: unknown;
  try {
    parsed = await xml2js.parseStringPromise(xml, {
      explicitArray: true,
      explicitRoot: true,
      tagNameProcessors: [(name) => xml2js.processors.stripPrefix(name)],
      attrNameProcessors: [(name) => xml2js.processors.stripPrefix(name)],
    });
  } catch (err) {
    throw new SoapFault('soapenv:Client', `Could not parse the request: ${err instanceof Error ? err.message.split('\n')[0] : 'invalid XML'}`);
  }
  if (!isObject(parsed)) throw new SoapFault('soapenv:Client', 'Empty request');
  const [rootName, rootValue] = Object.entries(parsed)[0] ?? ['', undefined];
  return toNode(rootName, rootValue);
}

const child = (node: XmlNode | undefined, name: string): XmlNode | undefined => node?.children.find((c) => c.name === name);
const childrenNamed = (node: XmlNode | undefined, name: string): XmlNode[] => node?.children.filter((c) => c.name === name) ?? [];
const textOf = (node: XmlNode | undefined, name: string): string | undefined => child(node, name)?.text;

function intOf(node: XmlNode, name: string): number | undefined {
  const text = textOf(node, name);
  return text === undefined || text === '' ? undefined : Number(text);
}

function boolOf(node: XmlNode, name: string): boolean | undefined {
  const text = textOf(node, name);
  return text === undefined ? undefined : text === 'true';
}

export interface SoapRequest {
  sessionId: string | undefined;
  method: string;
  call: XmlNode;
}

export async function parseSoapRequest(xml: string): Promise<SoapRequest> {
  const envelope = await parseXml(xml);
  if (envelope.name !== 'Envelope') throw new SoapFault('soapenv:Client', 'Expected a SOAP Envelope');
  const sessionId = textOf(child(child(envelope, 'Header'), 'SessionHeader'), 'sessionId');
  const call = child(envelope, 'Body')?.children[0];
  if (!call) throw new SoapFault('soapenv:Client', 'Expected an operation in the SOAP Body');
  return { sessionId, method: call.name, call };
}

// --- XML out -----------------------------------------------------------------------------------------

export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

type XmlValue = string | number | boolean | null | undefined | XmlValue[] | { [key: string]: XmlValue };

function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (value === null) return `<${name} xsi:nil="true"/>`;
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join('');
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value)
      .map(([k, v]) => toXml(k, v))
      .join('')}</${name}>`;
  }
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

const ENVELOPE_OPEN =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sf="http://soap.sforce.com/2006/04/metadata"><soapenv:Body>';
const ENVELOPE_CLOSE = '</soapenv:Body></soapenv:Envelope>';

export function soapResponse(method: string, inner: string): string {
  return `${ENVELOPE_OPEN}<${method}Response>${inner}</${method}Response>${ENVELOPE_CLOSE}`;
}

export function soapFaultXml(fault: SoapFault): string {
  const code = fault.faultcode.replace(/^sf:/, '');
  const text = fault.faultcode.startsWith('sf:') ? `${code}: ${fault.message}` : fault.message;
  return `${ENVELOPE_OPEN}<soapenv:Fault><faultcode>${xmlEscape(fault.faultcode)}</faultcode><faultstring>${xmlEscape(text)}</faultstring></soapenv:Fault>${ENVELOPE_CLOSE}`;
}

// --- the service ---------------------------------------------------------------------------------------

interface ComponentError {
  statusCode: string;
  message: string;
  fields: string[];
}

type ComponentResult = { fullName: string; created: boolean; success: true } | { fullName: string; created: false; success: false; errors: ComponentError[] };

function resultXml(result: ComponentResult, withCreated: boolean): string {
  return toXml('result', {
    ...(withCreated ? { created: result.created } : {}),
    ...(result.success ? {} : { errors: result.errors.map((e) => ({ fields: e.fields, message: e.message, statusCode: e.statusCode })) }),
    fullName: result.fullName,
    success: result.success,
  });
}

/** A `<metadata xsi:type="CustomField">` element as the sandbox's CustomField shape. */
export function customFieldOf(node: XmlNode): CustomFieldMetadata {
  const valueSet = child(node, 'valueSet');
  const definition = child(valueSet, 'valueSetDefinition');
  const md: CustomFieldMetadata = { fullName: textOf(node, 'fullName') ?? '' };
  const label = textOf(node, 'label');
  const type = textOf(node, 'type');
  if (label !== undefined) md.label = label;
  if (type !== undefined) md.type = type;
  for (const key of ['length', 'precision', 'scale', 'visibleLines'] as const) {
    const n = intOf(node, key);
    if (n !== undefined) md[key] = n;
  }
  for (const key of ['externalId', 'unique', 'caseSensitive', 'required'] as const) {
    const b = boolOf(node, key);
    if (b !== undefined) md[key] = b;
  }
  for (const key of ['defaultValue', 'description', 'inlineHelpText'] as const) {
    const t = textOf(node, key);
    if (t !== undefined) md[key] = t;
  }
  if (valueSet) {
    md.valueSet = {
      ...(boolOf(valueSet, 'restricted') !== undefined ? { restricted: boolOf(valueSet, 'restricted') } : {}),
      valueSetDefinition: {
        sorted: boolOf(definition ?? valueSet, 'sorted') === true,
        value: childrenNamed(definition, 'value').map((v) => ({
          fullName: textOf(v, 'fullName') ?? '',
          label: textOf(v, 'label') ?? textOf(v, 'fullName') ?? '',
          default: boolOf(v, 'default') === true,
        })),
      },
    };
  }
  return md;
}

function permissionSetOf(node: XmlNode): PermissionSetMetadata {
  return {
    fullName: textOf(node, 'fullName') ?? '',
    label: textOf(node, 'label') ?? '',
    fieldPermissions: childrenNamed(node, 'fieldPermissions').map((fp) => ({
      field: textOf(fp, 'field') ?? '',
      readable: boolOf(fp, 'readable') === true,
      editable: boolOf(fp, 'editable') === true,
    })),
  };
}

type Mode = 'create' | 'update' | 'upsert';

export class MetadataService {
  private readonly permissionSets = new Map<string, PermissionSetMetadata>();

  constructor(private readonly ctx: OrgContext) {}

  listPermissionSets(): PermissionSetMetadata[] {
    return [...this.permissionSets.values()].map((p) => structuredClone(p));
  }

  /** One CustomField component. */
  putCustomField(md: CustomFieldMetadata, mode: Mode): ComponentResult {
    const fullName = md.fullName;
    const fail = (statusCode: string, message: string, fields: string[] = []): ComponentResult => ({ fullName, created: false, success: false, errors: [{ statusCode, message, fields }] });
    const parsed = customFieldFromMetadata(md);
    if ('statusCode' in parsed) return fail(parsed.statusCode, parsed.message, parsed.fields);
    const existing = this.ctx.schema.field(parsed.type, parsed.def.name);
    if (existing && !existing.custom) return fail('FIELD_INTEGRITY_EXCEPTION', `Cannot modify the standard field ${fullName} as a CustomField`, ['fullName']);
    if (existing && mode === 'create') return fail('DUPLICATE_DEVELOPER_NAME', `There is already a field named ${parsed.def.name} on ${parsed.type}.`, ['fullName']);
    if (!existing && mode === 'update') return fail('INVALID_CROSS_REFERENCE_KEY', `In field: fullName - no CustomField named ${fullName} found`, ['fullName']);
    if (existing && existing.type !== parsed.def.type) {
      // [INFER] A type change is refused while any record holds a value.
      const holder = this.ctx.store.all(parsed.type).find((r) => r[existing.name] !== undefined && r[existing.name] !== null);
      if (holder) return fail('FIELD_INTEGRITY_EXCEPTION', `Cannot change the type of ${fullName}: record ${holder.Id} has a value in it`, ['type']);
    }
    const { created } = this.ctx.schema.putCustomField(parsed.type, parsed.def);
    return { fullName, created, success: true };
  }

  private putPermissionSet(ps: PermissionSetMetadata, mode: Mode): ComponentResult {
    const fullName = ps.fullName;
    const fail = (statusCode: string, message: string, fields: string[] = []): ComponentResult => ({ fullName, created: false, success: false, errors: [{ statusCode, message, fields }] });
    if (!/^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$/.test(fullName) || fullName.endsWith('_')) return fail('FIELD_INTEGRITY_EXCEPTION', `Invalid PermissionSet name: ${fullName}`, ['fullName']);
    const existing = this.permissionSets.get(fullName.toLowerCase());
    if (existing && mode === 'create') return fail('DUPLICATE_DEVELOPER_NAME', `A permission set named ${fullName} already exists`, ['fullName']);
    if (!existing && mode === 'update') return fail('INVALID_CROSS_REFERENCE_KEY', `In field: fullName - no PermissionSet named ${fullName} found`, ['fullName']);
    if (!existing && ps.label === '') return fail('FIELD_INTEGRITY_EXCEPTION', 'Must specify label for a PermissionSet', ['label']);
    for (const fp of ps.fieldPermissions) {
      const [objectName = '', fieldName = ''] = fp.field.split('.');
      const type = SALESFORCE_OBJECT_TYPES.find((t) => t === objectName);
      const def = type === undefined ? undefined : this.ctx.schema.field(type, fieldName);
      if (!def) return fail('INVALID_CROSS_REFERENCE_KEY', `In field: field - no CustomField named ${fp.field} found`, ['field']);
      if (def.required) return fail('FIELD_INTEGRITY_EXCEPTION', `You cannot deploy to a required field: ${fp.field}`, ['field']);
      if (fp.editable && !fp.readable) return fail('FIELD_INTEGRITY_EXCEPTION', `Field permission on ${fp.field}: an editable field must be readable`, ['field']);
    }
    // [INFER] Field permissions merge by field (those not named are kept), as a deploy does.
    const merged = new Map((existing?.fieldPermissions ?? []).map((fp) => [fp.field.toLowerCase(), fp]));
    for (const fp of ps.fieldPermissions) merged.set(fp.field.toLowerCase(), fp);
    this.permissionSets.set(fullName.toLowerCase(), { fullName: existing?.fullName ?? fullName, label: ps.label || existing?.label || fullName, fieldPermissions: [...merged.values()] });
    return { fullName, created: existing === undefined, success: true };
  }

  private putComponent(node: XmlNode, mode: Mode): ComponentResult {
    const type = node.attrs.type ?? '';
    if (type === 'CustomField') return this.putCustomField(customFieldOf(node), mode);
    if (type === 'PermissionSet') return this.putPermissionSet(permissionSetOf(node), mode);
    const fullName = textOf(node, 'fullName') ?? '';
    return {
      fullName,
      created: false,
      success: false,
      errors: [{ statusCode: 'INVALID_TYPE', message: `The Salesforce sandbox's Metadata API handles CustomField and PermissionSet only, not ${type || '(no xsi:type)'}`, fields: [] }],
    };
  }

  /** The response XML of one call (throws SoapFault for an unknown operation or too many components). */
  invoke(request: SoapRequest): string {
    const { method, call } = request;
    const modes: Record<string, Mode> = { upsertMetadata: 'upsert', createMetadata: 'create', updateMetadata: 'update' };
    const mode = modes[method];
    if (mode) {
      const components = childrenNamed(call, 'metadata');
      if (components.length > METADATA_COMPONENT_LIMIT) {
        throw new SoapFault('sf:EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${METADATA_COMPONENT_LIMIT} records in this operation`);
      }
      const results = components.map((c) => this.putComponent(c, mode));
      return soapResponse(method, results.map((r) => resultXml(r, mode === 'upsert')).join(''));
    }
    if (method === 'readMetadata') {
      const type = textOf(call, 'type');
      const names = childrenNamed(call, 'fullNames').map((n) => n.text);
      if (names.length > METADATA_COMPONENT_LIMIT) {
        throw new SoapFault('sf:EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${METADATA_COMPONENT_LIMIT} records in this operation`);
      }
      const records = names.map((name) => this.read(type ?? '', name));
      return soapResponse(method, `<result>${records.join('')}</result>`);
    }
    throw new SoapFault('soapenv:Client', `No operation available for request {http://soap.sforce.com/2006/04/metadata}${method}`);
  }

  private read(type: string, fullName: string): string {
    if (type === 'CustomField') {
      const [objectName = '', fieldName = ''] = fullName.split('.');
      const objectType = SALESFORCE_OBJECT_TYPES.find((t) => t === objectName);
      const def = objectType === undefined ? undefined : this.ctx.schema.field(objectType, fieldName);
      if (def?.custom && def.metadata) {
        const md = { ...def.metadata, fullName: `${objectName}.${def.name}` };
        return toXml('records', md).replace('<records>', '<records xsi:type="CustomField">');
      }
    }
    if (type === 'PermissionSet') {
      const ps = this.permissionSets.get(fullName.toLowerCase());
      if (ps) return toXml('records', { fullName: ps.fullName, label: ps.label, fieldPermissions: ps.fieldPermissions.map((fp) => ({ ...fp })) }).replace('<records>', '<records xsi:type="PermissionSet">');
    }
    // [INFER] A component that does not exist reads as an empty record.
    return '<records xsi:nil="true"/>';
  }
}
