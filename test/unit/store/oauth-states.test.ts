import { randomBytes } from 'node:crypto';
import type { Store } from '../../../src/store/db';
import { openStore } from '../../../src/store/db';
import { createOAuthStates, OAUTH_STATE_TTL_MS, type OAuthStates } from '../../../src/store/oauth-states';
import { FIXED_NOW } from './helpers';

const key = randomBytes(32);
const VERIFIER = 'pkce-verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

describe('OAuth states', () => {
  let store: Store;
  let at: Date;
  let states: OAuthStates;

  beforeEach(async () => {
    store = await openStore(':memory:');
    at = FIXED_NOW;
    states = createOAuthStates(store.db, key, { now: () => at });
  });
  afterEach(async () => {
    await store.close();
  });

  it('a state is random and can be used once', async () => {
    const id = await states.create('hubspot');
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await states.create('hubspot')).not.toBe(id);

    expect(await states.consume(id, 'hubspot')).toEqual({ verifier: undefined });
    expect(await states.consume(id, 'hubspot')).toBeUndefined();
    expect(await states.consume('never-issued-state-id-000000000000', 'hubspot')).toBeUndefined();
  });

  it('keeps the PKCE verifier sealed and gives it back on use', async () => {
    const id = await states.create('salesforce', { verifier: VERIFIER });
    const row = await store.db.selectFrom('oauth_states').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.verifier_sealed).toMatch(/^v1\./);
    expect(row.verifier_sealed).not.toContain(VERIFIER);
    expect(await states.consume(id, 'salesforce')).toEqual({ verifier: VERIFIER });
  });

  it('refuses a state after its expiry', async () => {
    const id = await states.create('hubspot', { verifier: VERIFIER });
    const short = await states.create('hubspot', { ttlMs: 60_000 });
    at = new Date(FIXED_NOW.getTime() + 2 * 60_000);
    expect(await states.consume(short, 'hubspot')).toBeUndefined();
    expect(await states.consume(id, 'hubspot')).toEqual({ verifier: VERIFIER });

    const late = await states.create('hubspot');
    at = new Date(at.getTime() + OAUTH_STATE_TTL_MS + 1000);
    expect(await states.consume(late, 'hubspot')).toBeUndefined();
  });

  it('refuses a state issued for the other CRM, and it cannot be used afterwards either', async () => {
    const id = await states.create('hubspot', { verifier: VERIFIER });
    expect(await states.consume(id, 'salesforce')).toBeUndefined();
    expect(await states.consume(id, 'hubspot')).toBeUndefined();
  });

  it('sweeps expired states of abandoned installs when a new one is made', async () => {
    await states.create('hubspot');
    await states.create('salesforce');
    at = new Date(FIXED_NOW.getTime() + OAUTH_STATE_TTL_MS + 1000);
    const fresh = await states.create('hubspot');
    expect((await store.db.selectFrom('oauth_states').select('id').execute()).map((r) => r.id)).toEqual([fresh]);
  });
});
