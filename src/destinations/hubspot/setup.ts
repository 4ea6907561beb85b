/**
 * `orbit-sync setup hubspot`: the property group `leadpipe` and every custom property orbit-sync writes,
 * on contacts, companies and deals. Idempotent: it reads what exists first and creates only what is
 * missing; a 409 from a concurrent setup counts as "exists". `leadpipe_company_key` is created with
 * `hasUniqueValue`, so companies we create can be upserted on it (reference/hubspot.md §3: `domain` is
 * not unique and cannot be an idProperty).
 *
 * Standard properties the mapping writes (jobtitle, phone, hs_linkedin_url, company, name, domain…) are
 * checked against the portal's own property list rather than assumed.
 */
import type { Client } from '@hubspot/api-client';
import { PropertyCreateFieldTypeEnum, PropertyCreateTypeEnum, type PropertyCreate } from '@hubspot/api-client/lib/codegen/crm/properties';
import { SyncError } from '../../lib/errors';
import type { Mapping, MappingEntry } from '../../mapping/mapping-schema';
import type { HubspotApi } from './hubspot-api';
import { GroupList, parseBody, PropertyList, type Property } from './schemas';

export const LEADPIPE_GROUP = { name: 'leadpipe', label: 'Leadpipe intent', displayOrder: -1 };
/** The unique company key orbit-sync upserts the companies it creates on. */
export const COMPANY_KEY_PROPERTY = 'leadpipe_company_key';

export type HubspotObject = 'contacts' | 'companies' | 'deals';

export interface PropertyDefinition {
  name: string;
  label: string;
  type: 'string' | 'number' | 'datetime' | 'enumeration';
  fieldType: 'text' | 'textarea' | 'number' | 'date' | 'select';
  description: string;
  hasUniqueValue?: boolean;
  options?: Array<{ label: string; value: string; hidden: boolean; displayOrder: number }>;
}

/** Properties orbit-sync writes on deals (prioritize stage). */
export const DEAL_PROPERTIES: readonly PropertyDefinition[] = [
  { name: 'leadpipe_intent_score', label: 'Leadpipe intent score', type: 'number', fieldType: 'number', description: 'Highest Leadpipe intent score among the deal’s contacts and company.' },
  { name: 'leadpipe_intent_topics', label: 'Leadpipe intent topics', type: 'string', fieldType: 'textarea', description: 'Topics the deal’s people research, joined with "; ".' },
  { name: 'leadpipe_last_intent_at', label: 'Leadpipe last intent at', type: 'datetime', fieldType: 'date', description: 'Date of the Leadpipe run that last raised this deal.' },
];

function definitionOf(entry: MappingEntry): PropertyDefinition {
  const label = entry.label ?? entry.property;
  const description = `Written by orbit-sync from Leadpipe (${entry.source}).`;
  switch (entry.type) {
    case 'number':
      return { name: entry.property, label, type: 'number', fieldType: 'number', description };
    case 'datetime':
      return { name: entry.property, label, type: 'datetime', fieldType: 'date', description };
    case 'enumeration':
      return {
        name: entry.property,
        label,
        type: 'enumeration',
        fieldType: 'select',
        description,
        options: (entry.options ?? []).map((value, i) => ({ label: value.charAt(0).toUpperCase() + value.slice(1), value, hidden: false, displayOrder: i })),
      };
    case 'string':
      return {
        name: entry.property,
        label,
        type: 'string',
        fieldType: entry.source === 'intent.topics' ? 'textarea' : 'text',
        description,
        ...(entry.property === COMPANY_KEY_PROPERTY && { hasUniqueValue: true }),
      };
  }
}

/** The custom properties of each object, from the mapping (contacts, companies) and DEAL_PROPERTIES. */
export function customProperties(mapping: Mapping): Record<HubspotObject, PropertyDefinition[]> {
  const custom = (entries: readonly MappingEntry[]): PropertyDefinition[] =>
    entries.filter((e) => e.property.startsWith(mapping.customPrefix)).map(definitionOf);
  return { contacts: custom(mapping.contact), companies: custom(mapping.company), deals: [...DEAL_PROPERTIES] };
}

