/**
 * SOQL, the subset orbit-sync (and jsforce's query builder) emits, parsed properly: a tokenizer, a
 * recursive-descent parser, then resolution against the org schema and evaluation over the store.
 *
 *   SELECT f1, f2, Rel.Field | COUNT()  FROM Object
 *   [WHERE cond]  [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], …]  [LIMIT n]  [OFFSET n]
 *
 *   cond := unary (AND unary)* | unary (OR unary)*       (mixing AND and OR needs parentheses, as in SOQL)
 *   unary := NOT unary | ( cond ) | field op value | field [NOT] IN (value, …) | field LIKE 'pattern'
 *   op := = | != | <> | < | <= | > | >=
 *   value := 'string' | number | true | false | null | 2026-01-05 | 2026-01-05T09:00:00Z
 *
 * Strings take SOQL's escapes (\' \" \\ \n \r \t \b \f; \% and \_ only inside LIKE). Text comparisons
 * are case-insensitive; ids compare by their 18-character form. One level of parent relationship
 * (`Account.Name` on Contact, `Opportunity.IsClosed` on OpportunityContactRole, any reference field's
 * relationship name) works in SELECT, WHERE and ORDER BY. Errors carry Salesforce's codes:
 * MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, INVALID_QUERY_FILTER_OPERATOR.
 */
import { SalesforceApiError } from './errors';
import { apiUrl, type OrgContext, type StoredRecord } from './records';
import { makeId, normalizeId, parseDateTimeMs, type FieldDef, type FieldType } from './schema';
import type { FieldValue, SalesforceObjectType } from './types';

// --- tokens --------------------------------------------------------------------------------------------

type TokenKind = 'ident' | 'string' | 'number' | 'date' | 'datetime' | 'op' | 'comma' | 'lparen' | 'rparen' | 'eof';

interface Token {
  kind: TokenKind;
  /** The source text (for strings: the characters between the quotes, escapes undecoded). */
  text: string;
  /** Offset in the query. */
  pos: number;
}

class SoqlError extends SalesforceApiError {}

/** Salesforce's positioned query error: the query line, a caret, `ERROR at Row:1:Column:N`, the reason. */
function queryError(soql: string, pos: number, errorCode: string, reason: string): SoqlError {
  const lineStart = soql.lastIndexOf('\n', pos - 1) + 1;
  const lineEndAt = soql.indexOf('\n', pos);
  const lineEnd = lineEndAt === -1 ? soql.length : lineEndAt;
  const row = soql.slice(0, lineStart).split('\n').length;
  const col = pos - lineStart;
  // Long queries: a window around the position, as the caret must stay readable.
  const from = Math.max(lineStart, pos - 60);
  const to = Math.min(lineEnd, pos + 60);
  const excerpt = `${from > lineStart ? '...' : ''}${soql.slice(from, to)}${to < lineEnd ? '...' : ''}`;
  const caret = ' '.repeat(pos - from + (from > lineStart ? 3 : 0));
  return new SoqlError(400, errorCode, `\n${excerpt}\n${caret}^\nERROR at Row:${row}:Column:${col + 1}\n${reason}`);
}

