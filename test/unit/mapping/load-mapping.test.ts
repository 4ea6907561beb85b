import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG_DIR } from '../../../src/config';
import { FixConfigurationError } from '../../../src/lib/errors';
import { loadMapping } from '../../../src/mapping/load-mapping';
import { parseMapping } from '../../../src/mapping/mapping-schema';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof FixConfigurationError) return err.problems;
    throw err;
  }
  throw new Error('expected a FixConfigurationError');
}

const shipped = JSON.parse(readFileSync(path.join(DEFAULT_CONFIG_DIR, 'mappings', 'hubspot.json'), 'utf8')) as {
  contact: Record<string, unknown>[];
  company: Record<string, unknown>[];
  tiers: Record<string, number>;
};

describe('loadMapping', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'orbit-mapping-'));
    mkdirSync(path.join(dir, 'mappings'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (content: unknown): void =>
    writeFileSync(path.join(dir, 'mappings', 'hubspot.json'), typeof content === 'string' ? content : JSON.stringify(content));

  it('lists every bad entry in one error, naming each entry by index and property', () => {
    const bad = structuredClone(shipped);
    (bad.contact[3] as Record<string, unknown>).policy = 'sometimes';
    (bad.contact[9] as Record<string, unknown>).source = 'intent.scroe';
    bad.company.push({ property: 'Bad Name', source: 'company.name', policy: 'ifEmpty', type: 'string' });
    bad.tiers = { hot: 40, warm: 60 };
    write(bad);
    const problems = problemsOf(() => loadMapping('hubspot', dir));
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/contact\[3\] "jobtitle" → policy: must be one of: always, ifEmpty, never/),
        expect.stringMatching(/contact\[9\] "leadpipe_intent_score" → source: must be one of: /),
        expect.stringMatching(/company\[4\] "Bad Name" → property: must be a CRM field name/),
        expect.stringMatching(/tiers: hot must be greater than warm/),
      ]),
    );
    for (const p of problems) expect(p.startsWith(path.join(dir, 'mappings', 'hubspot.json'))).toBe(true);
  });

  it('names duplicates, unknown keys, enumerations without options and custom properties without a label', () => {
    const problems = problemsOf(() =>
      parseMapping(
        {
          destination: 'hubspot',
          customPrefix: 'leadpipe_',
          tiers: { hot: 80, warm: 50 },
          volatile: ['leadpipe_nope'],
          contact: [
            { property: 'email', source: 'email', policy: 'never', type: 'string' },
            { property: 'email', source: 'email', policy: 'never', type: 'string' },
            { property: 'leadpipe_intent_tier', source: 'intent.tier', policy: 'always', type: 'enumeration', label: 'Tier' },
            { property: 'leadpipe_x', source: 'headline', policy: 'always', type: 'string', colour: 'red' },
          ],
        },
        'hubspot.json',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'hubspot.json: contact[1] "email" → property: "email" is mapped twice',
        'hubspot.json: contact[2] "leadpipe_intent_tier" → options: an enumeration needs its options (the values it can take)',
        expect.stringMatching(/^hubspot\.json: contact\[3\] "leadpipe_x".*colour/),
        'hubspot.json: volatile.0: "leadpipe_nope" is not a mapped property',
      ]),
    );
  });

  it('reports a missing file, bad JSON, a wrong destination and an unsafe name', () => {
    expect(problemsOf(() => loadMapping('salesforce', dir))[0]).toMatch(/salesforce\.json: file not found/);
    write('{ "contact": [');
    expect(problemsOf(() => loadMapping('hubspot', dir))[0]).toMatch(/hubspot\.json: not valid JSON/);
    write({ ...shipped, destination: 'salesforce' });
    expect(problemsOf(() => loadMapping('hubspot', dir))).toEqual([expect.stringMatching(/destination: is "salesforce", expected "hubspot"/)]);
    expect(problemsOf(() => loadMapping('../default', dir))[0]).toMatch(/must be a name such as "hubspot"/);
  });

  it('loads a valid copy from another config dir', () => {
    write(shipped);
    expect(loadMapping('hubspot', dir).contact.length).toBe(shipped.contact.length);
  });
});

describe('the shipped Salesforce mapping', () => {
  it('loads, with Salesforce API names and a Lead list; HubSpot mappings still demand lower-case names', () => {
    const sf = loadMapping('salesforce');
    expect(sf.contact.map((e) => e.property)).toContain('Leadpipe_Intent_Score__c');
    expect(sf.lead.find((e) => e.property === 'Company')).toMatchObject({ source: 'company.name', policy: 'ifEmpty' });
    expect(loadMapping('hubspot').lead).toEqual([]);
    expect(() => parseMapping({ ...sf, destination: 'hubspot', customPrefix: 'leadpipe_' }, 'x')).toThrow(/hubspot property names are lower-case/);
  });
});
