/**
 * The settings the collector pushed, kept in the data dir (`settings.json`) so that a box
 * restarted while the collector is out of reach tests as it was last told. Written whole and
 * durably (replaceFileDurably); a file that cannot be read or is not valid settings is
 * reported and ignored, never fatal: the config file's own settings apply until the collector
 * sends new ones.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentSettings } from '@speedwatch/shared';
import { agentSettingsSchema, ValidationError } from '@speedwatch/shared';
import { describeError, replaceFileDurably } from '../outbox/durable-fs.js';

export const SETTINGS_FILE = 'settings.json';

export interface StoredSettings {
  settings?: AgentSettings;
  problem?: string;
}

export function settingsPath(dataDir: string): string {
  return join(dataDir, SETTINGS_FILE);
}

/** The stored settings; `problem` says why there are none when a file exists but is unusable. */
export async function loadSettings(dataDir: string): Promise<StoredSettings> {
  const path = settingsPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return {};
    return { problem: `cannot read ${path}: ${describeError(err)}` };
  }
  try {
    return { settings: agentSettingsSchema.parse(JSON.parse(text), 'settings') };
  } catch (err) {
    if (err instanceof SyntaxError) return { problem: `${path} is not JSON` };
    if (err instanceof ValidationError) return { problem: `${path}: ${err.message}` };
    throw err;
  }
}

export async function saveSettings(dataDir: string, settings: AgentSettings): Promise<void> {
  await replaceFileDurably(settingsPath(dataDir), `${JSON.stringify(settings, null, 2)}\n`);
}
