import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { onTestFinished } from 'vitest';
import { startEndpoint } from '../src/index.js';
import type { EndpointOptions, RunningEndpoint } from '../src/index.js';

/** Starts an endpoint on a free loopback port, closed when the current test finishes (pass or fail). */
export async function startForTest(options: Partial<EndpointOptions> = {}): Promise<RunningEndpoint> {
  const endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, ...options });
  onTestFinished(() => endpoint.close());
  return endpoint;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when the request went over a socket an earlier request had used. */
  reusedSocket: boolean;
}

export interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  /** Sent as one piece with Content-Length, or as several pieces with chunked transfer coding. */
  body?: Buffer | { chunks: Buffer[] };
  agent?: http.Agent;
  ca?: string | Buffer;
  timeoutMs?: number;
}

/** One HTTP(S) request with a bounded wait; the whole response body is kept. */
export function request(url: string | URL, options: RequestOptions = {}): Promise<Reply> {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        ...(options.agent === undefined ? { agent: false } : { agent: options.agent }),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), reusedSocket: req.reusedSocket }),
        );
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) {
      req.end();
    } else if (Buffer.isBuffer(body)) {
      req.setHeader('Content-Length', body.length);
      req.end(body);
    } else {
      for (const chunk of body.chunks) req.write(chunk);
      req.end();
    }
  });
}

export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  received: string;
  /** Milliseconds from connecting until the server closed the socket. */
  closedAfterMs: number;
}

/**
 * Opens a raw TCP connection, lets `drive` write to it, and resolves when the server closes
 * it; rejects if it stays open longer than `timeoutMs`.
 */
export function rawConnection(port: number, drive: (socket: net.Socket) => void, timeoutMs = 5_000): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept the connection open for more than ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      received += text;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closedAfterMs: performance.now() - started });
    });
    socket.on('connect', () => drive(socket));
  });
}

/** Writes `text` every `everyMs` until the socket closes (a client too slow to finish). */
export function dribble(socket: net.Socket, text: string, everyMs: number): void {
  const timer = setInterval(() => socket.write(text), everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** Connects and resolves once connected; the socket is destroyed when the test finishes. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
    onTestFinished(() => {
      socket.destroy();
    });
  });
}

/** Sends one keep-alive GET on `socket` and resolves with the status line and body of a Content-Length reply. */
export function rawGet(socket: net.Socket, path: string, timeoutMs = 5_000): Promise<{ statusLine: string; body: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no complete reply to GET ${path} within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? 0);
      if (text.length - headEnd - 4 < length) return;
      finish(undefined, { statusLine: text.slice(0, text.indexOf('\r\n')), body: text.slice(headEnd + 4, headEnd + 4 + length) });
    };
    const onClose = (): void => finish(new Error(`connection closed before the reply to GET ${path}`));
    const finish = (err: Error | undefined, reply?: { statusLine: string; body: string }): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      if (err !== undefined) reject(err);
      else if (reply !== undefined) resolve(reply);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

/** Resolves with the time the socket took to close; rejects after `timeoutMs`. */
export function closed(socket: net.Socket, timeoutMs = 5_000): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      resolve(0);
      return;
    }
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}
