/**
 * A small OpenAPI 3 checker over HubSpot's own specs (/work/shared/specs/hubspot, beside every checkout),
 * for the sandbox tests and for nock contract tests of the requests orbit-sync sends.
 *
 * - `findOperation(method, path)` finds the operation in any spec file. Paths may be the SDK's literal
 *   paths (`/crm/v3/objects/deals/batch/read`), full URLs, or carry a query string; a spec's templates
 *   (`{objectType}`) match any segment, and object type names match their ids (`deals` ↔ `0-3`: the deals
 *   spec is written against `/crm/v3/objects/0-3/...`). Each spec's `servers[0].url` path (or a Swagger
 *   `basePath`) is joined in front of its path keys. The most literal match wins.
 * - `requestViolations(method, path, body)` checks a request body (JSON, or a form as a string,
 *   URLSearchParams or plain object) against the operation's requestBody schema.
 * - `responseViolations(method, path, status, body)` checks that the status is one the operation lists
 *   (`default` only counts for 4xx/5xx: the SDK throws on an unlisted 2xx) and validates the body.
 * - `schemaViolations(spec, schema, value)` / `componentViolations(file, name, value)` validate values.
 *
 * Schema support: $ref (any local JSON pointer), allOf (every branch), oneOf/anyOf (any branch passes),
 * required, type (with `nullable`), enum, items, properties, additionalProperties (false, true or a
 * schema), format date-time/uuid. Every function returns a list of `path: problem` strings; empty = valid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const HUBSPOT_SPECS_DIR = process.env.HUBSPOT_SPECS_DIR ?? path.resolve(__dirname, '../../../shared/specs/hubspot');

export interface OpenApiSchema {
  $ref?: string;
  type?: string;
  format?: string;
  nullable?: boolean;
  required?: string[];
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  enum?: unknown[];
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
}

interface MediaType {
  schema?: OpenApiSchema;
}

interface OpenApiResponse {
  $ref?: string;
  content?: Record<string, MediaType>;
}

export interface OpenApiOperationObject {
  operationId?: string;
  requestBody?: { $ref?: string; required?: boolean; content?: Record<string, MediaType> };
  responses: Record<string, OpenApiResponse>;
}

export interface OpenApiSpec {
  /** File name inside the specs folder. */
  file: string;
  servers?: Array<{ url: string }>;
  basePath?: string;
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, OpenApiSchema>; responses?: Record<string, OpenApiResponse> };
}

export interface FoundOperation {
  spec: OpenApiSpec;
  method: string;
  /** The spec's path key, e.g. `/crm/v3/objects/0-3/batch/read`. */
  template: string;
  operation: OpenApiOperationObject;
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

/** Object type names and their ids: a literal segment matches any of its aliases. */
const SEGMENT_ALIASES: ReadonlyArray<readonly string[]> = [
  ['contacts', 'contact', '0-1'],
  ['companies', 'company', '0-2'],
  ['deals', 'deal', '0-3'],
];

let cache: { dir: string; specs: OpenApiSpec[] } | undefined;

/** Every `*.json` spec in the folder, parsed once. */
export function loadSpecs(dir: string = HUBSPOT_SPECS_DIR): OpenApiSpec[] {
  if (cache?.dir === dir) return cache.specs;
  const specs = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ ...(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Omit<OpenApiSpec, 'file'>), file }));
  cache = { dir, specs };
  return specs;
}

/** One spec by file name (`crm-contacts-v3.json`). */
export function loadSpec(file: string, dir: string = HUBSPOT_SPECS_DIR): OpenApiSpec {
  const spec = loadSpecs(dir).find((s) => s.file === file);
  if (!spec) throw new Error(`No OpenAPI spec ${file} in ${dir}`);
  return spec;
}

function prefixOf(spec: OpenApiSpec): string {
  let prefix = spec.basePath ?? '';
  const server = spec.servers?.[0]?.url;
  if (server !== undefined) {
    try {
      prefix = new URL(server).pathname;
    } catch {
      prefix = server.startsWith('/') ? server : '';
    }
  }
  return prefix.replace(/\/+$/, '');
}

