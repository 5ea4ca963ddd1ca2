#!/usr/bin/env node
/**
 * speedwatch-collector: process-level wiring (argv, env, signals, exit codes) for `serve`,
 * `check-config`, agent identity (`agents add|list|revoke|rotate`) and `backup`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Site } from '@speedwatch/shared';
import { createLogger, SpeedwatchError, siteSchema, UsageError, ValidationError } from '@speedwatch/shared';
import { healthView } from '../api/api.js';
import type { CollectorConfig, ConfigOverrides } from '../config/collector-config.js';
import { ConfigError, loadCollectorConfig } from '../config/collector-config.js';
import { hashToken, newToken } from '../ingest/tokens.js';
import { WorkerMaintenance } from '../maintenance/worker-maintenance.js';
import { startCollector } from '../server/collector-server.js';
import { openStore } from '../store/sqlite-store.js';
import type { AgentHealthRecord } from '../store/store-types.js';
import { WorkerStoreWriter } from '../writer/worker-store-writer.js';

const USAGE = `Usage: speedwatch-collector <command> [options]

Commands:
  serve [--config FILE] [--db PATH] [--host H] [--port N] [--log-level L] [--tls-cert FILE --tls-key FILE]
        run the collector: agents' WebSocket at /v1/agents, the API at /api/v1, /metrics
        (default 127.0.0.1:8600, database ./data/speedwatch.db; with a PEM certificate and key,
        https and wss only)
  check-config FILE [--db PATH] [--host H] [--port N] [--log-level L] [--tls-cert FILE --tls-key FILE]
        validate a config file, with the environment and flags applied as serve applies them, and
        list every problem (exit 1), or print a one-line summary (exit 0); opens no database
  agents add --db PATH --id ID --name NAME --site-kind office|school|clinic|other
             --technology fixed|mobile [--isp ISP] [--area "province/district/commune"] [--lat N --lon N]
        create an agent and print its token (the only line on stdout; only its hash is stored)
  agents list --db PATH [--json]       list agents: id, technology, site kind, area, ISP, name, state,
                                       then from the latest health report: version, outbox backlog,
                                       free disk, CPU temperature, last test (- where unknown)
  agents revoke ID --db PATH           revoke an agent's token (it is disconnected within a heartbeat)
  agents rotate ID --db PATH           give an agent a new token (printed) and invalidate the old one
  backup --db PATH --out FILE          online backup of the database to FILE

Environment: SPEEDWATCH_DB, SPEEDWATCH_HOST, SPEEDWATCH_PORT, SPEEDWATCH_READ_TOKEN, SPEEDWATCH_LOG_LEVEL,
SPEEDWATCH_TLS_CERT_FILE, SPEEDWATCH_TLS_KEY_FILE override the config file; flags override both.`;

/** Runs parseArgs, turning its errors into UsageError (one line, then the usage). */
function args<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function needDb(db: unknown): string {
  if (typeof db !== 'string' || db === '') throw new UsageError('--db PATH is required');
  return db;
}

