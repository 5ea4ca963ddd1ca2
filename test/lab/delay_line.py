#!/usr/bin/env python3
"""A user-space delay line for the lab: two TUN devices and one forwarding loop between them.

Started by test/lab/delay-line.ts (the TypeScript harness moves each device into its own network
namespace after this script reports it ready); not meant to be run by hand, though it can be:

    delay_line.py DEV_A DEV_B --rate-mbit 102 --delay-ms 20 --loss 0.001 --queue-bytes 510000

Each direction is a router's bottleneck port: a packet read from one device is
  1. dropped with probability --loss (a seeded random generator, so a run can be repeated),
  2. dropped if the FIFO queue in front of the link already holds more than --queue-bytes
     (or --queue-packets) waiting to be sent (tail drop),
  3. serialised at --rate-mbit (a token bucket one packet deep: each packet leaves the link
     size*8/rate after the one before it, or after it arrived if the link was idle), where a
     packet's size is its IP length plus --overhead-bytes (14 by default: an Ethernet header,
     what tbf counts on the clean lab's veth),
  4. held for --delay-ms after it has left the link, then written to the other device.
Both directions have the same settings. Rate 0 means no rate limit. With --realtime the loop runs
at SCHED_FIFO priority, so that other processes on a busy machine do not stall the link.

The devices are opened with IFF_TUN | IFF_NO_PI: one read is one IP packet, with no header of
ours. A TUN device without IFF_VNET_HDR offers no segmentation offload, so the kernel hands over
packets no larger than the device's MTU (1500): the rate is counted on real packet sizes.

Protocol on stdin/stdout (one line each):
  stdout "ready"                       after both devices exist
  stdin  "set rate=R delay=D loss=L queue_bytes=B queue_packets=P seed=S"   (any subset)
  stdout "ok"                          once the new settings hold (queues are emptied)
  stdin  "stats"  -> stdout "stats {json}"   counters per direction, the bytes released and
                                             waiting in the queue, and the time (atMs)
  stdin EOF or SIGTERM: exit, which removes both devices.
"""
import argparse
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import time
from collections import deque

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
READ_BYTES = 65536


def open_tun(name):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH22x', name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Direction:
    """One way through the link: loss, tail-drop FIFO, serialisation at the rate, delay."""

    def __init__(self, name, src, dst):
        self.name = name
        self.src = src
        self.dst = dst
        self.pending = deque()  # (release time, packet), in release order
        self.busy_until = 0.0  # when the link finishes sending what it has accepted
        self.stats = {'packets': 0, 'bytes': 0, 'releasedBytes': 0, 'maxPacketBytes': 0, 'lost': 0, 'tailDropped': 0, 'maxQueueBytes': 0, 'lateMsMax': 0.0}

    def reset(self):
        self.pending.clear()
        self.busy_until = 0.0
        for key in self.stats:
            self.stats[key] = 0 if key != 'lateMsMax' else 0.0


