/**
 * The shipped config/mappings/hubspot.json: it loads, and every HubSpot property it names is either ours
 * (`leadpipe_*`, created by `setup`) or a standard HubSpot property we verified.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadMapping } from '../../../src/mapping/load-mapping';

const mapping = loadMapping('hubspot');

/** HubSpot's official OpenAPI specs (HubSpot/HubSpot-public-api-spec-collection), shipped next to the repo. */
const SPECS = path.resolve(__dirname, '../../../../shared/specs/hubspot');

/**
 * Standard properties and where each name was checked. The specs do not enumerate an object's
 * properties (values are `additionalProperties: string`); they only list, in the `properties` query
 * parameter's description, the properties returned by default. The rest come from the reference.
 */
const STANDARD: Record<'contact' | 'company', Record<string, string>> = {
  contact: {
    email: 'spec crm-contacts-v3.json: "Properties returned by default" (contacts)',
    firstname: 'spec crm-contacts-v3.json: "Properties returned by default" (contacts)',
    lastname: 'spec crm-contacts-v3.json: "Properties returned by default" (contacts)',
    jobtitle: 'reference/hubspot.md §2.1, contacts batch upsert example',
    phone: 'reference/hubspot.md §2.1, contacts batch upsert example',
    hs_linkedin_url: 'reference/hubspot.md §2.1, contacts batch upsert example',
    company: 'reference/hubspot.md §3: "Contacts have `company` (a free-text name, not an association)"',
  },
  company: {
    name: 'spec crm-companies-v3.json: "Properties returned by default" (companies)',
    domain: 'spec crm-companies-v3.json: "Properties returned by default" (companies)',
  },
};

/** Parses the "Properties returned by default" table out of a spec: object type → property names. */
function defaultPropertiesInSpec(file: string): Record<string, string[]> {
  // The table is markdown inside the `properties` query parameter's description: search the whole document.
  const json = JSON.stringify(JSON.parse(readFileSync(file, 'utf8')));
  const table: Record<string, string[]> = {};
  for (const m of json.matchAll(/\| `([a-z_]+)` \| ((?:`[a-z_]+`(?:, )?)+) \|/g)) {
    table[m[1] as string] = [...(m[2] as string).matchAll(/`([a-z_]+)`/g)].map((n) => n[1] as string);
  }
  return table;
}

describe('config/mappings/hubspot.json', () => {
  it('loads, and maps the intent properties the design requires with policy always', () => {
    const always = mapping.contact.filter((e) => e.policy === 'always').map((e) => e.property);
    expect(always).toEqual(
      expect.arrayContaining(['leadpipe_intent_score', 'leadpipe_intent_topics', 'leadpipe_last_intent_at', 'leadpipe_hashed_email', 'leadpipe_audience']),
    );
    expect(mapping.contact.find((e) => e.property === 'email')?.policy).toBe('never');
    expect(mapping.volatile).toEqual(['leadpipe_last_intent_at']);
  });

  it('writes contact and company data only into empty fields', () => {
    for (const entry of [...mapping.contact, ...mapping.company]) {
      if (!entry.property.startsWith('leadpipe_') && entry.property !== 'email') expect(entry.policy).toBe('ifEmpty');
    }
  });

  it('never writes free text into HubSpot’s `industry` enumeration', () => {
    expect(mapping.company.map((e) => e.property)).not.toContain('industry');
    expect(mapping.company.find((e) => e.source === 'company.industry')?.property).toBe('leadpipe_industry');
  });

  it.each(['contact', 'company'] as const)('every %s property is custom (leadpipe_*) or a verified standard property', (object) => {
    for (const entry of mapping[object]) {
      const ok = entry.property.startsWith(mapping.customPrefix) || entry.property in STANDARD[object];
      expect({ property: entry.property, ok }).toEqual({ property: entry.property, ok: true });
    }
  });

  // ../shared/specs is beside every checkout and CI clone; a missing folder fails here rather than skipping.
  it('the standard properties attributed to the spec are in HubSpot’s spec', () => {
    expect(existsSync(path.join(SPECS, 'crm-contacts-v3.json'))).toBe(true);
    const contacts = defaultPropertiesInSpec(path.join(SPECS, 'crm-contacts-v3.json'));
    const companies = defaultPropertiesInSpec(path.join(SPECS, 'crm-companies-v3.json'));
    expect(contacts.contacts).toEqual(expect.arrayContaining(['firstname', 'lastname', 'email']));
    expect(companies.companies).toEqual(expect.arrayContaining(['name', 'domain']));
    for (const [object, table] of [['contact', contacts.contacts], ['company', companies.companies]] as const) {
      for (const [property, source] of Object.entries(STANDARD[object])) {
        if (source.startsWith('spec ')) expect(table).toContain(property);
      }
    }
  });

  it('custom properties carry what setup needs: a label, and options for enumerations', () => {
    for (const entry of [...mapping.contact, ...mapping.company].filter((e) => e.property.startsWith('leadpipe_'))) {
      expect(entry.label).toBeTruthy();
      if (entry.type === 'enumeration') expect(entry.options).toEqual(expect.arrayContaining(['hot', 'warm', 'cold']));
    }
  });
});
