/**
 * The collector as the fleet's controller: settings from its `fleet` config reach the agents
 * they match, as real processes on loopback. A change for an area reaches that area's connected
 * agents (acknowledged, as the API shows, within a heartbeat of the reload) and no other; a
 * config with a problem is refused at reload and nothing is pushed; an agent restarted while the
 * collector is down tests with the settings it stored.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import type { Running } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sw-fleet-push-'));
const db = join(dir, 'collector.db');
const configFile = join(dir, 'collector.yaml');
const HEARTBEAT_MS = 1000;
let endpoint: Running & { url: string };
let collector: (Running & { line: string }) | undefined;
let collectorUrl = '';
let port = 0;
const daemons = new Map<string, { child: ChildProcess; log: () => string }>();

const AGENTS = [
  { id: 'caoloc-1', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' },
  { id: 'caoloc-2', area: 'Lạng Sơn/Cao Lộc/Gia Cát' },
  { id: 'badinh-1', area: 'Hà Nội/Ba Đình' },
] as const;

function writeConfig(fleet: string): void {
  writeFileSync(configFile, `db: ${db}\nport: ${port}\nheartbeat: ${HEARTBEAT_MS}ms\nlogLevel: info\nfleet:\n${fleet}`);
}

const DEFAULTS = `  defaults:\n    interval: 1h\n    endpoints: [ENDPOINT]\n    test: { duration: 1500ms, warmup: 300ms, streams: 2, latencyCount: 3 }\n`;

async function startCollector(): Promise<void> {
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', configFile], (line) => line.includes('"event":"listening"'));
  collectorUrl = (JSON.parse(collector.line) as { url: string }).url;
  port = Number(new URL(collectorUrl).port);
}

function startAgent(id: string): void {
  const child = spawn(process.execPath, [BIN.agent, 'run', '--config', join(dir, id, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  daemons.set(id, { child, log: () => log });
}

interface SettingsView {
  id: string;
  settings: { version: string | null; appliedVersion: string | null };
}

async function settingsOf(): Promise<Map<string, SettingsView['settings']>> {
  const { agents } = (await (await fetch(`${collectorUrl}api/v1/agents`)).json()) as { agents: SettingsView[] };
  return new Map(agents.map((a) => [a.id, a.settings]));
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every agent's settings, once each has acknowledged the version it should have. */
function allApplied(): Promise<Map<string, SettingsView['settings']>> {
  return until('every agent acknowledged its settings', 20_000, async () => {
    const settings = await settingsOf();
    // Listed, with settings, and acknowledged: an agent not listed yet (the collector has not
    // read the agents table since they were added) has acknowledged nothing.
    return AGENTS.every((a) => {
      const s = settings.get(a.id);
      return s !== undefined && s.version !== null && s.appliedVersion === s.version;
    })
      ? settings
      : undefined;
  });
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0']);
  writeConfig(DEFAULTS.replace('ENDPOINT', endpoint.url));
  await startCollector();
  writeConfig(DEFAULTS.replace('ENDPOINT', endpoint.url)); // with the port now known, for restarts
  for (const { id, area } of AGENTS) {
    const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', id, '--name', id, '--site-kind', 'school', '--technology', 'fixed', '--area', area], { encoding: 'utf8' }).trim();
    mkdirSync(join(dir, id));
    writeFileSync(join(dir, id, 'token'), token);
    // No site and no endpoints: both come from the collector.
    writeFileSync(join(dir, id, 'agent.yaml'), `collector:\n  url: ws://127.0.0.1:${port}/v1/agents\n  tokenFile: token\ndataDir: data\n`);
    startAgent(id);
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([...daemons.values()].map((d) => stopChild(d.child)));
  await collector?.stop();
  await endpoint?.stop();
});

describe('fleet settings pushed by the collector', () => {
  it('reach an area\'s connected agents within a heartbeat of a reload, and no other', async () => {
    const before = await allApplied();
    writeConfig(`${DEFAULTS.replace('ENDPOINT', endpoint.url)}  overrides:\n    - match: { area: lạng sơn/cao lộc }\n      interval: 2s\n      test: { streams: 3 }\n`);
    const reloaded = Date.now();
    collector?.child.kill('SIGHUP');
    const after = await until('the Cao Lộc agents acknowledged new settings', 10_000, async () => {
      const settings = await settingsOf();
      const caoLoc = ['caoloc-1', 'caoloc-2'].map((id) => settings.get(id));
      return caoLoc.every((s) => s !== undefined && s.version !== before.get('caoloc-1')?.version && s.appliedVersion === s.version) ? settings : undefined;
    });
    expect(Date.now() - reloaded).toBeLessThan(HEARTBEAT_MS + 2000);
    expect(after.get('badinh-1')).toEqual(before.get('badinh-1'));
    const stored = JSON.parse(readFileSync(join(dir, 'caoloc-1', 'data', 'settings.json'), 'utf8')) as { version: string; intervalMs: number; test: { streams: number }; site: { area: string } };
    expect(stored).toMatchObject({ version: after.get('caoloc-1')?.version, intervalMs: 2000, test: { streams: 3 }, site: { area: 'Lạng Sơn/Cao Lộc/Hợp Thành' } });
    expect(JSON.parse(readFileSync(join(dir, 'badinh-1', 'data', 'settings.json'), 'utf8'))).toMatchObject({ intervalMs: 3_600_000, test: { streams: 2 } });
  }, 40_000);

  it('refuses a reload whose config has a problem, and pushes nothing', async () => {
    const before = await allApplied();
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('interval: 2s', 'interval: soon'));
    collector?.child.kill('SIGHUP');
    await until('the collector logged the refused reload', 10_000, async () => (collector?.output().includes('"event":"reload-refused"') === true ? true : undefined));
    expect(collector?.output()).toContain('fleet.overrides[0].interval');
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
    expect(await settingsOf()).toEqual(before);
  }, 30_000);

  it('lets an agent restarted while the collector is down test with the settings it stored', async () => {
    await collector?.stop();
    const agent = daemons.get('caoloc-1');
    if (agent !== undefined) await stopChild(agent.child);
    startAgent('caoloc-1');
    const restarted = daemons.get('caoloc-1');
    const stored = JSON.parse(readFileSync(join(dir, 'caoloc-1', 'data', 'settings.json'), 'utf8')) as { version: string };
    // Its interval is now 2 s (from the stored settings): a test comes within two intervals.
    const line = await until('a test with the stored settings', 20_000, async () =>
      restarted?.log().split('\n').find((l) => l.includes('"event":"test-done"')),
    );
    expect(JSON.parse(line)).toMatchObject({ settingsVersion: stored.version, status: 'ok' });
  }, 40_000);
});
