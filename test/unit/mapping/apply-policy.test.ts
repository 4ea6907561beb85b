import { applyPolicy } from '../../../src/mapping/apply-policy';
import type { MappingEntry } from '../../../src/mapping/mapping-schema';
import { mapPerson } from '../../../src/mapping/map-person';
import { context, fullPerson, mapping } from './people';

const entries: MappingEntry[] = [
  { property: 'email', source: 'email', policy: 'never', type: 'string' },
  { property: 'jobtitle', source: 'jobTitle', policy: 'ifEmpty', type: 'string' },
  { property: 'leadpipe_intent_score', source: 'intent.score', policy: 'always', type: 'number', label: 'Score' },
  { property: 'leadpipe_last_intent_at', source: 'context.intentAt', policy: 'always', type: 'datetime', label: 'At' },
];

describe('applyPolicy', () => {
  describe.each([
    ['always', 'leadpipe_intent_score', '87'],
    ['ifEmpty', 'jobtitle', 'VP Sales'],
    ['never', 'email', 'jane@acme.com'],
  ] as const)('%s', (policy, property, value) => {
    const mapped = { [property]: value };
    const writesWhenEmpty = policy !== 'never';

    it.each([
      ['a new record (no current values)', undefined],
      ['a missing value', {}],
      ['null', { [property]: null }],
      ['an empty string', { [property]: '' }],
      ['a blank string', { [property]: '   ' }],
    ])('current is %s', (_label, current) => {
      const result = applyPolicy(mapped, current, entries);
      if (writesWhenEmpty) {
        expect(result.properties).toEqual({ [property]: value });
        expect(result.changes).toEqual([{ property, before: current?.[property] ?? null, after: value, policy }]);
      } else {
        expect(result.properties).toEqual({});
        expect(result.kept).toEqual([expect.objectContaining({ property, reason: 'never' })]);
      }
    });

    it('current is equal: nothing to write', () => {
      const result = applyPolicy(mapped, { [property]: value }, entries);
      expect(result.properties).toEqual({});
      expect(result.changes).toEqual([]);
      expect(result.kept).toEqual([{ property, before: value, after: value, policy, reason: policy === 'never' ? 'never' : 'equal' }]);
    });

    it('current is different', () => {
      const result = applyPolicy(mapped, { [property]: 'typed by sales' }, entries);
      if (policy === 'always') {
        expect(result.properties).toEqual({ [property]: value });
        expect(result.changes).toEqual([{ property, before: 'typed by sales', after: value, policy }]);
      } else {
        // ifEmpty never overwrites what a rep typed; never is never written.
        expect(result.properties).toEqual({});
        expect(result.kept).toEqual([{ property, before: 'typed by sales', after: value, policy, reason: policy === 'ifEmpty' ? 'notEmpty' : 'never' }]);
      }
    });
  });

  it('compares numbers and datetimes by value, not by spelling', () => {
    const mapped = { leadpipe_intent_score: '87', leadpipe_last_intent_at: '2026-11-20T08:30:00.000Z' };
    const same = applyPolicy(mapped, { leadpipe_intent_score: '87.0', leadpipe_last_intent_at: String(Date.UTC(2026, 10, 20, 8, 30)) }, entries);
    expect(same.properties).toEqual({});
    const changed = applyPolicy(mapped, { leadpipe_intent_score: '86', leadpipe_last_intent_at: '2026-11-19T08:30:00Z' }, entries);
    expect(Object.keys(changed.properties).sort()).toEqual(['leadpipe_intent_score', 'leadpipe_last_intent_at']);
  });

  it('never blanks a CRM field, whatever the policy', () => {
    const current = { email: 'a@b.co', jobtitle: 'CTO', leadpipe_intent_score: '40', leadpipe_last_intent_at: '2026-01-01T00:00:00Z' };
    const result = applyPolicy({ email: '', jobtitle: '', leadpipe_intent_score: ' ', leadpipe_last_intent_at: '' }, current, entries);
    expect(result).toEqual({ properties: {}, changes: [], kept: [] });
  });

  it('keeps every ifEmpty value of an enriched contact and refreshes only the intent fields', () => {
    const mapped = mapPerson(fullPerson, mapping, context).contact;
    const current = {
      email: 'jane.doe@acme.com',
      firstname: 'Janet',
      lastname: 'Doe-Smith',
      jobtitle: 'Head of RevOps',
      phone: '+1 415 555 0199',
      hs_linkedin_url: null,
      company: '',
      leadpipe_intent_score: '55',
    };
    const result = applyPolicy(mapped, current, mapping.contact);
    for (const typed of ['firstname', 'lastname', 'jobtitle', 'phone', 'email'] as const) {
      expect(result.properties).not.toHaveProperty(typed);
    }
    expect(result.properties).toMatchObject({
      hs_linkedin_url: 'https://www.linkedin.com/in/janedoe',
      company: 'Acme Inc',
      leadpipe_intent_score: '87',
    });
    expect(result.kept.filter((k) => k.reason === 'notEmpty').map((k) => k.property).sort()).toEqual(['firstname', 'jobtitle', 'lastname', 'phone']);
  });

  it('treats a property missing from the mapping as ifEmpty', () => {
    expect(applyPolicy({ mystery: 'new' }, { mystery: 'old' }, entries).properties).toEqual({});
    expect(applyPolicy({ mystery: 'new' }, {}, entries).properties).toEqual({ mystery: 'new' });
  });

  // Found by test/property/mapping-policy.test.ts: mapped { valueOf: 'NaN' } against a record without that
  // field threw "value.trim is not a function": `current.valueOf` was Object.prototype's function.
  it('reads only the record\'s own values: a field named like an Object.prototype member is empty when absent', () => {
    const protoEntries: MappingEntry[] = [
      { property: 'valueOf', source: 'hashedEmail', policy: 'ifEmpty', type: 'enumeration', options: ['NaN'] },
      { property: 'constructor', source: 'jobTitle', policy: 'always', type: 'string' },
    ];
    const result = applyPolicy({ valueOf: 'NaN', constructor: 'CMO' }, {}, protoEntries);
    expect(result.properties).toEqual({ valueOf: 'NaN', constructor: 'CMO' });
    expect(result.changes).toEqual([
      { property: 'valueOf', before: null, after: 'NaN', policy: 'ifEmpty' },
      { property: 'constructor', before: null, after: 'CMO', policy: 'always' },
    ]);
    // A value the record does hold is still kept.
    expect(applyPolicy({ valueOf: 'NaN' }, { valueOf: 'typed' }, protoEntries).properties).toEqual({});
  });
});
