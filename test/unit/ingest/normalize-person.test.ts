import { createHash } from 'node:crypto';
import { createPersonNormalizer, fastParsePersonRow, PersonRowSchema, type NormalizedRow } from '../../../src/ingest/normalize-person';
import { resolveHeader } from '../../../src/ingest/resolve-header';
import { config } from './ingest-helpers';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const HEADER = ['hashedEmail', 'primaryContactEmail', 'businessEmail', 'personalEmail', 'email', 'firstName', 'lastName', 'fullName', 'phone', 'company.name', 'company.domain', 'intent.score', 'intent.matchedTopics', 'Region'];
const normalize = createPersonNormalizer(resolveHeader(HEADER, config.columns), config.ingest);

function row(values: Partial<Record<string, string>>, line = 7): NormalizedRow {
  return normalize({ line, values: HEADER.map((h) => values[h] ?? '') });
}

function person(values: Partial<Record<string, string>>) {
  const result = row(values);
  if (!result.ok) throw new Error(`expected a person, got ${result.row.code}: ${result.row.reason}`);
  return result;
}

describe('createPersonNormalizer', () => {
  it('builds a person: key from hashedEmail, emails in matching order with hashes and kinds', () => {
    const hash = sha256('sherry@example.com');
    const { person: p, warnings } = person({
      hashedEmail: hash.toUpperCase(),
      primaryContactEmail: ' Sherry@Example.com ',
      businessEmail: 'sherry@example.com',
      personalEmail: 'sherry.personal@gmail.com',
      email: 'sherry.personal@gmail.com',
      firstName: 'sherry',
      lastName: 'lynn',
      fullName: 'sherry lynn',
      phone: '(800) 555-1212',
      'company.name': 'example company',
      'intent.score': '85',
      'intent.matchedTopics': 'CRM;ABM',
      Region: ' EMEA ',
    });
    expect(warnings).toEqual([]);
    expect(p).toEqual({
      key: hash,
      hashedEmail: hash,
      emails: [
        { address: 'sherry@example.com', sha256: hash, kind: 'primary' },
        { address: 'sherry.personal@gmail.com', sha256: sha256('sherry.personal@gmail.com'), kind: 'personal' },
      ],
      firstName: 'Sherry',
      lastName: 'Lynn',
      fullName: 'Sherry Lynn',
      phone: '+18005551212',
      company: { name: 'example company', domain: 'example.com' },
      score: 85,
      topics: ['CRM', 'ABM'],
      extra: { Region: 'EMEA' },
      line: 7,
      rows: 1,
    });
  });

  it('keys a person without hashedEmail by the sha256 of the first valid email', () => {
    const { person: p } = person({ businessEmail: 'not valid', personalEmail: 'Ann@Gmail.com', email: 'ann@acme.com', 'intent.score': '3' });
    expect(p.key).toBe(sha256('ann@gmail.com'));
    expect(p.emails.map((e) => [e.address, e.kind])).toEqual([
      ['ann@gmail.com', 'personal'],
      ['ann@acme.com', 'other'],
    ]);
    expect(p.company).toEqual({}); // the business email was invalid; personal and other emails never give a company domain
  });

  it('accepts a whole-number score written with a zero fraction', () => {
    expect(person({ email: 'a@acme.com', 'intent.score': '85.0' }).person.score).toBe(85);
    expect(person({ email: 'a@acme.com', 'intent.score': ' 100 ' }).person.score).toBe(100);
    expect(person({ email: 'a@acme.com', 'intent.score': '1' }).person.score).toBe(1);
  });

  it.each([
    ['abc', 'intent.score "abc" is not a whole number from 1 to 100'],
    ['0', 'intent.score "0" is not a whole number from 1 to 100'],
    ['101', 'intent.score "101" is not a whole number from 1 to 100'],
    ['7.5', 'intent.score "7.5" is not a whole number from 1 to 100'],
    ['-5', 'intent.score "-5" is not a whole number from 1 to 100'],
    ['1e2', 'intent.score "1e2" is not a whole number from 1 to 100'],
    ['', 'intent.score is empty; it must be a whole number from 1 to 100'],
    ['   ', 'intent.score is empty; it must be a whole number from 1 to 100'],
  ])('quarantines score %j', (score, reason) => {
    expect(row({ email: 'a@acme.com', 'intent.score': score })).toEqual({ ok: false, row: { line: 7, field: 'intent.score', code: 'INVALID_SCORE', reason } });
  });

  it('quarantines a hashedEmail that is not 64 hex, even with a valid email, without showing it', () => {
    const result = row({ hashedEmail: 'z'.repeat(64), email: 'a@acme.com', 'intent.score': '50' });
    expect(result).toEqual({
      ok: false,
      row: { line: 7, field: 'hashedEmail', code: 'INVALID_HASH', reason: 'hashedEmail is not a SHA-256 hash (64 hexadecimal characters): it has 64 characters, not all hexadecimal' },
    });
  });

  it('reports the score before the hash when both are bad', () => {
    const result = row({ hashedEmail: 'abc', 'intent.score': 'x' });
    expect(result.ok === false && result.row.code).toBe('INVALID_SCORE');
  });

  it('quarantines a row with no valid identity, without showing the bad addresses', () => {
    const result = row({ primaryContactEmail: 'ann at acme.com', email: 'ann@', 'intent.score': '50' });
    expect(result).toEqual({
      ok: false,
      row: {
        line: 7,
        field: null,
        code: 'NO_IDENTITY',
        reason: 'no hashedEmail and no valid email address (primaryContactEmail, businessEmail, personalEmail, email); 2 email values were not valid',
      },
    });
  });

  it('warns about each invalid email it drops, with a reason free of the address', () => {
    const { warnings } = person({ hashedEmail: sha256('x'), primaryContactEmail: 'bad@', businessEmail: 'bad@', personalEmail: 'ok@gmail.com', 'intent.score': '9' });
    expect(warnings).toEqual([
      { line: 7, field: 'primaryContactEmail', reason: 'not a valid email address; dropped' },
      { line: 7, field: 'businessEmail', reason: 'not a valid email address; dropped' },
    ]);
  });

  it('derives the company domain, never from free mail, and warns about an unusable company.domain', () => {
    expect(person({ businessEmail: 'a@acme.com', 'company.domain': 'https://www.acme.io/about', 'intent.score': '5' }).person.company.domain).toBe('acme.io');
    expect(person({ primaryContactEmail: 'a@gmail.com', businessEmail: 'a@acme.com', 'intent.score': '5' }).person.company.domain).toBe('acme.com');
    const freeOnly = person({ primaryContactEmail: 'a@gmail.com', 'company.domain': 'Hotmail.com', 'intent.score': '5' });
    expect(freeOnly.person.company.domain).toBeUndefined();
    expect(freeOnly.warnings).toEqual([{ line: 7, field: 'company.domain', reason: 'a free-mail domain, not a company domain; ignored' }]);
    const invalid = person({ businessEmail: 'a@acme.com', 'company.domain': 'n/a', 'intent.score': '5' });
    expect(invalid.person.company.domain).toBe('acme.com');
    expect(invalid.warnings).toEqual([{ line: 7, field: 'company.domain', reason: 'not a domain name; ignored' }]);
  });

  it('leaves empty values absent, never empty strings', () => {
    const { person: p } = person({ email: 'a@acme.com', firstName: '  ', 'intent.score': '5', 'intent.matchedTopics': ' ; ', Region: ' ' });
    expect(p).toEqual({ key: sha256('a@acme.com'), emails: [{ address: 'a@acme.com', sha256: sha256('a@acme.com'), kind: 'other' }], company: {}, score: 5, topics: [], extra: {}, line: 7, rows: 1 });
  });
});

