/**
 * Upgrades on the box (docs/fleet.md, "Upgrades"): the tar reader, the install beside the
 * running version, the daemon's upgrader on a fake clock, and the launcher's trials and
 * rollbacks. Archives are made by GNU tar in each of its formats, and by hand for the hostile
 * ones; the end-to-end test with real releases is test/agent-upgrade.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { UpgradeMessage } from '@speedwatch/shared';
import { createLogger } from '@speedwatch/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { upgradeCommand } from '../src/cli/upgrade-command.js';
import type { Downloaded, DownloadOptions } from '../src/upgrade/download-release.js';
import { installRelease } from '../src/upgrade/install-release.js';
import { EXIT_RESTART, launch, LAUNCHED_ENV } from '../src/upgrade/launcher.js';
import type { LaunchDeps } from '../src/upgrade/launcher.js';
import { readTar } from '../src/upgrade/tar.js';
import { UpgradeError } from '../src/upgrade/upgrade-error.js';
import { currentVersion, readUpgradeState, switchCurrent, writeUpgradeState } from '../src/upgrade/upgrade-state.js';
import type { UpgradeState } from '../src/upgrade/upgrade-state.js';
import { Upgrader } from '../src/upgrade/upgrader.js';
import { FakeClock } from './fake-clock.js';
import { listen } from './util.js';

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const LONG = `node_modules/${'deep/'.repeat(25)}file.js`;

/** A package tree as `npm pack` lays it out: `package/` with a manifest, the bin (0755) and `files`. */
function packageTree(version: string, files: Record<string, string> = {}, name = '@speedwatch/agent'): string {
  const root = tempDir('sw-pkg-');
  const all: Record<string, string> = { 'package.json': JSON.stringify({ name, version }), 'bin/speedwatch-agent.js': '#!/usr/bin/env node\n', ...files };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, 'package', path)), { recursive: true });
    writeFileSync(join(root, 'package', path), text, { mode: path.startsWith('bin/') ? 0o755 : 0o644 });
  }
  return root;
}

/** The tree made a tarball by GNU tar, in `format`, gzipped unless `gzip` is false. */
function tarOf(root: string, format: 'ustar' | 'pax' | 'gnu' = 'pax', gzip = true): Buffer {
  return execFileSync('tar', [`--format=${format}`, gzip ? '-czf' : '-cf', '-', '-C', root, 'package']);
}

/** One hand-made tar header block (and its data), for what GNU tar will not write. */
function header(name: string, type: string, data = Buffer.alloc(0), mode = 0o644): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  block.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  block.write('00000000000\0', 136);
  block.write(type, 156);
  block.write('ustar\x0000', 257);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([block, padded]);
}
const END = Buffer.alloc(1024);

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    if (err instanceof UpgradeError) return err.code;
    throw err;
  }
  return undefined;
}

describe('readTar', () => {
  it.each(['ustar', 'pax', 'gnu'] as const)('reads what GNU tar writes in %s format: long paths, contents and execute bits', (format) => {
    const files = readTar(tarOf(packageTree('0.2.0', { [LONG]: 'deep' }), format, false));
    expect(files.map((f) => f.path).sort()).toEqual(['bin/speedwatch-agent.js', LONG, 'package.json'].sort());
    expect(files.find((f) => f.path === LONG)?.data.toString()).toBe('deep');
    expect(files.find((f) => f.path === 'bin/speedwatch-agent.js')?.executable).toBe(true);
    expect(files.find((f) => f.path === 'package.json')?.executable).toBe(false);
  });

  it.each<[string, Buffer]>([
    ['an entry outside package/', Buffer.concat([header('other/x.js', '0', Buffer.from('x')), END])],
    ['a path with ..', Buffer.concat([header('package/../../etc/cron.d/x', '0', Buffer.from('x')), END])],
    ['an absolute path', Buffer.concat([header('/etc/passwd', '0', Buffer.from('x')), END])],
    ['a symbolic link', Buffer.concat([header('package/bin/x', '2'), END])],
    ['a hard link', Buffer.concat([header('package/bin/x', '1'), END])],
    ['a device', Buffer.concat([header('package/dev', '3'), END])],
    ['a pax path that climbs out', Buffer.concat([header('pax', 'x', Buffer.from('25 path=package/../../x\n')), header('package/ok', '0', Buffer.from('x')), END])],
    ['a damaged header', (() => {
      const archive = Buffer.concat([header('package/a', '0', Buffer.from('x')), END]);
      archive[10] = 0x41;
      return archive;
    })()],
    ['a truncated entry', header('package/a', '0', Buffer.alloc(2000)).subarray(0, 1024)],
    ['no end marker', header('package/a', '0', Buffer.from('x'))],
  ])('refuses %s', (_name, archive) => {
    expect(codeOf(() => readTar(archive))).toBe('SW_UPGRADE_PACKAGE');
  });
});

