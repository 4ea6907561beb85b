/**
 * Names as a person writes them. Leadpipe sends names lower-cased (leadpipe-api.md §4.2), so a value that
 * is all lower- or all upper-case is title-cased, word by word, with spaces, hyphens, apostrophes and
 * periods starting new words: `mary-jane o'neil` → `Mary-Jane O'Neil`, `JOSÉ` → `José`. A value in mixed
 * case (`McDonald`, `van der Berg`) was written by someone who knew better and is kept.
 */
const LETTER = /\p{L}/u;
const WORD_BREAKS = new Set([' ', '\t', '-', "'", '’', '‘', '.', '(', '/']);

function isLetter(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return (c >= 97 && c <= 122) || (c > 127 && LETTER.test(ch));
}

export function titleCaseName(value: string): string {
  // One pass decides the case for ASCII names (nearly all of them) without building two copies.
  let ascii = true;
  let hasLower = false;
  let hasUpper = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 97 && c <= 122) hasLower = true;
    else if (c >= 65 && c <= 90) hasUpper = true;
    else if (c > 127) {
      ascii = false;
      break;
    }
  }
  let lower = value;
  if (ascii) {
    if (hasLower && hasUpper) return value;
    if (hasUpper) lower = value.toLowerCase();
  } else {
    lower = value.toLowerCase();
    if (value !== lower && value !== value.toUpperCase()) return value;
  }
  let out = '';
  let last = 0;
  let wordStart = true;
  for (let i = 0; i < lower.length; i++) {
    const ch = lower[i] as string;
    if (wordStart && isLetter(ch)) {
      out += lower.slice(last, i) + ch.toUpperCase();
      last = i + 1;
    }
    wordStart = WORD_BREAKS.has(ch);
  }
  return out + lower.slice(last);
}
