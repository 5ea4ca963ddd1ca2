/**
 * Delivers queued notifications to the webhooks: one POST per webhook and alert name (at most
 * `maxAlertsPerPost` alerts each), at most `delivery.concurrency` in flight (p-limit), each
 * bounded by `delivery.timeout`. A failed POST is tried again after an exponential, jittered
 * delay, up to `delivery.attempts` times in a round; then the notifications wait in the store
 * for a later round (the next evaluation after their `next_attempt_at`), across restarts too.
 * Only a 2xx answer marks a notification delivered.
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';
import type { Logger } from '@speedwatch/shared';
import type { AlertDelivery } from '../config/collector-config.js';
import type { AlertClock } from './alert-clock.js';
import type { AlertReads, AlertWrites, DueNotification } from './alert-store.js';
import { backoffDelayMs } from './retry-backoff.js';
import { WebhookError } from './webhook-error.js';
import { webhookMessage } from './webhook-payload.js';

/** A configured receiver. */
export interface Webhook {
  /** Stable key in the store: a hash of the URL, so the URL (often holding a secret) is not stored. */
  id: string;
  url: string;
  /** The URL without path, query or credentials, for logs and the API. */
  redacted: string;
}

export function webhookFromUrl(url: string): Webhook {
  return { id: createHash('sha256').update(url).digest('hex').slice(0, 16), url, redacted: redactUrl(url) };
}

/** `https://hooks.example.com/…`: scheme, host and port only (paths and queries often carry tokens). */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  const hidden = parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '';
  return `${parsed.protocol}//${parsed.host}/${hidden ? '…' : ''}`;
}

export interface NotifierOptions {
  store: Pick<AlertReads, 'due'>;
  writes: Pick<AlertWrites, 'alertsDelivered' | 'alertsFailed'>;
  webhooks: readonly Webhook[];
  delivery: Readonly<AlertDelivery>;
  /** Base URL for `externalURL` and `generatorURL`, ending with `/`. */
  externalUrl: () => string;
  clock: AlertClock;
  /** In [0, 1), for the backoff's jitter. */
  random: () => number;
  logger: Logger;
  /** Alerts in one POST; a larger group goes in several. Default 100. */
  maxAlertsPerPost?: number;
}

export interface FlushOutcome {
  /** POSTs answered with 2xx. */
  delivered: number;
  /** POSTs that failed every attempt of this round; their notifications wait for a later round. */
  failed: number;
}

interface Batch {
  webhook: Webhook;
  alertname: string;
  items: DueNotification[];
}

/** Bytes of a failed answer's body kept for the error message. */
const ERROR_BODY_BYTES = 200;

export class WebhookNotifier {
  readonly #o: NotifierOptions;
  readonly #byId: Map<string, Webhook>;
  readonly #limit: LimitFunction;
  readonly #maxAlertsPerPost: number;

  constructor(options: NotifierOptions) {
    this.#o = options;
    this.#byId = new Map(options.webhooks.map((w) => [w.id, w]));
    this.#limit = pLimit(options.delivery.concurrency);
    this.#maxAlertsPerPost = options.maxAlertsPerPost ?? 100;
  }

