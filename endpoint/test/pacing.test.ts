import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startForTest } from './util.js';

// The endpoint's promise: at maxMbps 50, clients see 50 Mbps ± 2% of payload, summed over
// every connection, measured here over a 6 s window that starts after 0.5 s of warm-up.
const MBPS = 50;
const STREAMS = 4;
const WINDOW_START_MS = 500;
const WINDOW_END_MS = 6_500;

function mbps(bytes: number, ms: number): number {
  return (bytes * 8) / (ms / 1000) / 1e6;
}

/** Cumulative bytes at `t` on a curve of (time, bytes) points, linear between points. */
function bytesAt(points: readonly (readonly [number, number])[], t: number): number {
  let previous: readonly [number, number] = [0, 0];
  for (const point of points) {
    if (point[0] >= t) {
      const span = point[0] - previous[0];
      return span <= 0 ? point[1] : previous[1] + ((point[1] - previous[1]) * (t - previous[0])) / span;
    }
    previous = point;
  }
  throw new Error(`curve ends at ${previous[0].toFixed(0)} ms, before ${t} ms`);
}

describe('startEndpoint with maxMbps', () => {
  it(`holds ${STREAMS} concurrent downloads together to ${MBPS} Mbps ± 2%`, async () => {
    const endpoint = await startForTest({ maxMbps: MBPS });
    const started = performance.now();
    let received = 0;
    const requests = Array.from({ length: STREAMS }, (_, i) => {
      const req = http.get(`${endpoint.url}garbage.php?ckSize=200&r=${i}`, { agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
      });
      req.on('error', () => {});
      return req;
    });
    onTestFinished(() => {
      for (const req of requests) req.destroy();
    });
    const snapshot = (atMs: number): Promise<[number, number]> =>
      new Promise((resolve) => setTimeout(() => resolve([performance.now(), received]), atMs - (performance.now() - started)));
    const [t0, b0] = await snapshot(WINDOW_START_MS);
    const [t1, b1] = await snapshot(WINDOW_END_MS);
    const rate = mbps(b1 - b0, t1 - t0);
    console.log(`paced download: ${rate.toFixed(2)} Mbps over ${(t1 - t0).toFixed(0)} ms with ${STREAMS} streams`);
    expect(rate).toBeGreaterThan(MBPS * 0.98);
    expect(rate).toBeLessThan(MBPS * 1.02);
  });

  it(`holds ${STREAMS} concurrent uploads together to ${MBPS} Mbps ± 2%, counting confirmed bytes`, async () => {
    const endpoint = await startForTest({ maxMbps: MBPS });
    const body = randomBytes(256 * 1024);
    const started = performance.now();
    const elapsed = (): number => performance.now() - started;

    // Each stream POSTs bodies back to back on one keep-alive connection. Its curve of
    // confirmed bytes rises from request start to confirmation, as the agent interpolates it.
    const stream = async (): Promise<[number, number][]> => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      onTestFinished(() => agent.destroy());
      const points: [number, number][] = [];
      let confirmed = 0;
      while (elapsed() < WINDOW_END_MS + 50) {
        points.push([elapsed(), confirmed]);
        const header = await new Promise<string | undefined>((resolve, reject) => {
          const req = http.request(
            `${endpoint.url}empty.php`,
            { method: 'POST', agent, headers: { 'Content-Length': body.length }, signal: AbortSignal.timeout(10_000) },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.headers['x-speedwatch-received-bytes'] as string | undefined));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        expect(header).toBe(String(body.length));
        confirmed += body.length;
        points.push([elapsed(), confirmed]);
      }
      return points;
    };
    const curves = await Promise.all(Array.from({ length: STREAMS }, () => stream()));
    const total = (t: number): number => curves.reduce((sum, curve) => sum + bytesAt(curve, t), 0);
    const rate = mbps(total(WINDOW_END_MS) - total(WINDOW_START_MS), WINDOW_END_MS - WINDOW_START_MS);
    console.log(`paced upload: ${rate.toFixed(2)} Mbps over ${WINDOW_END_MS - WINDOW_START_MS} ms with ${STREAMS} streams`);
    expect(rate).toBeGreaterThan(MBPS * 0.98);
    expect(rate).toBeLessThan(MBPS * 1.02);
  });
});

describe('startEndpoint without maxMbps', () => {
  it('serves a download faster than 1 Gbit/s on loopback', async () => {
    const endpoint = await startForTest();
    const started = performance.now();
    const bytes = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${endpoint.url}garbage?ckSize=512`, { agent: false, signal: AbortSignal.timeout(20_000) }, (res) => {
        let count = 0;
        res.on('data', (chunk: Buffer) => {
          count += chunk.length;
        });
        res.on('end', () => resolve(count));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    const rate = mbps(bytes, performance.now() - started);
    console.log(`unpaced download: ${rate.toFixed(0)} Mbps (one node:http client stream)`);
    expect(bytes).toBe(512 * 1_048_576);
    expect(rate).toBeGreaterThan(1_000);
  });
});
