/** Salesforce sandbox: Bulk API 2.0 ingest through jsforce 3's bulk2 (tiny processing delay, short polls). */
import { Connection } from 'jsforce';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/server';

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

/** Result rows keyed by CSV column (jsforce types them with its generic record schema). */
const rowsOf = (rows: unknown): Array<Record<string, string>> => rows as Array<Record<string, string>>;

const POLL = { pollInterval: 20, pollTimeout: 5000 };

describe('Salesforce sandbox — Bulk API 2.0 with jsforce', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ bulkProcessingMs: 5 });
    conn = connect(sb);
  });
  afterEach(async () => {
    await sb.close();
  });

  it('upserts CSV text by the hashed email: successes, failures with sf__Error, #N/A clears, empty leaves unchanged', async () => {
    const [existing] = sb.seedLeads([{ fields: { LastName: 'Old', Company: 'Acme', Title: 'CEO', Phone: '+1 555 0100', Leadpipe_Hashed_Email__c: 'h1' } }]);
    const csv = [
      'Leadpipe_Hashed_Email__c,LastName,Company,Email,Title,Phone,Leadpipe_Intent_Score__c,Leadpipe_Intent_Topics__c',
      'h1,,,,#N/A,,88,"CRM Software; Intent Data"',
      'h2,New,Beta,new@beta.test,CTO,,61,Lead Scoring|Intent Data',
      'h3,,Gamma,,,,70,',
      'h4,Bad,Delta,not-an-email,,,70,',
      'h5,Big,Eps,,,,1000,',
    ].join('\n');
    const res = await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'upsert', externalIdFieldName: 'Leadpipe_Hashed_Email__c', input: csv, ...POLL });

    expect(res.successfulResults).toEqual([
      expect.objectContaining({ sf__Id: existing?.Id, sf__Created: 'false', Leadpipe_Hashed_Email__c: 'h1', Leadpipe_Intent_Topics__c: 'CRM Software; Intent Data' }),
      expect.objectContaining({ sf__Created: 'true', Leadpipe_Hashed_Email__c: 'h2', Leadpipe_Intent_Topics__c: 'Lead Scoring|Intent Data' }),
    ]);
    expect(rowsOf(res.failedResults).map((r) => [r.Leadpipe_Hashed_Email__c, r.sf__Id, r.sf__Error])).toEqual([
      ['h3', '', 'REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --'],
      ['h4', '', 'INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --'],
      ['h5', '', 'NUMBER_OUTSIDE_VALID_RANGE:Leadpipe Intent Score: value outside of valid range on numeric field: 1000:Leadpipe_Intent_Score__c --'],
    ]);
    expect(res.unprocessedRecords).toEqual([]);
    expect(sb.get('Lead', existing?.Id ?? '')).toMatchObject({ LastName: 'Old', Company: 'Acme', Title: null, Phone: '+1 555 0100', Leadpipe_Intent_Score__c: 88 });
    const [job] = sb.bulkJobs();
    expect(job).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 5, numberRecordsFailed: 3, operation: 'upsert', object: 'Lead' });
    expect(sb.requestCount('bulkCreateJob')).toBe(1);
    expect(sb.requestCount('bulkUpload')).toBe(1);
    expect(sb.requestCount('bulkSetState')).toBe(1);
    expect(sb.requestCount('bulkGetJob')).toBeGreaterThanOrEqual(1);
  });

  it('takes CSV columns from the first record only when given record objects (jsforce behaviour)', async () => {
    const res = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'upsert',
      externalIdFieldName: 'Leadpipe_Hashed_Email__c',
      input: [
        { Leadpipe_Hashed_Email__c: 'c1', LastName: 'One', Title: null },
        { Leadpipe_Hashed_Email__c: 'c2', LastName: 'Two', Title: 'VP', Phone: '+1 555 0101' },
      ],
      ...POLL,
    });
    expect(res.successfulResults).toHaveLength(2);
    const two = sb.find('Contact', (c) => c.Leadpipe_Hashed_Email__c === 'c2')[0];
    expect(two).toMatchObject({ LastName: 'Two', Title: 'VP', Phone: null }); // Phone vanished: not in record 1's keys
  });

  it('duplicate rules do not block bulk rows; injected lock errors land in failedResults', async () => {
    sb.seedContacts([{ fields: { LastName: 'Jane', Email: 'jane@acme.test' } }]);
    sb.setDuplicateRules(true);
    sb.injectRecordErrors('UNABLE_TO_LOCK_ROW', 1);
    const res = await conn.bulk2.loadAndWaitForResults({
      object: 'Lead',
      operation: 'insert',
      input: 'LastName,Company,Email\nLock,Acme,lock@acme.test\nJane,Acme,jane@acme.test\n',
      ...POLL,
    });
    expect(res.failedResults.map((r) => r.sf__Error)).toEqual([expect.stringMatching(/^UNABLE_TO_LOCK_ROW:unable to obtain exclusive access/) as string]);
    expect(rowsOf(res.successfulResults).map((r) => r.Email)).toEqual(['jane@acme.test']);
  });

  it('resolves a parent by its external id in a `Relationship.Field` column', async () => {
    const [md] = await conn.metadata.upsert('CustomField', [{ fullName: 'Account.Leadpipe_Company_Key__c', label: 'Leadpipe Company Key', type: 'Text', length: 255, externalId: true, unique: true }]);
    expect(md?.success).toBe(true);
    const [acme] = sb.seedAccounts([{ fields: { Name: 'Acme', Leadpipe_Company_Key__c: 'acme.test' } }]);
    const res = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'insert',
      input: 'LastName,Account.Leadpipe_Company_Key__c\nA,acme.test\nB,nowhere.test\n',
      ...POLL,
    });
    expect(res.successfulResults).toHaveLength(1);
    expect(sb.get('Contact', res.successfulResults[0]?.sf__Id ?? '')?.AccountId).toBe(acme?.Id);
    expect(res.failedResults[0]?.sf__Error).toBe('INVALID_FIELD:Foreign key external ID: nowhere.test not found for field Leadpipe_Company_Key__c in entity Account:AccountId --');
  });

  it('updates by Id, and fails the whole job on an unknown column (jsforce then deletes it)', async () => {
    const [a] = sb.seedAccounts([{ fields: { Name: 'A' } }]);
    const ok = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'update', input: `Id,Industry\n${a?.Id ?? ''},Technology\n`, ...POLL });
    expect(ok.successfulResults).toEqual([expect.objectContaining({ sf__Id: a?.Id, sf__Created: 'false' })]);
    expect(sb.get('Account', a?.Id ?? '')?.Industry).toBe('Technology');

    await expect(
      conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: 'Name,Nope__c\nX,1\n', ...POLL }),
    ).rejects.toThrow('Ingest job failed to complete due to: InvalidBatch : Field name not found : Nope__c');
    // loadAndWaitForResults fires job.delete() on failure without awaiting it.
    for (let i = 0; i < 50 && sb.requestCount('bulkDeleteJob') === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sb.requestCount('bulkDeleteJob')).toBe(1);
    expect(sb.list('Account')).toHaveLength(1);
  });

  it('walks the job states with the low-level API; an aborted job leaves its rows unprocessed', async () => {
    const job = conn.bulk2.createJob({ object: 'Lead', operation: 'insert' });
    await job.open();
    expect(job.getInfo()).toMatchObject({ state: 'Open', operation: 'insert', object: 'Lead', contentType: 'CSV', concurrencyMode: 'Parallel' });
    await job.uploadData('LastName,Company\nA,X\nB,Y\n');
    await job.close();
    expect(['UploadComplete', 'InProgress']).toContain((await job.check()).state);
    await job.poll(10, 5000);
    expect(await job.check()).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 2, numberRecordsFailed: 0 });
    await job.delete();
    expect(sb.bulkJobs()).toEqual([]);

    const aborted = conn.bulk2.createJob({ object: 'Lead', operation: 'insert' });
    await aborted.open();
    await aborted.uploadData('LastName,Company\nC,Z\n');
    await aborted.abort();
    expect(await aborted.getUnprocessedRecords()).toEqual([{ LastName: 'C', Company: 'Z' }]);
    expect(sb.list('Lead')).toHaveLength(2);
  });
});
