import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { busyDuringTest, crossBytes, OWN_TRAFFIC_TOLERANCE } from '../src/traffic/cross-traffic.js';
import { checkLine } from '../src/traffic/busy-line.js';
import type { InterfaceCounters } from '../src/traffic/interface-counters.js';
import { countersDelta, parseNetDev } from '../src/traffic/interface-counters.js';
import { OwnTraffic, wireBytes } from '../src/traffic/own-traffic.js';
import { bestRoute, parseIpv4Routes, parseIpv6Routes, routeInterface } from '../src/traffic/route-interface.js';
import { FakeClock } from './fake-clock.js';

// Shapes copied from a Linux 6.x box (columns abridged where the parser ignores them).
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 3961272467850 159146042    0  618    0     0          0         0 3961272467850 159146042    0    0    0     0       0          0
  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0
wlan0:       5       1    0    0    0     0          0         0        7       1    0    0    0     0       0          0
`;

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wwan0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
down0\t0001000A\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

const IPV6_ROUTE = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0
fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001     eth0
`;

const counters = (rxBytes: number, txBytes: number, rxPackets = 0, txPackets = 0): InterfaceCounters => ({ rxBytes, txBytes, rxPackets, txPackets });

describe('interface counters', () => {
  it('reads bytes and packets each way of every interface in /proc/net/dev', () => {
    const all = parseNetDev(NET_DEV);
    expect(all.get('eth0')).toEqual(counters(1000, 2000, 10, 20));
    expect(all.get('wlan0')).toEqual(counters(5, 7, 1, 1));
    expect(all.get('lo')?.rxBytes).toBe(3961272467850);
  });

  it('counts a counter that went back (an interface reset) from zero', () => {
    expect(countersDelta(counters(100, 100, 5, 5), counters(150, 40, 6, 2))).toEqual(counters(50, 40, 1, 2));
  });
});

describe('routeInterface', () => {
  const options = { readText: async (path: string) => (path.endsWith('ipv6_route') ? IPV6_ROUTE : ROUTE), ownAddresses: () => ['192.0.2.50'] };

  it.each([
    ['203.0.113.9', 'eth0', 'the default route with the lowest metric'],
    ['192.0.2.77', 'eth0', 'the connected subnet'],
    ['10.0.0.5', 'wwan0', 'the longest prefix (10.0.0.0/24 over the default)'],
    ['10.0.1.5', 'eth0', 'a route that is not up (10.0.1.0/24) is skipped'],
    ['127.0.0.1', 'lo', 'loopback'],
    ['192.0.2.50', 'lo', "the host's own address"],
    ['fd00::9', 'eth0', 'an IPv6 prefix'],
    ['2001:db8::1', 'eth0', 'the IPv6 default'],
    ['fd00::2', 'lo', 'an IPv6 local route'],
    ['::ffff:10.0.0.7', 'wwan0', 'an IPv4-mapped address by the IPv4 table'],
  ])('routes %s by %s (%s)', async (ip, iface) => {
    expect(await routeInterface(ip, options)).toBe(iface);
  });

  it('finds no interface when no route fits', () => {
    expect(bestRoute(0xac100001n, 32, parseIpv4Routes(ROUTE).filter((r) => r.prefixLength > 0))).toBeUndefined();
    expect(parseIpv6Routes(IPV6_ROUTE)).toHaveLength(3);
  });
});

describe('wireBytes', () => {
  it('adds a header to every full segment, an ACK for every two the other way, and the handshake', () => {
    // 1448 payload bytes a segment over IPv4: 100 segments in, none out.
    expect(wireBytes({ rxBytes: 144_800, txBytes: 0 }, 'IPv4', false)).toEqual({ rxBytes: 144_800 + 103 * 66, txBytes: (50 + 3) * 66 });
    expect(wireBytes({ rxBytes: 0, txBytes: 142_800 }, 'IPv6', false)).toEqual({ rxBytes: (50 + 3) * 86, txBytes: 142_800 + 103 * 86 });
  });
});

describe('OwnTraffic', () => {
  it("counts a plain socket's bytes from net.connect, and none after stop()", async () => {
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.resume(); // reads the client's end, so the server can close
      s.end(Buffer.alloc(50_000));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const fetchOnce = (): Promise<void> =>
      new Promise((resolve) => {
        const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write('hello'));
        socket.on('data', () => {});
        socket.on('close', () => resolve());
      });
    const own = new OwnTraffic().start();
    try {
      await fetchOnce();
      expect(own.sockets).toBe(1);
      expect(own.payload()).toEqual({ rxBytes: 50_000, txBytes: 5 });
      expect(own.family()).toBe('IPv4');
      expect(own.snapshot().rxBytes).toBeGreaterThan(50_000);
      own.stop();
      await fetchOnce();
      expect(own.sockets).toBe(1);
    } finally {
      own.stop();
      await new Promise((r) => server.close(r));
    }
  });

  it('counts datagrams with their headers, and as payload less a TCP packet\'s headers', () => {
    const own = new OwnTraffic();
    own.addDatagrams(250, 240, 172, 'IPv4');
    expect(own.snapshot()).toEqual({ rxBytes: 240 * 214, txBytes: 250 * 214 });
    expect(own.payload()).toEqual({ rxBytes: 240 * (214 - 66), txBytes: 250 * (214 - 66) });
  });
});

