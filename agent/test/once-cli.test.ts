import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UsageError } from '@speedwatch/shared';
import { parseOnceArgs } from '../src/cli/once-options.js';

const run = promisify(execFile);
const BIN = new URL('../dist/src/bin/speedwatch-agent.js', import.meta.url).pathname;

function usageError(argv: string[]): string {
  try {
    parseOnceArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('speedwatch-agent once', () => {
  describe('flags', () => {
    it('defaults to all three tests, 4 streams, 10 s phases, an adaptive warm-up and the fixed target', () => {
      const c = parseOnceArgs(['--endpoint', 'http://127.0.0.1:8601/']);
      expect(c.test.tests).toEqual(['latency', 'download', 'upload']);
      expect(c.test.streams).toBe(4);
      expect(c.test.maxStreams).toBe(4);
      expect(c.test.durationMs).toBe(10_000);
      expect(c.test.warmupMs).toBe('auto');
      expect(c.technology).toBe('fixed');
      expect(c.json).toBe(false);
      expect(c.test.udp).toBe(false);
      expect(c.test).not.toHaveProperty('udpPort');
    });

    it('runs the UDP probe with --udp, on the port --udp-port names', () => {
      expect(parseOnceArgs(['--endpoint', 'http://h/', '--udp']).test.udp).toBe(true);
      const c = parseOnceArgs(['--endpoint', 'http://h/', '--udp', '--udp-port', '8862']);
      expect([c.test.udp, c.test.udpPort]).toEqual([true, 8862]);
    });

    it('counts cross traffic with --cross-traffic (threshold 25000 bytes a second unless given), and caps data with --max-bytes', () => {
      expect(parseOnceArgs(['--endpoint', 'http://h/', '--cross-traffic']).test.crossTraffic).toEqual({ thresholdBytesPerSec: 25_000 });
      const c = parseOnceArgs(['--endpoint', 'http://h/', '--cross-traffic', '--cross-traffic-interface', 'wwan0', '--cross-traffic-threshold', '50000', '--max-bytes', '20MB']);
      expect(c.test.crossTraffic).toEqual({ thresholdBytesPerSec: 50_000, interface: 'wwan0' });
      expect(c.test.maxBytes).toBe(20_000_000);
      expect(parseOnceArgs(['--endpoint', 'http://h/']).test).not.toHaveProperty('maxBytes');
    });

    it('reads every flag', () => {
      const c = parseOnceArgs(['--endpoint', 'http://h/', '--tests', 'upload,latency', '--duration', '6s', '--warmup', '1', '--streams', '2', '--technology', 'mobile', '--json', '--latency-count', '5']);
      expect(c.test.tests).toEqual(['latency', 'upload']);
      expect([c.test.durationMs, c.test.warmupMs, c.test.streams, c.test.latencyCount]).toEqual([6000, 1000, 2, 5]);
      expect(parseOnceArgs(['--endpoint', 'http://h/', '--warmup', 'auto', '--streams', '2', '--max-streams', '6']).test).toMatchObject({ warmupMs: 'auto', streams: 2, maxStreams: 6 });
      // No more than --streams: a fixed count.
      expect(parseOnceArgs(['--endpoint', 'http://h/', '--streams', '8', '--max-streams', '4']).test).toMatchObject({ streams: 8, maxStreams: 8 });
      expect(c.technology).toBe('mobile');
      expect(c.json).toBe(true);
    });

    it.each<[string[], RegExp]>([
      [[], /exactly one of --endpoint URL \(repeatable\) or --server-file FILE/],
      [['--endpoint', 'http://h/', '--server-file', 'x.json'], /exactly one of/],
      [['--endpoint', 'ftp://h/'], /^--endpoint: expected an http/],
      [['--endpoint', 'http://h/', '--streams', '0'], /--streams must be an integer from 1 to 32, got "0"/],
      [['--endpoint', 'http://h/', '--max-streams', '65'], /--max-streams must be an integer from 1 to 64, got "65"/],
      [['--endpoint', 'http://h/', '--warmup', 'soon'], /--warmup must be auto or a duration from 0 to 3600 seconds .*got "soon"/],
      [['--endpoint', 'http://h/', '--duration', 'long'], /--duration must be a duration/],
      [['--endpoint', 'http://h/', '--tests', 'download,jitter'], /unknown test "jitter"/],
      [['--endpoint', 'http://h/', '--technology', 'satellite'], /--technology must be one of fixed, mobile/],
      [['--endpoint', 'http://h/', '--duration', '4', '--warmup', '4'], /--warmup 4 must leave at least 1 s of --duration \(4 s\) to measure/],
      // 0.5 s left to measure: no rate could come of it.
      [['--endpoint', 'http://h/', '--duration', '4', '--warmup', '3.5'], /--warmup 3.5 must leave at least 1 s/],
      [['--endpoint', 'http://h/', '--bogus'], /Unknown option '--bogus'/],
      [['--endpoint', 'http://h/', '--udp', '--udp-port', '0'], /--udp-port must be an integer from 1 to 65535, got "0"/],
      [['--endpoint', 'http://h/', '--udp-port', '8862'], /--udp-port needs --udp/],
      [['--endpoint', 'http://h/', '--cross-traffic-interface', 'eth0'], /--cross-traffic-interface and --cross-traffic-threshold need --cross-traffic/],
      [['--endpoint', 'http://h/', '--cross-traffic', '--cross-traffic-interface', 'eth0; rm'], /--cross-traffic-interface must be an interface name like eth0/],
      [['--endpoint', 'http://h/', '--cross-traffic', '--cross-traffic-threshold', 'lots'], /--cross-traffic-threshold must be an integer/],
      [['--endpoint', 'http://h/', '--max-bytes', 'plenty'], /--max-bytes must be a size in bytes \(e.g. 20MB\), got "plenty"/],
      [['--server-file', '/nonexistent/servers.json'], /--server-file \/nonexistent\/servers.json: cannot read \(ENOENT\)/],
    ])('refuses %j', (argv, message) => {
      expect(usageError(argv)).toMatch(message);
    });

    it('names the server-list entry that is wrong', () => {
      const dir = mkdtempSync(join(tmpdir(), 'sw-once-'));
      const file = join(dir, 'servers.json');
      writeFileSync(file, JSON.stringify([{ name: 'a', server: 'http://a/' }, { name: 'b' }]));
      expect(usageError(['--server-file', file])).toMatch(/servers\[1\]\.server: expected/);
      writeFileSync(file, '[{');
      expect(usageError(['--server-file', file])).toMatch(/not JSON/);
    });
  });

  describe('process', () => {
    it('prints the usage on stdout and exits 0 for --help', async () => {
      const { stdout } = await run(process.execPath, [BIN, 'once', '--help']);
      expect(stdout).toMatch(/^Usage: speedwatch-agent once/);
    });

    it('prints a one-line error and the usage on stderr and exits 1 for a bad flag', async () => {
      const err = await run(process.execPath, [BIN, 'once', '--endpoint', 'http://h/', '--streams', 'many']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 1, stdout: '' });
      const stderr = (err as { stderr: string }).stderr;
      expect(stderr.split('\n')[0]).toBe('speedwatch-agent: --streams must be an integer from 1 to 32, got "many"');
      expect(stderr).toMatch(/Usage: speedwatch-agent once/);
    });

    it('refuses an unknown command', async () => {
      const err = await run(process.execPath, [BIN, 'twice']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 1 });
      expect((err as { stderr: string }).stderr).toMatch(/unknown command "twice"/);
    });
  });
});
