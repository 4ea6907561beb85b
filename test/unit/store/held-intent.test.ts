import { randomBytes } from 'node:crypto';
import { hashEmail } from '../../../src/ingest/hash-email';
import type { IntentPerson } from '../../../src/ingest/types';
import type { MapContext } from '../../../src/mapping/map-person';
import type { Store } from '../../../src/store/db';
import { createHeldIntent, type HeldIntent } from '../../../src/store/held-intent';
import { FIXED_NOW, openMemoryStoreWithConnection } from './helpers';

const DAY_MS = 86_400_000;
const key = randomBytes(32);

const context: MapContext = { runId: 'run_01', audienceId: 'aud_42', audienceName: 'CRM buyers', intentAt: '2026-01-30T08:30:00Z' };

function person(primary: string, business: string, personal: string, score = 42, firstName = 'Jane'): IntentPerson {
  return {
    key: hashEmail(primary),
    emails: [
      { address: primary, sha256: hashEmail(primary), kind: 'primary' },
      { address: business, sha256: hashEmail(business), kind: 'business' },
      { address: personal, sha256: hashEmail(personal), kind: 'personal' },
    ],
    firstName,
    lastName: 'Doe',
    jobTitle: 'VP Revenue Operations',
    company: { name: 'Acme Inc', domain: 'acme.com' },
    score,
    topics: ['CRM software'],
    extra: {},
    line: 2,
    rows: 1,
  };
}

const jane = person('jane@acme.com', 'jane.doe@acme-corp.com', 'jane.doe@gmail.com');
const sam = person('sam@example.org', 'sam@example-biz.org', 'sam.home@yahoo.com', 17, 'Sam');

