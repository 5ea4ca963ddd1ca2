/**
 * The accuracy lab: two network namespaces joined by a veth pair shaped with tbf on both ends
 * (this kernel has no netem; test/lab/tbf-link.ts), the endpoint in one, the agent in the
 * other. At each rate the agent's download and upload must be within ±5% of iperf3's goodput
 * measured on the same link in the same run. Needs root, iproute2 and iperf3; skipped with a printed reason where they
 * are missing, except under CI, where a missing piece fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import type { TbfLink } from './lab/tbf-link.js';
import { startTbfLink } from './lab/tbf-link.js';
import type { Running } from './support/processes.js';
import { BIN, runToEnd, startEndpointProcess, startUntil } from './support/processes.js';
import { labSkipReason } from './lab/prerequisites.js';

const RATES_MBIT = [42, 102, 300];
const TOLERANCE = 0.05;

const missing = labSkipReason('accuracy lab', { tools: ['ip', 'tc', 'iperf3'] });

async function iperf3Mbps(link: TbfLink, reverse: boolean): Promise<number> {
  const args = link.inClient('iperf3', '-c', link.serverIp, '-p', '5299', '-P', '4', '-t', '6', '-O', '1', '-J', ...(reverse ? ['-R'] : []));
  const run = await runToEnd(args[0] as string, args.slice(1), 30_000);
  if (run.code !== 0) throw new Error(`iperf3 failed (${run.code}): ${run.stdout.slice(0, 500)} ${run.stderr}`);
  const report = JSON.parse(run.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second / 1e6;
}

async function agentResult(link: TbfLink): Promise<MeasurementResult> {
  const args = link.inClient(process.execPath, BIN.agent, 'once', '--endpoint', `http://${link.serverIp}:8601/`, '--tests', 'download,upload', '--duration', '8', '--json');
  const run = await runToEnd(args[0] as string, args.slice(1), 60_000);
  if (run.stdout === '') throw new Error(`agent printed nothing (exit ${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as MeasurementResult;
}

describe.skipIf(missing !== undefined)('accuracy lab (network namespaces, tbf, iperf3)', () => {
  const children: Running[] = [];
  let link: TbfLink | undefined;

  beforeAll(async () => {
    link = startTbfLink();
    const iperfArgs = link.inServer('iperf3', '-s', '-p', '5299', '--forceflush');
    children.push(await startUntil(iperfArgs[0] as string, iperfArgs.slice(1), (l) => l.includes('Server listening')));
    children.push(await startEndpointProcess(['--host', link.serverIp, '--port', '8601', '--log-level', 'warn'], link.inServer()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    link?.close(); // the namespaces take the veth pair with them
  });

  const figures: Record<string, number | string>[] = [];
  afterAll(() => {
    if (figures.length > 0) console.info(`accuracy lab figures:\n${JSON.stringify(figures)}`);
  });

  for (const rate of RATES_MBIT) {
    it(`at ${rate} Mbit the agent's download and upload are within ±5% of iperf3's goodput`, async () => {
      const l = link as TbfLink;
      l.shape(rate);
      const iperfDown = await iperf3Mbps(l, true);
      const iperfUp = await iperf3Mbps(l, false);
      const result = await agentResult(l);
      expect(result.status, JSON.stringify(result.errors)).toBe('ok');
      const down = result.download?.mbps ?? 0;
      const up = result.upload?.mbps ?? 0;
      figures.push({ tbfMbit: rate, iperf3Down: +iperfDown.toFixed(1), agentDown: down, iperf3Up: +iperfUp.toFixed(1), agentUp: up });
      expect(Math.abs(down / iperfDown - 1), `download ${down} vs iperf3 ${iperfDown.toFixed(1)}`).toBeLessThanOrEqual(TOLERANCE);
      expect(Math.abs(up / iperfUp - 1), `upload ${up} vs iperf3 ${iperfUp.toFixed(1)}`).toBeLessThanOrEqual(TOLERANCE);
    }, 120_000);
  }
});
