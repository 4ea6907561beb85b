/**
 * POST /crm/v3/objects/{type}/search: filterGroups (OR of groups, AND of filters), the association
 * pseudo-properties, `query`, sorts, properties and `after` paging, with HubSpot's limits.
 */
import { z } from 'zod';
import { parseBody, validationError } from './errors';
import type { OpResult, PortalContext, StoredRecord } from './records';
import { DEFAULT_READ_PROPERTIES, LAST_MODIFIED_PROPERTY, parseObjectType, parseTimestamp } from './schema';
import {
  SEARCH_MAX_FILTER_GROUPS,
  SEARCH_MAX_FILTERS,
  SEARCH_MAX_FILTERS_PER_GROUP,
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_RESULTS,
  type HubspotObjectType,
  type HubspotProperty,
} from './types';

const OPERATORS = [
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
] as const;
type Operator = (typeof OPERATORS)[number];

/** Filter values may arrive as numbers or booleans; HubSpot reads them as strings. */
const Scalar = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

const FilterBody = z.object({
  propertyName: z.string().min(1),
  operator: z.enum(OPERATORS),
  value: Scalar.optional(),
  highValue: Scalar.optional(),
  values: z.array(Scalar).optional(),
});
type Filter = z.infer<typeof FilterBody>;

/**
 * `PublicObjectSearchRequest`. [INFER] The spec marks after, filterGroups, limit, properties and sorts
 * required; HubSpot accepts requests without them, and so does the sandbox (defaults: no filters,
 * limit 10, the object's default properties, ascending record id).
 */
const SearchBody = z.object({
  query: z.string().max(3000).optional(),
  filterGroups: z.array(z.object({ filters: z.array(FilterBody) })).optional(),
  properties: z.array(z.string()).optional(),
  sorts: z
    .array(z.union([z.string(), z.object({ propertyName: z.string(), direction: z.enum(['ASCENDING', 'DESCENDING']).optional() })]))
    .optional(),
  limit: z.number().int().min(0).optional(),
  after: z.union([z.string(), z.number()]).optional(),
});

/** Properties `query` looks in. */
const QUERY_PROPERTIES: Record<HubspotObjectType, readonly string[]> = {
  contacts: ['firstname', 'lastname', 'email', 'phone', 'company', 'hs_additional_emails'],
  companies: ['name', 'domain', 'website', 'phone'],
  deals: ['dealname'],
};

type Comparable = { kind: 'number'; n: number } | { kind: 'string'; s: string };

function comparable(property: HubspotProperty | undefined, raw: string): Comparable | undefined {
  const type = property?.type ?? 'string';
  if (type === 'number') {
    const n = Number(raw.trim());
    return raw.trim() === '' || Number.isNaN(n) ? undefined : { kind: 'number', n };
  }
  if (type === 'datetime' || type === 'date') {
    const n = parseTimestamp(raw);
    return n === undefined ? undefined : { kind: 'number', n };
  }
  // [INFER] Strings, enumerations and booleans compare case-insensitively.
  return { kind: 'string', s: raw.toLowerCase() };
}

function compare(a: Comparable, b: Comparable): number {
  if (a.kind === 'number' && b.kind === 'number') return a.n - b.n;
  const x = a.kind === 'number' ? String(a.n) : a.s;
  const y = b.kind === 'number' ? String(b.n) : b.s;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Lower-cased words of a value: the whole value, its whitespace-separated words and its alphanumeric runs. */
function tokens(value: string): string[] {
  const lower = value.toLowerCase();
  return [lower, ...lower.split(/\s+/), ...lower.split(/[^\p{L}\p{N}]+/u)].filter((t) => t !== '');
}

function tokenMatches(value: string, pattern: string): boolean {
  const p = pattern.toLowerCase().trim();
  if (p === '') return false;
  if (p.includes('*')) {
    const re = new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'u');
    return tokens(value).some((t) => re.test(t));
  }
  return tokens(value).includes(p);
}

