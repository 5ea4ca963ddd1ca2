/**
 * `npm start` (test/demo/start.ts) announces a running demo only once its collector and both
 * endpoints listen; with a port taken it says so and exits non-zero, announcing nothing (before
 * issue 11 it printed "demo running" while its agents reported to whatever held the port).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { stopChild } from './support/processes.js';

const here = fileURLToPath(import.meta.url);
const START = `${here.slice(0, here.lastIndexOf('/test/') + 1)}test/dist/demo/start.js`;
const cwd = mkdtempSync(join(tmpdir(), 'sw-demo-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** Three consecutive free loopback ports (the demo uses PORT, PORT+1 and PORT+2). */
async function freePorts(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers: net.Server[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(base + i, '127.0.0.1', resolve);
        });
        servers.push(server);
      }
      return base;
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    }
  }
  throw new Error('no three consecutive free ports found');
}

function runDemo(port: number): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [START], { cwd, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  onTestFinished(() => stopChild(child));
  return { child, output: () => out, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm start', () => {
  it('refuses to announce a demo when the collector\'s port is taken, and exits non-zero', async () => {
    const port = await freePorts();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const demo = runDemo(port);
    const code = await Promise.race([demo.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    expect(code, demo.output()).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(demo.output()).not.toMatch(/demo running/);
    expect(demo.output()).toMatch(/no demo is running/);
    expect(demo.output()).toContain(`127.0.0.1:${port}`);
  }, 40_000);

  it('announces the demo once everything listens, serves the collector, and stops on SIGINT', async () => {
    const port = await freePorts();
    const demo = runDemo(port);
    await until('the demo to announce itself', () => /demo running/.test(demo.output()), 30_000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(200);
    demo.child.kill('SIGINT');
    const code = await Promise.race([demo.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    expect(code).toBe(0);
  }, 60_000);
});
