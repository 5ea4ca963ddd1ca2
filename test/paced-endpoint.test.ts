/**
 * End to end with real processes: the endpoint CLI paced with --max-mbps, the agent CLI
 * measuring it. The pacing is the ground truth: 50 Mbit/s of payload each way.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import { librespeedStyleMbps, MEASUREMENT_METHOD, parseMeasurementResult } from '@speedwatch/shared';
import { listen, selfSignedCertificate } from './support/net.js';
import type { Running } from './support/processes.js';
import { BIN, runToEnd, startEndpointProcess } from './support/processes.js';

async function agentOnce(args: string[]): Promise<{ code: number | null; result: MeasurementResult }> {
  const run = await runToEnd(process.execPath, [BIN.agent, 'once', '--json', ...args], 90_000);
  const lines = run.stdout.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1); // exactly one JSON object on stdout
  return { code: run.code, result: parseMeasurementResult(JSON.parse(lines[0] as string)) };
}

describe('agent against a paced endpoint (real processes)', () => {
  let endpoint: Running & { url: string };

  beforeAll(async () => {
    endpoint = await startEndpointProcess(['--port', '0', '--max-mbps', '50', '--log-level', 'warn']);
  });
  afterAll(async () => {
    await endpoint?.stop();
  });

  it('reports 50 Mbps ± 5% for download and upload against --max-mbps 50, with every documented field', async () => {
    const { code, result } = await agentOnce(['--endpoint', endpoint.url, '--duration', '8']);
    expect(code).toBe(0);
    expect(result.status).toBe('ok');
    expect(result.download?.mbps).toBeGreaterThanOrEqual(47.5);
    expect(result.download?.mbps).toBeLessThanOrEqual(52.5);
    expect(result.upload?.mbps).toBeGreaterThanOrEqual(47.5);
    expect(result.upload?.mbps).toBeLessThanOrEqual(52.5);
    expect(result.upload?.confirmedBy).toBe('header');
    // bytes, window and rate agree: 8 s minus the warm-up (1 to 4 s), less a second for the soft edges.
    for (const phase of [result.download, result.upload]) {
      expect(phase?.durationMs).toBeGreaterThan(8000 - (phase?.warmupMs ?? 0) - 1000 - 100);
      expect(phase?.durationMs).toBeLessThanOrEqual(8000 - (phase?.warmupMs ?? 0) - 1000 + 100); // the phase's timer may fire a little late
      expect(((phase?.bytes ?? 0) * 8) / ((phase?.durationMs ?? 1) * 1000)).toBeCloseTo(phase?.mbps ?? 0, 1);
      expect(phase?.streams).toBe(4);
      expect(phase?.librespeedMbps).toBe(librespeedStyleMbps(phase?.mbps ?? 0));
    }
    expect(result.method).toBe(MEASUREMENT_METHOD);
    expect(result.latency?.lossRatio).toBe(0);
    expect(result.latency?.count).toBe(20);
    expect(result.loadedLatency?.download?.count).toBeGreaterThan(5);
    expect(result.loadedLatency?.upload?.count).toBeGreaterThan(5);
    expect(result.endpoint).toMatchObject({ url: endpoint.url, reason: 'only' });
    expect(result.clientIp).toBe('127.0.0.1');
    // By default warm-up adapts (it ends once the rate settles, within half the phase) and the streams stay 4.
    for (const phase of [result.download, result.upload]) {
      expect(phase?.streams).toBe(4);
      expect(phase?.ramp?.initialStreams).toBe(4);
      expect(['settled', 'limit']).toContain(phase?.ramp?.warmup);
      expect(phase?.warmupMs).toBeGreaterThanOrEqual(phase?.ramp?.warmup === 'limit' ? 4000 : 1000);
      expect(phase?.warmupMs).toBeLessThanOrEqual(4000);
    }
  }, 60_000);

  it('adds streams to probe a full line, sees no gain, and records the ramp: 2 streams → 4 (or 8 on a noisy second), still 50 Mbps ± 5%', async () => {
    const { code, result } = await agentOnce(['--endpoint', endpoint.url, '--tests', 'download,upload', '--streams', '2', '--max-streams', '16', '--duration', '8']);
    expect(code).toBe(0);
    for (const phase of [result.download, result.upload]) {
      expect(phase?.ramp?.initialStreams).toBe(2);
      // The pacer holds 50 Mbit/s whatever the streams: the probe's doubling brings no gain.
      expect([4, 8]).toContain(phase?.streams);
      expect(phase?.mbps).toBeGreaterThanOrEqual(47.5);
      expect(phase?.mbps).toBeLessThanOrEqual(52.5);
    }
    const fixed = await agentOnce(['--endpoint', endpoint.url, '--tests', 'download', '--streams', '3', '--warmup', '1.5', '--duration', '6']);
    expect(fixed.result.download).toMatchObject({ streams: 3, warmupMs: 1500, ramp: { warmup: 'fixed', initialStreams: 3 } });
  }, 60_000);

  it('prints no warning on stderr with 16 streams (one abort listener per phase, not per request)', async () => {
    const run = await runToEnd(process.execPath, [BIN.agent, 'once', '--json', '--endpoint', endpoint.url, '--tests', 'download,upload', '--streams', '16', '--duration', '3'], 60_000);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('leaves a skipped phase out and reads the verdict for mobile broadband', async () => {
    const { code, result } = await agentOnce(['--endpoint', endpoint.url, '--tests', 'download', '--duration', '3', '--technology', 'mobile']);
    expect(code).toBe(0);
    expect(result.technology).toBe('mobile');
    expect(result.latency).toBeUndefined();
    expect(result.upload).toBeUndefined();
    expect(result.download?.mbps).toBeGreaterThan(40);
    const human = await runToEnd(process.execPath, [BIN.agent, 'once', '--endpoint', endpoint.url, '--tests', 'download', '--duration', '3', '--technology', 'mobile'], 30_000);
    expect(human.stdout).toMatch(/Verdict +MEETS the download target 42 Mbps for mobile broadband/);
    const fixed = await runToEnd(process.execPath, [BIN.agent, 'once', '--endpoint', endpoint.url, '--tests', 'download', '--duration', '3'], 30_000);
    expect(fixed.stdout).toMatch(/Verdict +BELOW the download target 102 Mbps for fixed broadband/);
  }, 60_000);

  it('picks the endpoint that answers from a server list, and records why', async () => {
    const dead = await listen(http.createServer());
    await dead.close();
    const file = join(mkdtempSync(join(tmpdir(), 'sw-list-')), 'servers.json');
    writeFileSync(file, JSON.stringify([
      { name: 'dead', server: dead.url, dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php' },
      { name: 'paced', server: `${endpoint.url}backend/`, dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php' },
    ]));
    const chosen = await agentOnce(['--server-file', file, '--tests', 'latency']);
    expect(chosen.result.status).toBe('ok');
    expect(chosen.result.endpoint).toMatchObject({ name: 'paced', reason: 'lowest-latency' });
    expect(chosen.result.endpoint?.candidates).toEqual([
      { name: 'dead', errorCode: 'SW_CONNECT_REFUSED' },
      { name: 'paced', medianMs: expect.any(Number) },
    ]);
    const forced = await agentOnce(['--server-file', file, '--server', 'dead', '--tests', 'latency']);
    expect(forced.code).toBe(3);
    expect(forced.result.endpoint).toMatchObject({ name: 'dead', reason: 'forced' });
    expect(forced.result.error?.code).toBe('SW_CONNECT_REFUSED');
  }, 60_000);
});

describe('agent against an https endpoint (real processes)', () => {
  it('measures over TLS with the CA given, and refuses the endpoint without it', async () => {
    const cert = selfSignedCertificate();
    const dir = mkdtempSync(join(tmpdir(), 'sw-tls-'));
    writeFileSync(join(dir, 'cert.pem'), cert.cert);
    writeFileSync(join(dir, 'key.pem'), cert.key);
    const tlsEndpoint = await startEndpointProcess(['--port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--log-level', 'warn']);
    try {
      expect(tlsEndpoint.url).toMatch(/^https:/);
      const ok = await agentOnce(['--endpoint', tlsEndpoint.url, '--ca', join(dir, 'cert.pem'), '--duration', '3']);
      expect(ok.result.status).toBe('ok');
      expect(ok.result.download?.mbps).toBeGreaterThan(100);
      expect(ok.result.upload?.mbps).toBeGreaterThan(100);
      const refused = await agentOnce(['--endpoint', tlsEndpoint.url, '--tests', 'latency']);
      expect(refused.code).toBe(3);
      expect(refused.result.error?.code).toBe('SW_TLS');
    } finally {
      await tlsEndpoint.stop();
    }
  }, 60_000);
});