const ASSOCIATION_PSEUDO = /^associations\.(.+)$/;
const ASSOCIATION_OPERATORS: readonly Operator[] = ['EQ', 'NEQ', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY'];
const VALUE_OPERATORS: readonly Operator[] = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN', 'BETWEEN'];

/** Checks a filter's shape (400 on problems) and returns its evaluator. */
function compileFilter(ctx: PortalContext, type: HubspotObjectType, filter: Filter): (record: StoredRecord, props: Record<string, string>) => boolean {
  const { propertyName: name, operator } = filter;
  if (VALUE_OPERATORS.includes(operator) && (filter.value === undefined || filter.value === '')) {
    throw validationError(`Filter on ${name} with operator ${operator} needs a value`, { context: { propertyName: [name] } });
  }
  if (operator === 'BETWEEN' && filter.highValue === undefined) {
    throw validationError(`Filter on ${name} with operator BETWEEN needs a highValue`, { context: { propertyName: [name] } });
  }
  if ((operator === 'IN' || operator === 'NOT_IN') && (filter.values === undefined || filter.values.length === 0)) {
    throw validationError(`Filter on ${name} with operator ${operator} needs values`, { context: { propertyName: [name] } });
  }
  const value = filter.value ?? '';
  const values = filter.values ?? [];

  const pseudo = ASSOCIATION_PSEUDO.exec(name);
  if (pseudo) {
    const toType = parseObjectType(pseudo[1]);
    if (!toType || toType === type) throw validationError(`Unknown association pseudo-property ${name}`, { context: { propertyName: [name] } });
    if (!ASSOCIATION_OPERATORS.includes(operator)) {
      throw validationError(`Operator ${operator} is not supported on ${name}`, { context: { propertyName: [name], operator: [operator] } });
    }
    return (record) => {
      const ids = ctx.associations.list(type, record.id, toType).map((a) => a.toId);
      switch (operator) {
        case 'EQ':
          return ids.includes(value.trim());
        case 'NEQ':
          return !ids.includes(value.trim());
        case 'IN':
          return values.some((v) => ids.includes(v.trim()));
        case 'NOT_IN':
          return !values.some((v) => ids.includes(v.trim()));
        case 'HAS_PROPERTY':
          return ids.length > 0;
        default:
          return ids.length === 0;
      }
    };
  }

  const property = ctx.schema.property(type, name);
  // [INFER] Filtering on a property the object does not have is a 400 (HubSpot answers a VALIDATION_ERROR).
  if (!property) throw validationError(`Property ${name} does not exist on ${type}`, { context: { propertyName: [name] } });
  const multi = property.type === 'enumeration' && property.fieldType === 'checkbox';
  const target = comparable(property, value);
  const high = filter.highValue === undefined ? undefined : comparable(property, filter.highValue);
  if ((['LT', 'LTE', 'GT', 'GTE', 'BETWEEN'] as Operator[]).includes(operator) && (target === undefined || (operator === 'BETWEEN' && high === undefined))) {
    throw validationError(`Filter value ${value} is not valid for ${property.type} property ${name}`, { context: { propertyName: [name] } });
  }
  const wanted = values.map((v) => comparable(property, v)).filter((c): c is Comparable => c !== undefined);

  const equalsAny = (raw: string, candidates: readonly Comparable[]): boolean => {
    const parts = multi ? raw.split(';') : [raw];
    return parts.some((part) => {
      const c = comparable(property, part);
      return c !== undefined && candidates.some((w) => compare(c, w) === 0);
    });
  };

  return (_record, props) => {
    const raw = props[name];
    switch (operator) {
      case 'HAS_PROPERTY':
        return raw !== undefined;
      case 'NOT_HAS_PROPERTY':
        return raw === undefined;
      // [INFER] Records without a value match NEQ, NOT_IN and NOT_CONTAINS_TOKEN.
      case 'NEQ':
        return raw === undefined || target === undefined || !equalsAny(raw, [target]);
      case 'NOT_IN':
        return raw === undefined || !equalsAny(raw, wanted);
      case 'NOT_CONTAINS_TOKEN':
        return raw === undefined || !tokenMatches(raw, value);
      default:
        break;
    }
    if (raw === undefined) return false;
    if (operator === 'EQ') return target !== undefined && equalsAny(raw, [target]);
    if (operator === 'IN') return equalsAny(raw, wanted);
    if (operator === 'CONTAINS_TOKEN') return tokenMatches(raw, value);
    const c = comparable(property, raw);
    if (c === undefined || target === undefined) return false;
    const d = compare(c, target);
    switch (operator) {
      case 'LT':
        return d < 0;
      case 'LTE':
        return d <= 0;
      case 'GT':
        return d > 0;
      case 'GTE':
        return d >= 0;
      default:
        return high !== undefined && d >= 0 && compare(c, high) <= 0;
    }
  };
}

interface Sort {
  name: string;
  descending: boolean;
}

function parseSorts(ctx: PortalContext, type: HubspotObjectType, sorts: ReadonlyArray<string | { propertyName: string; direction?: string | undefined }>): Sort[] {
  return sorts.map((s) => {
    const sort: Sort =
      typeof s === 'string'
        ? { name: s.startsWith('-') ? s.slice(1) : s, descending: s.startsWith('-') }
        : { name: s.propertyName, descending: s.direction === 'DESCENDING' };
    if (!ctx.schema.property(type, sort.name)) throw validationError(`Cannot sort by unknown property ${sort.name}`, { context: { propertyName: [sort.name] } });
    return sort;
  });
}

function offsetOf(after: string | number | undefined): number {
  if (after === undefined || after === '') return 0;
  const text = String(after);
  if (!/^\d+$/.test(text)) throw validationError(`Invalid paging cursor after=${text}`, { context: { after: [text] } });
  return Number(text);
}

/**
 * 200 `CollectionResponseWithTotalSimplePublicObject`: `total` (every match), one page of `results`, and
 * `paging.next.after` while more matches follow. 400 for more than 5 filterGroups, 10 filters in a group,
 * 25 filters in all, limit over 200, or a page reaching past the 10,000th result.
 */
export function search(ctx: PortalContext, type: HubspotObjectType, raw: unknown): OpResult {
  const body = parseBody(SearchBody, raw);
  const groups = body.filterGroups ?? [];
  if (groups.length > SEARCH_MAX_FILTER_GROUPS) {
    throw validationError(`Too many filterGroups: ${groups.length}; the maximum is ${SEARCH_MAX_FILTER_GROUPS}`, {
      context: { filterGroups: [String(groups.length)] },
    });
  }
  const crowded = groups.find((g) => g.filters.length > SEARCH_MAX_FILTERS_PER_GROUP);
  if (crowded) {
    throw validationError(`Too many filters in a filterGroup: ${crowded.filters.length}; the maximum is ${SEARCH_MAX_FILTERS_PER_GROUP}`, {
      context: { filters: [String(crowded.filters.length)] },
    });
  }
  const total = groups.reduce((n, g) => n + g.filters.length, 0);
  if (total > SEARCH_MAX_FILTERS) {
    throw validationError(`Too many filters: ${total}; the maximum across all filterGroups is ${SEARCH_MAX_FILTERS}`, { context: { filters: [String(total)] } });
  }
  const limit = body.limit ?? 10;
  if (limit > SEARCH_MAX_LIMIT) {
    throw validationError(`limit ${limit} is over the maximum of ${SEARCH_MAX_LIMIT} results per page`, { context: { limit: [String(limit)] } });
  }
  const offset = offsetOf(body.after);
  if (offset + limit > SEARCH_MAX_RESULTS) {
    throw validationError(`Search results are limited to ${SEARCH_MAX_RESULTS}: after=${offset} with limit=${limit} pages past them`, {
      context: { after: [String(offset)], limit: [String(limit)] },
    });
  }
  const compiled = groups.map((g) => g.filters.map((f) => compileFilter(ctx, type, f)));
  const sorts = parseSorts(ctx, type, body.sorts ?? []);
  const terms = (body.query ?? '').toLowerCase().split(/\s+/).filter((t) => t !== '');

  const store = ctx.stores[type];
  const matches = store
    .all()
    .map((record) => ({ record, props: store.view(record).properties }))
    .filter(({ record, props }) => compiled.length === 0 || compiled.some((filters) => filters.every((f) => f(record, props))))
    .filter(({ props }) => terms.every((term) => QUERY_PROPERTIES[type].some((n) => (props[n] ?? '').toLowerCase().includes(term))));

  const byId = (a: StoredRecord, b: StoredRecord): number => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  matches.sort((a, b) => {
    for (const s of sorts) {
      const property = ctx.schema.property(type, s.name);
      const x = a.props[s.name];
      const y = b.props[s.name];
      if (x === undefined && y === undefined) continue;
      // Records without the value sort last either way.
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      const cx = comparable(property, x);
      const cy = comparable(property, y);
      const d = cx && cy ? compare(cx, cy) : 0;
      if (d !== 0) return s.descending ? -d : d;
    }
    return byId(a.record, b.record);
  });

  const requested = body.properties !== undefined && body.properties.length > 0 ? body.properties : DEFAULT_READ_PROPERTIES[type];
  // [INFER] Search results always carry the id and dates, as HubSpot's do.
  const names = [...new Set([...requested, 'hs_object_id', 'createdate', LAST_MODIFIED_PROPERTY[type]])];
  const results = matches.slice(offset, offset + limit).map(({ record }) => store.view(record, names));
  const nextOffset = offset + limit;
  return {
    status: 200,
    body: {
      total: matches.length,
      results,
      ...(nextOffset < matches.length && limit > 0 ? { paging: { next: { after: String(nextOffset), link: `?after=${nextOffset}` } } } : {}),
    },
  };
}
