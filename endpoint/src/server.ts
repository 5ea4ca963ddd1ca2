/**
 * The speed-test endpoint: a plain node:http(s) server speaking the LibreSpeed backend
 * protocol (garbage, empty, getIP) with limits on everything a client controls. Each
 * refusal is counted by reason and logged once at warn; nothing a client sends can crash it.
 */
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerOptions, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { MIB, RECEIVED_BYTES_HEADER } from '@speedwatch/shared';
import type { Logger } from '@speedwatch/shared';
import { EndpointListenError, EndpointTlsError } from './endpoint-error.js';
import { resolveEndpointOptions } from './options.js';
import type { EndpointOptions, ResolvedEndpointOptions } from './options.js';
import { Pacer } from './pacer.js';
import { Payload, sendPayload } from './payload.js';
import { ROUTE_METHODS, matchRoute, parseCkSize } from './routes.js';
import type { RouteName } from './routes.js';
import { StatsCounter } from './stats.js';
import type { EndpointStats, RejectionReason } from './stats.js';
import { drainBody } from './upload-sink.js';
import { startReflector } from './udp/reflector.js';
import type { ReflectorClock, RunningReflector } from './udp/reflector.js';

/** Size of the random buffer every download is cut from. */
const PAYLOAD_BUFFER_BYTES = MIB;

/** On every response: nothing is cached, and browsers on other origins may run the test. */
const COMMON_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({
  'Cache-Control': 'no-store, no-cache, must-revalidate, max-age=0, s-maxage=0',
  Pragma: 'no-cache',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Encoding, Content-Type',
  'Access-Control-Expose-Headers': RECEIVED_BYTES_HEADER,
});

/** What LibreSpeed's garbage.php sends, so its clients treat our download the same. */
const GARBAGE_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({
  ...COMMON_HEADERS,
  'Content-Type': 'application/octet-stream',
  'Content-Description': 'File Transfer',
  'Content-Disposition': 'attachment; filename=random.dat',
  'Content-Transfer-Encoding': 'binary',
});

export interface EndpointDeps {
  /** Makes the random payload buffer; default `crypto.randomBytes`. */
  randomBytes?: (size: number) => Buffer;
  /** Monotonic clock in milliseconds for the pacers; default `performance.now`. */
  now?: () => number;
  /** Clocks of the UDP reflector; default `performance`'s. */
  reflectorClock?: ReflectorClock;
}

export interface RunningEndpoint {
  /** Base URL ending in `/`, e.g. `http://127.0.0.1:43123/`. */
  readonly url: string;
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** The UDP reflector's port; undefined when it is off (`udpPort: 0`). */
  readonly udpPort: number | undefined;
  /** Stops accepting, destroys every open socket (downloads in progress included) and resolves once closed. Idempotent. */
  close(): Promise<void>;
  /** Byte counts and refusals since start; a copy. */
  stats(): EndpointStats;
}

/** What the endpoint knows about one socket that has carried at least one request. */
interface SocketState {
  /** The response in progress, if a request is being served. */
  current: ServerResponse | undefined;
}

/**
 * Validates `options` (throwing EndpointOptionsError listing every problem), makes the
 * payload buffer, and listens. Rejects with EndpointTlsError for an unusable certificate or
 * key and EndpointListenError when the address cannot be bound.
 */
