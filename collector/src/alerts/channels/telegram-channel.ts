/**
 * Telegram, through the Bot API's `sendMessage` (https://core.telegram.org/bots/api#sendmessage):
 * `POST {baseUrl}/bot<token>/sendMessage` with the JSON `{chat_id, text}`, plain text (no
 * `parse_mode`, so nothing in a site's name needs escaping). The answer is `{ok: true, result}`,
 * or `{ok: false, error_code, description, parameters?}`: 429 carries `parameters.retry_after`
 * (seconds), which the next attempt waits for; 401, and 404 for a token of the wrong form, mean
 * the token is refused. The token is in the URL's path: never logged, scrubbed from errors.
 */
import type { Channel, Outgoing } from './channel.js';
import { chatText } from './channel.js';
import type { TelegramChannelConfig } from './channel-config.js';
import { ChannelError } from './channel-error.js';
import { excerpt, httpPost, jsonOf } from './http-post.js';

/** Telegram's limit on a message's text, in characters. */
export const TELEGRAM_MAX_CHARS = 4096;

export class TelegramChannel implements Channel {
  readonly type = 'telegram';
  readonly alertsPerMessage = 1;
  readonly name: string;
  readonly #config: TelegramChannelConfig;

  constructor(config: TelegramChannelConfig) {
    this.name = config.name;
    this.#config = config;
  }

  async send(out: Outgoing, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const token = this.#config.token.reveal();
    const secrets = [token];
    const what = `telegram channel ${JSON.stringify(this.name)}: sendMessage`;
    const answer = await httpPost(
      `${this.#config.baseUrl}/bot${token}/sendMessage`,
      { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ chat_id: this.#config.chatId, text: chatText(out.message, TELEGRAM_MAX_CHARS) }) },
      { what, timeoutMs, signal, secrets },
    );
    const body = jsonOf(answer) as { ok?: unknown; error_code?: unknown; description?: unknown; parameters?: { retry_after?: unknown } } | undefined;
    if (answer.status >= 200 && answer.status < 300 && body?.ok === true) return;
    const code = typeof body?.error_code === 'number' ? body.error_code : answer.status;
    const description = typeof body?.description === 'string' ? excerpt(body.description, secrets) : excerpt(answer.text, secrets);
    const detail = `${what}: HTTP ${answer.status}${description === '' ? '' : `: ${description}`}`;
    if (code === 429) {
      const seconds = body?.parameters?.retry_after;
      const retryAfterMs = typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
      throw new ChannelError('SW_CHANNEL_RATE_LIMITED', detail, { retryable: true, status: answer.status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    }
    if (code === 401 || code === 404) {
      throw new ChannelError('SW_CHANNEL_AUTH', `${detail} (the bot token was refused: check the channel's token)`, { retryable: false, status: answer.status });
    }
    throw new ChannelError('SW_CHANNEL_REFUSED', detail, { retryable: answer.status >= 500 || answer.status === 408, status: answer.status });
  }

  close(): void {}
}
