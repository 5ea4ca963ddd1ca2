/** Child processes for end-to-end tests: started, awaited with bounds, and always stopped. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

import { fileURLToPath } from 'node:url';

// The repository root, whether this runs from source (vitest) or compiled (test/dist/…).
const here = fileURLToPath(import.meta.url);
const ROOT = here.slice(0, here.lastIndexOf('/test/') + 1);
/** Built entry points (npm test builds before it runs). */
export const BIN = {
  agent: `${ROOT}agent/dist/src/bin/speedwatch-agent.js`,
  endpoint: `${ROOT}endpoint/dist/src/bin/speedwatch-endpoint.js`,
  collector: `${ROOT}collector/dist/src/bin/speedwatch-collector.js`,
} as const;

export interface Running {
  child: ChildProcess;
  /** stdout and stderr so far, for failure messages. */
  output: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop: (graceMs?: number) => Promise<void>;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited (at once if it already has). */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts `command` and resolves once a stdout line satisfies `ready` (returning that line),
 * or rejects after `timeoutMs` or if the process exits first. `env` replaces the environment
 * (default: this process's).
 */
export async function startUntil(
  command: string,
  args: readonly string[],
  ready: (line: string) => boolean,
  timeoutMs = 10_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Running & { line: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const running: Running = {
    child,
    output: () => out,
    stop: (graceMs = 3000) => stopChild(child, graceMs),
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')}: not ready within ${timeoutMs} ms\n${out}`)), timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        buffered += d.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          const l = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (ready(l)) {
            clearTimeout(timer);
            resolve(l);
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${command} ${args.join(' ')} exited (${code ?? signal}) before it was ready\n${out}`));
      });
      child.once('error', reject);
    });
    return { ...running, line };
  } catch (err) {
    await running.stop(500);
    throw err;
  }
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` to completion; kills it and rejects after `timeoutMs`. `env` replaces the environment (default: this process's). */
export function runToEnd(command: string, args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: still running after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Starts the endpoint CLI and returns its base URL from the listening line, and that line (it also names the UDP port). */
export async function startEndpointProcess(args: readonly string[], prefix: readonly string[] = []): Promise<Running & { url: string; line: string }> {
  const argv = [...prefix, process.execPath, BIN.endpoint, ...args];
  const started = await startUntil(argv[0] as string, argv.slice(1), (line) => line.includes('"listening"'));
  const { url } = JSON.parse(started.line) as { url: string };
  return { ...started, url };
}
