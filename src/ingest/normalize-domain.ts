/**
 * Company domains: a bare lower-case host name (`https://www.Acme.com:443/about` → `acme.com`), taken
 * from `company.domain`, else from the business email, then the primary email. Free-mail domains
 * (config ingest.freeMailDomains) never become a company domain: gmail.com is not a company.
 */
import { ASCII_DOMAIN_PATTERN, DOMAIN_PATTERN } from './normalize-email';

const DOMAIN_RE = new RegExp(`^${DOMAIN_PATTERN}$`, 'u');
const ASCII_DOMAIN_RE = new RegExp(`^${ASCII_DOMAIN_PATTERN}$`);
const SCHEME_RE = /^[a-z][a-z0-9+.-]*:\/\//;
const PORT_RE = /:\d*$/;

const DOT = 46;

/**
 * True when `raw` is already what the steps below would reduce it to: only `a`–`z`, `0`–`9`, `-` and
 * `.` (no space, capital, scheme, path, user or port), not ending with `.` and not starting with
 * `www.`. Most `company.domain` cells are; the check is a fraction of the steps' cost.
 */
function isBareHost(raw: string): boolean {
  const length = raw.length;
  if (length === 0 || raw.charCodeAt(length - 1) === DOT || raw.startsWith('www.')) return false;
  for (let i = 0; i < length; i++) {
    const c = raw.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === DOT || c === 45)) return false;
  }
  return true;
}

/** Normalizes a domain or URL to its host without `www.`; null when it is not a host name. */
export function normalizeDomain(raw: string): string | null {
  if (isBareHost(raw)) return ASCII_DOMAIN_RE.test(raw) || DOMAIN_RE.test(raw) ? raw : null;
  let host = raw.trim().toLowerCase().replace(SCHEME_RE, '');
  if (host.startsWith('//')) host = host.slice(2);
  const end = host.search(/[/?#]/);
  if (end !== -1) host = host.slice(0, end);
  const at = host.lastIndexOf('@');
  if (at !== -1) host = host.slice(at + 1);
  host = host.replace(PORT_RE, '');
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.startsWith('www.')) host = host.slice(4);
  return ASCII_DOMAIN_RE.test(host) || DOMAIN_RE.test(host) ? host : null;
}

/** The domain part of a normalized email address. */
export function emailDomain(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

export type CompanyDomainSource = 'company.domain' | 'businessEmail' | 'primaryContactEmail';

export interface CompanyDomainInput {
  /** The `company.domain` cell, trimmed, if any. */
  companyDomain?: string | undefined;
  /** Valid, normalized addresses from those columns, if any. */
  businessEmail?: string | undefined;
  primaryContactEmail?: string | undefined;
}

export interface CompanyDomainResult {
  domain?: string;
  /** Why `company.domain` was not used although it was given. */
  rejected?: 'invalid' | 'free-mail';
}

/** Picks the company domain: `company.domain`, else the business email's, else the primary email's. */
export function deriveCompanyDomain(input: CompanyDomainInput, freeMailDomains: ReadonlySet<string>): CompanyDomainResult {
  let rejected: CompanyDomainResult['rejected'];
  if (input.companyDomain !== undefined) {
    const domain = normalizeDomain(input.companyDomain);
    if (domain === null) rejected = 'invalid';
    else if (freeMailDomains.has(domain)) rejected = 'free-mail';
    else return { domain };
  }
  for (const address of [input.businessEmail, input.primaryContactEmail]) {
    if (address === undefined) continue;
    const domain = emailDomain(address);
    if (!freeMailDomains.has(domain)) return rejected ? { domain, rejected } : { domain };
  }
  return rejected ? { rejected } : {};
}
