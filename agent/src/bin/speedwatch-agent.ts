#!/usr/bin/env node
/**
 * speedwatch-agent: process-level wiring (argv, signals, exit codes) around the measurement
 * engine. `once` runs one test and prints it.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { createLogger, DURATION_EXPECTED, parseDurationMs, SpeedwatchError, UsageError } from '@speedwatch/shared';
// Each command loads only what it needs (below, with import()): `once` never loads the
// daemon's WebSocket and YAML code, and `run` never loads the HTTP client. Memory is the reason.
import { parseOnceArgs, ONCE_USAGE } from '../cli/once-options.js';
import { formatSummary, progressPrinter } from '../cli/report.js';

// undici parses HTTP with a WebAssembly build of llhttp, and V8 recompiles hot WebAssembly with
// its optimising tier in background threads: a transient ~30 MB, a third of the agent's peak
// memory (measured with `npm run bench`). The agent's undici traffic is small answers (latency
// probes, upload confirmations; downloads are parsed by raw-http-connection.ts), so V8's baseline
// WebAssembly tier is plenty. Set before the first connection, which is when undici compiles it.
v8.setFlagsFromString('--liftoff-only');

const USAGE = `Usage: speedwatch-agent <command> [options]

Commands:
  once                 run one speed test now and print the result (see: speedwatch-agent once --help)
  run --config FILE    run the daemon: test on the schedule, keep results in the outbox, stream them
                       to the collector (SIGTERM/SIGINT stop it cleanly)
  check-config FILE    validate a daemon config file and list every problem
  enroll --collector wss://HOST:PORT/v1/agents --code CODE --config FILE --data-dir DIR [--ca FILE] [--force]
                       exchange a one-time code (from \`speedwatch-collector agents add --enroll\`)
                       for this box's token; write the token, the collector's settings and a
                       minimal config; the daemon's first run then tests at once
  first-test --data-dir DIR [--timeout 10m]
                       wait for the first test after enrollment and print it with its verdict
  install-service --collector wss://HOST:PORT/v1/agents --code CODE [--ca FILE] [--user speedwatch]
                  [--no-start] [--wait 10m] [--force] [--root DIR]
                       as root on the box: create the service user, /etc/speedwatch and
                       /var/lib/speedwatch, write the systemd unit, enroll, start the service and
                       wait for its first test (--root DIR: write under DIR instead of /; no user,
                       no start)
  upgrade --config FILE [--file PATH --sha256 HEX]
                       install the agent release the collector announces (or a local tarball)
                       beside this one; it runs from the service's next start

Options:
  -h, --help     show this help
  --version      print the version`;

/** `restart` (75): stopped to be restarted by the service manager, into an upgrade just installed or a rolled-back version (docs/fleet.md, "Upgrades"). */
const EXIT = { ok: 0, usage: 1, partial: 2, failed: 3, unauthorized: 4, restart: 75 } as const;

/** The agent package's package.json (built to dist/src/bin/: the package is three levels up). */
function manifest(): { version: string; engines?: { node?: string } } {
  return createRequire(import.meta.url)('../../../package.json') as { version: string; engines?: { node?: string } };
}

function version(): string {
  return manifest().version;
}

