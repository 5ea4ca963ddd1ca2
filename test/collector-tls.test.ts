/**
 * The collector serving TLS from certificate files: a test CA signs its certificate, and
 * https:// and wss:// work for a client that trusts that CA; a client trusting another CA is
 * refused, and so is plain ws:// on the same port.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, stopChild } from './support/processes.js';

let dir = '';
let child: ChildProcess | undefined;
let url = '';
let token = '';
let ca = '';
let otherCa = '';

/** A CA (key and self-signed certificate) in `dir`, named `name`. */
function makeCa(name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key, cert };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sw-tls-'));
  const authority = makeCa('speedwatch-test-ca');
  otherCa = readFileSync(makeCa('some-other-ca').cert, 'utf8');
  ca = readFileSync(authority.cert, 'utf8');
  // The collector's certificate, for 127.0.0.1 and localhost, signed by the test CA.
  const key = join(dir, 'collector.key');
  const csr = join(dir, 'collector.csr');
  const cert = join(dir, 'collector.pem');
  const ext = join(dir, 'san.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=collector', '-keyout', key, '-out', csr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', authority.cert, '-CAkey', authority.key, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', cert], { stdio: 'ignore' });

  const db = join(dir, 'speedwatch.db');
  token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', 'school-1', '--name', 'School 1', '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
  child = spawn(process.execPath, [BIN.collector, 'serve', '--db', db, '--port', '0', '--log-level', 'warn', '--tls-cert', cert, '--tls-key', key], { stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('collector did not start within 10 s')), 10_000);
    child?.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve((JSON.parse(d.toString().split('\n')[0] as string) as { url: string }).url);
    });
  });
});
afterAll(async () => {
  if (child !== undefined) await stopChild(child);
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, trust: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get(`${url}${path}`, { ca: trust }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

function open(wsUrl: string, trust: string): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl, { ca: trust, headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('collector over TLS', () => {
  it('says it listens on https', () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('answers https:// for a client that trusts the test CA, and refuses one that trusts another CA', async () => {
    expect(await get('healthz', ca)).toBe(200);
    await expect(get('healthz', otherCa)).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/) });
  });

  it('takes an agent over wss:// with the test CA: hello, results, ack', async () => {
    const ws = await open(`${url.replace(/^https/, 'wss')}v1/agents`, ca);
    try {
      // Every message in arrival order: welcome and the settings after it may come in one read.
      const inbox: { type: string; ids?: string[] }[] = [];
      let wake: (() => void) | undefined;
      ws.on('message', (d) => {
        inbox.push(JSON.parse(d.toString()) as { type: string; ids?: string[] });
        wake?.();
      });
      const next = async (): Promise<{ type: string; ids?: string[] }> => {
        while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        return inbox.shift() as { type: string; ids?: string[] };
      };
      ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() }));
      expect((await next()).type).toBe('welcome');
      // Welcome is followed by the agent's settings.
      expect((await next()).type).toBe('config');
      const startedAt = new Date(Date.now() - 60_000).toISOString();
      const id = randomUUID();
      ws.send(JSON.stringify({ type: 'results', results: [{ schemaVersion: 1, id, status: 'failed', startedAt, finishedAt: new Date().toISOString(), errors: [{ phase: 'select', code: 'SW_DNS', message: 'x' }], error: { phase: 'select', code: 'SW_DNS', message: 'x' } }] }));
      expect(await next()).toEqual({ type: 'ack', ids: [id] });
    } finally {
      ws.close();
    }
  });

  it('refuses wss:// to a client trusting another CA, and plain ws:// on the same port', async () => {
    await expect(open(`${url.replace(/^https/, 'wss')}v1/agents`, otherCa)).rejects.toMatchObject({ code: expect.stringMatching(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/) });
    await expect(open(`${url.replace(/^https/, 'ws')}v1/agents`, ca)).rejects.toBeDefined();
  });
});
