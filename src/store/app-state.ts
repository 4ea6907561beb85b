/** Small facts of the app that outlive a process (e.g. the scheduler's last tick). */
import type { Kysely } from 'kysely';
import type { Database } from './schema';

export interface AppState {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export function createAppState(db: Kysely<Database>, options: { now?: () => Date } = {}): AppState {
  const now = options.now ?? (() => new Date());
  return {
    async get(key) {
      return (await db.selectFrom('app_state').select('value').where('key', '=', key).executeTakeFirst())?.value;
    },
    async set(key, value) {
      const at = now().toISOString();
      await db
        .insertInto('app_state')
        .values({ key, value, updated_at: at })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
        .execute();
    },
  };
}
