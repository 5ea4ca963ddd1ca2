#!/usr/bin/env node
/**
 * speedwatch-endpoint: runs the LibreSpeed-compatible speed-test endpoint. Owns everything
 * process-level: argv, reading TLS files, the logger on stderr, the one `listening` line on
 * stdout, signals and exit codes.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DURATION_EXPECTED,
  SIZE_EXPECTED,
  UsageError,
  ValidationError,
  createLogger,
  LOG_LEVELS,
  object,
  oneOf,
  optional,
  parseAll,
  parseDurationMs,
  parseSizeBytes,
  problemAt,
  refine,
  string,
} from '@speedwatch/shared';
import type { LogLevel, OptionalSchema, Problem, Schema } from '@speedwatch/shared';
import { EndpointListenError, EndpointOptionsError } from '../endpoint-error.js';
import { ENDPOINT_DEFAULTS, resolveEndpointOptions } from '../options.js';
import type { EndpointOptions } from '../options.js';
import { startEndpoint } from '../server.js';
import type { RunningEndpoint } from '../server.js';

const NAME = 'speedwatch-endpoint';

interface FlagSpec {
  /** The EndpointOptions key the flag sets; absent for flags the CLI handles itself. */
  key?: keyof EndpointOptions;
  value: string;
  description: string;
  /** Turns the flag's text into the option's value: its form only, the option's limits are checked as options. */
  text: Schema<unknown>;
}

/** A schema for flag text that `parse` turns into a number (undefined: not of that form). */
function textOf(expected: string, parse: (text: string) => number | undefined): Schema<number> {
  return {
    expected,
    parse(value, path = '') {
      const parsed = typeof value === 'string' ? parse(value) : undefined;
      if (parsed === undefined) throw new ValidationError(path, `${expected}, got ${JSON.stringify(value)}`);
      return parsed;
    },
  };
}

const anyText = string();
const wholeNumber = textOf('a whole number', (text) => (/^[0-9]+$/.test(text) ? Number(text) : undefined));
const decimal = textOf('a number', (text) => (/^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : undefined));
const duration = textOf(DURATION_EXPECTED, parseDurationMs);
const size = textOf(SIZE_EXPECTED, parseSizeBytes);

/** Every flag, in the order --help lists them. */
const FLAGS: Readonly<Record<string, FlagSpec>> = {
  host: { key: 'host', value: 'ADDR', description: `address to bind (default ${ENDPOINT_DEFAULTS.host})`, text: anyText },
  port: { key: 'port', value: 'N', description: `TCP port, 0 for any free one (default ${ENDPOINT_DEFAULTS.port})`, text: wholeNumber },
  'max-mbps': { key: 'maxMbps', value: 'MBPS', description: 'cap payload rate per direction for the whole server, in Mbps (default: unpaced)', text: decimal },
  'tls-cert': { value: 'FILE', description: 'PEM certificate: serve https (needs --tls-key)', text: anyText },
  'tls-key': { value: 'FILE', description: 'PEM private key (needs --tls-cert)', text: anyText },
  'max-chunk-mib': { key: 'maxChunkMiB', value: 'N', description: `largest ckSize served, larger is clamped (default ${ENDPOINT_DEFAULTS.maxChunkMiB})`, text: wholeNumber },
  'max-body': { key: 'maxBodyBytes', value: 'SIZE', description: 'largest upload body, e.g. 256MiB, 100MB (default 256MiB)', text: size },
  'max-connections': { key: 'maxConnections', value: 'N', description: `concurrent sockets; more are closed on arrival (default ${ENDPOINT_DEFAULTS.maxConnections})`, text: wholeNumber },
  'header-timeout': { key: 'headersTimeoutMs', value: 'DURATION', description: 'time to send complete request headers (default 10s)', text: duration },
  'idle-timeout': { key: 'idleTimeoutMs', value: 'DURATION', description: 'socket inactivity during a request (default 30s)', text: duration },
  'keep-alive-timeout': { key: 'keepAliveTimeoutMs', value: 'DURATION', description: 'idle keep-alive connection lifetime (default 15s)', text: duration },
  'request-timeout': { key: 'requestTimeoutMs', value: 'DURATION', description: 'time to send a whole request, body included (default 2m)', text: duration },
  'udp-port': { key: 'udpPort', value: 'N', description: 'UDP port of the STAMP reflector, 0 for none (default: the HTTP port\'s number)', text: wholeNumber },
  'udp-source-rate': { key: 'udpSourceRatePps', value: 'PPS', description: `UDP packets a second one source address may send (default ${ENDPOINT_DEFAULTS.udpSourceRatePps})`, text: wholeNumber },
  'udp-rate': { key: 'udpRatePps', value: 'PPS', description: `UDP packets a second the reflector answers in all (default ${ENDPOINT_DEFAULTS.udpRatePps})`, text: wholeNumber },
  'log-level': { value: 'LEVEL', description: `${Object.keys(LOG_LEVELS).join(', ')} (default info)`, text: oneOf(Object.keys(LOG_LEVELS) as LogLevel[]) },
};

