import { FixInputFileError } from '../../../src/lib/errors';
import { normalizeHeaderName, resolveHeader } from '../../../src/ingest/resolve-header';
import { config } from './ingest-helpers';

function headerError(cells: string[]): FixInputFileError {
  try {
    resolveHeader(cells, config.columns);
  } catch (err) {
    if (err instanceof FixInputFileError) return err;
    throw err;
  }
  throw new Error('expected resolveHeader to throw');
}

describe('resolveHeader', () => {
  it('normalizes names ignoring case, spaces, dots, dashes and underscores', () => {
    expect(normalizeHeaderName(' Company_Name ')).toBe('companyname');
    expect(normalizeHeaderName('company.name')).toBe('companyname');
    expect(normalizeHeaderName('E-Mail')).toBe('email');
  });

  it("maps Leadpipe's dotted names, aliases and unknown columns", () => {
    const plan = resolveHeader(['\uFEFFhashedEmail', 'Work Email', 'intent_score', 'Company Name', 'topics', 'City', 'first-name'], config.columns);
    expect(plan.width).toBe(7);
    expect(plan.columns.map((c) => [c.header, c.field])).toEqual([
      ['hashedEmail', 'hashedEmail'],
      ['Work Email', 'businessEmail'],
      ['intent_score', 'intent.score'],
      ['Company Name', 'company.name'],
      ['topics', 'intent.matchedTopics'],
      ['City', null],
      ['first-name', 'firstName'],
    ]);
    expect(plan.indexOf).toEqual({ hashedEmail: 0, businessEmail: 1, 'intent.score': 2, 'company.name': 3, 'intent.matchedTopics': 4, firstName: 6 });
    expect(plan.extras.map((c) => c.header)).toEqual(['City']);
  });

  it('matches canonical names even without aliases in the config', () => {
    const plan = resolveHeader(['email', 'intent.score', 'headline'], {});
    expect(plan.columns.map((c) => c.field)).toEqual(['email', 'intent.score', 'headline']);
  });

  it('rejects an empty header cell', () => {
    const err = headerError(['email', '', 'intent.score']);
    expect(err.code).toBe('CSV_HEADER_INVALID');
    expect(err.message).toContain('column 2 of the header has no name');
    expect(err.column).toBe('column 2');
  });

  it('rejects duplicate names, exact or after normalization, naming both', () => {
    expect(headerError(['email', 'intent.score', 'email']).message).toContain('column "email" appears twice (columns 1 and 3)');
    expect(headerError(['company name', 'email', 'Company_Name', 'score']).message).toContain('"company name" (column 1) and "Company_Name" (column 3)');
  });

  it('rejects two columns that resolve to the same field, naming both', () => {
    const err = headerError(['email', 'emailAddress', 'score']);
    expect(err.message).toContain('"email" (column 1) and "emailAddress" (column 2) both map to the field "email"');
    expect(err.column).toBe('emailAddress');
  });

  it('requires intent.score, listing its accepted names', () => {
    const err = headerError(['email', 'firstName']);
    expect(err.column).toBe('intent.score');
    expect(err.message).toContain('no "intent.score" column: the header needs one of "intent.score", "intentScore", "score", "intent_score"');
  });

  it('requires an identity column, listing hashedEmail and the email columns', () => {
    const err = headerError(['firstName', 'score']);
    expect(err.message).toContain('no identity column');
    for (const name of ['hashedEmail', 'primaryContactEmail', 'businessEmail', 'personalEmail', '"emailAddress"']) expect(err.message).toContain(name);
  });

  it('lists every problem in one message', () => {
    const err = headerError(['firstName', 'firstName', '']);
    expect(err.message).toContain('appears twice');
    expect(err.message).toContain('has no name');
    expect(err.message).toContain('no "intent.score" column');
    expect(err.message).toContain('no identity column');
  });
});
