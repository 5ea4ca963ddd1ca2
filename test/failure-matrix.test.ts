/**
 * Every way a test can fail ends in a result with the documented status and code, within the
 * test's time bound, and without an unhandled rejection. Servers are real sockets on loopback
 * that misbehave on purpose.
 */
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import { parseMeasurementResult } from '@speedwatch/shared';
import type { SpeedTestOptions, TestName } from '@speedwatch/agent';
import { DEFAULT_SPEED_TEST_OPTIONS, endpointFromBaseUrl, runSpeedTest, speedTestBoundMs } from '@speedwatch/agent';
import type { Listening } from './support/net.js';
import { listen, selfSignedCertificate } from './support/net.js';
import { BIN, runToEnd } from './support/processes.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

const servers: Listening[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(server: http.Server | net.Server, scheme: 'http' | 'https' = 'http'): Promise<string> {
  const s = await listen(server, scheme);
  servers.push(s);
  return s.url;
}

// Short phases and timeouts keep the matrix fast; the bound scales with them.
function options(url: string, tests: TestName[], extra: Partial<SpeedTestOptions> = {}): SpeedTestOptions {
  return {
    ...DEFAULT_SPEED_TEST_OPTIONS,
    endpoints: [endpointFromBaseUrl(url)],
    tests,
    durationMs: 3000,
    warmupMs: 500,
    latencyCount: 5,
    latencyTimeoutMs: 500,
    connectTimeoutMs: 1000,
    stallTimeoutMs: 1000,
    agentVersion: 'test',
    ...extra,
  };
}

async function run(o: SpeedTestOptions): Promise<{ result: MeasurementResult; elapsedMs: number; boundMs: number }> {
  const started = performance.now();
  const result = await runSpeedTest(o);
  const elapsedMs = performance.now() - started;
  // Whatever happened, the result is a valid one.
  expect(parseMeasurementResult(JSON.parse(JSON.stringify(result)))).toEqual(result);
  return { result, elapsedMs, boundMs: speedTestBoundMs(o) };
}

/** A server that accepts connections and never answers. */
function silentServer(): net.Server {
  return net.createServer((socket) => socket.on('error', () => {}));
}

/** Answers pings; hands garbage and empty requests to the given handlers. */
function brokenEndpoint(handlers: { garbage?: http.RequestListener; empty?: http.RequestListener }): http.Server {
  return http.createServer((req, res) => {
    const last = new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '';
    if (last.startsWith('garbage') && handlers.garbage) return handlers.garbage(req, res);
    if (last.startsWith('empty') && req.method === 'POST' && handlers.empty) return handlers.empty(req, res);
    req.resume();
    req.on('end', () => res.end());
  });
}

const notRoot = process.getuid?.() !== 0;
if (notRoot) console.warn('failure matrix: the SW_UNREACHABLE case is SKIPPED: not root (it needs a network namespace)');

describe('failure matrix', () => {
  it('a refused connection: failed, SW_CONNECT_REFUSED, at once', async () => {
    const s = await listen(http.createServer());
    await s.close();
    const { result, elapsedMs } = await run(options(s.url, ['latency', 'download', 'upload']));
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ phase: 'latency', code: 'SW_CONNECT_REFUSED' });
    expect(result.errors?.map((e) => e.code)).toEqual(['SW_CONNECT_REFUSED', 'SW_CONNECT_REFUSED', 'SW_CONNECT_REFUSED']);
    expect(elapsedMs).toBeLessThan(3000);
  });

  it('a name that does not resolve: failed, SW_DNS', async () => {
    const { result } = await run(options('http://speedwatch-test.invalid:8601/', ['latency', 'download']));
    expect(result.status).toBe('failed');
    expect(result.errors?.map((e) => e.code)).toEqual(['SW_DNS', 'SW_DNS']);
  });

  it('an untrusted certificate: failed, SW_TLS; trusted with --ca it measures', async () => {
    const cert = selfSignedCertificate();
    const url = await serve(https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      req.resume();
      req.on('end', () => res.end());
    }), 'https');
    const untrusted = await run(options(url, ['latency']));
    expect(untrusted.result.status).toBe('failed');
    expect(untrusted.result.error?.code).toBe('SW_TLS');
    const trusted = await run(options(url, ['latency'], { ca: cert.cert }));
    expect(trusted.result.status).toBe('ok');
    expect(trusted.result.latency?.lossRatio).toBe(0);
  });

  it('an HTTP error status: failed, SW_HTTP_STATUS in every phase', async () => {
    const url = await serve(http.createServer((req, res) => {
      req.resume();
      res.writeHead(500).end('broken');
    }));
    const { result } = await run(options(url, ['latency', 'download', 'upload']));
    expect(result.status).toBe('failed');
    expect(result.errors?.map((e) => [e.phase, e.code])).toEqual([
      ['latency', 'SW_HTTP_STATUS'],
      ['download', 'SW_HTTP_STATUS'],
      ['upload', 'SW_HTTP_STATUS'],
    ]);
  });

  it('a server that accepts and never answers: latency SW_TIMEOUT, download SW_STALLED, within the bound', async () => {
    const url = await serve(silentServer());
    const { result, elapsedMs, boundMs } = await run(options(url, ['latency', 'download', 'upload']));
    expect(result.status).toBe('failed');
    expect(result.errors?.map((e) => e.code)).toEqual(['SW_TIMEOUT', 'SW_STALLED', 'SW_STALLED']);
    expect(elapsedMs).toBeLessThan(boundMs);
  });

  it('a download that stalls after it started: SW_STALLED within the stall timeout, keeping what was measured', async () => {
    const url = await serve(brokenEndpoint({
      garbage: (_req, res) => {
        res.writeHead(200, { 'content-length': 1 << 30 });
        const chunk = Buffer.alloc(64 * 1024);
        const timer = setInterval(() => res.write(chunk), 10); // ~52 Mbit/s for 1.8 s, then nothing
        setTimeout(() => clearInterval(timer), 1800);
        res.on('close', () => clearInterval(timer));
      },
    }));
    const { result, elapsedMs } = await run(options(url, ['download'], { streams: 1, durationMs: 6000 }));
    expect(result.error).toMatchObject({ phase: 'download', code: 'SW_STALLED' });
    // 1.3 s of data after the 0.5 s warm-up, then silence until the stall timeout fires at
    // ~2.8 s; with its only stream gone the phase ends there, not at its 6 s deadline.
    expect(result.status).toBe('partial');
    expect(result.download?.bytes).toBeGreaterThan(0);
    expect(elapsedMs).toBeLessThan(4000);
  });

  it('a reset in the middle of a download: SW_RESET', async () => {
    const url = await serve(brokenEndpoint({
      garbage: (req, res) => {
        res.writeHead(200, { 'content-length': 1 << 30 });
        res.write(Buffer.alloc(256 * 1024));
        setTimeout(() => req.socket.resetAndDestroy(), 100);
      },
    }));
    const { result } = await run(options(url, ['download'], { streams: 2 }));
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ phase: 'download', code: 'SW_RESET' });
  });

  it('an upload the server never confirms: SW_STALLED, no rate reported', async () => {
    const url = await serve(brokenEndpoint({ empty: () => {} })); // reads nothing, answers nothing
    const { result, elapsedMs, boundMs } = await run(options(url, ['upload']));
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ phase: 'upload', code: 'SW_STALLED' });
    expect(result.upload).toBeUndefined();
    expect(elapsedMs).toBeLessThan(boundMs);
  });

  it('a stop signal: SW_ABORTED at once', async () => {
    const url = await serve(brokenEndpoint({}));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const { result, elapsedMs } = await run(options(url, ['download'], { signal: controller.signal, durationMs: 20_000 }));
    expect(result.error?.code).toBe('SW_ABORTED');
    expect(elapsedMs).toBeLessThan(2000);
  });

  it('none of several endpoints answering: failed, SW_NO_ENDPOINT, with each candidate\'s code', async () => {
    const refused = await listen(http.createServer());
    await refused.close();
    const o = options(refused.url, ['latency']);
    o.endpoints = [endpointFromBaseUrl(refused.url, 'a'), endpointFromBaseUrl('http://nowhere.invalid/', 'b')];
    const { result } = await run(o);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ phase: 'select', code: 'SW_NO_ENDPOINT' });
    expect(result.endpoint?.candidates).toEqual([
      { name: 'a', errorCode: 'SW_CONNECT_REFUSED' },
      { name: 'b', errorCode: 'SW_DNS' },
    ]);
  });

  // The second case once hung CI: the stall check destroyed a connection still opening, and
  // its connect() never settled. A stall only counts once a connection is open.
  it.each([
    { stallTimeoutMs: 1000, label: 'stall timeout equal to the connect timeout' },
    { stallTimeoutMs: 200, label: 'stall timeout shorter than the connect timeout' },
  ])('a connection that is never accepted (SYNs dropped at a full backlog), $label: SW_CONNECT_TIMEOUT within the connect timeout', async ({ stallTimeoutMs }) => {
    // A listener that never accepts, with a backlog of 0: once its queue holds a connection,
    // the kernel drops further SYNs, so a connect neither succeeds nor fails.
    const script = "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)";
    const holder = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = Number(await new Promise<string>((resolve) => holder.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      const fillers = [0, 1, 2].map(() => net.connect(port, '127.0.0.1').on('error', () => {}));
      await new Promise((r) => setTimeout(r, 200));
      const { result, elapsedMs } = await run(options(`http://127.0.0.1:${port}/`, ['download'], { connectTimeoutMs: 1000, stallTimeoutMs }));
      fillers.forEach((s) => s.destroy());
      expect(result.status).toBe('failed');
      expect(result.error).toMatchObject({ phase: 'download', code: 'SW_CONNECT_TIMEOUT' });
      expect(elapsedMs).toBeLessThan(2500);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it.skipIf(notRoot)('a host with no route to it (a network namespace with only loopback): SW_UNREACHABLE', async () => {
    const ns = `swunreach-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      const run = await runToEnd('ip', ['netns', 'exec', ns, process.execPath, BIN.agent, 'once', '--endpoint', 'http://10.254.254.1:8601/', '--tests', 'latency,download', '--json'], 30_000);
      const result = JSON.parse(run.stdout) as MeasurementResult;
      expect(run.code).toBe(3);
      expect(result.errors?.map((e) => e.code)).toEqual(['SW_UNREACHABLE', 'SW_UNREACHABLE']);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled).toEqual([]);
  });
});
