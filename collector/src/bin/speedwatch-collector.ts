#!/usr/bin/env node
/**
 * speedwatch-collector: process-level wiring (argv, env, signals, exit codes) for `serve`,
 * `check-config`, agent identity (`agents add|list|revoke|rotate`), `areas`, `report`, `migrate` and `backup`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Site } from '@speedwatch/shared';
import { createLogger, DURATION_EXPECTED, parseDurationMs, SpeedwatchError, siteSchema, UsageError, ValidationError } from '@speedwatch/shared';
import { healthView } from '../api/health-view.js';
import type { CollectorConfig, ConfigOverrides } from '../config/collector-config.js';
import type { AgentRecord, NewAgent } from '../store/store-types.js';
import { ConfigError, loadCollectorConfig } from '../config/collector-config.js';
import { AREAS_USAGE, areasCommand } from '../cli/areas-command.js';
import { REPORT_USAGE, reportCommand } from '../cli/report-command.js';
import { MIGRATE_USAGE, migrateCommand } from '../cli/migrate-command.js';
import { args, needDb } from '../cli/cli-args.js';
import { needStore, openCommandStore, STORE_FLAGS } from '../cli/cli-store.js';
import type { CollectorStore } from '../store/collector-store.js';
import { CODE_LIFETIME_RANGE_MS, DEFAULT_CODE_LIFETIME_MS, issueCode, newEnrollmentCode } from '../enroll/issue-code.js';
import type { IssuedCode } from '../enroll/issue-code.js';
import { hashToken, newToken } from '../ingest/tokens.js';
import { AreaNames } from '../sites/area-match.js';
import { csvField } from '../sites/csv.js';
import { AGENT_ID, AGENT_ID_RULE, parseSitesFile, SitesFileError } from '../sites/sites-file.js';
import { areaPath } from '../store/area-units.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { WorkerMaintenance } from '../maintenance/worker-maintenance.js';
import { startCollector } from '../server/collector-server.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import { describePostgres } from '../store/postgres/postgres-connection.js';
import { sqliteCollectorStore } from '../store/sqlite-collector-store.js';
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
  agents add (--db PATH | --config FILE) --id ID --name NAME --site-kind office|school|clinic|other
             --technology fixed|mobile [--isp ISP] [--area "province/district/commune"] [--lat N --lon N]
             [--area-code CODE] [--contract-mbps N] [--enroll [--expires 7d]]
        create an agent and print its token (the only line on stdout; only its hash is stored);
        with --enroll, a one-time code for \`speedwatch-agent enroll\` instead of a token
  agents import FILE.csv --db PATH [--expires 7d]
        add every site of a CSV (header: id,name,site_kind,technology[,isp,area|area_code,lat,lon,contract_mbps]) in one
        transaction, and print a CSV of their enrollment codes (id,name,code,expires_at)
  agents enroll ID (--db PATH | --config FILE) [--expires 7d]
        a new one-time code for an agent (a new box, a lost token); its earlier codes end
  agents edit ID (--db PATH | --config FILE) [--name N] [--site-kind K] [--technology T] [--isp I] [--area A | --area-code C] [--lat N --lon N] [--contract-mbps N]
        change a site's description; its id, token and history stay
  agents list (--db PATH | --config FILE) [--json]
                                       list agents: id, technology, site kind, area, ISP, name, state,
                                       then from the latest health report: version, outbox backlog,
                                       free disk, CPU temperature, last test (- where unknown)
  agents revoke ID (--db PATH | --config FILE)
                                       revoke an agent's token (it is disconnected within a heartbeat)
  agents rotate ID (--db PATH | --config FILE)
                                       give an agent a new token (printed) and invalidate the old one
${AREAS_USAGE}
${REPORT_USAGE}
${MIGRATE_USAGE}
  backup --db PATH --out FILE          online backup of the database to FILE (SQLite; PostgreSQL: pg_dump)

Environment: SPEEDWATCH_DB, SPEEDWATCH_HOST, SPEEDWATCH_PORT, SPEEDWATCH_READ_TOKEN, SPEEDWATCH_LOG_LEVEL,
SPEEDWATCH_TLS_CERT_FILE, SPEEDWATCH_TLS_KEY_FILE override the config file; flags override both.
SPEEDWATCH_PG_PASSWORD: the PostgreSQL password, when the config's store is PostgreSQL and names no
passwordFile. --config FILE on an agents command: the store that config names (SQLite or PostgreSQL).`;

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

/** The announced agent releases, for check-config: each version with the start of its SHA-256. */
function releasesLine(config: Readonly<CollectorConfig>): string {
  const tarballs = [...(config.releases?.byFile.values() ?? [])];
  if (tarballs.length === 0) return '';
  return `; agent releases announced: ${tarballs.map((t) => `${t.version} (sha256 ${t.sha256.slice(0, 12)}…, ${t.bytes} bytes)`).join(', ')}`;
}

