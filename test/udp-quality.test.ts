/**
 * The UDP probe against ground truth: the real endpoint process (its STAMP reflector), reached
 * through a UDP impairment relay (test/support/udp-impair.ts) that drops, delays and jitters
 * each direction with a seeded random source and records what it did to every packet. The
 * probe's loss each way must be the relay's own drops, and within the binomial bounds of the
 * loss set; its round trip must be the delay set; its jitter must match the RFC 3550 jitter
 * computed from the relay's own hold times, and the expectation of the jitter set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interarrivalJitter, sendUdpStream, udpFigures } from '@speedwatch/agent';
import type { MeasurementResult } from '@speedwatch/shared';
import { median, parseMeasurementResult, percentile } from '@speedwatch/shared';
import type { Running } from './support/processes.js';
import { BIN, runToEnd, startEndpointProcess } from './support/processes.js';
import type { RelayRecord, UdpImpairOptions, UdpImpairRelay } from './support/udp-impair.js';
import { startUdpImpair } from './support/udp-impair.js';

/**
 * Two-sided bounds on the count of a binomial(n, p) outside which a result has under 0.1%
 * chance: the normal approximation, mean ± 3.29 standard deviations.
 */
function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 3.29 * sd, n * p + 3.29 * sd];
}

/** RFC 3550 jitter of the relay's own hold times, over `records` in the order it released them. */
function relayJitter(records: readonly RelayRecord[]): number {
  const released = records.filter((r) => r.releasedAt !== undefined).sort((a, b) => (a.releasedAt as number) - (b.releasedAt as number));
  return interarrivalJitter(released.map((r) => r.arrivedAt), released.map((r) => r.releasedAt as number));
}

/** Answers the relay let out after one with a higher sequence number (RFC 4737's reordered packets), in the order it let them out. */
function reorderedBy(back: readonly RelayRecord[]): number {
  let highest = -1;
  let reordered = 0;
  for (const b of back.filter((r) => r.releasedAt !== undefined).sort((x, y) => (x.releasedAt as number) - (y.releasedAt as number))) {
    if (b.seq < highest) reordered++;
    else highest = b.seq;
  }
  return reordered;
}

let endpoint: Running & { url: string; line: string };
let udpPort: number;
const relays: UdpImpairRelay[] = [];

async function relay(options: Omit<UdpImpairOptions, 'targetPort'>): Promise<UdpImpairRelay> {
  const started = await startUdpImpair({ ...options, targetPort: udpPort });
  relays.push(started);
  return started;
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--port', '0', '--log-level', 'warn']);
  udpPort = (JSON.parse(endpoint.line) as { udpPort: number }).udpPort;
});
afterAll(async () => {
  await Promise.all(relays.map((r) => r.close()));
  await endpoint?.stop();
});

