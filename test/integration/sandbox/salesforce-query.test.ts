/** Salesforce sandbox: SOQL through real jsforce 3 — paging, escaping, filters, relationships, errors, the URI limit. */
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

type Row = Record<string, unknown>;

/** The SOQL string literal orbit-sync builds (src/destinations/salesforce/soql.ts's rules). */
function literal(value: string): string {
  const escapes: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  return `'${value.replace(/[\\'"\n\r\t]/g, (c) => escapes[c] ?? c)}'`;
}

describe('Salesforce sandbox — SOQL with jsforce', () => {
  let sb: SalesforceSandbox;
  let conn: Connection;
  let ids: { acme: string; beta: string; jane: string; obrien: string; bob: string; open: string; closed: string };

  beforeAll(async () => {
    sb = await startSalesforceSandbox({ queryPageSize: 5 });
    conn = connect(sb);
    const [acme, beta] = sb.seedAccounts([{ fields: { Name: 'Acme Corp', Website: 'acme.test' } }, { fields: { Name: 'Beta LLC', Website: 'beta.test' } }]);
    const [jane, obrien, bob] = sb.seedContacts([
      { fields: { FirstName: 'Jane', LastName: 'Doe', Email: 'Jane.Doe@Acme.test', AccountId: acme?.Id ?? null, Leadpipe_Intent_Score__c: 80 } },
      { fields: { FirstName: 'Pat', LastName: "O'Brien", Email: "o'brien@x.test", Leadpipe_Intent_Score__c: 55 } },
      { fields: { FirstName: 'Bob', LastName: 'Back\\slash', Email: 'bob@beta.test', AccountId: beta?.Id ?? null } },
    ]);
    const [open, closed] = sb.seedOpportunities([
      { fields: { Name: 'Open deal', StageName: 'Qualification', CloseDate: '2026-04-01', AccountId: acme?.Id ?? null, Amount: 5000 }, contactRoles: [{ contactId: jane?.Id ?? '', role: 'Decision Maker', isPrimary: true }] },
      { fields: { Name: 'Closed deal', StageName: 'Closed Won', CloseDate: '2025-10-01', AccountId: acme?.Id ?? null, Amount: 900 }, contactRoles: [{ contactId: jane?.Id ?? '' }, { contactId: bob?.Id ?? '' }] },
    ]);
    sb.seedLeads(Array.from({ length: 12 }, (_, i) => ({ fields: { LastName: `Lead ${String(i).padStart(2, '0')}`, Company: i % 2 === 0 ? 'Even' : 'Odd', Leadpipe_Intent_Score__c: 50 + i } })));
    ids = { acme: acme?.Id ?? '', beta: beta?.Id ?? '', jane: jane?.Id ?? '', obrien: obrien?.Id ?? '', bob: bob?.Id ?? '', open: open?.Id ?? '', closed: closed?.Id ?? '' };
  });
  afterAll(async () => {
    await sb.close();
  });

  it('pages with nextRecordsUrl and follows it with autoFetch / queryMore', async () => {
    const first = await conn.query<Row>('SELECT Id, LastName FROM Lead ORDER BY LastName');
    expect(first).toMatchObject({ totalSize: 12, done: false });
    expect(first.records).toHaveLength(5);
    // jsforce rebuilds it from the locator as an absolute URL; on the wire it is relative.
    expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-5$/);
    const raw = await fetch(`${sb.url}/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Lead')}`, { headers: { authorization: `Bearer ${sb.accessToken}` } });
    expect(((await raw.json()) as { nextRecordsUrl: string }).nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-5$/);
    const second = await conn.queryMore<Row>(first.nextRecordsUrl ?? '');
    expect(second.records.map((r) => r.LastName)).toEqual(['Lead 05', 'Lead 06', 'Lead 07', 'Lead 08', 'Lead 09']);
    const all = await conn.query<Row>('SELECT Id, LastName FROM Lead ORDER BY LastName DESC', { autoFetch: true, maxFetch: 100 });
    expect(all.records).toHaveLength(12);
    expect(all.records[0]?.LastName).toBe('Lead 11');
    expect(sb.requestCount('queryMore')).toBe(1 + 2);
    expect(sb.requestCount('query')).toBe(3);
    await expect(conn.queryMore('01gXXXXXXXXXXXXXXX-5')).rejects.toMatchObject({ errorCode: 'INVALID_QUERY_LOCATOR' });
  });

  it('returns attributes, canonical field names and nulls for unset fields', async () => {
    const res = await conn.query<Row>(`SELECT id, firstname, Title, Leadpipe_Hashed_Email__c FROM Contact WHERE Id = '${ids.jane.slice(0, 15)}'`);
    expect(res.records).toEqual([
      { attributes: { type: 'Contact', url: `/services/data/v62.0/sobjects/Contact/${ids.jane}` }, Id: ids.jane, FirstName: 'Jane', Title: null, Leadpipe_Hashed_Email__c: null },
    ]);
  });

  it('finds an email with a quote through an escaped literal, case-insensitively; escapes cannot break out', async () => {
    const found = await conn.query<Row>(`SELECT Id FROM Contact WHERE Email IN (${literal("O'Brien@X.test")}, ${literal('nobody@x.test')})`);
    expect(found.records.map((r) => r.Id)).toEqual([ids.obrien]);
    const injection = await conn.query<Row>(`SELECT Id FROM Contact WHERE Email = ${literal("' OR Id != null OR Email = '")}`);
    expect(injection.totalSize).toBe(0);
    const slash = await conn.query<Row>(`SELECT Id FROM Contact WHERE LastName = ${literal('back\\slash')}`);
    expect(slash.records.map((r) => r.Id)).toEqual([ids.bob]);
    // jsforce's own builder escapes quotes too.
    const viaFind = await conn.sobject('Contact').find({ Email: { $in: ["o'brien@x.test", 'jane.doe@acme.test'] } }, ['Id']).execute({ autoFetch: true });
    expect(viaFind.map((r) => r.Id).sort()).toEqual([ids.jane, ids.obrien].sort());
    await expect(conn.query("SELECT Id FROM Contact WHERE Email = 'a\\qb'")).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
    await expect(conn.query("SELECT Id FROM Contact WHERE Email = 'a\\%b'")).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
    const like = await conn.query<Row>("SELECT Id FROM Contact WHERE Email LIKE '%\\_%' OR Email LIKE 'jane%'");
    expect(like.records.map((r) => r.Id)).toEqual([ids.jane]);
  });

  it('filters with IN, NOT IN, null, booleans, numbers, AND/OR with parentheses', async () => {
    const q = async (soql: string): Promise<unknown[]> => (await conn.query<Row>(soql)).records.map((r) => r.Id);
    expect(await q('SELECT Id FROM Contact WHERE AccountId = null')).toEqual([ids.obrien]);
    expect(await q('SELECT Id FROM Contact WHERE AccountId != null ORDER BY LastName')).toEqual([ids.bob, ids.jane]);
    expect(await q(`SELECT Id FROM Contact WHERE AccountId NOT IN ('${ids.acme}')`)).toEqual([ids.obrien, ids.bob]);
    expect(await q('SELECT Id FROM Contact WHERE Leadpipe_Intent_Score__c >= 55 AND Leadpipe_Intent_Score__c < 80')).toEqual([ids.obrien]);
    expect(await q("SELECT Id FROM Contact WHERE (Leadpipe_Intent_Score__c > 70 OR LastName = 'doe') AND (NOT Email LIKE 'x%')")).toEqual([ids.jane]);
    expect(await q('SELECT Id FROM Opportunity WHERE IsClosed = false AND Amount > 100')).toEqual([ids.open]);
    expect(await q('SELECT Id FROM Opportunity WHERE CloseDate < 2026-01-01')).toEqual([ids.closed]);
    expect((await conn.query('SELECT COUNT() FROM Lead WHERE Company = \'even\'')).totalSize).toBe(6);
    expect(await conn.sobject('Lead').count({ Company: 'Odd' })).toBe(6);
    const page = await q('SELECT Id, Leadpipe_Intent_Score__c FROM Lead ORDER BY Leadpipe_Intent_Score__c DESC LIMIT 2 OFFSET 1');
    expect(page).toHaveLength(2);
    await expect(conn.query("SELECT Id FROM Contact WHERE LastName = 'a' AND LastName = 'b' OR LastName = 'c'")).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
  });

  it('reads one level of parent relationship in SELECT and WHERE', async () => {
    const roles = await conn.query<Row>(
      `SELECT OpportunityId, ContactId, Role, IsPrimary, Opportunity.AccountId, Opportunity.StageName, Opportunity.IsClosed FROM OpportunityContactRole WHERE ContactId IN ('${ids.jane}', '${ids.bob}') AND Opportunity.IsClosed = false`,
    );
    expect(roles.records).toEqual([
      {
        attributes: { type: 'OpportunityContactRole', url: expect.stringMatching(/\/sobjects\/OpportunityContactRole\/00K/) as string },
        OpportunityId: ids.open,
        ContactId: ids.jane,
        Role: 'Decision Maker',
        IsPrimary: true,
        Opportunity: { attributes: { type: 'Opportunity', url: `/services/data/v62.0/sobjects/Opportunity/${ids.open}` }, AccountId: ids.acme, StageName: 'Qualification', IsClosed: false },
      },
    ]);
    const contacts = await conn.query<Row>("SELECT Id, Account.Name FROM Contact WHERE Account.Name = 'acme corp' OR AccountId = null ORDER BY Account.Name");
    expect(contacts.records).toEqual([
      { attributes: expect.any(Object) as object, Id: ids.obrien, Account: null },
      { attributes: expect.any(Object) as object, Id: ids.jane, Account: { attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${ids.acme}` }, Name: 'Acme Corp' } },
    ]);
  });

  it('answers Salesforce’s errors: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, INVALID_QUERY_FILTER_OPERATOR', async () => {
    const err = await conn.query('SELECT Id, Foo__c FROM Lead').then(
      () => null,
      (e: unknown) => e as { errorCode: string; message: string },
    );
    expect(err?.errorCode).toBe('INVALID_FIELD');
    expect(err?.message).toContain("No such column 'Foo__c' on entity 'Lead'");
    expect(err?.message).toContain('ERROR at Row:1:Column:12');
    await expect(conn.query('SELECT Id FROM Lead WHERE')).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
    await expect(conn.query("SELECT Id FROM Lead WHERE Email = 'unterminated")).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
    await expect(conn.query('SELECT Id FROM Widget__c')).rejects.toMatchObject({ errorCode: 'INVALID_TYPE' });
    await expect(conn.query('SELECT Id FROM Contact WHERE Owner.Name = null')).rejects.toMatchObject({ errorCode: 'INVALID_FIELD' });
    await expect(conn.query("SELECT Id FROM Lead WHERE IsConverted = 'false'")).rejects.toMatchObject({ errorCode: 'INVALID_QUERY_FILTER_OPERATOR' });
    await expect(conn.query("SELECT Id FROM Lead WHERE Id = 'not-an-id'")).rejects.toMatchObject({ errorCode: 'INVALID_QUERY_FILTER_OPERATOR', message: expect.stringContaining('invalid ID field: not-an-id') as string });
    await expect(conn.query("SELECT Id FROM Lead WHERE Leadpipe_Intent_Topics__c = 'x'")).rejects.toMatchObject({ errorCode: 'INVALID_FIELD' });
    await expect(conn.query('SELECT Id FROM Lead GROUP BY Company')).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY', message: expect.stringContaining('not supported by the Salesforce sandbox') as string });
  });

  it('answers 414 for a request URI over 16,384 bytes (orbit-sync must chunk IN lists)', async () => {
    const hashes = Array.from({ length: 250 }, (_, i) => `'${i.toString(16).padStart(64, '0')}'`);
    const soql = `SELECT Id FROM Lead WHERE Leadpipe_Hashed_Email__c IN (${hashes.join(', ')})`;
    expect(encodeURIComponent(soql).length).toBeGreaterThan(16_384);
    await expect(conn.query(soql)).rejects.toMatchObject({ errorCode: 'URI_TOO_LONG' });
    const ok = await conn.query(`SELECT Id FROM Lead WHERE Leadpipe_Hashed_Email__c IN (${hashes.slice(0, 150).join(', ')})`);
    expect(ok.totalSize).toBe(0);
  });
});
