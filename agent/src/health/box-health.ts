/**
 * What the box itself says about its health, for the `health` message (docs/protocol.md#health):
 * free disk in the agent's data directory (`statfs`), the CPU temperature where a thermal zone
 * has one, and how long the daemon and the box have been up. A figure that cannot be read is
 * left out, never guessed, and no read failure escapes: a broken sensor must not stop a test
 * or the stream. The file system, the thermal directory and the clocks are injected for tests.
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { HEALTH_RANGES } from '@speedwatch/shared';

/** The file-system calls the reader makes (node:fs/promises by default). */
export interface HealthFs {
  statfs(path: string): Promise<{ bavail: number; bsize: number }>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
}

const NODE_FS: HealthFs = {
  statfs: (path) => statfs(path),
  readdir: (path) => readdir(path),
  readFile: (path, encoding) => readFile(path, encoding),
};

/** Linux's thermal zones. */
export const DEFAULT_THERMAL_DIR = '/sys/class/thermal';

/**
 * Zone types that are the CPU's, in order of preference: the Raspberry Pi's `cpu-thermal`,
 * then the usual names on other boards and on x86. Any other type containing `cpu` comes next,
 * then zone 0.
 */
export const CPU_ZONE_TYPES = ['cpu-thermal', 'cpu', 'x86_pkg_temp', 'soc', 'soc-thermal', 'cpu_thermal'] as const;

export interface BoxHealthOptions {
  /** The agent's data directory: its file system's free space is reported. */
  dataDir: string;
  /** Where the thermal zones are. Default DEFAULT_THERMAL_DIR. */
  thermalDir?: string;
  fs?: HealthFs;
  /** Seconds the daemon has been up. Default `process.uptime`. */
  uptimeSeconds?: () => number;
  /** Seconds the box has been up. Default `os.uptime`. */
  systemUptimeSeconds?: () => number;
}

/** The box's figures; each absent when it could not be read. */
export interface BoxHealth {
  uptimeSeconds?: number;
  systemUptimeSeconds?: number;
  /** Bytes available to an unprivileged user in the data directory's file system. */
  diskFreeBytes?: number;
  cpuTemperatureCelsius?: number;
}

/** Reads the box's figures; never throws. */
export async function readBoxHealth(options: BoxHealthOptions): Promise<BoxHealth> {
  const fs = options.fs ?? NODE_FS;
  const [diskFreeBytes, cpuTemperatureCelsius] = await Promise.all([
    diskFree(fs, options.dataDir),
    cpuTemperature(fs, options.thermalDir ?? DEFAULT_THERMAL_DIR),
  ]);
  const out: BoxHealth = {};
  const uptime = inRange(safely(options.uptimeSeconds ?? (() => process.uptime())), HEALTH_RANGES.uptimeSeconds);
  const systemUptime = inRange(safely(options.systemUptimeSeconds ?? (() => os.uptime())), HEALTH_RANGES.uptimeSeconds);
  if (uptime !== undefined) out.uptimeSeconds = Math.round(uptime * 10) / 10;
  if (systemUptime !== undefined) out.systemUptimeSeconds = Math.round(systemUptime);
  if (diskFreeBytes !== undefined) out.diskFreeBytes = diskFreeBytes;
  if (cpuTemperatureCelsius !== undefined) out.cpuTemperatureCelsius = cpuTemperatureCelsius;
  return out;
}

async function diskFree(fs: HealthFs, dir: string): Promise<number | undefined> {
  try {
    const { bavail, bsize } = await fs.statfs(dir);
    const bytes = Number(bavail) * Number(bsize);
    return Number.isSafeInteger(bytes) ? inRange(bytes, HEALTH_RANGES.diskFreeBytes) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * °C of the CPU's thermal zone (see CPU_ZONE_TYPES), from its `temp` file in millidegrees, to
 * 0.1 °C; undefined without such a zone, or when its reading is not a number in range.
 */
async function cpuTemperature(fs: HealthFs, thermalDir: string): Promise<number | undefined> {
  let zones: string[];
  try {
    zones = (await fs.readdir(thermalDir)).filter((name) => /^thermal_zone\d+$/.test(name));
  } catch {
    return undefined;
  }
  if (zones.length === 0) return undefined;
  zones.sort((a, b) => zoneNumber(a) - zoneNumber(b));
  const types = await Promise.all(zones.map((zone) => readText(fs, join(thermalDir, zone, 'type'))));
  const rank = (type: string | undefined): number => {
    if (type === undefined) return Number.POSITIVE_INFINITY;
    const known = (CPU_ZONE_TYPES as readonly string[]).indexOf(type);
    if (known >= 0) return known;
    return type.includes('cpu') ? CPU_ZONE_TYPES.length : Number.POSITIVE_INFINITY;
  };
  let best: number | undefined;
  types.forEach((type, index) => {
    const r = rank(type);
    if (r !== Number.POSITIVE_INFINITY && (best === undefined || r < rank(types[best]))) best = index;
  });
  const zone = best === undefined ? zones.find((name) => name === 'thermal_zone0') : zones[best];
  if (zone === undefined) return undefined;
  const text = await readText(fs, join(thermalDir, zone, 'temp'));
  if (text === undefined || !/^-?\d{1,9}$/.test(text)) return undefined;
  return inRange(Math.round(Number(text) / 100) / 10, HEALTH_RANGES.cpuTemperatureCelsius);
}

function zoneNumber(name: string): number {
  return Number(name.slice('thermal_zone'.length));
}

/** A small sysfs file's text, trimmed (sysfs files are a line); undefined when unreadable or implausibly long. */
async function readText(fs: HealthFs, path: string): Promise<string | undefined> {
  try {
    const text = (await fs.readFile(path, 'utf8')).trim();
    return text.length <= 100 ? text : undefined;
  } catch {
    return undefined;
  }
}

function safely(read: () => number): number | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function inRange(value: number | undefined, range: { min: number; max: number }): number | undefined {
  return value !== undefined && Number.isFinite(value) && value >= range.min && value <= range.max ? value : undefined;
}
