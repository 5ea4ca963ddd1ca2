import type http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { MeasurementResult } from '@speedwatch/shared';

/** Starts `server` on a free loopback port; returns its base URL and a closer that also drops open sockets. */
export async function listen(server: http.Server | net.Server): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP server whose every connection is handed to `onConnection` (for hand-written HTTP). */
export function rawServer(onConnection: (socket: net.Socket) => void): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    onConnection(socket);
  });
}

/** A typical result: latency, download and upload with 40 samples each, about 1.5 KB of JSON. */
export function makeResult(n: number): MeasurementResult {
  const samplesMbps = Array.from({ length: 40 }, (_, i) => 90 + ((i * 7 + n) % 9) + 0.25);
  const throughput = { mbps: 93.5, bytes: 93_500_000, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: 117_000_000, sampleIntervalMs: 250, samplesMbps };
  return {
    schemaVersion: 1,
    id: resultId(n),
    status: 'ok',
    startedAt: '2025-03-01T08:00:00.000Z',
    finishedAt: '2025-03-01T08:00:25.000Z',
    technology: 'fixed',
    endpoint: { name: 'lab', url: 'http://192.0.2.10:8601/', reason: 'only' },
    clientIp: '198.51.100.7',
    latency: { count: 20, minMs: 9.1, medianMs: 11.2, meanMs: 11.4, p90Ms: 13.0, maxMs: 15.2, jitterMs: 0.8, lossRatio: 0, samplesMs: Array.from({ length: 20 }, (_, i) => 9 + (i % 7) * 0.9) },
    download: throughput,
    upload: { ...throughput, mbps: 19.5, confirmedBy: 'header' },
    agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: 'v20.18.1' },
  };
}

export function resultId(n: number): string {
  return `result-${String(n).padStart(6, '0')}`;
}
