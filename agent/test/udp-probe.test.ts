import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { reflectInPlace, senderSsid } from '@speedwatch/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { interarrivalJitter, measureUdp, sendUdpStream, udpFigures } from '../src/measure/udp-probe.js';
import type { UdpReply } from '../src/measure/udp-probe.js';
import { MeasureError } from '../src/measure/measure-error.js';

/** A UDP socket on loopback that hands each datagram to `answer`; closed when the test finishes. */
async function reflector(answer: (packet: Buffer, rinfo: RemoteInfo, socket: Socket) => void): Promise<number> {
  const socket = createSocket('udp4');
  socket.on('message', (packet: Buffer, rinfo: RemoteInfo) => answer(packet, rinfo, socket));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket.address().port;
}

/** A stateful STAMP reflector as the endpoint's: its own counter per SSID. */
function stampAnswer(): (packet: Buffer, rinfo: RemoteInfo, socket: Socket) => void {
  const counters = new Map<number, number>();
  return (packet, rinfo, socket) => {
    const ssid = senderSsid(packet);
    const seq = counters.get(ssid) ?? 0;
    counters.set(ssid, seq + 1);
    const t = performance.timeOrigin + performance.now();
    reflectInPlace(packet, seq, t, t);
    socket.send(packet, rinfo.port, rinfo.address);
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MeasureError);
  return (err as MeasureError).code;
}

const SHORT = { packets: 20, intervalMs: 5, packetBytes: 172, timeoutMs: 1_000 };

