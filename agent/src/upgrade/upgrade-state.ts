/**
 * The upgrade layout in the agent's data dir (docs/fleet.md, "Upgrades"), which every version
 * reads and writes, so it changes only by adding optional fields:
 *
 *   versions/<version>/   an installed release (the tarball's `package/`), its own node_modules
 *   current               symlink to `versions/<version>`: the version `run` starts; none: the
 *                         one npm installed (the "base")
 *   upgrade.json          the latest release the collector announced (`offer`), the version on
 *                         trial, the versions that failed, and the base's version
 *
 * A version is on trial from its install until the collector welcomes it: `installed` until
 * the launcher starts it, `started` after. A start that finds it `started` (the run before
 * it ended without a welcome) rolls back to `previous`.
 *
 * Synchronous on purpose: the launcher runs before anything else and from an `exit` listener,
 * where only synchronous work happens, and the files are a few hundred bytes, written a few
 * times a year. Every write is durable (temporary file, fsync, rename, directory fsync).
 */
import { closeSync, fsyncSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { AGENT_VERSION_PATTERN, agentVersionSchema, array, object, oneOf, optional, releaseBytesSchema, releasePathSchema, sha256Schema, string, ValidationError } from '@speedwatch/shared';

export const VERSIONS_DIR = 'versions';
export const CURRENT_LINK = 'current';
export const UPGRADE_FILE = 'upgrade.json';
/** Failed versions remembered, newest last. */
export const MAX_FAILED = 10;

/** The release the collector announced last (the `upgrade` message), kept for `speedwatch-agent upgrade`. */
export interface Offer {
  version: string;
  sha256: string;
  path: string;
  bytes: number;
  /** When it arrived, ISO 8601. */
  receivedAt: string;
}

export interface Trial {
  version: string;
  sha256: string;
  /** The version `current` named before (in `versions/`); absent: the one npm installed. */
  previous?: string;
  /** `installed`: not started yet; `started`: the launcher started it and no welcome came yet. */
  state: 'installed' | 'started';
  installedAt: string;
}

export interface FailedUpgrade {
  version: string;
  sha256: string;
  at: string;
  /** Why, for people: the error's message. */
  reason: string;
  code: string;
}

export interface UpgradeState {
  /** The version npm installed when `current` was last in use: another one means npm installed a new one since. */
  base?: string;
  offer?: Offer;
  trial?: Trial;
  failed: FailedUpgrade[];
}

const timestamp = string({ minLength: 1, maxLength: 40 });
const stateSchema = object({
  base: optional(string({ minLength: 1, maxLength: 64 })),
  offer: optional(object({ version: agentVersionSchema, sha256: sha256Schema, path: releasePathSchema, bytes: releaseBytesSchema, receivedAt: timestamp })),
  trial: optional(
    object({ version: agentVersionSchema, sha256: sha256Schema, previous: optional(agentVersionSchema), state: oneOf(['installed', 'started']), installedAt: timestamp }),
  ),
  failed: optional(
    array(object({ version: agentVersionSchema, sha256: sha256Schema, at: timestamp, reason: string({ maxLength: 2000 }), code: string({ maxLength: 64 }) }), { maxItems: 100 }),
  ),
});

const KNOWN = {
  top: ['base', 'offer', 'trial', 'failed'],
  offer: ['version', 'sha256', 'path', 'bytes', 'receivedAt'],
  trial: ['version', 'sha256', 'previous', 'state', 'installedAt'],
  failed: ['version', 'sha256', 'at', 'reason', 'code'],
} as const;

/** `value` with only `keys` kept, when it is a plain object. */
function known(value: unknown, keys: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(value, k)).map((k) => [k, (value as Record<string, unknown>)[k]]));
}

/**
 * The fields this version knows, the others left out: the launcher that reads the file is the
 * version npm installed, often older than the one that wrote it, and must not lose a trial over
 * a field added later.
 */
function knownFields(value: unknown): unknown {
  const top = known(value, KNOWN.top) as Record<string, unknown>;
  if (typeof top !== 'object' || top === null) return top;
  return {
    ...top,
    ...(top['offer'] === undefined ? {} : { offer: known(top['offer'], KNOWN.offer) }),
    ...(top['trial'] === undefined ? {} : { trial: known(top['trial'], KNOWN.trial) }),
    ...(Array.isArray(top['failed']) ? { failed: top['failed'].map((f) => known(f, KNOWN.failed)) } : {}),
  };
}