function pathnameOf(raw: string): string {
  const pathname = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? new URL(raw).pathname : (raw.split(/[?#]/)[0] ?? '');
  return pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
}

function segmentMatches(template: string, actual: string): boolean {
  if (template === actual) return true;
  const decoded = safeDecode(actual);
  if (template === decoded) return true;
  return SEGMENT_ALIASES.some((group) => group.includes(template) && group.includes(decoded));
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Literal segments matched, or -1 when the template does not match the path. */
function matchScore(template: string, pathname: string): number {
  const t = template.split('/');
  const p = pathname.split('/');
  if (t.length !== p.length) return -1;
  let literal = 0;
  for (let i = 0; i < t.length; i++) {
    const ts = t[i] ?? '';
    const ps = p[i] ?? '';
    if (/^\{[^}]+\}$/.test(ts)) {
      if (ps === '') return -1;
      continue;
    }
    if (!segmentMatches(ts, ps)) return -1;
    literal++;
  }
  return literal;
}

/** The operation for `method` + `path` across every spec file, or undefined. */
export function findOperation(method: string, rawPath: string, dir: string = HUBSPOT_SPECS_DIR): FoundOperation | undefined {
  const m = method.toLowerCase();
  const pathname = pathnameOf(rawPath);
  let best: { found: FoundOperation; score: number } | undefined;
  for (const spec of loadSpecs(dir)) {
    const prefix = prefixOf(spec);
    for (const [key, item] of Object.entries(spec.paths)) {
      const op = item[m];
      if (!HTTP_METHODS.has(m) || typeof op !== 'object' || op === null || !('responses' in op)) continue;
      const score = matchScore(`${prefix}${key}`, pathname);
      if (score < 0 || (best && best.score >= score)) continue;
      best = { found: { spec, method: m, template: key, operation: op as OpenApiOperationObject }, score };
    }
  }
  return best?.found;
}

function resolvePointer(spec: OpenApiSpec, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = spec;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every violation of `schema` by `value` as `path: problem`; an empty list means the value matches. */
export function schemaViolations(spec: OpenApiSpec, schema: OpenApiSchema, value: unknown, at = '$', depth = 0): string[] {
  if (depth > 64) return [`${at}: schema nesting too deep (recursive $ref?)`];
  if (schema.$ref !== undefined) {
    const target = resolvePointer(spec, schema.$ref);
    if (typeof target !== 'object' || target === null) return [`${at}: unknown $ref ${schema.$ref}`];
    return schemaViolations(spec, target, value, at, depth + 1);
  }
  if (value === null) {
    if (schema.nullable === true) return [];
    if (schema.type !== undefined || schema.properties !== undefined || schema.items !== undefined) return [`${at}: null is not allowed`];
  }
  const out: string[] = [];
  for (const sub of schema.allOf ?? []) out.push(...schemaViolations(spec, sub, value, at, depth + 1));
  for (const [keyword, branches] of [
    ['oneOf', schema.oneOf],
    ['anyOf', schema.anyOf],
  ] as const) {
    if (!branches || branches.length === 0) continue;
    const results = branches.map((b) => schemaViolations(spec, b, value, at, depth + 1));
    if (!results.some((r) => r.length === 0)) {
      out.push(`${at}: matches no ${keyword} branch (${results.map((r, i) => `#${i}: ${r[0] ?? ''}`).join('; ')})`);
    }
  }
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${describe(value)} not in enum ${describe(schema.enum)}`);
  const type = schema.type ?? (schema.properties !== undefined || schema.additionalProperties !== undefined ? 'object' : undefined);
  switch (type) {
    case 'string':
      if (typeof value !== 'string') return [...out, `${at}: expected string, got ${describe(value)}`];
      if (schema.format === 'date-time' && (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(Date.parse(value)))) {
        out.push(`${at}: ${describe(value)} is not a date-time`);
      }
      if (schema.format === 'uuid' && !UUID_RE.test(value)) out.push(`${at}: ${describe(value)} is not a uuid`);
      return out;
    case 'boolean':
      return typeof value === 'boolean' ? out : [...out, `${at}: expected boolean, got ${describe(value)}`];
    case 'integer':
      return Number.isInteger(value) ? out : [...out, `${at}: expected integer, got ${describe(value)}`];
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? out : [...out, `${at}: expected number, got ${describe(value)}`];
    case 'array':
      if (!Array.isArray(value)) return [...out, `${at}: expected array, got ${describe(value)}`];
      if (schema.items) {
        const items = schema.items;
        value.forEach((v, i) => out.push(...schemaViolations(spec, items, v, `${at}[${i}]`, depth + 1)));
      }
      return out;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [...out, `${at}: expected object, got ${describe(value)}`];
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? []) if (!(key in record) || record[key] === undefined) out.push(`${at}: missing required ${key}`);
      for (const [key, v] of Object.entries(record)) {
        if (v === undefined) continue;
        const declared = schema.properties?.[key];
        if (declared) {
          out.push(...schemaViolations(spec, declared, v, `${at}.${key}`, depth + 1));
        } else if (schema.additionalProperties === false) {
          out.push(`${at}: unexpected property ${key}`);
        } else if (typeof schema.additionalProperties === 'object') {
          out.push(...schemaViolations(spec, schema.additionalProperties, v, `${at}.${key}`, depth + 1));
        }
      }
      return out;
    }
    default:
      return out;
  }
}

/** Violations of the named component schema (`components.schemas[name]`) of one spec file. */
export function componentViolations(file: string, name: string, value: unknown): string[] {
  const spec = loadSpec(file);
  if (!spec.components?.schemas?.[name]) return [`$: ${file} has no schema ${name}`];
  return schemaViolations(spec, { $ref: `#/components/schemas/${name}` }, value);
}

function resolveResponse(spec: OpenApiSpec, response: OpenApiResponse): OpenApiResponse {
  let current = response;
  for (let i = 0; i < 8 && current.$ref !== undefined; i++) {
    const target = resolvePointer(spec, current.$ref);
    if (typeof target !== 'object' || target === null) break;
    current = target;
  }
  return current;
}

function pickMedia(content: Record<string, MediaType> | undefined, preferForm: boolean): { type: string; media: MediaType } | undefined {
  if (!content) return undefined;
  const entries = Object.entries(content);
  const order = preferForm
    ? ['application/x-www-form-urlencoded', 'application/json', '*/*']
    : ['application/json', 'application/x-www-form-urlencoded', '*/*'];
  for (const type of order) {
    const media = content[type];
    if (media) return { type, media };
  }
  const first = entries[0];
  return first ? { type: first[0], media: first[1] } : undefined;
}

function formToObject(body: unknown): Record<string, string> | undefined {
  if (typeof body === 'string') return Object.fromEntries(new URLSearchParams(body));
  if (body instanceof URLSearchParams) return Object.fromEntries(body);
  return undefined;
}

function notFound(method: string, rawPath: string): string[] {
  return [`${method.toUpperCase()} ${pathnameOf(rawPath)}: no such operation in ${HUBSPOT_SPECS_DIR}`];
}

/**
 * Violations of a request body against the operation's requestBody schema. JSON bodies may be passed
 * parsed or as a JSON string; form bodies as a string, URLSearchParams or a plain object.
 */
export function requestViolations(method: string, rawPath: string, body: unknown): string[] {
  const found = findOperation(method, rawPath);
  if (!found) return notFound(method, rawPath);
  const requestBody = found.operation.requestBody;
  const at = `${method.toUpperCase()} ${found.template} request`;
  if (!requestBody) return body === undefined || body === '' ? [] : [`${at}: the operation takes no request body`];
  if (body === undefined) return requestBody.required === true ? [`${at}: a request body is required`] : [];
  const isForm = typeof body === 'string' ? !/^\s*[[{]/.test(body) : body instanceof URLSearchParams;
  const media = pickMedia(requestBody.content, isForm);
  if (!media?.media.schema) return [];
  let value: unknown = body;
  if (media.type === 'application/x-www-form-urlencoded') {
    value = formToObject(body) ?? body;
  } else if (typeof body === 'string') {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      return [`${at}: body is not JSON`];
    }
  }
  return schemaViolations(found.spec, media.media.schema, value, '$').map((v) => `${at} ${v}`);
}

/**
 * Violations of a response: the status must be listed for the operation (`default` is accepted only
 * for 4xx/5xx statuses, because the SDK throws on any 2xx it does not list), and the body must match the
 * schema of that status's JSON content. Bodies may be parsed JSON or a JSON string.
 */
export function responseViolations(method: string, rawPath: string, status: number, body: unknown): string[] {
  const found = findOperation(method, rawPath);
  if (!found) return notFound(method, rawPath);
  const at = `${method.toUpperCase()} ${found.template} ${status}`;
  const responses = found.operation.responses;
  const range = `${String(status).charAt(0)}XX`;
  let response = responses[String(status)] ?? responses[range] ?? responses[range.toLowerCase()];
  if (!response && status >= 400) response = responses.default;
  if (!response) return [`${at}: status ${status} is not listed (listed: ${Object.keys(responses).join(', ')})`];
  const resolved = resolveResponse(found.spec, response);
  const media = pickMedia(resolved.content, false);
  if (!media?.media.schema) {
    return body === undefined || body === '' || body === null ? [] : [`${at}: the spec lists no body for this status`];
  }
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      return [`${at}: body is not JSON`];
    }
  }
  return schemaViolations(found.spec, media.media.schema, value, '$').map((v) => `${at} ${v}`);
}
