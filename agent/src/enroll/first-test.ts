/**
 * The daemon's first test after enrollment, which it saves in the data dir (FIRST_TEST_FILE) so
 * that whoever installed the box can see it work: `speedwatch-agent first-test` and
 * `install-service` wait for it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MeasurementResult, Technology } from '@speedwatch/shared';
import { parseMeasurementResult, TECHNOLOGIES } from '@speedwatch/shared';
import { sleep } from '../measure/sleep.js';
import { FIRST_TEST_FILE } from './enrollment-files.js';

export interface FirstTest {
  result: MeasurementResult;
  /** The site's technology when the test ran: the target its verdict uses. */
  technology: Technology;
}

/** The saved first test, or undefined while there is none. Throws if the file is not a first test. */
export async function readFirstTest(dataDir: string): Promise<FirstTest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, FIRST_TEST_FILE), 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
  const saved: unknown = JSON.parse(text);
  const fields = typeof saved === 'object' && saved !== null ? (saved as Record<string, unknown>) : {};
  const result = parseMeasurementResult(fields['result']);
  const technology = TECHNOLOGIES.find((t) => t === fields['technology']) ?? 'fixed';
  return { result, technology };
}

/**
 * Waits for the daemon's first test, looking every `pollMs` (default 1000); undefined if there
 * is none within `timeoutMs`.
 */
export async function waitForFirstTest(dataDir: string, timeoutMs: number, pollMs = 1000): Promise<FirstTest | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await readFirstTest(dataDir);
    if (found !== undefined) return found;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(pollMs, left));
  }
}
