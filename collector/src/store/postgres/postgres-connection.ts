/**
 * How the PostgreSQL store connects: the URL of the database (no password in it), the password
 * given apart (a file or the environment, so that it is never in a config file, a log line or
 * `ps`), and a pool of connections whose 64-bit integers come back as numbers (every bigint in
 * the schema is a time in ms or a counter, far below 2^53).
 */
import pg from 'pg';
import { StoreError } from '../store-error.js';

export interface PostgresConnection {
  /**
   * `postgres://USER@HOST[:PORT]/DATABASE`, optionally `?sslmode=disable|require|verify-full`
   * and `?host=/run/postgresql` (a unix socket directory instead of HOST). No password.
   */
  url: string;
  /** The role's password; never logged or shown. */
  password?: string;
  /** Connections in the pool. Default 4. */
  poolSize?: number;
}

export const POSTGRES_DEFAULTS = Object.freeze({ port: 5432, poolSize: 4 });

const SSL_MODES = ['disable', 'require', 'verify-full'] as const;

/** The parts of a PostgreSQL URL, or a message naming what is wrong with it (never echoing a password). */
export function parsePostgresUrl(url: string): { host: string; port: number; user: string; database: string; ssl: (typeof SSL_MODES)[number] } | { problem: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: 'a URL such as postgres://speedwatch@db.example.org:5432/speedwatch' };
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') return { problem: `a postgres:// URL, got ${parsed.protocol}//…` };
  if (parsed.password !== '') return { problem: 'a URL without a password: give it in store.passwordFile or SPEEDWATCH_PG_PASSWORD' };
  const user = decodeURIComponent(parsed.username);
  if (user === '') return { problem: 'a URL naming the role, postgres://ROLE@HOST/DATABASE' };
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) return { problem: 'a URL naming one database, postgres://ROLE@HOST/DATABASE' };
  const socketDir = parsed.searchParams.get('host');
  const host = socketDir ?? parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') return { problem: 'a URL naming the host, or ?host=/socket/directory' };
  const port = parsed.port === '' ? POSTGRES_DEFAULTS.port : Number(parsed.port);
  const ssl = parsed.searchParams.get('sslmode') ?? 'disable';
  if (!(SSL_MODES as readonly string[]).includes(ssl)) return { problem: `sslmode one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(ssl.slice(0, 20))}` };
  for (const key of parsed.searchParams.keys()) {
    if (key !== 'host' && key !== 'sslmode') return { problem: `a URL whose only parameters are host and sslmode, got ${JSON.stringify(key.slice(0, 40))}` };
  }
  return { host, port, user, database, ssl: ssl as (typeof SSL_MODES)[number] };
}

/** `postgres://user@host:port/database`: where the data is, for messages (no password, no parameters). */
export function describePostgres(url: string): string {
  const parts = parsePostgresUrl(url);
  return 'problem' in parts ? 'postgres://(invalid URL)' : `postgres://${parts.user}@${parts.host.startsWith('/') ? `[${parts.host}]` : parts.host}:${parts.port}/${parts.database}`;
}

/** int8 as a number; every other type as pg parses it. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** A pool on `connection`; throws SW_STORE_ARGUMENT for a URL it cannot use. */
export function openPool(connection: PostgresConnection): pg.Pool {
  const parts = parsePostgresUrl(connection.url);
  if ('problem' in parts) throw new StoreError('SW_STORE_ARGUMENT', `store.url: expected ${parts.problem}`);
  const poolSize = connection.poolSize ?? POSTGRES_DEFAULTS.poolSize;
  if (!(Number.isSafeInteger(poolSize) && poolSize >= 1 && poolSize <= 100)) throw new StoreError('SW_STORE_ARGUMENT', `poolSize must be an integer from 1 to 100, got ${poolSize}`);
  const pool = new pg.Pool({
    host: parts.host,
    port: parts.port,
    user: parts.user,
    database: parts.database,
    ...(connection.password === undefined ? {} : { password: connection.password }),
    ...(parts.ssl === 'disable' ? {} : { ssl: { rejectUnauthorized: parts.ssl === 'verify-full' } }),
    max: poolSize,
    application_name: 'speedwatch-collector',
    connectionTimeoutMillis: 10_000,
    types: TYPES,
  });
  // An idle connection that breaks (the server restarted) is dropped by the pool and the next
  // query opens a new one; without a listener its error would end the process.
  pool.on('error', () => {});
  return pool;
}
