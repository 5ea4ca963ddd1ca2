/**
 * The collector's own alerts in the real process (BIN.collector), stopped and started again on
 * the same database: a notification that could not be delivered while the receiver was down is
 * delivered once after the restart, an unchanged firing alert is not sent again by a further
 * restart, and good results send the resolution.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

interface Posted {
  version: string;
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; fingerprint: string }[];
}

interface AlertsReport {
  evaluatedAt: string | null;
  alerts: { alertname: string; state: string; startsAt: string | null; fingerprint: string }[];
  webhooks: { undelivered: number; lastError: string | null }[];
}

function result(mbps: number): Record<string, unknown> {
  const startedAt = new Date(Date.now() - 30_000).toISOString();
  return {
    schemaVersion: 1, id: randomUUID(), status: 'ok', startedAt, finishedAt: new Date().toISOString(), technology: 'mobile',
    download: { mbps, bytes: mbps * 1e6, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: mbps * 1.25e6, sampleIntervalMs: 200, samplesMbps: [] },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function report(url: string): Promise<AlertsReport> {
  return (await (await fetch(`${url}api/v1/alerts`)).json()) as AlertsReport;
}

/** Resolves once the collector has finished `count` more evaluations than when called. */
async function evaluations(url: string, count: number): Promise<void> {
  const seen = new Set<string>();
  const first = (await report(url)).evaluatedAt;
  await until(`${count} evaluations`, async () => {
    const at = (await report(url)).evaluatedAt;
    if (at !== null && at !== first) seen.add(at);
    return seen.size >= count ? true : undefined;
  });
}

/** Connects as the agent, sends one batch and resolves when it is acked. */
async function send(url: string, token: string, downloads: number[]): Promise<void> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}v1/agents`, { headers: { authorization: `Bearer ${token}` } });
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ack within 10 s')), 10_000);
      ws.on('message', (data) => {
        if ((JSON.parse(data.toString()) as { type: string }).type !== 'ack') return;
        clearTimeout(timer);
        resolve();
      });
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() }));
    ws.send(JSON.stringify({ type: 'results', results: downloads.map(result) }));
    await acked;
  } finally {
    ws.terminate();
  }
}

describe('collector alerts across restarts of the real process', () => {
  const running: Running[] = [];
  const servers: Server[] = [];

  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    for (const s of servers.splice(0)) await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  });

  it('delivers after a restart what the receiver missed, once, and resolves on good results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-collector-alerts-'));
    const db = join(dir, 'collector.db');
    const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', 'clinic-1', '--name', 'Clinic 1', '--site-kind', 'clinic', '--technology', 'mobile', '--area', 'Lạng Sơn/Cao Lộc'], { encoding: 'utf8' }).trim();

    // A port nothing listens on yet: the receiver is "down" for the first run.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const week = '7d';
    writeFileSync(
      join(dir, 'collector.yaml'),
      [
        `db: ${db}`,
        'port: 0',
        'maintenanceInterval: 1s',
        'verdicts: { minTests: { agent: 1, group: 1 } }',
        'alerts:',
        `  webhooks: [http://127.0.0.1:${port}/hook]`,
        '  evaluateInterval: 1s',
        `  for: { siteBelowTarget: 0s, groupBelowTarget: ${week}, agentSilent: ${week}, agentDisconnected: ${week}, collectorRejecting: ${week} }`,
        '  delivery: { attempts: 1, backoff: 100ms, maxBackoff: 500ms }',
      ].join('\n'),
    );
    const serve = async (): Promise<string> => {
      const collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', join(dir, 'collector.yaml'), '--log-level', 'warn'], (l) => l.includes('"listening"'));
      running.push(collector);
      return (JSON.parse(collector.line) as { url: string }).url;
    };
    const stop = async (): Promise<void> => {
      await running.pop()?.stop();
    };

    // Run 1: one test at 30 Mbps, under mobile's 42; the alert fires and cannot be delivered.
    let url = await serve();
    await send(url, token, [30]);
    const undelivered = await until('the firing alert, undelivered', async () => {
      const r = await report(url);
      const firing = r.alerts.find((a) => a.alertname === 'SpeedwatchSiteBelowTarget' && a.state === 'firing');
      return firing !== undefined && r.webhooks[0]?.lastError?.startsWith('SW_WEBHOOK_NETWORK') === true ? { firing, r } : undefined;
    });
    expect(undelivered.r.webhooks[0]?.undelivered).toBe(1);
    await stop();

    // Run 2: the receiver is up; the queued notification is delivered, once.
    const posts: Posted[] = [];
    const receiver = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (p: Buffer) => parts.push(p));
      req.on('end', () => {
        posts.push(JSON.parse(Buffer.concat(parts).toString('utf8')) as Posted);
        res.writeHead(200).end();
      });
    });
    servers.push(receiver);
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    url = await serve();
    await until('the delivery', async () => (posts.length > 0 ? true : undefined));
    await evaluations(url, 3);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ version: '4', status: 'firing' });
    expect(posts[0]?.alerts).toMatchObject([
      { status: 'firing', labels: { alertname: 'SpeedwatchSiteBelowTarget', agent_id: 'clinic-1' }, startsAt: undelivered.firing.startsAt, fingerprint: undelivered.firing.fingerprint },
    ]);
    expect(posts[0]?.alerts[0]?.annotations['description']).toContain('30.0 Mbps');
    expect((await report(url)).webhooks).toMatchObject([{ undelivered: 0, lastError: null }]);
    await stop();

    // Run 3: nothing changed, nothing is sent; then two tests at 60 Mbps (median 60) resolve it.
    url = await serve();
    await evaluations(url, 3);
    expect(posts).toHaveLength(1);
    await send(url, token, [60, 60]);
    await until('the resolution', async () => (posts.length > 1 ? true : undefined));
    expect(posts[1]).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', fingerprint: undelivered.firing.fingerprint, startsAt: undelivered.firing.startsAt }] });
    expect((await report(url)).alerts.filter((a) => a.state === 'firing')).toEqual([]);
  }, 90_000);
});
