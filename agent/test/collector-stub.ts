/**
 * A stand-in collector for the collector client's tests: a real `ws` WebSocketServer on
 * 127.0.0.1 (port 0, read back) whose every connection and message the test awaits with a bound,
 * and a log capture whose lines the test awaits the same way. Everything has a closer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '@speedwatch/shared';
import type { Logger, WireLimits } from '@speedwatch/shared';

/** Rejects with `what` if `promise` has not settled within `ms` of real time. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Values in arrival order, each awaited with a bound. */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#items.push(item);
    else waiter(item);
  }

  /** Items arrived and not yet taken. */
  get size(): number {
    return this.#items.length;
  }

  next(what: string, timeoutMs = 5000): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    let waiter!: (item: T) => void;
    const arrived = new Promise<T>((resolve) => {
      waiter = resolve;
    });
    this.#waiters.push(waiter);
    return within(arrived, timeoutMs, what).catch((err: unknown) => {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      throw err;
    });
  }
}

export type LogLine = { level: number; msg: string; event?: string } & Record<string, unknown>;
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A debug-level logger whose lines are kept parsed; a test awaits the line it expects. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly logger: Logger;
  readonly #waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();

  constructor() {
    this.logger = createLogger({
      level: 'debug',
      write: (text) => {
        const line = JSON.parse(text) as LogLine;
        this.lines.push(line);
        for (const w of this.#waiters) {
          if (w.match(line)) {
            this.#waiters.delete(w);
            w.resolve(line);
          }
        }
      },
    });
  }

  /** Lines with this `event` (and at this level, if given). */
  events(event: string, level?: number): LogLine[] {
    return this.lines.filter((l) => l.event === event && (level === undefined || l.level === level));
  }

  /** The first line from now on, or already logged after `since` lines, that `match`es. */
  waitFor(match: (l: LogLine) => boolean, what: string, timeoutMs = 5000, since = this.lines.length): Promise<LogLine> {
    const seen = this.lines.slice(since).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    let waiter!: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void };
    const found = new Promise<LogLine>((resolve) => {
      waiter = { match, resolve };
      this.#waiters.add(waiter);
    });
    return within(found, timeoutMs, `${what}; log so far:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`).finally(() => this.#waiters.delete(waiter));
  }

  /** The `n`-th line (from 1, counted from the start) with this event. */
  nth(event: string, n: number, timeoutMs = 5000): Promise<LogLine> {
    let count = 0;
    return this.waitFor((l) => l.event === event && ++count === n, `log line #${n} with event ${event}`, timeoutMs, 0);
  }
}

export const STUB_LIMITS: WireLimits = { maxFrameBytes: 1024 * 1024, maxBatch: 500, maxMessagesPerMinute: 1000 };

/** One agent connection as the stub sees it. */
export interface StubConnection {
  readonly ws: WebSocket;
  /** Parsed text frames from the agent (hello included), in order. */
  readonly messages: Inbox<Record<string, unknown>>;
  /** Pings the agent sent. */
  readonly pings: Inbox<true>;
  /** Resolves with the close code once the connection is closed. */
  readonly closed: Promise<number>;
  send(frame: unknown): void;
  /** Sends `text` as it is (any string, valid JSON or not). */
  sendRaw(text: string | Buffer, binary?: boolean): void;
}

export interface CollectorStub {
  /** `ws://127.0.0.1:PORT/v1/agents`, set once listening. */
  url: string;
  port: number;
  readonly connections: Inbox<StubConnection>;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** While set, every upgrade is answered with this HTTP status instead (e.g. 401, 404, 503). */
  refuseWith: number | undefined;
  close(): Promise<void>;
}

export interface StubOptions {
  /** Answer each hello with this welcome's limits (default STUB_LIMITS); `false`: answer nothing. */
  welcome?: WireLimits | false;
  /** Answer pings (default true). */
  autoPong?: boolean;
}

export async function startCollectorStub(options: StubOptions = {}): Promise<CollectorStub> {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ noServer: true, autoPong: options.autoPong ?? true, perMessageDeflate: false });
  const sockets = new Set<Duplex>();
  const connections = new Inbox<StubConnection>();
  let accepted = 0;
  const stub: CollectorStub = {
    url: '',
    port: 0,
    connections,
    accepted: () => accepted,
    refuseWith: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        for (const socket of sockets) socket.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };
  server.on('upgrade', (req, socket, head) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const status = stub.refuseWith;
    if (status !== undefined) {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Refused'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });
  const onConnection = (ws: WebSocket): void => {
    accepted++;
    const messages = new Inbox<Record<string, unknown>>();
    const pings = new Inbox<true>();
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('error', () => {});
    ws.on('ping', () => pings.push(true));
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if (message['type'] === 'hello' && options.welcome !== false) {
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, agentId: 'stub-agent', serverTime: new Date().toISOString(), limits: options.welcome ?? STUB_LIMITS }));
      }
      messages.push(message);
    });
    const send = (frame: unknown): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    };
    const sendRaw = (text: string | Buffer, binary = false): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text, { binary });
    };
    connections.push({ ws, messages, pings, closed, send, sendRaw });
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  stub.url = `ws://127.0.0.1:${port}/v1/agents`;
  stub.port = port;
  return stub;
}
