/**
 * The store a command works on: `--db PATH` (a SQLite file), or `--config FILE`, the store the
 * collector's config names (its SQLite `db`, or its PostgreSQL database with the password from
 * `store.passwordFile` or SPEEDWATCH_PG_PASSWORD), so that `agents add` reaches the database
 * `serve` uses.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '@speedwatch/shared';
import type { CollectorConfig } from '../config/collector-config.js';
import { loadCollectorConfig } from '../config/collector-config.js';
import type { CollectorStore } from '../store/collector-store.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import { sqliteCollectorStore } from '../store/sqlite-collector-store.js';
import { openStore } from '../store/sqlite-store.js';

/** The flags that name the store. */
export const STORE_FLAGS = { db: { type: 'string' }, config: { type: 'string' } } as const;

/** The config `--config` names (with the environment applied, as serve applies it); undefined without it. */
export function commandConfig(values: { config?: string | undefined }): Readonly<CollectorConfig> | undefined {
  return values.config === undefined ? undefined : loadCollectorConfig({ file: values.config, env: process.env });
}

/** Refuses at once a command given neither --db nor --config. */
export function needStore(values: { db?: string | undefined; config?: string | undefined }): void {
  if ((values.db === undefined || values.db === '') && values.config === undefined) throw new UsageError('--db PATH or --config FILE is required');
}

/**
 * Opens (creating a SQLite file and its directory if needed, migrating either) the store `--db`
 * or `--config` names. `--db` with a config naming PostgreSQL is refused: one or the other.
 */
export async function openCommandStore(values: { db?: string | undefined; config?: string | undefined }): Promise<CollectorStore> {
  const config = commandConfig(values);
  if (config?.store.kind === 'postgres') {
    if (values.db !== undefined) throw new UsageError(`--db names a SQLite file, but ${values.config ?? ''} keeps the agents in PostgreSQL: give --config alone`);
    const { url, password, poolSize } = config.store;
    return openPostgresStore({ url, poolSize: Math.min(poolSize, 2), retentionDays: config.retentionDays, ...(password === undefined ? {} : { password }) });
  }
  needStore(values);
  const db = values.db ?? config?.db ?? '';
  mkdirSync(dirname(db), { recursive: true });
  return sqliteCollectorStore(openStore(db));
}
