/**
 * The launcher (docs/fleet.md, "Upgrades"): the first thing `speedwatch-agent run` does, in the
 * bin shim of the version npm installed (the "base"), before any of the daemon loads. It reads
 * the data dir from `--config`, and when an upgrade made `DATA_DIR/current` name an installed
 * version, runs that version's bin in this same process instead of its own CLI. It also ends
 * trials that went wrong, so a broken version cannot keep a box from testing:
 *
 * - a version on trial is marked `started` before it is loaded; finding it `started` at the
 *   next start means that run ended without the collector's welcome (a crash, a kill, a power
 *   cut): `current` goes back to the version before, and the failed one is remembered;
 * - a version on trial that cannot be loaded (its bin throws) is rolled back at once, and the
 *   version before runs in this process;
 * - a version on trial that exits before the welcome is rolled back from an `exit` listener,
 *   which also makes the exit status EXIT_RESTART so that the service manager starts the
 *   version before (the unit's RestartForceExitStatus), whatever status it exited with;
 * - when npm installed another version since `current` was set (a by-hand `npm install -g`),
 *   that one wins: `current` is removed.
 *
 * A version that is not on trial and cannot be loaded (files damaged on disk) is skipped for
 * this run: the base runs, and reinstalls the version the collector announces.
 *
 * The launcher is the base's code, whichever version runs: what it reads (upgrade-state.ts)
 * changes only by adding optional fields. It never throws: when anything is off it logs and
 * lets the base's own CLI run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Logger } from '@speedwatch/shared';
import { createLogger } from '@speedwatch/shared';
import { AGENT_BIN } from './install-release.js';
import type { Trial, UpgradeState } from './upgrade-state.js';
import { currentVersion, readUpgradeState, rollBack, switchCurrent, versionDir, writeUpgradeState } from './upgrade-state.js';

/** Set in the environment by the launcher before it loads a version: that version's launcher then stands aside. */
export const LAUNCHED_ENV = 'SPEEDWATCH_AGENT_LAUNCHED';
/**
 * Exit status asking the service manager for a restart: a new version was installed, or a
 * failed one rolled back (EX_TEMPFAIL). The unit restarts on it (RestartForceExitStatus=75).
 */
export const EXIT_RESTART = 75;

export interface LaunchDeps {
  env: NodeJS.ProcessEnv;
  /** The version of this (the base's) package. */
  ownVersion: string;
  /** Loads a version's bin. Default: import() of its file URL. */
  importBin: (path: string) => Promise<unknown>;
  /** Registers the exit listener of a version on trial. Default: process.on('exit'). */
  onExit: (listener: (code: number) => void) => () => void;
  /** Sets the process's exit status from that listener. Default: process.exitCode = … */
  setExitCode: (code: number) => void;
  logger: Logger;
  now: () => Date;
}

function ownVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

function defaultDeps(): LaunchDeps {
  return {
    env: process.env,
    ownVersion: ownVersion(),
    importBin: (path) => import(pathToFileURL(path).href),
    onExit: (listener) => {
      process.on('exit', listener);
      return () => process.off('exit', listener);
    },
    setExitCode: (code) => {
      // Read by Node after the `exit` listeners run, even after process.exit(code).
      process.exitCode = code;
    },
    logger: createLogger({ bindings: { component: 'launcher' } }),
    now: () => new Date(),
  };
}

/** The data dir the config file names (`dataDir`, relative to the file), read leniently; undefined when there is none to read. */
export async function dataDirOf(runArgs: readonly string[]): Promise<string | undefined> {
  let file: string | boolean | undefined;
  try {
    file = parseArgs({ args: [...runArgs], options: { config: { type: 'string' } }, strict: false }).values.config;
  } catch {
    return undefined;
  }
  if (typeof file !== 'string') return undefined;
  let raw: unknown;
  try {
    const { parse } = await import('yaml');
    raw = parse(readFileSync(file, 'utf8'));
  } catch {
    // The CLI's own config check reports it, with every problem.
    return undefined;
  }
  const dataDir = typeof raw === 'object' && raw !== null ? (raw as { dataDir?: unknown }).dataDir : undefined;
  return typeof dataDir === 'string' && dataDir !== '' ? resolve(dirname(resolve(file)), dataDir) : undefined;
}

/**
 * For `run`: runs the version `current` names, if any, and resolves true once its bin is
 * loaded (it then runs the daemon); false: the caller runs its own CLI. `runArgs` are the
 * arguments after `run`.
 */