/** The flags' text, checked by form; the TLS files go together. Problems are named by flag. */
const flagSchema = refine(
  object(Object.fromEntries(Object.entries(FLAGS).map(([flag, spec]): [string, OptionalSchema<unknown>] => [flag, optional(spec.text)]))),
  ['tls-cert', 'tls-key'],
  (flags, report) => {
    if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) {
      report(flags['tls-cert'] === undefined ? 'tls-cert' : 'tls-key', 'both TLS flags', 'give --tls-cert and --tls-key together for https, or neither');
    }
  },
);

const USAGE = [
  `Usage: ${NAME} [options]`,
  '',
  'Serves the LibreSpeed backend protocol (garbage, empty, getIP) for speed tests, and',
  'answers STAMP (RFC 8762) UDP test packets for the agent\'s UDP probe.',
  'Prints {"event":"listening","url":"...","udpPort":N} on stdout once listening; logs JSON lines on stderr.',
  '',
  'Options:',
  ...Object.entries(FLAGS).map(([flag, spec]) => `  --${`${flag} ${spec.value}`.padEnd(28)} ${spec.description}`),
  `  --${'help'.padEnd(28)} show this help`,
  '',
].join('\n');

interface Command {
  help: boolean;
  options: Partial<EndpointOptions>;
  logLevel: LogLevel;
}

/**
 * argv → options, with every problem collected into one UsageError naming the flags: those of
 * the flags' text and, for the flags that had the right form, those of the options they set.
 */
function parseCommand(argv: string[]): Command {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { help, ...flagValues } = values;
  if (help === true) return { help: true, options: {}, logLevel: 'info' };

  const { partial, problems: flagProblems } = parseAll(flagSchema, flagValues);
  const flags = partial ?? {};
  const problems: Problem[] = flagProblems.map((p) => problemAt(`--${p.path}`, detail(p)));
  const options: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(FLAGS)) {
    if (spec.key !== undefined && flags[flag] !== undefined) options[spec.key] = flags[flag];
  }
  const certFile = flags['tls-cert'];
  const keyFile = flags['tls-key'];
  if (typeof certFile === 'string' && typeof keyFile === 'string') {
    const cert = readFlagFile('tls-cert', certFile, problems);
    const key = readFlagFile('tls-key', keyFile, problems);
    if (cert !== undefined && key !== undefined) options['tls'] = { cert, key };
  }
  try {
    resolveEndpointOptions(options);
  } catch (err) {
    if (!(err instanceof EndpointOptionsError)) throw err;
    problems.push(...asFlagProblems(err.problems));
  }
  if (problems.length > 0) throw new UsageError(problems.map((p) => p.message).join('; '));
  return { help: false, options: options, logLevel: (flags['log-level'] as LogLevel | undefined) ?? 'info' };
}

function readFlagFile(flag: string, file: string, problems: Problem[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    problems.push(problemAt(`--${flag}`, `cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`));
    return undefined;
  }
}

/** Option problems, reworded with the flags that set them (`maxMbps` → `--max-mbps`, `tls.cert` → `--tls-cert`). */
function asFlagProblems(problems: readonly Problem[]): Problem[] {
  return problems.map((p) => {
    const [root, part] = p.path.split('.');
    const entry = root === 'tls' ? [`tls-${part ?? ''}`] : Object.entries(FLAGS).find(([, spec]) => spec.key === root);
    return entry === undefined ? p : problemAt(`--${entry[0]}`, detail(p));
  });
}

/** A problem's message after its path (which a message starts with when there is one). */
function detail(problem: Problem): string {
  return problem.path === '' ? problem.message : problem.message.slice(problem.path.length + 2);
}

async function main(argv: string[]): Promise<void> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(err);
    throw err;
  }
  if (command.help) {
    process.stdout.write(USAGE);
    return;
  }

  const logger = createLogger({ level: command.logLevel, bindings: { name: NAME } });
  let endpoint: RunningEndpoint;
  try {
    endpoint = await startEndpoint({ ...command.options, logger });
  } catch (err) {
    if (err instanceof EndpointOptionsError) return usageFailure(new UsageError(asFlagProblems(err.problems).map((p) => p.message).join('; ')));
    logger.error({ err }, 'cannot start the endpoint');
    // A port taken or an address gone may come back (systemd restarts on 2); a bad TLS file will not.
    process.exitCode = err instanceof EndpointListenError ? 2 : 1;
    return;
  }
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ event: 'signal', signal }, 'stopping');
    endpoint.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Only now: whoever reads this line may signal at once, and the handlers must be in place
  // (before them, SIGINT/SIGTERM would kill the process with no clean close).
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: endpoint.url, udpPort: endpoint.udpPort ?? null })}\n`);
}

function usageFailure(err: UsageError): void {
  process.stderr.write(`${NAME}: ${err.message}\n\n${USAGE}`);
  process.exitCode = 1;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${NAME}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
