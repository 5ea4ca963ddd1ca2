/**
 * `npm run bench:lab -- [--runs N] [--rates 42,102,300] [--loss 0,0.001] [--delay-ms 20]
 * [--duration S] [--warmup S] [--streams N] [--json]`: the delay lab of test/delay-lab.test.ts,
 * several runs per setting, each run one table row (iperf3, the payload capacity, the agent,
 * ping, curl), then the spread of the agent against capacity and iperf3 per setting.
 *
 * `npm run bench:lab -- --ceiling --rates 300,600,800,1000`: what the delay line itself holds.
 * iperf3 -R -P 4 runs 8 s through it at each rate while the forwarder's released bytes are read
 * every second; each second's rate should be the link's IP rate, rate × 1500 / (1500 + 14).
 *
 * Needs root, iproute2, python3, iperf3, ping and curl.
 */
import { parseArgs } from 'node:util';
import { payloadCapacityMbps, startDelayLink } from '../lab/delay-line.js';
import type { LabRow } from '../lab/references.js';
import { formatLabTable, iperf3ServerArgv, measureSetting, NICE } from '../lab/references.js';
import { runToEnd, startEndpointProcess, startUntil } from '../support/processes.js';

const USAGE = `Usage: npm run bench:lab -- [options]

  --runs N         runs per setting (default 3)
  --rates LIST     link rates in Mbit/s (default 42,102,300)
  --loss LIST      loss ratios (default 0,0.001)
  --delay-ms MS    one-way delay (default 20)
  --duration S     seconds per phase, warm-up included, agent and iperf3 (default 6)
  --warmup S       seconds left out at the start (default 2)
  --streams N      streams, agent and iperf3 -P (default 4)
  --json           print the rows as one JSON line after the tables
  --ceiling        measure the delay line alone (iperf3 -R at each rate, no agent)
  -h, --help       this text
`;

const OPTIONS = {
  runs: { type: 'string', default: '3' },
  rates: { type: 'string', default: '42,102,300' },
  loss: { type: 'string', default: '0,0.001' },
  'delay-ms': { type: 'string', default: '20' },
  duration: { type: 'string', default: '6' },
  warmup: { type: 'string', default: '2' },
  streams: { type: 'string', default: '4' },
  json: { type: 'boolean', default: false },
  ceiling: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function fail(message: string): never {
  process.stderr.write(`bench:lab: ${message}\n${USAGE}`);
  process.exit(1);
}

function numbers(name: string, text: string, valid: (n: number) => boolean): number[] {
  const list = text.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || !list.every((n) => Number.isFinite(n) && valid(n))) fail(`--${name}: bad value ${JSON.stringify(text)}`);
  return list;
}

