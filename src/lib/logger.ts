/**
 * A small structured logger: one JSON object per line on stderr (stdout is kept for command output,
 * e.g. `--json`). Values are scrubbed before they are written: anything that looks like an email
 * address or a secret-bearing key is masked, so a careless call site cannot leak PII or credentials.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const EMAIL_RE = /[^\s@"'<>,;:]+@[^\s@"'<>,;:]+\.[a-z]{2,}/gi;
const SECRET_KEY_RE = /(api[-_]?key|token|secret|password|authorization|signature|cookie)/i;

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

function scrub(value: unknown, key: string | undefined, depth: number): unknown {
  if (key !== undefined && SECRET_KEY_RE.test(key)) return '[redacted]';
  if (typeof value === 'string') return scrubText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: scrubText(value.message) };
  if (Array.isArray(value)) return value.map((v) => scrub(v, undefined, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, k, depth + 1);
  return out;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
  clock?: () => Date;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const clock = options.clock ?? (() => new Date());
  const log = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void => {
    if (LEVELS[level] < threshold) return;
    const record = scrub({ ...bound, ...fields }, undefined, 0) as LogFields;
    write(JSON.stringify({ time: clock().toISOString(), level, msg: scrubText(msg), ...record }));
  };
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything: the default for library code called without one. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