const DATETIME_LITERAL = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/y;
const DATE_LITERAL = /\d{4}-\d{2}-\d{2}(?![\w:])/y;
const NUMBER_LITERAL = /-?(\d+(\.\d+)?|\.\d+)(?![\w.])/y;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/y;

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const sticky = (re: RegExp): string | null => {
    re.lastIndex = i;
    const m = re.exec(soql);
    return m ? m[0] : null;
  };
  while (i < soql.length) {
    const c = soql.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'") {
      let j = i + 1;
      let closed = false;
      while (j < soql.length) {
        const d = soql.charAt(j);
        if (d === '\\') {
          j += 2;
          continue;
        }
        if (d === "'") {
          closed = true;
          break;
        }
        j++;
      }
      if (!closed) throw queryError(soql, start, 'MALFORMED_QUERY', `line 1:${start} mismatched character '<EOF>' expecting '''`);
      tokens.push({ kind: 'string', text: soql.slice(i + 1, j), pos: start });
      i = j + 1;
      continue;
    }
    if (c === ',' || c === '(' || c === ')') {
      tokens.push({ kind: c === ',' ? 'comma' : c === '(' ? 'lparen' : 'rparen', text: c, pos: start });
      i++;
      continue;
    }
    const two = soql.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      tokens.push({ kind: 'op', text: two === '<>' ? '!=' : two, pos: start });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      tokens.push({ kind: 'op', text: c, pos: start });
      i++;
      continue;
    }
    const datetime = sticky(DATETIME_LITERAL);
    if (datetime) {
      tokens.push({ kind: 'datetime', text: datetime, pos: start });
      i += datetime.length;
      continue;
    }
    const date = sticky(DATE_LITERAL);
    if (date) {
      tokens.push({ kind: 'date', text: date, pos: start });
      i += date.length;
      continue;
    }
    const number = sticky(NUMBER_LITERAL);
    if (number) {
      tokens.push({ kind: 'number', text: number, pos: start });
      i += number.length;
      continue;
    }
    const ident = sticky(IDENT);
    if (ident) {
      tokens.push({ kind: 'ident', text: ident, pos: start });
      i += ident.length;
      continue;
    }
    throw queryError(soql, start, 'MALFORMED_QUERY', `unexpected token: '${c}'`);
  }
  tokens.push({ kind: 'eof', text: '<EOF>', pos: soql.length });
  return tokens;
}

const SIMPLE_ESCAPES: Record<string, string> = { "'": "'", '"': '"', '\\': '\\', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };

/** A string literal's value; `\%` and `\_` are refused outside LIKE (SOQL's rule). */
function decodeString(soql: string, token: Token): string {
  let out = '';
  for (let i = 0; i < token.text.length; i++) {
    const c = token.text.charAt(i);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = token.text.charAt(i + 1);
    const simple = SIMPLE_ESCAPES[next];
    if (simple === undefined) {
      throw queryError(soql, token.pos, 'MALFORMED_QUERY', `Invalid string literal '${token.text}'. Illegal character sequence '\\${next}' in string literal.`);
    }
    out += simple;
    i++;
  }
  return out;
}

/** A LIKE pattern as an anchored, case-insensitive regular expression. */
function likeRegex(soql: string, token: Token): RegExp {
  let source = '';
  const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  for (let i = 0; i < token.text.length; i++) {
    const c = token.text.charAt(i);
    if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else if (c === '\\') {
      const next = token.text.charAt(i + 1);
      const simple = next === '%' || next === '_' ? next : SIMPLE_ESCAPES[next];
      if (simple === undefined) {
        throw queryError(soql, token.pos, 'MALFORMED_QUERY', `Invalid string literal '${token.text}'. Illegal character sequence '\\${next}' in string literal.`);
      }
      source += literal(simple);
      i++;
    } else source += literal(c);
  }
  return new RegExp(`^${source}$`, 'is');
}

// --- syntax tree ---------------------------------------------------------------------------------------

interface FieldRefNode {
  path: string;
  pos: number;
}

type Literal =
  | { kind: 'string'; token: Token }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'boolean'; value: boolean; pos: number }
  | { kind: 'null'; pos: number }
  | { kind: 'date'; value: string; pos: number }
  | { kind: 'datetime'; value: number; pos: number };

type Condition =
  | { kind: 'compare'; field: FieldRefNode; op: string; value: Literal }
  | { kind: 'in'; field: FieldRefNode; negated: boolean; values: Literal[] }
  | { kind: 'like'; field: FieldRefNode; pattern: Token }
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition };

interface OrderNode {
  field: FieldRefNode;
  descending: boolean;
  nullsLast: boolean;
}

interface QueryNode {
  count: boolean;
  select: FieldRefNode[];
  from: { name: string; pos: number };
  where?: Condition;
  orderBy: OrderNode[];
  limit?: number;
  offset?: number;
}

