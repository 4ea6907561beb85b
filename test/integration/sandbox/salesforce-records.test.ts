/** Salesforce sandbox: writes through real jsforce 3 — sObject Collections, single-record calls, describe, duplicate rules. */
import { Connection } from 'jsforce';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/server';

function connect(sb: SalesforceSandbox, version = '62.0'): Connection {
  return new Connection({
    instanceUrl: sb.url,
    loginUrl: sb.url,
    accessToken: sb.accessToken,
    refreshToken: sb.refreshToken,
    oauth2: { clientId: sb.clientId, clientSecret: sb.clientSecret, loginUrl: sb.url },
    version,
  });
}

/** A collections result as Salesforce sends it (jsforce types `errorCode`, the wire has `statusCode`). */
interface Wire {
  id?: string;
  success: boolean;
  created?: boolean;
  errors: Array<{ statusCode: string; message: string; fields: string[]; duplicateResult?: { matchResults: Array<{ matchRecords: Array<{ record: { Id: string } }> }> } }>;
}
const wire = (results: unknown): Wire[] => results as Wire[];
const codes = (r: Wire): string[] => r.errors.map((e) => e.statusCode);
const picklist = (field: { picklistValues?: unknown } | undefined): string[] => ((field?.picklistValues ?? []) as Array<{ value: string }>).map((v) => v.value);
const hash = (n: number): string => n.toString(16).padStart(64, '0');

