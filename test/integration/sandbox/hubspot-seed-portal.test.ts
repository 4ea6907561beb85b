/** seedPortalFromPeople: a realistic existing portal, deterministic per seed, described by its manifest. */
import { generatePeople, type GeneratedRow } from '../../../src/sandbox/generate-people';
import { seedPortalFromPeople, SEED_DEAL_KINDS, type SeedPortalManifest } from '../../../src/sandbox/hubspot/seed-portal';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/server';
import type { HubspotSandbox } from '../../../src/sandbox/hubspot/server';

const CLOCK = Date.parse('2026-01-05T09:00:00Z');
const rows: GeneratedRow[] = [...generatePeople({ seed: 'portal-test', count: 1000, duplicateShare: 0.03, malformedShare: 0.02 })];
const people = rows.flatMap((r) => (r.kind === 'person' && r.duplicateOf === null ? [r.person] : []));
const domains = new Set(people.flatMap((p) => (p.company.domain ? [p.company.domain.toLowerCase()] : [])));

describe('seedPortalFromPeople', () => {
  let sb: HubspotSandbox;
  let manifest: SeedPortalManifest;

  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimit: false, now: () => CLOCK });
    manifest = seedPortalFromPeople(sb, rows, { seed: 7 });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('seeds ~20% of people as contacts under their primary email and ~5% under a different personal email only', () => {
    expect(Object.keys(manifest.contactsByEmail)).toHaveLength(Math.round(people.length * 0.2));
    expect(manifest.personalEmailContacts).toHaveLength(Math.round(people.length * 0.05));
    for (const [email, id] of Object.entries(manifest.contactsByEmail)) {
      expect(email).toBe(email.toLowerCase());
      expect(sb.contactByEmail(email)?.id).toBe(id);
    }
    for (const { primaryEmail, personalEmail, contactId } of manifest.personalEmailContacts) {
      expect(personalEmail).not.toBe(primaryEmail);
      expect(sb.contactByEmail(primaryEmail)).toBeUndefined();
      expect(sb.contactById(contactId)?.properties.email).toBe(personalEmail);
    }
    expect(sb.listContacts()).toHaveLength(Object.keys(manifest.contactsByEmail).length + manifest.personalEmailContacts.length);
  });

  it('gives some contacts a human-set job title or phone that differs from Leadpipe’s', () => {
    const byEmail = new Map(people.map((p) => [p.primaryContactEmail.toLowerCase(), p]));
    expect(manifest.humanContactFields.filter((h) => h.jobtitle !== undefined).length).toBeGreaterThan(10);
    expect(manifest.humanContactFields.filter((h) => h.phone !== undefined).length).toBeGreaterThan(10);
    for (const h of manifest.humanContactFields) {
      const person = byEmail.get(h.email);
      const contact = sb.contactById(h.contactId);
      if (h.jobtitle !== undefined) {
        expect(contact?.properties.jobtitle).toBe(h.jobtitle);
        expect(h.jobtitle.toLowerCase()).not.toBe((person?.jobTitle ?? '').toLowerCase());
      }
      if (h.phone !== undefined) expect(contact?.properties.phone).toBe(h.phone);
    }
  });

  it('seeds ~40% of company domains, found by domain, some named differently by a human', () => {
    expect(Object.keys(manifest.companiesByDomain)).toHaveLength(Math.round(domains.size * 0.4));
    for (const [domain, id] of Object.entries(manifest.companiesByDomain)) {
      expect(domains.has(domain)).toBe(true);
      expect(sb.companyById(id)?.properties.domain).toBe(domain);
    }
    expect(manifest.renamedCompanies.length).toBeGreaterThan(0);
    for (const r of manifest.renamedCompanies) {
      expect(sb.companyById(r.companyId)?.properties.name).toBe(r.name);
      expect(r.name.toLowerCase()).not.toBe(r.leadpipeName.toLowerCase());
    }
    for (const { contactId, companyId } of manifest.contactCompanies) expect(sb.associatedIds('contacts', contactId, 'companies')).toEqual([companyId]);
  });

  it('seeds open deals without priority, with high, with low, and closed ones, associated as the manifest says', () => {
    expect(new Set(manifest.deals.map((d) => d.kind))).toEqual(new Set(SEED_DEAL_KINDS));
    for (const d of manifest.deals) {
      const deal = sb.dealById(d.id);
      expect(deal?.properties.dealstage).toBe(d.stage);
      expect(deal?.properties.hs_is_closed).toBe(String(d.closed));
      expect(deal?.properties.hs_priority ?? null).toBe(d.priority);
      expect(sb.associatedIds('deals', d.id, 'contacts')).toEqual(d.contactIds);
      expect(sb.associatedIds('deals', d.id, 'companies')).toEqual(d.companyIds);
      expect(d.contactIds.length + d.companyIds.length).toBeGreaterThan(0);
      if (d.kind === 'open-high') expect(d.priority).toBe('high');
      if (d.kind === 'open-low') expect(d.priority).toBe('low');
      if (d.kind === 'open-no-priority') expect(d.priority).toBeNull();
      expect(d.closed).toBe(d.kind === 'closed-won' || d.kind === 'closed-lost');
    }
    expect(manifest.deals.some((d) => d.contactIds.length > 0 && d.companyIds.length > 0)).toBe(true);
    expect(manifest.deals.some((d) => d.contactIds.length === 0)).toBe(true);
    expect(manifest.deals.some((d) => d.companyIds.length === 0)).toBe(true);
  });

  it('is deterministic per seed and honours configured shares', async () => {
    const again = await startHubspotSandbox({ rateLimit: false, now: () => CLOCK });
    const other = await startHubspotSandbox({ rateLimit: false, now: () => CLOCK });
    try {
      expect(seedPortalFromPeople(again, rows, { seed: 7 })).toEqual(manifest);
      expect(again.state.contacts.map((c) => c.properties)).toEqual(sb.state.contacts.map((c) => c.properties));
      expect(again.state.associations).toEqual(sb.state.associations);
      const custom = seedPortalFromPeople(other, rows, { seed: 8, contactShare: 0.5, personalEmailShare: 0, companyShare: 0, contactDealShare: 0 });
      expect(Object.keys(custom.contactsByEmail)).toHaveLength(Math.round(people.length * 0.5));
      expect(custom.personalEmailContacts).toEqual([]);
      expect(custom.companiesByDomain).toEqual({});
      expect(custom.deals).toEqual([]);
      expect(() => seedPortalFromPeople(other, rows, { seed: 1, contactShare: 2 })).toThrow(RangeError);
    } finally {
      await again.close();
      await other.close();
    }
  });
});
