import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { COLLECTOR_DEFAULTS, ConfigError, loadCollectorConfig } from '../src/config/collector-config.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sw-config-')), name);
  writeFileSync(path, text);
  return path;
}

function problems(options: Parameters<typeof loadCollectorConfig>[0]): readonly Problem[] {
  try {
    loadCollectorConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('SW_CONFIG');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** The key paths of the problems, in the order reported. */
function paths(options: Parameters<typeof loadCollectorConfig>[0]): string[] {
  return problems(options).map((p) => p.path);
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
    expect(config.verdicts.minTests).toEqual({ ...DEFAULT_VERDICT_CONFIG.minTests, agent: 3 });
    expect(config.verdicts.windows).toEqual(DEFAULT_VERDICT_CONFIG.windows);
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
    expect(paths({ flags: { tlsCertFile: cert } })).toEqual(['tlsKeyFile']);
    expect(paths({ flags: { tlsKeyFile: key } })).toEqual(['tlsCertFile']);
    // A certificate file holding a key, and a key file that is not there.
    expect(paths({ flags: { tlsCertFile: key, tlsKeyFile: '/nonexistent/key.pem' } })).toEqual(['tlsCertFile', 'tlsKeyFile']);
  });

  it('lists every problem at once, each naming its key', () => {
    const path = file('c.yaml', 'port: 70000\nlimits:\n  maxBatch: 0\nheartbeat: often\nlogLevel: chatty\nprot: 1\n');
    const found = problems({ file: path });
    expect(found.map((p) => p.path).sort()).toEqual(['heartbeat', 'limits.maxBatch', 'logLevel', 'port', 'prot']);
    for (const problem of found) expect(problem.message.startsWith(`${problem.path}: `)).toBe(true);
  });

  it.each<[string, () => Parameters<typeof loadCollectorConfig>[0], string[]]>([
    [
      'a bad port, a bad verdict window and an unknown alerts key',
      () => ({ file: file('c.yaml', 'port: 70000\nverdicts:\n  windows: [24h, soon]\nalerts:\n  colour: red\n') }),
      ['port', 'verdicts.windows[1]', 'alerts.colour'],
    ],
    [
      'a bad port, an alerts window the verdicts do not compute and an unknown alerts key',
      () => ({ file: file('c.yaml', 'port: 70000\nverdicts:\n  windows: [7d, 30d]\nalerts:\n  verdictWindow: 12h\n  colour: red\n') }),
      ['port', 'alerts.colour', 'alerts.verdictWindow'],
    ],
    ['verdict windows without the default alerts window', () => ({ file: file('c.yaml', 'verdicts: { windows: [7d] }\n') }), ['alerts.verdictWindow']],
    [
      'problems in every verdict section, and in alerts',
      () => ({
        file: file(
          'c.yaml',
          'verdicts:\n  targets: [{ technology: fixed, metric: download, minMbps: -1 }, { technology: fixed, metric: latency }]\n' +
            '  minTests: { agent: 0, area: { 5: 1 } }\nalerts:\n  delivery: { attempts: 0, backoff: 10s, maxBackoff: 1s }\n',
        ),
      }),
      ['verdicts.targets[0].minMbps', 'verdicts.targets[1].maxMs', 'verdicts.minTests.agent', 'verdicts.minTests.area.5', 'alerts.delivery.attempts', 'alerts.delivery.maxBackoff'],
    ],
    [
      'a target list missing a technology, and two windows of one name',
      () => ({ file: file('c.yaml', 'verdicts:\n  targets: [{ technology: fixed, metric: download, minMbps: 1 }]\n  windows: [24h, 24h]\n') }),
      ['verdicts.targets', 'verdicts.windows[1]'],
    ],
    [
      'a read token given twice, an unreadable TLS key and a bad port from the environment',
      () => ({
        file: file('c.yaml', `readToken: a-long-read-token-0123456789\nreadTokenFile: ${file('token', 'a-long-read-token-0123456789\n')}\n`),
        env: { SPEEDWATCH_PORT: 'eighty' },
        flags: { tlsCertFile: file('cert.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'), tlsKeyFile: '/nonexistent/key.pem' },
      }),
      ['port', 'readTokenFile', 'tlsKeyFile'],
    ],
  ])('reports %s in one error', (_case, options, expected) => {
    expect(paths(options())).toEqual(expected);
  });

  it('names the flag or variable value that is wrong', () => {
    expect(paths({ env: { SPEEDWATCH_PORT: 'eighty' } })).toEqual(['port']);
  });

  describe('store', () => {
    const url = 'postgres://speedwatch@db.example.org:5432/speedwatch';

    it('takes a PostgreSQL store with its password from a file or from SPEEDWATCH_PG_PASSWORD', () => {
      const secret = file('pg-password', 'pg secret with spaces\n');
      expect(loadCollectorConfig({ file: file('c.yaml', `store: { kind: postgres, url: "${url}", passwordFile: ${secret}, poolSize: 8 }\n`) }).store).toEqual({ kind: 'postgres', url, password: 'pg secret with spaces', poolSize: 8 });
      expect(loadCollectorConfig({ file: file('c.yaml', `store: { kind: postgres, url: "${url}" }\n`), env: { SPEEDWATCH_PG_PASSWORD: 'from-env' } }).store).toEqual({ kind: 'postgres', url, password: 'from-env', poolSize: 4 });
      expect(loadCollectorConfig({ file: file('c.yaml', `store: { kind: postgres, url: "${url}?host=/run/postgresql" }\n`) }).store).toEqual({ kind: 'postgres', url: `${url}?host=/run/postgresql`, poolSize: 4 });
      expect(loadCollectorConfig({}).store).toEqual({ kind: 'sqlite' });
    });

    it('takes the lease time to live of several collectors (leaseTtl, 1 s to 10 min, default 15 s)', () => {
      expect(loadCollectorConfig({}).leaseTtlMs).toBe(15_000);
      expect(loadCollectorConfig({ file: file('c.yaml', 'leaseTtl: 30s\n') }).leaseTtlMs).toBe(30_000);
      expect(problems({ file: file('c.yaml', 'leaseTtl: 500ms\n') }).map((p) => p.path)).toEqual(['leaseTtl']);
      expect(problems({ file: file('c.yaml', 'leaseTtl: 1h\n') }).map((p) => p.path)).toEqual(['leaseTtl']);
    });

    it.each<[string, string, NodeJS.ProcessEnv, string[]]>([
      ['no URL', 'store: { kind: postgres }', {}, ['store.url']],
      ['a URL with a password', 'store: { kind: postgres, url: "postgres://sw:hunter2-secret@db/sw" }', {}, ['store.url']],
      ['a password file and the variable', `store: { kind: postgres, url: "${url}", passwordFile: /nonexistent/pw }`, { SPEEDWATCH_PG_PASSWORD: 'x' }, ['store.passwordFile', 'store.passwordFile']],
      ['PostgreSQL keys with the SQLite store', `store: { url: "${url}", poolSize: 2 }`, {}, ['store.url', 'store.poolSize']],
      ['an unknown kind', 'store: { kind: mysql }', {}, ['store.kind']],
    ])('refuses %s, naming the key and never the password', (_case, yaml, env, expected) => {
      const found = problems({ file: file('c.yaml', `${yaml}\n`), env });
      expect(found.map((p) => p.path)).toEqual(expected);
      expect(JSON.stringify(found)).not.toContain('hunter2');
    });
  });

  it.each([
    ['a missing file', undefined, /cannot read \(ENOENT\)/],
    ['a file that is not YAML', 'port: [1, 2\n', /not valid YAML or JSON/],
    ['a list at the top', '- 1\n- 2\n', /expected a mapping of keys at the top/],
  ])('refuses %s with the file named', (_case, text, message) => {
    const path = text === undefined ? '/nonexistent/collector.yaml' : file('c.yaml', text);
    const found = problems({ file: path });
    expect(found).toHaveLength(1);
    expect(found[0]?.path).toBe('');
    expect(found[0]?.message).toContain(path);
    expect(found[0]?.message).toMatch(message);
  });
});

describe("docs/collector.md's example configuration", () => {
  it('loads, verdict section included', async () => {
    const doc = (await import('node:fs')).readFileSync(new URL('../../docs/collector.md', import.meta.url), 'utf8');
    const block = /^## Configuration\n[\s\S]*?```yaml\n([\s\S]*?)```/m.exec(doc)?.[1];
    expect(block).toBeDefined();
    // The example points at a secret file that does not exist here; point it at one that does.
    const secret = file('token', 'a-long-read-token-0123456789\n');
    const admin = file('admin-token', 'a-long-admin-token-0123456789\n');
    const config = loadCollectorConfig({ file: file('c.yaml', (block as string).replace('/etc/speedwatch/read-token', secret).replace('/etc/speedwatch/admin-token', admin)) });
    expect(config.port).toBe(8600);
    expect(config.verdicts.windows.map((w) => w.name)).toEqual(['24h', '7d', '30d']);
    expect(config.verdicts.minTests.area?.[3]).toBe(300);
    expect(config.fleet.overrides).toHaveLength(1);
  });
});
