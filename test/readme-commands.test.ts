/**
 * The README's commands as it prints them: `npx speedwatch-agent`, `npx speedwatch-endpoint` and
 * `npx speedwatch-collector` must run this repository's CLIs after `npm install` on a fresh
 * clone (CI runs exactly that), never fetch a package of that name from the registry.
 * `--no-install` makes npx fail rather than fetch.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const here = fileURLToPath(import.meta.url);
const ROOT = here.slice(0, here.lastIndexOf('/test/') + 1);

describe('the README\'s npx commands', () => {
  it.each([
    ['speedwatch-agent', ['once', '--help'], /speedwatch-agent once/],
    ['speedwatch-endpoint', ['--help'], /speedwatch-endpoint/],
    ['speedwatch-collector', ['--help'], /speedwatch-collector <command>/],
  ])('npx %s runs the CLI built in this repository', async (bin, args, usage) => {
    const { stdout } = await exec('npx', ['--no-install', bin, ...args], { cwd: ROOT, timeout: 30_000 });
    expect(stdout).toMatch(usage);
  });
});
