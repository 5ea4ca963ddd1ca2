/**
 * The agent daemon's memory: RSS while idle between tests, and while a loopback test runs
 * (the daemon and its test process), with Node's default flags and with the flags the systemd
 * unit uses. A real collector and endpoint on loopback; RSS read from /proc.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '@speedwatch/shared';
import { BIN, startEndpointProcess, startUntil } from '../support/processes.js';
import type { BenchRow } from './collector-bench.js';

const COLLECTOR = BIN.collector;
/** What agent/deploy/systemd/speedwatch-agent.service passes to node. */
export const UNIT_NODE_FLAGS = ['--no-opt', '--max-semi-space-size=1'];

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number));
    } catch {
      // The task ended while we looked.
    }
  }
  return out;
}

async function measureOnce(flags: string[], collectorUrl: string, endpointUrl: string, db: string, n: number): Promise<{ idle: number; daemonDuring: number; testPeak: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sw-bench-daemon-'));
  const id = `bench-${n}`;
  const token = execFileSync(process.execPath, [COLLECTOR, 'agents', 'add', '--db', db, '--id', id, '--name', id, '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(
    join(dir, 'agent.yaml'),
    `collector:\n  url: ${collectorUrl.replace(/^http/, 'ws')}v1/agents\n  tokenFile: token\nsite: { name: ${id}, kind: school, technology: fixed }\n` +
      `schedule: { interval: 20s }\nendpoints:\n  urls: [${endpointUrl}]\ntest: { duration: 4s }\ndataDir: state\nlogLevel: info\n`,
  );
  const daemon = spawn(process.execPath, [...flags, BIN.agent, 'run', '--config', join(dir, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const pid = daemon.pid as number;
  let daemonDuring = 0;
  let testPeak = 0;
  const sampler = setInterval(() => {
    try {
      const kids = childrenOf(pid);
      if (kids.length > 0) {
        daemonDuring = Math.max(daemonDuring, rssMb(pid));
        for (const kid of kids) testPeak = Math.max(testPeak, rssMb(kid));
      }
    } catch {
      // A process ended between reads.
    }
  }, 50);
  const deadline = Date.now() + 60_000;
  while (!log.includes('"event":"test-done"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  clearInterval(sampler);
  if (!log.includes('"event":"test-done"')) throw new Error(`no test finished:\n${log.slice(-2000)}`);
  // Idle: a few seconds after the test, with the result delivered.
  await new Promise((r) => setTimeout(r, 3000));
  const idle = rssMb(pid);
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  return { idle, daemonDuring, testPeak };
}

export async function benchAgentDaemon(options: { runs: number }): Promise<{ rows: BenchRow[]; summary: Record<string, unknown> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sw-bench-collector-'));
  const db = join(dir, 'c.db');
  execFileSync(process.execPath, [COLLECTOR, 'agents', 'list', '--db', db]); // creates the database
  const collector = await startUntil(process.execPath, [COLLECTOR, 'serve', '--db', db, '--port', '0', '--log-level', 'warn'], (l) => l.includes('"listening"'));
  const endpoint = await startEndpointProcess(['--port', '0', '--log-level', 'warn']);
  try {
    const collectorUrl = (JSON.parse(collector.line) as { url: string }).url;
    const results: Record<string, { idle: number[]; daemonDuring: number[]; testPeak: number[] }> = {};
    let n = 0;
    for (let run = 0; run < options.runs; run++) {
      for (const [name, flags] of [['default', []], ['unit', UNIT_NODE_FLAGS]] as const) {
        process.stderr.write(`agent daemon RSS, ${name} flags, run ${run + 1}/${options.runs}…\n`);
        const m = await measureOnce([...flags], collectorUrl, endpoint.url, db, n++);
        const r = (results[name] ??= { idle: [], daemonDuring: [], testPeak: [] });
        r.idle.push(m.idle);
        r.daemonDuring.push(m.daemonDuring);
        r.testPeak.push(m.testPeak);
      }
    }
    const med = (name: string, key: 'idle' | 'daemonDuring' | 'testPeak'): number => median(results[name]?.[key] ?? [Number.NaN]);
    const f = (x: number): string => x.toFixed(1);
    const summary = {
      idleRssMb: { default: med('default', 'idle'), unitFlags: med('unit', 'idle') },
      daemonRssDuringTestMb: { default: med('default', 'daemonDuring'), unitFlags: med('unit', 'daemonDuring') },
      testProcessPeakRssMb: med('default', 'testPeak'),
    };
    return {
      summary,
      rows: [
        { measure: 'agent daemon idle RSS MB (systemd unit flags / node defaults)', value: `${f(summary.idleRssMb.unitFlags)} / ${f(summary.idleRssMb.default)}`, peer: 'node bare ~41', ratio: '', goal: '< 60' },
        { measure: 'agent daemon RSS MB during a loopback test (unit / defaults)', value: `${f(summary.daemonRssDuringTestMb.unitFlags)} / ${f(summary.daemonRssDuringTestMb.default)}`, peer: '', ratio: '', goal: '' },
        { measure: 'test process (once) peak RSS MB during a loopback test', value: f(summary.testProcessPeakRssMb), peer: '', ratio: '', goal: '< 100' },
      ],
    };
  } finally {
    await collector.stop();
    await endpoint.stop();
  }
}
