/**
 * Child processes and cleanup for the benchmarks: a scope whose closers run in reverse order,
 * and a Node child read line by line from stdout, stopped by its scope.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** Closers run in reverse order; a failing closer is reported (as `label`) and the rest still run. */
export class Scope {
  readonly #label: string;
  readonly #closers: (() => unknown)[] = [];

  constructor(label: string) {
    this.#label = label;
  }

  defer(close: () => unknown): void {
    this.#closers.push(close);
  }

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  async close(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        process.stderr.write(`${this.#label}: cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  }
}

/** Runs `fn` with a new scope, closed however `fn` ends. */
export async function scoped<T>(label: string, fn: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope(label);
  try {
    return await fn(scope);
  } finally {
    await scope.close();
  }
}

/** The environment without SPEEDWATCH_* variables, which would override a benchmark's flags and config. */
export function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SPEEDWATCH_')));
}

export interface NodeChildOptions {
  /** A pipe for `write`; default none. */
  stdin?: boolean;
  /**
   * Descriptors the child may need (one per socket). Node raises its soft limit to the hard
   * limit by itself, so only a hard limit below this is raised, through
   * `sh -c 'ulimit -n …; exec node …'` (which needs root; the child checks what it got); `exec`
   * keeps the pid, so /proc/PID is Node's.
   */
  openFiles?: number;
  /** Where stderr is also written, whole. */
  stderrFile?: string;
  /** Substrings whose stderr lines are counted (see `count`). */
  countStderr?: readonly string[];
}

/** A Node child process whose stdout is read line by line; registered with `scope` to be stopped. */
export class NodeChild {
  readonly process: ChildProcess;
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
  readonly #label: string;
  #tail = '';
  readonly #lines: string[] = [];
  readonly #counts = new Map<string, number>();
  #wake: (() => void) | undefined;
  #exit: string | undefined;

  constructor(scope: Scope, label: string, args: readonly string[], o: NodeChildOptions = {}) {
    this.#label = label;
    for (const pattern of o.countStderr ?? []) this.#counts.set(pattern, 0);
    const stdio: ['pipe' | 'ignore', 'pipe', 'pipe'] = [o.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    if (o.openFiles === undefined) {
      this.process = spawn(process.execPath, args, { stdio, env: childEnv() });
    } else {
      const script = `h=$(ulimit -Hn); if [ "$h" != unlimited ] && [ "$h" -lt ${o.openFiles} ]; then ulimit -n ${o.openFiles} 2>/dev/null; fi; exec "$@"`;
      this.process = spawn('sh', ['-c', script, 'sh', process.execPath, ...args], { stdio, env: childEnv() });
    }
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    scope.defer(() => this.stop());
    onLines(this.process.stdout, (text) => this.#remember(text), (line) => {
      this.#lines.push(line);
      this.#wake?.();
    });
    if (o.stderrFile !== undefined) {
      const log = createWriteStream(o.stderrFile);
      scope.defer(() => new Promise((resolve) => log.end(resolve)));
      this.process.stderr?.pipe(log);
    }
    onLines(this.process.stderr, (text) => this.#remember(text), (line) => {
      for (const [pattern, n] of this.#counts) if (line.includes(pattern)) this.#counts.set(pattern, n + 1);
    });
    this.process.once('error', (err) => {
      this.#exit = `could not start: ${err.message}`;
      this.#wake?.();
    });
    this.process.once('exit', (code, signal) => {
      this.#exit = `exited (${code ?? signal ?? '?'})`;
      this.#wake?.();
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  /** How the process ended (undefined while it runs) and the last 4 kB it printed, for error messages. */
  get state(): string {
    return `${this.#label} ${this.#exit ?? 'running'}\n${this.#tail}`;
  }

  /** How many stderr lines so far contained `pattern` (one of `countStderr`). */
  count(pattern: string): number {
    return this.#counts.get(pattern) ?? 0;
  }

  /** The last 4 kB of stdout and stderr, for error messages. */
  #remember(text: string): void {
    this.#tail = (this.#tail + text).slice(-4096);
  }

  /** The next stdout line that satisfies `match` (earlier lines are dropped), within `timeoutMs`. */
  async line(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (let line = this.#lines.shift(); line !== undefined; line = this.#lines.shift()) if (match(line)) return line;
      if (this.#exit !== undefined) throw new Error(`${this.#label} ${this.#exit} before the expected line\n${this.#tail}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.#label}: no expected line within ${timeoutMs} ms\n${this.#tail}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  write(text: string): void {
    this.process.stdin?.write(text);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs = 10_000): Promise<void> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.kill('SIGTERM');
    return this.exited.finally(() => clearTimeout(timer));
  }
}

/** Calls `chunk` with each piece of text read and `line` with each complete line. */
function onLines(stream: NodeJS.ReadableStream | null, chunk: (text: string) => void, line: (line: string) => void): void {
  let partial = '';
  stream?.on('data', (d: Buffer) => {
    const text = d.toString();
    chunk(text);
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      line(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });
}
