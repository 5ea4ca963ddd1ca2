/** speedwatch-collector's agent identity, backup and check-config commands, as real child processes on real files. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hashToken } from '../src/ingest/tokens.js';
import { openStore } from '../src/store/sqlite-store.js';

const exec = promisify(execFile);
const BIN = new URL('../dist/src/bin/speedwatch-collector.js', import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliWith({}, ...args);
}

/** Runs the CLI with `env` added to this process's environment; killed after 20 s. */
async function cliWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('speedwatch-collector agents', () => {
  const db = join(mkdtempSync(join(tmpdir(), 'sw-cli-')), 'sub', 'speedwatch.db');
  const add = (id: string, ...extra: string[]) =>
    cli('agents', 'add', '--db', db, '--id', id, '--name', `Site ${id}`, '--site-kind', 'clinic', '--technology', 'mobile', ...extra);

  it('adds an agent, prints only its token, and stores only the hash', async () => {
    const { code, stdout } = await add('clinic-1', '--isp', 'Viettel', '--area', 'Lạng Sơn/Cao Lộc/Hợp Thành', '--lat', '21.86', '--lon', '106.83');
    expect(code).toBe(0);
    const token = stdout.trim();
    expect(stdout.split('\n')).toHaveLength(2); // one line and its newline
    expect(token).toMatch(/^swa_[A-Za-z0-9_-]{43}$/); // 32 random bytes: 256 bits
    const store = openStore(db);
    try {
      expect(store.agents.byTokenHash(hashToken(token))).toMatchObject({ id: 'clinic-1', technology: 'mobile', siteKind: 'clinic', isp: 'Viettel', lat: 21.86 });
    } finally {
      store.close();
    }
  });

  it('lists agents, as text and JSON', async () => {
    const text = await cli('agents', 'list', '--db', db);
    expect(text.stdout).toMatch(/^clinic-1\tmobile\tclinic\tLạng Sơn\/Cao Lộc\/Hợp Thành\tViettel\tSite clinic-1\tactive\t-\t-\t-\t-\t-$/m);
    const json = JSON.parse((await cli('agents', 'list', '--db', db, '--json')).stdout) as { id: string }[];
    expect(json.map((a) => a.id)).toEqual(['clinic-1']);
  });

  it('rotates a token: the new one works, the old one does not', async () => {
    const old = (await add('clinic-2')).stdout.trim();
    const rotated = await cli('agents', 'rotate', 'clinic-2', '--db', db);
    expect(rotated.code).toBe(0);
    const store = openStore(db);
    try {
      expect(store.agents.byTokenHash(hashToken(old))).toBeUndefined();
      expect(store.agents.byTokenHash(hashToken(rotated.stdout.trim()))?.id).toBe('clinic-2');
    } finally {
      store.close();
    }
  });

  it('revokes an agent, once', async () => {
    await add('clinic-3');
    expect((await cli('agents', 'revoke', 'clinic-3', '--db', db)).code).toBe(0);
    const again = await cli('agents', 'revoke', 'clinic-3', '--db', db);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no active agent "clinic-3"/);
  });

  it.each<[string[], RegExp]>([
    [['agents', 'add', '--db', 'x.db', '--id', 'Bad Id!', '--name', 'n', '--site-kind', 'school', '--technology', 'fixed'], /--id must be/],
    [['agents', 'add', '--db', 'x.db', '--id', 'a', '--name', 'n', '--site-kind', 'hospital', '--technology', 'fixed'], /--site-kind: expected one of "office", "school", "clinic", "other"/],
    [['agents', 'add', '--db', 'x.db', '--id', 'a', '--name', 'n', '--site-kind', 'school', '--technology', 'fixed', '--lat', '95', '--lon', '1'], /--lat: expected a finite number >= -90 <= 90/],
    [['agents', 'add', '--id', 'a'], /--db PATH or --config FILE is required/],
    [['agents', 'list', '--db', 'x.db', '--colour'], /Unknown option '--colour'/],
    [['agents', 'fire', '--db', 'x.db'], /unknown agents command "fire"/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('refuses %j with a one-line error and the usage', async (args, message) => {
    const { code, stderr, stdout } = await cli(...args);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toMatch(message);
    expect(stderr).toMatch(/Usage: speedwatch-collector/);
  });

  it('says which key is wrong when serve gets a bad config, and exits 1', async () => {
    const { code, stderr } = await cli('serve', '--db', db, '--port', 'http');
    expect(code).toBe(1);
    expect(stderr).toMatch(/port: expected an integer/);
  });

  it('backs up a live database to a file that opens with the same agents', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sw-backup-')), 'backup.db');
    expect((await cli('backup', '--db', db, '--out', out)).code).toBe(0);
    const copy = openStore(out);
    try {
      expect(copy.agents.list().map((a) => a.id)).toEqual(['clinic-1', 'clinic-2', 'clinic-3']);
    } finally {
      copy.close();
    }
  });
});

describe('speedwatch-collector check-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-check-config-'));
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const db = join(dir, 'never', 'speedwatch.db');

  it('prints a one-line summary and exits 0 for a valid file, opening no database', async () => {
    const file = write('ok.yaml', `port: 9000\ndb: ${db}\nverdicts: { windows: [24h, 7d] }\nalerts: { webhooks: [http://127.0.0.1:9/hook] }\n`);
    const { code, stdout, stderr } = await cli('check-config', file);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.split('\n')).toEqual([`${file}: ok. Listening on http://127.0.0.1:9000; database ${db}; verdict windows 24h, 7d; 1 alert webhook; API open; fleet settings: 0 default endpoint(s), 0 override(s)`, '']);
    expect(existsSync(db)).toBe(false);
  });

  it('names the alert routes and their channels once their secrets are read, and never the secrets', async () => {
    const token = write('tg-token', '123456:check-config-secret-token\n');
    const file = write('routes.yaml', `port: 9000\ndb: ${db}\nalerts:\n  channels: [{ name: it-tg, type: telegram, token: { file: ${token} }, chatId: "-1001" }]\n  routes: [{ name: lso, channel: it-tg, lang: vi }]\n`);
    const { code, stdout } = await cli('check-config', file);
    expect(code).toBe(0);
    expect(stdout).toContain('; 0 alert webhooks, alert routes lso → it-tg over 1 channel (secrets read); ');
    expect(stdout).not.toContain('check-config-secret-token');
    const missing = write('unset-env.yaml', `port: 9000\ndb: ${db}\nalerts:\n  channels: [{ name: it-tg, type: telegram, token: { env: SPEEDWATCH_TEST_UNSET_TOKEN }, chatId: "-1001" }]\n`);
    const failed = await cli('check-config', missing);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('alerts.channels[0].token.env: the environment variable SPEEDWATCH_TEST_UNSET_TOKEN is not set or is empty');
  });

  it('lists every problem with its key path at once and exits 1', async () => {
    const file = write('bad.yaml', 'port: 70000\nverdicts:\n  windows: [24h, soon]\nalerts:\n  colour: red\n  delivery: { attempts: 0 }\n');
    const { code, stdout, stderr } = await cli('check-config', file);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines[0]).toBe('speedwatch-collector: configuration is not valid:');
    expect(lines.slice(1).map((line) => /^ {2}- ([^:]+):/.exec(line)?.[1])).toEqual(['port', 'verdicts.windows[1]', 'alerts.colour', 'alerts.delivery.attempts']);
  });

  it.each<[string, NodeJS.ProcessEnv, string[], string]>([
    ['a flag', {}, ['--port', '70000'], 'port'],
    ['an environment variable', { SPEEDWATCH_LOG_LEVEL: 'chatty' }, [], 'logLevel'],
    ['a TLS flag without its pair', {}, ['--tls-cert', '/nonexistent/cert.pem'], 'tlsKeyFile'],
  ])('applies %s as serve does', async (_case, env, flags, path) => {
    const file = write('plain.yaml', 'port: 9000\n');
    const { code, stderr } = await cliWith(env, 'check-config', file, ...flags);
    expect(code).toBe(1);
    expect(stderr).toContain(`\n  - ${path}: `);
  });

  it('names the file it cannot read', async () => {
    const { code, stderr } = await cli('check-config', join(dir, 'missing.yaml'));
    expect(code).toBe(1);
    expect(stderr).toContain(`${join(dir, 'missing.yaml')}: cannot read (ENOENT)`);
  });

  it.each([[[]], [['a.yaml', 'b.yaml']], [['a.yaml', '--config', 'b.yaml']]])('refuses %j with the usage and exit 1', async (args) => {
    const { code, stderr } = await cli('check-config', ...args);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Usage: speedwatch-collector/);
  });

  it('is in the usage', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}check-config FILE/m);
  });
});
