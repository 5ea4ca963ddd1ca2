/**
 * Stand-ins for the chat APIs the alert channels call, on 127.0.0.1 and port 0, that check each
 * request the way the API documents it and answer as the API does, errors included:
 *
 * - Telegram's Bot API (https://core.telegram.org/bots/api#making-requests): `POST
 *   /bot<token>/sendMessage`, a JSON body with `chat_id` and `text` (1–4096 characters); the
 *   answer `{ok: true, result: Message}`, or `{ok: false, error_code, description, parameters?}`:
 *   401 Unauthorized for an unknown token, 404 Not Found for a path that is not a bot token's,
 *   400 for an unknown chat, 429 with `parameters.retry_after`.
 * - Zalo's Official Account API v3, consultation message: `POST /v3.0/oa/message/cs` with the
 *   token in an `access_token` header and `{recipient: {user_id}, message: {text}}` (text at
 *   most 2000 characters); HTTP 200 always, `error` 0 on success, -216 for a bad access token,
 *   -32 over the rate limit, -213 for a user who does not follow the OA.
 * - ntfy (https://docs.ntfy.sh/publish/): `POST /<topic>` with the message as the body, `Title`
 *   (RFC 2047 encoded words decoded), `Priority`, `Tags`, `Click`; `Authorization: Bearer` for a
 *   protected topic (403 without the right token), 429 over the rate limit.
 *
 * A test scripts failures with `failNext`; every request, good or not, is recorded.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The status answered. */
  status: number;
}

interface FakeServer<M> {
  /** `http://127.0.0.1:<port>`, the channel's `baseUrl`. */
  baseUrl: string;
  /** Every request received, in order. */
  requests: Recorded[];
  /** Messages accepted, in order. */
  accepted: M[];
  /** Answers the next requests with these failures, in order, before going back to normal. */
  failNext(...failures: Failure[]): void;
  close(): Promise<void>;
}

/** A scripted failure: a rate limit (with Telegram's retry_after seconds), or a status with a body. */
export type Failure = { kind: 'rate-limit'; retryAfterSeconds?: number } | { kind: 'server-error' } | { kind: 'bad-token' };

export interface TelegramMessage {
  chatId: string | number;
  text: string;
}

export interface ZaloMessage {
  userId: string;
  text: string;
}

export interface NtfyMessage {
  topic: string;
  title: string;
  priority: string;
  tags: string;
  click: string | undefined;
  body: string;
}

async function listen(handler: (req: IncomingMessage, body: string, res: ServerResponse) => number): Promise<{ server: Server; baseUrl: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const status = handler(req, body, res);
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, status });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  return status;
}

/** Telegram's Bot API for one bot (`token`) that may write to the chats listed. */
export async function fakeTelegram(token: string, chats: readonly (string | number)[]): Promise<FakeServer<TelegramMessage>> {
  const accepted: TelegramMessage[] = [];
  const failures: Failure[] = [];
  const fail = (res: ServerResponse, code: number, description: string, extra: Record<string, unknown> = {}): number => answer(res, code, { ok: false, error_code: code, description, ...extra });
  const { server, baseUrl, requests } = await listen((req, body, res) => {
    const match = /^\/bot([^/]+)\/sendMessage$/.exec(req.url ?? '');
    // The Bot API answers 404 to any path that does not name a bot token and a method.
    if (match === null || !/^\d+:[\w-]+$/.test(decodeURIComponent(match[1] as string))) return fail(res, 404, 'Not Found');
    if (req.method !== 'POST') return fail(res, 405, 'Method Not Allowed');
    if (decodeURIComponent(match[1] as string) !== token) return fail(res, 401, 'Unauthorized');
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return fail(res, 400, 'Bad Request: message text is empty');
    let message: { chat_id?: unknown; text?: unknown };
    try {
      message = JSON.parse(body) as typeof message;
    } catch {
      return fail(res, 400, "Bad Request: can't parse JSON");
    }
    const failure = failures.shift();
    if (failure?.kind === 'rate-limit') {
      const seconds = failure.retryAfterSeconds ?? 1;
      return fail(res, 429, `Too Many Requests: retry after ${seconds}`, { parameters: { retry_after: seconds } });
    }
    if (failure?.kind === 'server-error') return fail(res, 502, 'Bad Gateway');
    if (failure?.kind === 'bad-token') return fail(res, 401, 'Unauthorized');
    if (typeof message.chat_id !== 'string' && typeof message.chat_id !== 'number') return fail(res, 400, 'Bad Request: chat_id is empty');
    if (typeof message.text !== 'string' || message.text.length === 0) return fail(res, 400, 'Bad Request: message text is empty');
    if ([...message.text].length > 4096) return fail(res, 400, 'Bad Request: message is too long');
    if (!chats.map(String).includes(String(message.chat_id))) return fail(res, 400, 'Bad Request: chat not found');
    accepted.push({ chatId: message.chat_id, text: message.text });
    return answer(res, 200, { ok: true, result: { message_id: accepted.length, date: Math.floor(Date.now() / 1000), chat: { id: message.chat_id }, text: message.text } });
  });
  return { baseUrl, requests, accepted, failNext: (...f) => failures.push(...f), close: closer(server) };
}

