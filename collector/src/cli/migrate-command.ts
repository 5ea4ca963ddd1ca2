/**
 * `speedwatch-collector migrate --from sqlite.db --to postgres://…`: moves a town's history from
 * its SQLite file into PostgreSQL (store/postgres/sqlite-import.ts). Run it while the collector
 * still serves on SQLite (the bulk), stop that collector, run it again (only what came since),
 * then serve with `store.kind: postgres` (docs/operations.md, "PostgreSQL").
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '@speedwatch/shared';
import { PG_PASSWORD_ENV } from '../config/collector-config.js';
import { openDatabase } from '../store/database.js';
import { parsePostgresUrl } from '../store/postgres/postgres-connection.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import { importSqlite } from '../store/postgres/sqlite-import.js';
import { args } from './cli-args.js';

export const MIGRATE_USAGE = `  migrate --from PATH --to postgres://ROLE@HOST[:PORT]/DATABASE [--password-file FILE]
        copy a SQLite database into PostgreSQL: agents and their token hashes, enrollment codes,
        health, area units, results and roll-ups. Run it while the collector serves (the bulk), stop
        the collector, run it again (only what came since), then serve with store.kind: postgres.
        The password: --password-file, else ${PG_PASSWORD_ENV}`;

/** A progress line on stderr at most this often, ms. */
const PROGRESS_EVERY_MS = 5_000;

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(() =>
    parseArgs({ args: argv, strict: true, allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, 'password-file': { type: 'string' } } }),
  );
  if (positionals.length > 0) throw new UsageError(`migrate takes no argument ${JSON.stringify(positionals[0])}`);
  if (values.from === undefined) throw new UsageError('--from PATH (the SQLite database) is required');
  if (values.to === undefined) throw new UsageError('--to postgres://ROLE@HOST/DATABASE is required');
  const url = values.to;
  const parts = parsePostgresUrl(url);
  // The URL is not echoed: a password in it is what this refuses.
  if ('problem' in parts) throw new UsageError(`--to: expected ${parts.problem}`);
  let password = process.env[PG_PASSWORD_ENV];
  if (values['password-file'] !== undefined) {
    try {
      password = readFileSync(values['password-file'], 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`--password-file: cannot read ${values['password-file']} (${(err as { code?: string }).code ?? String(err)})`);
    }
  }
  const source = resolve(values.from);
  const sqlite = openDatabase(source, { mustExist: true });
  try {
    const target = await openPostgresStore({ url, poolSize: 2, ...(password === undefined || password === '' ? {} : { password }) });
    try {
      const started = performance.now();
      let said = started;
      process.stderr.write(`migrate: copying ${source} into ${target.location}\n`);
      const outcome = await importSqlite(sqlite, source, target, (p) => {
        const now = performance.now();
        if (now - said < PROGRESS_EVERY_MS) return;
        said = now;
        process.stderr.write(`migrate: ${p.resultsRead} results read, ${p.resultsStored} new (${Math.round(p.resultsRead / ((now - started) / 1000))} a second)\n`);
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const resumed = outcome.resumedAfterRowid > 0 ? ` (resumed after row ${outcome.resumedAfterRowid}, copied by an earlier run)` : '';
      process.stdout.write(
        `migrated ${source} to ${target.location} in ${seconds} s: ${outcome.agents} agents, ${outcome.enrollmentCodes} enrollment codes, ` +
          `${outcome.healthReports} health reports, ${outcome.areaUnits} area units, ${outcome.resultsRead} results read${resumed}, ` +
          `${outcome.resultsStored} of them new, ${outcome.rollups} hourly roll-ups, the latest UDP figures of ${outcome.latestUdp} agents\n`,
      );
    } finally {
      await target.close();
    }
  } finally {
    sqlite.close();
  }
  return 0;
}
