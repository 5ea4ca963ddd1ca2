/**
 * Enrollment end to end, as a person installing a box does it: the collector issues a one-time
 * code (`agents add --enroll`), the box exchanges it (`speedwatch-agent enroll`) for its token
 * and a minimal config, and `speedwatch-agent run` with that config tests at once against the
 * endpoints the collector's fleet settings name, under the collector's site description. A
 * mistyped code is caught on the box, a used or expired one refused by the collector.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runToEnd, startEndpointProcess, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sw-enroll-'));
const db = join(dir, 'collector.db');
let endpoint: Running & { url: string };
let collector: Running & { line: string };
let collectorUrl = '';
let agentsWs = '';

function collectorCli(...args: string[]): string {
  return execFileSync(process.execPath, [BIN.collector, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function enrollArgs(code: string, box: string): string[] {
  return [BIN.agent, 'enroll', '--collector', agentsWs, '--code', code, '--config', join(dir, box, 'agent.yaml'), '--data-dir', join(dir, box, 'data')];
}

async function api(path: string): Promise<unknown> {
  const res = await fetch(new URL(path, collectorUrl));
  return res.json();
}

interface AgentView {
  id: string;
  site: { name: string; area: string | null; technology: string };
  latest: unknown;
  settings: { version: string | null; appliedVersion: string | null };
}

async function agentView(id: string): Promise<AgentView | undefined> {
  const { agents } = (await api('/api/v1/agents')) as { agents: AgentView[] };
  return agents.find((a) => a.id === id);
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0']);
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    `db: ${db}\nport: 0\nlogLevel: info\nheartbeat: 2s\nfleet:\n  defaults:\n    interval: 1h\n    endpoints: [${endpoint.url}]\n    test: { duration: 1500ms, warmup: 300ms, streams: 2, latencyCount: 3 }\n`,
  );
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (line) => line.includes('"event":"listening"'));
  collectorUrl = (JSON.parse(collector.line) as { url: string }).url;
  agentsWs = collectorUrl.replace(/^http/, 'ws').replace(/\/$/, '/v1/agents');
}, 30_000);

afterAll(async () => {
  await collector?.stop();
  await endpoint?.stop();
});

describe('enrollment with one-time codes', () => {
  let code = '';

  it('issues a code of 14 typeable characters with agents add --enroll, storing the area in its canonical form', () => {
    code = collectorCli('agents', 'add', '--db', db, '--id', 'thcs-hop-thanh', '--name', 'THCS Hợp Thành', '--site-kind', 'school', '--technology', 'fixed', '--area', ' Lạng Sơn /  Cao Lộc ', '--enroll');
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$/);
    const listed = JSON.parse(collectorCli('agents', 'list', '--db', db, '--json')) as { id: string; area: string; enrollment: { usedAt?: number } }[];
    expect(listed[0]).toMatchObject({ id: 'thcs-hop-thanh', area: 'Lạng Sơn/Cao Lộc' });
    expect(listed[0]?.enrollment.usedAt).toBeUndefined();
  });

  it('catches a mistyped code on the box, before anything is sent or written', async () => {
    const typo = code.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const run = await runToEnd(process.execPath, enrollArgs(typo, 'typo'), 20_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('SW_ENROLL_CODE_MISTYPED');
    expect(existsSync(join(dir, 'typo'))).toBe(false);
  });

  it('exchanges the code for a token (0600) and a minimal config naming it', async () => {
    const run = await runToEnd(process.execPath, enrollArgs(code.toLowerCase(), 'box'), 20_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Enrolled as agent thcs-hop-thanh: THCS Hợp Thành (school, fixed, Lạng Sơn/Cao Lộc)');
    const token = join(dir, 'box', 'data', 'token');
    expect(statSync(token).mode & 0o777).toBe(0o600);
    expect(readFileSync(token, 'utf8')).toMatch(/^swa_\S+\n$/);
    const config = parseYaml(readFileSync(join(dir, 'box', 'agent.yaml'), 'utf8')) as Record<string, unknown>;
    expect(config).toEqual({ collector: { url: agentsWs, tokenFile: token }, dataDir: join(dir, 'box', 'data') });
    const check = await runToEnd(process.execPath, [BIN.agent, 'check-config', join(dir, 'box', 'agent.yaml')], 10_000);
    expect(check.code).toBe(0);
  });

  it('refuses the same code the second time', async () => {
    const run = await runToEnd(process.execPath, enrollArgs(code, 'again'), 20_000);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('SW_ENROLL_CODE_USED');
    expect(existsSync(join(dir, 'again', 'agent.yaml'))).toBe(false);
  });

  it('refuses an expired code', async () => {
    collectorCli('agents', 'add', '--db', db, '--id', 'tram-y-te', '--name', 'Trạm y tế', '--site-kind', 'clinic', '--technology', 'mobile', '--enroll');
    const fresh = collectorCli('agents', 'enroll', 'tram-y-te', '--db', db, '--expires', '1m');
    // The collector's clock cannot be moved: the code's expiry is, to a minute ago.
    const conn = new Database(db);
    conn.prepare('UPDATE enrollment_codes SET expires_at = ? WHERE agent_id = ? AND used_at IS NULL').run(Date.now() - 60_000, 'tram-y-te');
    conn.close();
    const run = await runToEnd(process.execPath, enrollArgs(fresh, 'expired'), 20_000);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('SW_ENROLL_CODE_EXPIRED');
  });

  it('refuses an unknown code', async () => {
    // A well-formed code nobody issued: the check character is right, the code is not.
    const { makeEnrollmentCode } = await import('@speedwatch/shared');
    const unknown = makeEnrollmentCode(new Uint8Array(9).fill(7));
    const run = await runToEnd(process.execPath, enrollArgs(unknown, 'unknown'), 20_000);
    expect(run.stderr).toContain('SW_ENROLL_CODE_UNKNOWN');
  });

  it('tests within a minute of run starting, under the collector\'s site description and settings', async () => {
    const started = Date.now();
    const agent = spawn(process.execPath, [BIN.agent, 'run', '--config', join(dir, 'box', 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    try {
      let view: AgentView | undefined;
      while (Date.now() - started < 60_000) {
        view = await agentView('thcs-hop-thanh');
        if (view?.latest !== null && view?.settings.appliedVersion !== null) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(view?.latest, log).not.toBeNull();
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(view?.site).toMatchObject({ name: 'THCS Hợp Thành', area: 'Lạng Sơn/Cao Lộc', technology: 'fixed' });
      expect(view?.settings.appliedVersion).toBe(view?.settings.version);
      const page = (await api('/api/v1/results?agent=thcs-hop-thanh')) as { results: { technology?: string; endpoint?: { url: string } }[] };
      expect(page.results).toHaveLength(1);
      expect(page.results[0]?.endpoint?.url).toBe(endpoint.url);
      const first = await runToEnd(process.execPath, [BIN.agent, 'first-test', '--data-dir', join(dir, 'box', 'data'), '--timeout', '30s'], 40_000);
      expect(first.stdout).toMatch(/(MEETS|BELOW) the download target 102 Mbps for fixed broadband/);
      expect(existsSync(join(dir, 'box', 'data', 'first-test-pending'))).toBe(false);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }
  }, 90_000);
});