class DelayLine:
    def __init__(self, dev_a, dev_b, settings):
        self.fd_a = open_tun(dev_a)
        self.fd_b = open_tun(dev_b)
        self.dirs = {self.fd_a: Direction('a-to-b', self.fd_a, self.fd_b), self.fd_b: Direction('b-to-a', self.fd_b, self.fd_a)}
        self.apply(settings)

    def apply(self, s):
        self.settings = s
        self.rate_bytes_per_s = s['rate_mbit'] * 1e6 / 8
        self.delay_s = s['delay_ms'] / 1000
        self.loss = s['loss']
        self.queue_bytes = s['queue_bytes']
        self.queue_packets = s['queue_packets']
        self.overhead = s['overhead_bytes']
        self.random = random.Random(s['seed'])
        for d in self.dirs.values():
            d.reset()

    def accept(self, d, packet, now):
        """Loss, queue and rate for one packet read from d.src."""
        d.stats['packets'] += 1
        if len(packet) > d.stats['maxPacketBytes']:
            d.stats['maxPacketBytes'] = len(packet)
        if self.loss > 0 and self.random.random() < self.loss:
            d.stats['lost'] += 1
            return
        rate = self.rate_bytes_per_s
        if rate > 0:
            size = len(packet) + self.overhead
            start = d.busy_until if d.busy_until > now else now
            # Bytes still waiting for the link when this packet arrives (the one being sent included).
            queued = (start - now) * rate
            if queued + size > self.queue_bytes or (self.queue_packets > 0 and queued / size >= self.queue_packets):
                d.stats['tailDropped'] += 1
                return
            if queued > d.stats['maxQueueBytes']:
                d.stats['maxQueueBytes'] = int(queued)
            d.busy_until = start + size / rate
            release = d.busy_until + self.delay_s
        else:
            release = now + self.delay_s
        d.stats['bytes'] += len(packet)
        d.pending.append((release, packet))

    def run(self, control):
        fds = [self.fd_a, self.fd_b, control]
        read = os.read
        write = os.write
        clock = time.monotonic
        line = b''
        while True:
            now = clock()
            timeout = None
            for d in self.dirs.values():
                if d.pending:
                    wait = d.pending[0][0] - now
                    if timeout is None or wait < timeout:
                        timeout = wait
            if timeout is not None and timeout < 0:
                timeout = 0
            ready, _, _ = select.select(fds, [], [], timeout)
            now = clock()
            for fd in ready:
                if fd == control:
                    chunk = read(control, 4096)
                    if not chunk:
                        return
                    line += chunk
                    while b'\n' in line:
                        command, line = line.split(b'\n', 1)
                        self.command(command.decode().strip())
                    continue
                d = self.dirs[fd]
                # Drain what the kernel has, but bounded, so the other direction is served too.
                for _ in range(64):
                    try:
                        packet = read(fd, READ_BYTES)
                    except BlockingIOError:
                        break
                    self.accept(d, packet, now)
            now = clock()
            for d in self.dirs.values():
                pending = d.pending
                while pending and pending[0][0] <= now:
                    release, packet = pending.popleft()
                    late = (now - release) * 1000
                    if late > d.stats['lateMsMax']:
                        d.stats['lateMsMax'] = late
                    d.stats['releasedBytes'] += len(packet)
                    try:
                        write(d.dst, packet)
                    except OSError:
                        pass  # the device went down: the packet is lost, as on a wire

    def command(self, command):
        if command == 'stats':
            now = time.monotonic()
            out = {d.name: dict(d.stats, atMs=now * 1000, queueBytes=int(max(0.0, d.busy_until - now) * self.rate_bytes_per_s)) for d in self.dirs.values()}
            print('stats ' + json.dumps(out), flush=True)
            return
        if command.startswith('set'):
            s = dict(self.settings)
            try:
                for part in command.split()[1:]:
                    key, _, value = part.partition('=')
                    s[KEYS[key]] = float(value) if key in ('rate', 'delay', 'loss') else int(value)
            except (KeyError, ValueError):
                print('error bad setting in ' + json.dumps(command), flush=True)
                return
            self.apply(s)
            print('ok', flush=True)
            return
        print('error unknown command ' + json.dumps(command), flush=True)


KEYS = {'rate': 'rate_mbit', 'delay': 'delay_ms', 'loss': 'loss', 'queue_bytes': 'queue_bytes', 'queue_packets': 'queue_packets', 'seed': 'seed', 'overhead': 'overhead_bytes'}


def main():
    parser = argparse.ArgumentParser(description='User-space delay line between two TUN devices.')
    parser.add_argument('dev_a')
    parser.add_argument('dev_b')
    parser.add_argument('--rate-mbit', type=float, default=0)
    parser.add_argument('--delay-ms', type=float, default=0)
    parser.add_argument('--loss', type=float, default=0)
    parser.add_argument('--queue-bytes', type=int, default=1 << 20)
    parser.add_argument('--queue-packets', type=int, default=0)
    parser.add_argument('--overhead-bytes', type=int, default=14)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--realtime', action='store_true', help='run at SCHED_FIFO priority 10 (root)')
    args = parser.parse_args()
    if args.realtime:
        # Other work on the machine must not stall the link: a forwarder that is not scheduled
        # for 50 ms is a link that stops for 50 ms. The kernel's real-time throttling still
        # leaves others 5% of each second, and this loop sleeps in select() between packets.
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except OSError as err:
            print(f'delay_line: no real-time priority ({err}); running as a normal process', file=sys.stderr)
    settings = {
        'rate_mbit': args.rate_mbit,
        'delay_ms': args.delay_ms,
        'loss': args.loss,
        'queue_bytes': args.queue_bytes,
        'queue_packets': args.queue_packets,
        'overhead_bytes': args.overhead_bytes,
        'seed': args.seed,
    }
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    line = DelayLine(args.dev_a, args.dev_b, settings)
    print('ready', flush=True)
    line.run(sys.stdin.fileno())


if __name__ == '__main__':
    main()
