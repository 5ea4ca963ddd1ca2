/**
 * The site-description commands as real child processes on a real SQLite file: areas stored in
 * one form and near-duplicates named, `agents import` of a spreadsheet (all or nothing), `agents
 * edit` keeping id, token and history, and the optional registry of administrative units with
 * their validity dates (Vietnam's 2025 reorganisation: a commune under a district that ended).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/sqlite-store.js';

const exec = promisify(execFile);
const BIN = new URL('../dist/src/bin/speedwatch-collector.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sw-sites-'));
const db = join(dir, 'speedwatch.db');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function agent(id: string): { area?: string; areaCode?: string; name: string } | undefined {
  const store = openStore(db);
  try {
    return store.agents.get(id);
  } finally {
    store.close();
  }
}

const add = (id: string, ...extra: string[]) => cli('agents', 'add', '--db', db, '--id', id, '--name', id, '--site-kind', 'school', '--technology', 'fixed', ...extra);

describe('areas in one form', () => {
  it('stores an area canonical: NFC, levels trimmed, "/" without spaces', async () => {
    const decomposed = ' Lạng Sơn /  Cao Lộc '.normalize('NFD');
    const { code, stderr } = await add('school-1', '--area', decomposed);
    expect(code).toBe(0);
    expect(agent('school-1')?.area).toBe('Lạng Sơn/Cao Lộc');
    expect(stderr).toContain('stored as "Lạng Sơn/Cao Lộc"');
  });

  it('takes the existing form for another case, and names a near-duplicate without diacritics', async () => {
    await add('school-2', '--area', 'LẠNG SƠN/cao lộc');
    expect(agent('school-2')?.area).toBe('Lạng Sơn/Cao Lộc');
    const { code, stderr } = await add('school-3', '--area', 'Lang Son/Cao Loc');
    expect(code).toBe(0);
    expect(agent('school-3')?.area).toBe('Lang Son/Cao Loc');
    expect(stderr).toContain('close to the existing "Lạng Sơn/Cao Lộc"');
  });

  it('edits a site without changing its id or token, and fixes the near-duplicate', async () => {
    const store = openStore(db);
    const before = store.agents.listWithTokens().find((a) => a.agent.id === 'school-3');
    store.close();
    const { code } = await cli('agents', 'edit', 'school-3', '--db', db, '--area', 'lạng sơn/cao lộc', '--isp', 'VNPT');
    expect(code).toBe(0);
    const after = openStore(db);
    try {
      const edited = after.agents.listWithTokens().find((a) => a.agent.id === 'school-3');
      expect(edited?.agent).toMatchObject({ area: 'Lạng Sơn/Cao Lộc', isp: 'VNPT', createdAt: before?.agent.createdAt });
      expect(edited?.tokenHash).toBe(before?.tokenHash);
    } finally {
      after.close();
    }
    expect((await cli('agents', 'edit', 'nobody', '--db', db, '--isp', 'x')).stderr).toContain('no agent "nobody"');
    expect((await cli('agents', 'edit', 'school-3', '--db', db)).stderr).toContain('nothing to change');
  });
});

describe('agents import', () => {
  it('lists every problem of a file at once, with its line, and imports nothing', async () => {
    const csv = file('bad-sites.csv', 'id,name,site_kind,technology,area\nok-1,Ok,school,fixed,A/B\nBad Id,X,school,fixed,\nok-1,Again,school,fixed,\nok-2,Y,hospital,fixed,\nok-3,Z,school,fibre,\nschool-1,Taken,school,fixed,\n');
    const { code, stderr } = await cli('agents', 'import', '--db', db, csv);
    expect(code).toBe(1);
    for (const where of ['line 3 id', 'line 4 id', 'line 5 site_kind', 'line 6 technology', 'line 7 id']) expect(stderr).toContain(where);
    expect(agent('ok-1')).toBeUndefined();
  });

  it('adds every site of a good file in one go and prints a CSV of their codes', async () => {
    const csv = file('sites.csv', '\uFEFFid,name,site_kind,technology,isp,area,lat,lon\r\nthcs-1,"Trường THCS ""Hợp Thành""",school,fixed,VNPT,Lạng Sơn / Cao Lộc,21.86,106.83\r\ntyt-1,Trạm y tế,clinic,mobile,,,,\r\n');
    const { code, stdout } = await cli('agents', 'import', '--db', db, csv);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('id,name,code,expires_at');
    expect(lines[1]).toMatch(/^thcs-1,"Trường THCS ""Hợp Thành""",[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2},\d{4}-/);
    expect(lines).toHaveLength(3);
    expect(agent('thcs-1')).toMatchObject({ name: 'Trường THCS "Hợp Thành"', area: 'Lạng Sơn/Cao Lộc' });
  });
});

describe('the registry of administrative units', () => {
  // Before 1 July 2025: province → district → commune; after: province → commune.
  const UNITS = [
    'code,name,parent_code,valid_from,valid_to',
    '20,Lạng Sơn,,,',
    '178,Cao Lộc,20,,2025-07-01',
    '6253,Hợp Thành,178,,2025-07-01',
    '25001,Xã Cao Lộc,20,2025-07-01,',
  ].join('\n');

  it('refuses a file with problems, naming each', async () => {
    const bad = file('bad-units.csv', 'code,name,parent_code,valid_from,valid_to\n1,A,,,\n1,B,,,\n2,C/D,,,\n3,E,99,,\n4,F,,2025-13-01,\n5,G,,2025-07-01,2025-01-01\n');
    const { code, stderr } = await cli('areas', 'import', '--db', db, bad);
    expect(code).toBe(1);
    for (const where of ['line 3 code', 'line 4 name', 'line 5 parent_code', 'line 6 valid_from', 'line 7 valid_to']) expect(stderr).toContain(where);
  });

  it('imports units and lists them with the path of names valid on a day', async () => {
    expect((await cli('areas', 'import', '--db', db, file('units.csv', UNITS))).code).toBe(0);
    const before = await cli('areas', 'list', '--db', db, '--at', '2025-06-30');
    expect(before.stdout).toContain('6253\tLạng Sơn/Cao Lộc/Hợp Thành\t-\t2025-07-01');
    expect(before.stdout).not.toContain('25001');
    const after = await cli('areas', 'list', '--db', db, '--at', '2025-07-01');
    expect(after.stdout).toContain('25001\tLạng Sơn/Xã Cao Lộc\t2025-07-01\t-');
    expect(after.stdout).not.toContain('6253');
  });

  it('names a site\'s area by the code of a unit valid today, and refuses one that has ended', async () => {
    expect((await add('school-9', '--area-code', '25001')).code).toBe(0);
    expect(agent('school-9')).toMatchObject({ area: 'Lạng Sơn/Xã Cao Lộc', areaCode: '25001' });
    const ended = await add('school-10', '--area-code', '6253');
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain('ended on 2025-07-01');
    expect((await add('school-11', '--area-code', '25001', '--area', 'X')).stderr).toContain('--area or --area-code');
    // A typed area drops the code.
    await cli('agents', 'edit', 'school-9', '--db', db, '--area', 'Lạng Sơn');
    expect(agent('school-9')?.areaCode).toBeUndefined();
  });

  it('takes area_code in an import file', async () => {
    const csv = file('coded.csv', 'id,name,site_kind,technology,area_code\ncoded-1,C1,school,fixed,25001\ncoded-2,C2,school,fixed,6253\n');
    const refused = await cli('agents', 'import', '--db', db, csv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('line 3 area_code');
    writeFileSync(csv, 'id,name,site_kind,technology,area_code\ncoded-1,C1,school,fixed,25001\n');
    expect((await cli('agents', 'import', '--db', db, csv)).code).toBe(0);
    expect(agent('coded-1')).toMatchObject({ area: 'Lạng Sơn/Xã Cao Lộc', areaCode: '25001' });
  });
});
