/**
 * The daemon's side of upgrades (docs/fleet.md, "Upgrades"):
 *
 * - Every release the collector announces (`upgrade` message) is kept in `upgrade.json`, for
 *   `speedwatch-agent upgrade`. With `autoUpgrade` on, one for another version than this one is
 *   installed: tests are held off (the one in progress ends first), the tarball is downloaded
 *   from the collector with the agent's token, its size and SHA-256 checked against the
 *   announcement, installed beside this version and made `current` on trial (install-release.ts),
 *   and `restart` is called: the daemon exits with its restart status and the service manager
 *   starts the new version through the launcher.
 * - A release whose hash or package is wrong is refused and remembered: not tried again until
 *   the collector announces another version or hash. A download or install that fails for
 *   another reason is tried again after `retryMs` (or the collector's Retry-After), with jitter,
 *   and at the next announcement.
 * - Started as a version on trial, the daemon has `trialMs` for the collector's welcome. The
 *   welcome confirms it (the trial ends, versions other than this one and the one before are
 *   removed); no welcome in time rolls back to the version before and calls `restart`.
 *
 * Every timer goes through the injected Clock.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, UpgradeMessage } from '@speedwatch/shared';
import type { Clock } from '../schedule/scheduler.js';
import { downloadRelease } from './download-release.js';
import { installRelease } from './install-release.js';
import { UpgradeError } from './upgrade-error.js';
import type { Trial } from './upgrade-state.js';
import { failedBefore, readUpgradeState, rollBack, VERSIONS_DIR, withFailure, writeUpgradeState } from './upgrade-state.js';

/** From a version's start on trial to the collector's welcome, at most: 2 minutes. */
export const DEFAULT_TRIAL_MS = 120_000;
/** After a download or install that failed (not a refused release): 15 minutes, plus jitter. */
export const DEFAULT_RETRY_MS = 15 * 60_000;
/** One download, at most: 5 minutes (today's 0.65 MB at 20 kbit/s). */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
/** The tarball being downloaded, in `versions/`. */
const DOWNLOAD_FILE = '.download.tgz';

export interface UpgraderOptions {
  dataDir: string;
  /** The running version. */
  version: string;
  /** This version runs from `versions/` (an earlier upgrade installed it); false: npm installed it. */
  fromVersionsDir: boolean;
  /** Install announced releases on its own (the config's `autoUpgrade`). */
  auto: boolean;
  /** The collector's agent URL (ws:// or wss://): releases come from the same host and port, over http or https. */
  collectorUrl: string;
  token: string;
  ca?: string;
  logger: Logger;
  clock: Clock;
  random: () => number;
  /** Waits until no test runs and holds new ones off; the function it resolves with lets them run again. */
  quiesce: () => Promise<() => void>;
  /** The new version is `current`, or a failed trial was rolled back: stop and exit with the restart status. */
  restart: () => void;
  /** Default DEFAULT_TRIAL_MS. */
  trialMs?: number;
  /** Default DEFAULT_RETRY_MS. */
  retryMs?: number;
  /** Default DEFAULT_DOWNLOAD_TIMEOUT_MS. */
  downloadTimeoutMs?: number;
  /** Default downloadRelease. */
  download?: typeof downloadRelease;
  /** Wall clock, for the dates in upgrade.json. Default `new Date()`. */
  now?: () => Date;
}

const keyOf = (offer: { version: string; sha256: string }): string => `${offer.version} ${offer.sha256}`;

export class Upgrader {
  readonly #o: UpgraderOptions;
  readonly #log: Logger;
  readonly #now: () => Date;
  /** The trial this run is, until the collector welcomes it. */
  #trial: Trial | undefined;
  #trialTimer: unknown;
  #retryTimer: unknown;
  /** The latest announcement this run received. */
  #offer: UpgradeMessage | undefined;
  /** Announcements already logged as available, or skipped as failed before (logged once each). */
  readonly #told = new Set<string>();
  /** The upgrade in progress, and an announcement that came meanwhile. */
  #running: Promise<void> | undefined;
  #next: UpgradeMessage | undefined;
  readonly #abort = new AbortController();
  #stopped = false;
  /** `restart` was called: nothing more is started. */
  #restarting = false;

