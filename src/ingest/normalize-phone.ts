/**
 * Phone numbers in E.164 where that is unambiguous: `+` followed by 8–15 digits (separators removed),
 * a 10-digit North American number (area code 2–9) → `+1…`, or 11 digits starting with 1 → `+1…`.
 * Anything else (extensions, local numbers of unknown country, text) is kept as given, trimmed, so no
 * information is lost.
 */
const PHONE_CHARS = /^\+?[\d\s().-]+$/;
const NON_DIGITS = /\D/g;
const NANP = /^[2-9]\d{9}$/;

export function normalizePhone(raw: string): string {
  const phone = raw.trim();
  if (!PHONE_CHARS.test(phone)) return phone;
  const digits = phone.replace(NON_DIGITS, '');
  if (phone.startsWith('+')) return digits.length >= 8 && digits.length <= 15 && digits[0] !== '0' ? `+${digits}` : phone;
  if (digits.length === 10 && NANP.test(digits)) return `+1${digits}`;
  if (digits.length === 11 && digits[0] === '1' && NANP.test(digits.slice(1))) return `+${digits}`;
  return phone;
}
