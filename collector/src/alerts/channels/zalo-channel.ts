/**
 * Zalo, through the Official Account API's consultation message, v3
 * (developers.zalo.me, Official Account API, "Gửi tin Tư vấn"): `POST {baseUrl}/v3.0/oa/message/cs`
 * with the OA's access token in an `access_token` header (not `Authorization`) and the JSON
 * `{recipient: {user_id}, message: {text}}`, text at most 2000 characters. Zalo answers HTTP 200
 * whether or not it sent the message: success is `{"error": 0, "message": "Success", "data":
 * {"message_id", "user_id"}}`, failure an `error` other than 0 with its `message`: -216 is an
 * invalid or expired access token, -32 the API's rate limit. See docs/alerts.md#zalo for the
 * sources this is taken from.
 */
import type { Channel, Outgoing } from './channel.js';
import { chatText } from './channel.js';
import type { ZaloChannelConfig } from './channel-config.js';
import { ChannelError } from './channel-error.js';
import { excerpt, httpPost, jsonOf } from './http-post.js';

/** The limit on a consultation message's text, in characters. */
export const ZALO_MAX_CHARS = 2000;
/** Zalo's `error` for an access token that is invalid or has expired. */
export const ZALO_INVALID_TOKEN = -216;
/** Zalo's `error` for calls over the app's rate limit. */
export const ZALO_RATE_LIMITED = -32;

export class ZaloChannel implements Channel {
  readonly type = 'zalo';
  readonly alertsPerMessage = 1;
  readonly name: string;
  readonly #config: ZaloChannelConfig;

  constructor(config: ZaloChannelConfig) {
    this.name = config.name;
    this.#config = config;
  }

  async send(out: Outgoing, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const token = this.#config.accessToken.reveal();
    const secrets = [token];
    const what = `zalo channel ${JSON.stringify(this.name)}: message/cs`;
    const answer = await httpPost(
      `${this.#config.baseUrl}/v3.0/oa/message/cs`,
      {
        headers: { 'content-type': 'application/json', access_token: token },
        body: JSON.stringify({ recipient: { user_id: this.#config.userId }, message: { text: chatText(out.message, ZALO_MAX_CHARS) } }),
      },
      { what, timeoutMs, signal, secrets },
    );
    if (answer.status < 200 || answer.status >= 300) {
      const text = excerpt(answer.text, secrets);
      throw new ChannelError('SW_CHANNEL_REFUSED', `${what}: HTTP ${answer.status}${text === '' ? '' : `: ${text}`}`, { retryable: answer.status >= 500 || answer.status === 408 || answer.status === 429, status: answer.status });
    }
    const body = jsonOf(answer) as { error?: unknown; message?: unknown } | undefined;
    if (body?.error === 0) return;
    if (typeof body?.error !== 'number') {
      throw new ChannelError('SW_CHANNEL_REFUSED', `${what}: an answer without Zalo's "error" field: ${excerpt(answer.text, secrets)}`, { retryable: true, status: answer.status });
    }
    const detail = `${what}: error ${body.error}${typeof body.message === 'string' ? `: ${excerpt(body.message, secrets)}` : ''}`;
    if (body.error === ZALO_INVALID_TOKEN) {
      throw new ChannelError('SW_CHANNEL_AUTH', `${detail} (the access token is invalid or expired: refresh it)`, { retryable: false, status: answer.status });
    }
    if (body.error === ZALO_RATE_LIMITED) throw new ChannelError('SW_CHANNEL_RATE_LIMITED', detail, { retryable: true, status: answer.status });
    throw new ChannelError('SW_CHANNEL_REFUSED', detail, { retryable: false, status: answer.status });
  }

  close(): void {}
}