const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'LIKE', 'ORDER', 'BY', 'LIMIT', 'OFFSET', 'ASC', 'DESC', 'NULLS', 'TRUE', 'FALSE', 'NULL']);
const UNSUPPORTED = new Set(['GROUP', 'HAVING', 'WITH', 'FOR', 'TYPEOF', 'USING', 'INCLUDES', 'EXCLUDES', 'FIELDS', 'UPDATE']);

class Parser {
  private i = 0;

  constructor(
    private readonly soql: string,
    private readonly tokens: Token[],
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }

  private unexpected(t: Token = this.peek()): SoqlError {
    const word = t.kind === 'string' ? `'${t.text}'` : t.text;
    const note = t.kind === 'ident' && UNSUPPORTED.has(t.text.toUpperCase()) ? ` (${t.text.toUpperCase()} is not supported by the Salesforce sandbox)` : '';
    return queryError(this.soql, t.pos, 'MALFORMED_QUERY', `unexpected token: ${word}${note}`);
  }

  private expectKeyword(word: string): Token {
    if (!this.isKeyword(word)) throw this.unexpected();
    return this.next();
  }

  private expect(kind: TokenKind): Token {
    if (this.peek().kind !== kind) throw this.unexpected();
    return this.next();
  }

  private fieldRef(): FieldRefNode {
    const t = this.peek();
    if (t.kind !== 'ident' || RESERVED.has(t.text.toUpperCase())) throw this.unexpected();
    this.next();
    return { path: t.text, pos: t.pos };
  }

  parse(): QueryNode {
    this.expectKeyword('SELECT');
    let count = false;
    const select: FieldRefNode[] = [];
    if (this.isKeyword('COUNT') && this.peek(1).kind === 'lparen') {
      this.next();
      this.next();
      if (this.peek().kind !== 'rparen') throw queryError(this.soql, this.peek().pos, 'MALFORMED_QUERY', 'only COUNT() is supported by the Salesforce sandbox (no aggregate functions)');
      this.next();
      count = true;
    } else {
      select.push(this.fieldRef());
      while (this.peek().kind === 'comma') {
        this.next();
        if (this.peek().kind === 'lparen') throw queryError(this.soql, this.peek().pos, 'MALFORMED_QUERY', 'subqueries are not supported by the Salesforce sandbox');
        select.push(this.fieldRef());
      }
    }
    this.expectKeyword('FROM');
    const from = this.peek();
    if (from.kind !== 'ident' || from.text.includes('.')) throw this.unexpected();
    this.next();
    const query: QueryNode = { count, select, from: { name: from.text, pos: from.pos }, orderBy: [] };
    if (this.isKeyword('WHERE')) {
      this.next();
      query.where = this.condition();
    }
    if (this.isKeyword('ORDER')) {
      this.next();
      this.expectKeyword('BY');
      do {
        if (query.orderBy.length > 0) this.next();
        const field = this.fieldRef();
        let descending = false;
        if (this.isKeyword('ASC')) this.next();
        else if (this.isKeyword('DESC')) {
          this.next();
          descending = true;
        }
        let nullsLast = descending;
        if (this.isKeyword('NULLS')) {
          this.next();
          if (this.isKeyword('FIRST')) nullsLast = false;
          else if (this.isKeyword('LAST')) nullsLast = true;
          else throw this.unexpected();
          this.next();
        }
        query.orderBy.push({ field, descending, nullsLast });
      } while (this.peek().kind === 'comma');
    }
    if (this.isKeyword('LIMIT')) {
      this.next();
      query.limit = this.nonNegativeInteger();
    }
    if (this.isKeyword('OFFSET')) {
      this.next();
      const at = this.peek().pos;
      query.offset = this.nonNegativeInteger();
      if (query.offset > 2000) throw queryError(this.soql, at, 'NUMBER_OUTSIDE_VALID_RANGE', 'Maximum SOQL offset allowed is 2000');
    }
    if (this.peek().kind !== 'eof') throw this.unexpected();
    return query;
  }

  private nonNegativeInteger(): number {
    const t = this.expect('number');
    const n = Number(t.text);
    if (!Number.isInteger(n) || n < 0) throw this.unexpected(t);
    return n;
  }

