/**
 * Every migration, in order, compiled into the app: no migration folder to find at run time (works the
 * same from `tsx`, `dist/` and jest). Names sort lexically; append new ones, never rename.
 */
import type { Migration, MigrationProvider } from 'kysely/migration';
import { initialMigration } from './0001-initial';
import { ledgerTopicsMigration } from './0002-ledger-topics';
import { connectionCredentialsMigration } from './0003-connection-credentials';
import { installedAppMigration } from './0004-installed-app';

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initialMigration,
  '0002-ledger-topics': ledgerTopicsMigration,
  '0003-connection-credentials': connectionCredentialsMigration,
  '0004-installed-app': installedAppMigration,
};

export const staticMigrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};
