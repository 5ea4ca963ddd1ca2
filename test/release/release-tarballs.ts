/**
 * One installable tarball per deployable (agent, endpoint, collector), for
 * `npm install -g ./speedwatch-agent-<version>.tgz` on a box that has Node and npm and nothing
 * else. Each package is staged in a temporary directory as it will be installed: its committed
 * bin shims, its built JavaScript (`dist/src`, no tests, types or source maps), its `deploy/`
 * files, a package.json with no workspace or development fields, and in `node_modules/` every
 * runtime dependency, `@speedwatch/shared` included, copied from this workspace's install and
 * listed in `bundleDependencies`; then `npm pack` writes the tarball. Only what a deployable
 * names in `fromRegistry` (native modules, built for the box at install) is left to npm.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { readManifest } from './manifest.js';
import type { Manifest } from './manifest.js';

const exec = promisify(execFile);

/** A workspace package shipped as its own tarball. */
export interface Deployable {
  /** The workspace folder under the repository root: 'agent', 'endpoint', 'collector'. */
  readonly dir: string;
  /** Runtime dependencies npm fetches at install instead of the tarball carrying them (native modules). */
  readonly fromRegistry: readonly string[];
  /** Built folders under `dist/` shipped as they are (the collector's console, built by npm run build). */
  readonly assets?: readonly string[];
}

/** What `npm run release` packs. The agent and the endpoint need no registry at install. */
export const DEPLOYABLES: readonly Deployable[] = [
  { dir: 'agent', fromRegistry: [] },
  { dir: 'endpoint', fromRegistry: [] },
  // better-sqlite3 is native: npm fetches a prebuilt binary for the box or compiles it there.
  // Its console (dist/console/: manifest.json and hashed assets) is served at /.
  { dir: 'collector', fromRegistry: ['better-sqlite3'], assets: ['console'] },
];

export interface PackedTarball {
  /** The deployable's workspace folder, e.g. 'agent'. */
  readonly dir: string;
  /** The package's name, e.g. '@speedwatch/agent'. */
  readonly name: string;
  readonly version: string;
  /** Absolute path of the .tgz. */
  readonly file: string;
  /** Size of the .tgz in bytes. */
  readonly bytes: number;
  /** Sum of the packed files' sizes in bytes. */
  readonly unpackedBytes: number;
  /** Files in the tarball. */
  readonly entryCount: number;
  /** Packages carried in the tarball's node_modules, as npm pack reports them. */
  readonly bundled: readonly string[];
  /** Dependencies npm fetches at install. */
  readonly fromRegistry: readonly string[];
}

/** Where progress lines go (the CLI prints them; tests may drop them). */
export type ReleaseLog = (line: string) => void;

/** Packs every deployable into `outDir` (created if missing), in order. `root` is the repository root. */
export async function packRelease(root: string, outDir: string, log: ReleaseLog, deployables: readonly Deployable[] = DEPLOYABLES): Promise<PackedTarball[]> {
  mkdirSync(outDir, { recursive: true });
  const packed: PackedTarball[] = [];
  for (const deployable of deployables) packed.push(await packDeployable(root, deployable, outDir, log));
  return packed;
}

/** For tests: a release as another version would be (upgrades between two builds of this tree). */
export interface PackOptions {
  /** The version written in the staged package.json, and so in the tarball's name. */
  version?: string;
  /** Changes the staged package before it is packed (a build that cannot start, say). */
  patch?: (stage: string) => void;
}

