/**
 * Delivers queued notifications to their routes' channels: per route and alert name, as many
 * alerts per message as the channel takes (a webhook groups up to 100, people's channels take
 * one), at most `delivery.concurrency` messages in flight (p-limit), each bounded by
 * `delivery.timeout`. A failed message is tried again after an exponential, jittered delay (or
 * the longer wait the channel asked for: Telegram's `retry_after`), up to `delivery.attempts`
 * times in a round; then its notifications wait in the store for a later round (the next
 * evaluation after their `next_attempt_at`), across restarts too. A route in its quiet hours
 * sends nothing: what is due for it waits, and goes at the first round after the quiet period.
 * Only the channel's acceptance marks a notification delivered.
 */
import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';
import type { Logger } from '@speedwatch/shared';
import type { AlertDelivery } from '../config/collector-config.js';
import type { AlertClock } from './alert-clock.js';
import { quietUntil } from './alert-routes.js';
import type { RouteConfig, RouteLang } from './alert-routes.js';
import type { AlertReads, AlertWrites, DueNotification } from './alert-store.js';
import { alertMessage, digestMessage } from './alert-text.js';
import type { Channel, Outgoing } from './channels/channel.js';
import { ChannelError } from './channels/channel-error.js';
import { isDigest } from './digest.js';
import { backoffDelayMs } from './retry-backoff.js';
import { WebhookError } from './webhook-error.js';
import type { WebhookAlert } from './webhook-payload.js';

/** A route as delivery sees it. */
export interface RouteTarget {
  /** The outbox key (routeKey, or webhookKey for an entry of `alerts.webhooks`). */
  key: string;
  /** The route's name; for an entry of `alerts.webhooks`, its URL's scheme, host and port. */
  name: string;
  channel: Channel;
  lang: RouteLang;
  quietHours?: RouteConfig['quietHours'];
}

export interface NotifierOptions {
  store: Pick<AlertReads, 'due'>;
  writes: Pick<AlertWrites, 'alertsDelivered' | 'alertsFailed'>;
  targets: readonly RouteTarget[];
  delivery: Readonly<AlertDelivery>;
  /** The console's base URL for links and `externalURL`, ending with `/`. */
  externalUrl: () => string;
  /** The collector's time zone: quiet hours and the times messages state. */
  timeZone: string;
  clock: AlertClock;
  /** In [0, 1), for the backoff's jitter. */
  random: () => number;
  logger: Logger;
}

export interface FlushOutcome {
  /** Messages the channels accepted. */
  delivered: number;
  /** Messages that failed every attempt of this round; their notifications wait for a later round. */
  failed: number;
  /** Notifications due but held by their route's quiet hours. */
  held: number;
}

interface Batch {
  target: RouteTarget;
  alertname: string;
  items: DueNotification[];
}

export class RouteNotifier {
  readonly #o: NotifierOptions;
  readonly #byKey: Map<string, RouteTarget>;
  readonly #limit: LimitFunction;

  constructor(options: NotifierOptions) {
    this.#o = options;
    this.#byKey = new Map(options.targets.map((t) => [t.key, t]));
    this.#limit = pLimit(options.delivery.concurrency);
  }

  /** When the route's quiet period in progress ends (ms), or undefined when it is not quiet at `now`. */
  heldUntil(key: string, now: number): number | undefined {
    return quietUntil(this.#byKey.get(key)?.quietHours, now, this.#o.timeZone);
  }

  /**
   * One round: every due notification of a route not in its quiet hours, grouped and sent.
   * Resolves when each message is delivered, has failed its round, or was cut short by
   * `signal` (left queued as it was).
   */
  async flush(signal: AbortSignal): Promise<FlushOutcome> {
    const now = this.#o.clock.now();
    let held = 0;
    const quiet = new Map<string, boolean>(); // per route, once a round: a zone's time is not free to compute
    const due = this.#o.store.due(now).filter((item) => {
      let q = quiet.get(item.route);
      if (q === undefined) {
        q = this.heldUntil(item.route, now) !== undefined;
        quiet.set(item.route, q);
      }
      if (q) held++;
      return !q;
    });
    const results = await Promise.all(this.#batches(due).map((batch) => this.#limit(() => this.#deliver(batch, signal))));
    return { delivered: results.filter((r) => r === 'delivered').length, failed: results.filter((r) => r === 'failed').length, held };
  }

