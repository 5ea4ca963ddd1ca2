#!/usr/bin/env node
/**
 * speedwatch-agent: process-level wiring (argv, signals, exit codes) around the measurement
 * engine. `once` runs one test and prints it.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { createLogger, SpeedwatchError, UsageError } from '@speedwatch/shared';
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

Options:
  -h, --help     show this help
  --version      print the version`;

const EXIT = { ok: 0, usage: 1, partial: 2, failed: 3, unauthorized: 4 } as const;

function version(): string {
  const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
  return pkg.version;
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
    process.stdout.write(
      `${file}: ok. Site ${JSON.stringify(config.site.name)} (${config.site.kind}, ${config.site.technology}); ` +
        `collector ${config.collector.url}; ${config.endpoints.resolved.length} endpoint(s); ` +
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
  const logger = createLogger({ level: config.logLevel, bindings: { agent: config.site.name } });
  mkdirSync(config.dataDir, { recursive: true });
  const outbox = await Outbox.open({ dir: config.dataDir, maxBytes: config.outbox.maxBytes, logger });
  let exitCode: number = EXIT.ok;
  let wake!: () => void;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const daemon = new AgentDaemon({
    config,
    outbox,
    logger,
    bin: fileURLToPath(import.meta.url),
    version: version(),
    clock: systemClock,
    random: Math.random,
    onFatal: (err) => {
      exitCode = err.code === 'SW_AGENT_UNAUTHORIZED' ? EXIT.unauthorized : EXIT.failed;
      wake();
    },
  });
  process.once('SIGINT', wake);
  process.once('SIGTERM', wake);
  logger.info({ event: 'started', version: version(), pending: outbox.stats.pending, intervalMs: config.schedule.intervalMs }, 'agent started');
  daemon.start();
  await stopped;
  logger.info({ event: 'stopping' }, 'stopping: the current test is stopped and its result kept');
  await daemon.stop();
  await outbox.close();
  logger.info({ event: 'stopped', pending: outbox.stats.pending }, 'agent stopped');
  return exitCode;
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