export async function startEndpoint(options: Partial<EndpointOptions> = {}, deps: EndpointDeps = {}): Promise<RunningEndpoint> {
  const config = resolveEndpointOptions(options);
  const log = config.logger.child({ component: 'endpoint' });
  const stats = new StatsCounter();
  const payload = new Payload((deps.randomBytes ?? randomBytes)(PAYLOAD_BUFFER_BYTES));
  const pacerOptions = { ...(deps.now === undefined ? {} : { now: deps.now }) };
  const downloadPacer = config.maxMbps === undefined ? undefined : new Pacer({ mbps: config.maxMbps, ...pacerOptions });
  const uploadPacer = config.maxMbps === undefined ? undefined : new Pacer({ mbps: config.maxMbps, ...pacerOptions });
  const sockets = new Set<Socket>();
  const socketStates = new WeakMap<Socket, SocketState>();

  const reject = (reason: RejectionReason, socket: Socket | undefined, fields: Record<string, unknown> = {}): void => {
    stats.reject(reason);
    log.warn({ event: 'rejected', reason, remoteAddress: socket?.remoteAddress, remotePort: socket?.remotePort, ...fields }, `rejected: ${reason}`);
  };

  const handlers: RouteHandlers = {
    config,
    log,
    reject,
    payload,
    downloadPacer,
    uploadPacer,
    onSent: (bytes) => {
      stats.sentBytes += bytes;
    },
    onReceived: (bytes) => {
      stats.receivedBytes += bytes;
    },
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const socket = req.socket;
    // Node clears the socket timeout when a keep-alive request starts; inactivity mid-request is ours to bound.
    socket.setTimeout(config.idleTimeoutMs);
    const state = socketStates.get(socket) ?? { current: undefined };
    state.current = res;
    socketStates.set(socket, state);
    const onStreamError = (err: Error): void => {
      log.debug({ event: 'stream-error', err, remoteAddress: socket.remoteAddress }, 'request stream error');
    };
    req.on('error', onStreamError);
    res.on('error', onStreamError);
    res.once('close', () => {
      if (state.current === res) state.current = undefined;
    });
    handleRequest(req, res, expectsContinue, handlers).catch((err: unknown) => {
      log.error({ event: 'request-failed', err }, 'request handler failed');
      res.destroy();
    });
  };

  const serverOptions: ServerOptions = {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node checks the two timeouts above on this period (30 s by default, too coarse for a 10 s bound).
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 10))),
    noDelay: true,
  };
  let server: Server;
  try {
    server =
      config.tls === undefined
        ? createHttpServer(serverOptions)
        : createHttpsServer({ ...serverOptions, cert: config.tls.cert, key: config.tls.key });
  } catch (err) {
    throw new EndpointTlsError(err);
  }
  server.maxConnections = config.maxConnections;
  server.timeout = config.idleTimeoutMs;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, false));
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('drop', (data) => {
    reject('too-many-connections', undefined, {
      remoteAddress: data?.remoteAddress,
      remotePort: data?.remotePort,
      limit: config.maxConnections,
    });
  });
  server.on('timeout', (socket: Socket) => {
    const state = socketStates.get(socket);
    if (state === undefined || state.current !== undefined) {
      reject('idle-timeout', socket, { limitMs: config.idleTimeoutMs });
    } else {
      log.debug({ event: 'keep-alive-expired', remoteAddress: socket.remoteAddress }, 'idle keep-alive connection closed');
    }
    socket.destroy();
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      log.debug({ event: 'client-gone', code, remoteAddress: socket.remoteAddress }, 'client connection ended abruptly');
      socket.destroy();
      return;
    }
    const current = socketStates.get(socket)?.current;
    let status = 400;
    let reason: RejectionReason = 'bad-request';
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Node reports both of its timeouts this way; a request in hand means its headers were complete.
      status = 408;
      reason = current === undefined ? 'headers-timeout' : 'request-timeout';
    } else if (code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      reason = 'headers-too-large';
    }
    const limitMs = reason === 'headers-timeout' ? config.headersTimeoutMs : reason === 'request-timeout' ? config.requestTimeoutMs : undefined;
    reject(reason, socket, { code, ...(limitMs === undefined ? {} : { limitMs }) });
    if (current === undefined || !current.headersSent) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroySoon();
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    reject('tls-error', socket, { code: err.code ?? '' });
    socket.destroy();
  });

  try {
    await new Promise<void>((resolve, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(config.port, config.host, () => {
        server.removeListener('error', rejectListen);
        resolve();
      });
    });
  } catch (err) {
    throw new EndpointListenError(config.host, config.port, err);
  }
  // After listening, server errors (e.g. EMFILE on accept) are logged; the server keeps going.
  server.on('error', (err: Error) => log.error({ event: 'server-error', err }, 'server error'));

  const port = (server.address() as AddressInfo).port;
  const url = `${config.tls === undefined ? 'http' : 'https'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/`;
  const wantedUdpPort = config.udpPort ?? port;
  let reflector: RunningReflector | undefined;
  if (wantedUdpPort !== 0) {
    try {
      reflector = await startReflector(
        { host: config.host, port: wantedUdpPort, sourceRatePps: config.udpSourceRatePps, ratePps: config.udpRatePps, logger: log.child({ component: 'udp' }) },
        deps.reflectorClock,
      );
    } catch (err) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new EndpointListenError(config.host, wantedUdpPort, err, 'UDP');
    }
  }
  log.info(
    { event: 'listening', url, udpPort: reflector?.port ?? null, maxMbps: config.maxMbps ?? null, maxConnections: config.maxConnections },
    'endpoint listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    udpPort: reflector?.port,
    close() {
      closing ??= Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
          server.closeAllConnections();
        }),
        reflector?.close(),
      ]).then(() => log.info({ event: 'closed' }, 'endpoint closed'));
      return closing;
    },
    stats: () => stats.snapshot(reflector?.stats()),
  };
}