describe('crossBytes', () => {
  it("is the interface's payload (bytes less 66 a packet) less the test's own, each way", () => {
    // In: 10 MB of the test's in 1000 packets, 1 MB of another's in 700; out: only ACKs.
    const before = counters(5_000, 5_000, 10, 10);
    const after = counters(5_000 + 10_000_000 + 1000 * 66 + 1_000_000 + 700 * 66, 5_000 + 900 * 66, 10 + 1700, 10 + 900);
    expect(crossBytes(before, after, { rxBytes: 10_000_000, txBytes: 0 }, 66)).toEqual({ rxBytes: 1_000_000, txBytes: 0 });
  });

  it('never goes below zero', () => {
    expect(crossBytes(counters(0, 0), counters(100, 100, 1, 1), { rxBytes: 1000, txBytes: 1000 }, 66)).toEqual({ rxBytes: 0, txBytes: 0 });
  });
});

describe('busyDuringTest', () => {
  it.each([
    [300_000, 0, true, '30 kB/s against 25 kB/s'],
    [200_000, 0, false, '20 kB/s'],
    [1_000_000, 100_000_000, false, '100 kB/s, within 1% of 100 MB of own traffic (1 MB)'],
    [2_000_000, 100_000_000, true, '(2 MB − 1 MB) / 10 s = 100 kB/s beyond it'],
  ])('cross %d bytes beside %d of its own over 10 s: %s (%s)', (cross, own, expected) => {
    expect(OWN_TRAFFIC_TOLERANCE).toBe(0.01);
    expect(busyDuringTest(cross, own, 10_000, 25_000)).toBe(expected);
  });
});

describe('checkLine', () => {
  /** An interface moving `rates[i]` bytes a second during the i-th sample (counters read at its ends). */
  function lineWith(clock: FakeClock, rateAt: (ms: number) => number): (iface: string) => Promise<InterfaceCounters> {
    let bytes = 0;
    let last = 0;
    return async () => {
      bytes += (rateAt(last) * (clock.now() - last)) / 1000;
      last = clock.now();
      return counters(Math.round(bytes), 0);
    };
  }
  const settings = { thresholdBytesPerSec: 25_000, sampleMs: 3000, tries: 3, retryAfterMs: 30_000 };

  it('takes one sample and goes ahead on a quiet line', async () => {
    const clock = new FakeClock();
    const check = checkLine({ iface: 'eth0', settings, read: lineWith(clock, () => 1000), clock, signal: new AbortController().signal, startBy: 600_000 });
    await clock.advance(3000);
    expect(await check).toEqual({ quiet: true, samplesBytesPerSec: [1000] });
  });

  it('postpones 30 s then 60 s on a busy line, and goes ahead when it turns quiet', async () => {
    const clock = new FakeClock();
    const postponed: number[] = [];
    // Busy for the first 40 s, then quiet.
    const check = checkLine({ iface: 'eth0', settings, read: lineWith(clock, (t) => (t < 40_000 ? 100_000 : 2000)), clock, signal: new AbortController().signal, startBy: 600_000, onPostponed: (e) => postponed.push(e.waitMs) });
    await clock.advance(3000 + 30_000 + 3000 + 60_000 + 3000);
    expect(await check).toEqual({ quiet: true, samplesBytesPerSec: [100_000, 100_000, 2000] });
    expect(postponed).toEqual([30_000, 60_000]);
    expect(clock.now()).toBe(99_000);
  });

  it('gives up after the last try, and never waits past the time the test must start by', async () => {
    const busy = { iface: 'eth0', settings, signal: new AbortController().signal };
    const clock = new FakeClock();
    const tries = checkLine({ ...busy, read: lineWith(clock, () => 50_000), clock, startBy: 600_000 });
    await clock.advance(99_000);
    expect(await tries).toEqual({ quiet: false, samplesBytesPerSec: [50_000, 50_000, 50_000] });
    const soon = new FakeClock();
    // The slot leaves 20 s: no room for a 30 s wait and another sample.
    const bounded = checkLine({ ...busy, read: lineWith(soon, () => 50_000), clock: soon, startBy: 20_000 });
    await soon.advance(3000);
    expect(await bounded).toEqual({ quiet: false, samplesBytesPerSec: [50_000] });
    expect(soon.pending).toBe(0);
  });

  it('stops waiting when the run is aborted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const check = checkLine({ iface: 'eth0', settings, read: lineWith(clock, () => 50_000), clock, signal: controller.signal, startBy: 600_000 });
    await clock.advance(10_000);
    controller.abort(new DOMException('stopped', 'AbortError'));
    await expect(check).rejects.toThrow('stopped');
    expect(clock.pending).toBe(0);
  });
});