describe('the UDP probe through an impairment relay', () => {
  it('reads loss each way as the relay dropped it, the round trip as the delay set, and the jitter as the relay made it', async () => {
    // 1000 packets 10 ms apart; each way 2% loss, 20 ms plus a uniform 0–8 ms (less than the
    // spacing, so nothing is reordered and the reflector's counter follows the sequence).
    const way = { lossRatio: 0.02, delayMs: 20, jitterMs: 8 };
    /**
     * One measurement: the counts are asserted at once (they are exact whatever the load); the
     * timing checks are returned as problems, since a machine busy with other tests can hold the
     * relay's, the endpoint's or the agent's timers, and the run is then measured once more.
     */
    const attempt = async (seed: number): Promise<string[]> => {
    const r = await relay({ forward: way, back: way, seed });
    const stream = await sendUdpStream({ host: '127.0.0.1', port: r.port, packets: 1000, intervalMs: 10, packetBytes: 172, timeoutMs: 2_000 });
    const udp = udpFigures(stream);

    // The relay's ground truth.
    const delivered = r.back.filter((b) => !b.dropped);
    const lastSeq = Math.max(...delivered.map((b) => b.seq));
    const droppedOut = r.forward.filter((f) => f.dropped && f.seq <= lastSeq).length;
    const reflected = lastSeq + 1 - droppedOut;
    expect(r.forward).toHaveLength(1000);
    expect(udp.sent).toBe(1000);
    expect(udp.received).toBe(delivered.length);
    expect(udp.lossRatio).toBeCloseTo((1000 - delivered.length) / 1000, 12);
    expect(udp.forwardLossRatio).toBeCloseTo(droppedOut / (lastSeq + 1), 12);
    expect(udp.returnLossRatio).toBeCloseTo((reflected - delivered.length) / reflected, 12);
    expect(udp.duplicates).toBe(0);
    // A late timer can bunch two sends, and 8 ms of jitter then swap them: as many as the relay did.
    expect(udp.reordered).toBe(reorderedBy(r.back));

    // Within what 2% of ~1000 packets can give.
    const [outLow, outHigh] = binomialBounds(lastSeq + 1, 0.02);
    expect(udp.forwardLossRatio * (lastSeq + 1)).toBeGreaterThanOrEqual(outLow);
    expect(udp.forwardLossRatio * (lastSeq + 1)).toBeLessThanOrEqual(outHigh);
    const [backLow, backHigh] = binomialBounds(reflected, 0.02);
    expect(udp.returnLossRatio * reflected).toBeGreaterThanOrEqual(backLow);
    expect(udp.returnLossRatio * reflected).toBeLessThanOrEqual(backHigh);

    // Round trip: 2 × 20 ms, plus two uniform 0–8 ms holds whose sum has median 8 ms. The relay's
    // own holds (its timers fire on the event loop's clock, a little early or late) are the
    // truth; the probe adds the loopback legs and the processes' scheduling, never less.
    const holdOut = new Map(r.forward.filter((f) => f.releasedAt !== undefined).map((f) => [f.seq, (f.releasedAt as number) - f.arrivedAt]));
    const truthRtts = delivered.map((b) => (holdOut.get(b.seq) as number) + (b.releasedAt as number) - b.arrivedAt);
    const problems: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok) problems.push(what);
    };
    check(Math.abs(median(truthRtts) - 48) < 1.5, `the relay's own round-trip median ${median(truthRtts).toFixed(2)} ms is not 48 ± 1.5 ms`);
    check(udp.rttMedianMs >= median(truthRtts) - 0.5 && udp.rttMedianMs <= median(truthRtts) + 3, `the probe's median ${udp.rttMedianMs.toFixed(2)} ms is not within −0.5/+3 ms of the relay's ${median(truthRtts).toFixed(2)} ms`);
    // Never less than the relay held the packets: the probe cannot see a shorter round trip.
    expect(udp.rttMinMs).toBeGreaterThanOrEqual(Math.min(...truthRtts) - 0.5);
    expect(udp.rttP95Ms).toBeGreaterThanOrEqual(percentile(truthRtts, 95) - 0.5);

    // Jitter: against the relay's own hold times, computed the same RFC 3550 way over the
    // packets the probe saw (within 20%: on a loaded machine the loopback legs add their own);
    // and against the expectation of the set jitter, E|U1 − U2| = 8/3 ms for two independent
    // uniform 0–8 ms holds (the RFC 3550 estimator converges to E|D|), which the relay's timers
    // blur: its holds land on the event loop's millisecond clock, and fire late when the machine
    // is busy (measured 2.1–3.8 ms on this 2-core machine under other load).
    const answeredSeqs = new Set(delivered.map((b) => b.seq));
    const forwardTruth = relayJitter(r.forward.filter((f) => answeredSeqs.has(f.seq)));
    const backTruth = relayJitter(delivered);
    check(Math.abs(udp.forwardJitterMs - forwardTruth) < 0.2 * forwardTruth, `forward jitter ${udp.forwardJitterMs.toFixed(2)} ms is not within 20% of the relay's ${forwardTruth.toFixed(2)} ms`);
    check(Math.abs(udp.returnJitterMs - backTruth) < 0.2 * backTruth, `return jitter ${udp.returnJitterMs.toFixed(2)} ms is not within 20% of the relay's ${backTruth.toFixed(2)} ms`);
    for (const jitter of [forwardTruth, backTruth, udp.forwardJitterMs, udp.returnJitterMs]) {
      check(jitter > (8 / 3) * 0.6 && jitter < (8 / 3) * 1.6, `a jitter of ${jitter.toFixed(2)} ms is not within 0.6–1.6 × 8/3 ms`);
    }
    // The figures behind docs/measurement.md's table.
    console.info(`udp quality figures:\n${JSON.stringify({ relay: { droppedOut, droppedBack: reflected - delivered.length, lastSeq, rttMedianMs: median(truthRtts), rttP95Ms: percentile(truthRtts, 95), forwardJitterMs: forwardTruth, returnJitterMs: backTruth }, udp })}`);
    return problems;
    };
    let problems = await attempt(20261124);
    if (problems.length > 0) {
      console.warn(`udp quality: timing off, the machine is busy; measuring once more:\n  ${problems.join('\n  ')}`);
      problems = await attempt(20261125);
    }
    expect(problems).toEqual([]);
  }, 45_000);

  it('counts the answers the relay reorders and sends twice', async () => {
    // Answers held 0–30 ms, packets 10 ms apart: many overtake each other; 5% sent twice.
    const r = await relay({ forward: { lossRatio: 0, delayMs: 0, jitterMs: 0 }, back: { lossRatio: 0, delayMs: 5, jitterMs: 30, duplicateRatio: 0.05 }, seed: 7 });
    const stream = await sendUdpStream({ host: '127.0.0.1', port: r.port, packets: 300, intervalMs: 10, packetBytes: 172, timeoutMs: 2_000 });
    const udp = udpFigures(stream);
    const reordered = reorderedBy(r.back);
    const twice = r.back.filter((b) => b.duplicated).length;
    expect(udp.received).toBe(300);
    expect(reordered).toBeGreaterThan(30);
    expect(udp.reordered).toBe(reordered);
    // The probe stops once every packet is answered: the second copy of the answer that completed it may come after.
    expect(udp.duplicates).toBeGreaterThanOrEqual(twice - 1);
    expect(udp.duplicates).toBeLessThanOrEqual(twice);
    expect([udp.forwardLossRatio, udp.returnLossRatio, udp.lossRatio]).toEqual([0, 0, 0]);
  }, 30_000);
});