describe('installRelease', () => {
  const now = (): Date => new Date('2026-12-01T00:00:00Z');

  function tarball(version: string, name?: string): string {
    const file = join(tempDir('sw-tgz-'), 'release.tgz');
    writeFileSync(file, tarOf(packageTree(version, { 'dist/x.js': 'x' }, name)));
    return file;
  }

  it('unpacks into versions/<version>, records the trial and makes it current', async () => {
    const dataDir = tempDir('sw-data-');
    const file = tarball('0.2.0');
    const installed = await installRelease({ dataDir, file, sha256: sha256(readFileSync(file)), expectedVersion: '0.2.0', previous: undefined, now });
    expect(installed).toEqual({ version: '0.2.0', dir: join(dataDir, 'versions', '0.2.0') });
    expect(readFileSync(join(dataDir, 'versions', '0.2.0', 'dist', 'x.js'), 'utf8')).toBe('x');
    expect(statSync(join(dataDir, 'versions', '0.2.0', 'bin', 'speedwatch-agent.js')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(dataDir, 'current'))).toBe('versions/0.2.0');
    expect(readUpgradeState(dataDir).state.trial).toEqual({ version: '0.2.0', sha256: sha256(readFileSync(file)), state: 'installed', installedAt: '2026-12-01T00:00:00.000Z' });

    const next = tarball('0.3.0');
    await installRelease({ dataDir, file: next, sha256: sha256(readFileSync(next)), previous: '0.2.0', now });
    expect(currentVersion(dataDir)).toBe('0.3.0');
    expect(readUpgradeState(dataDir).state.trial).toMatchObject({ version: '0.3.0', previous: '0.2.0' });
  });

  it.each<[string, () => string, string | undefined]>([
    ['another version than announced', () => tarball('0.2.1'), '0.2.0'],
    ['another package', () => tarball('0.2.0', '@speedwatch/collector'), '0.2.0'],
    ['a file that is not gzip', () => {
      const file = join(tempDir('sw-tgz-'), 'x.tgz');
      writeFileSync(file, 'not a tarball');
      return file;
    }, '0.2.0'],
    ['a gzip that is not tar', () => {
      const file = join(tempDir('sw-tgz-'), 'x.tgz');
      writeFileSync(file, gzipSync(Buffer.alloc(5000, 'x')));
      return file;
    }, undefined],
  ])('refuses %s and installs nothing', async (_name, make, expectedVersion) => {
    const dataDir = tempDir('sw-data-');
    const err = await installRelease({ dataDir, file: make(), sha256: 'a'.repeat(64), previous: undefined, now, ...(expectedVersion === undefined ? {} : { expectedVersion }) }).catch((e: unknown) => e);
    expect((err as UpgradeError).code).toBe('SW_UPGRADE_PACKAGE');
    expect(existsSync(join(dataDir, 'current'))).toBe(false);
    expect(existsSync(join(dataDir, 'upgrade.json'))).toBe(false);
  });
});

