/**
 * `npm start` (test/demo/start.ts) announces a running demo only once its collector and both
 * endpoints listen; with a port taken it says so and exits non-zero, announcing nothing (before
 * issue 11 it printed "demo running" while its agents reported to whatever held the port).
 * Running, it speaks to a person (issue 13): the console's address, then a line per site with
 * its latest figures and verdict as results land; the processes' JSON logs go to files, not the
 * terminal.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { buildConsole } from './console/build-console.js';
import { stopChild } from './support/processes.js';

const here = fileURLToPath(import.meta.url);
const START = `${here.slice(0, here.lastIndexOf('/test/') + 1)}test/dist/demo/start.js`;
const cwd = mkdtempSync(join(tmpdir(), 'sw-demo-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
// What npm start does before it runs the demo (the collector serves the console from its build).
beforeAll(async () => {
  await buildConsole();
}, 60_000);

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

function runDemo(port: number): { child: ReturnType<typeof spawn>; output: () => string; stdout: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [START], { cwd, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  onTestFinished(() => stopChild(child));
  return { child, output: () => out, stdout: () => stdout, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** A summary line for the site: its name, a download figure with one decimal, and a verdict in words. */
function summaryLine(output: string, name: string): string | undefined {
  return output.split('\n').find((line) => line.includes(name) && /down +\d+\.\d /.test(line) && /→ {2}(meets ≥\d+ Mbps|below \d+ Mbps|too few tests \(\d+\/\d+\))/.test(line));
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

  it('prints the console\'s address, then a line per site with its latest figures and verdict, keeps JSON logs off the terminal, and stops on SIGINT', async () => {
    const port = await freePorts();
    const demo = runDemo(port);
    await until('the demo to announce itself', () => /demo running/.test(demo.output()), 30_000);
    const consoleUrl = /^ {2}console +(http:\/\/\S+)/m.exec(demo.stdout())?.[1];
    expect(consoleUrl, demo.output()).toBe(`http://127.0.0.1:${port}/`);
    expect(demo.stdout()).toMatch(/open, no login/);
    const page = await fetch(consoleUrl as string, { signal: AbortSignal.timeout(5_000) });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    // Asked for a first test at once, each site has a result and a verdict within a minute or so.
    await until('a summary line for both sites', () => summaryLine(demo.stdout(), 'Demo school') !== undefined && summaryLine(demo.stdout(), 'Demo clinic') !== undefined, 100_000);
    console.log(demo.stdout());
    demo.child.kill('SIGINT');
    const code = await Promise.race([demo.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    expect(code).toBe(0);
    expect(demo.stdout()).toMatch(/demo stopped/);
    // No raw log line reached the terminal; they are in the data directory's logs instead.
    expect(demo.stdout().split('\n').filter((line) => line.trimStart().startsWith('{'))).toEqual([]);
    const log = join(cwd, 'data', 'logs', 'collector.log');
    expect(existsSync(log)).toBe(true);
    const first = readFileSync(log, 'utf8').split('\n')[0] as string;
    expect(JSON.parse(first)).toHaveProperty('level');
  }, 150_000);
});
