/**
 * What the agent reads for its `health` message: free disk by statfs of a real temp directory,
 * the CPU temperature from a fake /sys/class/thermal in a temp directory, and the test history.
 * Every read that fails leaves its figure out and nothing throws.
 */
import { statfs } from 'node:fs/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { healthSchema } from '@speedwatch/shared';
import type { HealthFs } from '../src/health/box-health.js';
import { readBoxHealth } from '../src/health/box-health.js';
import { TestHistory } from '../src/health/test-history.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sw-health-'));
  dirs.push(dir);
  return dir;
}

/** A thermal directory holding these zones, each `[type, temp file text]` (undefined: no such file). */
async function thermalDir(zones: Record<string, [type: string | undefined, temp: string | undefined]>): Promise<string> {
  const dir = await tempDir();
  for (const [zone, [type, temp]] of Object.entries(zones)) {
    await mkdir(path.join(dir, zone));
    if (type !== undefined) await writeFile(path.join(dir, zone, 'type'), `${type}\n`);
    if (temp !== undefined) await writeFile(path.join(dir, zone, 'temp'), `${temp}\n`);
  }
  // Not zones: ignored whatever they hold.
  await mkdir(path.join(dir, 'cooling_device0'));
  return dir;
}

const fixed = { uptimeSeconds: () => 3600.04, systemUptimeSeconds: () => 86_400.4 };

describe('readBoxHealth', () => {
  it('reports the free space of the data directory as statfs gives it (available blocks × block size)', async () => {
    const dataDir = await tempDir();
    const health = await readBoxHealth({ dataDir, thermalDir: await thermalDir({}), ...fixed });
    const fsStats = await statfs(dataDir);
    // Another process may write meanwhile: the figure is within a few MB of a second reading.
    expect(health.diskFreeBytes).toBeTypeOf('number');
    expect(Number.isSafeInteger(health.diskFreeBytes)).toBe(true);
    expect(Math.abs((health.diskFreeBytes as number) - fsStats.bavail * fsStats.bsize)).toBeLessThan(64 * 1024 * 1024);
    expect(health).toMatchObject({ uptimeSeconds: 3600, systemUptimeSeconds: 86_400 });
  });

  // Temperatures in millidegrees, as Linux writes them; the expected figure is °C to 0.1.
  it.each<[string, Record<string, [string | undefined, string | undefined]>, number | undefined]>([
    ["a Raspberry Pi's single cpu-thermal zone", { thermal_zone0: ['cpu-thermal', '51540'] }, 51.5],
    ['the cpu zone when zone 0 is something else', { thermal_zone0: ['acpitz', '27800'], thermal_zone1: ['x86_pkg_temp', '64000'] }, 64],
    ['x86_pkg_temp before a plain cpu-named zone', { thermal_zone0: ['cpu_core1', '70000'], thermal_zone2: ['x86_pkg_temp', '55000'] }, 55],
    ['a soc zone', { thermal_zone0: ['gpu-thermal', '40000'], thermal_zone1: ['soc', '47250'] }, 47.3],
    ['zone 0 when no zone is named for the CPU', { thermal_zone1: ['iwlwifi_1', '39000'], thermal_zone0: ['acpitz', '30500'] }, 30.5],
    ['zone 10 read after zone 9, by number', { thermal_zone9: ['battery', '20000'], thermal_zone10: ['cpu', '45000'] }, 45],
    ['a zone below freezing', { thermal_zone0: ['cpu-thermal', '-5000'] }, -5],
    ['no thermal zone at all: absent', {}, undefined],
    ['no zone 0 and no CPU zone: absent', { thermal_zone3: ['battery', '30000'] }, undefined],
    ['a zone without a temp file: absent', { thermal_zone0: ['cpu-thermal', undefined] }, undefined],
    ['a temp that is not a number: absent', { thermal_zone0: ['cpu-thermal', 'hot'] }, undefined],
    ['a sensor error value (999 °C): absent', { thermal_zone0: ['cpu-thermal', '999000'] }, undefined],
  ])('reads %s', async (_name, zones, expected) => {
    const health = await readBoxHealth({ dataDir: await tempDir(), thermalDir: await thermalDir(zones), ...fixed });
    expect(health.cpuTemperatureCelsius).toBe(expected);
  });

  it('leaves out what it cannot read, and throws nothing, when every read fails', async () => {
    const failing: HealthFs = {
      statfs: () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })),
      readdir: () => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })),
      readFile: () => Promise.reject(new Error('EIO')),
    };
    const health = await readBoxHealth({
      dataDir: '/nowhere',
      fs: failing,
      uptimeSeconds: () => {
        throw new Error('no clock');
      },
      systemUptimeSeconds: () => Number.NaN,
    });
    expect(health).toEqual({});
  });

  it('leaves out the free space of a data directory that does not exist', async () => {
    const health = await readBoxHealth({ dataDir: path.join(await tempDir(), 'missing'), thermalDir: await thermalDir({}), ...fixed });
    expect(health.diskFreeBytes).toBeUndefined();
  });

  it('gives figures the health schema accepts', async () => {
    const health = await readBoxHealth({ dataDir: await tempDir(), thermalDir: await thermalDir({ thermal_zone0: ['cpu-thermal', '48312'] }), ...fixed });
    const message = { type: 'health', clock: '2025-03-01T08:00:00.000Z', agent: { version: '0.1.0' }, backlog: 0, dropped: 0, ...health };
    expect(healthSchema.parse(message)).toEqual(message);
  });
});

describe('TestHistory', () => {
  const at = (minute: number): string => new Date(Date.UTC(2025, 2, 1, 8, minute)).toISOString();

  it('reports nothing before the first test', () => {
    expect(new TestHistory().figures()).toEqual({});
  });

  it('counts failed tests in a row, resets on any other status, and keeps the last ok time', () => {
    const history = new TestHistory();
    history.record({ status: 'ok', finishedAt: at(0) });
    history.record({ status: 'failed', finishedAt: at(15), error: { phase: 'select', code: 'SW_DNS', message: 'x' } });
    history.record({ status: 'failed', finishedAt: at(30), error: { phase: 'select', code: 'SW_CONNECT_REFUSED', message: 'x' } });
    expect(history.figures()).toEqual({ lastTest: { status: 'failed', finishedAt: at(30), errorCode: 'SW_CONNECT_REFUSED' }, failedTestsInARow: 2, lastOkTestAt: at(0) });
    history.record({ status: 'partial', finishedAt: at(45), error: { phase: 'upload', code: 'SW_STALLED', message: 'x' } });
    expect(history.figures()).toEqual({ lastTest: { status: 'partial', finishedAt: at(45), errorCode: 'SW_STALLED' }, failedTestsInARow: 0, lastOkTestAt: at(0) });
  });

  it('has no last ok time while no test was ok', () => {
    const history = new TestHistory();
    history.record({ status: 'failed', finishedAt: at(0), error: { phase: 'select', code: 'SW_DNS', message: 'x' } });
    expect(history.figures()).toEqual({ lastTest: { status: 'failed', finishedAt: at(0), errorCode: 'SW_DNS' }, failedTestsInARow: 1 });
  });
});