describe('the UDP probe', () => {
  describe('udpFigures', () => {
    /*
     * Ten packets sent 20 ms apart (T1 = 20 × seq). The reflector's clock is 1000 ms ahead.
     * Way out: 10 ms plus f, and packet 3 lost: the reflector counts 0 1 2 4 5 6 7 8 9 as 0…8.
     * Way back: 10 ms plus b, 0.1 ms in the reflector; answers to 6 and 9 lost, 5 held 45 ms so it
     * comes after 7. Last packet answered: 8, which the reflector counted as its 7th (seq 7):
     * out, 9 sent up to it and 8 counted (1 lost, 1/9); back, 8 counted and 7 answers (1 lost, 1/8);
     * packet 9 is lost, direction unknown: it counts in the overall 3/10 only.
     */
    const f: Record<number, number> = { 0: 0, 1: 1, 2: 0, 4: 2, 5: 0, 7: 1, 8: 0 };
    const b: Record<number, number> = { 0: 0, 1: 0.5, 2: 0, 4: 0, 7: 0, 5: 45, 8: 0 };
    const reflectorSeq: Record<number, number> = { 0: 0, 1: 1, 2: 2, 4: 3, 5: 4, 7: 6, 8: 7 };
    const reply = (seq: number): UdpReply => {
      const t1 = 20 * seq;
      const t2 = 1000 + t1 + 10 + (f[seq] as number);
      const t3 = t2 + 0.1;
      return { senderSeq: seq, reflectorSeq: reflectorSeq[seq] as number, t1SentMs: t1, t2ReflectorReceivedMs: t2, t3ReflectorSentMs: t3, t4ReceivedMs: t3 - 1000 + 10 + (b[seq] as number) };
    };
    const arrival = [0, 1, 2, 4, 7, 5, 8];
    const figures = udpFigures({ port: 8601, packetBytes: 172, intervalMs: 20, sent: 10, replies: arrival.map(reply), duplicates: 0, reordered: 1 });

    it('tells loss out from loss back by the reflector\'s counter', () => {
      expect(figures).toMatchObject({ sent: 10, received: 7, lossRatio: 0.3, forwardLossRatio: 1 / 9, returnLossRatio: 1 / 8, reordered: 1 });
    });

    it('takes the round trip less the time in the reflector: 20 ms plus f plus b', () => {
      // 20 20 20 21 21.5 22 65: p95 at rank 0.95 × 6 = 5.7, between 22 and 65.
      expect(figures.rttMinMs).toBeCloseTo(20, 9);
      expect(figures.rttMedianMs).toBeCloseTo(21, 9);
      expect(figures.rttP95Ms).toBeCloseTo(22 + 0.7 * 43, 9);
      expect(figures.rttMaxMs).toBeCloseTo(65, 9);
    });

    it('computes RFC 3550 jitter each way, out in the reflector\'s order and back in arrival order', () => {
      // Out, |D| = |f_j − f_i| over 0 1 2 4 5 7 8: 1 1 2 2 1 1. Back, |b_j − b_i| over 0 1 2 4 7 5 8: 0.5 0.5 0 0 45 45.
      const rfc3550 = (ds: number[]): number => ds.reduce((j, d) => j + (d - j) / 16, 0);
      expect(figures.forwardJitterMs).toBeCloseTo(rfc3550([1, 1, 2, 2, 1, 1]), 9);
      expect(figures.forwardJitterMs).toBeCloseTo(0.42749589681625366, 9);
      expect(figures.returnJitterMs).toBeCloseTo(rfc3550([0.5, 0.5, 0, 0, 45, 45]), 9);
    });

    it('has no jitter for one packet, or for packets evenly spaced', () => {
      expect(interarrivalJitter([0], [5])).toBe(0);
      expect(interarrivalJitter([0, 20, 40], [7, 27, 47])).toBe(0);
    });
  });

  describe('against a reflector', () => {
    it('measures a clean loopback path: every packet back, nothing lost either way', async () => {
      const port = await reflector(stampAnswer());
      const result = await measureUdp({ ...SHORT, host: '127.0.0.1', port });
      expect(result).toMatchObject({ port, packetBytes: 172, intervalMs: 5, sent: 20, received: 20, lossRatio: 0, forwardLossRatio: 0, returnLossRatio: 0, duplicates: 0, reordered: 0 });
      expect(result.rttMedianMs).toBeGreaterThan(0);
      expect(result.rttMedianMs).toBeLessThan(20);
    });

    it('sends packets of the size asked, paced at the interval', async () => {
      const arrivals: { bytes: number; at: number }[] = [];
      const answer = stampAnswer();
      const port = await reflector((packet, rinfo, socket) => {
        arrivals.push({ bytes: packet.length, at: performance.now() });
        answer(packet, rinfo, socket);
      });
      await measureUdp({ ...SHORT, packets: 30, intervalMs: 10, host: '127.0.0.1', port });
      expect(new Set(arrivals.map((a) => a.bytes))).toEqual(new Set([172]));
      const spanMs = (arrivals.at(-1)?.at ?? 0) - (arrivals[0]?.at ?? 0);
      expect(spanMs).toBeGreaterThan(29 * 10 - 5);
      expect(spanMs).toBeLessThan(29 * 10 + 60);
    });

    it('ignores garbage, foreign sessions and forged timestamps, and counts a second answer as a duplicate', async () => {
      const answer = stampAnswer();
      const port = await reflector((packet, rinfo, socket) => {
        socket.send(Buffer.from('not stamp'), rinfo.port, rinfo.address);
        const foreign = Buffer.from(packet);
        foreign.writeUInt16BE((senderSsid(packet) + 1) & 0xffff, 14);
        reflectInPlace(foreign, 0, 0, 0);
        socket.send(foreign, rinfo.port, rinfo.address);
        const forged = Buffer.from(packet);
        forged.writeUInt32BE(forged.readUInt32BE(4) + 1, 4); // a timestamp one second off
        reflectInPlace(forged, 0, 0, 0);
        socket.send(forged, rinfo.port, rinfo.address);
        const copy = Buffer.from(packet);
        answer(packet, rinfo, socket);
        reflectInPlace(copy, 99, 0, 0);
        socket.send(copy, rinfo.port, rinfo.address);
      });
      const result = await measureUdp({ ...SHORT, host: '127.0.0.1', port });
      expect(result).toMatchObject({ sent: 20, received: 20, lossRatio: 0 });
      // The probe stops once every packet is answered: the last packet's second answer may come after.
      expect(result.duplicates).toBeGreaterThanOrEqual(19);
      expect(result.duplicates).toBeLessThanOrEqual(20);
    });

    it('fails with SW_UDP_NO_REPLY at once when the host says nothing listens on the port', async () => {
      const closed = createSocket('udp4');
      await new Promise<void>((resolve) => closed.bind(0, '127.0.0.1', resolve));
      const port = closed.address().port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const started = performance.now();
      expect(await codeOf(sendUdpStream({ ...SHORT, packets: 200, intervalMs: 10, host: '127.0.0.1', port }))).toBe('SW_UDP_NO_REPLY');
      expect(performance.now() - started).toBeLessThan(500);
    });

    it('stops early with SW_UDP_NO_REPLY when a reflector answers nothing within the timeout', async () => {
      let received = 0;
      const port = await reflector(() => {
        received++;
      });
      const started = performance.now();
      expect(await codeOf(sendUdpStream({ packets: 500, intervalMs: 10, packetBytes: 172, timeoutMs: 300, host: '127.0.0.1', port }))).toBe('SW_UDP_NO_REPLY');
      const tookMs = performance.now() - started;
      expect(tookMs).toBeLessThan(1_500); // not the 5 s the stream would have taken, nor its wait after
      expect(received).toBeLessThan(60);
    });

    it('stops with SW_ABORTED when its signal aborts', async () => {
      const port = await reflector(stampAnswer());
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      expect(await codeOf(sendUdpStream({ ...SHORT, packets: 500, host: '127.0.0.1', port, signal: controller.signal }))).toBe('SW_ABORTED');
    });

    it('reads an answer from a stateless reflector (its counter is the sender\'s) as all loss on the way back', async () => {
      const port = await reflector((packet, rinfo, socket) => {
        const seq = packet.readUInt32BE(0);
        if (seq === 5) return; // "lost": forward or back, a stateless reflector cannot say
        reflectInPlace(packet, seq, 0, 0);
        socket.send(packet, rinfo.port, rinfo.address);
      });
      const result = await measureUdp({ ...SHORT, host: '127.0.0.1', port });
      expect(result).toMatchObject({ received: 19, forwardLossRatio: 0, returnLossRatio: 1 / 20 });
    });
  });
});
