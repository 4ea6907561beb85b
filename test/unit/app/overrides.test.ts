import { applyOverrides, overrideProblems, parseOverrides } from '../../../src/app/overrides';
import { loadConfig } from '../../../src/config';
import type { PlannedPerson } from '../../../src/destinations/destination';
import { hashEmail } from '../../../src/ingest/hash-email';
import type { IntentPerson } from '../../../src/ingest/types';
import { loadMapping } from '../../../src/mapping/load-mapping';
import type { Mapping } from '../../../src/mapping/mapping-schema';

const config = loadConfig({});
const hubspot = loadMapping('hubspot');
const salesforce = loadMapping('salesforce');

function planned(score: number): PlannedPerson {
  const address = `p${score}@acme.com`;
  const person: IntentPerson = {
    key: hashEmail(address),
    emails: [{ address, sha256: hashEmail(address), kind: 'primary' }],
    company: {},
    score,
    topics: [],
    extra: {},
    line: 2,
    rows: 1,
  };
  return { key: person.key, person, mapped: { contact: {} }, fingerprint: 'f', previous: undefined };
}

const policyOf = (mapping: Mapping, property: string): string | undefined => [...mapping.contact, ...mapping.company, ...(mapping.lead ?? [])].find((e) => e.property === property)?.policy;

describe('overrideProblems', () => {
  it('has no problem with valid overrides, or none', () => {
    expect(overrideProblems({}, hubspot, config, 'hubspot')).toEqual([]);
    expect(
      overrideProblems({ mode: 'updateOnly', createMinScore: 70, priority: { minScore: 50, medium: 65, high: 90 }, policies: { firstname: 'always', jobtitle: 'ifEmpty' } }, hubspot, config, 'hubspot'),
    ).toEqual([]);
  });

  it('names a property that is not in the CRM’s mapping', () => {
    expect(overrideProblems({ policies: { favourite_colour: 'always' } }, hubspot, config, 'hubspot')).toEqual(['policies.favourite_colour: not a property of config/mappings/hubspot.json']);
    // A HubSpot property is not a Salesforce one.
    expect(overrideProblems({ policies: { hs_linkedin_url: 'always' } }, salesforce, config, 'salesforce')).toEqual(['policies.hs_linkedin_url: not a property of config/mappings/salesforce.json']);
  });

  it('refuses to change the policy of an identity property (email, hashed email, company key)', () => {
    const problems = overrideProblems({ policies: { email: 'always', leadpipe_hashed_email: 'ifEmpty', leadpipe_company_key: 'always', firstname: 'always' } }, hubspot, config, 'hubspot');
    expect(problems).toEqual([
      'policies.email: an identity property; its policy cannot be changed',
      'policies.leadpipe_hashed_email: an identity property; its policy cannot be changed',
      'policies.leadpipe_company_key: an identity property; its policy cannot be changed',
    ]);
  });

  it('refuses a high threshold under the medium one, counting the config’s value for the one not given', () => {
    expect(overrideProblems({ priority: { medium: 80, high: 70 } }, hubspot, config, 'hubspot')).toEqual(['priority: high (70) must be ≥ medium (80)']);
    // Default high is 80: a medium of 85 alone crosses it.
    expect(config.hubspot.priority.high).toBe(80);
    expect(overrideProblems({ priority: { medium: 85 } }, hubspot, config, 'hubspot')).toEqual(['priority: high (80) must be ≥ medium (85)']);
    expect(overrideProblems({ priority: { medium: 80, high: 80 } }, hubspot, config, 'hubspot')).toEqual([]);
  });

  it('refuses an unknown mode, a policy other than always/ifEmpty, a score out of range and unknown fields, naming each', () => {
    const problems = overrideProblems({ mode: 'deleteAll' }, hubspot, config, 'hubspot');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^mode: /);
    expect(overrideProblems({ policies: { firstname: 'never' } }, hubspot, config, 'hubspot')[0]).toMatch(/^policies\.firstname: /);
    expect(overrideProblems({ createMinScore: 0 }, hubspot, config, 'hubspot')).toEqual(['createMinScore: must be 1–100']);
    expect(overrideProblems({ priority: { high: 101 } }, hubspot, config, 'hubspot')).toEqual(['priority.high: must be 1–100']);
    expect(overrideProblems({ createMinScore: 50.5 }, hubspot, config, 'hubspot')).toEqual(['createMinScore: must be a whole number']);
    expect(overrideProblems({ dryRun: true }, hubspot, config, 'hubspot')[0]).toMatch(/dryRun/);
    expect(overrideProblems('create', hubspot, config, 'hubspot')[0]).toMatch(/^overrides: /);
  });

  it('parseOverrides throws BAD_REQUEST with every problem, or returns the overrides', () => {
    expect(() => parseOverrides({ mode: 'x', policies: { email: 'always' } }, hubspot, config, 'hubspot')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }) as Error);
    expect(() => parseOverrides({ policies: { email: 'always', nope: 'always' } }, hubspot, config, 'hubspot')).toThrow(/policies\.email.*; policies\.nope/);
    expect(parseOverrides({ mode: 'updateOnly' }, hubspot, config, 'hubspot')).toEqual({ mode: 'updateOnly' });
  });
});