export function versionDir(dataDir: string, version: string): string {
  return join(dataDir, VERSIONS_DIR, version);
}

/** True when `file` (a running version's own file) lies in the data dir's `versions/`: an upgrade installed it. */
export function inVersionsDir(dataDir: string, file: string): boolean {
  try {
    return realpathSync(file).startsWith(`${realpathSync(join(dataDir, VERSIONS_DIR))}${sep}`);
  } catch {
    return false; // no versions/ yet: nothing was installed by an upgrade
  }
}

/** The state, and what was wrong with the file when it could not be used (it is then treated as empty). */
export function readUpgradeState(dataDir: string): { state: UpgradeState; problem?: string } {
  const path = join(dataDir, UPGRADE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return { state: { failed: [] } };
    return { state: { failed: [] }, problem: `cannot read ${path} (${(err as { code?: string }).code ?? String(err)})` };
  }
  try {
    const { failed, ...rest } = stateSchema.parse(knownFields(JSON.parse(text)), 'upgrade');
    return { state: { ...rest, failed: failed ?? [] } };
  } catch (err) {
    if (err instanceof SyntaxError) return { state: { failed: [] }, problem: `${path} is not JSON` };
    if (err instanceof ValidationError) return { state: { failed: [] }, problem: `${path}: ${err.message}` };
    throw err;
  }
}

/** Replaces `path` with `data` so that a power cut leaves the old file or the new one. */
function replaceFileSync(dir: string, name: string, data: string): void {
  const path = join(dir, name);
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w', 0o644);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  syncDirectorySync(dir);
}

/** fsyncs a directory so that a rename or removal in it survives a power cut; where that is not supported, nothing. */
export function syncDirectorySync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'ENOTSUP'].includes(String((err as { code?: unknown }).code))) throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function writeUpgradeState(dataDir: string, state: UpgradeState): void {
  replaceFileSync(dataDir, UPGRADE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** The version `current` names, or undefined when there is no link (or not one of ours). */
export function currentVersion(dataDir: string): string | undefined {
  let target: string;
  try {
    target = readlinkSync(join(dataDir, CURRENT_LINK));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT' || (err as { code?: unknown }).code === 'EINVAL') return undefined;
    throw err;
  }
  const match = /^versions\/([^/]+)$/.exec(target);
  return match?.[1] !== undefined && AGENT_VERSION_PATTERN.test(match[1]) ? match[1] : undefined;
}

/** Points `current` at `versions/<version>`, or removes it (undefined: the base runs), in one atomic step. */
export function switchCurrent(dataDir: string, version: string | undefined): void {
  const link = join(dataDir, CURRENT_LINK);
  if (version === undefined) {
    rmSync(link, { force: true });
  } else {
    const temp = `${link}.tmp-${process.pid}`;
    rmSync(temp, { force: true });
    symlinkSync(`${VERSIONS_DIR}/${version}`, temp);
    renameSync(temp, link);
  }
  syncDirectorySync(dataDir);
}

/** `state` with `failure` remembered (once per version and hash), the oldest forgotten past MAX_FAILED. */
export function withFailure(state: UpgradeState, failure: FailedUpgrade): UpgradeState {
  const others = state.failed.filter((f) => f.version !== failure.version || f.sha256 !== failure.sha256);
  return { ...state, failed: [...others, failure].slice(-MAX_FAILED) };
}

/** True when this version with this hash failed before: it is not tried again. */
export function failedBefore(state: UpgradeState, version: string, sha256: string): FailedUpgrade | undefined {
  return state.failed.find((f) => f.version === version && f.sha256 === sha256);
}

/**
 * Ends `trial` as failed: `current` back to its previous version first (so a power cut between
 * the steps leaves the old version running and a trial that no longer matches `current`, which
 * the next start drops), then the failure remembered and the trial forgotten. Returns the new state.
 */
export function rollBack(dataDir: string, state: UpgradeState, trial: Trial, reason: string, now: Date): UpgradeState {
  switchCurrent(dataDir, trial.previous);
  const { trial: _ended, ...rest } = state;
  const next = withFailure({ ...rest, failed: state.failed }, { version: trial.version, sha256: trial.sha256, at: now.toISOString(), reason, code: 'SW_UPGRADE_ROLLED_BACK' });
  writeUpgradeState(dataDir, next);
  return next;
}
