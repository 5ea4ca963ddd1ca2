/**
 * The collector's own alerts, for teams without Alertmanager: the owner of the evaluation
 * timer and of delivery rounds. Each evaluation reads what the rules need (agents, their latest
 * results, connections, cached verdicts, the refusal counter), decides pending and firing,
 * writes the changes and the notifications they queue in one transaction, then runs a delivery
 * round. Serves `/api/v1/alerts`. See docs/alerts.md.
 */
import { ValidationError } from '@speedwatch/shared';
import type { Logger } from '@speedwatch/shared';
import type { AlertDeliveriesAnswer, AlertsAnswer, AlertView } from '../api/alerts-wire.js';
import type { AlertsConfig } from '../config/collector-config.js';
import type { AgentHealthRecord, AgentRecord } from '../store/store-types.js';
import type { AgentActivity } from './alert-rules.js';
import type { CollectorTarget } from '../verdict/verdict-config.js';
import type { AgentVerdict } from '../verdict/verdicts.js';
import { SYSTEM_CLOCK } from './alert-clock.js';
import type { AlertClock } from './alert-clock.js';
import { evaluateAlerts } from './alert-evaluation.js';
import type { AlertRecord, AlertState } from './alert-evaluation.js';
import { REJECTING_RATE_WINDOW_MS, alertConditions } from './alert-rules.js';
import type { AlertReads, AlertWrites } from './alert-store.js';
import { planNotifications } from './notification-plan.js';
import { RejectionRate } from './rejection-rate.js';
import { WebhookNotifier, webhookFromUrl } from './webhook-notifier.js';
import type { Webhook } from './webhook-notifier.js';

/** Where the rules' inputs come from, read at each evaluation. */
export interface AlertSources {
  /** All agents (revoked ones are skipped). */
  agents(): AgentRecord[];
  connectedIds(): ReadonlySet<string>;
  /** Per agent id: its latest result's start and latest download (absent for an agent with no result). */
  activity(agentIds: readonly string[]): ReadonlyMap<string, AgentActivity>;
  /** Each agent's latest health report. */
  health(): ReadonlyMap<string, AgentHealthRecord>;
  /** The agent's verdicts as last computed; undefined when not computed yet. */
  verdicts(agentId: string): readonly AgentVerdict[] | undefined;
  targets: readonly CollectorTarget[];
  /** `speedwatch_collector_rejected_total` per reason, now. */
  rejectedTotals(): Promise<ReadonlyMap<string, number>>;
}

export interface AlertServiceOptions {
  config: Readonly<AlertsConfig>;
  /** The alerts' tables, read synchronously. */
  store: AlertReads;
  /** Their writes (on the store writer thread in the collector). */
  writes: AlertWrites;
  sources: AlertSources;
  /** Base of `externalURL`/`generatorURL`, ending with `/`; read when a notification is built. */
  externalUrl: () => string;
  logger: Logger;
  /** Default: the system clock. */
  clock?: AlertClock;
  /** In [0, 1), for the retries' jitter. Default Math.random. */
  random?: () => number;
  /** Alerts in one POST. Default 100. */
  maxAlertsPerPost?: number;
}

/** What `/api/v1/alerts` answers, and one alert in it (alerts-wire.ts, shared with the console). */
export type AlertsReport = AlertsAnswer;
export type { AlertView };

/** Throws ValidationError (`alerts.verdictWindow`) unless the window is one the verdicts compute. */
export function checkVerdictWindow(config: Readonly<AlertsConfig>, windows: readonly string[]): void {
  if (!windows.includes(config.verdictWindow)) {
    throw new ValidationError('alerts.verdictWindow', `one of the verdict windows ${windows.map((w) => JSON.stringify(w)).join(', ')}, got ${JSON.stringify(config.verdictWindow)}`);
  }
}

