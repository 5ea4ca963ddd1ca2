/**
 * A real Prometheus (Debian's package) on loopback, with the shipped rules, scraping a live
 * collector: results below target fed through the real WebSocket protocol make the
 * SpeedwatchSiteBelowTarget alert appear in Prometheus' own /api/v1/alerts (pending: its `for`
 * is an hour), and good results make it go away. Skipped with a printed reason where the
 * prometheus binary is missing, except under CI.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

const COLLECTOR = BIN.collector;
const RULES = new URL('../collector/deploy/prometheus/speedwatch.rules.yml', import.meta.url).pathname;

function missing(): string | undefined {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'the prometheus binary is not installed (apt-get install -y prometheus)';
  }
}
const why = missing();
if (why !== undefined) {
  if (process.env['CI'] === 'true') throw new Error(`Prometheus test cannot run under CI: ${why}`);
  console.warn(`Prometheus alert test SKIPPED: ${why}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function result(mbps: number): Record<string, unknown> {
  const startedAt = new Date(Date.now() - 30_000).toISOString();
  return {
    schemaVersion: 1, id: randomUUID(), status: 'ok', startedAt, finishedAt: new Date().toISOString(), technology: 'mobile',
    download: { mbps, bytes: mbps * 1e6, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: mbps * 1.25e6, samples: [] },
  };
}

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
}

async function alerts(port: number): Promise<PromAlert[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`);
  return ((await res.json()) as { data: { alerts: PromAlert[] } }).data.alerts;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(why !== undefined)('alerts in a real Prometheus scraping a live collector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-prom-'));
  const children: (Running | ChildProcess)[] = [];
  let promPort = 0;
  let collectorUrl = '';
  let token = '';

  beforeAll(async () => {
    const db = join(dir, 'c.db');
    token = execFileSync(process.execPath, [COLLECTOR, 'agents', 'add', '--db', db, '--id', 'clinic-1', '--name', 'Clinic 1', '--site-kind', 'clinic', '--technology', 'mobile', '--isp', 'Viettel', '--area', 'Lạng Sơn/Cao Lộc'], { encoding: 'utf8' }).trim();
    // One test is enough for a verdict here; verdicts refresh every second.
    writeFileSync(join(dir, 'collector.yaml'), `db: ${db}\nport: 0\nmaintenanceInterval: 1s\nverdicts:\n  minTests: { agent: 1, group: 1 }\n`);
    const collector = await startUntil(process.execPath, [COLLECTOR, 'serve', '--config', join(dir, 'collector.yaml'), '--log-level', 'warn'], (l) => l.includes('"listening"'));
    children.push(collector);
    collectorUrl = (JSON.parse(collector.line) as { url: string }).url;
    copyFileSync(RULES, join(dir, 'speedwatch.rules.yml'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }\nrule_files: [speedwatch.rules.yml]\n` +
        `scrape_configs:\n  - job_name: speedwatch-collector\n    static_configs: [{ targets: ['${new URL(collectorUrl).host}'] }]\n`,
    );
    promPort = await freePort();
    const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    children.push(prometheus);
    await until('Prometheus ready', async () => ((await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok ? true : undefined), 30_000);
  }, 60_000);

  afterAll(async () => {
    for (const c of children) {
      if ('stop' in c) await c.stop();
      else c.kill('SIGKILL');
    }
  });

  it('shows SpeedwatchSiteBelowTarget for a mobile site at 30 Mbps, naming it, and drops it after good results', async () => {
    const ws = new WebSocket(`${collectorUrl.replace(/^http/, 'ws')}v1/agents`, { headers: { authorization: `Bearer ${token}` } });
    const acks: string[][] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; ids?: string[] };
      if (m.type === 'ack') acks.push(m.ids ?? []);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() }));
    ws.send(JSON.stringify({ type: 'results', results: [result(30)] }));
    const alert = await until('the alert in Prometheus', async () => (await alerts(promPort)).find((a) => a.labels['alertname'] === 'SpeedwatchSiteBelowTarget'), 30_000);
    expect(['pending', 'firing']).toContain(alert.state);
    expect(alert.labels).toMatchObject({ agent_id: 'clinic-1', technology: 'mobile', area: 'Lạng Sơn/Cao Lộc', isp: 'Viettel' });
    expect(alert.annotations['description']).toMatch(/latest test measured 30\.0 Mbps/);

    // Two tests at 60 Mbps: the 24 h median of 30, 60, 60 is 60, above the 42 Mbps target.
    ws.send(JSON.stringify({ type: 'results', results: [result(60), result(60)] }));
    await until('the alert to go', async () => ((await alerts(promPort)).some((a) => a.labels['alertname'] === 'SpeedwatchSiteBelowTarget') ? undefined : true), 30_000);
    expect(acks.flat()).toHaveLength(3);
    ws.close();
  }, 90_000);
});