/** The flags that override the config file's keys, for serve and check-config alike. */
const OVERRIDE_FLAGS = {
  db: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'log-level': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

function overrides(values: { [K in keyof typeof OVERRIDE_FLAGS]?: string | undefined }): ConfigOverrides {
  return {
    db: values.db,
    host: values.host,
    port: values.port,
    logLevel: values['log-level'],
    tlsCertFile: values['tls-cert'],
    tlsKeyFile: values['tls-key'],
  };
}

/** The configuration from `file`, the environment and the flags; undefined once its problems are printed. */
function loadConfig(file: string | undefined, flags: ConfigOverrides): Readonly<CollectorConfig> | undefined {
  try {
    return loadCollectorConfig({ ...(file === undefined ? {} : { file }), env: process.env, flags });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`speedwatch-collector: ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}

async function checkConfig(argv: string[]): Promise<number> {
  const { values, positionals } = args(() => parseArgs({ args: argv, strict: true, allowPositionals: true, options: OVERRIDE_FLAGS }));
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) throw new UsageError('check-config takes exactly one FILE');
  const config = loadConfig(file, overrides(values));
  if (config === undefined) return 1;
  const scheme = config.tls === undefined ? 'http' : 'https';
  const webhooks = config.alerts.webhooks.length;
  process.stdout.write(
    `${file}: ok. Listening on ${scheme}://${config.host}:${config.port}; database ${config.db}; ` +
      `verdict windows ${config.verdicts.windows.map((w) => w.name).join(', ')}; ` +
      `${webhooks} alert webhook${webhooks === 1 ? '' : 's'}; API ${config.readToken === undefined ? 'open' : 'behind the read token'}\n`,
  );
  return 0;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = args(() => parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, ...OVERRIDE_FLAGS } }));
  const config = loadConfig(values.config, overrides(values));
  if (config === undefined) return 1;
  const logger = createLogger({ level: config.logLevel });
  mkdirSync(dirname(config.db), { recursive: true });
  const storeOptions = { retentionDays: config.retentionDays };
  // The serving thread only reads: a write there would wait on the event loop, so it fails at once.
  const store = openStore(config.db, { ...storeOptions, busyTimeoutMs: 0 });
  const opened: { close(): Promise<void> | void }[] = [store];
  const release = async (): Promise<void> => {
    for (const part of opened.reverse()) await part.close();
  };
  let collector;
  try {
    const writer = await WorkerStoreWriter.open(config.db, storeOptions, logger.child({ component: 'writer' }));
    opened.push(writer);
    const maintenance = await WorkerMaintenance.open(config.db, storeOptions, config.verdicts, logger.child({ component: 'maintenance' }));
    opened.push(maintenance);
    collector = await startCollector(config, { store, logger, writer, maintenance });
  } catch (err) {
    await release();
    throw err;
  }
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // After the handlers: whoever reads this line may signal at once.
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: collector.url })}\n`);
  await stopped;
  await collector.close();
  await release();
  return 0;
}

function siteFromFlags(values: Record<string, string | boolean | undefined>): Site {
  const raw: Record<string, unknown> = {
    name: values['name'],
    kind: values['site-kind'],
    technology: values['technology'],
    ...(values['isp'] === undefined ? {} : { isp: values['isp'] }),
    ...(values['area'] === undefined ? {} : { area: values['area'] }),
    ...(values['lat'] === undefined ? {} : { lat: Number(values['lat']) }),
    ...(values['lon'] === undefined ? {} : { lon: Number(values['lon']) }),
  };
  const flagOf: Record<string, string> = { kind: '--site-kind', name: '--name', technology: '--technology', isp: '--isp', area: '--area', lat: '--lat', lon: '--lon' };
  try {
    return siteSchema.parse(raw, '');
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`${flagOf[err.path] ?? err.path}: expected ${err.expected}`);
    throw err;
  }
}

async function agents(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add': {
      const { values } = args(() =>
        parseArgs({
          args: rest,
          strict: true,
          options: {
            db: { type: 'string' },
            id: { type: 'string' },
            name: { type: 'string' },
            'site-kind': { type: 'string' },
            technology: { type: 'string' },
            isp: { type: 'string' },
            area: { type: 'string' },
            lat: { type: 'string' },
            lon: { type: 'string' },
          },
        }),
      );
      const db = needDb(values.db);
      const id = values.id;
      if (id === undefined || !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(id)) throw new UsageError('--id must be 1 to 100 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit');
      const site = siteFromFlags(values);
      if ((site.lat === undefined) !== (site.lon === undefined)) throw new UsageError('--lat and --lon go together');
      const token = newToken();
      mkdirSync(dirname(db), { recursive: true });
      const store = openStore(db);
      try {
        store.agents.add(
          {
            id,
            name: site.name,
            siteKind: site.kind,
            technology: site.technology,
            ...(site.isp === undefined ? {} : { isp: site.isp }),
            ...(site.area === undefined ? {} : { area: site.area }),
            ...(site.lat === undefined ? {} : { lat: site.lat }),
            ...(site.lon === undefined ? {} : { lon: site.lon }),
          },
          hashToken(token),
          Date.now(),
        );
      } finally {
        store.close();
      }
      process.stdout.write(`${token}\n`);
      process.stderr.write(`agent ${id} added; its token is shown once, above. Only its hash is stored.\n`);
      return 0;
    }
    case 'list': {
      const { values } = args(() => parseArgs({ args: rest, strict: true, options: { db: { type: 'string' }, json: { type: 'boolean' } } }));
      const store = openStore(needDb(values.db));
      try {
        const list = store.agents.list();
        const health = new Map(store.health.list().records.map((r) => [r.agentId, r]));
        if (values.json === true) {
          process.stdout.write(`${JSON.stringify(list.map((a) => ({ ...a, health: healthView(health.get(a.id)) })))}\n`);
        } else {
          for (const a of list) {
            const state = a.revokedAt === undefined ? 'active' : `revoked ${new Date(a.revokedAt).toISOString()}`;
            const site = `${a.id}\t${a.technology}\t${a.siteKind}\t${a.area ?? '-'}\t${a.isp ?? '-'}\t${a.name}\t${state}`;
            process.stdout.write(`${site}\t${healthColumns(health.get(a.id), a.version)}\n`);
          }
        }
      } finally {
        store.close();
      }
      return 0;
    }
    case 'revoke':
    case 'rotate': {
      const { values, positionals } = args(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: { db: { type: 'string' } } }));
      const [id, extra] = positionals;
      if (id === undefined) throw new UsageError(`agents ${sub} needs the agent's ID`);
      if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
      const store = openStore(needDb(values.db));
      try {
        if (sub === 'revoke') {
          if (!store.agents.revoke(id, Date.now())) throw new UsageError(`no active agent ${JSON.stringify(id)}`);
          process.stderr.write(`agent ${id} revoked\n`);
        } else {
          const token = newToken();
          if (!store.agents.rotate(id, hashToken(token))) throw new UsageError(`no active agent ${JSON.stringify(id)}`);
          process.stdout.write(`${token}\n`);
          process.stderr.write(`agent ${id} has a new token, shown once above; the old one no longer works\n`);
        }
      } finally {
        store.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown agents command ${JSON.stringify(sub ?? '')}; expected add, list, revoke or rotate`);
  }
}

/** `agents list`'s health columns: version, backlog, free disk, CPU temperature, last test (`-` where unknown). */
function healthColumns(record: AgentHealthRecord | undefined, helloVersion: string | undefined): string {
  const r = record?.report;
  const last = r?.lastTest;
  return [
    r?.agent.version ?? helloVersion ?? '-',
    r === undefined ? '-' : `backlog ${r.backlog}`,
    r?.diskFreeBytes === undefined ? '-' : `${r.diskFreeBytes >= 1e9 ? `${(r.diskFreeBytes / 1e9).toFixed(1)} GB` : `${Math.round(r.diskFreeBytes / 1e6)} MB`} free`,
    r?.cpuTemperatureCelsius === undefined ? '-' : `${r.cpuTemperatureCelsius.toFixed(1)} °C`,
    last === undefined ? '-' : `${last.status}${last.errorCode === undefined ? '' : ` ${last.errorCode}`}${(r?.failedTestsInARow ?? 0) > 1 ? ` (${r?.failedTestsInARow} in a row)` : ''}`,
  ].join('\t');
}

async function backup(argv: string[]): Promise<number> {
  const { values } = args(() => parseArgs({ args: argv, strict: true, options: { db: { type: 'string' }, out: { type: 'string' } } }));
  if (values.out === undefined) throw new UsageError('--out FILE is required');
  const store = openStore(needDb(values.db));
  try {
    await store.backup(values.out);
  } finally {
    store.close();
  }
  process.stderr.write(`backed up to ${values.out}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || rest.includes('--help') || rest.includes('-h')) {
    (command === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return command === undefined ? 1 : 0;
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'agents':
      return agents(rest);
    case 'backup':
      return backup(rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`speedwatch-collector: ${err.message}\n\n${USAGE}\n`);
      process.exitCode = 1;
    } else {
      const code = err instanceof SpeedwatchError ? ` [${err.code}]` : '';
      process.stderr.write(`speedwatch-collector: ${err instanceof Error ? err.message : String(err)}${code}\n`);
      process.exitCode = 2;
    }
  },
);