describe('Upgrader', () => {
  interface Harness {
    upgrader: Upgrader;
    clock: FakeClock;
    dataDir: string;
    restarts: number;
    downloads: DownloadOptions[];
    held: boolean;
    logs: () => Record<string, unknown>[];
  }

  /** `serve` gives the bytes each download gets (default: a real 0.2.0 tarball). */
  function harness(options: { auto?: boolean; version?: string; serve?: () => Buffer | Error; dataDir?: string; fromVersionsDir?: boolean } = {}): Harness {
    const dataDir = options.dataDir ?? tempDir('sw-data-');
    const clock = new FakeClock();
    let lines = '';
    const h: Harness = {
      clock,
      dataDir,
      restarts: 0,
      downloads: [],
      held: false,
      logs: () => lines.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
      upgrader: undefined as unknown as Upgrader,
    };
    const release = tarOf(packageTree('0.2.0'));
    h.upgrader = new Upgrader({
      dataDir,
      version: options.version ?? '0.1.0',
      fromVersionsDir: options.fromVersionsDir ?? false,
      auto: options.auto ?? true,
      collectorUrl: 'ws://collector.test:8600/v1/agents',
      token: 'swa_test-token',
      logger: createLogger({ level: 'debug', write: (line) => (lines += line) }),
      clock,
      random: () => 0,
      quiesce: () => {
        h.held = true;
        return Promise.resolve(() => {
          h.held = false;
        });
      },
      restart: () => h.restarts++,
      retryMs: 60_000,
      trialMs: 120_000,
      download: (o: DownloadOptions): Promise<Downloaded> => {
        h.downloads.push(o);
        const bytes = options.serve?.() ?? release;
        if (bytes instanceof Error) return Promise.reject(bytes);
        writeFileSync(o.dest, bytes);
        return Promise.resolve({ sha256: sha256(bytes), bytes: bytes.length });
      },
      now: () => new Date('2026-12-01T00:00:00Z'),
    });
    return h;
  }

  const offerOf = (bytes: Buffer, version = '0.2.0'): UpgradeMessage => ({ type: 'upgrade', version, sha256: sha256(bytes), path: `/v1/releases/speedwatch-agent-${version}.tgz`, bytes: bytes.length });
  const events = (h: Harness): unknown[] => h.logs().map((l) => l['event']);

  it('keeps the announcement and installs nothing when autoUpgrade is off', async () => {
    const h = harness({ auto: false });
    h.upgrader.offered(offerOf(Buffer.from('x')));
    await h.clock.advance(0);
    expect(readUpgradeState(h.dataDir).state.offer).toMatchObject({ version: '0.2.0', receivedAt: '2026-12-01T00:00:00.000Z' });
    expect(h.downloads).toEqual([]);
    expect(events(h)).toEqual(['upgrade-available']);
  });

  it('downloads from the collector\'s host with the token, installs with tests held, and asks for a restart', async () => {
    const bytes = tarOf(packageTree('0.2.0'));
    const h = harness({ serve: () => bytes });
    h.upgrader.offered(offerOf(bytes));
    await h.upgrader.idle();
    expect(h.downloads[0]).toMatchObject({ url: 'http://collector.test:8600/v1/releases/speedwatch-agent-0.2.0.tgz', token: 'swa_test-token', bytes: bytes.length });
    expect(h.held).toBe(true);
    expect(h.restarts).toBe(1);
    expect(currentVersion(h.dataDir)).toBe('0.2.0');
    expect(existsSync(join(h.dataDir, 'versions', '.download.tgz'))).toBe(false);
  });

  it('does nothing for an announcement of its own version', async () => {
    const h = harness({ version: '0.2.0' });
    h.upgrader.offered(offerOf(Buffer.from('x')));
    await h.upgrader.stop();
    expect(h.downloads).toEqual([]);
  });

  it('refuses a release whose hash is not the announced one, remembers it, and tries only another hash', async () => {
    const good = tarOf(packageTree('0.2.0'));
    const served = Buffer.from(good);
    served.writeUInt8(served.readUInt8(served.length - 1) ^ 1, served.length - 1);
    const h = harness({ serve: () => served });
    h.upgrader.offered(offerOf(good));
    await h.upgrader.idle();
    const refused = h.logs().find((l) => l['event'] === 'upgrade-refused');
    expect(refused).toMatchObject({ code: 'SW_UPGRADE_HASH', version: '0.2.0' });
    expect(h.held).toBe(false);
    expect(h.restarts).toBe(0);
    expect(existsSync(join(h.dataDir, 'versions', '0.2.0'))).toBe(false);
    expect(readUpgradeState(h.dataDir).state.failed).toMatchObject([{ version: '0.2.0', sha256: sha256(good), code: 'SW_UPGRADE_HASH' }]);

    // The next run (a restart) is offered the same: skipped. Another hash is tried.
    const again = harness({ dataDir: h.dataDir, serve: () => good });
    again.upgrader.offered(offerOf(good));
    await again.clock.advance(0);
    expect(again.downloads).toEqual([]);
    expect(events(again)).toEqual(['upgrade-skipped']);
    const rebuilt = tarOf(packageTree('0.2.0', { 'dist/y.js': 'y' }));
    const third = harness({ dataDir: h.dataDir, serve: () => rebuilt });
    third.upgrader.offered(offerOf(rebuilt));
    await third.upgrader.idle();
    expect(third.restarts).toBe(1);
  });

  it('tries a failed download again after the retry delay, and a busy collector after its Retry-After', async () => {
    const answers = [new UpgradeError('SW_UPGRADE_DOWNLOAD', 'GET x: HTTP 503', { retryAfterMs: 10_000, httpStatus: 503 }), new UpgradeError('SW_UPGRADE_DOWNLOAD', 'GET x: ECONNREFUSED')];
    const bytes = tarOf(packageTree('0.2.0'));
    const h = harness({ serve: () => answers.shift() ?? bytes });
    h.upgrader.offered(offerOf(bytes));
    await h.upgrader.idle();
    expect(h.downloads).toHaveLength(1);
    expect(h.held).toBe(false);
    // random() is 0: each delay is its base, with no jitter on top.
    await h.clock.advance(9_999);
    expect(h.downloads).toHaveLength(1);
    await h.clock.advance(1);
    await h.upgrader.idle();
    expect(h.downloads).toHaveLength(2);
    await h.clock.advance(60_000);
    await h.upgrader.idle();
    expect(h.downloads).toHaveLength(3);
    expect(h.restarts).toBe(1);
    expect(answers).toEqual([]);
  });

  describe('a version on trial', () => {
    function onTrial(state: 'installed' | 'started', previous?: string): string {
      const dataDir = tempDir('sw-data-');
      mkdirSync(join(dataDir, 'versions', '0.2.0'), { recursive: true });
      if (previous !== undefined) mkdirSync(join(dataDir, 'versions', previous), { recursive: true });
      mkdirSync(join(dataDir, 'versions', '0.0.9'), { recursive: true });
      switchCurrent(dataDir, '0.2.0');
      writeUpgradeState(dataDir, { failed: [], trial: { version: '0.2.0', sha256: 'b'.repeat(64), state, installedAt: 'x', ...(previous === undefined ? {} : { previous }) } });
      return dataDir;
    }

    it('is confirmed by the welcome: the trial ends and versions other than it and the one before are removed', async () => {
      const dataDir = onTrial('started', '0.1.0');
      const h = harness({ dataDir, version: '0.2.0' });
      h.upgrader.start();
      h.upgrader.welcomed();
      await h.upgrader.idle();
      expect(readUpgradeState(dataDir).state.trial).toBeUndefined();
      expect(h.clock.pending).toBe(0);
      expect(existsSync(join(dataDir, 'versions', '0.0.9'))).toBe(false);
      expect(existsSync(join(dataDir, 'versions', '0.1.0'))).toBe(true);
      expect(events(h)).toEqual(['upgrade-trial', 'upgrade-confirmed']);
    });

    it('goes on to a newer version announced right after the welcome that confirmed it', async () => {
      const dataDir = onTrial('started', '0.1.0');
      const next = tarOf(packageTree('0.3.0'));
      const h = harness({ dataDir, version: '0.2.0', serve: () => next, fromVersionsDir: true });
      h.upgrader.start();
      h.upgrader.welcomed();
      h.upgrader.offered(offerOf(next, '0.3.0'));
      await h.upgrader.idle();
      expect(h.restarts).toBe(1);
      expect(currentVersion(dataDir)).toBe('0.3.0');
      expect(readUpgradeState(dataDir).state.trial).toMatchObject({ version: '0.3.0', previous: '0.2.0', state: 'installed' });
    });

    it('rolls back and asks for a restart when no welcome comes within its bound', async () => {
      const dataDir = onTrial('started');
      const h = harness({ dataDir, version: '0.2.0' });
      h.upgrader.start();
      await h.clock.advance(119_999);
      expect(h.restarts).toBe(0);
      await h.clock.advance(1);
      expect(h.restarts).toBe(1);
      expect(existsSync(join(dataDir, 'current'))).toBe(false);
      const { state } = readUpgradeState(dataDir);
      expect(state.trial).toBeUndefined();
      expect(state.failed).toMatchObject([{ version: '0.2.0', code: 'SW_UPGRADE_ROLLED_BACK', reason: expect.stringMatching(/not welcomed by the collector within 120 s/) as unknown }]);
    });

    it('stays on trial for the next start when stopped by a signal', () => {
      const dataDir = onTrial('started');
      const h = harness({ dataDir, version: '0.2.0' });
      h.upgrader.start();
      h.upgrader.postponeTrial();
      expect(readUpgradeState(dataDir).state.trial?.state).toBe('installed');
      expect(h.clock.pending).toBe(0);
    });
  });
});

