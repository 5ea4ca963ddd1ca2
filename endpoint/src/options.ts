/**
 * The endpoint's options: one defaults object, one schema that checks every key and limit,
 * every problem collected into one EndpointOptionsError, and the result frozen.
 */
import { createLogger, custom, isLogger, number, object, optional, parseAll, refine, string } from '@speedwatch/shared';
import type { Logger, Schema } from '@speedwatch/shared';
import { EndpointOptionsError } from './endpoint-error.js';

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
  /**
   * UDP port of the STAMP reflector (docs/endpoint.md, "UDP reflector"). Absent: the same number
   * as the HTTP port (the one bound, with `port: 0`). 0: no reflector (unlike `port`, 0 does not
   * pick a free port).
   */
  udpPort?: number;
  /** Packets a second one source address may send to the reflector, on average. Default 1000. */
  udpSourceRatePps: number;
  /** Packets a second the reflector answers in all. Default 10 000. */
  udpRatePps: number;
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
  udpSourceRatePps: 1000,
  udpRatePps: 10_000,
} satisfies Omit<EndpointOptions, 'maxMbps' | 'tls' | 'logger' | 'udpPort'>);

/** The longest delay a Node timer can take. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** 100 Gbit/s: far above what one Node process can pace, so a larger figure is a typo. */
const MAX_MBPS = 100_000;
/** 1 TiB: ckSize beyond this is a typo, not a test. */
const MAX_CHUNK_MIB = 1024 * 1024;

const integer = (min: number, max: number): Schema<number> => number({ integer: true, min, max });
const timeoutMs = optional(integer(1, MAX_TIMER_MS));
const pem = custom('a non-empty PEM string or Buffer', (value): value is string | Buffer => (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0);

/** Only an absent (`undefined`) option takes its default: `null` or `0` are values, checked like any other. */
const optionsSchema = refine(
  object({
    host: optional(string({ minLength: 1, maxLength: 255 })),
    port: optional(integer(0, 65_535)),
    maxMbps: optional(number({ greaterThan: 0, max: MAX_MBPS })),
    tls: optional(object({ cert: pem, key: pem })),
    maxChunkMiB: optional(integer(1, MAX_CHUNK_MIB)),
    maxBodyBytes: optional(integer(1, Number.MAX_SAFE_INTEGER)),
    maxConnections: optional(integer(1, 1_000_000)),
    headersTimeoutMs: timeoutMs,
    idleTimeoutMs: timeoutMs,
    keepAliveTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    udpPort: optional(integer(0, 65_535)),
    udpSourceRatePps: optional(integer(1, 1_000_000)),
    udpRatePps: optional(integer(1, 1_000_000)),
    logger: optional(custom('a logger with debug, info, warn, error and child', isLogger)),
  }),
  ['headersTimeoutMs', 'requestTimeoutMs'],
  (options, report) => {
    const headersMs = options.headersTimeoutMs ?? ENDPOINT_DEFAULTS.headersTimeoutMs;
    const requestMs = options.requestTimeoutMs ?? ENDPOINT_DEFAULTS.requestTimeoutMs;
    if (headersMs > requestMs) report('headersTimeoutMs', `no more than the request timeout (${requestMs} ms)`, `expected no more than the request timeout (${requestMs} ms), got ${headersMs}`);
  },
);

/** Checks `input` (any caller's object) and returns the complete, frozen options. Throws EndpointOptionsError listing every problem. */
export function resolveEndpointOptions(input: unknown): ResolvedEndpointOptions {
  const { value, problems } = parseAll(optionsSchema, input);
  if (value === undefined) throw new EndpointOptionsError(problems);
  const d = ENDPOINT_DEFAULTS;
  return Object.freeze({
    host: value.host ?? d.host,
    port: value.port ?? d.port,
    maxChunkMiB: value.maxChunkMiB ?? d.maxChunkMiB,
    maxBodyBytes: value.maxBodyBytes ?? d.maxBodyBytes,
    maxConnections: value.maxConnections ?? d.maxConnections,
    headersTimeoutMs: value.headersTimeoutMs ?? d.headersTimeoutMs,
    idleTimeoutMs: value.idleTimeoutMs ?? d.idleTimeoutMs,
    keepAliveTimeoutMs: value.keepAliveTimeoutMs ?? d.keepAliveTimeoutMs,
    requestTimeoutMs: value.requestTimeoutMs ?? d.requestTimeoutMs,
    udpSourceRatePps: value.udpSourceRatePps ?? d.udpSourceRatePps,
    udpRatePps: value.udpRatePps ?? d.udpRatePps,
    ...(value.udpPort === undefined ? {} : { udpPort: value.udpPort }),
    ...(value.maxMbps === undefined ? {} : { maxMbps: value.maxMbps }),
    ...(value.tls === undefined ? {} : { tls: Object.freeze({ ...value.tls }) }),
    logger: value.logger ?? createLogger({ level: 'silent' }),
  });
}