async function once(argv: string[]): Promise<number> {
  const command = parseOnceArgs(argv);
  if (command.help) {
    process.stdout.write(`${ONCE_USAGE}\n`);
    return EXIT.ok;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const live = !command.json && process.stderr.isTTY === true;
  try {
    // Loaded here, not at the top: the daemon (run) never loads the HTTP client and stays small.
    const { runSpeedTest } = await import('../measure/run-speed-test.js');
    const result = await runSpeedTest({
      ...command.test,
      agentVersion: version(),
      signal: controller.signal,
      ...(live ? { onEvent: progressPrinter((text) => process.stderr.write(text)) } : {}),
    });
    process.stdout.write(command.json ? `${JSON.stringify(result)}\n` : formatSummary(result, command.technology));
    return EXIT[result.status];
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

async function checkConfig(argv: string[]): Promise<number> {
  const { AgentConfigError, loadAgentConfig } = await import('../config/agent-config.js');
  const { positionals } = parseOrUsage(() => parseArgs({ args: argv, options: {}, strict: true, allowPositionals: true }));
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) throw new UsageError('check-config takes exactly one FILE');
  try {
    const config = loadAgentConfig(file, process.env);
    const site = config.site === undefined ? 'Site from the collector' : `Site ${JSON.stringify(config.site.name)} (${config.site.kind}, ${config.site.technology})`;
    const endpoints = config.endpoints.resolved.length === 0 ? 'endpoints from the collector' : `${config.endpoints.resolved.length} endpoint(s)`;
    process.stdout.write(
      `${file}: ok. ${site}; ` +
        `collector ${config.collector.url}; ${endpoints}; ` +
        `a test every ${config.schedule.intervalMs / 60_000} min; data in ${config.dataDir}\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`speedwatch-agent: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() => parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true }));
  const file = values.config;
  if (file === undefined) throw new UsageError('run needs --config FILE');
  const { AgentConfigError, loadAgentConfig } = await import('../config/agent-config.js');
  const { AgentDaemon } = await import('../daemon/agent-daemon.js');
  const { Outbox } = await import('../outbox/outbox.js');
  const { systemClock } = await import('../schedule/scheduler.js');
  let config;
  try {
    config = loadAgentConfig(file, process.env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`speedwatch-agent: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, ...(config.site === undefined ? {} : { bindings: { agent: config.site.name } }) });
  mkdirSync(config.dataDir, { recursive: true });
  const { loadSettings } = await import('../settings/settings-file.js');
  const { FIRST_TEST_FILE, FIRST_TEST_MARKER } = await import('../enroll/enrollment-files.js');
  const stored = await loadSettings(config.dataDir);
  if (stored.problem !== undefined) logger.warn({ event: 'settings-unreadable' }, `${stored.problem}; the config file's settings apply until the collector sends new ones`);
  const marker = join(config.dataDir, FIRST_TEST_MARKER);
  const firstTestNow = existsSync(marker);
  const outbox = await Outbox.open({ dir: config.dataDir, maxBytes: config.outbox.maxBytes, logger });
  const { UsageLedger } = await import('../budget/usage-ledger.js');
  const { ledger, skipped } = await UsageLedger.open(config.dataDir, Date.now());
  if (skipped > 0) logger.warn({ event: 'usage-lines-skipped', skipped }, `usage ledger: ${skipped} unreadable line(s) skipped (a power cut mid-write); the month's count may be short by those tests`);
  let exitCode: number = EXIT.ok;
  let wake!: () => void;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const { inVersionsDir } = await import('../upgrade/upgrade-state.js');
  const daemon = new AgentDaemon({
    config,
    outbox,
    logger,
    bin: fileURLToPath(import.meta.url),
    upgrade: {
      fromVersionsDir: inVersionsDir(config.dataDir, fileURLToPath(import.meta.url)),
      restart: () => {
        exitCode = EXIT.restart;
        wake();
      },
    },
    version: version(),
    ledger,
    clock: systemClock,
    random: Math.random,
    ...(stored.settings === undefined ? {} : { settings: stored.settings }),
    firstTestNow,
    onFirstTest: async (result) => {
      const { replaceFileDurably } = await import('../outbox/durable-fs.js');
      await replaceFileDurably(join(config.dataDir, FIRST_TEST_FILE), `${JSON.stringify({ technology: daemon.plan.site?.technology ?? 'fixed', result })}\n`);
      rmSync(marker, { force: true });
    },
    onFatal: (err) => {
      exitCode = err.code === 'SW_AGENT_UNAUTHORIZED' ? EXIT.unauthorized : EXIT.failed;
      wake();
    },
  });
  // Stopped by a signal, not by a failure: a version on trial is tried again at the next start.
  const onSignal = (): void => {
    daemon.postponeTrial();
    wake();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  logger.info(
    { event: 'started', version: version(), pending: outbox.stats.pending, intervalMs: daemon.plan.intervalMs, settingsVersion: daemon.plan.settingsVersion ?? null, firstTestNow },
    'agent started',
  );
  daemon.start();
  await stopped;
  logger.info({ event: 'stopping' }, 'stopping: the current test is stopped and its result kept');
  await daemon.stop();
  await outbox.close();
  logger.info({ event: 'stopped', pending: outbox.stats.pending }, 'agent stopped');
  return exitCode;
}

async function enrollCommand(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: argv,
      strict: true,
      options: { collector: { type: 'string' }, code: { type: 'string' }, config: { type: 'string' }, 'data-dir': { type: 'string' }, ca: { type: 'string' }, force: { type: 'boolean' } },
    }),
  );
  const missing = (['collector', 'code', 'config', 'data-dir'] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0) throw new UsageError(`enroll needs ${missing.map((k) => `--${k}`).join(', ')}`);
  const { enroll } = await import('../enroll/enroll.js');
  const { EnrollmentCodeError } = await import('@speedwatch/shared');
  try {
    const done = await enroll({
      collectorUrl: values.collector as string,
      code: values.code as string,
      configFile: values.config as string,
      dataDir: values['data-dir'] as string,
      ...(values.ca === undefined ? {} : { caFile: values.ca }),
      force: values.force === true,
    });
    const s = done.site;
    process.stdout.write(
      `Enrolled as agent ${done.agentId}: ${s.name} (${s.kind}, ${s.technology}${s.area === undefined ? '' : `, ${s.area}`}${s.isp === undefined ? '' : `, ${s.isp}`}).\n` +
        `Token: ${done.tokenFile} (0600). Config: ${done.configFile}.\n` +
        (done.settings?.endpoints === undefined ? 'The collector gave no endpoints yet: the box tests once it does, or add endpoints.urls to the config.\n' : `Endpoints from the collector: ${done.settings.endpoints.join(', ')}.\n`) +
        `Next: start the daemon (systemctl enable --now speedwatch-agent, or speedwatch-agent run --config ${done.configFile});\n` +
        `it tests at once, and \`speedwatch-agent first-test --data-dir ${values['data-dir'] as string}\` shows that test.\n`,
    );
    return EXIT.ok;
  } catch (err) {
    if (err instanceof EnrollmentCodeError) {
      process.stderr.write(`speedwatch-agent: ${err.message} [${err.code}]\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

function parseWaitMs(flag: string, text: string | undefined): number {
  if (text === undefined) return 10 * 60_000;
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new UsageError(`${flag}: expected ${DURATION_EXPECTED}`);
  return ms;
}

/** Waits for the daemon's first test in `dataDir` and prints it with its verdict; the exit status is the test's. */
async function printFirstTest(dataDir: string, timeoutMs: number): Promise<number> {
  const { FIRST_TEST_FILE } = await import('../enroll/enrollment-files.js');
  const { waitForFirstTest } = await import('../enroll/first-test.js');
  process.stderr.write(`waiting up to ${Math.round(timeoutMs / 1000)} s for the daemon's first test (${join(dataDir, FIRST_TEST_FILE)})…\n`);
  const first = await waitForFirstTest(dataDir, timeoutMs);
  if (first === undefined) {
    process.stderr.write(`speedwatch-agent: no first test within ${Math.round(timeoutMs / 1000)} s; is the daemon running? (journalctl -u speedwatch-agent)\n`);
    return EXIT.failed;
  }
  process.stdout.write(formatSummary(first.result, first.technology));
  return EXIT[first.result.status];
}

async function firstTest(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() => parseArgs({ args: argv, strict: true, options: { 'data-dir': { type: 'string' }, timeout: { type: 'string' } } }));
  const dataDir = values['data-dir'];
  if (dataDir === undefined) throw new UsageError('first-test needs --data-dir DIR');
  return printFirstTest(dataDir, parseWaitMs('--timeout', values.timeout));
}

/** A user name useradd takes on Debian (NAME_REGEX), at most 32 characters. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

async function installServiceCommand(argv: string[]): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        collector: { type: 'string' },
        code: { type: 'string' },
        ca: { type: 'string' },
        user: { type: 'string', default: 'speedwatch' },
        root: { type: 'string', default: '/' },
        'no-start': { type: 'boolean' },
        wait: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const missing = (['collector', 'code'] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0) throw new UsageError(`install-service needs ${missing.map((k) => `--${k}`).join(', ')}`);
  if (!USER_NAME.test(values.user)) throw new UsageError(`--user ${JSON.stringify(values.user)}: expected a user name (a-z, 0-9, _ and -, starting with a letter or _, at most 32)`);
  const waitMs = parseWaitMs('--wait', values.wait);
  const { installService } = await import('../install/install-service.js');
  const { InstallError } = await import('../install/install-error.js');
  const { EnrollmentCodeError } = await import('@speedwatch/shared');
  const { execFile } = await import('node:child_process');
  const packageDir = fileURLToPath(new URL('../../../', import.meta.url));
  let installed;
  try {
    installed = await installService(
      {
        collectorUrl: values.collector as string,
        code: values.code as string,
        ...(values.ca === undefined ? {} : { caFile: resolve(values.ca) }),
        user: values.user,
        root: resolve(values.root),
        start: values['no-start'] !== true,
        force: values.force === true,
        unitTemplate: readFileSync(join(packageDir, 'deploy', 'systemd', 'speedwatch-agent.service'), 'utf8'),
        nodePath: process.execPath,
        binPath: realpathSync(join(packageDir, 'bin', 'speedwatch-agent.js')),
        nodeVersion: process.versions.node,
        nodeRange: manifest().engines?.node ?? '>=20.18.1',
      },
      {
        uid: process.getuid?.(),
        systemdRunning: existsSync('/run/systemd/system'),
        run: (command, args) =>
          new Promise((done, fail) => {
            execFile(command, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
              // A string code is a command that could not be started (ENOENT); a number, its exit status.
              if (err !== null && typeof err.code === 'string') fail(err);
              else done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
            });
          }),
        say: (line) => process.stdout.write(`${line}\n`),
      },
    );
  } catch (err) {
    // Refusals before anything is written exit 1, like a bad option; a failed step (and a failed
    // enrollment, EnrollError, which main reports) exits 3.
    if (err instanceof EnrollmentCodeError || (err instanceof InstallError && err.code !== 'SW_INSTALL_FAILED')) {
      process.stderr.write(`speedwatch-agent: ${err.message} [${err.code}]\n`);
      return EXIT.usage;
    }
    throw err;
  }
  if (!installed.started || waitMs === 0) return EXIT.ok;
  return printFirstTest(installed.dataDirOnDisk, waitMs);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') {
    (command === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === '--version') {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (command === 'once') return once(rest);
  if (command === 'run') return run(rest);
  if (command === 'check-config') return checkConfig(rest);
  if (command === 'enroll') return enrollCommand(rest);
  if (command === 'first-test') return firstTest(rest);
  if (command === 'install-service') return installServiceCommand(rest);
  if (command === 'upgrade') {
    const { upgradeCommand } = await import('../cli/upgrade-command.js');
    return upgradeCommand(rest, version(), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      const usage = process.argv[2] === 'once' ? ONCE_USAGE : USAGE;
      process.stderr.write(`speedwatch-agent: ${err.message}\n\n${usage}\n`);
      process.exitCode = EXIT.usage;
    } else {
      const code = err instanceof SpeedwatchError ? ` [${err.code}]` : '';
      process.stderr.write(`speedwatch-agent: ${err instanceof Error ? err.message : String(err)}${code}\n`);
      process.exitCode = EXIT.failed;
    }
  },
);