/** Stages one deployable in a temporary directory and runs `npm pack` there; the directory is removed after. */
export async function packDeployable(root: string, deployable: Deployable, outDir: string, log: ReleaseLog, options: PackOptions = {}): Promise<PackedTarball> {
  const stage = mkdtempSync(join(tmpdir(), `speedwatch-release-${deployable.dir}-`));
  try {
    const staged = stageDeployable(root, deployable, stage, log);
    const { bundled } = staged;
    let { manifest } = staged;
    if (options.version !== undefined) {
      const path = join(stage, 'package.json');
      writeFileSync(path, `${JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), version: options.version }, null, 2)}\n`);
      manifest = { ...manifest, version: options.version };
    }
    options.patch?.(stage);
    const result = await npmPack(stage, outDir);
    const left = bundled.filter((name) => !result.bundled.includes(name));
    if (left.length > 0) throw new Error(`npm pack left ${left.join(', ')} out of ${manifest.name}'s tarball`);
    const expected = `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`;
    if (result.filename !== expected) throw new Error(`npm pack wrote ${result.filename}, expected ${expected}`);
    const file = join(outDir, result.filename);
    return {
      dir: deployable.dir,
      name: manifest.name,
      version: manifest.version,
      file,
      bytes: statSync(file).size,
      unpackedBytes: result.unpackedSize,
      entryCount: result.entryCount,
      bundled: result.bundled,
      fromRegistry: deployable.fromRegistry,
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * Lays out `stage` as the installed package: the deployable at its root, each bundled
 * dependency under `node_modules/` where Node's resolution finds it in this workspace. Returns
 * the deployable's manifest and the names of the packages bundled. Throws if a dependency is
 * missing, two copies would land in one place, a bundled package is native or runs install
 * scripts, or the build is missing.
 */
export function stageDeployable(repositoryRoot: string, deployable: Deployable, stage: string, log: ReleaseLog): { manifest: Manifest; bundled: string[] } {
  // Real paths throughout: resolution compares the folders it walks with the root.
  const root = realpathSync(repositoryRoot);
  const ownDir = join(root, deployable.dir);
  const own = readManifest(ownDir);
  for (const name of deployable.fromRegistry) {
    if (own.dependencies[name] === undefined) throw new Error(`${deployable.dir}: fromRegistry names ${name}, which is not in its dependencies`);
  }
  const bundled = bundleClosure(root, deployable, own);

  copyWorkspacePackage(ownDir, stage, own, { withDeploy: true });
  for (const folder of deployable.assets ?? []) {
    const built = join(ownDir, 'dist', folder);
    if (!existsSync(join(built, 'manifest.json'))) throw new Error(`${own.name}: ${built} is not built; run npm run build`);
    cpSync(built, join(stage, 'dist', folder), { recursive: true });
  }
  writeManifest(stage, own, Object.keys(own.dependencies).filter((name) => !deployable.fromRegistry.includes(name)));
  for (const [dest, source] of bundled) {
    const target = join(stage, dest);
    if (isWorkspaceDir(root, source)) {
      const manifest = readManifest(source);
      copyWorkspacePackage(source, target, manifest, { withDeploy: false });
      writeManifest(target, manifest, []);
    } else {
      cpSync(source, target, { recursive: true, dereference: true, filter: (path) => !relative(source, path).split(sep).includes('node_modules') });
      refuseNative(target, readManifest(target));
    }
  }
  const names = [...new Set([...bundled.keys()].map((dest) => readManifest(join(stage, dest)).name))].sort();
  log(`${own.name} ${own.version}: bundles ${names.join(', ')}`);
  for (const name of deployable.fromRegistry) log(`${own.name} ${own.version}: leaves ${name} ${own.dependencies[name] ?? ''} to npm at install (native)`);
  return { manifest: own, bundled: names };
}

/**
 * Every package the deployable needs at run time, by walking `dependencies` (and the optional
 * and required peer ones that are installed) from its package.json, each resolved as Node
 * would from the package that needs it. Maps the staged path (relative to the stage) to the
 * real directory it is copied from.
 */
function bundleClosure(root: string, deployable: Deployable, own: Manifest): Map<string, string> {
  const ownDir = realpathSync(join(root, deployable.dir));
  const placed = new Map<string, string>();
  const queue: { from: string; manifest: Manifest; top: boolean }[] = [{ from: ownDir, manifest: own, top: true }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { from, manifest, top } = next;
    const needs = [
      ...Object.keys(manifest.dependencies).map((name) => ({ name, optional: false })),
      ...manifest.requiredPeers.map((name) => ({ name, optional: false })),
      ...Object.keys(manifest.optionalDependencies).map((name) => ({ name, optional: true })),
    ];
    for (const { name, optional } of needs) {
      if (top && deployable.fromRegistry.includes(name)) continue;
      // Type declarations only (fast-csv, under exceljs, lists @types/node as a run-time
      // dependency): nothing loads them at run time.
      if (name.startsWith('@types/')) continue;
      const source = resolvePackage(root, from, name);
      if (source === undefined) {
        if (optional) continue;
        throw new Error(`${name}, a dependency of ${manifest.name}, is not installed in ${root}: run npm install`);
      }
      const dest = stagedPath(root, ownDir, source);
      const earlier = placed.get(dest);
      if (earlier === source) continue;
      if (earlier !== undefined) throw new Error(`${dest}: both ${earlier} and ${source} would be staged there`);
      placed.set(dest, source);
      queue.push({ from: source, manifest: readManifest(source), top: false });
    }
  }
  return placed;
}

/** Node's lookup: `node_modules/<name>` in `from` and each folder above it, up to `root`. The real path, or undefined. */
function resolvePackage(root: string, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

/** A workspace package's folder (a real path under the root, outside any node_modules). */
function isWorkspaceDir(root: string, dir: string): boolean {
  return !relative(root, dir).split(sep).includes('node_modules');
}

/**
 * Where `source` goes in the stage, keeping the nesting Node's resolution relies on:
 * `<root>/node_modules/x` → `node_modules/x`; the deployable's own `node_modules/x` → `node_modules/x`;
 * a workspace package → `node_modules/<its name>`, and its own `node_modules/x` under that.
 */
function stagedPath(root: string, ownDir: string, source: string): string {
  const parts = relative(root, source).split(sep);
  const at = parts.indexOf('node_modules');
  if (at === 0) return parts.join('/');
  const ownerDir = join(root, ...(at === -1 ? parts : parts.slice(0, at)));
  const ownerDest = ownerDir === ownDir ? '' : `node_modules/${readManifest(ownerDir).name}`;
  return at === -1 ? ownerDest : [ownerDest, ...parts.slice(at)].filter((p) => p !== '').join('/');
}

/** Copies a workspace package's bins (modes kept), its built JavaScript and, for the deployable, deploy/. */
function copyWorkspacePackage(source: string, target: string, manifest: Manifest, { withDeploy }: { withDeploy: boolean }): void {
  mkdirSync(target, { recursive: true });
  const built = join(source, 'dist', 'src');
  if (!existsSync(join(built, 'index.js'))) throw new Error(`${manifest.name}: ${built} is not built; run npm run build`);
  copyBuiltJs(built, join(target, 'dist', 'src'));
  for (const [bin, path] of Object.entries(manifest.bin)) {
    mkdirSync(dirname(join(target, path)), { recursive: true });
    copyFileSync(join(source, path), join(target, path));
    chmodSync(join(target, path), statSync(join(source, path)).mode & 0o777);
    if (!existsSync(join(target, 'dist', 'src', 'bin', `${bin}.js`))) throw new Error(`${manifest.name}: bin ${bin} runs dist/src/bin/${bin}.js, which is not built`);
  }
  if (withDeploy && existsSync(join(source, 'deploy'))) cpSync(join(source, 'deploy'), join(target, 'deploy'), { recursive: true });
}

/** Copies the .js files under `from` to `to`, without the comment that points at a source map the tarball does not carry. */
function copyBuiltJs(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const path = join(from, entry.name);
    if (entry.isDirectory()) {
      copyBuiltJs(path, join(to, entry.name));
    } else if (entry.name.endsWith('.js')) {
      mkdirSync(to, { recursive: true });
      writeFileSync(join(to, entry.name), readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
    }
  }
}

/** The staged package.json: what npm needs to install and run the package, nothing of the workspace. */
function writeManifest(target: string, manifest: Manifest, bundle: readonly string[]): void {
  const { raw } = manifest;
  const out: Record<string, unknown> = { name: manifest.name, version: manifest.version };
  for (const key of ['description', 'type', 'license', 'engines']) if (raw[key] !== undefined) out[key] = raw[key];
  if (Object.keys(manifest.bin).length > 0) out['bin'] = manifest.bin;
  if (raw['exports'] !== undefined) out['exports'] = withoutTypes(raw['exports']);
  if (Object.keys(manifest.dependencies).length > 0) out['dependencies'] = manifest.dependencies;
  if (bundle.length > 0) out['bundleDependencies'] = [...bundle].sort();
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(out, null, 2)}\n`);
}

/** An `exports` map without its `types` conditions: the tarball carries no declarations. */
function withoutTypes(exports: unknown): unknown {
  if (typeof exports !== 'object' || exports === null || Array.isArray(exports)) return exports;
  return Object.fromEntries(Object.entries(exports).filter(([key]) => key !== 'types').map(([key, value]) => [key, withoutTypes(value)]));
}

/** Throws if a bundled package carries a compiled addon or builds one at install: it would not run on another CPU. */
function refuseNative(dir: string, manifest: Manifest): void {
  const hooks = ['preinstall', 'install', 'postinstall'].filter((hook) => manifest.scripts[hook] !== undefined);
  if (hooks.length > 0) throw new Error(`${manifest.name} runs ${hooks.join(', ')} at install; leave it to npm (fromRegistry) instead of bundling it`);
  const walk = (at: string): string | undefined => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        const found = walk(path);
        if (found !== undefined) return found;
      } else if (entry.name.endsWith('.node') || entry.name === 'binding.gyp') {
        return path;
      }
    }
    return undefined;
  };
  const native = walk(dir);
  if (native !== undefined) throw new Error(`${manifest.name} is native (${relative(dir, native)}); leave it to npm (fromRegistry) instead of bundling it`);
}

interface PackResult {
  filename: string;
  unpackedSize: number;
  entryCount: number;
  bundled: string[];
}

/** `npm pack` in `dir`, the tarball written to `outDir`; npm's own report, checked. */
async function npmPack(dir: string, outDir: string): Promise<PackResult> {
  const { stdout } = await exec('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  const report: unknown = JSON.parse(stdout);
  const first: unknown = Array.isArray(report) ? report[0] : undefined;
  if (typeof first !== 'object' || first === null) throw new Error(`npm pack in ${dir}: no report on stdout`);
  const { filename, unpackedSize, entryCount, bundled } = first as Record<string, unknown>;
  if (typeof filename !== 'string' || typeof unpackedSize !== 'number' || typeof entryCount !== 'number' || !Array.isArray(bundled) || !bundled.every((b) => typeof b === 'string')) {
    throw new Error(`npm pack in ${dir}: unexpected report ${stdout.slice(0, 500)}`);
  }
  return { filename, unpackedSize, entryCount, bundled };
}