let parsed;
try {
  parsed = parseArgs({ options: OPTIONS, allowPositionals: false }).values;
} catch (err) {
  fail((err as Error).message);
}
if (parsed.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const [runs] = numbers('runs', parsed.runs, (n) => Number.isInteger(n) && n >= 1);
const rates = numbers('rates', parsed.rates, (n) => n > 0);
const losses = numbers('loss', parsed.loss, (n) => n >= 0 && n < 1);
const [delayMs] = numbers('delay-ms', parsed['delay-ms'], (n) => n >= 0);
const [durationS] = numbers('duration', parsed.duration, (n) => n >= 2);
const [warmupS] = numbers('warmup', parsed.warmup, (n) => n >= 0);
const [streams] = numbers('streams', parsed.streams, (n) => Number.isInteger(n) && n >= 1 && n <= 32);
const timing = { streams: streams as number, durationS: durationS as number, warmupS: warmupS as number };
if (timing.durationS - timing.warmupS < 1) fail('--warmup must leave at least a second of --duration');

const IPERF_PORT = 5299;
const ENDPOINT_PORT = 8601;
const link = await startDelayLink({ rateMbit: rates[0] as number, delayMs: delayMs as number });

if (parsed.ceiling) {
  try {
    const iperf = iperf3ServerArgv(link, IPERF_PORT);
    const iperfServer = await startUntil(iperf[0] as string, iperf.slice(1), (l) => l.includes('Server listening'));
    const lines = ['rate (Mbit) | IP rate due | each second, 2–7 s (Mbit) | late max (ms)', '--- | --- | --- | ---'];
    try {
      for (const rateMbit of rates) {
        await link.configure({ rateMbit, delayMs: delayMs as number });
        const argv = link.inClient(...NICE, 'iperf3', '-c', link.serverIp, '-p', String(IPERF_PORT), '-P', '4', '-t', '8', '-R');
        const client = runToEnd(argv[0] as string, argv.slice(1), 30_000);
        const snaps: { atMs: number; bytes: number; lateMsMax: number }[] = [];
        const t0 = Date.now();
        for (let second = 2; second <= 7; second++) {
          await new Promise((resolve) => setTimeout(resolve, t0 + second * 1000 - Date.now()));
          const { toClient } = await link.stats();
          snaps.push({ atMs: toClient.atMs, bytes: toClient.releasedBytes, lateMsMax: toClient.lateMsMax });
        }
        const done = await client;
        if (done.code !== 0) throw new Error(`iperf3 at ${rateMbit} Mbit failed (${done.code}): ${done.stdout.slice(-300)} ${done.stderr}`);
        // The server takes a moment to be ready for the next test.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const perSecond = snaps.slice(1).map((s, i) => ((s.bytes - (snaps[i] as { bytes: number }).bytes) * 8) / (s.atMs - (snaps[i] as { atMs: number }).atMs) / 1000);
        lines.push(`${rateMbit} | ${((rateMbit * 1500) / 1514).toFixed(2)} | ${perSecond.map((m) => m.toFixed(2)).join(', ')} | ${(snaps.at(-1)?.lateMsMax ?? 0).toFixed(1)}`);
      }
    } finally {
      await iperfServer.stop();
    }
    process.stdout.write(`delay line alone, iperf3 -R -P 4:\n\n${lines.join('\n')}\n`);
  } finally {
    await link.close();
  }
  process.exit(0);
}
const rows: LabRow[] = [];
try {
  const iperf = iperf3ServerArgv(link, IPERF_PORT);
  const iperfServer = await startUntil(iperf[0] as string, iperf.slice(1), (l) => l.includes('Server listening'));
  const endpoint = await startEndpointProcess(['--host', link.serverIp, '--port', String(ENDPOINT_PORT), '--log-level', 'warn'], link.inServer(...NICE));
  try {
    let seed = 0;
    for (const rateMbit of rates) {
      for (const lossRatio of losses) {
        for (let run = 0; run < (runs as number); run++) {
          const { row } = await measureSetting(
            link,
            { rateMbit, delayMs: delayMs as number, lossRatio, seed: ++seed },
            { iperf3Port: IPERF_PORT, endpointUrl: `http://${link.serverIp}:${ENDPOINT_PORT}/` },
            timing,
          );
          rows.push(row);
          process.stderr.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
  } finally {
    await Promise.all([iperfServer.stop(), endpoint.stop()]);
  }
} finally {
  await link.close();
}

const pct = (value: number, reference: number): string => `${value >= reference ? '+' : ''}${((value / reference - 1) * 100).toFixed(2)}%`;
const spread = (values: readonly number[]): string => `${pct(Math.min(...values), 1)} … ${pct(Math.max(...values), 1)}`;
const summary: string[] = ['setting | runs | agent down vs capacity | vs iperf3 | agent up vs capacity | vs iperf3 | agent latency − curl (ms)', '--- | --- | --- | --- | --- | --- | ---'];
for (const rateMbit of rates) {
  for (const lossRatio of losses) {
    const mine = rows.filter((r) => r.rateMbit === rateMbit && r.loss === `${+(lossRatio * 100).toFixed(3)}%`);
    const capacity = payloadCapacityMbps(rateMbit);
    const overCurl = mine.map((r) => r.agentLatency - r.curl);
    summary.push(
      [
        `${rateMbit} Mbit, ${+(lossRatio * 100).toFixed(3)}%`,
        mine.length,
        spread(mine.map((r) => r.agentDown / capacity)),
        spread(mine.map((r) => r.agentDown / r.iperf3Down)),
        spread(mine.map((r) => r.agentUp / capacity)),
        spread(mine.map((r) => r.agentUp / r.iperf3Up)),
        `${Math.min(...overCurl).toFixed(2)} … ${Math.max(...overCurl).toFixed(2)}`,
      ].join(' | '),
    );
  }
}
process.stdout.write(`delay lab, ${2 * (delayMs as number)} ms round trip, ${timing.streams} streams, ${timing.durationS} s phases (${timing.warmupS} s warm-up):\n\n${formatLabTable(rows)}\n\n${summary.join('\n')}\n`);
if (parsed.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
