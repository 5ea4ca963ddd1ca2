import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { EndpointListenError, EndpointOptionsError, EndpointTlsError, startEndpoint } from '../src/index.js';
import { closed, connect, dribble, rawConnection, rawGet, request, startForTest } from './util.js';

const MIB = 1_048_576;

describe('startEndpoint', () => {
  describe('routes', () => {
    // Every route answers under its plain name, its LibreSpeed .php name and any path prefix.
    const paths = (name: string): string[] => [name, `${name}.php`, `backend/${name}.php`, `speedtest/deep/${name}`];

    it.each(paths('garbage'))('serves ckSize MiB of payload at /%s', async (path) => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}${path}?ckSize=2&r=0.123`);
      expect(reply.status).toBe(200);
      expect(reply.body.length).toBe(2 * MIB);
      expect(reply.headers['content-length']).toBe(String(2 * MIB));
    });

    it.each(paths('empty'))('answers a ping at /%s with 200 and an empty body', async (path) => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}${path}?r=1`);
      expect(reply.status).toBe(200);
      expect(reply.body.length).toBe(0);
    });

    it.each(paths('empty'))('confirms the bytes of an upload POSTed to /%s', async (path) => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}${path}`, { method: 'POST', body: Buffer.alloc(12_345, 7) });
      expect(reply.status).toBe(200);
      expect(reply.headers['x-speedwatch-received-bytes']).toBe('12345');
    });

    it.each(paths('getIP'))('answers /%s with the client address as LibreSpeed JSON', async (path) => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}${path}?isp=true`);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(reply.body.toString('utf8'))).toEqual({ processedString: '127.0.0.1', rawIspInfo: '' });
    });

    it('answers /healthz with ok', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}healthz`);
      expect([reply.status, reply.body.toString()]).toEqual([200, 'ok\n']);
    });

    it('accepts a PUT upload as curl -T sends it', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}empty.php`, { method: 'PUT', body: Buffer.alloc(1000) });
      expect(reply.headers['x-speedwatch-received-bytes']).toBe('1000');
    });

    it('answers an OPTIONS preflight on any route with 200 and CORS headers', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}backend/empty.php`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'POST' },
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['access-control-allow-methods']).toBe('GET, POST, PUT, OPTIONS');
    });

    it('answers an unknown path with 404 naming the path, and counts it', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}backend/nothing.php?x=1`);
      expect(reply.status).toBe(404);
      expect(reply.body.toString()).toContain('"/backend/nothing.php"');
      expect(endpoint.stats().rejected).toEqual({ 'not-found': 1 });
    });

    it('answers a method a route does not take with 405 and an Allow header', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}garbage.php`, { method: 'POST', body: Buffer.alloc(10) });
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(endpoint.stats().rejected).toEqual({ 'method-not-allowed': 1 });
    });
  });

  describe('headers', () => {
    it('forbids caching and allows cross-origin use on every kind of response', async () => {
      const endpoint = await startForTest();
      const replies = await Promise.all([
        request(`${endpoint.url}garbage?ckSize=1`),
        request(`${endpoint.url}empty`),
        request(`${endpoint.url}empty`, { method: 'POST', body: Buffer.alloc(1) }),
        request(`${endpoint.url}getIP`),
        request(`${endpoint.url}garbage?ckSize=0`),
        request(`${endpoint.url}missing`),
      ]);
      for (const reply of replies) {
        expect(reply.headers).toMatchObject({
          'cache-control': 'no-store, no-cache, must-revalidate, max-age=0, s-maxage=0',
          pragma: 'no-cache',
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, POST, PUT, OPTIONS',
          'access-control-allow-headers': 'Content-Encoding, Content-Type',
          'access-control-expose-headers': 'X-Speedwatch-Received-Bytes',
        });
      }
    });

    it('labels garbage as a binary file download, as LibreSpeed does', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}garbage.php?ckSize=1`);
      expect(reply.headers).toMatchObject({
        'content-type': 'application/octet-stream',
        'content-description': 'File Transfer',
        'content-disposition': 'attachment; filename=random.dat',
        'content-transfer-encoding': 'binary',
      });
    });
  });

  describe('garbage', () => {
    it('sends 4 MiB when ckSize is absent (the LibreSpeed default)', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}garbage.php`);
      expect(reply.body.length).toBe(4 * MIB);
      expect(endpoint.stats().sentBytes).toBe(4 * MIB);
    });

    it('clamps ckSize above maxChunkMiB to maxChunkMiB', async () => {
      const endpoint = await startForTest({ maxChunkMiB: 3 });
      const reply = await request(`${endpoint.url}garbage.php?ckSize=100`);
      expect(reply.status).toBe(200);
      expect(reply.body.length).toBe(3 * MIB);
    });

    it.each(['0', '-1', '1.5', 'abc', '', '1e3', '+2'])('refuses ckSize=%j with 400 naming ckSize and the range', async (value) => {
      const endpoint = await startForTest({ maxChunkMiB: 50 });
      const reply = await request(`${endpoint.url}garbage.php?ckSize=${encodeURIComponent(value)}`);
      expect(reply.status).toBe(400);
      expect(reply.body.toString()).toMatch(/ckSize must be a whole number of MiB from 1 to 50/);
      expect(endpoint.stats().rejected).toEqual({ 'bad-request': 1 });
    });

    it('sends incompressible bytes: gzip cannot shrink a 1 MiB slice', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}garbage?ckSize=3`);
      // Take the slice across a wrap of the 1 MiB source buffer as well as from the start.
      for (const offset of [0, MIB / 2 + 1234]) {
        const slice = reply.body.subarray(offset, offset + MIB);
        expect(gzipSync(slice).length).toBeGreaterThan(slice.length * 0.99);
      }
    });

    it('answers HEAD with the length and no body', async () => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}garbage?ckSize=5`, { method: 'HEAD' });
      expect([reply.status, reply.headers['content-length'], reply.body.length]).toEqual([200, String(5 * MIB), 0]);
    });

    it('stops writing when the client goes away mid-download', async () => {
      const endpoint = await startForTest({ maxMbps: 10 });
      const socket = await connect(endpoint.port);
      socket.write('GET /garbage?ckSize=100 HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await new Promise((resolve) => socket.once('data', resolve));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sent = endpoint.stats().sentBytes;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(endpoint.stats().sentBytes).toBe(sent);
      expect(sent).toBeLessThan(MIB);
    });
  });

  describe('keep-alive', () => {
    it('serves pings, downloads and uploads one after another on one connection', async () => {
      const endpoint = await startForTest();
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      onTestFinished(() => agent.destroy());
      const replies = [];
      for (let i = 0; i < 3; i += 1) {
        replies.push(await request(`${endpoint.url}empty.php?r=${i}`, { agent }));
        replies.push(await request(`${endpoint.url}garbage.php?ckSize=1`, { agent }));
        replies.push(await request(`${endpoint.url}empty.php`, { agent, method: 'POST', body: Buffer.alloc(70_000) }));
      }
      expect(replies.map((r) => r.status)).toEqual(Array(9).fill(200));
      expect(replies.map((r) => r.reusedSocket)).toEqual([false, ...Array(8).fill(true)]);
    });
  });

  describe('upload confirmation', () => {
    it.each([0, 1, 65_536, 65_537, 3 * MIB + 5])('reports exactly %i bytes for a body sent with Content-Length', async (size) => {
      const endpoint = await startForTest();
      const reply = await request(`${endpoint.url}empty.php`, { method: 'POST', body: Buffer.alloc(size, 1) });
      expect(reply.headers['x-speedwatch-received-bytes']).toBe(String(size));
      expect(endpoint.stats().receivedBytes).toBe(size);
    });

    it.each([
      [[1]],
      [[10_000, 1, 65_536, 333]],
      [Array(40).fill(100_003)],
    ])('reports the exact total for a chunked body of pieces %j', async (sizes: number[]) => {
      const endpoint = await startForTest();
      const chunks = sizes.map((size) => Buffer.alloc(size, 2));
      const reply = await request(`${endpoint.url}empty`, { method: 'POST', body: { chunks } });
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(reply.headers['x-speedwatch-received-bytes']).toBe(String(total));
    });
  });

  describe('limits', () => {
    it('refuses a body whose Content-Length is over maxBodyBytes with 413 before reading it, and closes', async () => {
      const endpoint = await startForTest({ maxBodyBytes: MIB });
      const exchange = await rawConnection(endpoint.port, (socket) => {
        socket.write(`POST /empty.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${MIB + 1}\r\n\r\n`);
      });
      expect(exchange.received).toMatch(/^HTTP\/1\.1 413 /);
      expect(exchange.received).toContain('larger than the limit of 1048576 bytes');
      expect(endpoint.stats().rejected).toEqual({ 'body-too-large': 1 });
      expect(endpoint.stats().receivedBytes).toBe(0);
    });

    it('refuses a chunked body that grows past maxBodyBytes with 413, and closes', async () => {
      const endpoint = await startForTest({ maxBodyBytes: 100_000 });
      const exchange = await rawConnection(endpoint.port, (socket) => {
        socket.write('POST /empty HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let i = 0; i < 4; i += 1) socket.write(`${(40_000).toString(16)}\r\n${'x'.repeat(40_000)}\r\n`);
      });
      expect(exchange.received).toMatch(/^HTTP\/1\.1 413 /);
      expect(endpoint.stats().rejected).toEqual({ 'body-too-large': 1 });
    });

    it('closes sockets beyond maxConnections at once while the others keep working', async () => {
      const endpoint = await startForTest({ maxConnections: 2 });
      const first = await connect(endpoint.port);
      const second = await connect(endpoint.port);
      expect((await rawGet(first, '/empty')).statusLine).toBe('HTTP/1.1 200 OK');
      expect((await rawGet(second, '/empty')).statusLine).toBe('HTTP/1.1 200 OK');
      const extra = await connect(endpoint.port);
      expect(await closed(extra, 2_000)).toBeLessThan(2_000);
      expect((await rawGet(first, '/getIP')).body).toContain('127.0.0.1');
      expect((await rawGet(second, '/garbage?ckSize=1')).body.length).toBe(MIB);
      expect(endpoint.stats().rejected).toEqual({ 'too-many-connections': 1 });
    });

    it('answers 408 and closes a client whose headers are not complete within headersTimeoutMs', async () => {
      const endpoint = await startForTest({ headersTimeoutMs: 300 });
      const exchange = await rawConnection(endpoint.port, (socket) => {
        socket.write('GET /empty HTTP/1.1\r\n');
        dribble(socket, 'X-Slow: 1\r\n', 50);
      });
      expect(exchange.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(290);
      expect(exchange.closedAfterMs).toBeLessThan(1_500);
      expect(endpoint.stats().rejected).toEqual({ 'headers-timeout': 1 });
    });

    it('answers 408 and closes a client whose whole request takes longer than requestTimeoutMs', async () => {
      const endpoint = await startForTest({ headersTimeoutMs: 200, requestTimeoutMs: 600 });
      const exchange = await rawConnection(endpoint.port, (socket) => {
        socket.write('POST /empty HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n');
        dribble(socket, 'x', 50);
      });
      expect(exchange.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(590);
      expect(exchange.closedAfterMs).toBeLessThan(2_000);
      expect(endpoint.stats().rejected).toEqual({ 'request-timeout': 1 });
    });

    it('destroys a socket that goes quiet mid-request for idleTimeoutMs', async () => {
      const endpoint = await startForTest({ idleTimeoutMs: 300 });
      const exchange = await rawConnection(endpoint.port, (socket) => {
        socket.write('POST /empty HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nhalf');
      });
      expect(exchange.received).toBe('');
      expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(290);
      expect(exchange.closedAfterMs).toBeLessThan(1_500);
      expect(endpoint.stats().rejected).toEqual({ 'idle-timeout': 1 });
    });

    it('closes an idle keep-alive connection after keepAliveTimeoutMs without counting a rejection', async () => {
      const endpoint = await startForTest({ keepAliveTimeoutMs: 200 });
      const socket = await connect(endpoint.port);
      await rawGet(socket, '/empty');
      expect(await closed(socket, 3_000)).toBeLessThan(3_000);
      expect(endpoint.stats().rejected).toEqual({});
    });

    it('answers malformed HTTP with 400 and stays up', async () => {
      const endpoint = await startForTest();
      const exchange = await rawConnection(endpoint.port, (socket) => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      expect(exchange.received).toMatch(/^HTTP\/1\.1 400 /);
      expect((await request(`${endpoint.url}healthz`)).status).toBe(200);
      expect(endpoint.stats().rejected).toEqual({ 'bad-request': 1 });
    });

    it('survives clients that reset mid-upload and mid-download', async () => {
      const endpoint = await startForTest();
      for (const head of [
        'POST /empty HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\nabc',
        'GET /garbage?ckSize=200 HTTP/1.1\r\nHost: localhost\r\n\r\n',
      ]) {
        const socket = await connect(endpoint.port);
        socket.write(head);
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.resetAndDestroy();
      }
      expect((await request(`${endpoint.url}healthz`)).status).toBe(200);
    });
  });

  describe('options', () => {
    it('rejects unusable options with SW_ENDPOINT_OPTIONS listing every problem', async () => {
      const error = await startEndpoint({ port: -1, maxMbps: 0, maxConnections: 1.5 }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(EndpointOptionsError);
      expect((error as EndpointOptionsError).code).toBe('SW_ENDPOINT_OPTIONS');
      expect((error as EndpointOptionsError).problems.map((p) => p.path).sort()).toEqual(['maxConnections', 'maxMbps', 'port']);
    });

    it('rejects a port already in use with SW_ENDPOINT_LISTEN', async () => {
      const endpoint = await startForTest();
      const error = await startEndpoint({ port: endpoint.port }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(EndpointListenError);
      expect((error as EndpointListenError).code).toBe('SW_ENDPOINT_LISTEN');
    });

    it('rejects a certificate that is not PEM with SW_ENDPOINT_TLS', async () => {
      const error = await startEndpoint({ port: 0, tls: { cert: 'nope', key: 'nope' } }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(EndpointTlsError);
      expect((error as EndpointTlsError).code).toBe('SW_ENDPOINT_TLS');
    });
  });

  describe('over https', () => {
    let dir = '';
    let cert = Buffer.alloc(0);
    let key = Buffer.alloc(0);

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'speedwatch-endpoint-tls-'));
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        { stdio: 'ignore', timeout: 20_000 },
      );
      cert = readFileSync(join(dir, 'cert.pem'));
      key = readFileSync(join(dir, 'key.pem'));
    });
    afterAll(() => {
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    it('serves every route with a self-signed certificate', async () => {
      const endpoint = await startForTest({ tls: { cert, key } });
      expect(endpoint.url).toBe(`https://127.0.0.1:${endpoint.port}/`);
      const download = await request(`${endpoint.url}garbage.php?ckSize=2`, { ca: cert });
      const upload = await request(`${endpoint.url}empty.php`, { ca: cert, method: 'POST', body: Buffer.alloc(300_000) });
      const ip = await request(`${endpoint.url}getIP.php`, { ca: cert });
      expect(download.body.length).toBe(2 * MIB);
      expect(upload.headers['x-speedwatch-received-bytes']).toBe('300000');
      expect(JSON.parse(ip.body.toString()).processedString).toBe('127.0.0.1');
    });

    it('counts a failed TLS handshake as a rejection and keeps serving', async () => {
      const endpoint = await startForTest({ tls: { cert, key } });
      const exchange = await rawConnection(endpoint.port, (socket) => socket.write('GET / HTTP/1.1\r\n\r\n'));
      expect(exchange.received).not.toMatch(/^HTTP/);
      expect(endpoint.stats().rejected).toEqual({ 'tls-error': 1 });
      expect((await request(`${endpoint.url}healthz`, { ca: cert })).status).toBe(200);
    });
  });

  describe('close', () => {
    it('resolves promptly with a download in progress and closes its socket', async () => {
      const endpoint = await startEndpoint({ port: 0, maxMbps: 10 });
      const socket = await connect(endpoint.port);
      socket.write('GET /garbage?ckSize=100 HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await new Promise((resolve) => socket.once('data', resolve));
      const started = performance.now();
      await endpoint.close();
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(await closed(socket, 1_000)).toBeLessThan(1_000);
    });
  });
});
