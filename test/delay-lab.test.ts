/**
 * The delay lab: the endpoint and an iperf3 server in one namespace, the agent in another, and
 * between them the user-space delay line of test/lab/ (20 ms each way, a 100 ms tail-drop
 * queue, seeded random loss). At 42, 102 and 300 Mbit/s, without loss and with 0.1%, every run
 * of the agent's download and upload must be within ±3% of the link's payload capacity and of
 * iperf3 with the same streams over the same time, and its idle latency median within 0.5 ms of
 * curl's on a kept-open connection (a pair over the bound is measured again, at most twice:
 * other work on the machine can slow a second of probes; ping's is reported too). Several runs
 * per setting:
 * `npm run bench:lab`. Needs root, iproute2, python3, iperf3, ping and curl; skipped with a
 * printed reason where they are missing, except under CI, where that fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DelayLink } from './lab/delay-line.js';
import { payloadCapacityMbps, startDelayLink } from './lab/delay-line.js';
import type { LabRow } from './lab/references.js';
import { agentOnce, curlMedianMs, formatLabTable, iperf3ServerArgv, measureSetting, NICE } from './lab/references.js';
import type { Running } from './support/processes.js';
import { startEndpointProcess, startUntil } from './support/processes.js';
import { labSkipReason } from './lab/prerequisites.js';

const SETTINGS: readonly { rateMbit: number; lossRatio: number }[] = [
  { rateMbit: 42, lossRatio: 0 },
  { rateMbit: 42, lossRatio: 0.001 },
  { rateMbit: 102, lossRatio: 0 },
  { rateMbit: 102, lossRatio: 0.001 },
  { rateMbit: 300, lossRatio: 0 },
  { rateMbit: 300, lossRatio: 0.001 },
];
const DELAY_MS = 20;
/** Streams and seconds per phase (warm-up included) for the agent and iperf3 alike. */
const TIMING = { streams: 4, durationS: 6, warmupS: 2 };
const TOLERANCE = 0.03;
/** The agent's idle latency median may exceed curl's on a kept-open connection by this much. */
const LATENCY_OVER_CURL_MS = 0.5;
/**
 * Other work on a shared machine can slow a whole second of probes by a few ms, in the agent's
 * run or in curl's. A comparison over the bound is measured again, curl then the agent's
 * latency test, up to this many times; every attempt is printed.
 */
const LATENCY_ATTEMPTS = 3;
const IPERF_PORT = 5299;
const ENDPOINT_PORT = '8601';

const missing = labSkipReason('delay lab', { tools: ['ip', 'python3', 'iperf3', 'ping', 'curl'], tun: true });

const within = (value: number, reference: number): boolean => Math.abs(value / reference - 1) <= TOLERANCE;

describe.skipIf(missing !== undefined)('delay lab (TUN delay line, 40 ms round trip, loss; iperf3, ping, curl)', () => {
  let link: DelayLink | undefined;
  const children: Running[] = [];
  const table: LabRow[] = [];

  beforeAll(async () => {
    const first = SETTINGS[0] as { rateMbit: number; lossRatio: number };
    link = await startDelayLink({ ...first, delayMs: DELAY_MS });
    const iperf = iperf3ServerArgv(link, IPERF_PORT);
    children.push(await startUntil(iperf[0] as string, iperf.slice(1), (l) => l.includes('Server listening')));
    children.push(await startEndpointProcess(['--host', link.serverIp, '--port', ENDPOINT_PORT, '--log-level', 'warn'], link.inServer(...NICE)));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await link?.close();
    if (table.length > 0) console.info(`delay lab figures (Mbps of payload, ms):\n${formatLabTable(table)}`);
  });

  for (const [i, setting] of SETTINGS.entries()) {
    const capacity = payloadCapacityMbps(setting.rateMbit);
    it(`at ${setting.rateMbit} Mbit, ${2 * DELAY_MS} ms and ${setting.lossRatio * 100}% loss, download and upload are within ±3% of ${capacity.toFixed(2)} Mbps and of iperf3`, async () => {
      const l = link as DelayLink;
      const { row, result, stderr } = await measureSetting(
        l,
        { ...setting, delayMs: DELAY_MS, seed: i + 1 },
        { iperf3Port: IPERF_PORT, endpointUrl: `http://${l.serverIp}:${ENDPOINT_PORT}/` },
        TIMING,
      );
      table.push(row);
      expect(result.status, JSON.stringify(result.errors)).toBe('ok');
      expect(stderr, 'the agent prints nothing on stderr').toBe('');
      const { ping: pingMs, curl: curlMs, agentLatency: latencyMs, agentDown: down, iperf3Down: iperfDown, agentUp: up, iperf3Up: iperfUp } = row;
      // A round trip is the two delays and little else.
      expect(pingMs).toBeGreaterThanOrEqual(2 * DELAY_MS);
      expect(pingMs).toBeLessThan(2 * DELAY_MS + 2);
      const latency = [{ agent: latencyMs, curl: curlMs }];
      while (latency.length < LATENCY_ATTEMPTS && (latency.at(-1)?.agent ?? 0) - (latency.at(-1)?.curl ?? 0) > LATENCY_OVER_CURL_MS) {
        const curl = await curlMedianMs(l, `http://${l.serverIp}:${ENDPOINT_PORT}/empty.php`);
        const again = await agentOnce(l, `http://${l.serverIp}:${ENDPOINT_PORT}/`, TIMING, 'latency');
        latency.push({ agent: again.result.latency?.medianMs ?? 0, curl: +curl.toFixed(3) });
      }
      if (latency.length > 1) console.info(`${setting.rateMbit} Mbit, ${setting.lossRatio * 100}%: latency medians, agent vs curl, by attempt: ${JSON.stringify(latency)}`);
      const last = latency.at(-1) as { agent: number; curl: number };
      expect(last.agent - last.curl, `agent latency median vs curl's, ${latency.length} attempts: ${JSON.stringify(latency)}`).toBeLessThanOrEqual(LATENCY_OVER_CURL_MS);
      for (const [what, agent, iperf] of [['download', down, iperfDown], ['upload', up, iperfUp]] as const) {
        expect(within(agent, capacity), `${what} ${agent} vs payload capacity ${capacity.toFixed(2)}`).toBe(true);
        expect(within(agent, iperf), `${what} ${agent} vs iperf3 ${iperf}`).toBe(true);
      }
    }, 90_000);
  }
});
