/**
 * Upgrades from the collector, end to end (docs/fleet.md, "Upgrades"), as real processes on
 * loopback. Agent tarballs of several versions are built here from this tree (`npm run
 * release`'s packing, with the version changed, and two builds broken on purpose); the agent is
 * installed from the first with `npm install -g --offline` into a temporary prefix, as on a box,
 * and its installed bin runs `run` under a small supervisor that restarts it the way the shipped
 * systemd unit does (its Restart*ExitStatus lines are read from the installed unit).
 *
 * The story: the npm-installed 0.1.0 says hello; a release whose bytes are not what the
 * collector hashed is refused with SW_UPGRADE_HASH and 0.1.0 keeps running; the collector
 * announces 0.2.0 and the agent comes back saying hello as 0.2.0; a 0.3.0 whose CLI throws when
 * loaded, and a 0.3.1 that exits 1 at once, are each rolled back and 0.2.0 says hello again.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_RESTART } from '@speedwatch/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDeployable } from './release/release-tarballs.js';
import { BIN, runToEnd, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import type { Running } from './support/processes.js';

const ROOT = new URL('../', import.meta.url).pathname.replace(/\/$/, '');
const AGENT = { dir: 'agent', fromRegistry: [] } as const;
const AGENT_ID = 'upgrade-box';

const dir = mkdtempSync(join(tmpdir(), 'sw-upgrade-'));
const releases = join(dir, 'releases');
const dataDir = join(dir, 'agent-data');
const collectorConfig = join(dir, 'collector.yaml');
const agentConfig = join(dir, 'agent.yaml');
let prefix = '';
/** A PATH with node and npm only, and the environment the installed agent runs in. */
let env: NodeJS.ProcessEnv = {};
let collector: (Running & { line: string }) | undefined;
let endpoint: (Running & { url: string }) | undefined;
let collectorUrl = '';
let port = 0;
let supervisor: Supervisor | undefined;

/** npm's CLI script: the one running this test, else the first `npm` on PATH. */
function npmCli(): string {
  const running = process.env['npm_execpath'];
  if (running !== undefined && running.endsWith('npm-cli.js')) return running;
  for (const at of (process.env['PATH'] ?? '').split(':')) if (at !== '' && existsSync(join(at, 'npm'))) return realpathSync(join(at, 'npm'));
  throw new Error('npm is not on PATH');
}

/**
 * Runs the installed bin's `run` and starts it again when it exits, as systemd does with the
 * unit's Restart=on-failure, RestartPreventExitStatus and RestartForceExitStatus (after 200 ms
 * rather than RestartSec).
 */
class Supervisor {
  readonly exits: (number | null)[] = [];
  #log = '';
  #child: ChildProcess | undefined;
  #stopped = false;

  constructor(
    readonly bin: string,
    readonly restartOn: (code: number | null) => boolean,
  ) {
    this.#start();
  }

  get log(): string {
    return this.#log;
  }

