/**
 * The long fat pipe: the delay line of test/lab/ at 200 Mbit/s and 200 ms of round trip, with
 * both hosts' TCP buffers held to 1 MB (`tcp_rmem`/`tcp_wmem` in each namespace). That scales
 * down what a box meets on a gigabit line to a far test point (Linux's default 4–6 MB buffers
 * hold a stream to ~150 Mbit/s at 200 ms) to rates the lab's forwarder carries honestly. Each
 * stream is held by its window to about a quarter of the line, so:
 *
 * - the agent with a fixed 2 s warm-up and 4 streams (`--max-streams 4`) must read under 60% of
 *   the payload capacity: the lab's premise, that the streams and not the line are the limit;
 * - with `--max-streams 16` and a 15 s phase its ramp (agent/src/measure/ramp.ts) must add
 *   streams, record it, and read within −8…+3% of the capacity (docs/measurement.md, "Warm-up
 *   and streams": the added streams' slow start at 200 ms takes seconds, and what of it falls
 *   in the window costs a few percent).
 *
 * Needs root, iproute2, python3 and /dev/net/tun; skipped with a printed reason where they are
 * missing, except under CI, where that fails.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import type { DelayLink } from './lab/delay-line.js';
import { payloadCapacityMbps, startDelayLink } from './lab/delay-line.js';
import { labSkipReason } from './lab/prerequisites.js';
import { NICE } from './lab/references.js';
import type { Running } from './support/processes.js';
import { BIN, runToEnd, startEndpointProcess } from './support/processes.js';

const RATE_MBIT = 200;
const DELAY_MS = 100;
const BUFFER_BYTES = 1024 * 1024;
const ENDPOINT_PORT = '8601';

const missing = labSkipReason('long-path lab', { tools: ['ip', 'python3'], tun: true });

describe.skipIf(missing !== undefined)('long-path lab (delay line, 200 ms round trip, 1 MB TCP buffers)', () => {
  let link: DelayLink | undefined;
  let endpoint: Running | undefined;
  const rows: string[] = [];
  const capacity = payloadCapacityMbps(RATE_MBIT);

  beforeAll(async () => {
    link = await startDelayLink({ rateMbit: RATE_MBIT, delayMs: DELAY_MS });
    const buffers = [`net.ipv4.tcp_rmem=4096 131072 ${BUFFER_BYTES}`, `net.ipv4.tcp_wmem=4096 16384 ${BUFFER_BYTES}`];
    for (const argv of [link.inClient('sysctl', '-q', '-w', ...buffers), link.inServer('sysctl', '-q', '-w', ...buffers)]) execFileSync(argv[0] as string, argv.slice(1));
    endpoint = await startEndpointProcess(['--host', link.serverIp, '--port', ENDPOINT_PORT, '--log-level', 'warn'], link.inServer(...NICE));
  }, 60_000);

  afterAll(async () => {
    await endpoint?.stop();
    await link?.close();
    if (rows.length > 0) console.info(`long-path lab (payload Mbps; capacity ${capacity.toFixed(2)}):\nrun | download | upload\n--- | --- | ---\n${rows.join('\n')}`);
  });

  const agentOnce = async (what: string, args: readonly string[]): Promise<MeasurementResult> => {
    const l = link as DelayLink;
    const argv = l.inClient(...NICE, process.execPath, BIN.agent, 'once', '--endpoint', `http://${l.serverIp}:${ENDPOINT_PORT}/`, '--tests', 'download,upload', '--json', ...args);
    const done = await runToEnd(argv[0] as string, argv.slice(1), 120_000);
    if (done.stdout === '') throw new Error(`agent printed nothing (exit ${done.code}): ${done.stderr}`);
    const result = JSON.parse(done.stdout) as MeasurementResult;
    const cell = (t: MeasurementResult['download']): string =>
      t === undefined ? '-' : `${t.mbps} (${t.ramp?.initialStreams ?? '?'}→${t.streams} streams, warm-up ${(t.warmupMs / 1000).toFixed(1)} s ${t.ramp?.warmup ?? ''})`;
    rows.push(`${what} | ${cell(result.download)} | ${cell(result.upload)}`);
    expect(result.status, JSON.stringify(result.errors)).toBe('ok');
    return result;
  };

  it('holds 4 fixed streams to their windows: under 60% of the capacity', async () => {
    const result = await agentOnce('fixed: 4 streams, 2 s warm-up, 10 s', ['--streams', '4', '--max-streams', '4', '--warmup', '2', '--duration', '10']);
    for (const phase of [result.download, result.upload]) {
      expect(phase?.streams).toBe(4);
      expect(phase?.ramp).toEqual({ warmup: 'fixed', initialStreams: 4 });
      expect(phase?.mbps ?? 0, `${phase?.mbps} vs capacity ${capacity.toFixed(2)}`).toBeLessThan(0.6 * capacity);
    }
  }, 150_000);

  it('adds streams while they raise the rate, records them, and reads within −8…+3% of the capacity', async () => {
    const result = await agentOnce('adaptive: --max-streams 16, 15 s', ['--max-streams', '16', '--duration', '15']);
    for (const [what, phase] of [['download', result.download], ['upload', result.upload]] as const) {
      expect(phase?.ramp?.initialStreams).toBe(4);
      expect(phase?.streams ?? 0).toBeGreaterThanOrEqual(8);
      expect(['settled', 'limit']).toContain(phase?.ramp?.warmup);
      const off = (phase?.mbps ?? 0) / capacity - 1;
      expect(off, `${what} ${phase?.mbps} vs capacity ${capacity.toFixed(2)}`).toBeGreaterThanOrEqual(-0.08);
      expect(off, `${what} ${phase?.mbps} vs capacity ${capacity.toFixed(2)}`).toBeLessThanOrEqual(0.03);
    }
  }, 150_000);
});
