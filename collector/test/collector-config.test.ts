import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLLECTOR_DEFAULTS, ConfigError, loadCollectorConfig } from '../src/config/collector-config.js';

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sw-config-')), name);
  writeFileSync(path, text);
  return path;
}

function problems(options: Parameters<typeof loadCollectorConfig>[0]): string[] {
  try {
    loadCollectorConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('SW_CONFIG');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('collector configuration', () => {
  it('defaults to 127.0.0.1:8600 and ./data/speedwatch.db, frozen', () => {
    const config = loadCollectorConfig({});
    expect(config).toEqual(COLLECTOR_DEFAULTS);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads YAML with human units, and JSON', () => {
    const yaml = file('c.yaml', 'port: 9000\nlimits:\n  maxFrameBytes: 2MiB\n  maxBatch: 100\nheartbeat: 15s\nmaxFutureSkew: 5m\nverdicts:\n  minTests: { agent: 3 }\n');
    const config = loadCollectorConfig({ file: yaml });
    expect(config.port).toBe(9000);
    expect(config.limits).toEqual({ maxFrameBytes: 2 * 1024 * 1024, maxBatch: 100, maxMessagesPerMinute: 120 });
    expect(config.heartbeatMs).toBe(15_000);
    expect(config.maxFutureSkewMs).toBe(300_000);
    expect(config.verdicts).toEqual({ minTests: { agent: 3 } });
    expect(loadCollectorConfig({ file: file('c.json', '{"db": "/var/lib/speedwatch/c.db"}') }).db).toBe('/var/lib/speedwatch/c.db');
  });

  it('lets environment variables override the file, and flags override both', () => {
    const path = file('c.yaml', 'port: 9000\nhost: 0.0.0.0\n');
    const config = loadCollectorConfig({ file: path, env: { SPEEDWATCH_PORT: '9100', SPEEDWATCH_HOST: '10.0.0.5' }, flags: { port: '9200' } });
    expect(config.port).toBe(9200);
    expect(config.host).toBe('10.0.0.5');
  });

  it('reads the API read token from a file', () => {
    const secret = file('token', 'a-long-read-token-0123456789\n');
    expect(loadCollectorConfig({ file: file('c.yaml', `readTokenFile: ${secret}\n`) }).readToken).toBe('a-long-read-token-0123456789');
  });

  it('reads a TLS certificate and key from files, and names what is wrong with them', () => {
    const cert = file('cert.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const key = file('key.pem', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
    const tls = loadCollectorConfig({ flags: { tlsCertFile: cert, tlsKeyFile: key } }).tls;
    expect(tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls?.key.toString()).toContain('BEGIN PRIVATE KEY');
    expect(loadCollectorConfig({ env: { SPEEDWATCH_TLS_CERT_FILE: cert, SPEEDWATCH_TLS_KEY_FILE: key } }).tls).toBeDefined();
    expect(problems({ flags: { tlsCertFile: cert } })).toEqual(['tlsCertFile, tlsKeyFile: give both to serve https and wss, or neither']);
    expect(problems({ flags: { tlsCertFile: key, tlsKeyFile: '/nonexistent/key.pem' } })).toEqual([
      `tlsCertFile: ${key} holds no PEM certificate`,
      'tlsKeyFile: cannot read /nonexistent/key.pem (ENOENT)',
    ]);
  });

  it('lists every problem at once, each naming its key', () => {
    const path = file('c.yaml', 'port: 70000\nlimits:\n  maxBatch: 0\nheartbeat: often\nlogLevel: chatty\nprot: 1\n');
    const found = problems({ file: path });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^port: expected an integer >= 0 <= 65535, got 70000/),
        expect.stringMatching(/^limits\.maxBatch: expected an integer >= 1/),
        expect.stringMatching(/^heartbeat: expected a duration/),
        expect.stringMatching(/^logLevel: expected one of/),
        expect.stringMatching(/^prot: unknown field \(known fields: host, port, db/),
      ]),
    );
  });

  it('names the flag or variable value that is wrong', () => {
    expect(problems({ env: { SPEEDWATCH_PORT: 'eighty' } })).toEqual([expect.stringMatching(/^port: expected an integer/)]);
  });

  it.each([
    ['a missing file', undefined, /cannot read \(ENOENT\)/],
    ['a file that is not YAML', 'port: [1, 2\n', /not valid YAML or JSON/],
    ['a list at the top', '- 1\n- 2\n', /expected a mapping of keys at the top/],
  ])('refuses %s with the file named', (_case, text, message) => {
    const path = text === undefined ? '/nonexistent/collector.yaml' : file('c.yaml', text);
    const [problem] = problems({ file: path });
    expect(problem).toContain(path);
    expect(problem).toMatch(message);
  });
});

describe("the README's example configuration", () => {
  it('loads, verdict section included', async () => {
    const readme = (await import('node:fs')).readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /\*\*Configuration\*\*[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    // The example points at a secret file that does not exist here; point it at one that does.
    const secret = file('token', 'a-long-read-token-0123456789\n');
    const config = loadCollectorConfig({ file: file('c.yaml', (block as string).replace('/etc/speedwatch/read-token', secret)) });
    expect(config.port).toBe(8600);
    const { parseVerdictConfig } = await import('../src/verdict/verdict-config.js');
    const verdicts = parseVerdictConfig(config.verdicts, 'verdicts');
    expect(verdicts.windows.map((w) => w.name)).toEqual(['24h', '7d', '30d']);
    expect(verdicts.minTests.area?.[3]).toBe(300);
  });
});