/** What the route handlers need from the server. */
interface RouteHandlers {
  config: ResolvedEndpointOptions;
  log: Logger;
  reject: (reason: RejectionReason, socket: Socket | undefined, fields?: Record<string, unknown>) => void;
  payload: Payload;
  downloadPacer: Pacer | undefined;
  uploadPacer: Pacer | undefined;
  onSent: (bytes: number) => void;
  onReceived: (bytes: number) => void;
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, h: RouteHandlers): Promise<void> {
  const method = req.method ?? '';
  const target = matchRoute(req.url ?? '');
  const route = target.route;
  if (route === undefined) {
    h.reject('not-found', req.socket, { method, path: clip(target.path) });
    sendText(res, 404, `no route for ${JSON.stringify(clip(target.path))}: the last path segment must be garbage, empty or getIP (each with or without .php), or healthz\n`);
    return;
  }
  if (method === 'OPTIONS') {
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Length': '0' }).end();
    return;
  }
  const allowed = ROUTE_METHODS[route];
  if (!allowed.includes(method)) {
    h.reject('method-not-allowed', req.socket, { method, route });
    sendText(res, 405, `${route} does not answer ${method}; it answers ${allowed.join(', ')}, OPTIONS\n`, {
      Allow: `${allowed.join(', ')}, OPTIONS`,
    });
    return;
  }
  await ROUTE_HANDLERS[route](req, res, expectsContinue, target.query, h);
}

type RouteHandler = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, query: string, h: RouteHandlers) => Promise<void>;

const ROUTE_HANDLERS: Readonly<Record<RouteName, RouteHandler>> = {
  async garbage(req, res, _expectsContinue, query, h) {
    const ckSize = parseCkSize(query, h.config.maxChunkMiB);
    if (!ckSize.ok) {
      h.reject('bad-request', req.socket, { route: 'garbage', parameter: 'ckSize' });
      sendText(res, 400, `${ckSize.message}\n`);
      return;
    }
    const bytes = ckSize.mib * MIB;
    res.writeHead(200, { ...GARBAGE_HEADERS, 'Content-Length': String(bytes) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const complete = await sendPayload(res, bytes, { payload: h.payload, pacer: h.downloadPacer, onBytes: h.onSent });
    if (!complete) h.log.debug({ event: 'download-aborted', remoteAddress: req.socket.remoteAddress }, 'client left during download');
  },

  async empty(req, res, expectsContinue, _query, h) {
    if (req.method !== 'POST' && req.method !== 'PUT') {
      res.writeHead(200, { ...COMMON_HEADERS, 'Content-Length': '0' }).end();
      return;
    }
    const limit = h.config.maxBodyBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      rejectTooLarge(req, res, h, Number(declared));
      return;
    }
    if (expectsContinue) res.writeContinue();
    const outcome = await drainBody(req, { maxBodyBytes: limit, pacer: h.uploadPacer, onBytes: h.onReceived });
    if (outcome.kind === 'too-large') {
      rejectTooLarge(req, res, h, outcome.bytes);
    } else if (outcome.kind === 'complete') {
      res.writeHead(200, { ...COMMON_HEADERS, 'Content-Length': '0', [RECEIVED_BYTES_HEADER]: String(outcome.bytes) }).end();
    } else {
      h.log.debug({ event: 'upload-aborted', bytes: outcome.bytes, remoteAddress: req.socket.remoteAddress }, 'client left during upload');
    }
  },

  async getIP(req, res) {
    const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const body = JSON.stringify({ processedString: address, rawIspInfo: '' });
    res
      .writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) })
      .end(body);
  },

  async healthz(_req, res) {
    sendText(res, 200, 'ok\n');
  },
};

/** 413, then close: the rest of the body is not worth reading. */
function rejectTooLarge(req: IncomingMessage, res: ServerResponse, h: RouteHandlers, bytes: number): void {
  const limit = h.config.maxBodyBytes;
  h.reject('body-too-large', req.socket, { bytes, limitBytes: limit });
  sendText(res, 413, `request body is larger than the limit of ${limit} bytes\n`, { Connection: 'close' });
}

function sendText(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  res
    .writeHead(status, {
      ...COMMON_HEADERS,
      ...headers,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
    })
    .end(text);
}

/** Paths come from clients: keep log lines and error bodies short. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
