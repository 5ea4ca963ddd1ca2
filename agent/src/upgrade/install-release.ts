/**
 * Installs a release tarball beside the running version (docs/fleet.md, "Upgrades"): unpacked
 * into `versions/<version>/` of the data dir (each file fsynced, so a power cut after the switch
 * does not leave a version of empty files), recorded as on trial in `upgrade.json`, and `current`
 * switched to it in one rename. What runs now is not touched: the new version runs from the next
 * start, through the launcher (launcher.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { AGENT_VERSION_PATTERN } from '@speedwatch/shared';
import { describeError } from '../outbox/durable-fs.js';
import { readTar } from './tar.js';
import type { TarFile } from './tar.js';
import { UpgradeError } from './upgrade-error.js';
import { readUpgradeState, switchCurrent, syncDirectorySync, versionDir, VERSIONS_DIR, writeUpgradeState } from './upgrade-state.js';

const gunzipAsync = promisify(gunzip);

/** A release unpacks to this many bytes at most (today's: 3.2 MB); it is held in memory while installed. */
export const MAX_UNPACKED_BYTES = 64 * 1024 * 1024;
export const AGENT_PACKAGE = '@speedwatch/agent';
/** The bin every agent release has: what the launcher runs. */
export const AGENT_BIN = 'bin/speedwatch-agent.js';

/** SHA-256 of a file, lowercase hex. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** The package's name and version, checked: an agent release, at `expected` when given. */
function manifestOf(files: readonly TarFile[], expected: string | undefined): string {
  const manifest = files.find((f) => f.path === 'package.json');
  if (manifest === undefined) throw new UpgradeError('SW_UPGRADE_PACKAGE', 'the release has no package/package.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifest.data.toString('utf8'));
  } catch {
    throw new UpgradeError('SW_UPGRADE_PACKAGE', 'the release\'s package.json is not JSON');
  }
  const { name, version } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { name?: unknown; version?: unknown };
  if (name !== AGENT_PACKAGE) throw new UpgradeError('SW_UPGRADE_PACKAGE', `the release is ${JSON.stringify(String(name).slice(0, 100))}, not ${AGENT_PACKAGE}`);
  if (typeof version !== 'string' || !AGENT_VERSION_PATTERN.test(version)) throw new UpgradeError('SW_UPGRADE_PACKAGE', 'the release\'s package.json has no usable version');
  if (expected !== undefined && version !== expected) throw new UpgradeError('SW_UPGRADE_PACKAGE', `the release holds version ${version}, but was announced as ${expected}`);
  if (!files.some((f) => f.path === AGENT_BIN)) throw new UpgradeError('SW_UPGRADE_PACKAGE', `the release has no ${AGENT_BIN}`);
  return version;
}

/** Writes every file under `dir`, each fsynced, with 0755 where the archive had an execute bit. */
async function writeFiles(dir: string, files: readonly TarFile[]): Promise<void> {
  const made = new Set<string>();
  for (const file of files) {
    const path = join(dir, file.path);
    const parent = dirname(path);
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true });
      made.add(parent);
    }
    const handle = await open(path, 'wx', file.executable ? 0o755 : 0o644);
    try {
      await handle.writeFile(file.data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  for (const parent of made) syncDirectorySync(parent);
}

export interface InstallOptions {
  dataDir: string;
  /** The tarball. */
  file: string;
  /** Its SHA-256, already checked against what was announced (recorded with the trial). */
  sha256: string;
  /** The version it must hold (the announced one); undefined: whatever it holds (a local file). */
  expectedVersion?: string;
  /** The version running now, from `versions/`; undefined: the one npm installed. A failed trial comes back to it. */
  previous: string | undefined;
  now: () => Date;
}

export interface Installed {
  version: string;
  dir: string;
  /** The version `current` named before; undefined: the one npm installed. */
  previous?: string;
}

/**
 * Unpacks, checks and installs the release, then makes it `current` on trial. Throws
 * UpgradeError: SW_UPGRADE_PACKAGE when it is not an agent release (nothing written),
 * SW_UPGRADE_INSTALL when the data dir cannot take it (what was written is removed).
 */
export async function installRelease(o: InstallOptions): Promise<Installed> {
  let archive: Buffer;
  try {
    archive = await gunzipAsync(await readFile(o.file), { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch (err) {
    const tooBig = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new UpgradeError('SW_UPGRADE_PACKAGE', tooBig ? `the release unpacks to over ${MAX_UNPACKED_BYTES / 1024 / 1024} MiB` : `the release is not gzip (${describeError(err)})`, { cause: err });
  }
  const files = readTar(archive);
  const version = manifestOf(files, o.expectedVersion);
  const { previous } = o;
  if (version === previous) throw new UpgradeError('SW_UPGRADE_INSTALL', `${version} is the version running; nothing to install`);
  const versions = join(o.dataDir, VERSIONS_DIR);
  const target = versionDir(o.dataDir, version);
  const staging = join(versions, `.staging-${version}-${process.pid}`);
  const old = join(versions, `.old-${version}-${process.pid}`);
  try {
    await mkdir(versions, { recursive: true });
    await rm(staging, { recursive: true, force: true });
    await writeFiles(staging, files);
    // A copy of this version from before (an earlier install of it) is replaced whole.
    await rm(old, { recursive: true, force: true });
    await rename(target, old).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    });
    await rename(staging, target);
    syncDirectorySync(versions);
    await rm(old, { recursive: true, force: true });
    const { state } = readUpgradeState(o.dataDir);
    writeUpgradeState(o.dataDir, {
      ...state,
      trial: { version, sha256: o.sha256, ...(previous === undefined ? {} : { previous }), state: 'installed', installedAt: o.now().toISOString() },
      failed: state.failed.filter((f) => f.version !== version || f.sha256 !== o.sha256),
    });
    switchCurrent(o.dataDir, version);
    return { version, dir: target, ...(previous === undefined ? {} : { previous }) };
  } catch (err) {
    // The install's error is the one to report; a staging dir that cannot be removed either is
    // replaced by the next install of this version.
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw new UpgradeError('SW_UPGRADE_INSTALL', `cannot install ${version} in ${versions}: ${describeError(err)}`, { cause: err });
  }
}