  constructor(options: UpgraderOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  /** Reads upgrade.json: a run of a version on trial arms the trial's bound. */
  start(): void {
    const { state, problem } = readUpgradeState(this.#o.dataDir);
    if (problem !== undefined) this.#log.warn({ event: 'upgrade-state-unreadable' }, `${problem}; starting without it`);
    const trial = state.trial;
    if (trial?.version !== this.#o.version || trial.state !== 'started') return;
    this.#trial = trial;
    const boundMs = this.#o.trialMs ?? DEFAULT_TRIAL_MS;
    this.#log.info(
      { event: 'upgrade-trial', version: trial.version, previous: trial.previous ?? null, boundMs },
      `version ${trial.version} is on trial: the collector must welcome it within ${Math.round(boundMs / 1000)} s, or ${trial.previous ?? 'the npm-installed version'} comes back`,
    );
    this.#trialTimer = this.#o.clock.setTimeout(() => this.#trialExpired(), boundMs);
  }

  /** The collector welcomed this run: a trial ends well. */
  welcomed(): void {
    const trial = this.#trial;
    if (trial === undefined) return;
    this.#trial = undefined;
    this.#clear(this.#trialTimer);
    const { state } = readUpgradeState(this.#o.dataDir);
    if (state.trial?.version === trial.version) {
      const { trial: _confirmed, ...rest } = state;
      writeUpgradeState(this.#o.dataDir, rest);
    }
    this.#log.info({ event: 'upgrade-confirmed', version: trial.version, previous: trial.previous ?? null }, `version ${trial.version} was welcomed by the collector: the upgrade is done`);
    this.#run(() => this.#prune(trial));
  }

  /** The collector announced a release. */
  offered(offer: UpgradeMessage): void {
    this.#offer = offer;
    const { state } = readUpgradeState(this.#o.dataDir);
    if (state.offer === undefined || keyOf(state.offer) !== keyOf(offer)) {
      const { type: _type, ...fields } = offer;
      writeUpgradeState(this.#o.dataDir, { ...state, offer: { ...fields, receivedAt: this.#now().toISOString() } });
    }
    this.#consider(offer);
  }

  /**
   * The daemon is being stopped by a signal (systemctl stop, a reboot): a trial not judged yet
   * stays on trial for the next start instead of counting as failed.
   */
  postponeTrial(): void {
    const trial = this.#trial;
    if (trial === undefined) return;
    this.#clear(this.#trialTimer);
    this.#trial = undefined;
    const { state } = readUpgradeState(this.#o.dataDir);
    if (state.trial?.version === trial.version) writeUpgradeState(this.#o.dataDir, { ...state, trial: { ...state.trial, state: 'installed' } });
    this.#log.info({ event: 'upgrade-trial-postponed', version: trial.version }, `stopped before the collector's welcome: version ${trial.version} gets its trial at the next start`);
  }

  /** Resolves once the upgrade (or the removal of old versions) in progress, if any, has ended. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops timers and a download in progress; resolves once the upgrade in progress, if any, has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clear(this.#trialTimer);
    this.#clear(this.#retryTimer);
    this.#abort.abort(new Error('the daemon is stopping'));
    await this.#running;
  }

  #trialExpired(): void {
    const trial = this.#trial;
    if (trial === undefined || this.#stopped) return;
    this.#trial = undefined;
    const boundS = Math.round((this.#o.trialMs ?? DEFAULT_TRIAL_MS) / 1000);
    const err = new UpgradeError('SW_UPGRADE_ROLLED_BACK', `version ${trial.version} was not welcomed by the collector within ${boundS} s of its start; back to ${trial.previous ?? 'the npm-installed version'}`);
    const { state } = readUpgradeState(this.#o.dataDir);
    rollBack(this.#o.dataDir, state, trial, err.message, this.#now());
    this.#log.error({ event: 'upgrade-rolled-back', version: trial.version, previous: trial.previous ?? null, err }, err.message);
    this.#restarting = true;
    this.#o.restart();
  }

  #consider(offer: UpgradeMessage): void {
    if (this.#stopped || this.#restarting) return;
    const key = keyOf(offer);
    if (offer.version === this.#o.version) return;
    if (!this.#o.auto) {
      this.#tellOnce(key, () =>
        this.#log.info({ event: 'upgrade-available', version: offer.version }, `the collector announces version ${offer.version}; autoUpgrade is off: \`speedwatch-agent upgrade --config FILE\` installs it`),
      );
      return;
    }
    const failed = failedBefore(readUpgradeState(this.#o.dataDir).state, offer.version, offer.sha256);
    if (failed !== undefined) {
      this.#tellOnce(key, () =>
        this.#log.warn(
          { event: 'upgrade-skipped', version: offer.version, code: failed.code, failedAt: failed.at },
          `version ${offer.version} with this SHA-256 failed before (${failed.reason}); not tried again until the collector announces another`,
        ),
      );
      return;
    }
    if (this.#running !== undefined) {
      this.#next = offer;
      return;
    }
    this.#clear(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#run(() => this.#upgrade(offer));
  }

  /** Runs `work` (one at a time), then an announcement that came meanwhile. */
  #run(work: () => Promise<void>): void {
    if (this.#running !== undefined) return;
    this.#running = work().finally(() => {
      this.#running = undefined;
      const next = this.#next;
      this.#next = undefined;
      if (next !== undefined) this.#consider(next);
    });
  }

  #clear(handle: unknown): void {
    if (handle !== undefined) this.#o.clock.clearTimeout(handle);
  }

  #tellOnce(key: string, tell: () => void): void {
    if (this.#told.has(key)) return;
    this.#told.add(key);
    tell();
  }

  /** Never rejects: every outcome is logged. */
  async #upgrade(offer: UpgradeMessage): Promise<void> {
    const { dataDir } = this.#o;
    const versions = join(dataDir, VERSIONS_DIR);
    const dest = join(versions, DOWNLOAD_FILE);
    const httpBase = new URL(this.#o.collectorUrl);
    httpBase.protocol = httpBase.protocol === 'wss:' ? 'https:' : 'http:';
    const url = new URL(offer.path, httpBase).href;
    let release: (() => void) | undefined;
    try {
      release = await this.#o.quiesce();
      if (this.#stopped) {
        release();
        return;
      }
      await mkdir(versions, { recursive: true });
      this.#log.info({ event: 'upgrade-download', version: offer.version, url, bytes: offer.bytes }, `downloading version ${offer.version} from the collector`);
      const got = await (this.#o.download ?? downloadRelease)({
        url,
        token: this.#o.token,
        ...(this.#o.ca === undefined ? {} : { ca: this.#o.ca }),
        bytes: offer.bytes,
        dest,
        timeoutMs: this.#o.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
        signal: this.#abort.signal,
        userAgent: `speedwatch-agent/${this.#o.version}`,
      });
      if (got.sha256 !== offer.sha256) {
        throw new UpgradeError('SW_UPGRADE_HASH', `the release downloaded from ${url} has SHA-256 ${got.sha256}, but the collector announced ${offer.sha256}`);
      }
      const installed = await installRelease({
        dataDir,
        file: dest,
        sha256: got.sha256,
        expectedVersion: offer.version,
        previous: this.#o.fromVersionsDir ? this.#o.version : undefined,
        now: this.#now,
      });
      if (this.#stopped) {
        release();
        this.#log.info({ event: 'upgrade-installed', version: installed.version }, `version ${installed.version} is installed and runs from the next start`);
        return;
      }
      this.#log.info(
        { event: 'upgrade-installed', version: installed.version, previous: installed.previous ?? null, dir: installed.dir },
        `version ${installed.version} is installed; restarting into it (the service manager starts it)`,
      );
      this.#restarting = true;
      this.#o.restart();
    } catch (err) {
      release?.();
      if (this.#stopped) return;
      this.#failed(offer, err);
    } finally {
      await rm(dest, { force: true }).catch((err: unknown) => this.#log.warn({ event: 'upgrade-cleanup-failed', err }, `cannot remove ${dest}`));
    }
  }

  #failed(offer: UpgradeMessage, err: unknown): void {
    if (err instanceof UpgradeError && (err.code === 'SW_UPGRADE_HASH' || err.code === 'SW_UPGRADE_PACKAGE')) {
      const { state } = readUpgradeState(this.#o.dataDir);
      writeUpgradeState(this.#o.dataDir, withFailure(state, { version: offer.version, sha256: offer.sha256, at: this.#now().toISOString(), reason: err.message, code: err.code }));
      this.#log.error({ event: 'upgrade-refused', version: offer.version, code: err.code, err }, `version ${offer.version} refused, nothing installed: ${err.message}; not tried again until the collector announces another`);
      return;
    }
    if (err instanceof UpgradeError && err.httpStatus === 404) {
      this.#log.warn({ event: 'upgrade-failed', version: offer.version, code: err.code, err }, `the collector no longer serves version ${offer.version}; waiting for its next announcement`);
      return;
    }
    const baseMs = err instanceof UpgradeError && err.retryAfterMs !== undefined ? err.retryAfterMs : (this.#o.retryMs ?? DEFAULT_RETRY_MS);
    const retryInMs = Math.round(baseMs * (1 + this.#o.random()));
    const code = err instanceof UpgradeError ? err.code : undefined;
    this.#log[code === undefined ? 'error' : 'warn'](
      { event: 'upgrade-failed', version: offer.version, code: code ?? null, err, retryInMs },
      `version ${offer.version} not installed: ${err instanceof Error ? err.message : String(err)}; trying again in ${Math.round(retryInMs / 1000)} s`,
    );
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      const latest = this.#offer;
      if (latest !== undefined && keyOf(latest) === keyOf(offer)) this.#consider(latest);
    }, retryInMs);
  }

  /** Removes installed versions other than this one and the one before it, and leftovers of interrupted installs. */
  async #prune(trial: Trial): Promise<void> {
    const versions = join(this.#o.dataDir, VERSIONS_DIR);
    const keep = new Set([trial.version, ...(trial.previous === undefined ? [] : [trial.previous])]);
    try {
      for (const name of await readdir(versions)) {
        if (!keep.has(name)) await rm(join(versions, name), { recursive: true, force: true });
      }
    } catch (err) {
      this.#log.warn({ event: 'upgrade-prune-failed', err }, `cannot remove old versions from ${versions}; they take disk space, nothing else`);
    }
  }
}
