import { mergePeople } from '../../../src/ingest/merge-people';
import type { IntentPerson, PersonEmail } from '../../../src/ingest/types';

const KEY = 'e'.repeat(64);
const email = (address: string, kind: PersonEmail['kind']): PersonEmail => ({ address, sha256: `${address.length}`.padStart(64, '0'), kind });

function row(overrides: Partial<IntentPerson>): IntentPerson {
  return { key: KEY, emails: [], company: {}, score: 50, topics: [], extra: {}, line: 2, rows: 1, ...overrides };
}

const rows: IntentPerson[] = [
  row({
    line: 9,
    score: 40,
    firstName: 'Mary',
    jobTitle: 'vp marketing',
    phone: '+12065550100',
    emails: [email('mary@contoso.com', 'business'), email('mary@gmail.com', 'personal')],
    company: { name: 'contoso', industry: 'software' },
    topics: ['CRM', 'ABM'],
    extra: { city: 'seattle' },
  }),
  row({
    line: 4,
    score: 75,
    firstName: 'Mary',
    lastName: 'Major',
    emails: [email('mary@contoso.com', 'primary')],
    company: { name: 'Contoso Ltd', domain: 'contoso.com' },
    topics: ['Intent data', 'crm'],
    extra: { region: 'west' },
  }),
  row({ line: 15, score: 60, jobTitle: 'cmo', topics: ['ABM', 'Data'], emails: [email('m.major@outlook.com', 'other')], rows: 2 }),
];

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('mergePeople', () => {
  it('merges by the rules: highest score, its topics first, first non-empty value by rank, emails by kind', () => {
    expect(mergePeople(rows)).toEqual({
      key: KEY,
      emails: [email('mary@contoso.com', 'primary'), email('mary@gmail.com', 'personal'), email('m.major@outlook.com', 'other')],
      firstName: 'Mary',
      lastName: 'Major',
      jobTitle: 'cmo', // from the 60 row: the 75 row has none, and 60 outranks 40
      phone: '+12065550100',
      company: { name: 'Contoso Ltd', domain: 'contoso.com', industry: 'software' },
      score: 75,
      topics: ['Intent data', 'crm', 'ABM', 'Data'],
      extra: { city: 'seattle', region: 'west' },
      line: 4,
      rows: 4,
    });
  });

  it('gives the same person whatever the order of the rows', () => {
    const expected = mergePeople(rows);
    for (const order of permutations(rows)) expect(mergePeople(order)).toEqual(expected);
  });

  it('breaks score ties by content, not by order', () => {
    const a = row({ score: 80, firstName: 'Ann', topics: ['X'] });
    const b = row({ score: 80, firstName: 'Anne', topics: ['Y'] });
    expect(mergePeople([a, b])).toEqual(mergePeople([b, a]));
  });
});