describe('speedwatch-agent once --udp (real processes)', () => {
  async function agentOnce(args: string[]): Promise<{ code: number | null; result: MeasurementResult; stdout: string }> {
    const run = await runToEnd(process.execPath, [BIN.agent, 'once', '--json', '--tests', 'latency', '--latency-count', '3', ...args], 60_000);
    const lines = run.stdout.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    return { code: run.code, result: parseMeasurementResult(JSON.parse(lines[0] as string)), stdout: run.stdout };
  }

  it('adds a udp section measured against the endpoint\'s reflector, on the HTTP port\'s number', async () => {
    const { code, result } = await agentOnce(['--endpoint', endpoint.url, '--udp']);
    expect(code).toBe(0);
    expect(result.status).toBe('ok');
    expect(result.udp).toMatchObject({ port: udpPort, packetBytes: 172, intervalMs: 20, sent: 250, received: 250, lossRatio: 0, forwardLossRatio: 0, returnLossRatio: 0 });
    expect(result.udp?.rttMedianMs).toBeLessThan(10);
  }, 60_000);

  it('measures the loss and delay a relay on --udp-port sets', async () => {
    // 5% each way over 250 packets, 15 ms each way.
    const way = { lossRatio: 0.05, delayMs: 15, jitterMs: 0 };
    const r = await relay({ forward: way, back: way, seed: 3 });
    const { code, result } = await agentOnce(['--endpoint', endpoint.url, '--udp', '--udp-port', String(r.port)]);
    expect(code).toBe(0);
    const udp = result.udp as NonNullable<MeasurementResult['udp']>;
    expect(udp.port).toBe(r.port);
    expect(udp.received).toBe(r.back.filter((b) => !b.dropped).length);
    const [low, high] = binomialBounds(250, 0.05);
    expect(udp.forwardLossRatio * 250).toBeGreaterThanOrEqual(low - 1);
    expect(udp.forwardLossRatio * 250).toBeLessThanOrEqual(high + 1);
    expect(udp.returnLossRatio * 250).toBeLessThanOrEqual(high + 1);
    // 2 × 15 ms as the relay held them (its timers run late when the machine is busy), plus the loopback legs.
    const holdOut = new Map(r.forward.filter((f) => f.releasedAt !== undefined).map((f) => [f.seq, (f.releasedAt as number) - f.arrivedAt]));
    const truthRtt = median(r.back.filter((b) => b.releasedAt !== undefined).map((b) => (holdOut.get(b.seq) as number) + (b.releasedAt as number) - b.arrivedAt));
    expect(truthRtt).toBeGreaterThan(30 - 2);
    expect(udp.rttMedianMs).toBeGreaterThanOrEqual(truthRtt - 0.5);
    expect(udp.rttMedianMs).toBeLessThan(truthRtt + 3);
    const human = await runToEnd(process.execPath, [BIN.agent, 'once', '--tests', 'latency', '--latency-count', '3', '--endpoint', endpoint.url, '--udp', '--udp-port', String(r.port)], 60_000);
    expect(human.stdout).toMatch(/^UDP +round trip median \d+\.\d\d ms, p95 .* of 250 packets$/m);
  }, 60_000);

  it('gives a partial result with SW_UDP_NO_REPLY against an endpoint with no reflector', async () => {
    const bare = await startEndpointProcess(['--port', '0', '--udp-port', '0', '--log-level', 'warn']);
    try {
      expect(JSON.parse(bare.line)).toMatchObject({ udpPort: null });
      const { code, result } = await agentOnce(['--endpoint', bare.url, '--udp']);
      expect(code).toBe(2);
      expect(result.status).toBe('partial');
      expect(result.latency?.count).toBe(3);
      expect(result.udp).toBeUndefined();
      expect(result.errors).toEqual([expect.objectContaining({ phase: 'udp', code: 'SW_UDP_NO_REPLY' })]);
    } finally {
      await bare.stop();
    }
  }, 60_000);
});
