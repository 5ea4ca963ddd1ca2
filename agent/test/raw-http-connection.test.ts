import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RawHttpConnection } from '../src/measure/raw-http-connection.js';
import { MeasureError } from '../src/index.js';
import { listen, rawServer } from './util.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(server: Parameters<typeof listen>[0]): Promise<string> {
  const s = await listen(server);
  closers.push(s.close);
  return s.url;
}

function connection(url: string, readBufferBytes = 64 * 1024): RawHttpConnection {
  const conn = new RawHttpConnection({ url: new URL(url), readBuffer: Buffer.alloc(readBufferBytes), connectTimeoutMs: 2000, userAgent: 'test' });
  closers.push(async () => conn.destroy());
  return conn;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(MeasureError);
    return (err as MeasureError).code;
  }
  throw new Error('expected a rejection');
}

describe('RawHttpConnection', () => {
  it('settles connect() when destroyed while the connection is still opening', async () => {
    const conn = connection(await serve(http.createServer()));
    const opening = conn.connect();
    conn.destroy(new MeasureError('SW_STALLED', 'stopped while opening'));
    const outcome = await Promise.race([codeOf(opening), new Promise<string>((r) => setTimeout(() => r('still pending after 2 s'), 2000))]);
    expect(outcome).toBe('SW_STALLED');
    expect(conn.connected).toBe(false);
  });

  it('counts exactly the body bytes of Content-Length responses over one keep-alive connection', async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n'));
      res.writeHead(200, { 'content-length': size });
      res.end(Buffer.alloc(size, 7));
    });
    server.on('connection', () => connections++);
    const conn = connection(await serve(server));
    await conn.connect();
    for (const n of [0, 1, 1000, 300_000]) await conn.get(`/g?n=${n}`);
    expect(conn.bodyBytes).toBe(301_001);
    expect(conn.reusable).toBe(true);
    expect(connections).toBe(1);
  });

  it('counts only chunk data, not chunk framing, in chunked responses', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: node sends chunked
      res.write(Buffer.alloc(10));
      res.write(Buffer.alloc(70_000));
      res.end(Buffer.alloc(1));
    });
    const conn = connection(await serve(server), 4096); // small reads make framing straddle reads
    await conn.connect();
    await conn.get('/a');
    await conn.get('/b');
    expect(conn.bodyBytes).toBe(2 * 70_011);
  });

  it('handles a head and chunk lines split into single bytes, with chunk extensions and trailers', async () => {
    const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n';
    const server = rawServer((socket) => {
      socket.once('data', () => {
        void (async () => {
          for (const ch of response) {
            socket.write(ch);
            await new Promise((r) => setImmediate(r));
          }
        })();
      });
    });
    const conn = connection(await serve(server));
    await conn.connect();
    await conn.get('/');
    expect(conn.bodyBytes).toBe(15);
  });

  it('reads a body without length until the server closes, and is then not reusable', async () => {
    const server = rawServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n' + 'x'.repeat(12345)));
    });
    const conn = connection(await serve(server));
    await conn.connect();
    await conn.get('/');
    expect(conn.bodyBytes).toBe(12345);
    expect(conn.reusable).toBe(false);
  });

  it.each<[string, string, string]>([
    ['an HTTP error status', 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 'SW_HTTP_STATUS'],
    ['a non-HTTP answer', 'SSH-2.0-OpenSSH\r\n\r\n', 'SW_PROTOCOL'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'SW_PROTOCOL'],
    ['a close in the middle of the body', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort', 'SW_RESET'],
  ])('rejects %s with %s', async (_case, answer, code) => {
    const server = rawServer((socket) => socket.once('data', () => socket.end(answer)));
    const conn = connection(await serve(server));
    await conn.connect();
    expect(await codeOf(conn.get('/'))).toBe(code);
    expect(conn.reusable).toBe(false);
  });

  it('rejects a refused connection with SW_CONNECT_REFUSED', async () => {
    const s = await listen(http.createServer());
    await s.close(); // the port is now free and nothing listens on it
    expect(await codeOf(connection(s.url).connect())).toBe('SW_CONNECT_REFUSED');
  });

  it('rejects a request in flight with the reason it was destroyed with', async () => {
    const server = rawServer((socket) => socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc')));
    const conn = connection(await serve(server));
    await conn.connect();
    const pending = conn.get('/');
    await new Promise((r) => setTimeout(r, 50));
    conn.destroy(new MeasureError('SW_STALLED', 'test'));
    expect(await codeOf(pending)).toBe('SW_STALLED');
    expect(conn.bodyBytes).toBe(3);
  });
  it('reports a pause in the middle of a body (TCP holding data back) with the time and count before it, and not the wait for an answer', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': 2000 });
      res.write(Buffer.alloc(1000, 1));
      setTimeout(() => res.end(Buffer.alloc(1000, 2)), 60);
    });
    const holds: { sinceMs: number; bodyBytes: number; atMs: number }[] = [];
    const conn = new RawHttpConnection({
      url: new URL(await serve(server)),
      readBuffer: Buffer.alloc(64 * 1024),
      connectTimeoutMs: 2000,
      userAgent: 'test',
      holdGapMs: 20,
      onHold: (sinceMs, bodyBytes) => holds.push({ sinceMs, bodyBytes, atMs: performance.now() }),
    });
    closers.push(async () => conn.destroy());
    await conn.connect();
    await new Promise((resolve) => setTimeout(resolve, 50)); // idle before the request: not a hold
    await conn.get('/');
    expect(conn.bodyBytes).toBe(2000);
    expect(holds).toHaveLength(1);
    expect(holds[0]?.bodyBytes).toBe(1000);
    expect((holds[0]?.atMs ?? 0) - (holds[0]?.sinceMs ?? 0)).toBeGreaterThanOrEqual(40);
  });
});
