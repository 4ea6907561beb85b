/** Salesforce sandbox: the daily API allocation (Sforce-Limit-Info, REQUEST_LIMIT_EXCEEDED, /limits), request counts, routing errors. */
import { Connection } from 'jsforce';
import { startSalesforceSandbox, type SalesforceSandbox, type SalesforceSandboxOptions } from '../../../src/sandbox/salesforce/server';

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

describe('Salesforce sandbox — limits and routing', () => {
  let sb: SalesforceSandbox;
  const start = async (options: SalesforceSandboxOptions = {}): Promise<Connection> => {
    sb = await startSalesforceSandbox(options);
    return connect(sb);
  };
  afterEach(async () => {
    await sb.close();
  });

  it('reports api-usage on every REST answer; jsforce keeps it in conn.limitInfo', async () => {
    const conn = await start({ dailyApiLimit: 500 });
    await conn.query('SELECT Id FROM Lead');
    await conn.sobject('Lead').create([{ LastName: 'A', Company: 'B' }]);
    expect(conn.limitInfo).toEqual({ apiUsage: { used: 2, limit: 500 } });
    const raw = await fetch(`${sb.url}/services/data/v62.0/sobjects/Lead/describe`, { headers: { authorization: `Bearer ${sb.accessToken}` } });
    expect(raw.headers.get('sforce-limit-info')).toBe('api-usage=3/500');
    expect(raw.headers.get('content-type')).toMatch(/^application\/json/);
    const unauthorized = await fetch(`${sb.url}/services/data/v62.0/limits`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('sforce-limit-info')).toBe('api-usage=3/500');
    expect(await unauthorized.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    const limits = await conn.limits();
    expect(limits.DailyApiRequests).toEqual({ Max: 500, Remaining: 500 - 4 });
    expect(sb.apiUsage()).toEqual({ used: 4, max: 500 });
  });

  it('answers 403 REQUEST_LIMIT_EXCEEDED once the allocation is used, for REST and SOAP, until a new day', async () => {
    const conn = await start({ dailyApiLimit: 3 });
    await conn.query('SELECT Id FROM Lead');
    await conn.query('SELECT Id FROM Lead');
    await conn.sobject('Account').create([{ Name: 'A' }]);
    const err = await conn.sobject('Account').create([{ Name: 'B' }]).then(
      () => null,
      (e: unknown) => e as { errorCode: string; message: string },
    );
    expect(err).toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' });
    await expect(conn.metadata.upsert('CustomField', { fullName: 'Lead.X__c', label: 'X', type: 'Text', length: 5 })).rejects.toMatchObject({
      errorCode: 'sf:REQUEST_LIMIT_EXCEEDED',
    });
    expect(sb.apiUsage()).toEqual({ used: 3, max: 3 });
    expect(sb.list('Account')).toHaveLength(1);
    sb.startNewDay();
    await expect(conn.sobject('Account').create([{ Name: 'B' }])).resolves.toHaveLength(1);
    sb.setApiUsage(3);
    await expect(conn.query('SELECT Id FROM Account')).rejects.toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED' });
  });

  it('does not count OAuth calls or 401s; counts a bulk upload as one call', async () => {
    const conn = await start({ bulkProcessingMs: 1 });
    sb.expireAccessTokens();
    await conn.query('SELECT Id FROM Lead');
    expect(sb.apiUsage().used).toBe(1);
    const rows = Array.from({ length: 500 }, (_, i) => `L${i},Co`).join('\n');
    await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'insert', input: `LastName,Company\n${rows}\n`, pollInterval: 10, pollTimeout: 5000 });
    const bulkCalls = ['bulkCreateJob', 'bulkUpload', 'bulkSetState', 'bulkGetJob', 'bulkSuccessfulResults', 'bulkFailedResults', 'bulkUnprocessedRecords'] as const;
    expect(sb.apiUsage().used).toBe(1 + bulkCalls.reduce((n, r) => n + sb.requestCount(r), 0));
    expect(sb.list('Lead')).toHaveLength(500);
  });

  it('counts requests per route and write requests', async () => {
    const conn = await start();
    await conn.sobject('Lead').create([{ LastName: 'A', Company: 'B' }]);
    await conn.sobject('Lead').upsert([{ Leadpipe_Hashed_Email__c: 'x', LastName: 'A', Company: 'B' }], 'Leadpipe_Hashed_Email__c');
    await conn.query('SELECT Id FROM Lead');
    expect(sb.writeRequestCount()).toBe(2);
    expect(sb.requestCount('query')).toBe(1);
    expect(sb.state.requests.collectionsUpsert).toBe(1);
    sb.resetRequestCounts();
    expect(sb.writeRequestCount()).toBe(0);
  });

  it('answers unknown paths 404 and wrong methods 405 with Salesforce’s error body', async () => {
    await start();
    const headers = { authorization: `Bearer ${sb.accessToken}` };
    const missing = await fetch(`${sb.url}/services/data/v62.0/nothing/here`, { headers });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual([{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }]);
    const wrong = await fetch(`${sb.url}/services/data/v62.0/composite/sobjects`, { method: 'DELETE', headers });
    expect(wrong.status).toBe(405);
    expect(((await wrong.json()) as Array<{ errorCode: string }>)[0]?.errorCode).toBe('METHOD_NOT_ALLOWED');
    const versions = await fetch(`${sb.url}/services/data`);
    expect(((await versions.json()) as Array<{ version: string }>).map((v) => v.version)).toContain('62.0');
  });
});
