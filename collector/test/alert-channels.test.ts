/**
 * The channels read by people, one message at a time, against stand-ins of their APIs on
 * loopback that check each request as the API documents it (channel-servers.ts): what reaches
 * the server (path, method, JSON body, where the token goes), and how each error answer becomes
 * a ChannelError the notifier can act on (retry now, wait the time asked for, or wait for a
 * later round). The retries themselves are the notifier's: alerts-routes.test.ts.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Outgoing, PersonMessage } from '../src/alerts/channels/channel.js';
import { chatText } from '../src/alerts/channels/channel.js';
import { ChannelError } from '../src/alerts/channels/channel-error.js';
import { NtfyChannel, headerText } from '../src/alerts/channels/ntfy-channel.js';
import { TelegramChannel } from '../src/alerts/channels/telegram-channel.js';
import { ZaloChannel } from '../src/alerts/channels/zalo-channel.js';
import { Secret } from '../src/config/secret.js';
import { decodeWords, fakeNtfy, fakeTelegram, fakeZalo } from './channel-servers.js';
import { freePort } from './util.js';

const BOT_TOKEN = '123456789:AAE-telegram-test-token_0123456789';
const ZALO_TOKEN = 'zalo-oa-access-token-0123456789abcdef';
const NTFY_TOKEN = 'tk_ntfytesttoken0123456789abcd';

const message: PersonMessage = {
  subject: 'Điểm đo dưới chỉ tiêu: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc)',
  text: 'Trường THCS Hợp Thành (school-1) không đạt chỉ tiêu băng rộng cố định.\nTrang điểm đo: http://console.example/#/site/school-1',
  link: 'http://console.example/#/site/school-1',
  kind: 'firing',
  severity: 'warning',
};
const outgoing: Outgoing = { alertname: 'SpeedwatchSiteBelowTarget', alerts: [], externalUrl: 'http://console.example/', message };

/** The ChannelError `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<ChannelError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChannelError);
  return err as ChannelError;
}

const send = (channel: { send: (o: Outgoing, t: number, s: AbortSignal) => Promise<void> }, out = outgoing): Promise<void> => channel.send(out, 2_000, new AbortController().signal);

describe('TelegramChannel', () => {
  async function setup(token = BOT_TOKEN) {
    const server = await fakeTelegram(BOT_TOKEN, ['-1001234567890']);
    onTestFinished(() => server.close());
    const channel = new TelegramChannel({ type: 'telegram', name: 'it-team', baseUrl: server.baseUrl, token: new Secret(token, 'env TG'), chatId: '-1001234567890' });
    return { server, channel };
  }

  it('posts sendMessage to /bot<token>/ with chat_id and the text as JSON, and takes ok: true', async () => {
    const { server, channel } = await setup();
    await send(channel);
    expect(server.requests).toMatchObject([{ method: 'POST', path: `/bot${BOT_TOKEN}/sendMessage`, status: 200, headers: { 'content-type': 'application/json' } }]);
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ chat_id: '-1001234567890', text: `${message.subject}\n\n${message.text}` });
    expect(server.accepted).toEqual([{ chatId: '-1001234567890', text: `${message.subject}\n\n${message.text}` }]);
  });

  it('turns 429 into SW_CHANNEL_RATE_LIMITED carrying parameters.retry_after as a wait', async () => {
    const { server, channel } = await setup();
    server.failNext({ kind: 'rate-limit', retryAfterSeconds: 7 });
    const err = await failure(send(channel));
    expect(err).toMatchObject({ code: 'SW_CHANNEL_RATE_LIMITED', retryable: true, retryAfterMs: 7000, status: 429 });
    expect(err.message).toContain('Too Many Requests: retry after 7');
  });

  it('turns a refused token (401) and a malformed one (404) into SW_CHANNEL_AUTH, not retried, with no token in the message', async () => {
    const wrong = await setup('987654321:AAE-not-the-right-token_01234');
    const refused = await failure(send(wrong.channel));
    expect(refused).toMatchObject({ code: 'SW_CHANNEL_AUTH', retryable: false, status: 401 });
    const malformed = await setup('not a bot token at all');
    const notFound = await failure(send(malformed.channel));
    expect(notFound).toMatchObject({ code: 'SW_CHANNEL_AUTH', retryable: false, status: 404 });
    for (const err of [refused, notFound]) expect(`${err.message} ${err.stack ?? ''}`).not.toMatch(/AAE-|not a bot token/);
  });

  it('turns an unknown chat (400) into SW_CHANNEL_REFUSED, not retried, and a 502 into one that is', async () => {
    const server = await fakeTelegram(BOT_TOKEN, ['42']);
    onTestFinished(() => server.close());
    const channel = new TelegramChannel({ type: 'telegram', name: 'it-team', baseUrl: server.baseUrl, token: new Secret(BOT_TOKEN, 'env TG'), chatId: '-1'});
    expect(await failure(send(channel))).toMatchObject({ code: 'SW_CHANNEL_REFUSED', retryable: false, message: expect.stringContaining('chat not found') });
    server.failNext({ kind: 'server-error' });
    expect(await failure(send(channel))).toMatchObject({ code: 'SW_CHANNEL_REFUSED', retryable: true, status: 502 });
  });

  it('keeps a long message under 4096 characters, the link still last', () => {
    const long: PersonMessage = { ...message, text: `${'Trạm Y tế số 1 dưới chỉ tiêu\n'.repeat(400)}${message.link ?? ''}` };
    const text = chatText(long, 4096);
    expect([...text].length).toBeLessThanOrEqual(4096);
    expect(text.endsWith(`…\n${message.link ?? ''}`)).toBe(true);
  });

  it('says SW_CHANNEL_NETWORK when nothing listens, without the token in the message', async () => {
    const port = await freePort();
    const channel = new TelegramChannel({ type: 'telegram', name: 'it-team', baseUrl: `http://127.0.0.1:${port}`, token: new Secret(BOT_TOKEN, 'env TG'), chatId: '1' });
    const err = await failure(send(channel));
    expect(err).toMatchObject({ code: 'SW_CHANNEL_NETWORK', retryable: true });
    expect(`${err.message} ${err.stack ?? ''} ${String((err.cause as Error | undefined)?.stack)}`).not.toContain('AAE-telegram');
  });
});

describe('ZaloChannel', () => {
  async function setup(token = ZALO_TOKEN, userId = 'user-4242') {
    const server = await fakeZalo(ZALO_TOKEN, ['user-4242']);
    onTestFinished(() => server.close());
    const channel = new ZaloChannel({ type: 'zalo', name: 'phong-gd', baseUrl: server.baseUrl, accessToken: new Secret(token, 'file /run/zalo'), userId });
    return { server, channel };
  }

  it('posts to /v3.0/oa/message/cs with the access_token header and {recipient: {user_id}, message: {text}}', async () => {
    const { server, channel } = await setup();
    await send(channel);
    expect(server.requests).toMatchObject([{ method: 'POST', path: '/v3.0/oa/message/cs', status: 200, headers: { access_token: ZALO_TOKEN, 'content-type': 'application/json' } }]);
    expect(server.requests[0]?.headers['authorization']).toBeUndefined();
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ recipient: { user_id: 'user-4242' }, message: { text: `${message.subject}\n\n${message.text}` } });
    expect(server.accepted).toHaveLength(1);
  });

  it('reads the error inside an HTTP 200: -216 is SW_CHANNEL_AUTH, -32 SW_CHANNEL_RATE_LIMITED, -213 SW_CHANNEL_REFUSED', async () => {
    const wrong = await setup('not-the-oa-access-token-000000');
    const auth = await failure(send(wrong.channel));
    expect(auth).toMatchObject({ code: 'SW_CHANNEL_AUTH', retryable: false, status: 200, message: expect.stringContaining('error -216: Access token is invalid') });
    expect(auth.message).not.toContain('not-the-oa-access-token');

    const { server, channel } = await setup();
    server.failNext({ kind: 'rate-limit' });
    expect(await failure(send(channel))).toMatchObject({ code: 'SW_CHANNEL_RATE_LIMITED', retryable: true, message: expect.stringContaining('error -32') });

    const stranger = await setup(ZALO_TOKEN, 'user-who-does-not-follow');
    expect(await failure(send(stranger.channel))).toMatchObject({ code: 'SW_CHANNEL_REFUSED', retryable: false, message: expect.stringContaining('error -213: User has not followed OA') });
  });

  it('retries a gateway 503 within the round', async () => {
    const { server, channel } = await setup();
    server.failNext({ kind: 'server-error' });
    expect(await failure(send(channel))).toMatchObject({ code: 'SW_CHANNEL_REFUSED', retryable: true, status: 503 });
  });
});

describe('NtfyChannel', () => {
  it('posts the text to /<topic> with Title (RFC 2047 for Vietnamese), Priority, Tags, Click and the bearer token', async () => {
    const server = await fakeNtfy(NTFY_TOKEN, ['caoloc-it']);
    onTestFinished(() => server.close());
    const channel = new NtfyChannel({ type: 'ntfy', name: 'phones', baseUrl: server.baseUrl, topic: 'caoloc-it', token: new Secret(NTFY_TOKEN, 'env NTFY') });
    await send(channel);
    await send(channel, { ...outgoing, message: { ...message, kind: 'resolved', subject: 'Back on target' } });
    expect(server.requests.map((r) => [r.method, r.path, r.status, r.headers['authorization']])).toEqual([
      ['POST', '/caoloc-it', 200, `Bearer ${NTFY_TOKEN}`],
      ['POST', '/caoloc-it', 200, `Bearer ${NTFY_TOKEN}`],
    ]);
    expect(server.requests[0]?.headers['title']).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
    expect(server.accepted).toEqual([
      { topic: 'caoloc-it', title: message.subject, priority: '4', tags: 'warning', click: message.link, body: message.text },
      { topic: 'caoloc-it', title: 'Back on target', priority: '3', tags: 'white_check_mark', click: message.link, body: message.text },
    ]);
  });

  it('says SW_CHANNEL_AUTH for a protected topic without the right token, and SW_CHANNEL_RATE_LIMITED for 429', async () => {
    const server = await fakeNtfy(NTFY_TOKEN, ['caoloc-it']);
    onTestFinished(() => server.close());
    const open = new NtfyChannel({ type: 'ntfy', name: 'phones', baseUrl: server.baseUrl, topic: 'caoloc-it' });
    expect(await failure(send(open))).toMatchObject({ code: 'SW_CHANNEL_AUTH', retryable: false, status: 403 });
    const wrong = new NtfyChannel({ type: 'ntfy', name: 'phones', baseUrl: server.baseUrl, topic: 'caoloc-it', token: new Secret('tk_wrongwrongwrongwrong', 'env NTFY') });
    const refused = await failure(send(wrong));
    expect(refused).toMatchObject({ code: 'SW_CHANNEL_AUTH', status: 401 });
    expect(refused.message).not.toContain('tk_wrong');
    const good = new NtfyChannel({ type: 'ntfy', name: 'phones', baseUrl: server.baseUrl, topic: 'caoloc-it', token: new Secret(NTFY_TOKEN, 'env NTFY') });
    server.failNext({ kind: 'rate-limit' });
    expect(await failure(send(good))).toMatchObject({ code: 'SW_CHANNEL_RATE_LIMITED', retryable: true, status: 429 });
  });

  it('sends ASCII titles as they are and encodes the others as one encoded word', () => {
    expect(headerText('Site below target')).toBe('Site below target');
    expect(decodeWords(headerText('Trạm Y tế: dưới chỉ tiêu'))).toBe('Trạm Y tế: dưới chỉ tiêu');
    expect(headerText('two\r\nlines')).toBe('two lines');
  });
});

describe('Secret', () => {
  it('shows where it came from, never its value, when logged or printed', () => {
    const secret = new Secret('super-secret-value-0123', 'env SPEEDWATCH_TOKEN');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[secret from env SPEEDWATCH_TOKEN]"}');
    expect(`${String(secret)}`).toBe('[secret from env SPEEDWATCH_TOKEN]');
    expect(secret.reveal()).toBe('super-secret-value-0123');
  });
});
