/**
 * What the delay lab holds the agent against, each run over a `DelayLink`: iperf3 with the
 * same streams and time, ping, curl on a kept-open connection; and the agent itself. Used by
 * test/delay-lab.test.ts and the lab benchmark (test/bench/delay-lab.ts).
 */
import type { MeasurementResult } from '@speedwatch/shared';
import type { DelayLink } from './delay-line.js';
import { payloadCapacityMbps } from './delay-line.js';
import { BIN, runToEnd } from '../support/processes.js';

/**
 * Everything measured, and what answers it, runs at nice −10 (the delay line itself at
 * real-time priority): on a machine shared with other work a process that waits for a CPU
 * adds that wait to its round trips and rates. The agent, curl, ping and iperf3 get the same.
 */
export const NICE = ['nice', '-n', '-10'] as const;

export interface PhaseTiming {
  /** Streams, agent and iperf3 alike (the agent's ramp adds none). */
  streams: number;
  /** Seconds per throughput phase, warm-up included. */
  durationS: number;
  /** Seconds left out at the start of each phase. */
  warmupS: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function run(argv: readonly string[], timeoutMs: number): Promise<string> {
  const done = await runToEnd(argv[0] as string, argv.slice(1), timeoutMs);
  if (done.code !== 0) throw new Error(`${argv.join(' ')} failed (${done.code}): ${done.stdout.slice(0, 500)} ${done.stderr.slice(0, 500)}`);
  return done.stdout;
}

/** The argv of an iperf3 server for `iperf3Mbps`, to run in the server namespace. */
export function iperf3ServerArgv(link: DelayLink, port: number): string[] {
  return link.inServer(...NICE, 'iperf3', '-s', '-p', String(port), '--forceflush');
}

/** iperf3's payload goodput in Mbit/s with the agent's streams and time: warm-up omitted (-O), then the rest (-t). */
export async function iperf3Mbps(link: DelayLink, port: number, timing: PhaseTiming, direction: 'download' | 'upload'): Promise<number> {
  const out = await run(
    link.inClient(
      ...NICE, 'iperf3', '-c', link.serverIp, '-p', String(port), '-P', String(timing.streams),
      '-O', String(timing.warmupS), '-t', String(timing.durationS - timing.warmupS), '-J', ...(direction === 'download' ? ['-R'] : []),
    ),
    30_000 + timing.durationS * 1000,
  );
  const report = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second / 1e6;
}

/** Median round trip of `count` pings, 50 ms apart, in ms. */
export async function pingMedianMs(link: DelayLink, count = 20): Promise<number> {
  const out = await run(link.inClient(...NICE, 'ping', '-n', '-c', String(count), '-i', '0.05', link.serverIp), 15_000);
  return median([...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])));
}

/**
 * Median time of `count` requests for `url` on one kept-open curl connection, in ms (the
 * request that opens the connection is left out). Throws if curl did not keep it open.
 */
export async function curlMedianMs(link: DelayLink, url: string, count = 20): Promise<number> {
  const out = await run(link.inClient(...NICE, 'curl', '-s', '-o', '/dev/null', '-w', '%{time_total} %{num_connects}\\n', ...Array.from({ length: count + 1 }, () => url)), 15_000);
  const rows = out.trim().split('\n').map((line) => line.split(' ').map(Number));
  const reused = rows.slice(1).filter((r) => r[1] === 0).map((r) => (r[0] as number) * 1000);
  if (reused.length < count * 0.75) throw new Error(`curl reused its connection for ${reused.length} of ${count} requests`);
  return median(reused);
}

/**
 * One `speedwatch-agent once --json` run in the client namespace (all three tests, or those
 * given); its stderr is returned too (it should be empty).
 */
export async function agentOnce(link: DelayLink, endpointUrl: string, timing: PhaseTiming, tests = 'latency,download,upload'): Promise<{ result: MeasurementResult; stderr: string }> {
  const argv = link.inClient(
    ...NICE, process.execPath, BIN.agent, 'once', '--endpoint', endpointUrl, '--tests', tests,
    '--streams', String(timing.streams), '--max-streams', String(timing.streams), '--duration', String(timing.durationS), '--warmup', String(timing.warmupS), '--json',
  );
  const done = await runToEnd(argv[0] as string, argv.slice(1), 60_000 + 4 * timing.durationS * 1000);
  if (done.stdout === '') throw new Error(`agent printed nothing (exit ${done.code}): ${done.stderr}`);
  return { result: JSON.parse(done.stdout) as MeasurementResult, stderr: done.stderr };
}

/** One row of the lab's table: a setting, its references and the agent, Mbps of payload and ms. */
export interface LabRow {
  rateMbit: number;
  loss: string;
  capacity: number;
  iperf3Down: number;
  agentDown: number;
  iperf3Up: number;
  agentUp: number;
  ping: number;
  curl: number;
  agentLatency: number;
  /** Most a packet left the delay line after its due time, in ms. */
  lateMsMax: number;
}

/** A markdown table of `rows`. */
export function formatLabTable(rows: readonly LabRow[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0] as LabRow) as (keyof LabRow)[];
  return [cols.join(' | '), cols.map(() => '---').join(' | '), ...rows.map((row) => cols.map((c) => String(row[c])).join(' | '))].join('\n');
}

export interface LabSetting {
  rateMbit: number;
  /** One-way delay, ms. */
  delayMs: number;
  lossRatio: number;
  seed: number;
}

/**
 * Sets the link to `setting`, then measures in turn: ping, curl, iperf3 download and upload,
 * the agent (latency, download, upload). Returns the table row, the agent's result and stderr.
 */
export async function measureSetting(
  link: DelayLink,
  setting: LabSetting,
  where: { iperf3Port: number; endpointUrl: string },
  timing: PhaseTiming,
): Promise<{ row: LabRow; result: MeasurementResult; stderr: string }> {
  await link.configure(setting);
  const pingMs = await pingMedianMs(link);
  const curlMs = await curlMedianMs(link, new URL('empty.php', where.endpointUrl).href);
  const iperfDown = await iperf3Mbps(link, where.iperf3Port, timing, 'download');
  const iperfUp = await iperf3Mbps(link, where.iperf3Port, timing, 'upload');
  const { result, stderr } = await agentOnce(link, where.endpointUrl, timing);
  const stats = await link.stats();
  const row: LabRow = {
    rateMbit: setting.rateMbit,
    loss: `${+(setting.lossRatio * 100).toFixed(3)}%`,
    capacity: +payloadCapacityMbps(setting.rateMbit, link.settings.overheadBytes).toFixed(2),
    iperf3Down: +iperfDown.toFixed(2),
    agentDown: result.download?.mbps ?? 0,
    iperf3Up: +iperfUp.toFixed(2),
    agentUp: result.upload?.mbps ?? 0,
    ping: +pingMs.toFixed(2),
    curl: +curlMs.toFixed(3),
    agentLatency: result.latency?.medianMs ?? 0,
    lateMsMax: +Math.max(stats.toClient.lateMsMax, stats.toServer.lateMsMax).toFixed(1),
  };
  return { row, result, stderr };
}