describe('the launcher', () => {
  interface Launch {
    result: boolean;
    imported: string[];
    exitListeners: ((code: number) => void)[];
    exitCode: number | undefined;
    logs: string;
  }

  /** A data dir and config; versions named in `installed` get a bin. */
  function box(installed: string[] = []): { dataDir: string; config: string } {
    const root = tempDir('sw-box-');
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    for (const v of installed) {
      mkdirSync(join(dataDir, 'versions', v, 'bin'), { recursive: true });
      writeFileSync(join(dataDir, 'versions', v, 'bin', 'speedwatch-agent.js'), '');
    }
    writeFileSync(join(root, 'agent.yaml'), 'collector: { url: ws://x/ }\ndataDir: data\n');
    return { dataDir, config: join(root, 'agent.yaml') };
  }

  async function run(config: string, importBin: (path: string) => Promise<unknown> = () => Promise.resolve(), base = '0.1.0'): Promise<Launch> {
    const out: Launch = { result: false, imported: [], exitListeners: [], exitCode: undefined, logs: '' };
    const deps: Partial<LaunchDeps> = {
      env: {},
      ownVersion: base,
      importBin: (path) => {
        out.imported.push(path);
        return importBin(path);
      },
      onExit: (listener) => {
        out.exitListeners.push(listener);
        return () => out.exitListeners.splice(out.exitListeners.indexOf(listener), 1);
      },
      setExitCode: (code) => (out.exitCode = code),
      logger: createLogger({ write: (line) => (out.logs += line) }),
      now: () => new Date('2026-12-01T00:00:00Z'),
    };
    out.result = await launch(['--config', config], deps);
    return out;
  }

  const trialState = (state: 'installed' | 'started', previous?: string): UpgradeState => ({
    base: '0.1.0',
    failed: [],
    trial: { version: '0.3.0', sha256: 'c'.repeat(64), state, installedAt: 'x', ...(previous === undefined ? {} : { previous }) },
  });

  it('lets the CLI run itself when nothing was installed by an upgrade, or the config names no data dir', async () => {
    const { config, dataDir } = box();
    expect((await run(config)).result).toBe(false);
    expect(readUpgradeState(dataDir).state.base).toBe('0.1.0');
    expect((await run('/nonexistent.yaml')).result).toBe(false);
    expect(await launch(['--config', config], { env: { [LAUNCHED_ENV]: '0.1.0' } })).toBe(false);
  });

  it('runs the version current names', async () => {
    const { config, dataDir } = box(['0.2.0']);
    switchCurrent(dataDir, '0.2.0');
    const out = await run(config);
    expect(out.result).toBe(true);
    expect(out.imported).toEqual([join(dataDir, 'versions', '0.2.0', 'bin', 'speedwatch-agent.js')]);
    expect(out.exitListeners).toEqual([]);
  });

  it('starts a version on trial, and rolls it back if it exits before the welcome, asking for a restart', async () => {
    const { config, dataDir } = box(['0.2.0', '0.3.0']);
    switchCurrent(dataDir, '0.3.0');
    writeUpgradeState(dataDir, trialState('installed', '0.2.0'));
    const out = await run(config);
    expect(out.result).toBe(true);
    expect(readUpgradeState(dataDir).state.trial?.state).toBe('started');
    out.exitListeners[0]?.(1);
    expect(out.exitCode).toBe(EXIT_RESTART);
    expect(currentVersion(dataDir)).toBe('0.2.0');
    expect(readUpgradeState(dataDir).state.failed).toMatchObject([{ version: '0.3.0', reason: expect.stringMatching(/exited with status 1 before/) as unknown }]);
  });

  it('leaves the exit status alone once the trial is over', async () => {
    const { config, dataDir } = box(['0.3.0']);
    switchCurrent(dataDir, '0.3.0');
    writeUpgradeState(dataDir, trialState('installed'));
    const out = await run(config);
    const { trial: _done, ...confirmed } = readUpgradeState(dataDir).state;
    writeUpgradeState(dataDir, confirmed);
    out.exitListeners[0]?.(0);
    expect(out.exitCode).toBeUndefined();
    expect(currentVersion(dataDir)).toBe('0.3.0');
  });

  it('rolls back a trial found started (the run before ended without a welcome), to the npm-installed version', async () => {
    const { config, dataDir } = box(['0.3.0']);
    switchCurrent(dataDir, '0.3.0');
    writeUpgradeState(dataDir, trialState('started'));
    const out = await run(config);
    expect(out.result).toBe(false);
    expect(out.imported).toEqual([]);
    expect(lstatSync(join(dataDir, 'current'), { throwIfNoEntry: false })).toBeUndefined();
    expect(out.logs).toContain('"event":"upgrade-rolled-back"');
  });

  it('rolls back a trial whose bin throws when loaded, and runs the version before in its place', async () => {
    const { config, dataDir } = box(['0.2.0', '0.3.0']);
    switchCurrent(dataDir, '0.3.0');
    writeUpgradeState(dataDir, trialState('installed', '0.2.0'));
    const out = await run(config, (path) => (path.includes('0.3.0') ? Promise.reject(new Error('this build cannot start')) : Promise.resolve()));
    expect(out.result).toBe(true);
    expect(out.imported.map((p) => p.split('/versions/')[1])).toEqual(['0.3.0/bin/speedwatch-agent.js', '0.2.0/bin/speedwatch-agent.js']);
    expect(out.exitListeners).toEqual([]);
    expect(currentVersion(dataDir)).toBe('0.2.0');
    expect(readUpgradeState(dataDir).state.failed[0]?.reason).toMatch(/could not be loaded: this build cannot start/);
  });

  it('runs the npm-installed version this time when a confirmed version cannot be loaded', async () => {
    const { config, dataDir } = box(['0.2.0']);
    switchCurrent(dataDir, '0.2.0');
    const out = await run(config, () => Promise.reject(new Error('damaged')));
    expect(out.result).toBe(false);
    expect(currentVersion(dataDir)).toBe('0.2.0');
    expect(out.logs).toContain('"event":"version-unloadable"');
  });

  it('lets a version npm installed since the upgrade win', async () => {
    const { config, dataDir } = box(['0.2.0']);
    switchCurrent(dataDir, '0.2.0');
    writeUpgradeState(dataDir, { base: '0.1.0', failed: [] });
    const out = await run(config, undefined, '0.4.0');
    expect(out.result).toBe(false);
    expect(currentVersion(dataDir)).toBeUndefined();
    expect(readUpgradeState(dataDir).state.base).toBe('0.4.0');
  });

  it('drops a trial that no longer matches current (a power cut mid-install)', async () => {
    const { config, dataDir } = box(['0.2.0']);
    switchCurrent(dataDir, '0.2.0');
    writeUpgradeState(dataDir, trialState('installed', '0.2.0'));
    const out = await run(config);
    expect(out.imported.map((p) => p.split('/versions/')[1])).toEqual(['0.2.0/bin/speedwatch-agent.js']);
    expect(readUpgradeState(dataDir).state.trial).toBeUndefined();
  });

  it('reads upgrade.json written by a newer version, ignoring the fields it does not know', async () => {
    const { config, dataDir } = box(['0.3.0']);
    switchCurrent(dataDir, '0.3.0');
    writeFileSync(join(dataDir, 'upgrade.json'), JSON.stringify({ ...trialState('started'), schedule: { at: 'night' }, trial: { ...trialState('started').trial, window: 5 } }));
    const out = await run(config);
    expect(out.result).toBe(false);
    expect(currentVersion(dataDir)).toBeUndefined();
  });

  // `symlinkSync` is what switchCurrent uses; a link that is not ours is not followed.
  it('ignores a current link that does not point into versions/', async () => {
    const { config, dataDir } = box();
    symlinkSync('/usr/lib', join(dataDir, 'current'));
    expect((await run(config)).result).toBe(false);
  });
});