  /**
   * One round: every due notification, grouped and POSTed. Resolves when each POST is
   * delivered, has failed its round, or was cut short by `signal` (left queued as it was).
   */
  async flush(signal: AbortSignal): Promise<FlushOutcome> {
    const batches = this.#batches(this.#o.store.due(this.#o.clock.now()));
    const results = await Promise.all(batches.map((batch) => this.#limit(() => this.#deliver(batch, signal))));
    return {
      delivered: results.filter((r) => r === 'delivered').length,
      failed: results.filter((r) => r === 'failed').length,
    };
  }

  #batches(due: readonly DueNotification[]): Batch[] {
    const batches: Batch[] = [];
    let current: Batch | undefined;
    for (const item of due) {
      const webhook = this.#byId.get(item.webhook);
      if (webhook === undefined) continue; // dropped from the config; forgotten at start
      if (current === undefined || current.webhook !== webhook || current.alertname !== item.alertname || current.items.length >= this.#maxAlertsPerPost) {
        current = { webhook, alertname: item.alertname, items: [] };
        batches.push(current);
      }
      current.items.push(item);
    }
    return batches;
  }

  async #deliver(batch: Batch, signal: AbortSignal): Promise<'delivered' | 'failed' | 'aborted'> {
    const { writes, delivery, clock, random } = this.#o;
    const log = this.#o.logger.child({ webhook: batch.webhook.redacted, webhookId: batch.webhook.id, alertname: batch.alertname });
    const keys = batch.items.map(({ webhook, fingerprint, seq }) => ({ webhook, fingerprint, seq }));
    const message = webhookMessage(batch.alertname, batch.items.map(({ status, alert }) => ({ status, alert })), this.#o.externalUrl());
    const body = JSON.stringify(message);
    let made = 0;
    let error: WebhookError;
    for (;;) {
      if (signal.aborted) return 'aborted';
      made++;
      try {
        await post(batch.webhook, body, delivery.timeoutMs, signal);
        await writes.alertsDelivered(keys, clock.now(), made);
        log.info({ event: 'webhook-delivered', status: message.status, alerts: keys.length, attempts: made }, 'alert notification delivered');
        return 'delivered';
      } catch (err) {
        if (signal.aborted) return 'aborted';
        if (!(err instanceof WebhookError)) throw err;
        error = err;
      }
      if (!error.retryable || made >= delivery.attempts) break;
      const delayMs = backoffDelayMs(made, delivery, random);
      log.warn({ event: 'webhook-retry', err: error, attempt: made, delayMs }, 'alert notification failed; retrying');
      try {
        await clock.sleep(delayMs, signal);
      } catch {
        return 'aborted';
      }
    }
    const attempts = Math.max(...batch.items.map((item) => item.attempts)) + made;
    const nextAttemptAt = clock.now() + backoffDelayMs(attempts, delivery, random);
    await writes.alertsFailed(keys, { attempts, nextAttemptAt, error: `${error.code}: ${error.message}` });
    log.error(
      { event: 'webhook-failed', err: error, alerts: keys.length, attempts, nextAttemptAt: new Date(nextAttemptAt).toISOString() },
      'alert notification not delivered; it stays queued',
    );
    return 'failed';
  }
}

/** One POST; resolves on 2xx, throws WebhookError otherwise (or the abort error when `signal` aborts). */
async function post(webhook: Webhook, body: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(timeoutMs);
  let status: number;
  let text: string;
  try {
    const res = await fetch(webhook.url, {
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
      throw new WebhookError('SW_WEBHOOK_TIMEOUT', `POST ${webhook.redacted}: no answer within ${timeoutMs} ms`, { retryable: true, cause: withoutUrlInError(cause, webhook) });
    }
    const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
    const reason = inner?.message === undefined ? String((cause as Error).message) : `${String(inner.code ?? '')} ${String(inner.message)}`.trim();
    throw new WebhookError('SW_WEBHOOK_NETWORK', `POST ${webhook.redacted}: ${withoutUrl(reason, webhook)}`, { retryable: true, cause: withoutUrlInError(cause, webhook) });
  }
  if (status >= 200 && status < 300) return;
  const detail = status >= 300 && status < 400 ? ' (redirects are not followed: configure the final URL)' : text === '' ? '' : `: ${text.replace(/\s+/g, ' ')}`;
  throw new WebhookError('SW_WEBHOOK_STATUS', `POST ${webhook.redacted}: HTTP ${status}${detail}`, {
    status,
    retryable: status >= 500 || status === 408 || status === 429,
  });
}

/**
 * `text` with the webhook's full URL replaced by its redacted form: fetch's own messages quote
 * it ("Request cannot be constructed from a URL that includes credentials: http://user:pass@…"),
 * and a message is logged and stored as `lastError`.
 */
function withoutUrl(text: string, webhook: Webhook): string {
  return text.replaceAll(webhook.url, webhook.redacted).replaceAll(new URL(webhook.url).href, webhook.redacted);
}

/**
 * `err` with the webhook's full URL redacted from its message and stack, and from those of its
 * causes: a WebhookError's cause is logged with it (stack and cause chain included). Changed in
 * place: the error is this call's own.
 */
function withoutUrlInError(err: unknown, webhook: Webhook): unknown {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    for (const key of ['message', 'stack'] as const) {
      const text = e[key];
      const redacted = typeof text === 'string' ? withoutUrl(text, webhook) : text;
      if (redacted !== text) Object.defineProperty(e, key, { value: redacted, writable: true, configurable: true, enumerable: false });
    }
  }
  return err;
}

/** Up to `max` bytes of the body as text; the rest is not read. */
async function readSome(res: Response, max: number): Promise<string> {
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
