/**
 * A throwaway PostgreSQL cluster for the tests of a file: initdb into a temp directory, started
 * with pg_ctl on a free port of 127.0.0.1 and a unix socket in that directory, a database and a
 * login role with a password made, and everything stopped and removed after the file's tests.
 * Where PostgreSQL is not installed the tests that need it are skipped with the reason printed;
 * under CI=true they fail instead (.ci/run installs Debian's postgresql): postgres-for-tests.ts.
 * Nothing here depends on the test runner, so the benchmark starts its clusters with it too.
 *
 * As root (CI), initdb and the server run as the `postgres` user through runuser: initdb
 * refuses to run as root.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './util.js';

const run = promisify(execFile);

/** The login role the tests' stores use (never a superuser, as in production). */
export const TEST_ROLE = 'speedwatch';

export interface PostgresCluster {
  host: '127.0.0.1';
  port: number;
  /** The role's password (TCP connections need it: scram-sha-256). */
  password: string;
  /** The directory of the server's unix socket. */
  socketDir: string;
  /** The URL of `database` for TEST_ROLE over TCP, without the password. */
  url(database: string): string;
  /** A new empty database owned by TEST_ROLE; returns its name. */
  createDatabase(): Promise<string>;
  /** Runs SQL as the cluster's superuser on `database` (over the socket). */
  admin<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database?: string): Promise<pg.QueryResult<T>>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /**
   * fsync and full-page writes on, as in production (benchmarks, crash tests). Default off:
   * the tests check what is stored, not what survives a power cut, and share 2 cores.
   */
  durable?: boolean;
}

/** Where initdb and pg_ctl are: $SPEEDWATCH_PG_BIN, else Debian's /usr/lib/postgresql/<newest>/bin. */
export function postgresBinDir(): string | undefined {
  const given = process.env['SPEEDWATCH_PG_BIN'];
  if (given !== undefined && given !== '') return existsSync(join(given, 'initdb')) ? given : undefined;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

/** Why a cluster cannot be started here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (postgresBinDir() === undefined) return 'PostgreSQL is not installed (apt-get install postgresql, or set SPEEDWATCH_PG_BIN to the directory of initdb and pg_ctl)';
  if (userInfo().uid === 0 && postgresIds() === undefined) return 'running as root, and there is no postgres user to run initdb as';
  return undefined;
}

/** Starts a cluster in a new temp directory; `stop()` stops it and removes the directory. */
export async function startPostgresCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(postgresUnavailable());
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'sw-pg-'));
  const data = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  mkdirSync(socketDir);
  if (asRoot) {
    const { uid, gid } = postgresIds() ?? { uid: 0, gid: 0 };
    chownSync(dir, uid, gid);
    chownSync(socketDir, uid, gid);
  }
  // As root, every server command runs as postgres.
  const pgCommand = (tool: string, args: string[]): Promise<{ stdout: string; stderr: string }> =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  let started = false;
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await pgCommand('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync']);
    const port = await freePort();
    const settings = [
      `port=${port}`,
      'listen_addresses=127.0.0.1',
      `unix_socket_directories=${socketDir}`,
      'max_connections=100',
      'shared_buffers=64MB',
      ...(options.durable === true ? [] : ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off']),
    ];
    await pgCommand('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', settings.map((s) => `-c ${s}`).join(' '), 'start']);
    started = true;
    const password = randomBytes(18).toString('base64url');
    const admin = async <T extends pg.QueryResultRow>(sql: string, database = 'postgres'): Promise<pg.QueryResult<T>> => {
      const client = new pg.Client({ host: socketDir, port, user: 'postgres', database });
      await client.connect();
      try {
        return await client.query<T>(sql);
      } finally {
        await client.end();
      }
    };
    await admin(`CREATE ROLE ${TEST_ROLE} LOGIN PASSWORD '${password}'`);
    let databases = 0;
    return {
      host: '127.0.0.1',
      port,
      password,
      socketDir,
      url: (database) => `postgres://${TEST_ROLE}@127.0.0.1:${port}/${database}`,
      async createDatabase() {
        const name = `sw_test_${++databases}`;
        // A locale's collation, as a production database often has: the schema must not depend on C order.
        await admin(`CREATE DATABASE ${name} OWNER ${TEST_ROLE} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
        return name;
      },
      admin,
      async stop() {
        try {
          await pgCommand('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
        } finally {
          remove();
        }
      },
    };
  } catch (err) {
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000) : '';
    if (started) await pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    remove();
    throw new Error(`cannot start a PostgreSQL cluster with ${bin}: ${err instanceof Error ? err.message : String(err)}\n${log}`, { cause: err });
  }
}

/** The postgres user's ids, from /etc/passwd (Debian's postgresql package creates the user). */
function postgresIds(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid === undefined || gid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}
