/**
 * Structured logging on pino: one JSON object per line on stderr (stdout is kept for command output,
 * e.g. `--json`), shaped `{"time":"<ISO>","level":"info","msg":"…",…fields}`.
 *
 * Values are scrubbed before they are written, in two layers, so a careless call site cannot leak PII
 * or credentials:
 * - a recursive scrub of every field (call sites pass arbitrary names): a key that looks secret-bearing
 *   is replaced by `[redacted]`; in every string (and the message, and object keys) email addresses
 *   become `[email]` and bearer credentials, token/key/signature query parameters, HubSpot signatures,
 *   JWTs and API-key-looking values become `[redacted]`; an Error becomes `{ name, message }`;
 * - pino's `redact` on the well-known secret paths (`*.accessToken`, `headers.authorization`, …).
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Wider than an address needs to be: a local part may hold `'`, a top-level domain may be non-ASCII (`.рф`) or punycode. */
const EMAIL_RE = /[^\s@"<>,;:]+@[^\s@"'<>,;:]+\.[\p{L}\p{M}\p{N}-]{2,}/giu;
const SECRET_KEY_RE =
  /(api[-_]?key|access[-_]?key|private[-_]?key|encryption[-_]?key|token|secret|password|passwd|authorization|signature|cookie|credential|hmac)/i;

/** Masks email addresses in a string: `jane.doe@acme.com` → `[email]`. */
export function scrubText(text: string): string {
  return text.replace(EMAIL_RE, '[email]');
}

const HASH_RE = /\b[0-9a-f]{32,}\b/gi;

/**
 * A cell value made safe to show in an error message, a quarantine reason or a report: emails and
 * hash-like hex runs masked, cut to `max` characters, quoted. (A header row that is really a data row
 * would otherwise put a person's email into an error message.)
 */
export function maskValue(value: string, max = 40): string {
  const masked = scrubText(value).replace(HASH_RE, '[hash]');
  return masked.length > max ? `${masked.slice(0, max)}…` : masked;
}

/** `maskValue`, quoted for a message. */
export function displayValue(value: string, max = 40): string {
  return JSON.stringify(maskValue(value, max));
}

const REDACTED = '[redacted]';

/** Secret-looking values inside free text; each is replaced as a whole, keeping a harmless prefix. */
const SECRET_TEXT: ReadonlyArray<readonly [RegExp, string]> = [
  // `Authorization: Bearer abc.def`
  [/\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  // `?access_token=…&code=…`, `Authorization=…` (signed download URLs), `api_key=…`
  [
    /\b([\w.-]*(?:token|api[-_]?key|secret|password|passwd|signature|authorization|credential)[\w.-]*|sig|code|key)=[^&\s"'<>]+/gi,
    `$1=${REDACTED}`,
  ],
  // header lines quoted in messages: `x-hubspot-signature-v3: …`, `cookie: …`
  [/\b(x-hubspot-signature(?:-v\d)?|x-api-key|proxy-authorization|set-cookie|cookie)\s*:\s*[^\s,;"']+/gi, `$1: ${REDACTED}`],
  // JWTs
  [/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g, REDACTED],
  // HubSpot private-app tokens, Stripe-style API keys
  [/\bpat-[a-z]{2}\d-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b/gi, REDACTED],
  [/\b[spr]k_(?:live|test)_[A-Za-z0-9]+/g, REDACTED],
  // HubSpot signatures: v1/v2 are hex SHA-256 (64 hex), v3 is base64 HMAC-SHA256 (43 chars + `=`)
  [/\b[0-9a-f]{64}\b/gi, REDACTED],
  [/(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g, REDACTED],
];

/** `scrubText` plus credential masking: what every string written to the log goes through. */
function scrubLogText(text: string): string {
  let out = scrubText(text);
  for (const [re, replacement] of SECRET_TEXT) out = out.replace(re, replacement);
  return out;
}

const MAX_DEPTH = 6;

function scrub(value: unknown, key: string | undefined, depth: number): unknown {
  if (key !== undefined && SECRET_KEY_RE.test(key)) return REDACTED;
  if (typeof value === 'string') return scrubLogText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return { name: value.name, message: scrubLogText(value.message) };
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (depth > MAX_DEPTH) return '[truncated]';
  if (Array.isArray(value)) return value.map((v: unknown) => scrub(v, undefined, depth + 1));
  const entries = value instanceof Map ? [...(value as Map<unknown, unknown>).entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[scrubLogText(k)] = scrub(v, k, depth + 1);
  return out;
}

/** Keys the record itself owns; a field of the same name is kept, renamed, rather than overriding them. */
const RESERVED = new Set(['time', 'level', 'msg']);

function scrubFields(fields: object): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    const name = scrubLogText(k);
    out[RESERVED.has(name) ? `field.${name}` : name] = scrub(v, k, 1);
  }
  return out;
}

const SECRET_FIELDS = [
  'authorization',
  'Authorization',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'apiKey',
  'api_key',
  'apikey',
  'clientSecret',
  'client_secret',
  'secret',
  'token',
  'password',
  'signature',
  'cookie',
  'privateKey',
  'encryptionKey',
];
const SECRET_HEADERS = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'Set-Cookie',
  'x-api-key',
  'X-Api-Key',
  'x-hubspot-signature',
  'X-HubSpot-Signature',
  'x-hubspot-signature-v3',
  'X-HubSpot-Signature-v3',
];
/** pino `redact` paths: the well-known places secrets sit, at the top level and one object down. */
const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((k) => `*.${k}`),
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Receives each record: one line of JSON, without the trailing newline. Defaults to stderr. */
  write?: (line: string) => void;
  clock?: () => Date;
}

/**
 * pino writes `level`, `time`, the bound fields, the record's fields, then `msg`; records are put back
 * in the order `time, level, msg, …fields` (a bound field given again by the call keeps the call's value).
 */
function reorder(chunk: string): string {
  const line = chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk;
  try {
    const { time, level, msg, ...fields } = JSON.parse(line) as LogFields;
    return JSON.stringify({ time, level, msg, ...fields });
  } catch {
    return line;
  }
}

function wrap(log: PinoLogger): Logger {
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
    // pino does not run `formatters.bindings` on child bindings, so they are scrubbed here.
    child: (fields) => wrap(log.child(scrubFields(fields))),
  };
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(line + '\n'));
  const clock = options.clock ?? (() => new Date());
  const destination: DestinationStream = { write: (chunk: string) => write(reorder(chunk)) };
  const root = pino(
    {
      level: options.level ?? 'info',
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"time":${JSON.stringify(clock().toISOString())}`,
      formatters: {
        level: (label: string) => ({ level: label }),
        log: (fields: object) => scrubFields(fields),
      },
      serializers: {
        msg: (msg: unknown) => (typeof msg === 'string' ? scrubLogText(msg) : msg),
        // Errors are already `{ name, message }` after the scrub; pino's default would add `stack`.
        err: (err: unknown) => err,
      },
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    },
    destination,
  );
  const logger = wrap(root);
  return Object.keys(bound).length > 0 ? logger.child(bound) : logger;
}

/** A logger that drops everything: the default for library code called without one. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
