#!/usr/bin/env node
/**
 * speedwatch-endpoint: runs the LibreSpeed-compatible speed-test endpoint. Owns everything
 * process-level: argv, reading TLS files, the logger on stderr, the one `listening` line on
 * stdout, signals and exit codes.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DURATION_EXPECTED, SIZE_EXPECTED, UsageError, createLogger, isLogLevel, LOG_LEVELS, parseDurationMs, parseSizeBytes } from '@speedwatch/shared';
import type { LogLevel } from '@speedwatch/shared';
import { EndpointOptionsError } from '../endpoint/endpoint-error.js';
import { ENDPOINT_DEFAULTS } from '../endpoint/options.js';
import type { EndpointOptions } from '../endpoint/options.js';
import { startEndpoint } from '../endpoint/server.js';
import type { RunningEndpoint } from '../endpoint/server.js';

const NAME = 'speedwatch-endpoint';

type Parser = (text: string) => number | undefined;

interface FlagSpec {
  /** The EndpointOptions key the flag sets; absent for flags the CLI handles itself. */
  key?: keyof EndpointOptions;
  value: string;
  description: string;
  parse?: Parser;
  expected?: string;
}

const integer =
  (min: number): Parser =>
  (text) =>
    /^[0-9]+$/.test(text) && Number(text) >= min ? Number(text) : undefined;
const positiveNumber: Parser = (text) => (/^[0-9]+(\.[0-9]+)?$/.test(text) && Number(text) > 0 ? Number(text) : undefined);

/** Every flag, in the order --help lists them. */
const FLAGS: Readonly<Record<string, FlagSpec>> = {
  host: { key: 'host', value: 'ADDR', description: `address to bind (default ${ENDPOINT_DEFAULTS.host})` },
  port: { key: 'port', value: 'N', description: `TCP port, 0 for any free one (default ${ENDPOINT_DEFAULTS.port})`, parse: integer(0), expected: 'an integer from 0 to 65535' },
  'max-mbps': { key: 'maxMbps', value: 'MBPS', description: 'cap payload rate per direction for the whole server, in Mbps (default: unpaced)', parse: positiveNumber, expected: 'a number of Mbps above 0' },
  'tls-cert': { value: 'FILE', description: 'PEM certificate: serve https (needs --tls-key)' },
  'tls-key': { value: 'FILE', description: 'PEM private key (needs --tls-cert)' },
  'max-chunk-mib': { key: 'maxChunkMiB', value: 'N', description: `largest ckSize served, larger is clamped (default ${ENDPOINT_DEFAULTS.maxChunkMiB})`, parse: integer(1), expected: 'a whole number of MiB, at least 1' },
  'max-body': { key: 'maxBodyBytes', value: 'SIZE', description: 'largest upload body, e.g. 256MiB, 100MB (default 256MiB)', parse: parseSizeBytes, expected: SIZE_EXPECTED },
  'max-connections': { key: 'maxConnections', value: 'N', description: `concurrent sockets; more are closed on arrival (default ${ENDPOINT_DEFAULTS.maxConnections})`, parse: integer(1), expected: 'an integer, at least 1' },
  'header-timeout': { key: 'headersTimeoutMs', value: 'DURATION', description: 'time to send complete request headers (default 10s)', parse: parseDurationMs, expected: DURATION_EXPECTED },
  'idle-timeout': { key: 'idleTimeoutMs', value: 'DURATION', description: 'socket inactivity during a request (default 30s)', parse: parseDurationMs, expected: DURATION_EXPECTED },
  'keep-alive-timeout': { key: 'keepAliveTimeoutMs', value: 'DURATION', description: 'idle keep-alive connection lifetime (default 15s)', parse: parseDurationMs, expected: DURATION_EXPECTED },
  'request-timeout': { key: 'requestTimeoutMs', value: 'DURATION', description: 'time to send a whole request, body included (default 2m)', parse: parseDurationMs, expected: DURATION_EXPECTED },
  'log-level': { value: 'LEVEL', description: `${Object.keys(LOG_LEVELS).join(', ')} (default info)` },
};

const USAGE = [
  `Usage: ${NAME} [options]`,
  '',
  'Serves the LibreSpeed backend protocol (garbage, empty, getIP) for speed tests.',
  'Prints {"event":"listening","url":"..."} on stdout once listening; logs JSON lines on stderr.',
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

/** argv → options, with every problem collected into one UsageError naming the flags. */
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
  if (values['help'] === true) return { help: true, options: {}, logLevel: 'info' };

  const problems: string[] = [];
  const options: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const text = values[flag];
    if (typeof text !== 'string' || spec.key === undefined) continue;
    if (spec.parse === undefined) {
      options[spec.key] = text;
      continue;
    }
    const value = spec.parse(text);
    if (value === undefined) problems.push(`--${flag}: expected ${spec.expected ?? 'a valid value'}, got ${JSON.stringify(text)}`);
    else options[spec.key] = value;
  }

  const logLevel = values['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) problems.push(`--log-level: expected one of ${Object.keys(LOG_LEVELS).join(', ')}, got ${JSON.stringify(logLevel)}`);

  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push('--tls-cert and --tls-key go together: give both for https, or neither');
  } else if (typeof certFile === 'string' && typeof keyFile === 'string') {
    const cert = readFlagFile('tls-cert', certFile, problems);
    const key = readFlagFile('tls-key', keyFile, problems);
    if (cert !== undefined && key !== undefined) options['tls'] = { cert, key };
  }

  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return { help: false, options: options as Partial<EndpointOptions>, logLevel: logLevel as LogLevel };
}

function readFlagFile(flag: string, file: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    problems.push(`--${flag}: cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return undefined;
  }
}

/** Option problems found by startEndpoint, reworded with the flags that set them. */
function toUsageError(err: EndpointOptionsError): UsageError {
  const flagOf = (option: string): string => {
    const root = option.split('.')[0];
    if (root === 'tls') return '--tls-cert/--tls-key';
    const entry = Object.entries(FLAGS).find(([, spec]) => spec.key === root);
    return entry === undefined ? option : `--${entry[0]}`;
  };
  return new UsageError(err.problems.map((p) => `${flagOf(p.option)}: expected ${p.expected}, got ${p.got}`).join('; '));
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
    if (err instanceof EndpointOptionsError) return usageFailure(toUsageError(err));
    logger.error({ err }, 'cannot start the endpoint');
    process.exitCode = 1;
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
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: endpoint.url })}\n`);
}

function usageFailure(err: UsageError): void {
  process.stderr.write(`${NAME}: ${err.message}\n\n${USAGE}`);
  process.exitCode = 1;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${NAME}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
