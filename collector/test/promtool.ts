/**
 * `promtool check metrics` over an exposition, as the metrics tests run it: what it printed and
 * its exit status, `exit=0\n` when it found nothing. Undefined where promtool is missing (the
 * reason printed; under CI, where Debian's `prometheus` package is installed, that throws).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function promtoolCheckMetrics(exposition: string): Promise<string | undefined> {
  try {
    await run('promtool', ['--version']);
  } catch {
    if (process.env['CI'] === 'true') throw new Error('promtool is missing under CI (apt-get install prometheus)');
    console.warn('promtool check SKIPPED: promtool is not installed (apt-get install -y prometheus)');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sw-promtool-'));
  try {
    const file = join(dir, 'scrape.txt');
    writeFileSync(file, exposition);
    return (await run('sh', ['-c', `promtool check metrics < ${file} 2>&1; echo "exit=$?"`])).stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
