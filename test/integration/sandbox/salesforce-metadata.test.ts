/** Salesforce sandbox: the Metadata API's SOAP upsert of custom fields and permission sets, through jsforce 3. */
import { Connection } from 'jsforce';
import { LEADPIPE_CUSTOM_FIELDS, startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/server';

function connect(sb: SalesforceSandbox): Connection {
  return new Connection({
    instanceUrl: sb.url,
    loginUrl: sb.url,
    accessToken: sb.accessToken,
    refreshToken: sb.refreshToken,
    oauth2: { clientId: sb.clientId, clientSecret: sb.clientSecret, loginUrl: sb.url },
    version: '62.0',
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

describe('Salesforce sandbox — Metadata API with jsforce', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ customFields: false });
    conn = connect(sb);
  });
  afterEach(async () => {
    await sb.close();
  });

  it('upserts issue #4’s custom fields (≤ 10 per call) with per-component results; they become real fields', async () => {
    const fields = [...LEADPIPE_CUSTOM_FIELDS];
    const first = (await Promise.all(chunks(fields, 10).map((chunk) => conn.metadata.upsert('CustomField', chunk)))).flat();
    expect(first).toHaveLength(fields.length);
    expect(first.every((r) => r.success && r.created)).toBe(true);
    expect(first.map((r) => r.fullName)).toEqual(fields.map((f) => f.fullName));
    expect(sb.requestCount('metadata')).toBe(2);

    const again = await conn.metadata.upsert('CustomField', fields.slice(0, 3));
    expect(again.map((r) => [r.success, r.created])).toEqual([
      [true, false],
      [true, false],
      [true, false],
    ]);

    const lead = await conn.describe('Lead');
    expect(lead.fields.find((f) => f.name === 'Leadpipe_Hashed_Email__c')).toMatchObject({ externalId: true, unique: true, length: 64 });
    const res = await conn.sobject('Lead').upsert([{ Leadpipe_Hashed_Email__c: 'h', LastName: 'A', Company: 'B', Leadpipe_Intent_Score__c: 91 }], 'Leadpipe_Hashed_Email__c');
    expect(res[0]?.success).toBe(true);
    const q = await conn.query<{ Leadpipe_Intent_Score__c: number }>("SELECT Leadpipe_Intent_Score__c FROM Lead WHERE Leadpipe_Hashed_Email__c = 'h'");
    expect(q.records[0]?.Leadpipe_Intent_Score__c).toBe(91);
  });

  it('reports a bad component as success false with errors, without failing the others', async () => {
    const results = await conn.metadata.upsert('CustomField', [
      { fullName: 'Lead.Leadpipe_Intent_Score__c', label: 'Leadpipe Intent Score', type: 'Number', precision: 3, scale: 0 },
      { fullName: 'Widget.Leadpipe_Intent_Score__c', label: 'Leadpipe Intent Score', type: 'Number', precision: 3, scale: 0 },
      { fullName: 'Lead.No_Length__c', label: 'No length', type: 'Text' },
      { fullName: 'Lead.Topics__c', label: 'Topics', type: 'LongTextArea', length: 32768 },
      { fullName: 'Lead.Bad__Name__c', label: 'Bad', type: 'Checkbox', defaultValue: 'false' },
      { fullName: 'Lead.Email', label: 'Email', type: 'Email' },
    ]);
    expect(results.map((r) => r.success)).toEqual([true, false, false, false, false, false]);
    expect(results[1]).toMatchObject({
      created: false,
      fullName: 'Widget.Leadpipe_Intent_Score__c',
      errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'In field: fullName - no CustomObject named Widget found', fields: ['fullName'] }],
    });
    expect(results.slice(2).map((r) => r.errors[0]?.statusCode)).toEqual(['FIELD_INTEGRITY_EXCEPTION', 'FIELD_INTEGRITY_EXCEPTION', 'FIELD_INTEGRITY_EXCEPTION', 'FIELD_INTEGRITY_EXCEPTION']);
    expect(sb.hasField('Lead', 'Leadpipe_Intent_Score__c')).toBe(true);
    expect(sb.hasField('Lead', 'No_Length__c')).toBe(false);
  });

  it('creates picklists with their values and refuses a type change while records hold values', async () => {
    const [priority] = await conn.metadata.upsert('CustomField', [LEADPIPE_CUSTOM_FIELDS.find((f) => f.fullName === 'Opportunity.Leadpipe_Priority__c') ?? { fullName: '' }]);
    expect(priority?.success).toBe(true);
    const opp = await conn.describe('Opportunity');
    expect(opp.fields.find((f) => f.name === 'Leadpipe_Priority__c')).toMatchObject({ type: 'picklist', restrictedPicklist: true });
    await conn.metadata.upsert('CustomField', { fullName: 'Contact.Score__c', label: 'Score', type: 'Number', precision: 3, scale: 0 });
    sb.seedContacts([{ fields: { LastName: 'A', Score__c: 5 } }]);
    const change = await conn.metadata.upsert('CustomField', { fullName: 'Contact.Score__c', label: 'Score', type: 'Text', length: 10 });
    expect(change).toMatchObject({ success: false, errors: [{ statusCode: 'FIELD_INTEGRITY_EXCEPTION' }] });
  });

  it('upserts a PermissionSet granting the fields; an unknown field fails it', async () => {
    sb.installCustomFields();
    const fieldPermissions = ['Lead', 'Contact'].flatMap((o) =>
      ['Leadpipe_Intent_Score__c', 'Leadpipe_Hashed_Email__c'].map((f) => ({ field: `${o}.${f}`, readable: true, editable: true })),
    );
    const ok = await conn.metadata.upsert('PermissionSet', { fullName: 'Leadpipe_Orbit_Sync', label: 'Leadpipe Orbit Sync', fieldPermissions });
    expect(ok).toMatchObject({ success: true, created: true, fullName: 'Leadpipe_Orbit_Sync' });
    expect(sb.permissionSets()).toEqual([{ fullName: 'Leadpipe_Orbit_Sync', label: 'Leadpipe Orbit Sync', fieldPermissions }]);
    const bad = await conn.metadata.upsert('PermissionSet', { fullName: 'Other', label: 'Other', fieldPermissions: [{ field: 'Lead.Nope__c', readable: true, editable: false }] });
    expect(bad).toMatchObject({ success: false, errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY' }] });
    const required = await conn.metadata.upsert('PermissionSet', { fullName: 'Other', label: 'Other', fieldPermissions: [{ field: 'Lead.LastName', readable: true, editable: true }] });
    expect(required).toMatchObject({ success: false, errors: [{ statusCode: 'FIELD_INTEGRITY_EXCEPTION', message: 'You cannot deploy to a required field: Lead.LastName' }] });
  });

  it('reads a custom field back', async () => {
    sb.installCustomFields();
    const field = await conn.metadata.read('CustomField', 'Lead.Leadpipe_Hashed_Email__c');
    expect(field).toMatchObject({ fullName: 'Lead.Leadpipe_Hashed_Email__c', type: 'Text', length: 64, externalId: true, unique: true });
  });

  it('faults a call with more than 10 components, and refreshes an expired session through the SOAP fault', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => ({ fullName: `Lead.F${i}__c`, label: `F${i}`, type: 'Text', length: 10 }));
    await expect(conn.metadata.upsert('CustomField', eleven)).rejects.toMatchObject({ errorCode: 'sf:EXCEEDED_ID_LIMIT' });
    let refreshed = 0;
    conn.on('refresh', () => refreshed++);
    sb.expireAccessTokens();
    const result = await conn.metadata.upsert('CustomField', eleven.slice(0, 1));
    expect(result[0]).toMatchObject({ success: true, created: true });
    expect(refreshed).toBe(1);
    expect(sb.writeRequestCount()).toBe(3);
  });
});
