#!/usr/bin/env node
/**
 * speedwatch-agent: process-level wiring (argv, signals, exit codes) around the measurement
 * engine. `once` runs one test and prints it.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { SpeedwatchError, UsageError } from '@speedwatch/shared';
import { parseOnceArgs, ONCE_USAGE } from '../cli/once-options.js';
import { formatSummary, progressPrinter } from '../cli/report.js';
import { runSpeedTest } from '../measure/run-speed-test.js';

// undici parses HTTP with a WebAssembly build of llhttp, and V8 recompiles hot WebAssembly with
// its optimising tier in background threads: a transient ~30 MB, a third of the agent's peak
// memory (measured with `npm run bench`). The agent's undici traffic is small answers (latency
// probes, upload confirmations; downloads are parsed by raw-http-connection.ts), so V8's baseline
// WebAssembly tier is plenty. Set before the first connection, which is when undici compiles it.
v8.setFlagsFromString('--liftoff-only');

const USAGE = `Usage: speedwatch-agent <command> [options]

Commands:
  once      run one speed test now and print the result (see: speedwatch-agent once --help)

Options:
  -h, --help     show this help
  --version      print the version`;

const EXIT = { ok: 0, usage: 1, partial: 2, failed: 3 } as const;

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
