/**
 * An Alertmanager-style webhook: one POST of Alertmanager's webhook message (version 4,
 * webhook-payload.ts) per alert name, up to `alertsPerMessage` alerts each, delivered on a 2xx
 * answer only; redirects are not followed. Its URL often carries a secret in its path or query:
 * it is named by scheme, host and port only (`redactUrl`) in every message, and its full form is
 * scrubbed from fetch's own errors (which quote it).
 */
import type { Channel, Outgoing } from './channel.js';
import { readSome } from './http-post.js';
import { WebhookError } from '../webhook-error.js';
import { webhookMessage } from '../webhook-payload.js';

/** Bytes of a failed answer's body kept for the error message. */
const ERROR_BODY_BYTES = 200;

/** `https://hooks.example.com/…`: scheme, host and port only (paths and queries often carry tokens). */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  const hidden = parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '';
  return `${parsed.protocol}//${parsed.host}/${hidden ? '…' : ''}`;
}

export class WebhookChannel implements Channel {
  readonly type = 'webhook';
  readonly name: string;
  readonly alertsPerMessage: number;
  readonly #url: string;
  /** The URL as messages show it. */
  readonly redacted: string;

  /** `name`: the configured name; default the redacted URL (an entry of `alerts.webhooks`). */
  constructor(url: string, options: { name?: string; alertsPerMessage?: number } = {}) {
    this.#url = url;
    this.redacted = redactUrl(url);
    this.name = options.name ?? this.redacted;
    this.alertsPerMessage = options.alertsPerMessage ?? 100;
  }

  async send(out: Outgoing, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(webhookMessage(out.alertname, out.alerts, out.externalUrl));
    const timeout = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'speedwatch-collector' },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, timeout]),
      });
      status = res.status;
      text = await readSome(res, ERROR_BODY_BYTES);
    } catch (cause) {
      if (signal.aborted) throw cause;
      if (timeout.aborted) {
        throw new WebhookError('SW_WEBHOOK_TIMEOUT', `POST ${this.redacted}: no answer within ${timeoutMs} ms`, { retryable: true, cause: this.#withoutUrlInError(cause) });
      }
      const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
      const reason = inner?.message === undefined ? String((cause as Error).message) : `${String(inner.code ?? '')} ${String(inner.message)}`.trim();
      throw new WebhookError('SW_WEBHOOK_NETWORK', `POST ${this.redacted}: ${this.#withoutUrl(reason)}`, { retryable: true, cause: this.#withoutUrlInError(cause) });
    }
    if (status >= 200 && status < 300) return;
    const detail = status >= 300 && status < 400 ? ' (redirects are not followed: configure the final URL)' : text === '' ? '' : `: ${text.replace(/\s+/g, ' ')}`;
    throw new WebhookError('SW_WEBHOOK_STATUS', `POST ${this.redacted}: HTTP ${status}${detail}`, {
      status,
      retryable: status >= 500 || status === 408 || status === 429,
    });
  }

  close(): void {}

  /**
   * `text` with the full URL replaced by its redacted form: fetch's own messages quote it
   * ("Request cannot be constructed from a URL that includes credentials: http://user:pass@…"),
   * and a message is logged and stored as `lastError`.
   */
  #withoutUrl(text: string): string {
    return text.replaceAll(this.#url, this.redacted).replaceAll(new URL(this.#url).href, this.redacted);
  }

  /** `err` with the URL redacted from its message and stack and those of its causes, changed in place (the error is this call's own). */
  #withoutUrlInError(err: unknown): unknown {
    for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
      for (const key of ['message', 'stack'] as const) {
        const text = e[key];
        const redacted = typeof text === 'string' ? this.#withoutUrl(text) : text;
        if (redacted !== text) Object.defineProperty(e, key, { value: redacted, writable: true, configurable: true, enumerable: false });
      }
    }
    return err;
  }
}
