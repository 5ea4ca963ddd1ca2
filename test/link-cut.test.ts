/**
 * The network between an agent and the collector cut and restored: the agent daemon runs in
 * its own network namespace joined to the host by a veth pair; `ip link set … down` cuts it
 * while the agent goes on testing, and after `up` its backlog reaches the collector, every
 * result exactly once. Needs root (namespaces); skipped with a printed reason otherwise,
 * except under CI.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import type { Running } from './support/processes.js';

const notRoot = process.getuid?.() !== 0;
if (notRoot) {
  if (process.env['CI'] === 'true') throw new Error('the link-cut test needs root under CI (network namespaces)');
  console.warn('link-cut test SKIPPED: it needs root for network namespaces');
}

const tag = String(process.pid % 100_000);
const ns = `swlink-${tag}`;
const hostIf = `swlh${tag}`;
const agentIf = `swla${tag}`;
const octet = 1 + (process.pid % 250);
const hostIp = `10.201.${octet}.1`;
const agentIp = `10.201.${octet}.2`;
const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: 'ignore' });
};

let dir = '';
let collector: (Running & { line: string }) | undefined;
let endpoint: (Running & { url: string }) | undefined;
let agent: ChildProcess | undefined;
let agentLog = '';
let collectorUrl = '';

beforeAll(async () => {
  if (notRoot) return;
  ip('netns', 'add', ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', agentIf);
  ip('link', 'set', agentIf, 'netns', ns);
  ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${agentIp}/30`, 'dev', agentIf);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', agentIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');

  dir = mkdtempSync(join(tmpdir(), 'sw-linkcut-'));
  const db = join(dir, 'collector.db');
  // A short heartbeat, so that the collector drops the agent's connection during the cut and
  // the agent must reconnect afterwards.
  writeFileSync(join(dir, 'collector.yaml'), `host: ${hostIp}\nport: 0\ndb: ${db}\nheartbeat: 2s\nlogLevel: warn\n`);
  const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', 'school-1', '--name', 'School 1', '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', join(dir, 'collector.yaml')], (line) => line.includes('"listening"'));
  collectorUrl = (JSON.parse(collector.line) as { url: string }).url;
  endpoint = await startEndpointProcess(['--host', hostIp, '--port', '0', '--max-mbps', '100', '--log-level', 'warn']);
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(
    join(dir, 'agent.yaml'),
    `collector:\n  url: ${collectorUrl.replace(/^http/, 'ws')}v1/agents\n  tokenFile: token\nsite:\n  name: School 1\n  kind: school\n  technology: fixed\n` +
      `schedule:\n  interval: 3s\nendpoints:\n  urls: [${endpoint.url}]\ntest:\n  duration: 1500ms\n  warmup: 300ms\n  streams: 2\n  latencyCount: 3\ndataDir: state\nlogLevel: info\n`,
  );
  agent = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN.agent, 'run', '--config', join(dir, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  agent.stderr?.setEncoding('utf8').on('data', (d: string) => (agentLog += d));
}, 30_000);

afterAll(async () => {
  if (agent !== undefined) await stopChild(agent);
  await collector?.stop();
  await endpoint?.stop();
  if (!notRoot) {
    try {
      ip('link', 'del', hostIf);
    } catch {
      // Deleted with the namespace's end of the pair.
    }
    ip('netns', 'del', ns);
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Ids of the results the agent finished, from its log. */
function produced(): string[] {
  return agentLog
    .split('\n')
    .filter((l) => l.includes('"event":"test-done"'))
    .map((l) => (JSON.parse(l) as { resultId: string }).resultId);
}

async function storedIds(): Promise<string[]> {
  const res = await fetch(`${collectorUrl}api/v1/results?agent=school-1&limit=10000`);
  return ((await res.json()) as { results: { id: string }[] }).results.map((r) => r.id);
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agent log tail: ${agentLog.slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(notRoot)('the link between an agent and the collector', () => {
  it('cut while the agent tests, then restored: the backlog arrives, each result once', async () => {
    await until('a first result stored', async () => (await storedIds()).length >= 1, 30_000);
    ip('link', 'set', hostIf, 'down');
    const atCut = produced().length;
    // The agent goes on testing (its tests fail, each phase after its 5 s connect timeout: the
    // endpoint is across the same link) and keeps the results; the collector drops the silent
    // connection at its heartbeat.
    await until('a result made during the cut', () => produced().length >= atCut + 1, 60_000);
    const storedDuringCut = await storedIds();
    const madeDuringCut = produced().slice(atCut);
    expect(madeDuringCut.filter((id) => storedDuringCut.includes(id))).toEqual([]);
    ip('link', 'set', hostIf, 'up');
    const target = produced();
    await until('the backlog to arrive', async () => {
      const stored = await storedIds();
      return target.every((id) => stored.includes(id));
    }, 60_000);
    const stored = await storedIds();
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored.filter((id) => !produced().includes(id))).toEqual([]);
    // It came back over a new connection, not by TCP retransmission on the old one.
    expect(agentLog.match(/"event":"connected"/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
