/**
 * Names as a person writes them. Leadpipe sends names lower-cased (leadpipe-api.md §4.2), so a value that
 * is all lower- or all upper-case is title-cased, word by word, with spaces, hyphens, apostrophes and
 * periods starting new words: `mary-jane o'neil` → `Mary-Jane O'Neil`, `JOSÉ` → `José`. A value in mixed
 * case (`McDonald`, `van der Berg`) was written by someone who knew better and is kept.
 */
const LETTER = /\p{L}/u;
const WORD_BREAKS = [' ', '\t', '-', "'", '’', '‘', '.', '(', '/'];
/** WORD_BREAKS by character code: a table for ASCII, a list for the two quotes above it. */
const ASCII_BREAK = new Uint8Array(128);
const WIDE_BREAKS: number[] = [];
for (const ch of WORD_BREAKS) {
  const c = ch.charCodeAt(0);
  if (c < 128) ASCII_BREAK[c] = 1;
  else WIDE_BREAKS.push(c);
}

function isBreak(c: number): boolean {
  return c < 128 ? ASCII_BREAK[c] === 1 : WIDE_BREAKS.includes(c);
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
  // By character code: no one-character string per position (WORD_BREAKS and isLetter, by code).
  let out = '';
  let last = 0;
  let wordStart = true;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (wordStart) {
      if (c >= 97 && c <= 122) {
        out += lower.slice(last, i) + String.fromCharCode(c - 32);
        last = i + 1;
      } else if (c > 127) {
        // By code point: a letter outside the BMP (Adlam, Deseret, Osage names) is a surrogate pair,
        // and either half alone is no letter.
        const ch = String.fromCodePoint(lower.codePointAt(i) as number);
        if (LETTER.test(ch)) {
          out += lower.slice(last, i) + ch.toUpperCase();
          last = i + ch.length;
        }
      }
    }
    wordStart = isBreak(c);
  }
  return out + lower.slice(last);
}
