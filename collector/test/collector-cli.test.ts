/** speedwatch-collector's agent identity and backup commands, as real child processes on a real file. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hashToken } from '../src/ingest/tokens.js';
import { openStore } from '../src/store/sqlite-store.js';

const exec = promisify(execFile);
const BIN = new URL('../dist/src/bin/speedwatch-collector.js', import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args]);
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
    expect(text.stdout).toMatch(/^clinic-1\tmobile\tclinic\tLạng Sơn\/Cao Lộc\/Hợp Thành\tViettel\tSite clinic-1\tactive$/m);
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
    [['agents', 'add', '--id', 'a'], /--db PATH is required/],
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
