/**
 * `alerts.channels` and `alerts.routes` in the collector's configuration: every channel type
 * with its defaults, secrets read from files and environment variables (never from the config
 * itself, never echoed), routes checked against the channels, and every problem listed at once
 * with its key path.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Problem } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadCollectorConfig } from '../src/config/collector-config.js';
import { Secret } from '../src/config/secret.js';

const dir = mkdtempSync(join(tmpdir(), 'sw-routing-config-'));
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): readonly Problem[] {
  try {
    loadCollectorConfig({ file: write('collector.yaml', text), env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const passwordFile = write('smtp-password', 'smtp-password-0123456789\n');
const zaloFile = write('zalo-token', '  zalo-access-token-abcdef0123456789  \n');

const FULL = `
alerts:
  externalUrl: https://speedwatch.example.org
  channels:
    - name: district-mail
      type: email
      smtp: { host: smtp.example.org, user: alerts@example.org, password: { file: ${passwordFile} } }
      from: "Speedwatch <alerts@example.org>"
      to: it@caoloc.edu.vn
    - name: relay
      type: email
      smtp: { host: 127.0.0.1, security: none }
      from: alerts@example.org
      to: [a@example.org, b@example.org]
    - name: it-telegram
      type: telegram
      token: { env: SPEEDWATCH_TELEGRAM_TOKEN }
      chatId: -1001234567890
    - name: phong-gd
      type: zalo
      accessToken: { file: ${zaloFile} }
      userId: "8912345678901234567"
      baseUrl: https://zalo-gateway.example.org/
    - name: phones
      type: ntfy
      topic: caoloc-speedwatch
    - name: alertmanager
      type: webhook
      url: http://alertmanager:9093/api/v2/hook
  routes:
    - name: caoloc-schools
      channel: district-mail
      match: { areaPrefix: Lạng Sơn/Cao Lộc, siteKind: school }
      lang: vi
      quietHours: { from: "22:00", to: "06:30" }
    - name: province-digest
      channel: it-telegram
      match: { areaPrefix: [Lạng Sơn, Cao Bằng], technology: [fixed, mobile] }
      lang: en
      digest: { at: "07:30" }
    - name: boxes
      channel: phones
      match: { alertname: [SpeedwatchAgentDisconnected, SpeedwatchAgentSilent], severity: [warning, info] }
      lang: vi
`;

describe('alerts.channels and alerts.routes', () => {
  it('reads every channel type with its defaults, and the secrets from the files and variables named', () => {
    const { alerts } = loadCollectorConfig({ file: write('full.yaml', FULL), env: { SPEEDWATCH_TELEGRAM_TOKEN: ' 123:telegram-token-abc \n' } });
    const [mail, relay, telegram, zalo, ntfy, webhook] = alerts.channels;
    expect(mail).toMatchObject({ type: 'email', name: 'district-mail', from: 'Speedwatch <alerts@example.org>', to: ['it@caoloc.edu.vn'], smtp: { host: 'smtp.example.org', port: 587, security: 'starttls', user: 'alerts@example.org' } });
    expect(mail?.type === 'email' && mail.smtp.password?.reveal()).toBe('smtp-password-0123456789');
    expect(relay).toMatchObject({ smtp: { port: 25, security: 'none' }, to: ['a@example.org', 'b@example.org'] });
    expect(telegram).toMatchObject({ type: 'telegram', baseUrl: 'https://api.telegram.org', chatId: '-1001234567890' });
    expect(telegram?.type === 'telegram' && telegram.token.reveal()).toBe('123:telegram-token-abc');
    expect(telegram?.type === 'telegram' && telegram.token.source).toBe('env SPEEDWATCH_TELEGRAM_TOKEN');
    expect(zalo).toMatchObject({ type: 'zalo', baseUrl: 'https://zalo-gateway.example.org', userId: '8912345678901234567' });
    expect(zalo?.type === 'zalo' && zalo.accessToken.reveal()).toBe('zalo-access-token-abcdef0123456789');
    expect(ntfy).toEqual({ type: 'ntfy', name: 'phones', baseUrl: 'https://ntfy.sh', topic: 'caoloc-speedwatch' });
    expect(webhook).toEqual({ type: 'webhook', name: 'alertmanager', url: 'http://alertmanager:9093/api/v2/hook' });
    expect(alerts.routes).toEqual([
      { name: 'caoloc-schools', channel: 'district-mail', match: { areaPrefix: ['Lạng Sơn/Cao Lộc'], siteKind: ['school'] }, lang: 'vi', quietHours: { from: '22:00', to: '06:30' } },
      { name: 'province-digest', channel: 'it-telegram', match: { areaPrefix: ['Lạng Sơn', 'Cao Bằng'], technology: ['fixed', 'mobile'] }, lang: 'en', digest: { at: '07:30' } },
      { name: 'boxes', channel: 'phones', match: { alertname: ['SpeedwatchAgentDisconnected', 'SpeedwatchAgentSilent'], severity: ['warning', 'info'] }, lang: 'vi' },
    ]);
    expect(Object.isFrozen(alerts.channels) && Object.isFrozen(alerts.routes) && Object.isFrozen(alerts.routes[0]?.match)).toBe(true);
    // The config as a whole can be logged or printed without a secret in it.
    const printed = JSON.stringify(alerts);
    for (const value of ['smtp-password-0123456789', 'telegram-token-abc', 'zalo-access-token']) expect(printed).not.toContain(value);
    expect(printed).toContain(`[secret from file ${passwordFile}]`);
    expect(mail?.type === 'email' && mail.smtp.password).toBeInstanceOf(Secret);
  });

  it('lists every problem at once, each at its key, without echoing a secret or a webhook URL', () => {
    const found = problems(
      `
alerts:
  channels:
    - { name: mail, type: email, smtp: { host: smtp.example.org, user: u@example.org }, from: "not an address", to: [] }
    - { name: tg, type: telegram, token: "123:inline-secret-token", chatId: "chat one" }
    - { name: zl, type: zalo, accessToken: { file: /nonexistent/zalo-token }, userId: "8912" }
    - { name: nt, type: ntfy, topic: "bad topic!", token: { env: MISSING_NTFY_TOKEN } }
    - { name: hook, type: webhook, url: "ftp://user:hook-secret-pw@example.org/x" }
    - { name: mail, type: pager }
    - { name: "bad name", type: ntfy, topic: t, baseUrl: "https://ntfy.example.org/?token=q-secret" }
  routes:
    - { name: r1, channel: nowhere, lang: vi }
    - { name: r2, channel: tg, lang: fr, quietHours: { from: "22:00", to: "22:00" } }
    - { name: r3, channel: nt, lang: en, digest: { at: "7:30" }, match: { siteKind: hospital } }
    - { name: r4, channel: nt, lang: en, digest: { at: "07:30" }, match: { alertname: SpeedwatchAgentSilent } }
    - { name: r1, channel: hook, lang: en, quietHours: { from: "24:00", to: "06:00" }, match: { severity: high, areaPrefix: [] } }
`,
      { MISSING_NTFY_TOKEN: '' },
    );
    const paths = found.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'alerts.channels[0].smtp.password',
        'alerts.channels[0].from',
        'alerts.channels[0].to',
        'alerts.channels[1].token',
        'alerts.channels[1].chatId',
        'alerts.channels[3].topic',
        'alerts.channels[4].url',
        'alerts.channels[5].type',
        'alerts.channels[6].name',
        'alerts.channels[6].baseUrl',
        'alerts.routes[1].lang',
        'alerts.routes[1].quietHours.to',
        'alerts.routes[2].digest.at',
        'alerts.routes[2].match.siteKind',
        'alerts.routes[3].match.alertname',
        'alerts.routes[4].name',
        'alerts.routes[4].quietHours.from',
        'alerts.routes[4].match.severity',
        'alerts.routes[4].match.areaPrefix',
      ]),
    );
    const text = found.map((p) => p.message).join('\n');
    expect(text).toMatch(/channels\[1\]\.token: give the secret as \{file: PATH\} or \{env: NAME\}/);
    expect(text).not.toMatch(/inline-secret-token|hook-secret-pw|q-secret/);
  });

  it('reads secrets only once the channels are valid, and then names the file or variable that fails', () => {
    const found = problems(
      `
alerts:
  channels:
    - { name: zl, type: zalo, accessToken: { file: /nonexistent/zalo-token }, userId: "8912" }
    - { name: nt, type: ntfy, topic: t, token: { env: MISSING_NTFY_TOKEN } }
    - { name: tg, type: telegram, token: { file: ${write('empty-token', '\n')} }, chatId: "@speedwatch_alerts" }
  routes:
    - { name: r1, channel: nowhere, lang: vi }
`,
    );
    expect(found.map((p) => p.message)).toEqual([
      'alerts.channels[0].accessToken.file: cannot read /nonexistent/zalo-token (ENOENT)',
      'alerts.channels[1].token.env: the environment variable MISSING_NTFY_TOKEN is not set or is empty',
      expect.stringMatching(/^alerts\.channels\[2\]\.token\.file: .*empty-token is empty$/),
      'alerts.routes[0].channel: names no channel ("nowhere"); the channels are "zl", "nt", "tg"',
    ]);
  });

  it('refuses a digest routed to a webhook: a digest is a message for people', () => {
    const found = problems('alerts:\n  channels: [{ name: am, type: webhook, url: "http://am.example.org/hook" }]\n  routes: [{ name: d, channel: am, lang: en, digest: { at: "07:30" } }]\n');
    expect(found.map((p) => p.message)).toEqual(['alerts.routes[0].digest: a digest is a message for people: route it to an email, telegram, zalo or ntfy channel, not the webhook "am"']);
  });

  it('names the channel a route points to even when that channel has problems of its own', () => {
    const found = problems('alerts:\n  channels: [{ name: nt, type: ntfy, topic: "bad topic" }]\n  routes: [{ name: r, channel: nt, lang: vi }]\n');
    expect(found.map((p) => p.path)).toEqual(['alerts.channels[0].topic']);
  });
});
