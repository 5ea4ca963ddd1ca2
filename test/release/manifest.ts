/**
 * The fields of a package.json that the release reads, checked: a manifest is a file, so it is
 * `unknown` until these checks pass, and a wrong one fails naming the file and the field.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Manifest {
  readonly name: string;
  readonly version: string;
  /** `dependencies`; {} when absent. */
  readonly dependencies: Readonly<Record<string, string>>;
  /** `optionalDependencies`; {} when absent. */
  readonly optionalDependencies: Readonly<Record<string, string>>;
  /** `peerDependencies` not marked optional in `peerDependenciesMeta`: npm installs these too. */
  readonly requiredPeers: readonly string[];
  /** `bin` as a map (npm's string form names the bin after the unscoped package name); {} when absent. */
  readonly bin: Readonly<Record<string, string>>;
  /** `scripts`; {} when absent. */
  readonly scripts: Readonly<Record<string, string>>;
  /** The whole file as parsed, for fields copied as they are (description, license, engines, exports). */
  readonly raw: Readonly<Record<string, unknown>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads and checks `dir/package.json`. */
export function readManifest(dir: string): Manifest {
  const file = join(dir, 'package.json');
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(raw)) throw new Error(`${file}: not a JSON object`);
  const text = (key: string): string => {
    const value = raw[key];
    if (typeof value !== 'string' || value === '') throw new Error(`${file}: "${key}" must be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  };
  const strings = (key: string): Record<string, string> => {
    const value = raw[key];
    if (value === undefined) return {};
    if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string')) {
      throw new Error(`${file}: "${key}" must be an object of strings`);
    }
    return value as Record<string, string>;
  };
  const name = text('name');
  const bin = typeof raw['bin'] === 'string' ? { [name.replace(/^@[^/]+\//, '')]: raw['bin'] } : strings('bin');
  const peerMeta = raw['peerDependenciesMeta'];
  const optionalPeer = (peer: string): boolean => isRecord(peerMeta) && isRecord(peerMeta[peer]) && peerMeta[peer]['optional'] === true;
  return {
    name,
    version: text('version'),
    dependencies: strings('dependencies'),
    optionalDependencies: strings('optionalDependencies'),
    requiredPeers: Object.keys(strings('peerDependencies')).filter((peer) => !optionalPeer(peer)),
    bin,
    scripts: strings('scripts'),
    raw,
  };
}
