/**
 * `speedwatch-agent enroll`: exchanges a one-time code at the collector (`POST /v1/enroll`)
 * for the agent's token, then writes what the daemon needs: the token (0600), the settings the
 * collector gave, a marker asking for a test at once, and a minimal config file naming them.
 * Everything that could fail locally is checked before the code is sent, since a code works
 * once: the code's check character, the config file not already there, the data dir writable.
 */
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { stringify as toYaml } from 'yaml';
import type { AgentSettings, Site } from '@speedwatch/shared';
import { AGENTS_PATH, agentSettingsSchema, object, optional, parseEnrollmentCode, siteSchema, string, ValidationError } from '@speedwatch/shared';
import { replaceFileDurably } from '../outbox/durable-fs.js';
import { saveSettings } from '../settings/settings-file.js';
import { EnrollError } from './enroll-error.js';
import type { EnrollErrorCode } from './enroll-error.js';

import { FIRST_TEST_FILE, FIRST_TEST_MARKER, TOKEN_FILE } from './enrollment-files.js';

export { FIRST_TEST_FILE, FIRST_TEST_MARKER, TOKEN_FILE } from './enrollment-files.js';

export const ENROLL_PATH = '/v1/enroll';

export interface EnrollOptions {
  /** The collector's agent URL (ws:// or wss://), as the config file's collector.url. */
  collectorUrl: string;
  /** The code as typed. */
  code: string;
  configFile: string;
  dataDir: string;
  /** A CA file (PEM) for a wss:// collector with a private certificate. */
  caFile?: string;
  /** Replace an existing config file. */
  force?: boolean;
  /** Longest wait for the collector's answer, ms. Default 20 000. */
  timeoutMs?: number;
  /**
   * Write under this directory as if it were `/` (an image being prepared, a test): `configFile`,
   * `dataDir` and `caFile` are then the paths the daemon will see, which the config names, and
   * are read and written under `root`. Default: `/`.
   */
  root?: string;
}

/** What enroll has checked before it sends the code, and where it writes. */
export interface EnrollPlan {
  /** The code, normalised. */
  code: string;
  urls: { agents: URL; enroll: URL };
  /** Absolute paths as the daemon sees them (the config names these). */
  configFile: string;
  dataDir: string;
  caFile?: string;
  /** The CA file's PEM text. */
  ca?: string;
  /** Where a path the daemon sees is on this machine's disk (under `root`). */
  onDisk: (path: string) => string;
}

export interface Enrolled {
  agentId: string;
  site: Site;
  settings?: AgentSettings;
  configFile: string;
  tokenFile: string;
  /** The collector's agent URL as written to the config. */
  collectorUrl: string;
}

const answerSchema = object({
  agentId: string({ pattern: /^[\x21-\x7e]{1,100}$/, patternName: 'an agent id' }),
  token: string({ minLength: 8, maxLength: 512, pattern: /^\S+$/, patternName: 'a token' }),
  site: siteSchema,
  agentsPath: optional(string({ maxLength: 200 })),
  settings: optional(agentSettingsSchema),
});

const REFUSALS: Readonly<Record<number, EnrollErrorCode>> = { 400: 'SW_ENROLL_CODE_MISTYPED', 403: 'SW_ENROLL_CODE_UNKNOWN', 409: 'SW_ENROLL_CODE_USED', 410: 'SW_ENROLL_CODE_EXPIRED', 429: 'SW_ENROLL_RATE_LIMITED' };

/** The collector's agent URL with `/v1/agents` when no path is given, and the enroll URL beside it. */
export function collectorUrls(raw: string): { agents: URL; enroll: URL } {
  let agents: URL;
  try {
    agents = new URL(raw);
  } catch {
    throw new EnrollError('SW_ENROLL_FAILED', `--collector ${JSON.stringify(raw)} is not a URL; expected ws://HOST:PORT/v1/agents or wss://…`);
  }
  if (agents.protocol !== 'ws:' && agents.protocol !== 'wss:') throw new EnrollError('SW_ENROLL_FAILED', `--collector must be a ws:// or wss:// URL, got ${agents.protocol}//…`);
  if (agents.pathname === '/' || agents.pathname === '') agents.pathname = AGENTS_PATH;
  const enroll = new URL(ENROLL_PATH, agents);
  enroll.protocol = agents.protocol === 'wss:' ? 'https:' : 'http:';
  return { agents, enroll };
}

