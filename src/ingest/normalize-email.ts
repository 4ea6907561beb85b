/**
 * A practical email check, not RFC 5322: exactly one `@`, a local part of allowed characters without
 * leading, trailing or doubled dots, and a domain of valid labels with a top-level label of at least
 * two characters that is not all digits. Quoted local parts and IP-literal domains are rejected; they do
 * not occur in B2B contact data and CRMs reject them too.
 */
const LOCAL_ATOM = String.raw`[^\s@"(),:;<>[\]\\.]+`;
const LABEL = String.raw`[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?`;
/** A host name: two or more labels, the last one of 2+ characters and not numeric. */
export const DOMAIN_PATTERN = String.raw`(?:${LABEL}\.)+(?=[^.]{2,}$)(?!\d+$)${LABEL}`;
const EMAIL_RE = new RegExp(String.raw`^${LOCAL_ATOM}(?:\.${LOCAL_ATOM})*@${DOMAIN_PATTERN}$`, 'u');

/** The same rules for all-ASCII domains without the Unicode classes: several times faster, and nearly every address. */
const ASCII_LABEL = String.raw`[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?`;
export const ASCII_DOMAIN_PATTERN = String.raw`(?:${ASCII_LABEL}\.)+(?=[^.]{2,}$)(?!\d+$)${ASCII_LABEL}`;
const ASCII_EMAIL_RE = new RegExp(String.raw`^${LOCAL_ATOM}(?:\.${LOCAL_ATOM})*@${ASCII_DOMAIN_PATTERN}$`);

const MAX_LOCAL = 64;
const MAX_EMAIL = 254;

/** Trims, lower-cases and checks an email address; returns null when it is not a usable address. */
export function normalizeEmail(raw: string): string | null {
  const email = raw.trim().toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL) return null;
  if (email.indexOf('@') > MAX_LOCAL) return null;
  return ASCII_EMAIL_RE.test(email) || EMAIL_RE.test(email) ? email : null;
}
