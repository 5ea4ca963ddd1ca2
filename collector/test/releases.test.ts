/**
 * Agent releases on the collector (docs/fleet.md, "Upgrades"): the config names a version per
 * level of `fleet`, the tarball of each must be in `releases.dir` and is hashed at load; the
 * release an agent should run is announced after its settings and again when it changes; the
 * tarball is served at /v1/releases/ to agents with their own token.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadCollectorConfig } from '../src/config/collector-config.js';
import { agentVersionFor } from '../src/fleet/fleet-settings.js';
import { MAX_CONCURRENT_DOWNLOADS } from '../src/releases/release-route.js';
import type { AgentRecord } from '../src/store/store-types.js';
import { connectAgent, startTestCollector } from './ingest-util.js';
import type { AgentClient, TestCollector } from './ingest-util.js';

/** A releases directory holding a fake tarball per version (content: the version, repeated to `bytes`). */
function releasesDir(versions: Record<string, number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-releases-'));
  for (const [version, bytes] of Object.entries(versions)) writeFileSync(join(dir, `speedwatch-agent-${version}.tgz`), Buffer.alloc(bytes, version));
  return dir;
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-config-'));
  writeFileSync(join(dir, 'c.yaml'), text);
  return join(dir, 'c.yaml');
}

function problemsOf(load: () => unknown): { path: string; message: string }[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => ({ path: p.path, message: p.message }));
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('the releases config', () => {
  it('hashes the tarball of each version fleet names, and only those', () => {
    const dir = releasesDir({ '0.1.0': 1000, '0.2.0': 2000, '0.3.0': 3000 });
    const config = loadCollectorConfig({
      file: configFile(`releases: { dir: ${dir} }\nfleet:\n  defaults: { agentVersion: 0.2.0 }\n  overrides:\n    - { match: { agent: a1 }, agentVersion: 0.3.0 }\n`),
    });
    expect([...(config.releases?.byFile.values() ?? [])]).toEqual([
      { version: '0.2.0', file: 'speedwatch-agent-0.2.0.tgz', path: join(dir, 'speedwatch-agent-0.2.0.tgz'), bytes: 2000, sha256: sha256(Buffer.alloc(2000, '0.2.0')) },
      { version: '0.3.0', file: 'speedwatch-agent-0.3.0.tgz', path: join(dir, 'speedwatch-agent-0.3.0.tgz'), bytes: 3000, sha256: sha256(Buffer.alloc(3000, '0.3.0')) },
    ]);
  });

  it.each<[string, string, { path: string; message: RegExp }[]]>([
    ['an agentVersion without releases.dir', 'fleet: { defaults: { agentVersion: 0.2.0 } }\n', [{ path: 'fleet.defaults.agentVersion', message: /needs releases\.dir/ }]],
    [
      'an agentVersion whose tarball is not in the directory, naming the ones that are',
      'releases: { dir: DIR }\nfleet:\n  overrides:\n    - { match: { area: Lạng Sơn }, agentVersion: 0.9.0 }\n',
      [{ path: 'fleet.overrides[0].agentVersion', message: /no speedwatch-agent-0\.9\.0\.tgz in .* \(it holds 0\.1\.0\)/ }],
    ],
    ['a version that is not semver', 'releases: { dir: DIR }\nfleet: { defaults: { agentVersion: latest } }\n', [{ path: 'fleet.defaults.agentVersion', message: /a version like 0\.2\.0/ }]],
    ['a directory that does not exist', 'releases: { dir: /nonexistent/releases }\n', [{ path: 'releases.dir', message: /cannot read the directory \/nonexistent\/releases \(ENOENT\)/ }]],
  ])('refuses %s, at its key', (_name, yaml, expected) => {
    const dir = releasesDir({ '0.1.0': 10 });
    const problems = problemsOf(() => loadCollectorConfig({ file: configFile(yaml.replace('DIR', dir)) }));
    expect(problems).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(problems[i]?.path).toBe(e.path);
      expect(problems[i]?.message).toMatch(e.message);
    });
  });
});