export async function launch(runArgs: readonly string[], given: Partial<LaunchDeps> = {}): Promise<boolean> {
  const deps = { ...defaultDeps(), ...given };
  // A version this launcher loaded: its own launcher stands aside.
  if (deps.env[LAUNCHED_ENV] !== undefined) return false;
  const log = deps.logger;
  try {
    const dataDir = await dataDirOf(runArgs);
    // No data dir yet (a first start creates it): nothing was installed by an upgrade.
    if (dataDir === undefined || !existsSync(dataDir)) return false;
    deps.env[LAUNCHED_ENV] = deps.ownVersion;
    const read = readUpgradeState(dataDir);
    if (read.problem !== undefined) log.warn({ event: 'upgrade-state-unreadable' }, `${read.problem}; starting without it`);
    let state = read.state;
    const base = deps.ownVersion;
    if (state.base !== base) {
      const current = currentVersion(dataDir);
      if (current !== undefined && state.base !== undefined) {
        switchCurrent(dataDir, undefined);
        const { trial: _dropped, ...rest } = state;
        state = rest;
        log.info({ event: 'upgrade-superseded', version: current, base }, `npm installed version ${base} since version ${current} was installed by an upgrade: ${base} runs`);
      }
      state = { ...state, base };
      writeUpgradeState(dataDir, state);
    }
    // At most: roll back a failed trial, then load the version before it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = currentVersion(dataDir);
      const trial = state.trial;
      if (trial !== undefined && trial.version !== current) {
        // A power cut between two steps of an install or a rollback: the trial no longer matches `current`.
        const { trial: _stale, ...rest } = state;
        state = rest;
        writeUpgradeState(dataDir, state);
        log.warn({ event: 'upgrade-trial-dropped', version: trial.version, current: current ?? null }, `the trial of ${trial.version} does not match the current version; dropped`);
        continue;
      }
      if (trial?.state === 'started') {
        state = failTrial(dataDir, state, trial, 'its last run ended before the collector\'s welcome (a crash, a kill, a power cut or a hang)', deps);
        continue;
      }
      if (current === undefined) return false;
      const bin = join(versionDir(dataDir, current), AGENT_BIN);
      if (trial !== undefined) {
        state = { ...state, trial: { ...trial, state: 'started' } };
        writeUpgradeState(dataDir, state);
      }
      const removeExitListener = trial === undefined ? undefined : deps.onExit((code) => exitedOnTrial(dataDir, trial, code, deps));
      try {
        if (!existsSync(bin)) throw new Error(`${bin} does not exist`);
        await deps.importBin(bin);
        return true;
      } catch (err) {
        removeExitListener?.();
        const message = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
        if (trial === undefined) {
          log.error({ event: 'version-unloadable', version: current, base, err }, `the installed version ${current} cannot be loaded (${message}); version ${base}, installed by npm, runs this time`);
          return false;
        }
        state = failTrial(dataDir, readUpgradeState(dataDir).state, trial, `it could not be loaded: ${message}`, deps);
      }
    }
    return false;
  } catch (err) {
    log.error({ event: 'launcher-failed', err }, 'the launcher failed; the npm-installed version runs');
    return false;
  }
}

function failTrial(dataDir: string, state: UpgradeState, trial: Trial, why: string, deps: LaunchDeps): UpgradeState {
  const back = trial.previous ?? `${deps.ownVersion} (installed by npm)`;
  const reason = `version ${trial.version} was rolled back to ${back}: ${why}`;
  const next = rollBack(dataDir, state, trial, reason, deps.now());
  deps.logger.error({ event: 'upgrade-rolled-back', code: 'SW_UPGRADE_ROLLED_BACK', version: trial.version, previous: trial.previous ?? null }, reason);
  return next;
}

/** The `exit` listener of a version on trial: exiting before the welcome (the trial still `started`) rolls it back. */
function exitedOnTrial(dataDir: string, trial: Trial, code: number, deps: LaunchDeps): void {
  try {
    const { state } = readUpgradeState(dataDir);
    if (state.trial?.version !== trial.version || state.trial.state !== 'started') return;
    failTrial(dataDir, state, state.trial, `it exited with status ${code} before the collector's welcome`, deps);
    deps.setExitCode(EXIT_RESTART);
  } catch (err) {
    // The next start finds the trial `started` and rolls it back then.
    deps.logger.error({ event: 'launcher-failed', err }, 'could not roll back at exit; the next start does');
  }
}
