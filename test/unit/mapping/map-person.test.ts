import type { IntentPerson } from '../../../src/ingest/types';
import { intentTier, mapPerson } from '../../../src/mapping/map-person';
import { context, fullPerson, mapping, sparsePerson } from './people';

describe('mapPerson', () => {
  it('maps a full person onto contact and company properties, all as strings', () => {
    const mapped = mapPerson(fullPerson, mapping, context);
    expect(mapped.contact).toEqual({
      email: 'jane.doe@acme.com',
      firstname: 'Jane',
      lastname: 'Doe',
      jobtitle: 'VP Revenue Operations',
      phone: '+14155550100',
      hs_linkedin_url: 'https://www.linkedin.com/in/janedoe',
      company: 'Acme Inc',
      leadpipe_seniority: 'VP',
      leadpipe_department: 'Operations',
      leadpipe_intent_score: '87',
      leadpipe_intent_tier: 'hot',
      leadpipe_intent_topics: 'CRM software; Intent data; ABM',
      leadpipe_topic_count: '3',
      leadpipe_last_intent_at: '2026-11-20T08:30:00.000Z',
      leadpipe_hashed_email: fullPerson.key,
      leadpipe_audience: 'CRM buyers — EMEA',
      leadpipe_audience_id: 'aud_42',
    });
    expect(mapped.company).toEqual({
      name: 'Acme Inc',
      domain: 'acme.com',
      leadpipe_industry: 'Computer Software',
      leadpipe_company_key: 'acme.com',
    });
    // HubSpot's `industry` is an enumeration: free text never goes into it.
    expect(mapped.company).not.toHaveProperty('industry');
  });

  it('maps a sparse person without inventing values, and without a company when there is no domain', () => {
    const mapped = mapPerson(sparsePerson, mapping, { runId: 'r', audienceId: 'aud_1', intentAt: '2026-11-20T08:30:00.000+01:00' });
    expect(mapped).toEqual({
      contact: {
        email: 'sam@example.org',
        leadpipe_intent_score: '12',
        leadpipe_intent_tier: 'cold',
        leadpipe_topic_count: '0',
        leadpipe_last_intent_at: '2026-11-20T07:30:00.000Z',
        leadpipe_hashed_email: 'c'.repeat(64),
        leadpipe_audience: 'aud_1',
        leadpipe_audience_id: 'aud_1',
      },
    });
  });

  it('never produces a property for an empty or blank source value', () => {
    const blanky: IntentPerson = { ...fullPerson, firstName: '  ', jobTitle: '', topics: [], company: { name: ' ', domain: 'acme.com' } };
    const mapped = mapPerson(blanky, mapping, { ...context, audienceName: '  ' });
    for (const props of [mapped.contact, mapped.company ?? {}]) {
      for (const value of Object.values(props)) expect(value.trim()).not.toBe('');
    }
    expect(mapped.contact).not.toHaveProperty('firstname');
    expect(mapped.contact).not.toHaveProperty('jobtitle');
    expect(mapped.contact).not.toHaveProperty('leadpipe_intent_topics');
    expect(mapped.contact).not.toHaveProperty('company');
    expect(mapped.contact.leadpipe_audience).toBe('aud_42');
    expect(mapped.company).toEqual({ domain: 'acme.com', leadpipe_company_key: 'acme.com' });
  });

  it('uses the first ranked email, and the ledger key when Leadpipe sent no hash', () => {
    const { hashedEmail: _hash, ...rest } = fullPerson;
    const noHash: IntentPerson = { ...rest, key: 'e'.repeat(64) };
    expect(mapPerson(noHash, mapping, context).contact).toMatchObject({ email: 'jane.doe@acme.com', leadpipe_hashed_email: 'e'.repeat(64) });
    const noEmail = mapPerson({ ...sparsePerson, emails: [] }, mapping, context);
    expect(noEmail.contact).not.toHaveProperty('email');
  });

  it('is pure: the same input gives the same output, and the clock is not read', () => {
    const spy = jest.spyOn(Date, 'now');
    expect(mapPerson(fullPerson, mapping, context)).toEqual(mapPerson(fullPerson, mapping, context));
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('rejects an intentAt that is not a date/time', () => {
    expect(() => mapPerson(fullPerson, mapping, { ...context, intentAt: 'yesterday' })).toThrow(/leadpipe_last_intent_at.*ISO 8601/);
  });

  it('derives the tier from the thresholds in the mapping file', () => {
    const tiers = { hot: 80, warm: 50 };
    expect([100, 80, 79, 50, 49, 1].map((s) => intentTier(s, tiers))).toEqual(['hot', 'hot', 'warm', 'warm', 'cold', 'cold']);
    const strict = { ...mapping, tiers: { hot: 95, warm: 90 } };
    expect(mapPerson(fullPerson, strict, context).contact.leadpipe_intent_tier).toBe('cold');
  });
});
