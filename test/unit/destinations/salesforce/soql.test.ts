import { inQueries, soqlName, soqlString } from '../../../../src/destinations/salesforce/soql';

describe('soqlString', () => {
  it.each([
    ["o'brien@acme.test", "'o\\'brien@acme.test'"],
    ['back\\slash@acme.test', "'back\\\\slash@acme.test'"],
    ['say "hi"', "'say \\\"hi\\\"'"],
    ['line\nbreak', "'line\\nbreak'"],
    ["' OR Id != null OR Email = '", "'\\' OR Id != null OR Email = \\''"],
  ])('%j → %s', (value, literal) => {
    expect(soqlString(value)).toBe(literal);
  });

  it('never lets a value end its literal: every quote inside is escaped', () => {
    for (const value of ["x'", "\\'", "\\\\'", "a\\", "'; DELETE", "%_'\"\\"]) {
      const inner = soqlString(value).slice(1, -1);
      // Unescaped quote = a quote preceded by an even number of backslashes.
      expect(inner).not.toMatch(/(^|[^\\])(\\\\)*'/);
    }
  });
});

describe('inQueries', () => {
  it('splits IN lists so every encoded query stays under the budget, each value once', () => {
    const emails = Array.from({ length: 500 }, (_, i) => `person.number.${i}@some-company-${i % 7}.test`);
    const queries = inQueries('Contact', ['Id', 'Email', 'AccountId'], 'Email', [...emails, ...emails], { maxEncodedBytes: 2000 });
    expect(queries.length).toBeGreaterThan(1);
    for (const q of queries) expect(encodeURIComponent(q).length).toBeLessThanOrEqual(2000);
    const found = queries.flatMap((q) => [...q.matchAll(/'([^']+)'/g)].map((m) => m[1]));
    expect(found).toEqual(emails);
    expect(queries[0]).toMatch(/^SELECT Id, Email, AccountId FROM Contact WHERE Email IN \('person\.number\.0@some-company-0\.test', /);
  });

  it('adds the extra condition to every chunk', () => {
    expect(inQueries('Lead', ['Id'], 'Email', ["o'b@x.test"], { extraWhere: 'IsConverted = false' })).toEqual([
      "SELECT Id FROM Lead WHERE Email IN ('o\\'b@x.test') AND IsConverted = false",
    ]);
  });

  it('refuses names that are not field names', () => {
    expect(() => soqlName('Email) OR (Id')).toThrow(RangeError);
    expect(soqlName('Opportunity.IsClosed')).toBe('Opportunity.IsClosed');
  });
});