export class AlertService {
  readonly #o: AlertServiceOptions;
  readonly #clock: AlertClock;
  readonly #log: Logger;
  readonly #webhooks: readonly Webhook[];
  readonly #notifier: WebhookNotifier;
  readonly #rates = new RejectionRate(REJECTING_RATE_WINDOW_MS);
  readonly #abort = new AbortController();
  /** Promises this service started and must see settle before `close` resolves. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #alerts: AlertRecord[];
  #evaluatedAt: number | undefined;
  /** The evaluation in progress (evaluations run one at a time). */
  #evaluating: Promise<void> = Promise.resolve();
  #flushing: Promise<void> | undefined;
  #flushAgain = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** Loads the stored alerts; `start` drops what is queued for webhooks no longer configured. */
  constructor(options: AlertServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#log = options.logger.child({ component: 'alerts' });
    this.#webhooks = options.config.webhooks.map(webhookFromUrl);
    this.#notifier = new WebhookNotifier({
      store: options.store,
      writes: options.writes,
      webhooks: this.#webhooks,
      delivery: options.config.delivery,
      externalUrl: options.externalUrl,
      clock: this.#clock,
      random: options.random ?? Math.random,
      logger: this.#log,
      ...(options.maxAlertsPerPost === undefined ? {} : { maxAlertsPerPost: options.maxAlertsPerPost }),
    });
    this.#alerts = options.store.loadAlerts();
  }

  /**
   * Drops what is queued for webhooks no longer configured, then evaluates now and every
   * `evaluateInterval`, until `close`.
   */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const forgetting = this.#o.writes.forgetWebhooks(this.#webhooks.map((w) => w.id)).then(
      (dropped) => {
        if (dropped > 0) this.#log.warn({ event: 'webhooks-forgotten', notifications: dropped }, 'dropped notifications queued for webhooks no longer configured');
      },
      (err: unknown) => this.#log.error({ event: 'webhooks-forget-failed', err }, 'could not drop notifications of removed webhooks; they are not delivered and are dropped at the next start'),
    );
    this.#evaluating = forgetting;
    void this.#own(forgetting);
    const tick = (): void => {
      void this.#own(this.evaluate().catch((err: unknown) => this.#log.error({ event: 'alerts-failed', err }, 'alert evaluation or delivery failed; the next evaluation retries')));
    };
    this.#timer = setInterval(tick, this.#o.config.evaluateIntervalMs);
    this.#timer.unref();
    tick();
  }

  /**
   * One evaluation (after any in progress), its changes stored, then a delivery round of
   * whatever is due. Resolves when the round is over.
   */
  evaluate(): Promise<void> {
    const evaluation = this.#evaluating.then(() => this.#evaluateOnce());
    this.#evaluating = evaluation.catch(() => undefined);
    return this.#own(evaluation.then(() => this.deliver()));
  }

  /** A delivery round of what is due; joins the round in progress (which then runs once more). */
  deliver(): Promise<void> {
    if (this.#closed || this.#webhooks.length === 0) return Promise.resolve();
    if (this.#flushing !== undefined) {
      this.#flushAgain = true;
      return this.#flushing;
    }
    const round = (async () => {
      try {
        do {
          this.#flushAgain = false;
          await this.#notifier.flush(this.#abort.signal);
        } while (this.#flushAgain && !this.#closed);
      } finally {
        this.#flushing = undefined;
      }
    })();
    this.#flushing = round;
    return this.#own(round);
  }

  async #evaluateOnce(): Promise<void> {
    if (this.#closed) return;
    const { sources, store, writes, config } = this.#o;
    const totals = await sources.rejectedTotals();
    if (this.#closed) return; // the store may be closing
    const now = this.#clock.now();
    this.#rates.record(now, totals);
    const agents = sources.agents().filter((agent) => agent.revokedAt === undefined);
    const conditions = alertConditions(
      {
        agents,
        activity: sources.activity(agents.map((agent) => agent.id)),
        connected: sources.connectedIds(),
        health: sources.health(),
        verdicts: (id) => sources.verdicts(id),
        targets: sources.targets,
        rejectedPerSecond: this.#rates.perSecond(now),
      },
      { forMs: config.forMs, scheduleIntervalMs: config.scheduleIntervalMs, verdictWindow: config.verdictWindow, fleetHealth: config.fleetHealth },
      now,
    );
    const evaluation = evaluateAlerts(this.#alerts, conditions, now);
    const firing = evaluation.alerts.filter((alert) => alert.state === 'firing');
    const upserts =
      this.#webhooks.length === 0 ? [] : planNotifications(this.#webhooks.map((w) => w.id), firing, evaluation.resolved, store.notificationStates(), now);
    await writes.alertCommit({ changed: evaluation.changed, removed: evaluation.removed }, upserts, now);
    this.#alerts = evaluation.alerts;
    this.#evaluatedAt = now;
    for (const alert of evaluation.fired) this.#log.warn({ event: 'alert-firing', fingerprint: alert.fingerprint, labels: alert.labels }, alert.annotations['summary'] ?? 'alert firing');
    for (const alert of evaluation.resolved) this.#log.info({ event: 'alert-resolved', fingerprint: alert.fingerprint, labels: alert.labels }, 'alert resolved');
  }

  /** Pending and firing alerts as of the latest evaluation (as stored, before the first), and the webhooks' backlog. */
  report(state?: AlertState): AlertsReport {
    const backlog = this.#o.store.backlog();
    return {
      evaluatedAt: this.#evaluatedAt === undefined ? null : new Date(this.#evaluatedAt).toISOString(),
      alerts: this.#alerts
        .filter((alert) => state === undefined || alert.state === state)
        .map((alert) => ({
          fingerprint: alert.fingerprint,
          alertname: alert.labels['alertname'] ?? '',
          state: alert.state,
          labels: alert.labels,
          annotations: alert.annotations,
          value: Number.isFinite(alert.value) ? alert.value : null,
          activeAt: new Date(alert.activeAt).toISOString(),
          startsAt: alert.firedAt === undefined ? null : new Date(alert.firedAt).toISOString(),
        })),
      webhooks: this.#webhooks.map((w) => {
        const waiting = backlog.get(w.id);
        return { id: w.id, url: w.redacted, undelivered: waiting?.undelivered ?? 0, lastError: waiting?.lastError ?? null };
      }),
    };
  }

  /**
   * Where each notification of each configured webhook went (alert_notifications, read on this
   * thread's connection), the webhooks named by scheme, host and port only.
   */
  deliveries(timeZone: string): AlertDeliveriesAnswer {
    const known = new Set(this.#webhooks.map((w) => w.id));
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      timeZone,
      webhooks: this.#webhooks.map((w) => ({ id: w.id, name: w.redacted })),
      deliveries: this.#o.store
        .deliveries()
        .filter((d) => known.has(d.webhook))
        .map((d) => ({
          webhook: d.webhook,
          fingerprint: d.fingerprint,
          alertname: d.alertname,
          notified: d.status,
          state: d.deliveredAt !== undefined ? 'delivered' : d.lastError !== undefined || d.attempts > 0 ? 'failed' : 'queued',
          attempts: d.attempts,
          lastError: d.lastError ?? null,
          deliveredAt: iso(d.deliveredAt),
          nextAttemptAt: d.deliveredAt === undefined ? iso(d.nextAttemptAt) : null,
        })),
    };
  }

  /**
   * Stops the timer, cuts short POSTs and backoff sleeps in flight (what they carried stays
   * queued) and resolves when every evaluation and round has settled. Does not close the store.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#abort.abort();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #own<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    void promise.then(
      () => this.#inFlight.delete(promise),
      () => this.#inFlight.delete(promise),
    );
    return promise;
  }
}