describe('speedwatch-agent upgrade (by hand)', () => {
  /** A box with a config, and a collector stand-in serving `tarball` to the right token. */
  async function setup(): Promise<{ config: string; dataDir: string; tarball: Buffer; file: string; url: string; requests: string[]; close: () => Promise<void> }> {
    const root = tempDir('sw-by-hand-');
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    const tarball = tarOf(packageTree('0.2.0'));
    const file = join(root, 'speedwatch-agent-0.2.0.tgz');
    writeFileSync(file, tarball);
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? ''}`);
      if (req.headers.authorization !== 'Bearer swa_by-hand-token') res.writeHead(401).end();
      else res.writeHead(200, { 'content-length': tarball.length }).end(tarball);
    });
    const { url, port, close } = await listen(server);
    writeFileSync(join(root, 'token'), 'swa_by-hand-token\n');
    writeFileSync(join(root, 'agent.yaml'), `collector: { url: 'ws://127.0.0.1:${port}/v1/agents', tokenFile: token }\ndataDir: data\n`);
    return { config: join(root, 'agent.yaml'), dataDir, tarball, file, url, requests, close };
  }

  async function upgrade(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = { code: 0, stdout: '', stderr: '' };
    out.code = await upgradeCommand(argv, '0.1.0', { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t) });
    return out;
  }

  it('installs the release the collector announced, downloaded with the token, and says to restart', async () => {
    const box = await setup();
    try {
      writeUpgradeState(box.dataDir, { failed: [], offer: { version: '0.2.0', sha256: sha256(box.tarball), path: '/v1/releases/speedwatch-agent-0.2.0.tgz', bytes: box.tarball.length, receivedAt: 'x' } });
      const run = await upgrade(['--config', box.config]);
      expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Installed version 0\.2\.0 .* \(it was 0\.1\.0\).*\nRestart the service to run it: systemctl restart speedwatch-agent\./s) as unknown });
      expect(box.requests).toEqual(['GET /v1/releases/speedwatch-agent-0.2.0.tgz Bearer swa_by-hand-token']);
      expect(currentVersion(box.dataDir)).toBe('0.2.0');
      expect(readUpgradeState(box.dataDir).state.trial).toMatchObject({ version: '0.2.0', state: 'installed' });
      expect(await upgrade(['--config', box.config])).toMatchObject({ code: 0, stdout: expect.stringMatching(/is the version installed: nothing to do/) as unknown });
    } finally {
      await box.close();
    }
  });

  it('installs a local tarball given with its SHA-256, and refuses it with another', async () => {
    const box = await setup();
    try {
      const wrong = await upgrade(['--config', box.config, '--file', box.file, '--sha256', 'f'.repeat(64)]);
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toMatch(/\[SW_UPGRADE_HASH\]/);
      expect(currentVersion(box.dataDir)).toBeUndefined();
      expect((await upgrade(['--config', box.config, '--file', box.file, '--sha256', sha256(box.tarball).toUpperCase()])).code).toBe(0);
      expect(currentVersion(box.dataDir)).toBe('0.2.0');
      expect(box.requests).toEqual([]);
    } finally {
      await box.close();
    }
  });

  it('says so when the collector announced nothing, and needs --file and --sha256 together', async () => {
    const box = await setup();
    try {
      const run = await upgrade(['--config', box.config]);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/\[SW_UPGRADE_NOT_ANNOUNCED\]/);
      await expect(upgrade(['--config', box.config, '--file', box.file])).rejects.toThrow(/--file and --sha256 go together/);
    } finally {
      await box.close();
    }
  });
});
