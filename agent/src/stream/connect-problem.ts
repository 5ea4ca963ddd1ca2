/**
 * Why a connection to the collector ended before the collector's welcome, as a stable `cause`
 * for the log line and words an operator can act on. The collector client logs a problem at
 * warn when it appears or changes (`problemKey`), and each further retry at debug.
 */
import { AGENTS_PATH, PROTOCOL_VERSION } from '@speedwatch/shared';
import { toMeasureError } from '../measure/measure-error.js';

/** Logged as `cause`; stable across releases (docs/protocol.md lists them). */
export type ConnectCause =
  /** Nothing listens at the URL's host and port (ECONNREFUSED). */
  | 'refused'
  /** The host name does not resolve. */
  | 'dns'
  /** The TLS handshake failed: untrusted, expired or misnamed certificate, or not TLS at all. */
  | 'tls'
  /** No upgrade answer within the connect timeout. */
  | 'timeout'
  /** No route to the host. */
  | 'unreachable'
  /** The connection was reset during the handshake. */
  | 'reset'
  /** HTTP 404 to the upgrade: the URL's path is not the collector's agent path. */
  | 'not-found'
  /** Another HTTP status to the upgrade (401 is fatal and not a ConnectCause). */
  | 'http-status'
  /** Upgraded, but no welcome within the connect timeout. */
  | 'no-welcome'
  /** The collector does not speak this agent's protocol version (closed with 4002). */
  | 'unsupported-protocol'
  /** The collector closed the connection before its welcome, with another code. */
  | 'closed'
  /** The client closed the connection after too many frames it could not read. */
  | 'bad-frames'
  /** Anything else; `errCode` has the system's or the WebSocket library's code. */
  | 'network';

export interface ConnectProblem {
  readonly cause: ConnectCause;
  /** HTTP status, for `not-found` and `http-status`. */
  readonly status?: number;
  /** WebSocket close code, for `closed`. */
  readonly closeCode?: number;
  /** The error's code (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`), when there was one. */
  readonly errCode?: string;
  /** Frames refused, for `bad-frames`. */
  readonly badFrames?: number;
}

const FROM_MEASURE_CODE: Readonly<Record<string, ConnectCause>> = {
  SW_DNS: 'dns',
  SW_CONNECT_REFUSED: 'refused',
  SW_CONNECT_TIMEOUT: 'timeout',
  SW_UNREACHABLE: 'unreachable',
  SW_TLS: 'tls',
  SW_RESET: 'reset',
};

/** Classifies an error of the WebSocket's handshake, the same way a measurement's errors are. */
export function problemFromError(err: Error): ConnectProblem {
  const code = (err as { code?: unknown }).code;
  const errCode = typeof code === 'string' ? code : undefined;
  const cause = FROM_MEASURE_CODE[toMeasureError(err, 'collector').code] ?? 'network';
  return errCode === undefined ? { cause } : { cause, errCode };
}

/**
 * Two problems with the same key are the same problem: a retry that meets it again is not news.
 * The status, close code and TLS or other error code are part of it (a 503 that becomes a 502,
 * an untrusted certificate that becomes an expired one, is news).
 */
export function problemKey(p: ConnectProblem): string {
  const detail = p.status ?? p.closeCode ?? (p.cause === 'tls' || p.cause === 'network' ? p.errCode : undefined);
  return detail === undefined ? p.cause : `${p.cause}:${detail}`;
}

/** The URL as it may be logged: no user name, password, query or fragment (the token is never in it). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return '(an invalid URL)';
  }
}

/** What went wrong and what to do, for the log line's message. `connectTimeoutMs` as configured. */
export function describeProblem(p: ConnectProblem, url: string, connectTimeoutMs: number): { what: string; hint: string } {
  let host = '?';
  let port = '?';
  try {
    const u = new URL(url);
    host = u.hostname;
    port = u.port !== '' ? u.port : u.protocol === 'wss:' ? '443' : '80';
  } catch {
    // The config validated the URL; keep the question marks if it somehow is not one.
  }
  const code = p.errCode === undefined ? '' : ` (${p.errCode})`;
  switch (p.cause) {
    case 'refused':
      return { what: `connection refused by ${host}:${port}`, hint: 'nothing listens there: check that the collector runs and the port in collector.url' };
    case 'dns':
      return { what: `${host} does not resolve${code}`, hint: "check the host name in collector.url and this box's DNS (/etc/resolv.conf)" };
    case 'tls':
      return {
        what: `the TLS handshake failed${code}`,
        hint: "the collector's certificate is not trusted, has expired or names another host: for a private CA set collector.caFile; check the certificate's names and dates; a wss:// URL to a plain ws:// port fails this way too",
      };
    case 'timeout':
      return { what: `no answer to the WebSocket upgrade within ${connectTimeoutMs} ms`, hint: 'a firewall dropping packets, a proxy holding the request, or the host is down' };
    case 'unreachable':
      return { what: `no route to ${host}${code}`, hint: "check this box's network link and routes" };
    case 'reset':
      return { what: `the connection was cut during the handshake${code}`, hint: 'a proxy or firewall cutting it, or the collector restarting' };
    case 'not-found':
      return { what: 'HTTP 404 to the WebSocket upgrade', hint: `the collector takes agents at the path ${AGENTS_PATH}: set collector.url to wss://HOST:PORT${AGENTS_PATH}` };
    case 'http-status':
      return { what: `HTTP ${p.status ?? '?'} to the WebSocket upgrade`, hint: statusHint(p.status ?? 0) };
    case 'no-welcome':
      return { what: `connected, but no welcome within ${connectTimeoutMs} ms`, hint: 'check that collector.url is a speedwatch collector and not another WebSocket server' };
    case 'unsupported-protocol':
      return { what: `the collector does not speak protocol version ${PROTOCOL_VERSION} (closed with 4002)`, hint: 'upgrade the agent to match the collector' };
    case 'closed':
      return { what: `the collector closed the connection before its welcome (code ${p.closeCode ?? '?'})`, hint: "see the collector's log" };
    case 'bad-frames':
      return {
        what: `${p.badFrames ?? '?'} frames this agent cannot read, before any welcome`,
        hint: 'check that collector.url is a speedwatch collector, and that its protocol version matches the agent',
      };
    case 'network':
      return { what: `a network error${code}`, hint: "check this box's network link" };
  }
}

function statusHint(status: number): string {
  if (status === 429) return "too many failed token attempts from this address (the collector's limit); it passes with time";
  if (status >= 300 && status < 400) return 'a redirect, which the agent does not follow: put the final URL in collector.url';
  if (status === 502 || status === 503 || status === 504) return 'a proxy in front of the collector answers, but the collector behind it does not';
  return 'check that collector.url points at the collector and that any proxy in front of it passes WebSocket upgrades';
}
