/**
 * The endpoint's options: one defaults object, one validator that checks every key and limit,
 * collects every problem into one EndpointOptionsError, and freezes the result.
 */
import { createLogger } from '@speedwatch/shared';
import type { Logger } from '@speedwatch/shared';
import { EndpointOptionsError } from './endpoint-error.js';
import type { OptionProblem } from './endpoint-error.js';

export interface EndpointTlsOptions {
  /** PEM certificate chain. */
  cert: string | Buffer;
  /** PEM private key of `cert`. */
  key: string | Buffer;
}

export interface EndpointOptions {
  /** Address to bind. Default `127.0.0.1`. */
  host: string;
  /** TCP port; 0 picks a free one (read it back from `RunningEndpoint.port`). Default 8601. */
  port: number;
  /**
   * Payload rate cap in Mbps (10^6 bit/s of HTTP body), per direction, for the whole server:
   * all downloads share one budget and all uploads another. Absent: unpaced.
   */
  maxMbps?: number;
  /** Serve https with this certificate and key. Absent: plain http. */
  tls?: EndpointTlsOptions;
  /** Largest `ckSize` served, in MiB; larger requests are clamped, as LibreSpeed does. Default 1024. */
  maxChunkMiB: number;
  /** Largest upload body in bytes; larger ones get 413 and the connection is closed. Default 256 MiB. */
  maxBodyBytes: number;
  /** Concurrent sockets; further ones are closed on arrival. Default 512. */
  maxConnections: number;
  /** Milliseconds a client has to send complete request headers (else 408 and close). Default 10 s. */
  headersTimeoutMs: number;
  /** Milliseconds of socket inactivity, mid-request, after which the socket is destroyed. Default 30 s. */
  idleTimeoutMs: number;
  /** Milliseconds an idle keep-alive connection is kept between requests. Default 15 s. */
  keepAliveTimeoutMs: number;
  /** Milliseconds a client has to send a whole request, headers and body (else 408 and close). Default 120 s. */
  requestTimeoutMs: number;
  /** Where logs go. Default: nowhere (the CLI passes a JSON-lines logger on stderr). */
  logger?: Logger;
}

/** Options after validation: every default filled in, logger included, frozen. */
export type ResolvedEndpointOptions = Readonly<Omit<EndpointOptions, 'logger'> & { logger: Logger }>;

/** The defaults, in base units. */
export const ENDPOINT_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 8601,
  maxChunkMiB: 1024,
  maxBodyBytes: 256 * 1024 * 1024,
  maxConnections: 512,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 15_000,
  requestTimeoutMs: 120_000,
} satisfies Omit<EndpointOptions, 'maxMbps' | 'tls' | 'logger'>);

/** The longest delay a Node timer can take. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** 100 Gbit/s: far above what one Node process can pace, so a larger figure is a typo. */
const MAX_MBPS = 100_000;
/** 1 TiB: ckSize beyond this is a typo, not a test. */
const MAX_CHUNK_MIB = 1024 * 1024;

interface IntegerRule {
  readonly min: number;
  readonly max: number;
}

const INTEGER_RULES = {
  port: { min: 0, max: 65_535 },
  maxChunkMiB: { min: 1, max: MAX_CHUNK_MIB },
  maxBodyBytes: { min: 1, max: Number.MAX_SAFE_INTEGER },
  maxConnections: { min: 1, max: 1_000_000 },
  headersTimeoutMs: { min: 1, max: MAX_TIMER_MS },
  idleTimeoutMs: { min: 1, max: MAX_TIMER_MS },
  keepAliveTimeoutMs: { min: 1, max: MAX_TIMER_MS },
  requestTimeoutMs: { min: 1, max: MAX_TIMER_MS },
} as const satisfies Record<string, IntegerRule>;

type IntegerKey = keyof typeof INTEGER_RULES;

const KNOWN_KEYS: ReadonlySet<string> = new Set([...Object.keys(INTEGER_RULES), 'host', 'maxMbps', 'tls', 'logger']);

/** Checks `input` (any caller's object) and returns the complete, frozen options. */
export function resolveEndpointOptions(input: unknown): ResolvedEndpointOptions {
  const problems: OptionProblem[] = [];
  const problem = (option: string, expected: string, value: unknown): void => {
    problems.push({ option, expected, got: describe(value) });
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new EndpointOptionsError([{ option: '(options)', expected: 'an object', got: describe(input) }]);
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) problem(key, `no such option (known: ${[...KNOWN_KEYS].join(', ')})`, raw[key]);
  }

  const integers = {} as Record<IntegerKey, number>;
  for (const key of Object.keys(INTEGER_RULES) as IntegerKey[]) {
    const rule: IntegerRule = INTEGER_RULES[key];
    // Only `undefined` means "use the default": null or 0 are values, checked like any other.
    const value = raw[key] === undefined ? ENDPOINT_DEFAULTS[key] : raw[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < rule.min || value > rule.max) {
      problem(key, `an integer from ${rule.min} to ${rule.max}`, value);
    }
    integers[key] = value as number;
  }
  if (integers.headersTimeoutMs > integers.requestTimeoutMs) {
    problem('headersTimeoutMs', `no more than the request timeout (${integers.requestTimeoutMs} ms)`, integers.headersTimeoutMs);
  }

  const host = raw['host'] === undefined ? ENDPOINT_DEFAULTS.host : raw['host'];
  if (typeof host !== 'string' || host === '') problem('host', 'a host name or IP address', host);

  const maxMbps = raw['maxMbps'];
  if (maxMbps !== undefined && (typeof maxMbps !== 'number' || !Number.isFinite(maxMbps) || maxMbps <= 0 || maxMbps > MAX_MBPS)) {
    problem('maxMbps', `a number of Mbps above 0 and at most ${MAX_MBPS}`, maxMbps);
  }

  const tls = raw['tls'];
  if (tls !== undefined) {
    if (typeof tls !== 'object' || tls === null) {
      problem('tls', 'an object with cert and key', tls);
    } else {
      const pair = tls as Record<string, unknown>;
      for (const part of ['cert', 'key'] as const) {
        const value = pair[part];
        const ok = (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0;
        if (!ok) problem(`tls.${part}`, 'a non-empty PEM string or Buffer', value);
      }
    }
  }

  const logger = raw['logger'];
  if (logger !== undefined && !isLogger(logger)) problem('logger', 'a logger with debug, info, warn, error and child', logger);

  if (problems.length > 0) throw new EndpointOptionsError(problems);
  return Object.freeze({
    ...integers,
    host: host as string,
    ...(maxMbps === undefined ? {} : { maxMbps: maxMbps as number }),
    ...(tls === undefined ? {} : { tls: Object.freeze({ ...(tls as EndpointTlsOptions) }) }),
    logger: (logger as Logger | undefined) ?? createLogger({ level: 'silent' }),
  });
}

function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error', 'child'].every((name) => typeof candidate[name] === 'function');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}
