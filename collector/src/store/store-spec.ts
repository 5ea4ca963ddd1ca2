/**
 * Which store to open, as plain data that crosses to worker threads (the maintenance and report
 * threads open their own connections from it): a SQLite file, or a PostgreSQL database.
 */
import type { CollectorStore } from './collector-store.js';
import { describePostgres } from './postgres/postgres-connection.js';
import { openPostgresStore } from './postgres/postgres-store.js';
import type { PostgresStoreOptions } from './postgres/postgres-store.js';
import { sqliteCollectorStore } from './sqlite-collector-store.js';
import { openStore } from './sqlite-store.js';
import type { StoreOptions } from './sqlite-store.js';

export type StoreSpec = { kind: 'sqlite'; path: string; options: StoreOptions } | { kind: 'postgres'; options: PostgresStoreOptions };

/** Opens (and migrates) the store `spec` names. */
export async function openCollectorStore(spec: StoreSpec): Promise<CollectorStore> {
  return spec.kind === 'sqlite' ? sqliteCollectorStore(openStore(spec.path, spec.options), spec.options) : openPostgresStore(spec.options);
}

/** Where the store's data is, for messages: the file, or postgres://user@host:port/database (never a password). */
export function storeLocation(spec: StoreSpec): string {
  return spec.kind === 'sqlite' ? spec.path : describePostgres(spec.options.url);
}

/** `spec` for a thread that only reads an existing store: a SQLite file that is missing is an error, not a new database. */
export function existingStore(spec: StoreSpec): StoreSpec {
  return spec.kind === 'sqlite' ? { ...spec, options: { ...spec.options, mustExist: true } } : spec;
}
