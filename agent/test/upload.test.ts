import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointFromBaseUrl } from '../src/measure/endpoints.js';
import { measureUpload } from '../src/measure/upload.js';
import { listen } from './util.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const options = {
  streams: 1,
  durationMs: 1600,
  warmupMs: 400,
  sampleIntervalMs: 200,
  connectTimeoutMs: 2000,
  stallTimeoutMs: 5000,
  userAgent: 'test',
};

/**
 * An upload sink that answers each body `answerDelayMs` after reading it, as a server a round
 * trip away would be heard from; it records how many requests each connection had open at once.
 */
async function delayedSink(answerDelayMs: number, answer: (res: http.ServerResponse, bytes: number) => void) {
  const open = new Map<net.Socket, number>();
  let mostOpen = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const now = (open.get(req.socket) ?? 0) + 1;
    open.set(req.socket, now);
    mostOpen = Math.max(mostOpen, now);
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      setTimeout(() => {
        open.set(req.socket, (open.get(req.socket) ?? 1) - 1);
        answer(res, bytes);
      }, answerDelayMs);
    });
  });
  const s = await listen(server);
  closers.push(s.close);
  return { url: s.url, stats: () => ({ mostOpen, requests }) };
}

describe('measureUpload', () => {
  it('sends the next body while the answer for the one before is on its way (pipelined on one connection)', async () => {
    const sink = await delayedSink(60, (res, bytes) => res.writeHead(200, { 'x-speedwatch-received-bytes': String(bytes), 'content-length': '0' }).end());
    const outcome = await measureUpload(endpointFromBaseUrl(sink.url), options);
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.confirmedBy).toBe('header');
    expect(sink.stats().mostOpen).toBeGreaterThanOrEqual(2);
  });

  it('counts only answered bodies against a server that closes the connection after each answer', async () => {
    const sink = await delayedSink(20, (res) => res.writeHead(200, { connection: 'close', 'content-length': '0' }).end());
    const outcome = await measureUpload(endpointFromBaseUrl(sink.url), options);
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.confirmedBy).toBe('response');
    expect(outcome.result?.mbps).toBeGreaterThan(0);
  });
});