describe('agentVersionFor', () => {
  const agent = (over: Partial<AgentRecord>): AgentRecord => ({ id: 'a1', name: 'A', siteKind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc', createdAt: 0, ...over });
  const fleet = {
    defaults: { agentVersion: '0.1.0' },
    overrides: [
      { match: { area: 'lạng sơn' }, agentVersion: '0.2.0' },
      { match: { technology: 'mobile' as const }, intervalMs: 60_000 },
      { match: { agent: 'pilot' }, agentVersion: '0.3.0' },
    ],
  };

  it.each<[string, Partial<AgentRecord>, string]>([
    ['the default for an agent no override names', { area: 'Hà Nội' }, '0.1.0'],
    ['an area\'s version for an agent in it', {}, '0.2.0'],
    ['the area\'s version through an override that gives no version', { technology: 'mobile' }, '0.2.0'],
    ['the later, more specific override', { id: 'pilot' }, '0.3.0'],
  ])('gives %s', (_name, over, version) => {
    expect(agentVersionFor(fleet, agent(over))).toBe(version);
  });
});

describe('releases on a running collector', () => {
  let c: TestCollector | undefined;
  const clients: AgentClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    await c?.close();
    c = undefined;
  });

  /** A collector serving `versions` and announcing `defaultVersion` to every agent. */
  async function start(versions: Record<string, number>, defaultVersion: string): Promise<{ dir: string; file: string }> {
    const dir = releasesDir(versions);
    const file = configFile(`releases: { dir: ${dir} }\nfleet: { defaults: { agentVersion: ${defaultVersion} } }\n`);
    const config = loadCollectorConfig({ file });
    c = await startTestCollector({ fleet: config.fleet, ...(config.releases === undefined ? {} : { releases: config.releases }) });
    return { dir, file };
  }

  async function agent(id: string): Promise<{ token: string; client: AgentClient }> {
    const token = c?.addAgent(id) ?? '';
    const client = await connectAgent(c?.wsUrl ?? '', token);
    clients.push(client);
    return { token, client };
  }

  function get(path: string, token: string | undefined, method = 'GET'): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, c?.collector.url), { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('announces the release after the settings, and again only when a reload changes it', async () => {
    const { dir } = await start({ '0.1.0': 1000, '0.2.0': 2000 }, '0.1.0');
    const { client } = await agent('a1');
    await client.hello();
    const config = await client.next('config');
    expect(await client.next('upgrade')).toEqual({ type: 'upgrade', version: '0.1.0', sha256: sha256(Buffer.alloc(1000, '0.1.0')), path: '/v1/releases/speedwatch-agent-0.1.0.tgz', bytes: 1000 });

    const reload = (yaml: string): Promise<number> => {
      const next = loadCollectorConfig({ file: configFile(`releases: { dir: ${dir} }\n${yaml}`) });
      return c?.collector.reloadFleet(next.fleet, next.releases) ?? Promise.resolve(0);
    };
    expect(await reload('fleet: { defaults: { agentVersion: 0.1.0 } }\n')).toBe(0);
    expect(await reload('fleet: { overrides: [ { match: { agent: a1 }, agentVersion: 0.2.0 } ] }\n')).toBe(1);
    expect(await client.next('upgrade')).toMatchObject({ version: '0.2.0', bytes: 2000 });
    // The settings' version does not cover agentVersion: no new config was sent.
    await expect(client.next('config', 300)).rejects.toThrow(/no config message/);
    const { agents } = (await (await fetch(`${c?.collector.url}api/v1/agents`)).json()) as { agents: { settings: Record<string, unknown> }[] };
    expect(agents[0]?.settings).toMatchObject({ version: config['settings'].version, agentVersion: '0.2.0' });
  });

  it('serves an announced tarball to an agent with its token, with its length', async () => {
    await start({ '0.2.0': 70_000 }, '0.2.0');
    const { token } = await agent('a1');
    const got = await get('/v1/releases/speedwatch-agent-0.2.0.tgz', token);
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('application/gzip');
    expect(got.headers['content-length']).toBe('70000');
    expect(got.body.equals(Buffer.alloc(70_000, '0.2.0'))).toBe(true);
    const head = await get('/v1/releases/speedwatch-agent-0.2.0.tgz', token, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '70000', 0]);
  });

  it.each<[string, (token: string) => string | undefined, string, number, string]>([
    ['no token', () => undefined, 'speedwatch-agent-0.2.0.tgz', 401, 'SW_UNAUTHORIZED'],
    ['a token no agent holds', () => 'swa_not-a-token-of-anyone', 'speedwatch-agent-0.2.0.tgz', 401, 'SW_UNAUTHORIZED'],
    ['a release the fleet config does not name, though in the directory', (t) => t, 'speedwatch-agent-0.1.0.tgz', 404, 'SW_NOT_FOUND'],
    ['a path out of the directory', (t) => t, '..%2Fc.yaml', 404, 'SW_NOT_FOUND'],
  ])('refuses a download with %s', async (_name, tokenOf, file, status, code) => {
    await start({ '0.1.0': 10, '0.2.0': 10 }, '0.2.0');
    const { token } = await agent('a1');
    const got = await get(`/v1/releases/${file}`, tokenOf(token));
    expect(got.status).toBe(status);
    expect((JSON.parse(got.body.toString()) as { error: { code: string } }).error.code).toBe(code);
  });

  it('refuses a revoked agent\'s token', async () => {
    await start({ '0.2.0': 10 }, '0.2.0');
    const { token } = await agent('a1');
    c?.store.agents.revoke('a1', Date.now());
    await c?.collector.refreshAgents();
    expect((await get('/v1/releases/speedwatch-agent-0.2.0.tgz', token)).status).toBe(401);
  });

  it(`answers 503 with Retry-After past ${MAX_CONCURRENT_DOWNLOADS} downloads at once`, async () => {
    // Big enough that a download nobody reads stays open (socket buffers hold far less).
    await start({ '0.2.0': 16 * 1024 * 1024 }, '0.2.0');
    const { token } = await agent('a1');
    const stalled: ClientRequest[] = [];
    try {
      await Promise.all(
        Array.from({ length: MAX_CONCURRENT_DOWNLOADS }, () =>
          new Promise<void>((resolve, reject) => {
            const req = request(new URL('/v1/releases/speedwatch-agent-0.2.0.tgz', c?.collector.url), { headers: { authorization: `Bearer ${token}` } }, (res) => {
              res.pause();
              resolve();
            });
            req.on('error', reject);
            req.end();
            stalled.push(req);
          }),
        ),
      );
      const busy = await get('/v1/releases/speedwatch-agent-0.2.0.tgz', token);
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('10');
      expect((JSON.parse(busy.body.toString()) as { error: { code: string } }).error.code).toBe('SW_RELEASE_BUSY');
    } finally {
      for (const req of stalled) req.destroy();
    }
    // Freed once those end.
    await expect.poll(async () => (await get('/v1/releases/speedwatch-agent-0.2.0.tgz', token, 'HEAD')).status, { timeout: 5000 }).toBe(200);
  });
});
