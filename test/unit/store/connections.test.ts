import type { Store } from '../../../src/store/db';
import { createConnections } from '../../../src/store/connections';
import { openStore } from '../../../src/store/db';
import { clockOf } from './helpers';

describe('connections', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore(':memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  it('creates an active connection and finds it by id and by account', async () => {
    const connections = createConnections(store.db, { now: clockOf('2026-02-01T10:00:00.000Z') });
    const created = await connections.create({ crm: 'hubspot', accountId: '12345678', id: 'conn-1' });

    expect(created).toEqual({
      id: 'conn-1',
      crm: 'hubspot',
      accountId: '12345678',
      status: 'active',
      statusMessage: null,
      createdAt: '2026-02-01T10:00:00.000Z',
      updatedAt: '2026-02-01T10:00:00.000Z',
    });
    expect(await connections.get('conn-1')).toEqual(created);
    expect(await connections.getByAccount('hubspot', '12345678')).toEqual(created);
    expect(await connections.get('nope')).toBeUndefined();
    expect(await connections.getByAccount('salesforce', '12345678')).toBeUndefined();
  });

  it('connecting the same account twice returns the existing connection, not a second one', async () => {
    const connections = createConnections(store.db, { now: clockOf('2026-02-01T10:00:00.000Z', '2026-02-02T10:00:00.000Z') });
    const first = await connections.create({ crm: 'hubspot', accountId: '12345678' });
    await connections.setStatus(first.id, 'paused');
    const again = await connections.create({ crm: 'hubspot', accountId: ' 12345678 ', id: 'other-id', status: 'active' });

    expect(again.id).toBe(first.id);
    expect(again.status).toBe('paused'); // unchanged by the second create
    expect(await connections.list()).toHaveLength(1);
  });

  it('the same account id on another CRM is another connection', async () => {
    const connections = createConnections(store.db);
    const hubspot = await connections.create({ crm: 'hubspot', accountId: 'acct-1' });
    const salesforce = await connections.create({ crm: 'salesforce', accountId: 'acct-1' });

    expect(salesforce.id).not.toBe(hubspot.id);
    expect((await connections.list()).map((c) => c.crm).sort()).toEqual(['hubspot', 'salesforce']);
    expect((await connections.list({ crm: 'salesforce' })).map((c) => c.id)).toEqual([salesforce.id]);
  });

  it('lists oldest first and filters by status', async () => {
    const connections = createConnections(store.db, {
      now: clockOf('2026-02-01T10:00:00.000Z', '2026-02-02T10:00:00.000Z', '2026-02-03T10:00:00.000Z'),
    });
    await connections.create({ crm: 'hubspot', accountId: 'b', id: 'conn-b' });
    await connections.create({ crm: 'hubspot', accountId: 'a', id: 'conn-a' });
    await connections.setStatus('conn-b', 'disconnected');

    expect((await connections.list()).map((c) => c.id)).toEqual(['conn-b', 'conn-a']);
    expect((await connections.list({ status: 'active' })).map((c) => c.id)).toEqual(['conn-a']);
  });

  it('setStatus updates status and updatedAt; unknown ids and statuses are refused', async () => {
    const connections = createConnections(store.db, { now: clockOf('2026-02-01T10:00:00.000Z', '2026-02-05T10:00:00.000Z') });
    await connections.create({ crm: 'salesforce', accountId: '00D000000000001', id: 'conn-1' });

    const paused = await connections.setStatus('conn-1', 'paused');
    expect(paused).toMatchObject({ status: 'paused', createdAt: '2026-02-01T10:00:00.000Z', updatedAt: '2026-02-05T10:00:00.000Z' });
    await expect(connections.setStatus('missing', 'active')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(connections.setStatus('conn-1', 'broken' as never)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect((await connections.get('conn-1'))?.status).toBe('paused');
    expect(await connections.setStatus('conn-1', 'needs_reauth', 'Unable to refresh session')).toMatchObject({ status: 'needs_reauth', statusMessage: 'Unable to refresh session' });
    expect(await connections.setStatus('conn-1', 'active')).toMatchObject({ status: 'active', statusMessage: null });
  });

  it('refuses an empty account id and an unknown CRM', async () => {
    const connections = createConnections(store.db);
    await expect(connections.create({ crm: 'hubspot', accountId: '  ' })).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(connections.create({ crm: 'pipedrive' as never, accountId: '1' })).rejects.toThrow(/Unknown CRM/);
    expect(await connections.list()).toEqual([]);
  });
});
