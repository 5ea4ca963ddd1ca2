/**
 * One HTTP POST to a channel's API (Telegram, Zalo, ntfy), bounded by a timeout and an abort
 * signal, with redirects not followed. Resolves with whatever the server answered (the channel
 * judges it); a timeout or a network failure is a ChannelError. The URL and headers may hold a
 * token (Telegram puts it in the path): every message is scrubbed of the channel's secrets, and
 * the request is named by `what`, which holds none.
 */
import { ChannelError, scrub, scrubError } from './channel-error.js';

/** Bytes of an answer read at most: API answers are small; a gateway's error page is cut. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** Up to 64 KiB of the body, as UTF-8. */
  text: string;
}

export interface PostOptions {
  /** The request for messages, without secrets: `POST telegram "it-team" sendMessage`. */
  what: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Scrubbed from any error message. */
  secrets: readonly string[];
}

export async function httpPost(url: string, init: { headers: Record<string, string>; body: string }, options: PostOptions): Promise<HttpAnswer> {
  const { what, timeoutMs, signal, secrets } = options;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'user-agent': 'speedwatch-collector', ...init.headers },
      body: init.body,
      redirect: 'manual',
      signal: AbortSignal.any([signal, timeout]),
    });
    return { status: res.status, headers: res.headers, text: await readSome(res, MAX_ANSWER_BYTES) };
  } catch (cause) {
    if (signal.aborted) throw cause;
    if (timeout.aborted) {
      throw new ChannelError('SW_CHANNEL_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`, { retryable: true, cause: scrubError(cause, secrets) });
    }
    const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
    const reason = inner?.message === undefined ? String((cause as Error).message) : `${String(inner.code ?? '')} ${String(inner.message)}`.trim();
    throw new ChannelError('SW_CHANNEL_NETWORK', `${what}: ${scrub(reason, secrets)}`, { retryable: true, cause: scrubError(cause, secrets) });
  }
}

/** The answer's body as JSON, or undefined when it is not JSON (a proxy's error page). */
export function jsonOf(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.text) as unknown;
  } catch {
    return undefined;
  }
}

/** A short, one-line excerpt of an answer for an error message. */
export function excerpt(text: string, secrets: readonly string[]): string {
  return scrub(text.replace(/\s+/g, ' ').trim().slice(0, 200), secrets);
}

/** Up to `max` bytes of the body as text; the rest is not read. */
export async function readSome(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    length += value.length;
    if (length >= max) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(parts).toString('utf8', 0, Math.min(length, max));
}