/** Zalo's OA API for one OA (`accessToken`) whose followers are listed. */
export async function fakeZalo(accessToken: string, followers: readonly string[]): Promise<FakeServer<ZaloMessage>> {
  const accepted: ZaloMessage[] = [];
  const failures: Failure[] = [];
  // Zalo answers HTTP 200 with an `error` code whatever went wrong.
  const error = (res: ServerResponse, code: number, message: string): number => answer(res, 200, { error: code, message });
  const { server, baseUrl, requests } = await listen((req, body, res) => {
    if (req.url !== '/v3.0/oa/message/cs' || req.method !== 'POST') return answer(res, 404, { error: 404, message: 'not found' });
    const failure = failures.shift();
    if (failure?.kind === 'server-error') return answer(res, 503, { error: -1, message: 'service unavailable' });
    if (req.headers['access_token'] !== accessToken || failure?.kind === 'bad-token') return error(res, -216, 'Access token is invalid');
    if (failure?.kind === 'rate-limit') return error(res, -32, 'Your application reached limit call api');
    let message: { recipient?: { user_id?: unknown }; message?: { text?: unknown } };
    try {
      message = JSON.parse(body) as typeof message;
    } catch {
      return error(res, -201, 'Parameters invalid');
    }
    const userId = message.recipient?.user_id;
    const text = message.message?.text;
    if (typeof userId !== 'string' || typeof text !== 'string' || text.length === 0 || [...text].length > 2000) return error(res, -201, 'Parameters invalid');
    if (!followers.includes(userId)) return error(res, -213, 'User has not followed OA');
    accepted.push({ userId, text });
    return answer(res, 200, { error: 0, message: 'Success', data: { message_id: randomUUID().replaceAll('-', ''), user_id: userId } });
  });
  return { baseUrl, requests, accepted, failNext: (...f) => failures.push(...f), close: closer(server) };
}

/** An ntfy server; topics listed in `protectedTopics` need `Authorization: Bearer <token>`. */
export async function fakeNtfy(token: string | undefined, protectedTopics: readonly string[] = []): Promise<FakeServer<NtfyMessage>> {
  const accepted: NtfyMessage[] = [];
  const failures: Failure[] = [];
  const { server, baseUrl, requests } = await listen((req, body, res) => {
    const topic = /^\/([-_A-Za-z0-9]{1,64})$/.exec(req.url ?? '')?.[1];
    if (topic === undefined || (req.method !== 'POST' && req.method !== 'PUT')) return answer(res, 404, { code: 40401, http: 404, error: 'page not found' });
    const failure = failures.shift();
    if (failure?.kind === 'rate-limit') return answer(res, 429, { code: 42901, http: 429, error: 'limit reached: too many requests' });
    if (failure?.kind === 'server-error') return answer(res, 500, { code: 50001, http: 500, error: 'internal server error' });
    const authorization = req.headers['authorization'];
    if (authorization !== undefined && (token === undefined || authorization !== `Bearer ${token}` || failure?.kind === 'bad-token')) return answer(res, 401, { code: 40101, http: 401, error: 'unauthorized' });
    if (protectedTopics.includes(topic) && authorization === undefined) return answer(res, 403, { code: 40301, http: 403, error: 'forbidden' });
    const title = decodeWords(String(req.headers['title'] ?? ''));
    const priority = String(req.headers['priority'] ?? '3');
    if (!/^[1-5]$|^(min|low|default|high|urgent|max)$/.test(priority)) return answer(res, 400, { code: 40007, http: 400, error: 'invalid priority' });
    const click = req.headers['click'] === undefined ? undefined : String(req.headers['click']);
    accepted.push({ topic, title, priority, tags: String(req.headers['tags'] ?? ''), click, body });
    return answer(res, 200, { id: randomUUID().slice(0, 12), time: Math.floor(Date.now() / 1000), event: 'message', topic, message: body, title });
  });
  return { baseUrl, requests, accepted, failNext: (...f) => failures.push(...f), close: closer(server) };
}

/** RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?utf-8?q?…?=`) decoded, as ntfy decodes its headers. */
export function decodeWords(value: string): string {
  return value.replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_all, encoding: string, text: string) =>
    encoding.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_h, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
  );
}
