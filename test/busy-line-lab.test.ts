/**
 * Busy lines in the lab: two network namespaces joined by a veth pair shaped with tbf at
 * 100 Mbit/s each way, the endpoint and an iperf3 server in one, and in the other an agent
 * daemon with its collector (on that namespace's loopback, so its traffic never crosses the
 * veth). An iperf3 flow from the agent's side to the server at 20 Mbit/s, started before the
 * collector asks for a test: the daemon finds the line busy, postpones the test twice, runs it
 * after its last check, and the result carries the flow's bytes as cross traffic and is
 * flagged. Without the flow the next test runs at once, unflagged. Needs root, iproute2 and
 * iperf3; skipped with a printed reason where they are missing, except under CI.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import type { Running } from './support/processes.js';
import { BIN, runToEnd, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import { labSkipReason } from './lab/prerequisites.js';

const RATE_MBIT = 100;
const CROSS_MBIT = 20;
/** crossTrafficBytes against the payload iperf3 sent in the same time (docs/measurement.md, "Busy lines"). */
const TOLERANCE = 0.1;

const missing = labSkipReason('busy-line lab', { tools: ['ip', 'tc', 'iperf3'] });

const tag = `${process.pid % 100000}`;
const NS_SERVER = `swbl-s-${tag}`;
const NS_CLIENT = `swbl-c-${tag}`;
const VETH_SERVER = `swbs${tag}`;
const VETH_CLIENT = `swbc${tag}`;
const subnet = `10.${150 + (process.pid % 50)}.${process.pid % 250}`;
const SERVER_IP = `${subnet}.1`;
const CLIENT_IP = `${subnet}.2`;
const ADMIN = 'lab-admin-token-0123456789';
const AGENT = 'busy-school';

function sh(...args: string[]): string {
  return execFileSync(args[0] as string, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string, ...args: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...args];
}

const dir = mkdtempSync(join(tmpdir(), 'sw-busy-lab-'));
const children: Running[] = [];
let agent: Running | undefined;
let api = '';

