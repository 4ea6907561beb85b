import { fingerprintPayload } from '../../../src/mapping/fingerprint';
import { mapPerson } from '../../../src/mapping/map-person';
import { context, fullPerson, mapping } from './people';

describe('fingerprintPayload', () => {
  const payload = { email: 'jane@acme.com', leadpipe_intent_score: '87', leadpipe_intent_topics: 'CRM; ABM' };

  it('is 64 hex characters and the same regardless of key order', () => {
    const fp = fingerprintPayload(payload);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintPayload({ leadpipe_intent_topics: 'CRM; ABM', email: 'jane@acme.com', leadpipe_intent_score: '87' })).toBe(fp);
    expect(
      fingerprintPayload({ company: { name: 'Acme', domain: 'acme.com' }, contact: payload }),
    ).toBe(fingerprintPayload({ contact: { ...payload }, company: { domain: 'acme.com', name: 'Acme' } }));
  });

  it('changes when any value, key or nesting changes', () => {
    const fp = fingerprintPayload(payload);
    expect(fingerprintPayload({ ...payload, leadpipe_intent_score: '88' })).not.toBe(fp);
    expect(fingerprintPayload({ ...payload, leadpipe_intent_topics: 'CRM;ABM' })).not.toBe(fp);
    expect(fingerprintPayload({ ...payload, jobtitle: 'CTO' })).not.toBe(fp);
    expect(fingerprintPayload({ contact: payload })).not.toBe(fp);
    // No ambiguity between a key/value split: {"a":"b:c"} vs {"a:b":"c"}.
    expect(fingerprintPayload({ a: 'b:c' })).not.toBe(fingerprintPayload({ 'a:b': 'c' }));
  });

  it('ignores the run date, so an unchanged person in a new run still counts as unchanged', () => {
    const run1 = mapPerson(fullPerson, mapping, context);
    const run2 = mapPerson(fullPerson, mapping, { ...context, runId: 'run_02', intentAt: '2026-11-27T08:30:00Z' });
    expect(run2.contact.leadpipe_last_intent_at).not.toBe(run1.contact.leadpipe_last_intent_at);
    expect(fingerprintPayload(run2, mapping.volatile)).toBe(fingerprintPayload(run1, mapping.volatile));
    const changed = mapPerson({ ...fullPerson, score: 90 }, mapping, { ...context, intentAt: '2026-11-27T08:30:00Z' });
    expect(fingerprintPayload(changed, mapping.volatile)).not.toBe(fingerprintPayload(run1, mapping.volatile));
    // With nothing excluded the date does count.
    expect(fingerprintPayload(run2, [])).not.toBe(fingerprintPayload(run1, []));
  });
});