/** Where the data goes, for check-config: never the password, only whether one is given. */
function storeLine(config: Readonly<CollectorConfig>): string {
  if (config.store.kind === 'sqlite') return `database ${config.db}`;
  const password = config.store.password === undefined ? 'no password given' : 'a password given';
  return `store ${describePostgres(config.store.url)} (${password}; lease ${config.leaseTtlMs / 1000} s when several collectors share it)`;
}

async function checkConfig(argv: string[]): Promise<number> {
  const { values, positionals } = args(() => parseArgs({ args: argv, strict: true, allowPositionals: true, options: OVERRIDE_FLAGS }));
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) throw new UsageError('check-config takes exactly one FILE');
  const config = loadConfig(file, overrides(values));
  if (config === undefined) return 1;
  const scheme = config.tls === undefined ? 'http' : 'https';
  const webhooks = config.alerts.webhooks.length;
  const { channels, routes } = config.alerts;
  const routing = channels.length + routes.length === 0 ? '' : `, alert routes ${routes.map((r) => `${r.name} → ${r.channel}`).join(', ') || 'none'} over ${channels.length} channel${channels.length === 1 ? '' : 's'} (secrets read)`;
  process.stdout.write(
    `${file}: ok. Listening on ${scheme}://${config.host}:${config.port}; ${storeLine(config)}; ` +
      `verdict windows ${config.verdicts.windows.map((w) => w.name).join(', ')}; ` +
      `${webhooks} alert webhook${webhooks === 1 ? '' : 's'}${routing}; API ${config.readToken === undefined ? 'open' : 'behind the read token'}; ` +
      `fleet settings: ${config.fleet.defaults.endpoints?.length ?? 0} default endpoint(s), ${config.fleet.overrides.length} override(s)` +
      `${releasesLine(config)}\n`,
  );
  return 0;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = args(() => parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, ...OVERRIDE_FLAGS } }));
  const config = loadConfig(values.config, overrides(values));
  if (config === undefined) return 1;
  const logger = createLogger({ level: config.logLevel });
  const storeOptions = { retentionDays: config.retentionDays };
  const opened: { close(): Promise<void> | void }[] = [];
  const release = async (): Promise<void> => {
    for (const part of opened.reverse()) await part.close();
  };
  let collector;
  try {
    if (config.store.kind === 'postgres') {
      const { url, password, poolSize } = config.store;
      const store = await openPostgresStore({ url, poolSize, ...(password === undefined ? {} : { password }), ...storeOptions });
      opened.push(store);
      logger.info({ event: 'store-opened', store: store.location }, 'results in PostgreSQL');
      // As on SQLite, writes run on the writer thread (the rows of a group commit are made and sent
      // there), maintenance and reports on threads of their own, each with a pool of its own.
      const threads = { kind: 'postgres' as const, options: { url, poolSize: 2, ...(password === undefined ? {} : { password }), ...storeOptions } };
      // The alerts' state is in PostgreSQL too, written by the lease holder's serving thread.
      const writer = await WorkerStoreWriter.start({ store: { ...threads, options: { ...threads.options, poolSize } } }, logger.child({ component: 'writer' }));
      opened.push(writer);
      const maintenance = await WorkerMaintenance.open(threads, config.verdicts, logger.child({ component: 'maintenance' }));
      opened.push(maintenance);
      collector = await startCollector(config, { store, logger, writer, maintenance });
    } else {
      mkdirSync(dirname(config.db), { recursive: true });
      // The serving thread only reads: a write there would wait on the event loop, so it fails at once.
      const store = sqliteCollectorStore(openStore(config.db, { ...storeOptions, busyTimeoutMs: 0 }), storeOptions);
      opened.push(store);
      const writer = await WorkerStoreWriter.open(config.db, storeOptions, logger.child({ component: 'writer' }));
      opened.push(writer);
      const maintenance = await WorkerMaintenance.open(store.spec, config.verdicts, logger.child({ component: 'maintenance' }));
      opened.push(maintenance);
      collector = await startCollector(config, { store, logger, writer, maintenance });
    }
  } catch (err) {
    await release();
    throw err;
  }
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // SIGHUP reloads the fleet's settings (and only them: the rest needs a restart). A config
  // with any problem is refused whole and nothing is pushed.
  const running = collector;
  const onReload = (): void => {
    let next: Readonly<CollectorConfig>;
    try {
      next = loadCollectorConfig({ ...(values.config === undefined ? {} : { file: values.config }), env: process.env, flags: overrides(values) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      logger.error({ event: 'reload-refused', problems: err.problems }, 'SIGHUP: the config is not valid; the settings in force stay and nothing is pushed');
      return;
    }
    running.reloadFleet(next.fleet, next.releases).then(
      (sent) => logger.info({ event: 'reloaded', overrides: next.fleet.overrides.length, agentsSent: sent }, 'SIGHUP: fleet settings reloaded'),
      (err: unknown) => logger.error({ event: 'reload-failed', err }, 'SIGHUP: pushing the new settings failed'),
    );
  };
  process.on('SIGHUP', onReload);
  // After the handlers: whoever reads this line may signal at once.
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: collector.url })}\n`);
  await stopped;
  process.off('SIGHUP', onReload);
  await collector.close();
  await release();
  return 0;
}

/** The flags that describe a site, for add and edit. */
const SITE_FLAGS = {
  name: { type: 'string' },
  'site-kind': { type: 'string' },
  technology: { type: 'string' },
  isp: { type: 'string' },
  area: { type: 'string' },
  'area-code': { type: 'string' },
  lat: { type: 'string' },
  lon: { type: 'string' },
  'contract-mbps': { type: 'string' },
} as const;

function codeLifetime(expires: string | undefined): number {
  if (expires === undefined) return DEFAULT_CODE_LIFETIME_MS;
  const ms = parseDurationMs(expires);
  if (ms === undefined || ms < CODE_LIFETIME_RANGE_MS.min || ms > CODE_LIFETIME_RANGE_MS.max) throw new UsageError(`--expires: expected ${DURATION_EXPECTED}, from 1m to 366d`);
  return ms;
}

function agentOf(id: string, site: Site): NewAgent {
  return {
    id,
    name: site.name,
    siteKind: site.kind,
    technology: site.technology,
    ...(site.isp === undefined ? {} : { isp: site.isp }),
    ...(site.area === undefined ? {} : { area: site.area }),
    ...(site.lat === undefined ? {} : { lat: site.lat }),
    ...(site.lon === undefined ? {} : { lon: site.lon }),
    ...(site.contractMbps === undefined ? {} : { contractMbps: site.contractMbps }),
  };
}

/** The areas of `agents` but `except`'s. */
function areaNamesOf(agents: readonly AgentRecord[], except?: string): AreaNames {
  return new AreaNames(agents.flatMap((a) => (a.area === undefined || a.id === except ? [] : [a.area])));
}

/** The areas of every agent but `except`. */
function areaNames(store: SqliteStore, except?: string): AreaNames {
  return areaNamesOf(store.agents.list(), except);
}

/** The area to store for `typed`, warning on stderr about a near-duplicate of an existing one. */
function matchAreaIn(names: AreaNames, typed: string, prefix = ''): string {
  const match = names.match(typed);
  if (match.area !== typed.normalize('NFC').trim()) process.stderr.write(`${prefix}area ${JSON.stringify(typed)} stored as ${JSON.stringify(match.area)}\n`);
  if (match.nearDuplicateOf !== undefined) {
    process.stderr.write(`${prefix}warning: area ${JSON.stringify(match.area)} is new but close to the existing ${JSON.stringify(match.nearDuplicateOf)}; if they are one place, fix it with \`agents edit ID --area\`, or the two are judged apart\n`);
  }
  return match.area;
}