describe('PersonRowSchema', () => {
  it('is the zod schema of a resolved row', () => {
    expect(PersonRowSchema.parse({ 'intent.score': '42', hashedEmail: 'A'.repeat(64) })).toEqual({ 'intent.score': 42, hashedEmail: 'a'.repeat(64) });
    expect(PersonRowSchema.safeParse({ hashedEmail: 'A'.repeat(64) }).success).toBe(false);
  });
});

describe('fastParsePersonRow', () => {
  const HEX = '0123456789abcdefABCDEF';
  const hexOf = (length: number, seed: number): string => Array.from({ length }, (_, i) => HEX[(seed * 7 + i * 13) % HEX.length]).join('');
  const scores: (string | undefined)[] = [undefined, '', '0', '00', '000', '0000', '1', '01', '001', '0001', '9', '10', '99', '100', '0100', '101', '999', '1000', '85.0', '85.00', '100.0', '100.000', '101.0', '0.0', '1.', '.5', '.0', '7.5', '7.05', '7.0a', ' 5', '5 ', '5\n', '\t5', 'abc', '１２', '٣', '1e2', '0x10', '+5', '-5', '-0', '5,0', '5.0.0', 'NaN', 'Infinity', '1_0', '50%'];
  for (let n = 0; n <= 120; n++) scores.push(String(n), `${n}.0`, `0${n}`);
  const hashes: (string | undefined)[] = [undefined, '', hexOf(63, 1), hexOf(64, 2), hexOf(65, 3), 'a'.repeat(64), 'A'.repeat(64), 'F'.repeat(64), 'f'.repeat(63) + 'g', 'G'.repeat(64), 'z'.repeat(64), `${'a'.repeat(63)} `, ` ${'a'.repeat(63)}`, `${'a'.repeat(63)}\n`, 'ａ'.repeat(64), '0x' + 'a'.repeat(62), '-'.repeat(64)];
  for (let seed = 0; seed < 20; seed++) hashes.push(hexOf(64, seed), hexOf(64, seed).toUpperCase(), hexOf(62 + (seed % 5), seed));

  it('accepts exactly the rows PersonRowSchema accepts, with equal values', () => {
    let cases = 0;
    let accepted = 0;
    const mismatches: unknown[] = [];
    for (const score of scores) {
      for (const hashedEmail of hashes) {
        const input: Record<string, string> = {};
        if (score !== undefined) input['intent.score'] = score;
        if (hashedEmail !== undefined) input.hashedEmail = hashedEmail;
        const schema = PersonRowSchema.safeParse(input);
        const fast = fastParsePersonRow(score, hashedEmail);
        cases += 1;
        if (schema.success) accepted += 1;
        const same = schema.success ? fast !== undefined && fast['intent.score'] === schema.data['intent.score'] && fast.hashedEmail === schema.data.hashedEmail && Object.keys(fast).length === Object.keys(schema.data).length : fast === undefined;
        if (!same) mismatches.push({ score, hashedEmail, schema: schema.success ? schema.data : 'rejected', fast: fast ?? 'rejected' });
      }
    }
    expect(mismatches).toEqual([]);
    expect(cases).toBeGreaterThan(20_000);
    expect(accepted).toBeGreaterThan(1_000); // both verdicts are well represented
    expect(cases - accepted).toBeGreaterThan(1_000);
  });
});
