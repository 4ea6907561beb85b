/**
 * Cell and header text made safe for a quarantine reason or an error message, which never contain an
 * email address or a hash (types.ts, QuarantinedRow). `maskValue` (lib/logger.ts) finds emails by a
 * pattern that misses some addresses ingest itself accepts as valid (a local part ending in `'`, a
 * non-ASCII top-level domain: `jane'@acme.com`, `jane@acme.рф`), so every word of the text that
 * normalizeEmail accepts is masked here first. Only error paths call this: it costs nothing per row.
 */
import { maskValue } from '../lib/logger';
import { normalizeEmail } from './normalize-email';

/** Characters normalizeEmail never accepts in an address: the text is cut into words at them. */
const WORD_BREAKS = /([\s,;:<>()[\]"\\]+)/u;

/** `maskValue`, after masking every word that is a valid email address; cut to `max` characters. */
export function maskCell(value: string, max = 40): string {
  const words = value.split(WORD_BREAKS).map((word) => (word.includes('@') && normalizeEmail(word) !== null ? '[email]' : word));
  return maskValue(words.join(''), max);
}

/** `maskCell`, quoted for a message. */
export function displayCell(value: string, max = 40): string {
  return JSON.stringify(maskCell(value, max));
}