  private condition(): Condition {
    const first = this.unary();
    const items = [first];
    let joiner: 'and' | 'or' | null = null;
    while (this.isKeyword('AND') || this.isKeyword('OR')) {
      const t = this.next();
      const kind = t.text.toUpperCase() === 'AND' ? 'and' : 'or';
      if (joiner !== null && joiner !== kind) throw this.unexpected(t); // SOQL needs parentheses to mix AND and OR
      joiner = kind;
      items.push(this.unary());
    }
    return joiner === null ? first : { kind: joiner, items };
  }

  private unary(): Condition {
    if (this.isKeyword('NOT')) {
      this.next();
      return { kind: 'not', item: this.unary() };
    }
    if (this.peek().kind === 'lparen') {
      this.next();
      const inner = this.condition();
      this.expect('rparen');
      return inner;
    }
    const field = this.fieldRef();
    if (this.isKeyword('NOT') && this.isKeyword('IN', 1)) {
      this.next();
      this.next();
      return { kind: 'in', field, negated: true, values: this.list() };
    }
    if (this.isKeyword('IN')) {
      this.next();
      return { kind: 'in', field, negated: false, values: this.list() };
    }
    if (this.isKeyword('LIKE')) {
      this.next();
      const pattern = this.expect('string');
      return { kind: 'like', field, pattern };
    }
    const op = this.peek();
    if (op.kind !== 'op') throw this.unexpected();
    this.next();
    return { kind: 'compare', field, op: op.text, value: this.literal() };
  }

  private list(): Literal[] {
    this.expect('lparen');
    if (this.peek().kind === 'ident' && this.isKeyword('SELECT')) throw queryError(this.soql, this.peek().pos, 'MALFORMED_QUERY', 'semi-joins are not supported by the Salesforce sandbox');
    const values = [this.literal()];
    while (this.peek().kind === 'comma') {
      this.next();
      values.push(this.literal());
    }
    this.expect('rparen');
    return values;
  }

  private literal(): Literal {
    const t = this.peek();
    switch (t.kind) {
      case 'string':
        this.next();
        return { kind: 'string', token: t };
      case 'number':
        this.next();
        return { kind: 'number', value: Number(t.text), pos: t.pos };
      case 'date':
        this.next();
        return { kind: 'date', value: t.text, pos: t.pos };
      case 'datetime': {
        this.next();
        const ms = parseDateTimeMs(t.text);
        if (ms === null) throw queryError(this.soql, t.pos, 'MALFORMED_QUERY', `invalid date-time literal: ${t.text}`);
        return { kind: 'datetime', value: ms, pos: t.pos };
      }
      case 'ident': {
        const word = t.text.toUpperCase();
        if (word === 'TRUE' || word === 'FALSE') {
          this.next();
          return { kind: 'boolean', value: word === 'TRUE', pos: t.pos };
        }
        if (word === 'NULL') {
          this.next();
          return { kind: 'null', pos: t.pos };
        }
        throw this.unexpected();
      }
      default:
        throw this.unexpected();
    }
  }
}

// --- resolution against the schema --------------------------------------------------------------------

interface ResolvedField {
  /** Canonical path, e.g. `Account.Name`. */
  path: string;
  def: FieldDef;
  /** For a parent field: the reference field followed and the parent type. */
  via?: { def: FieldDef; type: SalesforceObjectType };
}

type Comparable = string | number | boolean | null;
type Category = 'text' | 'id' | 'number' | 'boolean' | 'date' | 'datetime';

function categoryOf(type: FieldType): Category {
  switch (type) {
    case 'id':
    case 'reference':
      return 'id';
    case 'double':
    case 'currency':
    case 'percent':
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    default:
      return 'text';
  }
}

type Predicate = (record: StoredRecord) => boolean;

interface CompiledQuery {
  type: SalesforceObjectType;
  count: boolean;
  select: ResolvedField[];
  where: Predicate;
  order: Array<{ get: (r: StoredRecord) => Comparable; descending: boolean; nullsLast: boolean }>;
  limit?: number;
  offset: number;
}

