/**
 * `speedwatch-agent upgrade`: what the daemon does with `autoUpgrade` on, by hand
 * (docs/fleet.md, "Upgrades"). It installs the release the collector announced last (kept in
 * the data dir by the daemon), downloaded from the collector with the agent's token and checked
 * against the announced size and SHA-256; or a local tarball given with its SHA-256. The new
 * version becomes `current` on trial, and runs from the service's next start.
 */
import { statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sha256Schema, UsageError, ValidationError } from '@speedwatch/shared';
import { AgentConfigError, loadAgentConfig } from '../config/agent-config.js';
import { downloadRelease } from '../upgrade/download-release.js';
import { installRelease, sha256OfFile } from '../upgrade/install-release.js';
import { UpgradeError } from '../upgrade/upgrade-error.js';
import { currentVersion, readUpgradeState, VERSIONS_DIR } from '../upgrade/upgrade-state.js';
import { DEFAULT_DOWNLOAD_TIMEOUT_MS, DEFAULT_TRIAL_MS } from '../upgrade/upgrader.js';

export const UPGRADE_USAGE = `Usage: speedwatch-agent upgrade --config FILE [--file PATH --sha256 HEX]

Installs the agent release the collector announced (its fleet config's agentVersion), as the
daemon does with autoUpgrade on: downloaded from the collector with this box's token, its size
and SHA-256 checked, unpacked into DATA_DIR/versions/<version>/ and made DATA_DIR/current.
Restart the service to run it; a version the collector has not welcomed within 2 minutes of
its start is rolled back. Run it as the data dir's owner (sudo -u speedwatch …).

Options:
  --config FILE   the daemon's config file (collector, token, data dir)
  --file PATH     install this tarball instead (made by npm run release)
  --sha256 HEX    the tarball's SHA-256, required with --file
  -h, --help      show this help`;

export interface UpgradeOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Runs the command; resolves with the exit status (0 installed or nothing to do, 1 usage or config, 3 not installed). */
export async function upgradeCommand(argv: string[], ownVersion: string, out: UpgradeOutput): Promise<number> {
  let values: { config?: string; file?: string; sha256?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, file: { type: 'string' }, sha256: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) {
    out.stdout(`${UPGRADE_USAGE}\n`);
    return 0;
  }
  if (values.config === undefined) throw new UsageError('upgrade needs --config FILE');
  if ((values.file === undefined) !== (values.sha256 === undefined)) throw new UsageError('--file and --sha256 go together');
  let wanted: string | undefined;
  if (values.sha256 !== undefined) {
    try {
      wanted = sha256Schema.parse(values.sha256.toLowerCase(), '--sha256');
    } catch (err) {
      if (err instanceof ValidationError) throw new UsageError(err.message);
      throw err;
    }
  }
  let config;
  try {
    config = loadAgentConfig(values.config, process.env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      out.stderr(`speedwatch-agent: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const { dataDir } = config;
  // Files root writes there would be root's: the daemon could not replace or remove them later.
  const owner = statSync(dataDir, { throwIfNoEntry: false })?.uid;
  if (process.getuid?.() === 0 && owner !== undefined && owner !== 0) {
    out.stderr(`speedwatch-agent: ${dataDir} belongs to uid ${owner}; run upgrade as that user (sudo -u speedwatch speedwatch-agent upgrade …)\n`);
    return 1;
  }
  const previous = currentVersion(dataDir);
  const running = previous ?? ownVersion;
  const now = (): Date => new Date();
  const download = join(dataDir, VERSIONS_DIR, '.download-by-hand.tgz');
  try {
    let installed;
    if (values.file !== undefined && wanted !== undefined) {
      const sha256 = await sha256OfFile(values.file);
      if (sha256 !== wanted) throw new UpgradeError('SW_UPGRADE_HASH', `${values.file} has SHA-256 ${sha256}, not the ${wanted} given`);
      installed = await installRelease({ dataDir, file: values.file, sha256, previous, now });
    } else {
      const offer = readUpgradeState(dataDir).state.offer;
      if (offer === undefined) {
        throw new UpgradeError('SW_UPGRADE_NOT_ANNOUNCED', `no release announced by the collector is recorded in ${dataDir}; set agentVersion in the collector's fleet config, or give --file and --sha256`);
      }
      if (offer.version === running) {
        out.stdout(`Version ${running}, the one the collector announces, is the version installed: nothing to do.\n`);
        return 0;
      }
      if (config.collector.url.startsWith('ws://')) {
        out.stderr(`warning: this announcement came over plain ws://, where anyone on the path could have written it; install only a version you expect (${offer.version})\n`);
      }
      const http = new URL(config.collector.url);
      http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
      const url = new URL(offer.path, http).href;
      out.stderr(`downloading version ${offer.version} (${offer.bytes} bytes) from ${url}…\n`);
      await mkdir(join(dataDir, VERSIONS_DIR), { recursive: true });
      const got = await downloadRelease({
        url,
        token: config.collector.token,
        ...(config.collector.ca === undefined ? {} : { ca: config.collector.ca }),
        bytes: offer.bytes,
        dest: download,
        timeoutMs: DEFAULT_DOWNLOAD_TIMEOUT_MS,
        userAgent: `speedwatch-agent/${ownVersion}`,
      });
      if (got.sha256 !== offer.sha256) throw new UpgradeError('SW_UPGRADE_HASH', `the release downloaded from ${url} has SHA-256 ${got.sha256}, but the collector announced ${offer.sha256}`);
      installed = await installRelease({ dataDir, file: download, sha256: got.sha256, expectedVersion: offer.version, previous, now });
    }
    out.stdout(
      `Installed version ${installed.version} in ${installed.dir} (it was ${running}); it is now ${join(dataDir, 'current')}.\n` +
        `Restart the service to run it: systemctl restart speedwatch-agent. If the collector has not welcomed it within ` +
        `${DEFAULT_TRIAL_MS / 60_000} minutes of its start, ${previous ?? `${ownVersion} (installed by npm)`} comes back.\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof UpgradeError) {
      out.stderr(`speedwatch-agent: ${err.message} [${err.code}]\n`);
      return 3;
    }
    throw err;
  } finally {
    await rm(download, { force: true });
  }
}