describe('applyOverrides', () => {
  it('changes the policies named in the mapping, and only those, without touching the base mapping', () => {
    expect(policyOf(hubspot, 'firstname')).toBe('ifEmpty');
    expect(policyOf(hubspot, 'leadpipe_industry')).toBe('ifEmpty');
    const { mapping } = applyOverrides(config, hubspot, { policies: { firstname: 'always', leadpipe_intent_score: 'ifEmpty', leadpipe_industry: 'always' } }, 'hubspot');
    expect(policyOf(mapping, 'firstname')).toBe('always');
    expect(policyOf(mapping, 'leadpipe_intent_score')).toBe('ifEmpty');
    expect(policyOf(mapping, 'leadpipe_industry')).toBe('always');
    expect(policyOf(mapping, 'lastname')).toBe('ifEmpty');
    expect(policyOf(mapping, 'email')).toBe('never');
    expect(policyOf(hubspot, 'firstname')).toBe('ifEmpty');
    expect(mapping.contact.map((e) => e.property)).toEqual(hubspot.contact.map((e) => e.property));
  });

  it('changes Salesforce lead properties too', () => {
    const lead = salesforce.lead ?? [];
    const target = lead.find((e) => e.policy === 'ifEmpty');
    expect(target).toBeDefined();
    const { mapping } = applyOverrides(config, salesforce, { policies: { [target?.property ?? '']: 'always' } }, 'salesforce');
    expect(mapping.lead?.find((e) => e.property === target?.property)?.policy).toBe('always');
  });

  it('merges the priority thresholds into the CRM’s config, keeping the ones not given and the other CRM’s', () => {
    const { config: effective } = applyOverrides(config, hubspot, { priority: { high: 95 } }, 'hubspot');
    expect(effective.hubspot.priority).toEqual({ ...config.hubspot.priority, high: 95 });
    expect(effective.salesforce.priority).toEqual(config.salesforce.priority);
    expect(config.hubspot.priority.high).toBe(80);

    const sf = applyOverrides(config, salesforce, { priority: { minScore: 40, medium: 50 } }, 'salesforce').config;
    expect(sf.salesforce.priority).toEqual({ ...config.salesforce.priority, minScore: 40, medium: 50 });
    expect(sf.hubspot.priority).toEqual(config.hubspot.priority);
  });

  it('creates everyone by default (no create policy), nobody in updateOnly mode, and by score with createMinScore', () => {
    expect(applyOverrides(config, hubspot, {}, 'hubspot').createPolicy).toBeUndefined();
    expect(applyOverrides(config, hubspot, { mode: 'create' }, 'hubspot').createPolicy).toBeUndefined();

    const updateOnly = applyOverrides(config, hubspot, { mode: 'updateOnly' }, 'hubspot').createPolicy;
    expect([1, 50, 100].map((s) => updateOnly?.(planned(s)))).toEqual([false, false, false]);
    // updateOnly wins over a threshold.
    const both = applyOverrides(config, hubspot, { mode: 'updateOnly', createMinScore: 10 }, 'hubspot').createPolicy;
    expect(both?.(planned(99))).toBe(false);

    const byScore = applyOverrides(config, hubspot, { createMinScore: 70 }, 'hubspot').createPolicy;
    expect([69, 70, 71, 100].map((s) => byScore?.(planned(s)))).toEqual([false, true, true, true]);
  });
});