/** Standard (HubSpot-defined) properties the mapping writes or reads. */
export function standardProperties(mapping: Mapping): Record<HubspotObject, string[]> {
  const standard = (entries: readonly MappingEntry[]): string[] => entries.filter((e) => !e.property.startsWith(mapping.customPrefix)).map((e) => e.property);
  return { contacts: standard(mapping.contact), companies: standard(mapping.company), deals: ['dealname', 'dealstage', 'hs_is_closed', 'hs_priority'] };
}

export interface SetupReport {
  groupsCreated: HubspotObject[];
  created: Array<{ object: HubspotObject; property: string }>;
  existing: Array<{ object: HubspotObject; property: string }>;
}

export async function listProperties(client: Client, api: HubspotApi, object: HubspotObject): Promise<Map<string, Property>> {
  const endpoint = `GET /crm/v3/properties/${object}`;
  const body = parseBody(PropertyList, await api.call(endpoint, () => client.crm.properties.coreApi.getAll(object, false)), endpoint);
  return new Map(body.results.map((p) => [p.name, p]));
}

const TYPES: Record<PropertyDefinition['type'], PropertyCreateTypeEnum> = {
  string: PropertyCreateTypeEnum.String,
  number: PropertyCreateTypeEnum.Number,
  datetime: PropertyCreateTypeEnum.Datetime,
  enumeration: PropertyCreateTypeEnum.Enumeration,
};
const FIELD_TYPES: Record<PropertyDefinition['fieldType'], PropertyCreateFieldTypeEnum> = {
  text: PropertyCreateFieldTypeEnum.Text,
  textarea: PropertyCreateFieldTypeEnum.Textarea,
  number: PropertyCreateFieldTypeEnum.Number,
  date: PropertyCreateFieldTypeEnum.Date,
  select: PropertyCreateFieldTypeEnum.Select,
};

/** The SDK's `PropertyCreate` (crm-properties-v3.json) for a definition, in our group. */
export function propertyCreate(definition: PropertyDefinition): PropertyCreate {
  return {
    ...definition,
    type: TYPES[definition.type],
    fieldType: FIELD_TYPES[definition.fieldType],
    groupName: LEADPIPE_GROUP.name,
    formField: false,
  };
}

function isConflict(err: unknown): boolean {
  return err instanceof SyncError && err.status === 409;
}

export async function setupHubspot(client: Client, api: HubspotApi, mapping: Mapping): Promise<SetupReport> {
  const report: SetupReport = { groupsCreated: [], created: [], existing: [] };
  const wanted = customProperties(mapping);
  const standard = standardProperties(mapping);
  const problems: string[] = [];

  for (const object of ['contacts', 'companies', 'deals'] as const) {
    const groupsEndpoint = `GET /crm/v3/properties/${object}/groups`;
    const groups = parseBody(GroupList, await api.call(groupsEndpoint, () => client.crm.properties.groupsApi.getAll(object)), groupsEndpoint);
    if (!groups.results.some((g) => g.name === LEADPIPE_GROUP.name)) {
      try {
        await api.call(`POST /crm/v3/properties/${object}/groups`, () => client.crm.properties.groupsApi.create(object, LEADPIPE_GROUP));
        report.groupsCreated.push(object);
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }

    const existing = await listProperties(client, api, object);
    for (const name of standard[object]) {
      if (!existing.has(name)) problems.push(`${object}: the mapping uses "${name}", which this portal does not have; fix config/mappings/hubspot.json`);
    }
    for (const definition of wanted[object]) {
      const found = existing.get(definition.name);
      if (found) {
        if (definition.hasUniqueValue && found.hasUniqueValue !== true) {
          problems.push(`${object}: "${definition.name}" exists but is not unique (hasUniqueValue); delete it in HubSpot and run setup again`);
        }
        report.existing.push({ object, property: definition.name });
        continue;
      }
      try {
        await api.call(`POST /crm/v3/properties/${object}`, () =>
          client.crm.properties.coreApi.create(object, propertyCreate(definition)),
        );
        report.created.push({ object, property: definition.name });
      } catch (err) {
        if (!isConflict(err)) throw err;
        report.existing.push({ object, property: definition.name });
      }
    }
  }
  if (problems.length > 0) throw new SyncError('CRM_SETUP_REQUIRED', `HubSpot setup found problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return report;
}