/** The collector's API, from inside the agent's namespace (it listens on that namespace's loopback). */
async function request(path: string, body?: unknown): Promise<unknown> {
  const args = inNs(NS_CLIENT, 'curl', '-sS', '--fail-with-body', '-H', `Authorization: Bearer ${ADMIN}`, ...(body === undefined ? [] : ['-H', 'content-type: application/json', '--data', JSON.stringify(body)]), new URL(path, api).href);
  const run = await runToEnd(args[0] as string, args.slice(1), 10_000);
  if (run.code !== 0) throw new Error(`${path}: curl exited ${run.code}: ${run.stdout} ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** The collector's results for the agent, oldest first. */
async function results(): Promise<MeasurementResult[]> {
  const page = (await request(`/api/v1/results?agent=${AGENT}&limit=100`)) as { results: MeasurementResult[] };
  return page.results;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${agent?.output().slice(-3000) ?? ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A test from the collector (test-now), and its result once stored. */
async function testNow(): Promise<MeasurementResult> {
  const before = (await results()).length;
  await until('the agent connected', 20_000, async () => {
    const answer = (await request('/api/v1/tests', { agent: AGENT })) as { requested: unknown[] };
    return answer.requested.length > 0 ? true : undefined;
  });
  return until('the requested test\'s result', 90_000, async () => (await results())[before]);
}

interface IperfInterval {
  sum: { start: number; end: number; bytes: number };
}

/** The payload iperf3 sent between two instants (ms since the epoch), from its per-second intervals (pro rata at the edges). */
function iperfBytesBetween(report: { start: { timestamp: { timesecs: number } }; intervals: IperfInterval[] }, fromMs: number, toMs: number): number {
  const t0 = report.start.timestamp.timesecs * 1000;
  let bytes = 0;
  for (const { sum } of report.intervals) {
    const s = t0 + sum.start * 1000;
    const e = t0 + sum.end * 1000;
    const overlap = Math.max(0, Math.min(e, toMs) - Math.max(s, fromMs));
    bytes += (sum.bytes * overlap) / (e - s);
  }
  return bytes;
}

describe.skipIf(missing !== undefined)('busy-line lab (network namespaces, tbf, iperf3, daemon and collector)', () => {
  beforeAll(async () => {
    sh('ip', 'netns', 'add', NS_SERVER);
    sh('ip', 'netns', 'add', NS_CLIENT);
    sh('ip', 'link', 'add', VETH_SERVER, 'netns', NS_SERVER, 'type', 'veth', 'peer', 'name', VETH_CLIENT, 'netns', NS_CLIENT);
    for (const [ns, dev, ip] of [[NS_SERVER, VETH_SERVER, SERVER_IP], [NS_CLIENT, VETH_CLIENT, CLIENT_IP]] as const) {
      sh(...inNs(ns, 'ip', 'link', 'set', 'lo', 'up'));
      sh(...inNs(ns, 'ip', 'addr', 'add', `${ip}/24`, 'dev', dev));
      sh(...inNs(ns, 'ip', 'link', 'set', dev, 'up'));
      sh(...inNs(ns, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${RATE_MBIT}mbit`, 'burst', '64kb', 'latency', '50ms'));
    }
    const iperfArgs = inNs(NS_SERVER, 'iperf3', '-s', '-p', '5299', '--forceflush');
    children.push(await startUntil(iperfArgs[0] as string, iperfArgs.slice(1), (l) => l.includes('Server listening')));
    children.push(await startEndpointProcess(['--host', SERVER_IP, '--port', '8601', '--log-level', 'warn'], inNs(NS_SERVER)));

    // The collector on the agent's namespace's loopback: its traffic never crosses the veth.
    const db = join(dir, 'collector.db');
    const config = join(dir, 'collector.yaml');
    writeFileSync(config, `db: ${db}\nhost: 127.0.0.1\nport: 0\nheartbeat: 1s\nadminToken: ${ADMIN}\nlogLevel: warn\n`);
    const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', AGENT, '--name', AGENT, '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
    const collectorArgs = inNs(NS_CLIENT, process.execPath, BIN.collector, 'serve', '--config', config);
    const collector = await startUntil(collectorArgs[0] as string, collectorArgs.slice(1), (l) => l.includes('"event":"listening"'));
    children.push(collector);
    api = (JSON.parse(collector.line) as { url: string }).url;
    const port = new URL(api).port;
    // Checks of 1 s, 2 s then 4 s apart (30 s and 60 s in the field); one test an hour, so none
    // but the collector's run while the lab does.
    mkdirSync(join(dir, 'agent'));
    writeFileSync(join(dir, 'agent', 'token'), token);
    writeFileSync(
      join(dir, 'agent', 'agent.yaml'),
      `collector:\n  url: ws://127.0.0.1:${port}/v1/agents\n  tokenFile: token\nschedule:\n  interval: 1h\nendpoints:\n  urls: [http://${SERVER_IP}:8601/]\n` +
        'test:\n  duration: 4s\n  warmup: 1s\n  latencyCount: 5\nbusyLine:\n  sample: 1s\n  tries: 3\n  retryAfter: 2s\ndataDir: state\n',
    );
    const agentArgs = inNs(NS_CLIENT, process.execPath, BIN.agent, 'run', '--config', join(dir, 'agent', 'agent.yaml'));
    const child = spawn(agentArgs[0] as string, agentArgs.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = ''; // one JSON object a line on stderr
    child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    agent = { child, output: () => log, stop: (graceMs) => stopChild(child, graceMs) };
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await Promise.all(children.map((c) => c.stop()));
    for (const ns of [NS_SERVER, NS_CLIENT]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // Not created: setup failed before it.
      }
    }
  });

  it('postpones a test while an iperf3 flow loads the line, then runs it flagged with the flow\'s bytes as cross traffic', async () => {
    const flowArgs = inNs(NS_CLIENT, 'iperf3', '-c', SERVER_IP, '-p', '5299', '-b', `${CROSS_MBIT}M`, '-t', '40', '-J');
    const flow = runToEnd(flowArgs[0] as string, flowArgs.slice(1), 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    const result = await testNow();
    const run = await flow;
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Parameters<typeof iperfBytesBetween>[0];
    const busy = result.busyLine;
    expect(busy, JSON.stringify(result)).toBeDefined();
    if (busy === undefined) return;
    const startedMs = Date.parse(result.startedAt);
    const iperfBytes = iperfBytesBetween(report, startedMs, startedMs + busy.durationMs);
    console.info(`busy-line lab: ${JSON.stringify({ busy, iperfBytes: Math.round(iperfBytes), ratio: +(busy.crossTrafficBytes / iperfBytes).toFixed(4), usageBytes: result.usage?.bytes, download: result.download?.mbps, upload: result.upload?.mbps })}`);
    expect(busy.flagged).toBe(true);
    // Three checks, every one above the threshold: the test ran after the last.
    expect(busy.preTestBytesPerSec).toHaveLength(3);
    for (const rate of busy.preTestBytesPerSec ?? []) expect(rate).toBeGreaterThan(busy.thresholdBytesPerSec);
    expect(agent?.output().match(/"event":"test-postponed"/g)).toHaveLength(2);
    expect(Math.abs(busy.crossTrafficBytes / iperfBytes - 1), `cross ${busy.crossTrafficBytes} against iperf3's ${Math.round(iperfBytes)}`).toBeLessThanOrEqual(TOLERANCE);
    // The flow went out: what came in (its ACKs carry no payload) is next to nothing.
    expect(busy.crossRxBytes).toBeLessThan(0.02 * busy.crossTrafficBytes);
  }, 150_000);

  it('runs a test at once on a quiet line, and flags nothing', async () => {
    const result = await testNow();
    const busy = result.busyLine;
    expect(busy, JSON.stringify(result)).toBeDefined();
    if (busy === undefined) return;
    console.info(`busy-line lab, quiet: ${JSON.stringify({ busy, usageBytes: result.usage?.bytes, download: result.download?.mbps, upload: result.upload?.mbps })}`);
    expect(busy.flagged).toBe(false);
    expect(busy.preTestBytesPerSec).toHaveLength(1);
    // What remains is the test's own: bytes the endpoint had sent when the download's streams
    // closed, which arrived but were never read (about 170 kB of 150 MB here).
    expect(busy.crossTrafficBytes).toBeLessThan(0.01 * (result.usage?.bytes ?? 0));
  }, 150_000);
});
