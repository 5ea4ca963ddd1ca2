/**
 * The release's tarballs (`npm run release`) install and run on a box that has Node and npm and
 * nothing else: `npm install -g --offline` from an empty cache (so nothing can be fetched), with
 * a PATH holding only `node` and `npm` (so no compiler, make, python or git can be used), then
 * the installed endpoint serves and the installed agent measures it. Prints the agent's packed
 * and installed sizes (the figures in README.md and docs/deploy.md).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeEnrollmentCode, parseMeasurementResult } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYABLES, packRelease } from './release/release-tarballs.js';
import type { PackedTarball } from './release/release-tarballs.js';
import { runToEnd, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

const exec = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname.replace(/\/$/, '');

let dir: string;
/** A PATH with `node` and `npm` and nothing else. */
let binDir: string;
/** The environment installs and installed bins run in: nothing inherited from this process. */
let env: NodeJS.ProcessEnv;
const tarballs = new Map<string, PackedTarball>();
/** `npm install -g --prefix` targets, by deployable. */
const prefixes = new Map<string, string>();

function tarball(name: string): PackedTarball {
  const found = tarballs.get(name);
  if (found === undefined) throw new Error(`no tarball for ${name}`);
  return found;
}

/** The tarball's entries: path (without `package/`) and permission bits, from `tar -tvzf`. */
async function entries(file: string): Promise<{ path: string; mode: string }[]> {
  const { stdout } = await exec('tar', ['-tvzf', file], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim().split('\n').map((line) => ({ mode: line.slice(0, 10), path: (line.split(' ').at(-1) ?? '').replace(/^package\//, '') }));
}

async function manifestIn(file: string): Promise<Record<string, unknown>> {
  const { stdout } = await exec('tar', ['-xzOf', file, 'package/package.json']);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Every file under `at` whose name satisfies `keep` (symlinks not followed). */
function filesUnder(at: string, keep: (name: string) => boolean): string[] {
  return readdirSync(at, { withFileTypes: true }).flatMap((e) => {
    const path = join(at, e.name);
    return e.isDirectory() ? filesUnder(path, keep) : keep(e.name) ? [path] : [];
  });
}

/** npm's CLI script: the one running this test (npm test), else the first `npm` on this process's PATH. */
function npmCli(): string {
  const running = process.env['npm_execpath'];
  if (running !== undefined && running.endsWith('npm-cli.js')) return running;
  for (const at of (process.env['PATH'] ?? '').split(':')) {
    if (at !== '' && existsSync(join(at, 'npm'))) return realpathSync(join(at, 'npm'));
  }
  throw new Error('npm is not on PATH');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'speedwatch-release-test-'));
  binDir = join(dir, 'path');
  mkdirSync(binDir);
  symlinkSync(process.execPath, join(binDir, 'node'));
  symlinkSync(npmCli(), join(binDir, 'npm'));
  env = { PATH: binDir, HOME: join(dir, 'home'), npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };
  mkdirSync(join(dir, 'home'));

  for (const packed of await packRelease(ROOT, join(dir, 'release'), () => {})) tarballs.set(packed.dir, packed);
  for (const deployable of ['agent', 'endpoint']) {
    const prefix = join(dir, `prefix-${deployable}`);
    const npm = join(binDir, 'npm');
    const run = await runToEnd(npm, ['install', '-g', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball(deployable).file], 120_000, env);
    if (run.code !== 0) throw new Error(`npm install -g ${tarball(deployable).file} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
    prefixes.set(deployable, prefix);
  }
}, 240_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('npm run release', () => {
  it.each(DEPLOYABLES.map((d) => [d.dir, d.fromRegistry] as const))(
    'packs %s as speedwatch-<name>-<version>.tgz with its bin, engines and type, and nothing of the workspace',
    async (name, fromRegistry) => {
      const packed = tarball(name);
      expect(packed.file).toMatch(new RegExp(`/speedwatch-${name}-${packed.version.replaceAll('.', '\\.')}\\.tgz$`));
      const manifest = await manifestIn(packed.file);
      expect(manifest).toMatchObject({ name: `@speedwatch/${name}`, type: 'module', engines: { node: expect.stringMatching(/^>=20\.18/) as unknown } });
      expect(Object.keys(manifest['bin'] as object)).toEqual([`speedwatch-${name}`]);
      for (const key of ['private', 'devDependencies', 'workspaces', 'scripts']) expect(manifest).not.toHaveProperty(key);
      const dependencies = Object.keys(manifest['dependencies'] as object);
      expect(dependencies).toContain('@speedwatch/shared');
      expect(manifest['bundleDependencies']).toEqual(dependencies.filter((d) => !fromRegistry.includes(d)).sort());
      expect(packed.bundled).toContain('@speedwatch/shared');
      for (const dep of fromRegistry) expect(packed.bundled).not.toContain(dep);
    },
  );

  it.each(DEPLOYABLES.map((d) => [d.dir]))('ships only built JavaScript of %s and shared: no tests, no TypeScript, no source maps', async (name) => {
    const paths = (await entries(tarball(name).file)).map((e) => e.path);
    const ours = paths.filter((p) => !p.startsWith('node_modules/') || p.startsWith('node_modules/@speedwatch/'));
    expect(ours.filter((p) => /\.ts$|\.map$|(^|\/)test\//.test(p) || p.includes('tsbuildinfo'))).toEqual([]);
    expect(ours).toContain(`dist/src/bin/speedwatch-${name}.js`);
    expect(ours).toContain('node_modules/@speedwatch/shared/dist/src/index.js');
  });

  it.each(DEPLOYABLES.map((d) => [d.dir]))('keeps the execute bit of the %s bin shim in the tarball', async (name) => {
    const bin = (await entries(tarball(name).file)).find((e) => e.path === `bin/speedwatch-${name}.js`);
    expect(bin?.mode).toBe('-rwxr-xr-x');
  });
});

describe('the agent and endpoint tarballs on a box with Node and npm only', () => {
  it('installed them from a PATH holding only node and npm, offline, from an empty cache', () => {
    expect(readdirSync(binDir).sort()).toEqual(['node', 'npm']);
    expect([...prefixes.keys()].sort()).toEqual(['agent', 'endpoint']);
    for (const [name, prefix] of prefixes) expect(statSync(join(prefix, 'bin', `speedwatch-${name}`)).mode & 0o111).not.toBe(0);
  });

  it.each([['agent'], ['endpoint']])('installs %s with no native module anywhere', (name) => {
    const prefix = prefixes.get(name) ?? '';
    expect(filesUnder(prefix, (n) => n.endsWith('.node') || n === 'binding.gyp')).toEqual([]);
    expect(filesUnder(prefix, (n) => n === 'package.json').length).toBeGreaterThan(1);
  });

  it('runs the installed endpoint, and the installed agent measures a download through it', async () => {
    let endpoint: (Running & { line: string }) | undefined;
    try {
      endpoint = await startUntil(join(prefixes.get('endpoint') ?? '', 'bin', 'speedwatch-endpoint'), ['--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'], (line) => line.includes('"listening"'), 10_000, env);
      const { url } = JSON.parse(endpoint.line) as { url: string };
      const agent = join(prefixes.get('agent') ?? '', 'bin', 'speedwatch-agent');
      const run = await runToEnd(agent, ['once', '--endpoint', url, '--duration', '3', '--warmup', '1', '--latency-count', '5', '--json'], 30_000, env);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = parseMeasurementResult(JSON.parse(run.stdout));
      expect(result.status).toBe('ok');
      expect(result.download?.mbps).toBeGreaterThan(0);
      expect(result.upload?.mbps).toBeGreaterThan(0);
    } finally {
      await endpoint?.stop();
    }
  }, 60_000);

  it('runs the installed agent the way its shipped systemd unit does (node with the unit\'s flags, the bin in /usr/bin)', async () => {
    const prefix = prefixes.get('agent') ?? '';
    const shipped = join(prefix, 'lib', 'node_modules', '@speedwatch', 'agent', 'deploy');
    const unit = readFileSync(join(shipped, 'systemd', 'speedwatch-agent.service'), 'utf8');
    const config = join(dir, 'agent.yaml');
    writeFileSync(join(dir, 'agent.token'), 'swa_release-test-token\n');
    mkdirSync(join(dir, 'agent-data'));
    writeFileSync(
      config,
      readFileSync(join(shipped, 'agent.example.yaml'), 'utf8').replace('/etc/speedwatch/agent.token', join(dir, 'agent.token')).replace('/var/lib/speedwatch', join(dir, 'agent-data')),
    );
    const lines = unit.split('\n').filter((line) => /^ExecStart(Pre)?=/.test(line));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      // The command up to the bin, as the unit gives it, then check-config on the shipped example.
      const argv = line.replace(/^ExecStart(Pre)?=/, '').split(' ');
      const upToBin = argv.slice(0, argv.indexOf('/usr/bin/speedwatch-agent') + 1);
      expect(upToBin.at(-1)).toBe('/usr/bin/speedwatch-agent');
      const local = upToBin.map((arg) => (arg === '/usr/bin/node' ? process.execPath : arg === '/usr/bin/speedwatch-agent' ? join(prefix, 'bin', 'speedwatch-agent') : arg));
      const run = await runToEnd(local[0] ?? '', [...local.slice(1), 'check-config', config], 20_000, env);
      expect({ line, code: run.code, stderr: run.stderr }).toEqual({ line, code: 0, stderr: '' });
    }
  });

  it('has install-service write the unit from the installed package, naming the installed bin', async () => {
    const prefix = prefixes.get('agent') ?? '';
    const root = join(dir, 'install-root');
    mkdirSync(root);
    const bin = join(prefix, 'lib', 'node_modules', '@speedwatch', 'agent', 'bin', 'speedwatch-agent.js');
    // A well-formed code and no collector: the unit is written before enrollment, which then fails.
    const code = makeEnrollmentCode(new Uint8Array(9).fill(7));
    const run = await runToEnd(join(prefix, 'bin', 'speedwatch-agent'), ['install-service', '--collector', 'ws://127.0.0.1:9/v1/agents', '--code', code, '--root', root, '--no-start'], 20_000, env);
    expect(run.stderr).toContain('[SW_ENROLL_FAILED]');
    const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'speedwatch-agent.service'), 'utf8');
    const shipped = readFileSync(join(prefix, 'lib', 'node_modules', '@speedwatch', 'agent', 'deploy', 'systemd', 'speedwatch-agent.service'), 'utf8');
    // The shipped unit, its command lines naming this node and the installed bin.
    const filled = shipped.split('\n').map((line) => (/^ExecStart(Pre)?=/.test(line) ? line.replace('/usr/bin/node', process.execPath).replace('/usr/bin/speedwatch-agent', realpathSync(bin)) : line));
    expect(unit.split('\n')).toEqual(filled);
  });

  it('prints the agent\'s packed and installed sizes', async () => {
    const packed = tarball('agent');
    const prefix = prefixes.get('agent') ?? '';
    const du = async (flag: string): Promise<number> => Number((await exec('du', [flag, prefix])).stdout.split('\t')[0]);
    const diskKiB = await du('-sk');
    const apparentBytes = await du('-sb');
    console.log(
      `agent ${packed.version}: packed ${packed.bytes} bytes (${packed.entryCount} files); installed ${apparentBytes} bytes apparent (du -sb), ${diskKiB} KiB on disk (du -sk)`,
    );
    // Bounds well above today's figures, so a dependency or a build output that balloons is noticed.
    expect(packed.bytes).toBeLessThan(2_000_000);
    expect(apparentBytes).toBeLessThan(10_000_000);
  });
});