  #start(): void {
    const child = spawn(this.bin, ['run', '--config', agentConfig], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.#child = child;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (this.#log += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.#log += d));
    child.once('exit', (code) => {
      this.exits.push(code);
      this.#log += `${JSON.stringify({ supervisor: 'exited', code })}\n`;
      if (!this.#stopped && this.restartOn(code)) setTimeout(() => this.#stopped || this.#start(), 200);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#child !== undefined) await stopChild(this.#child, 5000);
  }
}

/** The installed unit's restart rule: on-failure, but not the prevented statuses, and always the forced ones. */
function unitRestartRule(unit: string): (code: number | null) => boolean {
  const list = (key: string): number[] => (new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1] ?? '').split(/\s+/).filter((s) => s !== '').map(Number);
  expect(unit).toMatch(/^Restart=on-failure$/m);
  const prevent = list('RestartPreventExitStatus');
  const force = list('RestartForceExitStatus');
  return (code) => code !== null && (force.includes(code) || (code !== 0 && !prevent.includes(code)));
}

/** Short tests every 4 s against the endpoint, so that upgrades meet tests in progress (they wait for them). */
function writeCollectorConfig(agentVersion?: string): void {
  writeFileSync(
    collectorConfig,
    `db: ${join(dir, 'collector.db')}\nport: ${port}\nheartbeat: 1s\nlogLevel: info\nreleases: { dir: ${releases} }\n` +
      `fleet:\n  defaults:\n    interval: 4s\n    endpoints: [${endpoint?.url ?? ''}]\n    test: { duration: 1500ms, warmup: 300ms, streams: 2, latencyCount: 3 }\n` +
      (agentVersion === undefined ? '' : `    agentVersion: ${agentVersion}\n`),
  );
}

/** SIGHUP, then the collector's own word that the reload took. */
async function reload(agentVersion: string): Promise<void> {
  const before = (collector?.output().match(/"event":"reloaded"/g) ?? []).length;
  writeCollectorConfig(agentVersion);
  collector?.child.kill('SIGHUP');
  await until('the collector reloaded', 10_000, () => ((collector?.output().match(/"event":"reloaded"/g) ?? []).length > before ? true : undefined));
}

async function until<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n--- agent ---\n${supervisor?.log.slice(-6000) ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lines of the collector's log saying the agent said hello as `version`. */
function hellos(version: string): number {
  return (collector?.output() ?? '').split('\n').filter((l) => l.includes('"event":"hello"') && l.includes(`"version":"${version}"`)).length;
}

async function agentVersion(): Promise<string | null> {
  const { agents } = (await (await fetch(`${collectorUrl}api/v1/agents`)).json()) as { agents: { id: string; version: string | null; connected: boolean }[] };
  const agent = agents.find((a) => a.id === AGENT_ID);
  return agent?.connected === true ? agent.version : null;
}

function agentEvents(event: string): Record<string, unknown>[] {
  return (supervisor?.log ?? '')
    .split('\n')
    .slice(0, -1) // the last is a line still being written
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function upgradeState(): { trial?: unknown; failed: { version: string; code: string }[] } {
  return JSON.parse(readFileSync(join(dataDir, 'upgrade.json'), 'utf8')) as { trial?: unknown; failed: { version: string; code: string }[] };
}

beforeAll(async () => {
  mkdirSync(releases);
  mkdirSync(join(dir, 'npm'));
  const binDir = join(dir, 'path');
  mkdirSync(binDir);
  symlinkSync(process.execPath, join(binDir, 'node'));
  symlinkSync(npmCli(), join(binDir, 'npm'));
  env = { PATH: binDir, HOME: dir, npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };

  // 0.1.0 is installed with npm; the others are what the collector serves. 0.1.5's file is
  // damaged after the collector hashed it.
  const base = await packDeployable(ROOT, AGENT, join(dir, 'npm'), () => {}, { version: '0.1.0' });
  await packDeployable(ROOT, AGENT, releases, () => {}, { version: '0.2.0' });
  await packDeployable(ROOT, AGENT, releases, () => {}, { version: '0.1.5' });
  const cli = (stage: string): string => join(stage, 'dist', 'src', 'bin', 'speedwatch-agent.js');
  await packDeployable(ROOT, AGENT, releases, () => {}, { version: '0.3.0', patch: (stage) => writeFileSync(cli(stage), "throw new Error('this build cannot start');\n") });
  await packDeployable(ROOT, AGENT, releases, () => {}, { version: '0.3.1', patch: (stage) => writeFileSync(cli(stage), 'process.exit(1);\n') });

  prefix = join(dir, 'prefix');
  const install = await runToEnd(join(binDir, 'npm'), ['install', '-g', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, base.file], 120_000, env);
  if (install.code !== 0) throw new Error(`npm install -g ${base.file} exited ${install.code}\n${install.stderr}`);

  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0', '--max-mbps', '50', '--log-level', 'warn']);
  writeCollectorConfig();
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', collectorConfig], (line) => line.includes('"event":"listening"'));
  collectorUrl = (JSON.parse(collector.line) as { url: string }).url;
  port = Number(new URL(collectorUrl).port);
  writeCollectorConfig(); // with the port now known, for reloads
  const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', join(dir, 'collector.db'), '--id', AGENT_ID, '--name', 'Upgrade box', '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'agent.token'), token);
  writeFileSync(agentConfig, `collector:\n  url: ws://127.0.0.1:${port}/v1/agents\n  tokenFile: agent.token\ndataDir: agent-data\nautoUpgrade: true\n`);
  const unit = readFileSync(join(prefix, 'lib', 'node_modules', '@speedwatch', 'agent', 'deploy', 'systemd', 'speedwatch-agent.service'), 'utf8');
  supervisor = new Supervisor(join(prefix, 'bin', 'speedwatch-agent'), unitRestartRule(unit));
}, 180_000);

afterAll(async () => {
  await supervisor?.stop();
  await collector?.stop();
  await endpoint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('upgrades from the collector', () => {
  it('starts with the npm-installed version, 0.1.0, saying hello', async () => {
    expect(await until('0.1.0 connected', 20_000, async () => (await agentVersion()) ?? undefined)).toBe('0.1.0');
    expect(existsSync(join(dataDir, 'current'))).toBe(false);
  }, 30_000);

  it('refuses a release whose bytes are not what the collector announced, and keeps running its version', async () => {
    await supervisor?.stop();
    await reload('0.1.5');
    // Changed after the collector hashed it at the reload: same size, one byte different.
    const file = join(releases, 'speedwatch-agent-0.1.5.tgz');
    const bytes = readFileSync(file);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    writeFileSync(file, bytes);
    const unit = readFileSync(join(prefix, 'lib', 'node_modules', '@speedwatch', 'agent', 'deploy', 'systemd', 'speedwatch-agent.service'), 'utf8');
    supervisor = new Supervisor(join(prefix, 'bin', 'speedwatch-agent'), unitRestartRule(unit));

    const [refused] = await until('the release refused', 20_000, () => (agentEvents('upgrade-refused').length > 0 ? agentEvents('upgrade-refused') : undefined));
    expect(refused).toMatchObject({ code: 'SW_UPGRADE_HASH', version: '0.1.5' });
    expect(supervisor?.exits).toEqual([]);
    expect(existsSync(join(dataDir, 'versions', '0.1.5'))).toBe(false);
    expect(existsSync(join(dataDir, 'current'))).toBe(false);
    expect(upgradeState().failed).toMatchObject([{ version: '0.1.5', code: 'SW_UPGRADE_HASH' }]);
    expect(await agentVersion()).toBe('0.1.0');
  }, 40_000);

  it('upgrades to the version the collector announces and says hello as it', async () => {
    const announced = Date.now();
    await reload('0.2.0');
    expect(await until('0.2.0 connected', 30_000, async () => ((await agentVersion()) === '0.2.0' ? '0.2.0' : undefined))).toBe('0.2.0');
    console.log(`upgrade 0.1.0 → 0.2.0: hello as 0.2.0 ${Date.now() - announced} ms after the reload (the supervisor restarts after 200 ms; systemd's RestartSec is 10 s)`);
    await until('the upgrade confirmed', 10_000, () => (agentEvents('upgrade-confirmed').length > 0 ? true : undefined));
    expect(supervisor?.exits).toEqual([EXIT_RESTART]);
    expect(readlinkSync(join(dataDir, 'current'))).toBe('versions/0.2.0');
    expect(upgradeState().trial).toBeUndefined();
    expect(hellos('0.2.0')).toBe(1);
    // And it measures: a test run by 0.2.0 (its `once`, from versions/0.2.0) reaches the collector.
    const result = await until('a result of 0.2.0', 20_000, async () => {
      const { results } = (await (await fetch(`${collectorUrl}api/v1/results?agent=${AGENT_ID}&limit=1000`)).json()) as { results: { status: string; errors?: unknown[]; agent?: { version: string } }[] };
      return results.find((r) => r.agent?.version === '0.2.0');
    });
    expect({ status: result.status, errors: result.errors ?? [] }).toEqual({ status: 'ok', errors: [] });
  }, 60_000);

  it.each([
    ['0.3.0', 'whose CLI throws when loaded', /could not be loaded: this build cannot start/, [EXIT_RESTART, EXIT_RESTART]],
    ['0.3.1', 'that exits 1 at once', /exited with status 1 before the collector's welcome/, [EXIT_RESTART, EXIT_RESTART, EXIT_RESTART, EXIT_RESTART]],
  ])('rolls back %s, a version %s, and 0.2.0 says hello again', async (version, _what, reason, exits) => {
    const hellosBefore = hellos('0.2.0');
    await reload(version);
    const rolledBack = await until(`${version} rolled back`, 30_000, () => agentEvents('upgrade-rolled-back').find((e) => e['version'] === version));
    expect(rolledBack['msg']).toMatch(reason);
    await until('0.2.0 said hello again', 30_000, () => (hellos('0.2.0') > hellosBefore ? true : undefined));
    expect(await until('0.2.0 connected', 10_000, async () => ((await agentVersion()) === '0.2.0' ? '0.2.0' : undefined))).toBe('0.2.0');
    expect(readlinkSync(join(dataDir, 'current'))).toBe('versions/0.2.0');
    expect(upgradeState().failed.find((f) => f.version === version)).toMatchObject({ code: 'SW_UPGRADE_ROLLED_BACK' });
    // The same announcement again is not retried.
    await until(`${version} skipped`, 10_000, () => agentEvents('upgrade-skipped').find((e) => e['version'] === version));
    expect(hellos(version)).toBe(0);
    expect(supervisor?.exits).toEqual(exits);
  }, 60_000);
});
