/**
 * ntfy (https://docs.ntfy.sh/publish/): `POST {baseUrl}/{topic}` with the message as the body
 * and `Title`, `Priority` (1–5), `Tags` and `Click` headers; `Authorization: Bearer <token>` for
 * a protected topic. Header values are bytes: a title with Vietnamese letters is sent as an
 * RFC 2047 encoded word (`=?UTF-8?B?…?=`), which ntfy decodes (since v2.4.0). Success is any 2xx;
 * 401 and 403 mean the token was refused, 429 the server's rate limit.
 */
import type { Channel, Outgoing, PersonMessage } from './channel.js';
import { clip } from './channel.js';
import type { NtfyChannelConfig } from './channel-config.js';
import { ChannelError } from './channel-error.js';
import { excerpt, httpPost } from './http-post.js';

/** ntfy keeps messages up to 4096 bytes as text (longer ones become attachments): a margin for multi-byte letters. */
export const NTFY_MAX_CHARS = 1800;

export class NtfyChannel implements Channel {
  readonly type = 'ntfy';
  readonly alertsPerMessage = 1;
  readonly name: string;
  readonly #config: NtfyChannelConfig;

  constructor(config: NtfyChannelConfig) {
    this.name = config.name;
    this.#config = config;
  }

  async send(out: Outgoing, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const token = this.#config.token?.reveal();
    const secrets = token === undefined ? [] : [token];
    const what = `ntfy channel ${JSON.stringify(this.name)}: publish`;
    const { message } = out;
    const headers: Record<string, string> = {
      'content-type': 'text/plain; charset=utf-8',
      title: headerText(message.subject),
      priority: String(priorityOf(message)),
      tags: tagsOf(message),
      ...(message.link === undefined ? {} : { click: message.link }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    };
    const answer = await httpPost(`${this.#config.baseUrl}/${encodeURIComponent(this.#config.topic)}`, { headers, body: clip(message.text, NTFY_MAX_CHARS) }, { what, timeoutMs, signal, secrets });
    if (answer.status >= 200 && answer.status < 300) return;
    const text = excerpt(answer.text, secrets);
    const detail = `${what}: HTTP ${answer.status}${text === '' ? '' : `: ${text}`}`;
    if (answer.status === 429) throw new ChannelError('SW_CHANNEL_RATE_LIMITED', detail, { retryable: true, status: answer.status, ...retryAfter(answer.headers) });
    if (answer.status === 401 || answer.status === 403) {
      throw new ChannelError('SW_CHANNEL_AUTH', `${detail} (the topic's access token was refused or is missing)`, { retryable: false, status: answer.status });
    }
    throw new ChannelError('SW_CHANNEL_REFUSED', detail, { retryable: answer.status >= 500 || answer.status === 408, status: answer.status });
  }

  close(): void {}
}

/** ntfy's priorities: 5 for a critical alert firing, 4 for a warning firing, 3 (default) otherwise. */
export function priorityOf(message: PersonMessage): number {
  if (message.kind !== 'firing') return 3;
  return message.severity === 'critical' ? 5 : message.severity === 'warning' ? 4 : 3;
}

/** Tags ntfy shows as emoji: a warning sign while firing, a check mark once resolved, a clipboard for a digest. */
export function tagsOf(message: PersonMessage): string {
  return message.kind === 'firing' ? 'warning' : message.kind === 'resolved' ? 'white_check_mark' : 'clipboard';
}

/** A header value: as is when it is printable ASCII, else one RFC 2047 encoded word of its UTF-8 (no line breaks either way). */
export function headerText(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(line) ? line : `=?UTF-8?B?${Buffer.from(line, 'utf8').toString('base64')}?=`;
}

/** `Retry-After` in seconds as a wait, when the server sent one. */
function retryAfter(headers: Headers): { retryAfterMs?: number } {
  const seconds = Number(headers.get('retry-after') ?? Number.NaN);
  return Number.isFinite(seconds) && seconds >= 0 ? { retryAfterMs: seconds * 1000 } : {};
}
