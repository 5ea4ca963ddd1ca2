/**
 * The whole chain as real child processes on loopback: a collector, an endpoint, three agent
 * daemons testing every few seconds. Results survive a collector outage and an agent killed
 * mid-test, each arriving exactly once; a torn outbox is recovered; a revoked token stops its
 * agent with a clear error.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startEndpointProcess } from './support/processes.js';
import type { Running } from './support/processes.js';

const COLLECTOR = BIN.collector;
const dir = mkdtempSync(join(tmpdir(), 'sw-e2e-'));
const db = join(dir, 'collector.db');
let endpoint: Running & { url: string };
let collectorPort = 0;
let collector: ChildProcess | undefined;

interface AgentProc {
  id: string;
  child: ChildProcess;
  log: string;
  exit: Promise<number | null>;
}
const agents = new Map<string, AgentProc>();

function startCollector(): Promise<void> {
  const child = spawn(process.execPath, [COLLECTOR, 'serve', '--db', db, '--port', String(collectorPort), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  collector = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('collector did not start')), 10_000);
    child.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      collectorPort = Number(new URL((JSON.parse(d.toString().split('\n')[0] as string) as { url: string }).url).port);
      resolve();
    });
  });
}

async function stopCollector(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = collector;
  if (child === undefined || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

function addAgent(id: string, technology: 'fixed' | 'mobile'): string {
  const agentDir = join(dir, id);
  mkdirSync(agentDir, { recursive: true });
  const token = execFileSync(process.execPath, [COLLECTOR, 'agents', 'add', '--db', db, '--id', id, '--name', id, '--site-kind', 'school', '--technology', technology], { encoding: 'utf8' }).trim();
  writeFileSync(join(agentDir, 'token'), token);
  writeFileSync(
    join(agentDir, 'agent.yaml'),
    `collector:\n  url: ws://127.0.0.1:${collectorPort}/v1/agents\n  tokenFile: token\nsite:\n  name: ${id}\n  kind: school\n  technology: ${technology}\n` +
      `schedule:\n  interval: 3s\nhealth:\n  interval: 2s\nendpoints:\n  urls: [${endpoint.url}]\ntest:\n  duration: 1500ms\n  warmup: 300ms\n  streams: 2\n  latencyCount: 3\ndataDir: state\nlogLevel: info\n`,
  );
  return agentDir;
}

function startAgent(id: string): AgentProc {
  const child = spawn(process.execPath, [BIN.agent, 'run', '--config', join(dir, id, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const proc: AgentProc = { id, child, log: '', exit: new Promise((r) => child.once('exit', (code) => r(code))) };
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    proc.log += d;
  });
  agents.set(id, proc);
  return proc;
}

/** Ids of results the agent finished (from its structured log). */
function produced(proc: AgentProc): string[] {
  return proc.log
    .split('\n')
    .filter((l) => l.includes('"event":"test-done"'))
    .map((l) => (JSON.parse(l) as { resultId: string }).resultId);
}

