import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentConfigError, loadAgentConfig, onceArgs } from '../src/index.js';

const EXAMPLE = new URL('../deploy/agent.example.yaml', import.meta.url).pathname;

function write(text: string, name = 'agent.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-agent-config-'));
  writeFileSync(join(dir, 'token'), 'swa_exampleexampleexampleexample\n');
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function problems(file: string, env: NodeJS.ProcessEnv = {}): string[] {
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
    expect(config.outbox.maxBytes).toBe(64 * 1024 * 1024);
    expect(config.collector.token).toBe('swa_exampleexampleexampleexample');
  });

  it('fills defaults, resolves relative paths from the file, and adds /v1/agents to a bare URL', () => {
    const file = write(MINIMAL);
    const config = loadAgentConfig(file);
    expect(config.collector.url).toBe('ws://127.0.0.1:8600/v1/agents');
    expect(config.dataDir).toBe(join(file, '..', 'state'));
    expect(config.test).toEqual({ tests: ['latency', 'download', 'upload'], durationMs: 10_000, warmupMs: 2_000, streams: 4, latencyCount: 20 });
    expect(onceArgs(config)).toEqual([
      'once', '--json', '--endpoint', 'http://127.0.0.1:8601/', '--tests', 'latency,download,upload', '--duration', '10000ms',
      '--warmup', '2000ms', '--streams', '4', '--latency-count', '20', '--technology', 'fixed',
    ]);
  });

  it('lets SPEEDWATCH_AGENT_TOKEN override the token file', () => {
    expect(loadAgentConfig(write(MINIMAL), { SPEEDWATCH_AGENT_TOKEN: 'swa_fromtheenvironment' }).collector.token).toBe('swa_fromtheenvironment');
  });

  it('lists every problem, each naming its key', () => {
    const found = problems(write('collector:\n  url: http://wrong\nsite: { name: S, kind: hospital, technology: fixed }\nendpoints: {}\nschedule: { interval: soon }\ndataDir: state\nextra: 1\n'));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^collector\.url: expected a ws:\/\/ or wss:\/\/ URL/),
        expect.stringMatching(/^site\.kind: expected one of "office", "school", "clinic", "other"/),
        expect.stringMatching(/^schedule\.interval: expected a duration/),
        expect.stringMatching(/^extra: unknown field/),
      ]),
    );
  });

  it.each([
    ['no token anywhere', MINIMAL.replace('  tokenFile: token\n', ''), /collector\.token: required/],
    ['both URLs and a server list', MINIMAL.replace('dataDir', 'endpoints2: 1\ndataDir').replace('endpoints:\n', 'endpoints:\n  serverFile: servers.json\n'), /endpoints|unknown field/],
    ['a missing token file', MINIMAL.replace('tokenFile: token', 'tokenFile: nope'), /collector\.tokenFile: cannot read nope \(ENOENT\)/],
    ['a warm-up as long as the test', `${MINIMAL}test: { duration: 5s, warmup: 5s }\n`, /test\.warmup: must be shorter than test\.duration/],
    ['an outbox bigger than a Pi can hold', `${MINIMAL}outbox: { maxBytes: 2GiB }\n`, /outbox\.maxBytes: expected a size/],
    ['not YAML', 'collector: [\n', /not valid YAML or JSON/],
  ])('refuses %s', (_case, text, message) => {
    expect(problems(write(text)).join('\n')).toMatch(message);
  });
});
