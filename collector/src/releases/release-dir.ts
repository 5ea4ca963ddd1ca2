/**
 * The agent releases the collector serves (docs/fleet.md, "Upgrades"): tarballs made by `npm
 * run release`, put in the directory the config's `releases.dir` names. Read when the config is
 * loaded (start, `check-config`, each reload): the tarball of every version the `fleet` config
 * names must be there, and each is hashed then, once per load and never per request, so the
 * SHA-256 an agent is given is that of the file as it was at the reload. Only those tarballs
 * are served; other files in the directory are not.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Problem, UpgradeMessage } from '@speedwatch/shared';
import { agentReleaseFile, MAX_RELEASE_BYTES, problemAt, RELEASES_PATH, versionOfReleaseFile } from '@speedwatch/shared';

/** One announced release, hashed at load. */
export interface ReleaseTarball {
  version: string;
  /** The file's name, e.g. `speedwatch-agent-0.2.0.tgz`: the last part of its URL. */
  file: string;
  /** Absolute path on the collector. */
  path: string;
  bytes: number;
  /** SHA-256 of the file at load, lowercase hex. */
  sha256: string;
}

export interface ReleasesConfig {
  /** The directory, absolute. */
  dir: string;
  /** The tarballs of the versions the fleet config names, by file name. */
  byFile: ReadonlyMap<string, ReleaseTarball>;
}

/** What an agent is told of a release: the `upgrade` message. */
export function announcement(tarball: ReleaseTarball): UpgradeMessage {
  return { type: 'upgrade', version: tarball.version, sha256: tarball.sha256, path: `${RELEASES_PATH}${tarball.file}`, bytes: tarball.bytes };
}

/** The tarball of `version` among the loaded ones. */
export function releaseOf(releases: ReleasesConfig | undefined, version: string): ReleaseTarball | undefined {
  return releases?.byFile.get(agentReleaseFile(version));
}

/**
 * Checks `dir` and hashes the tarball of each named version; every problem goes to `problems`
 * under the key that named the version (`fleet.overrides[2].agentVersion`) or `releases.dir`.
 * Returns undefined when there is no directory to serve from.
 */
export function loadReleases(dir: string | undefined, named: readonly { version: string; key: string }[], problems: Problem[]): ReleasesConfig | undefined {
  if (dir === undefined) {
    for (const { key } of named) problems.push(problemAt(key, 'an agentVersion needs releases.dir, the directory the collector serves release tarballs from'));
    return undefined;
  }
  const absolute = resolve(dir);
  let names: string[];
  try {
    names = readdirSync(absolute);
  } catch (err) {
    problems.push(problemAt('releases.dir', `cannot read the directory ${absolute} (${(err as { code?: string }).code ?? String(err)})`));
    return undefined;
  }
  const available = names.map(versionOfReleaseFile).filter((v): v is string => v !== undefined).sort();
  const byFile = new Map<string, ReleaseTarball>();
  for (const { version, key } of named) {
    const file = agentReleaseFile(version);
    if (byFile.has(file)) continue;
    const path = join(absolute, file);
    if (!names.includes(file)) {
      problems.push(problemAt(key, `no ${file} in ${absolute} (${available.length === 0 ? 'it holds no agent release' : `it holds ${available.join(', ')}`}); copy the tarball \`npm run release\` made there`));
      continue;
    }
    try {
      const stat = statSync(path);
      if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
      if (stat.size === 0 || stat.size > MAX_RELEASE_BYTES) {
        problems.push(problemAt(key, `${path} is ${stat.size} bytes; a release is 1 byte to ${MAX_RELEASE_BYTES / 1024 / 1024} MiB`));
        continue;
      }
      // Synchronous, at load only: about 2 ms for today's 0.65 MB tarball.
      const content = readFileSync(path);
      byFile.set(file, { version, file, path, bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') });
    } catch (err) {
      problems.push(problemAt(key, `cannot read ${path} (${(err as { code?: string }).code ?? String(err)})`));
    }
  }
  return { dir: absolute, byFile };
}
