import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { AGENT_DEFAULTS, AgentConfigError, loadAgentConfig, onceArgs, testPlan } from '../src/index.js';

const EXAMPLE = new URL('../deploy/agent.example.yaml', import.meta.url).pathname;

function write(text: string, name = 'agent.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-agent-config-'));
  writeFileSync(join(dir, 'token'), 'swa_exampleexampleexampleexample\n');
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function problems(file: string, env: NodeJS.ProcessEnv = {}): readonly Problem[] {
  try {
    loadAgentConfig(file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    expect((err as AgentConfigError).code).toBe('SW_AGENT_CONFIG');
    return (err as AgentConfigError).problems;
  }
  throw new Error('expected an AgentConfigError');
}

const MINIMAL = 'collector:\n  url: ws://127.0.0.1:8600\n  tokenFile: token\nsite: { name: S, kind: school, technology: fixed }\nendpoints:\n  urls: [http://127.0.0.1:8601/]\ndataDir: state\n';

describe('agent configuration', () => {
  it('loads the shipped example (with its token file present)', () => {
    const file = write(readFileSync(EXAMPLE, 'utf8').replace('/etc/speedwatch/agent.token', 'token'));
    const config = loadAgentConfig(file);
    expect(config.site).toMatchObject({ kind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' });
    expect(config.schedule.intervalMs).toBe(15 * 60_000);
    expect(config.health.intervalMs).toBe(5 * 60_000);
    expect(config.outbox.maxBytes).toBe(64 * 1024 * 1024);
    expect(config.collector.token).toBe('swa_exampleexampleexampleexample');
  });

  it('fills defaults, resolves relative paths from the file, and adds /v1/agents to a bare URL', () => {
    const file = write(MINIMAL);
    const config = loadAgentConfig(file);
    expect(config.collector.url).toBe('ws://127.0.0.1:8600/v1/agents');
    expect(config.dataDir).toBe(join(file, '..', 'state'));
    expect(config.test).toEqual({ tests: ['latency', 'download', 'upload'], durationMs: 10_000, warmupMs: 'auto', streams: 4, maxStreams: 4, latencyCount: 20, udp: false });
    expect(onceArgs(testPlan(config, undefined, AGENT_DEFAULTS).plan)).toEqual([
      'once', '--json', '--endpoint', 'http://127.0.0.1:8601/', '--tests', 'latency,download,upload', '--duration', '10000ms',
      '--warmup', 'auto', '--streams', '4', '--max-streams', '4', '--latency-count', '20', '--technology', 'fixed',
    ]);
  });

  it('keeps a fixed warm-up and stream count from the file, and an adaptive warm-up for any pushed duration', () => {
    const fixed = loadAgentConfig(write(`${MINIMAL}test: { warmup: 1500ms, streams: 8, maxStreams: 8 }\n`));
    expect(fixed.test).toMatchObject({ warmupMs: 1500, streams: 8, maxStreams: 8 });
    expect(onceArgs(testPlan(fixed, undefined, AGENT_DEFAULTS).plan)).toEqual(expect.arrayContaining(['--warmup', '1500ms', '--streams', '8', '--max-streams', '8']));
    const auto = loadAgentConfig(write(`${MINIMAL}test: { warmup: auto, maxStreams: 32 }\n`));
    const site = { name: 'S', kind: 'school', technology: 'fixed' } as const;
    const plan = testPlan(auto, { version: 'v1', site, test: { durationMs: 4000, streams: 2 } }, AGENT_DEFAULTS).plan;
    expect(plan.test).toMatchObject({ durationMs: 4000, warmupMs: 'auto', streams: 2, maxStreams: 32 });
    // The collector may turn the stream ramp on (or raise it) for the sites it names.
    expect(testPlan(fixed, { version: 'v3', site, test: { maxStreams: 16 } }, AGENT_DEFAULTS).plan.test).toMatchObject({ streams: 8, maxStreams: 16 });
    expect(onceArgs(testPlan(fixed, { version: 'v3', site, test: { maxStreams: 16 } }, AGENT_DEFAULTS).plan)).toEqual(expect.arrayContaining(['--max-streams', '16']));
    // A warm-up pushed by the collector is a fixed one.
    expect(testPlan(auto, { version: 'v2', site, test: { warmupMs: 1000 } }, AGENT_DEFAULTS).plan.test.warmupMs).toBe(1000);
  });

  it("runs the UDP probe with test.udp, or when the collector's settings say so, and not when they say otherwise", () => {
    const withUdp = loadAgentConfig(write(`${MINIMAL}test: { udp: true }\n`));
    expect(withUdp.test.udp).toBe(true);
    expect(onceArgs(testPlan(withUdp, undefined, AGENT_DEFAULTS).plan)).toContain('--udp');
    const site = { name: 'S', kind: 'school', technology: 'fixed' } as const;
    const pushedOn = testPlan(loadAgentConfig(write(MINIMAL)), { version: 'v1', site, test: { udp: true } }, AGENT_DEFAULTS).plan;
    expect(onceArgs(pushedOn)).toContain('--udp');
    const pushedOff = testPlan(withUdp, { version: 'v2', site, test: { streams: 2 } }, AGENT_DEFAULTS).plan;
    expect(pushedOff.test.udp).toBe(true); // a field the collector leaves open keeps the file's value
    expect(onceArgs(testPlan(withUdp, { version: 'v3', site, test: { udp: false } }, AGENT_DEFAULTS).plan)).not.toContain('--udp');
  });

  it('takes autoUpgrade (default off) from a wss:// collector, or a ws:// one on this host', () => {
    expect(loadAgentConfig(write(MINIMAL)).autoUpgrade).toBe(false);
    expect(loadAgentConfig(write(`${MINIMAL}autoUpgrade: true\n`)).autoUpgrade).toBe(true);
    expect(loadAgentConfig(write(`${MINIMAL.replace('ws://127.0.0.1:8600', 'wss://collector.example:8600')}autoUpgrade: true\n`)).autoUpgrade).toBe(true);
  });

  it("checks busy lines by default (25 000 bytes a second, 3 samples of 3 s, 30 s apart), as busyLine says", () => {
    expect(loadAgentConfig(write(MINIMAL)).busyLine).toEqual({ check: true, thresholdBytesPerSec: 25_000, sampleMs: 3000, tries: 3, retryAfterMs: 30_000 });
    const set = loadAgentConfig(write(`${MINIMAL}busyLine: { check: false, threshold: 50kB, sample: 5s, tries: 2, retryAfter: 1m }\n`));
    expect(set.busyLine).toEqual({ check: false, thresholdBytesPerSec: 50_000, sampleMs: 5000, tries: 2, retryAfterMs: 60_000 });
  });

  it("takes a monthly budget from the file, replaced by the collector's", () => {
    const config = loadAgentConfig(write(`${MINIMAL}budget: { monthly: 10GB, timeZone: Asia/Ho_Chi_Minh }\n`));
    expect(config.budget).toEqual({ monthlyBytes: 10_000_000_000, timeZone: 'Asia/Ho_Chi_Minh' });
    expect(testPlan(config, undefined, AGENT_DEFAULTS).plan.budget).toEqual(config.budget);
    const site = { name: 'S', kind: 'school', technology: 'mobile' } as const;
    const pushed = { monthlyBytes: 3_000_000_000, timeZone: 'Asia/Bangkok' };
    expect(testPlan(config, { version: 'v1', site, budget: pushed }, AGENT_DEFAULTS).plan.budget).toEqual(pushed);
    expect(loadAgentConfig(write(MINIMAL)).budget).toBeUndefined();
  });

  it('lets SPEEDWATCH_AGENT_TOKEN override the token file', () => {
    expect(loadAgentConfig(write(MINIMAL), { SPEEDWATCH_AGENT_TOKEN: 'swa_fromtheenvironment' }).collector.token).toBe('swa_fromtheenvironment');
  });

  it('freezes the config all the way down', () => {
    const config = loadAgentConfig(write(MINIMAL));
    expect(Object.isFrozen(config) && Object.isFrozen(config.collector) && Object.isFrozen(config.endpoints.resolved) && Object.isFrozen(config.test.tests)).toBe(true);
  });

  it('lists every problem, each naming its key', () => {
    const found = problems(write('collector:\n  url: http://wrong\nsite: { name: S, kind: hospital, technology: fixed }\nendpoints: {}\nschedule: { interval: soon }\ndataDir: state\nextra: 1\n'));
    expect(found.map((p) => p.path).sort()).toEqual(['collector.url', 'endpoints', 'extra', 'schedule.interval', 'site.kind']);
    for (const problem of found) expect(problem.message.startsWith(`${problem.path}: `)).toBe(true);
  });

  it.each<[string, string, NodeJS.ProcessEnv, string[]]>([
    ['no token anywhere', MINIMAL.replace('  tokenFile: token\n', ''), {}, ['collector.token']],
    ['both URLs and a server list', MINIMAL.replace('endpoints:\n', 'endpoints:\n  serverFile: servers.json\n'), {}, ['endpoints']],
    ['a server without a server list', MINIMAL.replace('endpoints:\n', 'endpoints:\n  server: lab\n'), {}, ['endpoints.server']],
    ['a token and a token file', MINIMAL.replace('  tokenFile: token\n', '  tokenFile: token\n  token: swa_exampleexample\n'), {}, ['collector.tokenFile']],
    ['a missing token file', MINIMAL.replace('tokenFile: token', 'tokenFile: nope'), {}, ['collector.tokenFile']],
    ['a missing token file in the environment', MINIMAL, { SPEEDWATCH_AGENT_TOKEN_FILE: '/nonexistent/token' }, ['SPEEDWATCH_AGENT_TOKEN_FILE']],
    ['a warm-up as long as the test', `${MINIMAL}test: { duration: 5s, warmup: 5s }\n`, {}, ['test.warmup']],
    ['a warm-up leaving under 1 s to measure', `${MINIMAL}test: { duration: 3s, warmup: 2500ms }\n`, {}, ['test.warmup']],
    ['a warm-up as long as the default test', `${MINIMAL}test: { warmup: 10s }\n`, {}, ['test.warmup']],
    ['a warm-up that is neither a duration nor auto', `${MINIMAL}test: { warmup: later }\n`, {}, ['test.warmup']],
    ['too many streams', `${MINIMAL}test: { maxStreams: 65 }\n`, {}, ['test.maxStreams']],
    ['an outbox bigger than a Pi can hold', `${MINIMAL}outbox: { maxBytes: 2GiB }\n`, {}, ['outbox.maxBytes']],
    ['a latitude without a longitude', MINIMAL.replace('technology: fixed }', 'technology: fixed, lat: 21.8 }'), {}, ['site.lon']],
    ['not YAML', 'collector: [\n', {}, ['']],
    ['autoUpgrade from a collector over plain ws://', MINIMAL.replace('ws://127.0.0.1:8600', 'ws://collector.example:8600') + 'autoUpgrade: true\n', {}, ['autoUpgrade']],
    ['an autoUpgrade that is not true or false', `${MINIMAL}autoUpgrade: yes please\n`, {}, ['autoUpgrade']],
    ['a test.udp that is not true or false', `${MINIMAL}test: { udp: on }\n`, {}, ['test.udp']],
    ['busy-line settings out of range', `${MINIMAL}busyLine: { tries: 0, threshold: lots, sample: 0s }\n`, {}, ['busyLine.sample', 'busyLine.threshold', 'busyLine.tries']],
    ['a budget below 1 MB in a zone that does not exist', `${MINIMAL}budget: { monthly: 10kB, timeZone: Mars/Olympus }\n`, {}, ['budget.monthly', 'budget.timeZone']],
    [
      'mistakes in every section at once, files included',
      'collector:\n  url: ws://127.0.0.1:8600\n  tokenFile: nope\n  caFile: ca.pem\nsite: { name: S, kind: school, technology: fixed, lat: 95 }\n' +
        'endpoints:\n  urls: [http://127.0.0.1:8601/, "http://bad host/"]\nschedule: { interval: 1ms }\nhealth: { interval: 0s }\ntest: { duration: 2s, warmup: 3s, streams: 0 }\n' +
        'outbox: { maxBytes: 1KiB }\ndataDir: state\nlogLevel: loud\n',
      {},
      ['collector.caFile', 'collector.tokenFile', 'endpoints.urls[1]', 'health.interval', 'logLevel', 'outbox.maxBytes', 'schedule.interval', 'site.lat', 'test.streams', 'test.warmup'],
    ],
  ])('refuses %s, naming the key', (_case, text, env, paths) => {
    const found = problems(write(text), env);
    expect(found.map((p) => p.path).sort()).toEqual(paths);
  });
});