describe('Salesforce sandbox — writes with jsforce', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;

  beforeEach(async () => {
    sb = await startSalesforceSandbox();
    conn = connect(sb);
  });
  afterEach(async () => {
    await sb.close();
  });

  it('creates records through POST /composite/sobjects, with per-record failures in order', async () => {
    const results = wire(
      await conn.sobject('Lead').create([
        { FirstName: 'Ada', LastName: 'Lovelace', Company: 'Analytical', Email: 'Ada@Example.test' },
        { FirstName: 'No', Company: 'Missing last name' },
        { LastName: 'Bad', Company: 'Mail', Email: 'not-an-email' },
        { LastName: 'Ro', Company: 'X', IsConverted: true },
      ]),
    );
    expect(sb.requestCount('collectionsCreate')).toBe(1);
    expect(results[0]).toEqual({ id: expect.stringMatching(/^00Q[A-Za-z0-9]{15}$/) as string, success: true, errors: [] });
    expect(results[1]).toEqual({
      success: false,
      errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName'] }],
    });
    expect(codes(results[2] as Wire)).toEqual(['INVALID_EMAIL_ADDRESS']);
    expect(results[2]?.errors[0]?.fields).toEqual(['Email']);
    expect(codes(results[3] as Wire)).toEqual(['INVALID_FIELD_FOR_INSERT_UPDATE']);
    const lead = sb.get('Lead', results[0]?.id ?? '');
    expect(lead).toMatchObject({ Email: 'Ada@Example.test', Name: 'Ada Lovelace', Status: 'Open - Not Contacted', IsConverted: false });
    expect(sb.list('Lead')).toHaveLength(1);
  });

  it('upserts by an external id: creates, updates, and fails bad records alone (the 207-like mix)', async () => {
    const [converted] = sb.seedLeads([{ fields: { LastName: 'Conv', Company: 'C', Email: 'conv@x.test', Leadpipe_Hashed_Email__c: hash(9) }, converted: true }]);
    const [existing] = sb.seedLeads([{ fields: { LastName: 'Old', Company: 'Acme', Title: 'CEO', Leadpipe_Hashed_Email__c: hash(1) } }]);
    const records = [
      { Leadpipe_Hashed_Email__c: hash(1), Leadpipe_Intent_Score__c: 87, Leadpipe_Intent_Topics__c: 'CRM Software; Intent Data' },
      { Leadpipe_Hashed_Email__c: hash(2), LastName: 'New', Company: 'Beta', Email: 'new@beta.test', Leadpipe_Last_Intent_At__c: '2026-01-05T09:00:00Z' },
      { Leadpipe_Hashed_Email__c: hash(3), Company: 'No last name' },
      { Leadpipe_Hashed_Email__c: hash(4), LastName: 'X', Company: 'Y', Linkedin__c: 'https://linkedin.test/x' },
      { Leadpipe_Hashed_Email__c: hash(5), LastName: 'X', Company: 'Y', Leadpipe_Intent_Score__c: 1234 },
      { Leadpipe_Hashed_Email__c: hash(9), Leadpipe_Intent_Score__c: 50 },
    ];
    const results = wire(await conn.sobject('Lead').upsert(records, 'Leadpipe_Hashed_Email__c', { allOrNone: false, allowRecursive: true }));
    expect(sb.requestCount('collectionsUpsert')).toBe(1);
    expect(results[0]).toEqual({ id: existing?.Id, success: true, errors: [], created: false });
    expect(results[1]).toMatchObject({ success: true, created: true });
    expect(codes(results[2] as Wire)).toEqual(['REQUIRED_FIELD_MISSING']);
    expect(results[3]?.errors[0]).toEqual({ statusCode: 'INVALID_FIELD', message: "No such column 'Linkedin__c' on sobject of type Lead", fields: ['Linkedin__c'] });
    expect(codes(results[4] as Wire)).toEqual(['NUMBER_OUTSIDE_VALID_RANGE']);
    expect(results[5]).toEqual({ id: converted?.Id, success: false, errors: [{ statusCode: 'CANNOT_UPDATE_CONVERTED_LEAD', message: 'cannot reference converted lead', fields: [] }] });

    expect(sb.get('Lead', existing?.Id ?? '')).toMatchObject({ LastName: 'Old', Title: 'CEO', Leadpipe_Intent_Score__c: 87, Leadpipe_Intent_Topics__c: 'CRM Software; Intent Data' });
    expect(sb.get('Lead', results[1]?.id ?? '')).toMatchObject({ Leadpipe_Hashed_Email__c: hash(2), Leadpipe_Last_Intent_At__c: '2026-01-05T09:00:00.000+0000' });
    expect(sb.list('Lead')).toHaveLength(3);
  });

  it('matches external ids case-insensitively and refuses a value another record holds', async () => {
    const [a, b] = sb.seedContacts([
      { fields: { LastName: 'A', Leadpipe_Hashed_Email__c: 'ABC' } },
      { fields: { LastName: 'B', Leadpipe_Hashed_Email__c: 'def' } },
    ]);
    const up = wire(await conn.sobject('Contact').upsert([{ Leadpipe_Hashed_Email__c: 'abc', Title: 'T' }], 'Leadpipe_Hashed_Email__c'));
    expect(up[0]).toMatchObject({ id: a?.Id, created: false, success: true });
    const upd = wire(await conn.sobject('Contact').update([{ Id: b?.Id ?? '', Leadpipe_Hashed_Email__c: 'Abc' }]));
    expect(upd[0]).toMatchObject({ id: b?.Id, success: false });
    expect(upd[0]?.errors[0]?.statusCode).toBe('DUPLICATE_VALUE');
    expect(upd[0]?.errors[0]?.message).toBe(`duplicate value found: Leadpipe_Hashed_Email__c duplicates value on record with id: ${a?.Id ?? ''}`);
  });

  it('fails every record sharing an external id within one request', async () => {
    const results = wire(
      await conn.sobject('Lead').upsert(
        [
          { Leadpipe_Hashed_Email__c: 'dup', LastName: 'A', Company: 'X' },
          { Leadpipe_Hashed_Email__c: 'DUP', LastName: 'B', Company: 'X' },
          { Leadpipe_Hashed_Email__c: 'ok', LastName: 'C', Company: 'X' },
        ],
        'Leadpipe_Hashed_Email__c',
      ),
    );
    expect(results.map((r) => r.success)).toEqual([false, false, true]);
    expect(codes(results[0] as Wire)).toEqual(['DUPLICATE_EXTERNAL_ID']);
  });

  it('updates by Id through PATCH /composite/sobjects; an unknown or malformed id fails that record', async () => {
    const [opp] = sb.seedOpportunities([{ fields: { Name: 'Deal', StageName: 'Prospecting', CloseDate: '2026-03-01' } }]);
    const results = wire(
      await conn.sobject('Opportunity').update(
        [
          { Id: opp?.Id ?? '', Leadpipe_Priority__c: 'High', StageName: 'Closed Won' },
          { Id: '006000000000000AAA', Name: 'Ghost' },
          { Id: 'nope', Name: 'Bad' },
        ],
        { allowRecursive: true },
      ),
    );
    expect(sb.requestCount('collectionsUpdate')).toBe(1);
    expect(results[0]).toEqual({ id: opp?.Id, success: true, errors: [] });
    expect(codes(results[1] as Wire)).toEqual(['ENTITY_IS_DELETED']);
    expect(codes(results[2] as Wire)).toEqual(['MALFORMED_ID']);
    expect(sb.get('Opportunity', opp?.Id ?? '')).toMatchObject({ IsClosed: true, IsWon: true, Leadpipe_Priority__c: 'High' });
    // The same record twice in one request (18- and 15-character id): both fail.
    const twice = wire(await conn.sobject('Opportunity').update([{ Id: opp?.Id ?? '', Name: 'A' }, { Id: opp?.Id.slice(0, 15) ?? '', Name: 'B' }]));
    expect(twice.map((r) => codes(r))).toEqual([['DUPLICATE_VALUE'], ['DUPLICATE_VALUE']]);
    expect(sb.get('Opportunity', opp?.Id ?? '')?.Name).toBe('Deal');
  });

  it('refuses a restricted picklist value and derives IsClosed from the stage', async () => {
    const [opp] = sb.seedOpportunities([{ fields: { Name: 'Deal', StageName: 'Prospecting', CloseDate: '2026-03-01' } }]);
    const bad = wire(await conn.sobject('Opportunity').update([{ Id: opp?.Id ?? '', Leadpipe_Priority__c: 'Urgent' }]));
    expect(bad[0]?.errors[0]).toEqual({
      statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
      message: 'Leadpipe Priority: bad value for restricted picklist field: Urgent',
      fields: ['Leadpipe_Priority__c'],
    });
    await conn.sobject('Opportunity').update([{ Id: opp?.Id ?? '', StageName: 'Closed Lost', Leadpipe_Priority__c: 'High' }]);
    expect(sb.get('Opportunity', opp?.Id ?? '')).toMatchObject({ IsClosed: true, IsWon: false, Leadpipe_Priority__c: 'High' });
    const ro = wire(await conn.sobject('Opportunity').update([{ Id: opp?.Id ?? '', IsClosed: false }]));
    expect(codes(ro[0] as Wire)).toEqual(['INVALID_FIELD_FOR_INSERT_UPDATE']);
  });

  it('honours allOrNone: one failure rolls every record back', async () => {
    const results = wire(
      await conn.sobject('Lead').upsert(
        [
          { Leadpipe_Hashed_Email__c: 'a1', LastName: 'A', Company: 'X' },
          { Leadpipe_Hashed_Email__c: 'a2', Company: 'X' },
        ],
        'Leadpipe_Hashed_Email__c',
        { allOrNone: true },
      ),
    );
    expect(results[0]).toEqual({
      success: false,
      errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }],
    });
    expect(codes(results[1] as Wire)).toEqual(['REQUIRED_FIELD_MISSING']);
    expect(sb.list('Lead')).toEqual([]);
  });

  it('splits into 200s only with allowRecursive; 201 records in one request → EXCEEDED_ID_LIMIT', async () => {
    const rows = Array.from({ length: 450 }, (_, i) => ({ Leadpipe_Hashed_Email__c: hash(i), LastName: `L${i}`, Company: 'Bulk' }));
    const results = await conn.sobject('Lead').upsert(rows, 'Leadpipe_Hashed_Email__c', { allowRecursive: true });
    expect(results).toHaveLength(450);
    expect(results.every((r) => r.success)).toBe(true);
    expect(sb.requestCount('collectionsUpsert')).toBe(3);
    await expect(conn.sobject('Lead').upsert(rows.slice(0, 201), 'Leadpipe_Hashed_Email__c')).rejects.toMatchObject({
      errorCode: 'EXCEEDED_ID_LIMIT',
    });
  });

  it('rejects collections upsert by a field that is not an external id, and below API 46.0', async () => {
    await expect(conn.sobject('Lead').upsert([{ Email: 'a@b.test', LastName: 'A', Company: 'X' }], 'Email')).rejects.toMatchObject({ errorCode: 'INVALID_FIELD' });
    const old = connect(sb, '45.0');
    await expect(
      old.request({ method: 'PATCH', url: '/composite/sobjects/Lead/Leadpipe_Hashed_Email__c', body: JSON.stringify({ records: [] }), headers: { 'content-type': 'application/json' } }),
    ).rejects.toMatchObject({ errorCode: 'NOT_FOUND' });
  });

  it('applies duplicate rules on Lead/Contact email unless the allow-save header is sent', async () => {
    sb.seedContacts([{ fields: { LastName: 'Existing', Email: 'Jane@Acme.test' } }]);
    sb.setDuplicateRules(true);
    const blocked = wire(await conn.sobject('Lead').create([{ LastName: 'Jane', Company: 'Acme', Email: 'jane@acme.test' }]));
    expect(blocked[0]?.success).toBe(false);
    expect(blocked[0]?.errors[0]).toMatchObject({ statusCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: [] });
    expect(blocked[0]?.errors[0]?.duplicateResult?.matchResults[0]?.matchRecords[0]?.record.Id).toBe(sb.list('Contact')[0]?.Id);

    const allowed = wire(
      await conn.sobject('Lead').create([{ LastName: 'Jane', Company: 'Acme', Email: 'jane@acme.test' }], { headers: { 'Sforce-Duplicate-Rule-Header': 'allowSave=true' } }),
    );
    expect(allowed[0]?.success).toBe(true);
    sb.setDuplicateRules(false);
    const off = wire(await conn.sobject('Contact').create([{ LastName: 'Jane 2', Email: 'JANE@acme.test' }]));
    expect(off[0]?.success).toBe(true);
  });

  it('makes the next N written records fail with an injected status code', async () => {
    sb.injectRecordErrors('UNABLE_TO_LOCK_ROW', 2);
    const results = wire(await conn.sobject('Account').create([{ Name: 'A' }, { Name: 'B' }, { Name: 'C' }, {}]));
    expect(results.map((r) => (r.success ? 'ok' : codes(r)[0]))).toEqual(['UNABLE_TO_LOCK_ROW', 'UNABLE_TO_LOCK_ROW', 'ok', 'REQUIRED_FIELD_MISSING']);
    expect(results[0]?.errors[0]?.message).toMatch(/^unable to obtain exclusive access to this record/);
  });

  it('serves the single-record calls jsforce uses for non-array input', async () => {
    const created = await conn.sobject('Account').create({ Name: 'Solo', Website: 'solo.test' });
    expect(created).toEqual({ id: expect.stringMatching(/^001/) as string, success: true, errors: [] });
    const id = created.success ? created.id : '';
    await expect(conn.sobject('Account').update({ Id: id, Industry: 'Technology' })).resolves.toEqual({ id, success: true, errors: [] });
    const record = await conn.sobject('Account').retrieve(id);
    expect(record).toMatchObject({ Id: id, Name: 'Solo', Industry: 'Technology', attributes: { type: 'Account' } });
    await expect(conn.sobject('Account').create({ Website: 'x.test' })).rejects.toMatchObject({ errorCode: 'REQUIRED_FIELD_MISSING' });
    const up = await conn.sobject('Contact').upsert({ Leadpipe_Hashed_Email__c: 'solo', LastName: 'S' }, 'Leadpipe_Hashed_Email__c');
    expect(up).toMatchObject({ success: true, created: true });
  });

  it('describes objects consistently with the installed custom fields', async () => {
    const lead = await conn.describe('Lead');
    const byName = new Map(lead.fields.map((f) => [f.name, f]));
    expect(byName.get('Leadpipe_Hashed_Email__c')).toMatchObject({ type: 'string', length: 64, unique: true, externalId: true, nillable: true, createable: true, updateable: true });
    expect(byName.get('Leadpipe_Intent_Score__c')).toMatchObject({ type: 'double', precision: 3, scale: 0 });
    expect(byName.get('Leadpipe_Intent_Topics__c')).toMatchObject({ type: 'textarea', length: 32768, filterable: false });
    expect(byName.get('LastName')).toMatchObject({ nillable: false, createable: true });
    expect(byName.get('IsConverted')).toMatchObject({ type: 'boolean', createable: false, updateable: false });
    expect(picklist(byName.get('Rating'))).toEqual(['Hot', 'Warm', 'Cold']);
    const opp = await conn.describe('Opportunity');
    expect(picklist(opp.fields.find((f) => f.name === 'Leadpipe_Priority__c'))).toEqual(['High', 'Medium', 'Low']);
    await expect(conn.describe('Widget__c')).rejects.toMatchObject({ errorCode: 'NOT_FOUND' });
  });

  it('without custom fields, writes naming them fail until they are installed', async () => {
    const bare = await startSalesforceSandbox({ customFields: false });
    try {
      const c = connect(bare);
      expect((await c.describe('Lead')).fields.some((f) => f.name.endsWith('__c'))).toBe(false);
      await expect(c.sobject('Lead').upsert([{ Leadpipe_Hashed_Email__c: 'x', LastName: 'A', Company: 'B' }], 'Leadpipe_Hashed_Email__c')).rejects.toMatchObject({
        errorCode: 'INVALID_FIELD',
      });
      const res = wire(await c.sobject('Lead').create([{ LastName: 'A', Company: 'B', Leadpipe_Intent_Score__c: 5 }]));
      expect(codes(res[0] as Wire)).toEqual(['INVALID_FIELD']);
      bare.installCustomFields();
      const ok = await c.sobject('Lead').upsert([{ Leadpipe_Hashed_Email__c: 'x', LastName: 'A', Company: 'B' }], 'Leadpipe_Hashed_Email__c');
      expect(ok[0]?.success).toBe(true);
    } finally {
      await bare.close();
    }
  });

  it('seeds converted Leads pointing at a Contact and Account, and opportunities with contact roles', () => {
    const [lead] = sb.seedLeads([{ fields: { FirstName: 'Grace', LastName: 'Hopper', Company: 'Navy', Email: 'grace@navy.test', Title: 'RADM' }, converted: true }]);
    const contact = sb.get('Contact', String(lead?.ConvertedContactId));
    const account = sb.get('Account', String(lead?.ConvertedAccountId));
    expect(lead).toMatchObject({ IsConverted: true, Status: 'Closed - Converted' });
    expect(contact).toMatchObject({ Email: 'grace@navy.test', Title: 'RADM', AccountId: account?.Id });
    expect(account?.Name).toBe('Navy');
    const [opp] = sb.seedOpportunities([
      { fields: { Name: 'Navy deal', StageName: 'Qualification', CloseDate: '2026-06-30', AccountId: account?.Id ?? null }, contactRoles: [{ contactId: contact?.Id ?? '', role: 'Decision Maker', isPrimary: true }] },
    ]);
    expect(sb.list('OpportunityContactRole')).toEqual([expect.objectContaining({ OpportunityId: opp?.Id, ContactId: contact?.Id, Role: 'Decision Maker', IsPrimary: true })]);
    expect(sb.findByEmail('Contact', 'GRACE@navy.test').map((c) => c.Id)).toEqual([contact?.Id]);
    expect(() => sb.seedLeads([{ fields: { LastName: 'X' } }])).toThrow(/REQUIRED_FIELD_MISSING/);
  });
});
