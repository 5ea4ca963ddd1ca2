import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import net from 'node:net';
import { createLogger, readReflectorPacket, seededRandom, writeSenderPacket } from '@speedwatch/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EndpointListenError, MAX_UDP_SESSIONS, startEndpoint } from '../src/index.js';
import { startForTest } from './util.js';

/** A UDP socket bound on `address` that keeps every datagram it receives; closed when the test finishes. */
async function udpClient(address = '127.0.0.1'): Promise<{ socket: Socket; received: Buffer[]; send: (packet: Buffer, port: number) => Promise<void>; waitFor: (count: number, timeoutMs?: number) => Promise<void> }> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (packet: Buffer) => {
    received.push(packet);
    for (const wake of waiters) wake();
  });
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  onTestFinished(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return {
    socket,
    received,
    send: (packet, port) => new Promise<void>((resolve, reject) => socket.send(packet, port, '127.0.0.1', (err) => (err === null ? resolve() : reject(err)))),
    waitFor: (count, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${received.length} of ${count} datagrams within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

function senderPacket(seq: number, ssid: number, bytes = 172, unixMs = Date.now()): Buffer {
  const packet = Buffer.alloc(bytes);
  writeSenderPacket(packet, seq, unixMs, ssid);
  return packet;
}

/** Resolves once the reflector has counted `count` packets (answered or dropped); bounded. */
async function reflectorReceived(stats: () => { udp: { received: number } }, count: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (stats().udp.received < count) {
    if (Date.now() > deadline) throw new Error(`the reflector counted ${stats().udp.received} of ${count} packets within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the UDP reflector', () => {
  describe('answers', () => {
    it('listens on the HTTP port\'s number by default, and not at all with udpPort 0', async () => {
      const endpoint = await startForTest();
      expect(endpoint.udpPort).toBe(endpoint.port);
      const off = await startForTest({ udpPort: 0 });
      expect(off.udpPort).toBeUndefined();
      expect(off.stats().udp).toEqual({ received: 0, reflected: 0, dropped: {}, sendErrors: 0 });
    });

    it('answers each STAMP packet with one of the same length carrying its sequence number, its timestamp and the reflector\'s times', async () => {
      const endpoint = await startForTest();
      const client = await udpClient();
      const before = Date.now();
      for (const [seq, bytes] of [[0, 44], [1, 172], [2, 1472]] as const) await client.send(senderPacket(seq, 7, bytes, 1_000_000 + seq), endpoint.udpPort as number);
      await client.waitFor(3);
      const after = Date.now();
      expect(client.received.map((p) => p.length).sort((a, b) => a - b)).toEqual([44, 172, 1472]);
      for (const answer of client.received) {
        const r = readReflectorPacket(answer);
        expect(r?.ssid).toBe(7);
        expect(r?.senderUnixMs).toBeCloseTo(1_000_000 + (r?.senderSeq ?? 0), 3);
        expect(r?.receivedUnixMs).toBeGreaterThanOrEqual(before - 1);
        expect(r?.sentUnixMs).toBeGreaterThanOrEqual(r?.receivedUnixMs ?? Infinity);
        expect(r?.sentUnixMs).toBeLessThanOrEqual(after + 1);
        expect(answer.subarray(44).every((b) => b === 0)).toBe(true);
      }
      expect(endpoint.stats().udp).toEqual({ received: 3, reflected: 3, dropped: {}, sendErrors: 0 });
    });

    it('counts each session (address, port, SSID) on its own, from 0', async () => {
      const endpoint = await startForTest();
      const a = await udpClient();
      const b = await udpClient();
      const port = endpoint.udpPort as number;
      for (let i = 0; i < 3; i++) {
        await a.send(senderPacket(100 + i, 1), port);
        await a.waitFor(i + 1);
      }
      await a.send(senderPacket(0, 2), port); // same socket, another SSID
      await a.waitFor(4);
      await b.send(senderPacket(0, 1), port); // another port, same SSID
      await b.waitFor(1);
      expect(a.received.map((p) => readReflectorPacket(p)?.reflectorSeq)).toEqual([0, 1, 2, 0]);
      expect(a.received.map((p) => readReflectorPacket(p)?.senderSeq)).toEqual([100, 101, 102, 0]);
      expect(readReflectorPacket(b.received[0] as Buffer)?.reflectorSeq).toBe(0);
    });

    it(`keeps at most ${MAX_UDP_SESSIONS} sessions: the least recently seen is forgotten and starts again at 0`, async () => {
      const endpoint = await startForTest({ udpSourceRatePps: 1_000_000, udpRatePps: 1_000_000 });
      const client = await udpClient();
      const port = endpoint.udpPort as number;
      // One packet of each of MAX_UDP_SESSIONS + 1 sessions (SSIDs 0…4096), in batches so no socket buffer overflows.
      for (let ssid = 0; ssid <= MAX_UDP_SESSIONS; ssid += 256) {
        const last = Math.min(ssid + 256, MAX_UDP_SESSIONS + 1);
        for (let s = ssid; s < last; s++) await client.send(senderPacket(0, s), port);
        await client.waitFor(last);
      }
      await client.send(senderPacket(1, MAX_UDP_SESSIONS), port); // still kept: its second packet
      await client.waitFor(MAX_UDP_SESSIONS + 2);
      await client.send(senderPacket(1, 0), port); // evicted by the last new session
      await client.waitFor(MAX_UDP_SESSIONS + 3);
      const tail = client.received.slice(-2).map((p) => [readReflectorPacket(p)?.ssid, readReflectorPacket(p)?.reflectorSeq]);
      expect(tail).toEqual([[MAX_UDP_SESSIONS, 1], [0, 0]]);
    });
  });

  describe('hostile input', () => {
    it('drops short and oversized packets, answers every other one with no more bytes than it got, and never fails', async () => {
      const endpoint = await startForTest({ udpSourceRatePps: 1_000_000, udpRatePps: 1_000_000 });
      const client = await udpClient();
      const random = seededRandom(14);
      const sizes = Array.from({ length: 600 }, () => Math.floor(random() * 2000));
      sizes.push(0, 1, 43, 44, 1472, 1473);
      let answerable = 0;
      for (let i = 0; i < sizes.length; i++) {
        const size = sizes[i] as number;
        const junk = Buffer.alloc(size);
        for (let j = 0; j < size; j++) junk[j] = Math.floor(random() * 256);
        if (size >= 44 && size <= 1472) answerable++;
        await client.send(junk, endpoint.udpPort as number);
        if (i % 50 === 49) await reflectorReceived(endpoint.stats, i + 1);
      }
      await reflectorReceived(endpoint.stats, sizes.length);
      await client.waitFor(answerable);
      const sent = new Map<number, number>();
      for (const size of sizes) sent.set(size, (sent.get(size) ?? 0) + 1);
      for (const answer of client.received) {
        // Each answer is as long as one request (and so never longer): take that request off the list.
        expect(sent.get(answer.length) ?? 0).toBeGreaterThan(0);
        sent.set(answer.length, (sent.get(answer.length) ?? 0) - 1);
        expect(answer.length).toBeGreaterThanOrEqual(44);
        expect(answer.length).toBeLessThanOrEqual(1472);
      }
      const short = sizes.filter((s) => s < 44).length;
      const large = sizes.filter((s) => s > 1472).length;
      expect(endpoint.stats().udp).toEqual({ received: sizes.length, reflected: answerable, dropped: { short, 'too-large': large }, sendErrors: 0 });
      expect(client.received).toHaveLength(answerable);
      // Still answering after all that.
      const http = await fetch(`${endpoint.url}empty.php`);
      expect(http.status).toBe(200);
    });

    it('holds a flooding source to its rate, counts the drops, logs them at most once per 10 s, and still answers another source', async () => {
      const lines: { event?: string; dropped?: Record<string, number> }[] = [];
      const logger = createLogger({ level: 'warn', write: (line) => lines.push(JSON.parse(line) as { event?: string }) });
      const endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, logger, udpSourceRatePps: 1000 });
      const flooder = await udpClient();
      const other = await udpClient('127.0.0.2');
      const port = endpoint.udpPort as number;
      const started = performance.now();
      const flood = 3000;
      for (let i = 0; i < flood; i++) {
        void flooder.send(senderPacket(i, 1), port);
        if (i % 200 === 199) await reflectorReceived(endpoint.stats, i + 1);
      }
      await reflectorReceived(endpoint.stats, flood);
      const elapsedS = (performance.now() - started) / 1000;
      for (let i = 0; i < 5; i++) await other.send(senderPacket(i, 9), port);
      await other.waitFor(5);
      const udp = endpoint.stats().udp;
      // The bucket: a burst of 200, then 1000 a second.
      const allowed = 200 + 1000 * elapsedS;
      expect(udp.reflected - 5).toBeLessThanOrEqual(Math.ceil(allowed));
      expect(udp.dropped['rate-limited-source']).toBe(flood + 5 - udp.reflected);
      expect(udp.dropped['rate-limited-source']).toBeGreaterThan(flood - allowed - 1);
      expect(elapsedS).toBeLessThan(2); // else the bound above says little
      await endpoint.close();
      const dropLines = lines.filter((l) => l.event === 'udp-dropped');
      // One line at the first drop, one (on close) for the rest: never one per packet.
      expect(dropLines.length).toBeLessThanOrEqual(2);
      expect(dropLines.reduce((sum, l) => sum + (l.dropped?.['rate-limited-source'] ?? 0), 0)).toBe(udp.dropped['rate-limited-source']);
    });

    it('holds all sources together to the global rate', async () => {
      const endpoint = await startForTest({ udpSourceRatePps: 1_000_000, udpRatePps: 100 });
      const a = await udpClient();
      const b = await udpClient('127.0.0.2');
      const port = endpoint.udpPort as number;
      for (let i = 0; i < 100; i++) {
        await a.send(senderPacket(i, 1), port);
        await b.send(senderPacket(i, 1), port);
      }
      await reflectorReceived(endpoint.stats, 200);
      const udp = endpoint.stats().udp;
      expect(udp.reflected).toBeLessThan(60); // a burst of 10, then 100 a second over well under half a second
      expect(udp.dropped['rate-limited-global']).toBe(200 - udp.reflected);
    });
  });

  it('fails to start with SW_ENDPOINT_LISTEN naming UDP when its port is taken, and frees the HTTP port', async () => {
    const holder = createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const taken = holder.address().port;
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const httpPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await startEndpoint({ host: '127.0.0.1', port: httpPort, udpPort: taken }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EndpointListenError);
    expect((err as EndpointListenError).code).toBe('SW_ENDPOINT_LISTEN');
    expect((err as Error).message).toContain(`127.0.0.1:${taken} (UDP)`);
    const again = await startForTest({ port: httpPort, udpPort: 0 });
    expect(again.port).toBe(httpPort);
  });
});
