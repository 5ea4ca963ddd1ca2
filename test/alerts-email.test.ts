/**
 * Alerts by e-mail end to end: a real collector, configured from a YAML file as an operator
 * writes it (channels, routes, the SMTP password in a file), on a temp SQLite file and a fake
 * clock, sends to real SMTP servers (the smtp-server package) on loopback with a self-signed
 * certificate made by openssl: STARTTLS with AUTH PLAIN, STARTTLS with AUTH LOGIN, TLS from the
 * first byte. Each message is read back as the server received it (envelope, headers, decoded
 * body): the right subject, body and recipients, one per site below target, and a digest that
 * holds every site below target and nothing else. A server that offers no STARTTLS gets nothing
 * in clear, and a wrong password is refused without a trace of it in the log or the API.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions } from 'smtp-server';
import { batchOfResults, hashToken, loadCollectorConfig, newToken, openStore, parseVerdictConfig, sqliteCollectorStore, startCollector } from '@speedwatch/collector';
import type { AlertClock, RunningCollector, SqliteStore } from '@speedwatch/collector';
import { createLogger, parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from './support/net.js';

const MIN = 60_000;
const SMTP_USER = 'alerts@speedwatch.example.org';
const SMTP_PASSWORD = 'smtp-pass-4c1f8e27d93b6a05';
const WRONG_PASSWORD = 'wrong-pass-9e0d1c2b3a4f5e6d';

/** A message as an SMTP server received it. */
interface Received {
  server: string;
  secure: boolean;
  envelopeFrom: string;
  envelopeTo: string[];
  raw: string;
}

interface Smtp {
  port: number;
  received: Received[];
  /** AUTH attempts, with the method and whether the password was right. */
  logins: { method: string; ok: boolean }[];
  close(): Promise<void>;
}

async function smtpServer(name: string, options: Partial<SMTPServerOptions>): Promise<Smtp> {
  const smtp: Smtp = { port: 0, received: [], logins: [], close: async () => {} };
  const server = new SMTPServer({
    logger: false,
    banner: `${name} test server`,
    onAuth(auth, _session, callback) {
      const ok = auth.username === SMTP_USER && auth.password === SMTP_PASSWORD;
      smtp.logins.push({ method: auth.method, ok });
      if (!ok) return callback(new Error('Invalid username or password'));
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const parts: Buffer[] = [];
      stream.on('data', (part: Buffer) => parts.push(part));
      stream.on('end', () => {
        smtp.received.push({
          server: name,
          secure: session.secure,
          envelopeFrom: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(parts).toString('utf8'),
        });
        callback();
      });
    },
    ...options,
  });
  server.on('error', () => {}); // a client that drops the connection (the no-STARTTLS case) is not the test's failure
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  smtp.port = (server.server.address() as AddressInfo).port;
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return smtp;
}

/** RFC 2047 encoded words decoded (B and Q), as a mail reader shows a header. */
function decodeWords(value: string): string {
  // Whitespace between two encoded words is not part of the text (RFC 2047, 6.2).
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_all, encoding: string, text: string) =>
    encoding.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_h, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
  );
}

/** A single-part text message: its headers (unfolded, decoded) and its body (transfer encoding undone, UTF-8). */
function parseMessage(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
  }
  const encoded = raw.slice(split + 4);
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const bytes =
    encoding === 'base64'
      ? Buffer.from(encoded.replace(/\s+/g, ''), 'base64')
      : encoding === 'quoted-printable'
        ? Buffer.from(encoded.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_h, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1')
        : Buffer.from(encoded, 'utf8');
  return { headers, body: bytes.toString('utf8').replace(/\r\n/g, '\n').replace(/\n$/, '') };
}

function result(startedAtMs: number, technology: 'fixed' | 'mobile', mbps: number): MeasurementResult {
  return parseMeasurementResult({
    schemaVersion: 1,
    id: `r-${startedAtMs}-${Math.random().toString(16).slice(2)}`,
    status: 'ok',
    startedAt: new Date(startedAtMs).toISOString(),
    finishedAt: new Date(startedAtMs + 25_000).toISOString(),
    technology,
    download: { mbps, bytes: mbps * 1e6, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: mbps * 1.25e6, sampleIntervalMs: 200, samplesMbps: [] },
  });
}

/** `2026-11-26T07:00` in Asia/Ho_Chi_Minh, as ms. */
const local = (text: string): number => Date.parse(`${text}:00+07:00`);

