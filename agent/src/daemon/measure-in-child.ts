/**
 * Runs one test as a child process (`speedwatch-agent once --json`) and returns its result.
 * The daemon stays small between tests (the HTTP client and its buffers live and die with the
 * child) and a crash in a test cannot take the daemon and its outbox down with it. Whatever
 * happens, a result comes back: a child that is stopped, crashes or prints nothing valid
 * becomes a `failed` result with a code.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { MeasurementResult, ResultErrorCode, Technology } from '@speedwatch/shared';
import { parseMeasurementResult, RESULT_SCHEMA_VERSION } from '@speedwatch/shared';

export interface ChildTestOptions {
  /** Path of speedwatch-agent.js. */
  bin: string;
  args: readonly string[];
  signal: AbortSignal;
  technology: Technology;
  /** After SIGTERM (on abort), how long the child may take to print its partial result. */
  killGraceMs?: number;
}

export function measureInChild(options: ChildTestOptions): Promise<MeasurementResult> {
  const startedAt = new Date().toISOString();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [options.bin, ...options.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-2000);
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? 5000);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal.aborted) onAbort();
    const failed = (code: ResultErrorCode, message: string): MeasurementResult => ({
      schemaVersion: RESULT_SCHEMA_VERSION,
      id: randomUUID(),
      status: 'failed',
      startedAt,
      finishedAt: new Date().toISOString(),
      technology: options.technology,
      error: { phase: 'select', code, message },
      errors: [{ phase: 'select', code, message }],
    });
    child.once('error', (err) => {
      options.signal.removeEventListener('abort', onAbort);
      resolve(failed('SW_MEASURE_CRASHED', `could not start the test process: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      try {
        resolve(parseMeasurementResult(JSON.parse(stdout)));
      } catch {
        const why = signal !== null ? `killed by ${signal}` : `exited with ${code}`;
        resolve(
          options.signal.aborted
            ? failed('SW_ABORTED', `the test was stopped and ${why} before printing a result`)
            : failed('SW_MEASURE_CRASHED', `the test process ${why} without a valid result: ${stderr.trim().split('\n').pop() ?? ''}`.slice(0, 1900)),
        );
      }
    });
  });
}
