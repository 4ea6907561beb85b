/**
 * `orbit-sync setup salesforce`: the custom fields orbit-sync writes, through the Metadata API
 * (`upsertMetadata`, so running it again changes nothing), and a permission set granting access to them.
 *
 * - `Leadpipe_Intent_Score__c` (Number), `Leadpipe_Intent_Topics__c` (Long Text), `Leadpipe_Last_Intent_At__c`
 *   (DateTime) on Lead, Contact, Account and Opportunity;
 * - `Leadpipe_Hashed_Email__c` (Text 64, External ID, Unique) on Lead and Contact — the Lead upsert key;
 * - `Leadpipe_Priority__c` (Picklist High / Medium / Low) on Opportunity;
 * - permission set `Leadpipe_Intent` with read/edit on all of them (assign it to the integration user).
 *
 * Per-component failures do not throw in jsforce (reference/salesforce.md §6): every result is checked
 * and the failures are listed in one error. At most 10 components per call (Metadata API limit).
 */
import { SyncError } from '../../lib/errors';
import { chunks } from '../../lib/chunks';
import type { SalesforceApi } from './salesforce-api';

export const PERMISSION_SET = 'Leadpipe_Intent';
const METADATA_BATCH = 10;

interface FieldSpec {
  name: string;
  label: string;
  objects: readonly string[];
  metadata: Record<string, unknown>;
}

export const CUSTOM_FIELDS: readonly FieldSpec[] = [
  { name: 'Leadpipe_Intent_Score__c', label: 'Leadpipe Intent Score', objects: ['Lead', 'Contact', 'Account', 'Opportunity'], metadata: { type: 'Number', precision: 3, scale: 0 } },
  { name: 'Leadpipe_Intent_Topics__c', label: 'Leadpipe Intent Topics', objects: ['Lead', 'Contact', 'Account', 'Opportunity'], metadata: { type: 'LongTextArea', length: 32768, visibleLines: 3 } },
  { name: 'Leadpipe_Last_Intent_At__c', label: 'Leadpipe Last Intent At', objects: ['Lead', 'Contact', 'Account', 'Opportunity'], metadata: { type: 'DateTime' } },
  { name: 'Leadpipe_Hashed_Email__c', label: 'Leadpipe Hashed Email', objects: ['Lead', 'Contact'], metadata: { type: 'Text', length: 64, externalId: true, unique: true, caseSensitive: false } },
  {
    name: 'Leadpipe_Priority__c',
    label: 'Leadpipe Priority',
    objects: ['Opportunity'],
    metadata: {
      type: 'Picklist',
      valueSet: { restricted: true, valueSetDefinition: { sorted: false, value: ['High', 'Medium', 'Low'].map((v) => ({ fullName: v, label: v, default: false })) } },
    },
  },
];

export interface SalesforceSetupReport {
  created: string[];
  existing: string[];
  permissionSet: string;
}

interface MetadataResult {
  fullName: string;
  success: boolean;
  created: boolean;
  errors?: Array<{ message?: string; statusCode?: string }> | { message?: string; statusCode?: string };
}

export async function setupSalesforce(api: SalesforceApi): Promise<SalesforceSetupReport> {
  const report: SalesforceSetupReport = { created: [], existing: [], permissionSet: PERMISSION_SET };
  const problems: string[] = [];
  const fields = CUSTOM_FIELDS.flatMap((f) => f.objects.map((object) => ({ fullName: `${object}.${f.name}`, label: f.label, description: 'Written by orbit-sync from Leadpipe intent data.', ...f.metadata })));
  const check = (results: readonly MetadataResult[]): void => {
    for (const r of results) {
      if (r.success) (r.created ? report.created : report.existing).push(r.fullName);
      else {
        const errors = Array.isArray(r.errors) ? r.errors : r.errors ? [r.errors] : [];
        problems.push(`${r.fullName}: ${errors.map((e) => `${e.statusCode ?? 'ERROR'}: ${e.message ?? ''}`).join('; ') || 'refused'}`);
      }
    }
  };
  for (const part of chunks(fields, METADATA_BATCH)) {
    const results = await api.call('POST /services/Soap/m (upsertMetadata CustomField)', () => api.conn.metadata.upsert('CustomField', [...part]));
    check(results);
  }
  const permissionSet = {
    fullName: PERMISSION_SET,
    label: 'Leadpipe Intent',
    description: 'Read and edit the Leadpipe intent fields (orbit-sync). Assign it to the integration user.',
    fieldPermissions: fields.map((f) => ({ field: f.fullName, readable: true, editable: true })),
  };
  check([await api.call('POST /services/Soap/m (upsertMetadata PermissionSet)', () => api.conn.metadata.upsert('PermissionSet', permissionSet))]);
  if (problems.length > 0) {
    throw new SyncError('CRM_SETUP_REQUIRED', `Salesforce setup: some components were refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return report;
}