async function storedIds(agentId: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${collectorPort}/api/v1/results?agent=${agentId}&limit=10000`);
  return ((await res.json()) as { results: { id: string }[] }).results.map((r) => r.id);
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--port', '0', '--max-mbps', '200', '--log-level', 'warn']);
  await startCollector();
  for (const [id, tech] of [['school-a', 'fixed'], ['clinic-b', 'mobile'], ['office-c', 'fixed']] as const) addAgent(id, tech);
  for (const id of ['school-a', 'clinic-b', 'office-c']) startAgent(id);
}, 30_000);

afterAll(async () => {
  for (const proc of agents.values()) proc.child.kill('SIGKILL');
  await stopCollector('SIGKILL');
  await endpoint?.stop();
});

describe('agent daemons, collector and endpoint as processes', () => {
  it('deliver every result exactly once across a collector outage', async () => {
    const a = agents.get('school-a') as AgentProc;
    await until('two results from school-a', () => produced(a).length >= 2, 20_000);
    await stopCollector();
    const duringOutage = produced(a).length;
    await until('a result made while the collector is down', () => produced(a).length > duringOutage, 15_000);
    await startCollector();
    const target = produced(a);
    await until('the backlog to arrive', async () => (await storedIds('school-a')).filter((id) => target.includes(id)).length === target.length, 30_000);
    const stored = await storedIds('school-a');
    expect(new Set(stored).size).toBe(stored.length);
    for (const id of target) expect(stored).toContain(id);
  }, 90_000);

  it('report their health: version, free disk of the data directory, outbox and the last test', async () => {
    type Health = { agent: { version: string; node: string | null }; diskFreeBytes: number | null; backlog: number; lastTest: { status: string } | null; clockSkewSeconds: number } | null;
    let health: Health = null;
    await until('a health report with a test from school-a', async () => {
      const res = await fetch(`http://127.0.0.1:${collectorPort}/api/v1/agents`);
      health = ((await res.json()) as { agents: { id: string; health: Health }[] }).agents.find((a) => a.id === 'school-a')?.health ?? null;
      return health?.lastTest != null;
    }, 20_000);
    const seen = health as unknown as NonNullable<Health>;
    expect(seen.agent.node).toBe(process.versions.node);
    expect(seen.diskFreeBytes).toBeGreaterThan(0);
    expect(seen.backlog).toBeGreaterThanOrEqual(0);
    expect(['ok', 'partial', 'failed']).toContain(seen.lastTest?.status);
    expect(Math.abs(seen.clockSkewSeconds)).toBeLessThan(5);
  }, 30_000);

  it('deliver the backlog of an agent killed with SIGKILL mid-test, and recover a torn outbox', async () => {
    const b = agents.get('clinic-b') as AgentProc;
    await until('a result from clinic-b', () => produced(b).length >= 1, 20_000);
    await stopCollector(); // results pile up in the outbox
    const before = produced(b).length;
    await until('a backlog', () => produced(b).length >= before + 1, 15_000);
    // Kill in the middle of the next test's upload: a test here is ~50 ms of latency, 1.5 s of
    // download, then 1.5 s of upload (plus up to 2 s for confirmations), so 2.4 s in is upload.
    const started = () => b.log.split('\n').filter((l) => l.includes('"schedule-started"')).length;
    const startedBefore = started();
    await until('the next test to start', () => started() > startedBefore, 15_000);
    await new Promise((r) => setTimeout(r, 2400));
    b.child.kill('SIGKILL');
    await b.exit;
    const backlog = produced(b);
    // A power cut's torn record: half a frame at the end of the log.
    const outboxLog = join(dir, 'clinic-b', 'state', 'outbox.log');
    expect(existsSync(outboxLog)).toBe(true);
    appendFileSync(outboxLog, Buffer.from([0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x7b, 0x22]));
    await startCollector();
    const restarted = startAgent('clinic-b');
    await until('the backlog to arrive', async () => {
      const stored = await storedIds('clinic-b');
      return backlog.every((id) => stored.includes(id));
    }, 30_000);
    expect(restarted.log).toMatch(/torn/i);
    const stored = await storedIds('clinic-b');
    expect(new Set(stored).size).toBe(stored.length);
    // And it keeps working after the recovery.
    const after = produced(restarted).length;
    await until('a new result after recovery', () => produced(restarted).length > after, 20_000);
  }, 120_000);

  it('stop an agent whose token is revoked, with exit status 4 and a clear error', async () => {
    const c = agents.get('office-c') as AgentProc;
    // Connected now, as the collector sees it: after the outage of the tests before, an agent may
    // still be in its reconnect backoff, and a revocation would then reach it only at its next try.
    await until(
      'office-c connected',
      async () => {
        const { agents: listed } = (await (await fetch(`http://127.0.0.1:${collectorPort}/api/v1/agents`)).json()) as { agents: { id: string; connected: boolean }[] };
        return listed.some((a) => a.id === 'office-c' && a.connected);
      },
      60_000,
    );
    execFileSync(process.execPath, [COLLECTOR, 'agents', 'revoke', 'office-c', '--db', db]);
    const code = await Promise.race([c.exit, new Promise((r) => setTimeout(() => r('still running'), 45_000))]);
    expect(code).toBe(4);
    expect(c.log).toMatch(/"event":"unauthorized".*revoked/);
  }, 120_000);
});