function failed(message: string, cause?: unknown): EnrollError {
  return new EnrollError('SW_ENROLL_FAILED', message, cause === undefined ? undefined : { cause });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks what can be checked without sending the code or writing anything: the code's check
 * character, the collector URL, the config file not already there (unless `force`), the CA file
 * readable. Throws EnrollmentCodeError or EnrollError, as enroll would.
 */
export async function planEnrollment(o: EnrollOptions): Promise<EnrollPlan> {
  const code = parseEnrollmentCode(o.code);
  const urls = collectorUrls(o.collectorUrl);
  const root = o.root === undefined ? '/' : resolve(o.root);
  const onDisk = (path: string): string => (root === '/' ? path : join(root, path));
  const configFile = resolve(o.configFile);
  const dataDir = resolve(o.dataDir);
  const caFile = o.caFile === undefined ? undefined : resolve(o.caFile);
  if (o.force !== true && (await exists(onDisk(configFile)))) throw failed(`${onDisk(configFile)} exists; this box looks enrolled already. Give --force to replace it (the old token stops working once the new code is used)`);
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = await readFile(onDisk(caFile), 'utf8');
    } catch (err) {
      throw failed(`cannot read the CA file ${onDisk(caFile)}: ${(err as Error).message}`, err);
    }
  }
  return { code, urls, configFile, dataDir, ...(caFile === undefined ? {} : { caFile }), ...(ca === undefined ? {} : { ca }), onDisk };
}

export async function enroll(o: EnrollOptions): Promise<Enrolled> {
  const { code, urls, configFile, dataDir, caFile, ca, onDisk } = await planEnrollment(o);
  try {
    await mkdir(onDisk(dataDir), { recursive: true, mode: 0o750 });
    const probe = join(onDisk(dataDir), `.enroll-probe-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe);
    await mkdir(resolve(onDisk(configFile), '..'), { recursive: true });
  } catch (err) {
    throw failed(`cannot write in ${onDisk(dataDir)} or beside ${onDisk(configFile)}: ${(err as Error).message}; run enroll as the user the daemon runs as, or as root`, err);
  }

  const dispatcher = new Agent({ connect: { ...(ca === undefined ? {} : { ca }), timeout: o.timeoutMs ?? 20_000 } });
  let status: number;
  let text: string;
  try {
    const res = await request(urls.enroll, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
      dispatcher,
      headersTimeout: o.timeoutMs ?? 20_000,
      bodyTimeout: o.timeoutMs ?? 20_000,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const why = (err as { code?: string }).code ?? (err as Error).message;
    throw failed(`cannot reach the collector at ${urls.enroll.href} (${why}); check --collector${urls.enroll.protocol === 'https:' ? ', --ca' : ''} and the network`, err);
  } finally {
    await dispatcher.close();
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw failed(`${urls.enroll.href} answered HTTP ${status} with something that is not JSON: is --collector a speedwatch collector?`);
  }
  if (status !== 200) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const refusal = REFUSALS[status];
    const message = typeof error?.message === 'string' ? error.message.slice(0, 500) : `HTTP ${status}`;
    if (refusal !== undefined) throw new EnrollError(refusal, `the collector refused the code: ${message}`);
    throw failed(`${urls.enroll.href} answered HTTP ${status}: ${message}`);
  }
  let answer;
  try {
    answer = answerSchema.parse(body, 'answer');
  } catch (err) {
    if (err instanceof ValidationError) throw failed(`${urls.enroll.href} answered something that is not an enrollment: ${err.message}`, err);
    throw err;
  }

  // The code is used now: write the token first, the config (which says "enrolled") last.
  const tokenFile = join(dataDir, TOKEN_FILE);
  try {
    await replaceFileDurably(onDisk(tokenFile), `${answer.token}\n`, 0o600);
    if (answer.settings !== undefined) await saveSettings(onDisk(dataDir), answer.settings);
    await writeFile(onDisk(join(dataDir, FIRST_TEST_MARKER)), `${answer.agentId}\n`);
    await rm(onDisk(join(dataDir, FIRST_TEST_FILE)), { force: true });
    const config = {
      collector: { url: urls.agents.href, tokenFile, ...(caFile === undefined ? {} : { caFile }) },
      dataDir,
    };
    const header = `# speedwatch agent ${answer.agentId} (${answer.site.name}), written by \`speedwatch-agent enroll\` at ${new Date().toISOString()}.\n# The site and the test settings come from the collector (docs/fleet.md); keys added here apply until it sends its own.\n`;
    await replaceFileDurably(onDisk(configFile), header + toYaml(config), 0o640);
  } catch (err) {
    throw failed(`the code was used, but writing the token or the config failed (${(err as Error).message}): issue a new code with \`speedwatch-collector agents enroll ${answer.agentId}\` and enroll again`, err);
  }
  return { agentId: answer.agentId, site: answer.site, ...(answer.settings === undefined ? {} : { settings: answer.settings }), configFile, tokenFile, collectorUrl: urls.agents.href };
}
