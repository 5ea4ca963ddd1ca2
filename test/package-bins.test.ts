/**
 * Every package's bins are committed shims (`<pkg>/bin/<name>.js`, mode 0755) that import the
 * built CLI, so npm links them on a fresh clone before the build, and `npm run clean && npm run
 * build` can neither delete them nor lose their execute bit: the build only writes `dist/`.
 * `tsc -b --clean --dry` lists what a clean deletes, without deleting it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname.replace(/\/$/, '');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** [package folder, bin name, bin path relative to the package] for every bin of every workspace. */
const BINS = (readJson(join(ROOT, 'package.json'))['workspaces'] as string[]).flatMap((pkg) =>
  Object.entries((readJson(join(ROOT, pkg, 'package.json'))['bin'] ?? {}) as Record<string, string>).map(([name, path]) => [pkg, name, path] as const),
);

const isGitCheckout = existsSync(join(ROOT, '.git'));

describe('the packages\' bins', () => {
  it('are the agent\'s, the endpoint\'s and the collector\'s CLIs', () => {
    expect(BINS.map(([pkg, name]) => `${pkg}:${name}`).sort()).toEqual(['agent:speedwatch-agent', 'collector:speedwatch-collector', 'endpoint:speedwatch-endpoint']);
  });

  describe.each(BINS)('%s: %s', (pkg, name, path) => {
    const shim = join(ROOT, pkg, path);

    it('is a shim outside dist/ that runs the CLI tsc builds from src/bin', () => {
      expect(path).toBe(`bin/${name}.js`);
      const text = readFileSync(shim, 'utf8');
      expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
      // A static import, or a dynamic one after the agent's launcher (docs/fleet.md, "Upgrades").
      expect(text).toMatch(new RegExp(`import(?: |\\()'\\.\\./dist/src/bin/${name}\\.js'`));
      expect(existsSync(join(ROOT, pkg, 'src', 'bin', `${name}.ts`))).toBe(true);
    });

    it('is executable by everyone', () => {
      expect(statSync(shim).mode & 0o777).toBe(0o755);
    });

    it.skipIf(!isGitCheckout)('is committed with mode 100755, so a fresh clone has the execute bit', async () => {
      const { stdout } = await exec('git', ['ls-files', '--stage', '--', `${pkg}/${path}`], { cwd: ROOT });
      expect(stdout).toMatch(/^100755 /);
    });

    it('is not among the files npm run clean deletes, and the CLI it runs is', async () => {
      const { stdout } = await exec(process.execPath, [TSC, '-b', '--clean', '--dry', '--pretty', 'false'], { cwd: ROOT });
      const deleted = stdout.split(/\r?\n/).flatMap((line) => (line.startsWith(' * ') ? [line.slice(3)] : []));
      expect(deleted).not.toContain(shim);
      expect(deleted).toContain(join(ROOT, pkg, 'dist', 'src', 'bin', `${name}.js`));
    });
  });
});