class Compiler {
  constructor(
    private readonly soql: string,
    private readonly ctx: OrgContext,
    private readonly type: SalesforceObjectType,
  ) {}

  field(ref: FieldRefNode): ResolvedField {
    const schema = this.ctx.schema;
    let parts = ref.path.split('.');
    // `Lead.Email` FROM Lead: the object's own name may qualify a field.
    if (parts.length > 1 && parts[0]?.toLowerCase() === this.type.toLowerCase() && !schema.relationship(this.type, parts[0])) parts = parts.slice(1);
    const noColumn = (name: string, type: SalesforceObjectType): SoqlError =>
      queryError(
        this.soql,
        ref.pos,
        'INVALID_FIELD',
        `No such column '${name}' on entity '${type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    if (parts.length === 1) {
      const name = parts[0] ?? '';
      const def = schema.field(this.type, name);
      if (!def) throw noColumn(name, this.type);
      return { path: def.name, def };
    }
    if (parts.length === 2) {
      const [relName = '', name = ''] = parts;
      const rel = schema.relationship(this.type, relName);
      const target = rel?.referenceTo[0];
      if (!rel || !target) {
        throw queryError(
          this.soql,
          ref.pos,
          'INVALID_FIELD',
          `Didn't understand relationship '${relName}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
        );
      }
      const def = schema.field(target, name);
      if (!def) throw noColumn(name, target);
      return { path: `${rel.relationshipName ?? relName}.${def.name}`, def, via: { def: rel, type: target } };
    }
    throw queryError(this.soql, ref.pos, 'MALFORMED_QUERY', `relationship paths deeper than one level are not supported by the Salesforce sandbox: ${ref.path}`);
  }

  getter(field: ResolvedField): (r: StoredRecord) => Comparable {
    const category = categoryOf(field.def.type);
    const norm = (v: FieldValue | undefined): Comparable => {
      if (v === undefined || v === null) return null;
      if (category === 'text' && typeof v === 'string') return v.toLowerCase();
      if (category === 'datetime' && typeof v === 'string') return parseDateTimeMs(v);
      return v;
    };
    const name = field.def.name;
    const via = field.via;
    if (!via) return (r) => norm(r[name]);
    const store = this.ctx.store;
    return (r) => {
      const parentId = r[via.def.name];
      if (typeof parentId !== 'string') return null;
      return norm(store.get(via.type, parentId)?.[name]);
    };
  }

  /** A literal as a comparable of the field's category, or Salesforce's filter error. */
  literal(field: ResolvedField, lit: Literal): Comparable {
    const category = categoryOf(field.def.type);
    const pos = lit.kind === 'string' ? lit.token.pos : lit.pos;
    const typeName: Record<Category, string> = { text: 'string', id: 'id', number: 'double', boolean: 'boolean', date: 'date', datetime: 'dateTime' };
    const wrong = (): SoqlError =>
      queryError(
        this.soql,
        pos,
        'INVALID_QUERY_FILTER_OPERATOR',
        `value of filter criterion for field '${field.path}' must be of type ${typeName[category]} and should ${category === 'text' || category === 'id' ? '' : 'not '}be enclosed in quotes`,
      );
    if (lit.kind === 'null') return null;
    switch (category) {
      case 'text':
        if (lit.kind !== 'string') throw wrong();
        return decodeString(this.soql, lit.token).toLowerCase();
      case 'id': {
        if (lit.kind !== 'string') throw wrong();
        const text = decodeString(this.soql, lit.token);
        const id = normalizeId(text);
        if (id === null) throw queryError(this.soql, pos, 'INVALID_QUERY_FILTER_OPERATOR', `invalid ID field: ${text}`);
        return id;
      }
      case 'number':
        if (lit.kind !== 'number') throw wrong();
        return lit.value;
      case 'boolean':
        if (lit.kind !== 'boolean') throw wrong();
        return lit.value;
      case 'date':
        if (lit.kind !== 'date') throw wrong();
        return lit.value;
      case 'datetime':
        if (lit.kind !== 'datetime') throw wrong();
        return lit.value;
    }
  }

  condition(cond: Condition): Predicate {
    switch (cond.kind) {
      case 'and': {
        const items = cond.items.map((c) => this.condition(c));
        return (r) => items.every((p) => p(r));
      }
      case 'or': {
        const items = cond.items.map((c) => this.condition(c));
        return (r) => items.some((p) => p(r));
      }
      case 'not': {
        const item = this.condition(cond.item);
        return (r) => !item(r);
      }
      case 'like': {
        const field = this.filterable(cond.field);
        if (categoryOf(field.def.type) !== 'text') {
          throw queryError(this.soql, cond.field.pos, 'INVALID_QUERY_FILTER_OPERATOR', `invalid operator on id field: LIKE is only for text fields (${field.path})`);
        }
        const re = likeRegex(this.soql, cond.pattern);
        const get = this.getter(field);
        return (r) => {
          const v = get(r);
          return typeof v === 'string' && re.test(v);
        };
      }
      case 'in': {
        const field = this.filterable(cond.field);
        const values = cond.values.map((v) => this.literal(field, v));
        const set = new Set(values);
        const get = this.getter(field);
        return cond.negated ? (r) => !set.has(get(r)) : (r) => set.has(get(r));
      }
      case 'compare': {
        const field = this.filterable(cond.field);
        const value = this.literal(field, cond.value);
        const get = this.getter(field);
        const category = categoryOf(field.def.type);
        if (category === 'boolean' && cond.op !== '=' && cond.op !== '!=') {
          throw queryError(this.soql, cond.field.pos, 'INVALID_QUERY_FILTER_OPERATOR', `invalid operator on boolean field: ${cond.op}`);
        }
        switch (cond.op) {
          case '=':
            return (r) => get(r) === value;
          case '!=':
            return (r) => get(r) !== value;
          default: {
            if (value === null) return () => false;
            const test = RELATIONS[cond.op];
            if (!test) throw queryError(this.soql, cond.field.pos, 'MALFORMED_QUERY', `unexpected token: ${cond.op}`);
            return (r) => {
              const v = get(r);
              return v !== null && test(compare(v, value));
            };
          }
        }
      }
    }
  }

  private filterable(ref: FieldRefNode): ResolvedField {
    const field = this.field(ref);
    if (!field.def.filterable) throw queryError(this.soql, ref.pos, 'INVALID_FIELD', `field '${field.path}' can not be filtered in a query call`);
    return field;
  }
}

