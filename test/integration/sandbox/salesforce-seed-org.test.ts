/** seedOrgFromPeople: a realistic existing Salesforce org, deterministic per seed, described by its manifest. */
import { Connection } from 'jsforce';
import { generatePeople, type GeneratedRow } from '../../../src/sandbox/generate-people';
import { seedOrgFromPeople, SEED_OPPORTUNITY_KINDS, type SeedOrgManifest } from '../../../src/sandbox/salesforce/seed-org';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/server';

const TODAY = Date.parse('2026-01-05T09:00:00Z');
const rows: GeneratedRow[] = [...generatePeople({ seed: 'org-test', count: 1000, duplicateShare: 0.03, malformedShare: 0.02 })];
const people = rows.flatMap((r) => (r.kind === 'person' && r.duplicateOf === null ? [r.person] : []));
const byEmail = new Map(people.map((p) => [p.primaryContactEmail.toLowerCase(), p]));
const domains = new Set(people.flatMap((p) => (p.company.domain ? [p.company.domain.toLowerCase()] : [])));

describe('seedOrgFromPeople', () => {
  let sb: SalesforceSandbox;
  let manifest: SeedOrgManifest;

  beforeAll(async () => {
    sb = await startSalesforceSandbox({ now: () => TODAY });
    manifest = seedOrgFromPeople(sb, rows, { seed: 7, today: TODAY });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('seeds ~20% of people as Contacts under their business email, some in mixed case', () => {
    const contacts = Object.entries(manifest.contactsByEmail);
    expect(contacts).toHaveLength(Math.round(people.length * 0.2));
    for (const [email, id] of contacts) {
      expect(byEmail.get(email)?.businessEmail?.toLowerCase()).toBe(email);
      expect(sb.findByEmail('Contact', email).map((c) => c.Id)).toEqual([id]);
    }
    expect(manifest.mixedCaseEmails.length).toBeGreaterThan(10);
    for (const m of manifest.mixedCaseEmails) {
      expect(m.stored).not.toBe(m.email);
      expect(m.stored.toLowerCase()).toBe(m.email);
      expect(sb.get(m.type, m.id)?.Email).toBe(m.stored);
    }
    expect(sb.list('Contact')).toHaveLength(contacts.length);
  });

  it('gives some Contacts a human-set Title or Phone and an Account found by Website', () => {
    expect(manifest.humanContactFields.filter((h) => h.Title !== undefined).length).toBeGreaterThan(10);
    expect(manifest.humanContactFields.filter((h) => h.Phone !== undefined).length).toBeGreaterThan(10);
    for (const h of manifest.humanContactFields) {
      const contact = sb.get('Contact', h.contactId);
      if (h.Title !== undefined) {
        expect(contact?.Title).toBe(h.Title);
        expect(h.Title.toLowerCase()).not.toBe((byEmail.get(h.email)?.jobTitle ?? '').toLowerCase());
      }
      if (h.Phone !== undefined) expect(contact?.Phone).toBe(h.Phone);
    }
    expect(Object.keys(manifest.accountsByDomain)).toHaveLength(Math.round(domains.size * 0.4));
    for (const [domain, id] of Object.entries(manifest.accountsByDomain)) expect(sb.get('Account', id)?.Website).toBe(domain);
    expect(manifest.renamedAccounts.length).toBeGreaterThan(0);
    for (const r of manifest.renamedAccounts) expect(sb.get('Account', r.accountId)?.Name).toBe(r.name);
    for (const { contactId, accountId } of manifest.contactAccounts) expect(sb.get('Contact', contactId)?.AccountId).toBe(accountId);
  });

  it('seeds converted Leads pointing at their Contact, Leads that duplicate a Contact, and Lead-only people', () => {
    expect(manifest.convertedLeads).toHaveLength(Math.round(Object.keys(manifest.contactsByEmail).length * 0.3));
    for (const c of manifest.convertedLeads) {
      const lead = sb.get('Lead', c.leadId);
      expect(lead).toMatchObject({ IsConverted: true, ConvertedContactId: c.contactId, Status: 'Closed - Converted' });
      expect(manifest.contactsByEmail[c.email]).toBe(c.contactId);
      expect(String(lead?.Email).toLowerCase()).toBe(c.email);
      expect(lead?.ConvertedAccountId ?? null).toBe(sb.get('Contact', c.contactId)?.AccountId ?? null);
    }
    expect(manifest.leadAndContact.length).toBeGreaterThan(0);
    for (const d of manifest.leadAndContact) {
      expect(sb.get('Lead', d.leadId)).toMatchObject({ IsConverted: false });
      expect(manifest.contactsByEmail[d.email]).toBe(d.contactId);
    }
    expect(Object.keys(manifest.leadsByEmail)).toHaveLength(Math.round(people.length * 0.15));
    for (const [email, id] of Object.entries(manifest.leadsByEmail)) {
      expect(manifest.contactsByEmail[email]).toBeUndefined();
      expect(sb.findByEmail('Lead', email).map((l) => l.Id)).toEqual([id]);
      expect(sb.get('Lead', id)).toMatchObject({ IsConverted: false, Status: 'Open - Not Contacted' });
    }
    expect(manifest.humanLeadFields.some((h) => h.Rating !== undefined)).toBe(true);
  });

  it('seeds open and closed Opportunities with contact roles, some with a human-set priority', () => {
    expect(new Set(manifest.opportunities.map((o) => o.kind))).toEqual(new Set(SEED_OPPORTUNITY_KINDS));
    for (const o of manifest.opportunities) {
      const opp = sb.get('Opportunity', o.id);
      expect(opp).toMatchObject({ StageName: o.stage, IsClosed: o.closed, Leadpipe_Priority__c: o.priority, AccountId: o.accountId });
      expect(o.contactRoleIds).toHaveLength(o.contactIds.length);
      if (o.kind === 'open-high') expect(o.priority).toBe('High');
      if (o.kind === 'open-no-priority') expect(o.priority).toBeNull();
      expect(String(opp?.CloseDate) < '2026-01-05').toBe(o.closed);
    }
    const roles = sb.list('OpportunityContactRole');
    expect(roles).toHaveLength(manifest.opportunities.reduce((n, o) => n + o.contactIds.length, 0));
  });

  it('is what SOQL sees: open opportunities of the seeded contacts through their contact roles', async () => {
    const conn = new Connection({ instanceUrl: sb.url, accessToken: sb.accessToken, version: '62.0' });
    const contactIds = [...new Set(manifest.opportunities.flatMap((o) => o.contactIds))];
    const res = await conn.query<{ OpportunityId: string }>(
      `SELECT OpportunityId, Opportunity.StageName FROM OpportunityContactRole WHERE ContactId IN (${contactIds.map((id) => `'${id}'`).join(', ')}) AND Opportunity.IsClosed = false`,
    );
    const expected = manifest.opportunities.filter((o) => !o.closed && o.contactIds.length > 0).map((o) => o.id);
    expect(res.records.map((r) => r.OpportunityId).sort()).toEqual(expected.sort());
  });

  it('is deterministic per seed, and skips priorities when the org lacks the field', async () => {
    const again = await startSalesforceSandbox({ now: () => TODAY });
    const bare = await startSalesforceSandbox({ now: () => TODAY, customFields: false });
    try {
      expect(seedOrgFromPeople(again, rows, { seed: 7, today: TODAY })).toEqual(manifest);
      expect(again.state.records).toEqual(sb.state.records);
      const other = seedOrgFromPeople(bare, rows, { seed: 8, today: TODAY });
      expect(other.opportunities.every((o) => o.priority === null && o.kind !== 'open-high' && o.kind !== 'open-low')).toBe(true);
      expect(other.contactsByEmail).not.toEqual(manifest.contactsByEmail);
    } finally {
      await again.close();
      await bare.close();
    }
  });
});