  #batches(due: readonly DueNotification[]): Batch[] {
    const batches: Batch[] = [];
    let current: Batch | undefined;
    for (const item of due) {
      const target = this.#byKey.get(item.route);
      if (target === undefined) continue; // dropped from the config; forgotten at start
      if (current === undefined || current.target !== target || current.alertname !== item.alertname || current.items.length >= target.channel.alertsPerMessage) {
        current = { target, alertname: item.alertname, items: [] };
        batches.push(current);
      }
      current.items.push(item);
    }
    return batches;
  }

  #outgoing(batch: Batch): Outgoing {
    const externalUrl = this.#o.externalUrl();
    const ctx = { lang: batch.target.lang, timeZone: this.#o.timeZone, externalUrl };
    const [first] = batch.items;
    const alerts = batch.items.flatMap(({ status, alert }) => (isDigest(alert) ? [] : [{ status, alert }]));
    const message =
      first !== undefined && isDigest(first.alert)
        ? digestMessage(first.alert, ctx)
        : alertMessage(first?.status ?? 'firing', (first?.alert ?? alerts[0]?.alert) as WebhookAlert, ctx);
    return { alertname: batch.alertname, alerts, externalUrl, message };
  }

  async #deliver(batch: Batch, signal: AbortSignal): Promise<'delivered' | 'failed' | 'aborted'> {
    const { writes, delivery, clock, random } = this.#o;
    const { target } = batch;
    const log = this.#o.logger.child({ route: target.name, routeKey: target.key, channel: target.channel.name, channelType: target.channel.type, alertname: batch.alertname });
    const keys = batch.items.map(({ route, fingerprint, seq }) => ({ route, fingerprint, seq }));
    const out = this.#outgoing(batch);
    let made = 0;
    let error: WebhookError | ChannelError;
    for (;;) {
      if (signal.aborted) return 'aborted';
      made++;
      try {
        await target.channel.send(out, delivery.timeoutMs, signal);
        await writes.alertsDelivered(keys, clock.now(), made);
        log.info({ event: 'notification-delivered', status: out.message.kind, alerts: keys.length, attempts: made }, 'alert notification delivered');
        return 'delivered';
      } catch (err) {
        if (signal.aborted) return 'aborted';
        if (!(err instanceof WebhookError) && !(err instanceof ChannelError)) throw err;
        error = err;
      }
      if (!error.retryable || made >= delivery.attempts) break;
      const delayMs = Math.max(backoffDelayMs(made, delivery, random), retryAfterOf(error));
      if (delayMs > delivery.maxBackoffMs) break; // the channel asks for a longer wait than a round holds: a later round
      log.warn({ event: 'notification-retry', err: error, attempt: made, delayMs }, 'alert notification failed; retrying');
      try {
        await clock.sleep(delayMs, signal);
      } catch {
        return 'aborted';
      }
    }
    const attempts = Math.max(...batch.items.map((item) => item.attempts)) + made;
    const nextAttemptAt = clock.now() + Math.max(backoffDelayMs(attempts, delivery, random), retryAfterOf(error));
    await writes.alertsFailed(keys, { attempts, nextAttemptAt, error: `${error.code}: ${error.message}` });
    log.error(
      { event: 'notification-failed', err: error, alerts: keys.length, attempts, nextAttemptAt: new Date(nextAttemptAt).toISOString() },
      'alert notification not delivered; it stays queued',
    );
    return 'failed';
  }
}

/** The wait a channel asked for (ms), 0 when none. */
function retryAfterOf(error: WebhookError | ChannelError): number {
  return error instanceof ChannelError ? (error.retryAfterMs ?? 0) : 0;
}