const RELATIONS: Record<string, (c: number) => boolean> = {
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
};

function compare(a: Comparable, b: Comparable): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;
  return String(a) < String(b) ? -1 : 1;
}

function compile(ctx: OrgContext, soql: string): CompiledQuery {
  const node = new Parser(soql, tokenize(soql)).parse();
  const type = ctx.schema.objectType(node.from.name);
  if (!type) {
    throw queryError(
      soql,
      node.from.pos,
      'INVALID_TYPE',
      `sObject type '${node.from.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  }
  const compiler = new Compiler(soql, ctx, type);
  const select = node.select.map((ref) => compiler.field(ref));
  const seen = new Set<string>();
  select.forEach((f, i) => {
    const key = f.path.toLowerCase();
    if (seen.has(key)) throw queryError(soql, node.select[i]?.pos ?? 0, 'MALFORMED_QUERY', `duplicate field selected: ${f.path}`);
    seen.add(key);
  });
  const order = node.orderBy.map((o) => {
    const field = compiler.field(o.field);
    if (!field.def.sortable) throw queryError(soql, o.field.pos, 'INVALID_FIELD', `field '${field.path}' can not be sorted in a query call`);
    return { get: compiler.getter(field), descending: o.descending, nullsLast: o.nullsLast };
  });
  return {
    type,
    count: node.count,
    select,
    where: node.where ? compiler.condition(node.where) : () => true,
    order,
    ...(node.limit !== undefined ? { limit: node.limit } : {}),
    offset: node.offset ?? 0,
  };
}

// --- execution and paging ------------------------------------------------------------------------------

type QueryRecord = Record<string, unknown>;

export interface QueryResultBody {
  totalSize: number;
  done: boolean;
  records: QueryRecord[];
  nextRecordsUrl?: string;
}

function project(ctx: OrgContext, type: SalesforceObjectType, record: StoredRecord, fields: readonly ResolvedField[], version: string): QueryRecord {
  const out: QueryRecord = { attributes: { type, url: apiUrl(type, record.Id, version) } };
  for (const f of fields) {
    if (!f.via) {
      out[f.def.name] = record[f.def.name] ?? null;
      continue;
    }
    const relName = f.via.def.relationshipName ?? f.via.def.name;
    const parentId = record[f.via.def.name];
    const parent = typeof parentId === 'string' ? ctx.store.get(f.via.type, parentId) : undefined;
    if (!parent) {
      out[relName] = null;
      continue;
    }
    const existing = out[relName];
    const nested = (existing !== null && typeof existing === 'object' ? existing : { attributes: { type: f.via.type, url: apiUrl(f.via.type, parent.Id, version) } }) as QueryRecord;
    nested[f.def.name] = parent[f.def.name] ?? null;
    out[relName] = nested;
  }
  return out;
}

/** Query execution with server-side cursors (`nextRecordsUrl` = `/services/data/vXX.X/query/<locator>-<offset>`). */
export class QueryService {
  private readonly cursors = new Map<string, QueryRecord[]>();
  private sequence = 0;

  constructor(
    private readonly ctx: OrgContext,
    private readonly pageSize: number,
    /** [INFER] Open cursors kept; the oldest is dropped beyond this (INVALID_QUERY_LOCATOR afterwards). */
    private readonly maxCursors = 50,
  ) {}

  run(soql: string, version: string): QueryResultBody {
    const q = compile(this.ctx, soql);
    let rows = this.ctx.store.all(q.type).filter(q.where);
    if (q.order.length > 0) {
      rows = rows
        .map((record, index) => ({ record, index }))
        .sort((a, b) => {
          for (const o of q.order) {
            const va = o.get(a.record);
            const vb = o.get(b.record);
            if (va === vb) continue;
            if (va === null || vb === null) return (va === null ? -1 : 1) * (o.nullsLast ? -1 : 1);
            const c = compare(va, vb);
            return o.descending ? -c : c;
          }
          return a.index - b.index;
        })
        .map((x) => x.record);
    }
    rows = rows.slice(q.offset, q.limit === undefined ? undefined : q.offset + q.limit);
    if (q.count) return { totalSize: rows.length, done: true, records: [] };
    const records = rows.map((r) => project(this.ctx, q.type, r, q.select, version));
    if (records.length <= this.pageSize) return { totalSize: records.length, done: true, records };
    const locator = makeId('01g', ++this.sequence);
    this.cursors.set(locator, records);
    while (this.cursors.size > this.maxCursors) {
      const oldest = this.cursors.keys().next().value;
      if (oldest === undefined) break;
      this.cursors.delete(oldest);
    }
    return this.page(locator, records, 0, version);
  }

  /** GET /query/{locator}-{offset}. */
  more(locatorWithOffset: string, version: string): QueryResultBody {
    const m = /^([A-Za-z0-9]{15,18})-(\d+)$/.exec(locatorWithOffset);
    const records = m?.[1] === undefined ? undefined : this.cursors.get(m[1]);
    const offset = Number(m?.[2]);
    if (!m?.[1] || !records || !(offset > 0) || offset >= records.length) {
      throw new SalesforceApiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    return this.page(m[1], records, offset, version);
  }

  private page(locator: string, records: QueryRecord[], offset: number, version: string): QueryResultBody {
    const end = offset + this.pageSize;
    const done = end >= records.length;
    if (done) this.cursors.delete(locator);
    return {
      totalSize: records.length,
      done,
      ...(done ? {} : { nextRecordsUrl: `/services/data/v${version}/query/${locator}-${end}` }),
      records: records.slice(offset, end),
    };
  }
}