const SITES = [
  { id: 'caoloc-thcs', name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', downloads: [50, 60, 70] },
  { id: 'chilang-tyt', name: 'Trạm Y tế Chi Lăng', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Chi Lăng', downloads: [20, 30, 40] },
  { id: 'caoloc-ubnd', name: 'UBND xã Hợp Thành', siteKind: 'office', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', downloads: [150, 160, 170] },
  { id: 'caobang-thpt', name: 'Trường THPT Cao Bằng', siteKind: 'school', technology: 'fixed', isp: 'FPT', area: 'Cao Bằng/Hòa An', downloads: [40, 45, 50] },
] as const;
const BELOW_IN_LANG_SON = ['caoloc-thcs', 'chilang-tyt'];

let plain: Smtp;
let login: Smtp;
let implicit: Smtp;
let noStarttls: Smtp;
let store: SqliteStore;
let collector: RunningCollector;
const clock = { ms: local('2026-11-26T07:00') };
const lines: string[] = [];

beforeAll(async () => {
  const { cert, key } = selfSignedCertificate();
  plain = await smtpServer('starttls-plain', { key, cert, authMethods: ['PLAIN'] });
  login = await smtpServer('starttls-login', { key, cert, authMethods: ['LOGIN'] });
  implicit = await smtpServer('implicit-tls', { key, cert, secure: true, authMethods: ['PLAIN', 'LOGIN'] });
  noStarttls = await smtpServer('no-starttls', { disabledCommands: ['STARTTLS'], authOptional: true, allowInsecureAuth: true });

  const dir = mkdtempSync(join(tmpdir(), 'sw-email-'));
  writeFileSync(join(dir, 'ca.pem'), cert);
  writeFileSync(join(dir, 'smtp-password'), `${SMTP_PASSWORD}\n`);
  writeFileSync(join(dir, 'wrong-password'), `${WRONG_PASSWORD}\n`);
  const smtp = (port: number, security: string, password = 'smtp-password'): string =>
    `{ host: 127.0.0.1, port: ${port}, security: ${security}, user: "${SMTP_USER}", password: { file: ${join(dir, password)} }, caFile: ${join(dir, 'ca.pem')} }`;
  const file = join(dir, 'collector.yaml');
  writeFileSync(
    file,
    `
port: 0
db: ${join(dir, 'speedwatch.db')}
timeZone: Asia/Ho_Chi_Minh
alerts:
  evaluateInterval: 24h
  externalUrl: https://speedwatch.example.org
  for: { siteBelowTarget: 0s, groupBelowTarget: 7d, agentSilent: 7d, agentDisconnected: 7d, collectorRejecting: 7d, agentDiskLow: 7d, agentTestsFailing: 7d }
  delivery: { attempts: 2, timeout: 5s, backoff: 10ms, maxBackoff: 10ms }
  channels:
    - name: so-gd-mail
      type: email
      smtp: ${smtp(plain.port, 'starttls')}
      from: "Speedwatch Lạng Sơn <${SMTP_USER}>"
      to: [phong-cntt@langson.example.vn, truong-phong@langson.example.vn]
    - name: digest-mail
      type: email
      smtp: ${smtp(login.port, 'starttls')}
      from: ${SMTP_USER}
      to: ubnd-tinh@langson.example.vn
    - name: tls-mail
      type: email
      smtp: ${smtp(implicit.port, 'tls')}
      from: ${SMTP_USER}
      to: it@caobang.example.vn
    - name: clear-mail
      type: email
      smtp: { host: 127.0.0.1, port: ${noStarttls.port}, security: starttls, caFile: ${join(dir, 'ca.pem')} }
      from: ${SMTP_USER}
      to: nobody@example.vn
    - name: wrong-password-mail
      type: email
      smtp: ${smtp(plain.port, 'starttls', 'wrong-password')}
      from: ${SMTP_USER}
      to: nobody@example.vn
  routes:
    - { name: lang-son, channel: so-gd-mail, match: { areaPrefix: Lạng Sơn }, lang: vi }
    - { name: lang-son-digest, channel: digest-mail, match: { areaPrefix: Lạng Sơn }, lang: en, digest: { at: "07:30" } }
    - { name: cao-bang, channel: tls-mail, match: { areaPrefix: Cao Bằng }, lang: en }
    - { name: in-clear, channel: clear-mail, match: { siteKind: office }, lang: en }
    - { name: refused, channel: wrong-password-mail, match: { siteKind: clinic }, lang: en }
`,
  );
  const config = loadCollectorConfig({ file });
  store = openStore(config.db);
  const alertClock: AlertClock = { now: () => clock.ms, sleep: () => Promise.resolve() };
  collector = await startCollector(config, {
    store: sqliteCollectorStore(store),
    logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
    verdictConfig: parseVerdictConfig({ minTests: { agent: 3 } }, 'verdicts'),
    now: () => clock.ms,
    alertClock,
  });
  for (const site of SITES) {
    const { downloads, id, ...rest } = site;
    store.agents.add({ id, ...rest }, hashToken(newToken()), clock.ms);
    store.writes.insertFrames([batchOfResults(id, clock.ms, downloads.map((mbps, i) => result(clock.ms - (i + 1) * MIN, site.technology, mbps)))]);
  }
  await collector.refreshAgents();
});

afterAll(async () => {
  await collector?.close();
  store?.close();
  for (const server of [plain, login, implicit, noStarttls]) await server?.close();
});

async function evaluate(): Promise<void> {
  await collector.maintain();
  await collector.alerts.evaluate();
}

interface Deliveries {
  routes: { id: string; name: string; channel: string }[];
  deliveries: { route: string; state: string; alertname: string; lastError: string | null }[];
}

describe('alerts by e-mail over real SMTP', () => {
  it('sends one message per site below target, over STARTTLS with AUTH PLAIN, with the subject, body and recipients a person needs', async () => {
    await evaluate();
    const messages = plain.received.filter((m) => m.envelopeTo.includes('phong-cntt@langson.example.vn'));
    expect(messages).toHaveLength(2);
    for (const m of messages) {
      expect(m.secure).toBe(true); // upgraded by STARTTLS before AUTH and the message
      expect(m.envelopeFrom).toBe(SMTP_USER);
      expect(m.envelopeTo).toEqual(['phong-cntt@langson.example.vn', 'truong-phong@langson.example.vn']);
    }
    expect(plain.logins.filter((l) => l.ok).map((l) => l.method)).toEqual(['PLAIN', 'PLAIN']);
    const parsed = messages.map((m) => parseMessage(m.raw)).sort((a, b) => (a.headers['subject'] ?? '').localeCompare(b.headers['subject'] ?? ''));
    const school = parsed.find((p) => p.headers['subject']?.includes('Hợp Thành'));
    expect(school?.headers).toMatchObject({
      subject: 'Điểm đo dưới chỉ tiêu: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      from: `Speedwatch Lạng Sơn <${SMTP_USER}>`,
      to: 'phong-cntt@langson.example.vn, truong-phong@langson.example.vn',
    });
    expect(school?.headers['content-type']).toMatch(/^text\/plain; charset=utf-8/i);
    expect(school?.body.split('\n')).toEqual([
      'Trường THCS Hợp Thành (caoloc-thcs) không đạt chỉ tiêu băng rộng cố định.',
      'Địa bàn: Lạng Sơn/Cao Lộc/Hợp Thành · trường học · nhà mạng VNPT',
      'Đo được: trong 24 giờ qua, trung vị tốc độ tải xuống là 60,0 Mbps qua 3 lần đo, dưới chỉ tiêu 102,0 Mbps.',
      'Lần đo gần nhất: 50,0 Mbps.',
      'Từ lúc: 07:00 26/11/2026 (giờ Asia/Ho_Chi_Minh)',
      'Trang điểm đo: https://speedwatch.example.org/#/site/caoloc-thcs',
    ]);
    const clinic = parsed.find((p) => p.headers['subject']?.includes('Chi Lăng'));
    expect(clinic?.body).toContain('trung vị tốc độ tải xuống là 30,0 Mbps qua 3 lần đo, dưới chỉ tiêu 42,0 Mbps');
    expect(clinic?.body).toContain('https://speedwatch.example.org/#/site/chilang-tyt');
  });

  it('sends over TLS from the first byte to a server on an implicit-TLS port', async () => {
    expect(implicit.received).toHaveLength(1);
    const [m] = implicit.received;
    expect(m?.secure).toBe(true);
    expect(m?.envelopeTo).toEqual(['it@caobang.example.vn']);
    expect(implicit.logins.filter((l) => l.ok)).toHaveLength(1);
    const { headers, body } = parseMessage(m?.raw ?? '');
    expect(headers['subject']).toBe('Site below target: Trường THPT Cao Bằng (Cao Bằng/Hòa An)');
    expect(body).toContain('Measured: over the last 24 hours, the median download was 45.0 Mbps over 3 tests, under the target of 102.0 Mbps.');
  });

  it('sends nothing in clear to a server without STARTTLS, and nothing with a refused password, keeping both queued with their error', async () => {
    expect(noStarttls.received).toEqual([]);
    expect(plain.received.filter((m) => m.envelopeTo.includes('nobody@example.vn'))).toEqual([]);
    expect(plain.logins.filter((l) => !l.ok)).toEqual([{ method: 'PLAIN', ok: false }]);
    // The office meets its target: the in-clear route has nothing to say yet. Make it fall below.
    const now = clock.ms;
    store.writes.insertFrames([batchOfResults('caoloc-ubnd', now, [10, 11, 12, 13, 14].map((mbps, i) => result(now - (i + 1) * 1000, 'fixed', mbps)))]);
    await evaluate();
    expect(noStarttls.received).toEqual([]);
    const answer = (await (await fetch(`${collector.url}api/v1/alerts/deliveries`)).json()) as Deliveries;
    const byRoute = (name: string): Deliveries['deliveries'] => answer.deliveries.filter((d) => d.route === answer.routes.find((r) => r.name === name)?.id);
    expect(byRoute('in-clear')).toMatchObject([{ state: 'failed', lastError: expect.stringMatching(/^SW_CHANNEL_NETWORK: email channel "clear-mail": SMTP 127\.0\.0\.1:\d+: .*STARTTLS/) }]);
    expect(byRoute('refused')).toMatchObject([{ state: 'failed', lastError: expect.stringMatching(/^SW_CHANNEL_AUTH: email channel "wrong-password-mail": SMTP 127\.0\.0\.1:\d+: authentication failed/) }]);
    const everything = `${lines.join('\n')}\n${JSON.stringify(answer)}`;
    for (const secret of [SMTP_PASSWORD, WRONG_PASSWORD, Buffer.from(SMTP_PASSWORD).toString('base64'), Buffer.from(`\0${SMTP_USER}\0${WRONG_PASSWORD}`).toString('base64')]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('sends the digest route, at 07:30, one message listing every site below target it takes and nothing else, over STARTTLS with AUTH LOGIN', async () => {
    expect(login.received).toEqual([]); // before 07:30 on the route's first day
    clock.ms = local('2026-11-26T07:31');
    await evaluate();
    expect(login.received).toHaveLength(1);
    const [m] = login.received;
    expect(m).toMatchObject({ secure: true, envelopeFrom: SMTP_USER, envelopeTo: ['ubnd-tinh@langson.example.vn'] });
    expect(login.logins).toEqual([{ method: 'LOGIN', ok: true }]);
    const { headers, body } = parseMessage(m?.raw ?? '');
    // The office fell below target in the test before: three of Lạng Sơn's sites.
    const below = [...BELOW_IN_LANG_SON, 'caoloc-ubnd'].sort();
    expect(headers['subject']).toBe(`Daily digest: ${below.length} sites below target`);
    const listed = body.split('\n').filter((l) => l.startsWith('• '));
    expect(listed).toHaveLength(below.length);
    expect(listed.map((l) => /#\/site\/([\w-]+)$/.exec(l)?.[1]).sort()).toEqual(below);
    expect(body).not.toMatch(/caobang|Cao Bằng/);
    expect(body.split('\n')[0]).toBe(`At 2026-11-26 07:30 (Asia/Ho_Chi_Minh), ${below.length} sites are below target:`);
    expect(listed.find((l) => l.includes('chilang-tyt'))).toBe(
      '• Trạm Y tế Chi Lăng (chilang-tyt) – Lạng Sơn/Chi Lăng; 24 hours: the median download was 30.0 Mbps over 3 tests, under the target of 42.0 Mbps; since 2026-11-26 07:00 (Asia/Ho_Chi_Minh); https://speedwatch.example.org/#/site/chilang-tyt',
    );
    // Once a day: later evaluations that day send no other digest.
    clock.ms = local('2026-11-26T18:00');
    await evaluate();
    expect(login.received).toHaveLength(1);
  });
});
