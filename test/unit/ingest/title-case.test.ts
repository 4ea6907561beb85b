import { titleCaseName } from '../../../src/ingest/title-case';

describe('titleCaseName', () => {
  it.each([
    ['mary', 'Mary'],
    ['mary-jane o\'neil', "Mary-Jane O'Neil"],
    ['MARY-JANE O’NEIL', 'Mary-Jane O’Neil'],
    ['josé', 'José'],
    ['ÉLODIE', 'Élodie'],
    ['åsa öberg', 'Åsa Öberg'],
    ['van der berg', 'Van Der Berg'],
    ['j.r.r. tolkien', 'J.R.R. Tolkien'],
    ['d\'angelo', "D'Angelo"],
    ['  ana  ', '  Ana  '],
  ])('title-cases all-lower or all-upper %j', (value, expected) => {
    expect(titleCaseName(value)).toBe(expected);
  });

  it.each(['McDonald', 'van der Berg', 'DeShawn', 'iPhone Smith'])('keeps mixed case %j', (value) => {
    expect(titleCaseName(value)).toBe(value);
  });

  it('leaves caseless scripts and digits alone', () => {
    expect(titleCaseName('李雷')).toBe('李雷');
    expect(titleCaseName('r2-d2')).toBe('R2-D2');
    expect(titleCaseName('')).toBe('');
  });
});

describe('titleCaseName word starts', () => {
  // The rule by one-character strings, as first written: the by-code loop must give the same result.
  const reference = (lower: string): string => {
    const breaks = new Set([' ', '\t', '-', "'", '’', '‘', '.', '(', '/']);
    let out = '';
    let wordStart = true;
    for (const ch of lower.split('')) {
      out += wordStart && /\p{L}/u.test(ch) ? ch.toUpperCase() : ch;
      wordStart = breaks.has(ch);
    }
    return out;
  };
  const pieces = ['a', 'z', 'é', 'ß', 'ǆ', 'ı', 'ω', '李', '1', ' ', '\t', '-', "'", '’', '‘', '.', '(', '/', ',', '_', '😀', '\uD800', 'ﬁ'];

  it('upper-cases the first letter after each break, for every pair and triple of characters', () => {
    const mismatches: string[] = [];
    for (const a of pieces) {
      for (const b of pieces) {
        for (const c of pieces) {
          const value = a + b + c;
          const lower = value.toLowerCase();
          if (value !== lower) continue; // only all-lower values are rewritten by this loop
          if (titleCaseName(value) !== reference(lower)) mismatches.push(value);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  // Found by test/property/round-trip.test.ts: fullName "𐐨" (Deseret) came back "𐐨", not "𐐀". A letter
  // outside the BMP is a surrogate pair, and the loop tested each half alone, which is no letter.
  it('title-cases letters outside the BMP (Deseret, Adlam), in lower- and upper-case names', () => {
    expect(titleCaseName('𐐨')).toBe('𐐀');
    expect(titleCaseName('𐐨𐐯𐐻')).toBe('𐐀𐐯𐐻');
    expect(titleCaseName('𞤢𞤤𞤭 𞤦𞤢')).toBe('𞤀𞤤𞤭 𞤄𞤢');
    expect(titleCaseName('𐐀𐐇')).toBe('𐐀𐐯');
  });
});
