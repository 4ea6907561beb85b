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
