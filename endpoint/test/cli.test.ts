import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { request } from './util.js';

const BIN = fileURLToPath(new URL('../dist/src/bin/speedwatch-endpoint.js', import.meta.url));

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; the child is killed when the test finishes, however it ends. */
function run(args: string[]): { child: ChildProcess; output: { stdout: string; stderr: string }; exited: Promise<Finished> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
  const exited = new Promise<Finished>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, ...output })));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output, exited };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the first stdout line. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end !== -1) resolve(text.slice(0, end));
    });
    child.once('close', () => reject(new Error(`exited before printing a line; stdout: ${text}`)));
  });
}

describe('speedwatch-endpoint (CLI)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx tsc -b\` first`);
  });

  it('prints one listening line with the bound URL, serves, and exits 0 on SIGTERM', async () => {
    const { child, exited } = run(['--port', '0', '--max-mbps', '100', '--log-level', 'warn']);
    const line = await within(firstLine(child), 10_000, 'start-up');
    const listening = JSON.parse(line) as { event: string; url: string; udpPort: number };
    expect(listening.event).toBe('listening');
    expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(listening.udpPort).toBe(Number(new URL(listening.url).port)); // the reflector, on the HTTP port's number
    expect((await request(`${listening.url}backend/empty.php`)).status).toBe(200);
    child.kill('SIGTERM');
    const finished = await within(exited, 5_000, 'shutdown');
    expect(finished.code).toBe(0);
    expect(finished.stdout.trim().split('\n')).toEqual([line]);
  });

  it('exits 0 on SIGINT too', async () => {
    const { child, exited } = run(['--port', '0', '--log-level', 'silent']);
    await within(firstLine(child), 10_000, 'start-up');
    child.kill('SIGINT');
    expect((await within(exited, 5_000, 'shutdown')).code).toBe(0);
  });

  it('logs JSON lines on stderr', async () => {
    const { child, exited } = run(['--port', '0']);
    await within(firstLine(child), 10_000, 'start-up');
    child.kill('SIGTERM');
    const lines = (await within(exited, 5_000, 'shutdown')).stderr.trim().split('\n');
    const events = lines.map((line) => (JSON.parse(line) as { event?: string }).event);
    expect(events).toEqual(['listening', 'signal', 'closed']);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 30, name: 'speedwatch-endpoint', component: 'endpoint' });
  });

  it('prints the usage on stdout and exits 0 for --help', async () => {
    const finished = await within(run(['--help']).exited, 10_000, '--help');
    expect(finished.code).toBe(0);
    expect(finished.stdout).toMatch(/^Usage: speedwatch-endpoint/);
    expect(finished.stdout).toContain('--max-mbps');
    expect(finished.stderr).toBe('');
  });

  it.each([
    [['--bogus'], '--bogus'],
    [['--port', 'eighty'], '--port'],
    [['--port', '70000'], '--port'],
    [['--max-mbps', '0'], '--max-mbps'],
    [['--max-body', 'lots'], '--max-body'],
    [['--header-timeout', '10'], '--header-timeout'],
    [['--header-timeout', '5m'], '--header-timeout'],
    [['--log-level', 'loud'], '--log-level'],
    [['--tls-cert', 'cert.pem'], '--tls-key'],
    [['--tls-cert', '/no/such/cert.pem', '--tls-key', '/no/such/key.pem'], '--tls-cert'],
    [['--udp-port', '70000'], '--udp-port'],
    [['--udp-rate', '0'], '--udp-rate'],
    [['extra'], 'extra'],
  ])('refuses %j with a one-line error naming %s, the usage, and exit 1', async (args, flag) => {
    const finished = await within(run(args).exited, 10_000, 'a bad command');
    expect(finished.code).toBe(1);
    expect(finished.stdout).toBe('');
    const [first, , usage] = finished.stderr.split('\n');
    expect(first).toMatch(/^speedwatch-endpoint: /);
    expect(first).toContain(flag);
    expect(usage).toMatch(/^Usage: /);
  });

  it('names every bad flag at once, on one line: form, range, pairing and limits across flags', async () => {
    const args = ['--port', 'eighty', '--max-mbps', '0', '--tls-cert', 'cert.pem', '--header-timeout', '5m', '--request-timeout', '1m', '--log-level', 'loud'];
    const finished = await within(run(args).exited, 10_000, 'a bad command');
    expect(finished.code).toBe(1);
    const first = finished.stderr.split('\n')[0] ?? '';
    const named = first.replace(/^speedwatch-endpoint: /, '').split('; ').map((problem) => problem.split(':')[0]);
    expect(named.sort()).toEqual(['--header-timeout', '--log-level', '--max-mbps', '--port', '--tls-key']);
  });

  it('exits 2 (so systemd retries) with a logged SW_ENDPOINT_LISTEN error when the port is taken', async () => {
    const first = run(['--port', '0', '--log-level', 'silent']);
    const { url } = JSON.parse(await within(firstLine(first.child), 10_000, 'start-up')) as { url: string };
    const port = new URL(url).port;
    const finished = await within(run(['--port', port]).exited, 10_000, 'a second start');
    expect(finished.code).toBe(2);
    expect(finished.stderr).toContain('"code":"SW_ENDPOINT_LISTEN"');
  });
});
