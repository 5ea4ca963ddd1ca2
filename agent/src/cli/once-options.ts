/**
 * `speedwatch-agent once` flags: the options table, and its translation into SpeedTestOptions
 * with every bad value named. Knows argv's shape, not the process.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Technology } from '@speedwatch/shared';
import { MIN_THROUGHPUT_WINDOW_MS, parseDurationMs, parseSizeBytes, TECHNOLOGIES, UsageError, ValidationError } from '@speedwatch/shared';
import type { Endpoint } from '../measure/endpoints.js';
import { endpointFromBaseUrl, endpointsFromServerList } from '../measure/endpoints.js';
import type { SpeedTestOptions, TestName } from '../measure/speed-test-options.js';
import { DEFAULT_SPEED_TEST_OPTIONS, TEST_NAMES } from '../measure/speed-test-options.js';
import { BUSY_LINE_DEFAULTS } from '../traffic/busy-line.js';

export const ONCE_USAGE = `Usage: speedwatch-agent once (--endpoint URL | --server-file FILE) [options]

Runs one speed test (latency, download, upload) and prints the result.

Where:
  --endpoint URL        base URL of an i-Speed/LibreSpeed-style endpoint (garbage.php, empty.php, getIP.php);
                        repeat it to give several candidates (the lowest ping is used)
  --server-file FILE    LibreSpeed server list JSON: [{"name","server","dlURL","ulURL","pingURL","getIpURL"}];
                        with several servers the one with the lowest ping is used
  --server NAME         use this server from the list instead of the lowest-ping one
  --ca FILE             extra CA certificate (PEM) to trust for https endpoints

What:
  --tests LIST          comma-separated: latency,download,upload (default: all three)
  --duration S          seconds per throughput phase, warm-up included (default 10)
  --warmup S|auto       seconds excluded from the rate at the start of each phase; auto (default):
                        until the rate has settled, at least 1 s and at most half the phase
  --streams N           concurrent connections for download and upload at the start, 1-32 (default 4)
  --max-streams N       most connections: streams are added during warm-up while the rate grows,
                        1-64 (default: --streams, a fixed count)
  --latency-count N     latency probes, 1-1000 (default 20)
  --technology T        fixed | mobile: which target the verdict uses (default fixed)
  --udp                 also measure UDP quality (round trip, jitter, loss each way) against the
                        endpoint's STAMP reflector: 250 packets of 172 bytes over 5 s (speedwatch-endpoint only)
  --udp-port N          the reflector's UDP port (default: the endpoint URL's port)
  --cross-traffic       count the traffic through the network interface that is not the test's
                        own (Linux /proc/net/dev) and flag the test above the threshold
  --cross-traffic-interface NAME
                        the interface to count (default: the one the route to the endpoint leaves by)
  --cross-traffic-threshold N
                        bytes a second, both directions together, that make a busy line (default 25000)
  --max-bytes SIZE      the test's data cap (e.g. 20MB): throughput phases end when its own traffic
                        reaches it, and one not started by then is left out (SW_BUDGET_CAPPED)

Output:
  --json                print exactly one JSON object (the result) on stdout, no progress
  -h, --help            show this help

Exit status: 0 ok, 1 bad usage, 2 partial result, 3 failed.`;

const FLAGS = {
  endpoint: { type: 'string', multiple: true },
  'server-file': { type: 'string' },
  server: { type: 'string' },
  ca: { type: 'string' },
  tests: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  streams: { type: 'string' },
  'max-streams': { type: 'string' },
  'latency-count': { type: 'string' },
  technology: { type: 'string' },
  udp: { type: 'boolean' },
  'udp-port': { type: 'string' },
  'cross-traffic': { type: 'boolean' },
  'cross-traffic-interface': { type: 'string' },
  'cross-traffic-threshold': { type: 'string' },
  'max-bytes': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface OnceCommand {
  help: boolean;
  json: boolean;
  technology: Technology;
  test: Omit<SpeedTestOptions, 'agentVersion' | 'signal' | 'onEvent'>;
}

export function parseOnceArgs(argv: readonly string[]): OnceCommand {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) {
    return { help: true, json: false, technology: 'fixed', test: { ...DEFAULT_SPEED_TEST_OPTIONS, endpoints: [] } };
  }
  const endpoints = readEndpoints(values.endpoint, values['server-file']);
  const technology = oneOfFlag('--technology', values.technology, TECHNOLOGIES) ?? 'fixed';
  const tests = parseTests(values.tests);
  const durationMs = secondsFlag('--duration', values.duration, 1, 3600) ?? DEFAULT_SPEED_TEST_OPTIONS.durationMs;
  // Without --warmup, or with `auto`: until the rate settles (ramp.ts), which leaves at least 1 s to measure.
  const warmupMs = values.warmup === undefined || values.warmup === 'auto' ? 'auto' : warmupFlag(values.warmup);
  if (warmupMs !== 'auto' && durationMs - warmupMs < MIN_THROUGHPUT_WINDOW_MS) {
    throw new UsageError(
      values.warmup === undefined
        ? `--duration ${values.duration ?? ''} leaves less than ${MIN_THROUGHPUT_WINDOW_MS / 1000} s to measure; give at least 1 s`
        : `--warmup ${values.warmup} must leave at least ${MIN_THROUGHPUT_WINDOW_MS / 1000} s of --duration (${durationMs / 1000} s) to measure`,
    );
  }
  const streams = integerFlag('--streams', values.streams, 1, 32) ?? DEFAULT_SPEED_TEST_OPTIONS.streams;
  const ca = values.ca === undefined ? undefined : readText('--ca', values.ca);
  const udpPort = integerFlag('--udp-port', values['udp-port'], 1, 65_535);
  if (udpPort !== undefined && values.udp !== true) throw new UsageError('--udp-port needs --udp');
  const crossInterface = values['cross-traffic-interface'];
  const crossThreshold = integerFlag('--cross-traffic-threshold', values['cross-traffic-threshold'], 0, 1e12);
  if ((crossInterface !== undefined || crossThreshold !== undefined) && values['cross-traffic'] !== true) throw new UsageError('--cross-traffic-interface and --cross-traffic-threshold need --cross-traffic');
  if (crossInterface !== undefined && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(crossInterface)) throw new UsageError(`--cross-traffic-interface must be an interface name like eth0, got ${JSON.stringify(crossInterface)}`);
  const maxBytesText = values['max-bytes'];
  const maxBytes = maxBytesText === undefined ? undefined : parseSizeBytes(maxBytesText);
  if (maxBytesText !== undefined && (maxBytes === undefined || maxBytes < 1)) throw new UsageError(`--max-bytes must be a size in bytes (e.g. 20MB), got ${JSON.stringify(maxBytesText)}`);
  const crossTraffic =
    values['cross-traffic'] === true
      ? { thresholdBytesPerSec: crossThreshold ?? BUSY_LINE_DEFAULTS.thresholdBytesPerSec, ...(crossInterface === undefined ? {} : { interface: crossInterface }) }
      : undefined;
  return {
    help: false,
    json: values.json === true,
    technology,
    test: {
      ...DEFAULT_SPEED_TEST_OPTIONS,
      endpoints,
      tests,
      technology,
      durationMs,
      warmupMs,
      streams,
      maxStreams: Math.max(streams, integerFlag('--max-streams', values['max-streams'], 1, 64) ?? streams),
      latencyCount: integerFlag('--latency-count', values['latency-count'], 1, 1000) ?? DEFAULT_SPEED_TEST_OPTIONS.latencyCount,
      udp: values.udp === true,
      ...(udpPort === undefined ? {} : { udpPort }),
      ...(crossTraffic === undefined ? {} : { crossTraffic }),
      ...(maxBytes === undefined ? {} : { maxBytes }),
      ...(values.server === undefined ? {} : { server: values.server }),
      ...(ca === undefined ? {} : { ca }),
    },
  };
}

function readEndpoints(endpoints: string[] | undefined, serverFile: string | undefined): Endpoint[] {
  if ((endpoints === undefined) === (serverFile === undefined)) {
    throw new UsageError('give exactly one of --endpoint URL (repeatable) or --server-file FILE');
  }
  try {
    if (endpoints !== undefined) {
      // Several --endpoint flags are candidates, like a server list: the lowest ping is used.
      const list = endpoints.map((url) => endpointFromBaseUrl(url, endpoints.length > 1 ? url : undefined, '--endpoint'));
      return list;
    }
    const text = readText('--server-file', serverFile as string);
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--server-file ${serverFile}: not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    return endpointsFromServerList(list, `--server-file ${serverFile}: servers`);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(err.message);
    throw err;
  }
}

function readText(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot read (${(err as { code?: string }).code ?? String(err)})`);
  }
}

function parseTests(value: string | undefined): TestName[] {
  if (value === undefined) return [...TEST_NAMES];
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError(`--tests must list at least one of ${TEST_NAMES.join(', ')}`);
  for (const name of names) {
    if (!(TEST_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`--tests: unknown test ${JSON.stringify(name)} (expected ${TEST_NAMES.join(', ')})`);
    }
  }
  // Run in the canonical order whatever order was given.
  return TEST_NAMES.filter((t) => names.includes(t));
}

function oneOfFlag<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function integerFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function warmupFlag(value: string): number {
  try {
    return secondsFlag('--warmup', value, 0, 3600) as number;
  } catch {
    throw new UsageError(`--warmup must be auto or a duration from 0 to 3600 seconds (e.g. 2 or 1500ms), got ${JSON.stringify(value)}`);
  }
}

function secondsFlag(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDurationMs(value, 's');
  if (ms === undefined || ms < min * 1000 || ms > max * 1000) {
    throw new UsageError(`${flag} must be a duration from ${min} to ${max} seconds (e.g. 10 or 10s), got ${JSON.stringify(value)}`);
  }
  return ms;
}