async function matchArea(store: CollectorStore, typed: string, except?: string): Promise<string> {
  return matchAreaIn(areaNamesOf(await store.agents.list(), except), typed);
}

/** The path of names of the unit `code`, as the registry has it today (`areas import`). */
async function areaOfCode(store: CollectorStore, code: string): Promise<string> {
  const path = areaPath(await store.areaUnits.all(), code, Date.now());
  if ('problem' in path) throw new UsageError(`--area-code: ${path.problem}`);
  return path.path;
}

/** A new enrollment code for `agentId` (its earlier unused codes end), adding the agent first when `add` is given, one transaction. */
async function issueCodeOn(store: CollectorStore, agentId: string, now: number, lifetimeMs: number, add?: { agent: NewAgent; tokenHash: string }): Promise<IssuedCode> {
  const { code, codeHash } = newEnrollmentCode();
  const expiresAt = now + lifetimeMs;
  await store.enrollment.issue(agentId, codeHash, now, expiresAt, add);
  return { agentId, code, expiresAt };
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
    ...(values['contract-mbps'] === undefined ? {} : { contractMbps: Number(values['contract-mbps']) }),
  };
  const flagOf: Record<string, string> = { kind: '--site-kind', name: '--name', technology: '--technology', isp: '--isp', area: '--area', lat: '--lat', lon: '--lon', contractMbps: '--contract-mbps' };
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
      const { values } = args(() => parseArgs({ args: rest, strict: true, options: { ...SITE_FLAGS, ...STORE_FLAGS, id: { type: 'string' }, enroll: { type: 'boolean' }, expires: { type: 'string' } } }));
      needStore(values);
      const id = values.id;
      if (id === undefined || !AGENT_ID.test(id)) throw new UsageError(`--id must be ${AGENT_ID_RULE}`);
      if (values.expires !== undefined && values.enroll !== true) throw new UsageError('--expires goes with --enroll');
      const lifetimeMs = codeLifetime(values.expires);
      if (values.area !== undefined && values['area-code'] !== undefined) throw new UsageError('give --area or --area-code, not both');
      const site = siteFromFlags(values);
      if ((site.lat === undefined) !== (site.lon === undefined)) throw new UsageError('--lat and --lon go together');
      // Without --enroll the token is printed; with it, nobody ever sees this one: the code sets the real one.
      const token = newToken();
      const store = await openCommandStore(values);
      try {
        const now = Date.now();
        const areaCode = values['area-code'];
        const area = areaCode !== undefined ? await areaOfCode(store, areaCode) : site.area === undefined ? undefined : await matchArea(store, site.area);
        const agent = { ...agentOf(id, { ...site, ...(area === undefined ? {} : { area }) }), ...(areaCode === undefined ? {} : { areaCode }) };
        let issued: IssuedCode | undefined;
        if (values.enroll === true) issued = await issueCodeOn(store, id, now, lifetimeMs, { agent, tokenHash: hashToken(token) });
        else await store.agents.add(agent, hashToken(token), now);
        if (issued === undefined) {
          process.stdout.write(`${token}\n`);
          process.stderr.write(`agent ${id} added; its token is shown once, above. Only its hash is stored.\n`);
        } else {
          process.stdout.write(`${issued.code}\n`);
          process.stderr.write(`agent ${id} added; its one-time enrollment code is above, valid until ${new Date(issued.expiresAt).toISOString()}.\n` +
            `On the box: speedwatch-agent enroll --collector wss://HOST:PORT/v1/agents --code ${issued.code} --config /etc/speedwatch/agent.yaml --data-dir /var/lib/speedwatch\n`);
        }
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'import': {
      const { values, positionals } = args(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: { db: { type: 'string' }, expires: { type: 'string' } } }));
      const [file, extra] = positionals;
      if (file === undefined || extra !== undefined) throw new UsageError('agents import takes exactly one FILE.csv');
      const db = needDb(values.db);
      const lifetimeMs = codeLifetime(values.expires);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file} (${(err as { code?: string }).code ?? String(err)})`);
      }
      mkdirSync(dirname(db), { recursive: true });
      const store = openStore(db);
      try {
        const existing = new Set(store.agents.list().map((a) => a.id));
        let sites;
        try {
          const units = store.areaUnits.all();
          sites = parseSitesFile(file, text, (id) => existing.has(id), (code) => areaPath(units, code, Date.now()));
        } catch (err) {
          if (err instanceof SitesFileError) {
            process.stderr.write(`speedwatch-collector: ${err.message}\n`);
            return 1;
          }
          throw err;
        }
        const names = areaNames(store);
        const now = Date.now();
        const issued: IssuedCode[] = store.transaction(() =>
          sites.map((agent) => {
            const typed = agent.area;
            // An area from the registry is stored as the registry has it.
            const stored = typed === undefined || agent.areaCode !== undefined ? agent : { ...agent, area: matchAreaIn(names, typed, `${agent.id}: `) };
            if (stored.area !== undefined) names.add(stored.area);
            store.agents.add(stored, hashToken(newToken()), now);
            return issueCode(store, agent.id, now, lifetimeMs);
          }),
        );
        process.stdout.write('id,name,code,expires_at\n');
        for (const [i, code] of issued.entries()) {
          process.stdout.write(`${[code.agentId, sites[i]?.name ?? '', code.code, new Date(code.expiresAt).toISOString()].map(csvField).join(',')}\n`);
        }
        process.stderr.write(`${issued.length} agents added from ${file}, each with a one-time enrollment code (above, as CSV)\n`);
      } finally {
        store.close();
      }
      return 0;
    }
    case 'enroll': {
      const { values, positionals } = args(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...STORE_FLAGS, expires: { type: 'string' } } }));
      const [id, extra] = positionals;
      if (id === undefined || extra !== undefined) throw new UsageError("agents enroll needs exactly the agent's ID");
      const lifetimeMs = codeLifetime(values.expires);
      const store = await openCommandStore(values);
      try {
        const agent = await store.agents.get(id);
        if (agent === undefined || agent.revokedAt !== undefined) throw new UsageError(`no active agent ${JSON.stringify(id)}`);
        const issued = await issueCodeOn(store, id, Date.now(), lifetimeMs);
        process.stdout.write(`${issued.code}\n`);
        process.stderr.write(`a one-time enrollment code for agent ${id}, valid until ${new Date(issued.expiresAt).toISOString()}; its earlier codes no longer work, and its current token stops working when this code is used\n`);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'edit': {
      const { values, positionals } = args(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...SITE_FLAGS, ...STORE_FLAGS } }));
      const [id, extra] = positionals;
      if (id === undefined || extra !== undefined) throw new UsageError("agents edit needs exactly the agent's ID");
      const store = await openCommandStore(values);
      try {
        const agent = await store.agents.get(id);
        if (agent === undefined) throw new UsageError(`no agent ${JSON.stringify(id)}`);
        const changed = Object.keys(SITE_FLAGS).filter((flag) => values[flag as keyof typeof SITE_FLAGS] !== undefined);
        if (changed.length === 0) throw new UsageError(`nothing to change; give one or more of ${Object.keys(SITE_FLAGS).map((f) => `--${f}`).join(', ')}`);
        const current: Record<string, string> = {
          name: agent.name,
          'site-kind': agent.siteKind,
          technology: agent.technology,
          ...(agent.isp === undefined ? {} : { isp: agent.isp }),
          ...(agent.area === undefined ? {} : { area: agent.area }),
          ...(agent.lat === undefined ? {} : { lat: String(agent.lat), lon: String(agent.lon) }),
          ...(agent.contractMbps === undefined ? {} : { 'contract-mbps': String(agent.contractMbps) }),
        };
        const merged = { ...current, ...Object.fromEntries(changed.map((flag) => [flag, values[flag as keyof typeof SITE_FLAGS]])) };
        // An empty --isp or --area removes it.
        for (const key of ['isp', 'area', 'lat', 'lon', 'contract-mbps']) if (merged[key] === '') delete merged[key];
        if (changed.includes('area') && changed.includes('area-code')) throw new UsageError('give --area or --area-code, not both');
        // A new --area-code names the area; a new --area drops the code; otherwise both stay.
        const newCode = values['area-code'];
        const areaCode = newCode !== undefined ? newCode : changed.includes('area') ? undefined : agent.areaCode;
        if (newCode !== undefined) merged['area'] = await areaOfCode(store, newCode);
        const site = siteFromFlags(merged);
        if ((site.lat === undefined) !== (site.lon === undefined)) throw new UsageError('--lat and --lon go together');
        const area = site.area === undefined ? undefined : newCode !== undefined ? site.area : await matchArea(store, site.area, id);
        const { id: _id, ...description } = { ...agentOf(id, { ...site, ...(area === undefined ? {} : { area }) }), ...(areaCode === undefined ? {} : { areaCode }) };
        await store.agents.edit(id, description);
        process.stderr.write(`agent ${id} edited (${changed.map((f) => `--${f}`).join(', ')}); its results and roll-ups are judged by the new description from the next verdict refresh\n`);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'list': {
      const { values } = args(() => parseArgs({ args: rest, strict: true, options: { ...STORE_FLAGS, json: { type: 'boolean' } } }));
      const store = await openCommandStore(values);
      try {
        const list = await store.agents.list();
        const codes = await store.enrollment.latestByAgent();
        const health = new Map((await store.health.list()).records.map((r) => [r.agentId, r]));
        if (values.json === true) {
          process.stdout.write(`${JSON.stringify(list.map((a) => ({ ...a, health: healthView(health.get(a.id)), ...(codes.has(a.id) ? { enrollment: codes.get(a.id) } : {}) })))}\n`);
        } else {
          const now = Date.now();
          for (const a of list) {
            const code = codes.get(a.id);
            const waiting = code !== undefined && code.usedAt === undefined && a.lastSeenAt === undefined;
            const enrollState = waiting ? (code.expiresAt > now ? `, waiting for enrollment (code until ${new Date(code.expiresAt).toISOString()})` : ', enrollment code expired') : '';
            const state = a.revokedAt === undefined ? `active${enrollState}` : `revoked ${new Date(a.revokedAt).toISOString()}`;
            const site = `${a.id}\t${a.technology}\t${a.siteKind}\t${a.area ?? '-'}\t${a.isp ?? '-'}\t${a.name}\t${state}`;
            process.stdout.write(`${site}\t${healthColumns(health.get(a.id), a.version)}\n`);
          }
        }
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'revoke':
    case 'rotate': {
      const { values, positionals } = args(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: STORE_FLAGS }));
      const [id, extra] = positionals;
      if (id === undefined) throw new UsageError(`agents ${sub} needs the agent's ID`);
      if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
      const store = await openCommandStore(values);
      try {
        if (sub === 'revoke') {
          if (!(await store.agents.revoke(id, Date.now()))) throw new UsageError(`no active agent ${JSON.stringify(id)}`);
          process.stderr.write(`agent ${id} revoked\n`);
        } else {
          const token = newToken();
          if (!(await store.agents.rotate(id, hashToken(token)))) throw new UsageError(`no active agent ${JSON.stringify(id)}`);
          process.stdout.write(`${token}\n`);
          process.stderr.write(`agent ${id} has a new token, shown once above; the old one no longer works\n`);
        }
      } finally {
        await store.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown agents command ${JSON.stringify(sub ?? '')}; expected add, import, enroll, edit, list, revoke or rotate`);
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
    case 'areas':
      return areasCommand(rest);
    case 'report':
      return reportCommand(rest);
    case 'migrate':
      return migrateCommand(rest);
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