describe('held intent', () => {
  let store: Store;
  let at: Date;
  let held: HeldIntent;

  beforeEach(async () => {
    store = await openMemoryStoreWithConnection();
    at = FIXED_NOW;
    held = createHeldIntent(store.db, key, { now: () => at });
  });
  afterEach(async () => {
    await store.close();
  });

  it('finds a held person by the hash of any of their emails, with the person and context intact', async () => {
    await held.hold('conn-1', [{ person: jane, context }, { person: sam, context }], 30 * DAY_MS);
    expect(await held.count('conn-1')).toBe(2);

    for (const address of ['jane@acme.com', 'jane.doe@acme-corp.com', 'jane.doe@gmail.com']) {
      const found = await held.findByEmailHash('conn-1', [hashEmail(address)]);
      expect([address, [...found.keys()]]).toEqual([address, [hashEmail(address)]]);
      expect(found.get(hashEmail(address))).toEqual({
        person: jane,
        context,
        hashedEmail: jane.key,
        runId: 'run_01',
        expiresAt: new Date(FIXED_NOW.getTime() + 30 * DAY_MS).toISOString(),
      });
    }
    // Several hashes at once, mixed with unknown ones.
    const both = await held.findByEmailHash('conn-1', [hashEmail('jane.doe@gmail.com'), hashEmail('sam@example-biz.org'), hashEmail('nobody@example.com')]);
    expect(new Map([...both].map(([h, e]) => [h, e.person.firstName]))).toEqual(
      new Map([
        [hashEmail('jane.doe@gmail.com'), 'Jane'],
        [hashEmail('sam@example-biz.org'), 'Sam'],
      ]),
    );
    expect(both.get(hashEmail('sam@example-biz.org'))?.person.emails.map((e) => e.address)).toEqual(['sam@example.org', 'sam@example-biz.org', 'sam.home@yahoo.com']);
    // Another connection holds nothing.
    expect((await held.findByEmailHash('conn-2', [hashEmail('jane@acme.com')])).size).toBe(0);
    expect((await held.findByEmailHash('conn-1', [])).size).toBe(0);
  });

  it('stores no email, name or other plaintext: the person is sealed', async () => {
    await held.hold('conn-1', [{ person: jane, context }], DAY_MS);
    const rows = await store.db.selectFrom('held_intent').selectAll().execute();
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row?.sealed).toMatch(/^v1\./);
    const stored = JSON.stringify(rows);
    for (const plain of ['jane@acme.com', 'jane.doe@acme-corp.com', 'jane.doe@gmail.com', 'acme', 'Jane', 'Doe', 'Revenue', 'CRM buyers']) {
      expect([plain, stored.includes(plain)]).toEqual([plain, false]);
    }
    const emails = await store.db.selectFrom('held_intent_emails').selectAll().execute();
    expect(emails.map((e) => e.email_hash).sort()).toEqual(jane.emails.map((e) => e.sha256).sort());
    expect(JSON.stringify(emails)).not.toMatch(/@/);
    // Another key cannot open it.
    await expect(createHeldIntent(store.db, randomBytes(32), { now: () => at }).findByEmailHash('conn-1', [jane.key])).rejects.toThrow(/ENCRYPTION_KEY/);
  });

  it('does not find expired people, and purgeExpired deletes them from both tables', async () => {
    await held.hold('conn-1', [{ person: jane, context }], DAY_MS);
    at = new Date(FIXED_NOW.getTime() + DAY_MS / 2);
    await held.hold('conn-1', [{ person: sam, context }], DAY_MS);

    at = new Date(FIXED_NOW.getTime() + DAY_MS);
    expect((await held.findByEmailHash('conn-1', [hashEmail('jane.doe@gmail.com')])).size).toBe(0);
    expect((await held.findByEmailHash('conn-1', [hashEmail('sam.home@yahoo.com')])).size).toBe(1);

    expect(await held.purgeExpired()).toBe(1);
    expect(await held.count()).toBe(1);
    expect(await held.keysFor('conn-1', [hashEmail('jane@acme.com'), hashEmail('jane.doe@gmail.com')])).toEqual([]);
    const left = await store.db.selectFrom('held_intent_emails').select('hashed_email').execute();
    expect(new Set(left.map((r) => r.hashed_email))).toEqual(new Set([sam.key]));

    at = new Date(FIXED_NOW.getTime() + 2 * DAY_MS);
    expect(await held.purgeExpired()).toBe(1);
    expect(await held.count()).toBe(0);
    expect(await store.db.selectFrom('held_intent_emails').selectAll().execute()).toEqual([]);
  });

  it('release forgets the person and every email that pointed at them', async () => {
    await held.hold('conn-1', [{ person: jane, context }, { person: sam, context }], DAY_MS);
    expect(await held.keysFor('conn-1', [hashEmail('jane.doe@gmail.com')])).toEqual([jane.key]);

    expect(await held.release('conn-1', [jane.key])).toBe(1);
    expect((await held.findByEmailHash('conn-1', jane.emails.map((e) => e.sha256))).size).toBe(0);
    expect(await held.keysFor('conn-1', jane.emails.map((e) => e.sha256))).toEqual([]);
    expect(await held.count('conn-1')).toBe(1);
    expect(await held.release('conn-1', [jane.key])).toBe(0);
    expect(await held.release('conn-2', [sam.key])).toBe(0);
    expect(await held.count('conn-1')).toBe(1);
  });

  it('holding the person again refreshes the entry: new intent, new expiry, still one person', async () => {
    await held.hold('conn-1', [{ person: jane, context }], DAY_MS);
    at = new Date(FIXED_NOW.getTime() + DAY_MS / 2);
    const newer = { ...jane, score: 91, topics: ['CRM software', 'ABM'] };
    await held.hold('conn-1', [{ person: newer, context: { ...context, runId: 'run_02' } }], DAY_MS);

    expect(await held.count('conn-1')).toBe(1);
    at = new Date(FIXED_NOW.getTime() + DAY_MS + 1000); // past the first expiry, within the second
    const found = (await held.findByEmailHash('conn-1', [hashEmail('jane.doe@acme-corp.com')])).get(hashEmail('jane.doe@acme-corp.com'));
    expect(found).toMatchObject({ runId: 'run_02', context: { runId: 'run_02' }, person: { score: 91, topics: ['CRM software', 'ABM'] } });
    expect(found?.expiresAt).toBe(new Date(FIXED_NOW.getTime() + DAY_MS / 2 + DAY_MS).toISOString());
    expect(await held.purgeExpired()).toBe(0);
  });

  it('refuses a person whose key is not an email hash, and holds nothing of the batch', async () => {
    const plain: IntentPerson = { ...jane, key: 'jane@acme.com' };
    await expect(held.hold('conn-1', [{ person: sam, context }, { person: plain, context }], DAY_MS)).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(held.hold('conn-1', [{ person: plain, context }], DAY_MS)).rejects.toThrow(/hashed email/);
    expect(await held.count()).toBe(0);
    expect(JSON.stringify(await store.db.selectFrom('held_intent_emails').selectAll().execute())).not.toContain('jane@acme.com');
  });
});
