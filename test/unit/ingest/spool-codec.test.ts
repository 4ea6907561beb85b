import { decodePerson, encodePerson } from '../../../src/ingest/spool-codec';
import type { IntentPerson } from '../../../src/ingest/types';

const KEY = 'a'.repeat(64);

describe('spool codec', () => {
  it('round-trips a full person', () => {
    const person: IntentPerson = {
      key: KEY,
      hashedEmail: KEY,
      emails: [
        { address: 'ann@acme.com', sha256: KEY, kind: 'primary' },
        { address: 'ann@gmail.com', sha256: 'b'.repeat(64), kind: 'personal' },
        { address: 'ann@acme.io', sha256: 'c'.repeat(64), kind: 'other' },
      ],
      firstName: 'Ann',
      lastName: "O'Neil",
      fullName: 'Ann O\'Neil',
      jobTitle: 'vp "growth"\nand partnerships',
      headline: 'héadline ✓ 李',
      seniority: 'vp',
      department: 'marketing',
      phone: '+18005551212',
      linkedinUrl: 'https://linkedin.com/in/ann',
      company: { name: 'acme, inc.', domain: 'acme.com', industry: 'software' },
      score: 88,
      topics: ['CRM', 'ABM'],
      extra: { city: 'oslo', 'Employee Count': '10-50' },
      line: 12,
      rows: 3,
    };
    const line = encodePerson(person);
    expect(line).not.toContain('\n');
    expect(decodePerson(line)).toEqual(person);
  });

  it('round-trips a minimal person without inventing fields', () => {
    const person: IntentPerson = { key: KEY, emails: [], company: {}, score: 1, topics: [], extra: {}, line: 2, rows: 1 };
    expect(decodePerson(encodePerson(person))).toEqual(person);
  });

  it('keeps a hashedEmail that differs from the key', () => {
    const person: IntentPerson = { key: KEY, hashedEmail: 'd'.repeat(64), emails: [], company: {}, score: 1, topics: [], extra: {}, line: 2, rows: 1 };
    expect(decodePerson(encodePerson(person)).hashedEmail).toBe('d'.repeat(64));
  });
});
