/**
 * A collector or endpoint that cannot listen exits at once, non-zero, with one line that names
 * the address and what to do; before issue 11 the collector printed `listen EADDRINUSE` and
 * kept running (its worker thread held the process), so systemd's Restart= never fired.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { BIN } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sw-listen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A port held by a server of the test's own for the rest of the test. */
async function takenPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a bin and resolves when it exits; after `boundMs` it is killed and the test fails. */
function runUntilExit(bin: string, args: readonly string[], boundMs: number): Promise<Exit> {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${boundMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, boundMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const CASES = [
  { what: 'collector', bin: BIN.collector, args: (host: string, port: number) => ['serve', '--db', join(dir, `c-${port}.db`), '--host', host, '--port', String(port)] },
  { what: 'endpoint', bin: BIN.endpoint, args: (host: string, port: number) => ['--host', host, '--port', String(port)] },
];

describe.each(CASES)('the $what when it cannot listen', ({ bin, args }) => {
  it('exits non-zero within 2 s, with one line naming the address and that the port is in use', async () => {
    const port = await takenPort();
    const exit = await runUntilExit(bin, args('127.0.0.1', port), 10_000);
    // 2: systemd's units restart on it (1 is kept for configurations that will not get better).
    expect(exit.code).toBe(2);
    expect(exit.ms).toBeLessThan(2_000);
    expect(exit.stdout).toBe('');
    const lines = exit.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
    expect(lines[0]).toMatch(/in use/);
  });

  it('exits non-zero within 2 s for an address that is not this host\'s', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to this machine.
    const exit = await runUntilExit(bin, args('192.0.2.1', 8600), 10_000);
    expect(exit.code).toBe(2);
    expect(exit.ms).toBeLessThan(2_000);
    const lines = exit.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('192.0.2.1:8600');
  });
});
