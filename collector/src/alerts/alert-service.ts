/**
 * The collector's own alerts, for teams without Alertmanager: the owner of the evaluation
 * timer, of the channels and of delivery rounds. Each evaluation reads what the rules need
 * (agents, their latest results, connections, cached verdicts, the refusal counter), decides
 * pending and firing, writes the changes and the notifications they queue for each route in one
 * transaction, then runs a delivery round. Serves `/api/v1/alerts` and
 * `/api/v1/alerts/deliveries`. See docs/alerts.md.
 */
import { ValidationError } from '@speedwatch/shared';
import type { Logger } from '@speedwatch/shared';
import type { AlertDeliveriesAnswer, AlertsAnswer, AlertView, DeliveryState } from '../api/alerts-wire.js';
import type { AlertsConfig } from '../config/collector-config.js';
import type { AgentHealthRecord, AgentRecord } from '../store/store-types.js';
import type { AgentActivity } from './alert-rules.js';
import type { CollectorTarget } from '../verdict/verdict-config.js';
import type { AgentVerdict } from '../verdict/verdicts.js';
import { SYSTEM_CLOCK } from './alert-clock.js';
import type { AlertClock } from './alert-clock.js';
import { evaluateAlerts } from './alert-evaluation.js';
import { confirmationGate } from './confirmation.js';
import type { LatestFiguresView } from './confirmation.js';
import type { AlertRecord, AlertState } from './alert-evaluation.js';
import { REJECTING_RATE_WINDOW_MS, alertConditions } from './alert-rules.js';
import { routeKey, webhookKey } from './alert-routes.js';
import type { RouteConfig } from './alert-routes.js';
import type { AlertReads, AlertWrites } from './alert-store.js';
import type { Channel } from './channels/channel.js';
import type { ChannelConfig } from './channels/channel-config.js';
import { EmailChannel } from './channels/email-channel.js';
import { NtfyChannel } from './channels/ntfy-channel.js';
import { TelegramChannel } from './channels/telegram-channel.js';
import { WebhookChannel } from './channels/webhook-channel.js';
import { ZaloChannel } from './channels/zalo-channel.js';
import { planNotifications } from './notification-plan.js';
import type { PlanRoute } from './notification-plan.js';
import { RejectionRate } from './rejection-rate.js';
import { RouteNotifier } from './route-notifier.js';
import type { RouteTarget } from './route-notifier.js';

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
  /** The agent's latest result as far as the collector knows (a confirmation's answer). */
  latestResult?(agentId: string): LatestFiguresView | undefined;
  /** Sends the agent `test-now`; false when it is not connected. */
  requestTest?(agentId: string): boolean;
}

export interface AlertServiceOptions {
  config: Readonly<AlertsConfig>;
  /** The alerts' tables, read synchronously. */
  store: AlertReads;
  /** Their writes (on the store writer thread in the collector). */
  writes: AlertWrites;
  sources: AlertSources;
  /** Base of `externalURL`/`generatorURL` and of links to the console, ending with `/`; read when a notification is built. */
  externalUrl: () => string;
  /** The collector's IANA time zone: quiet hours, digest times, and times in messages. */
  timeZone: string;
  logger: Logger;
  /** Default: the system clock. */
  clock?: AlertClock;
  /** In [0, 1), for the retries' jitter. Default Math.random. */
  random?: () => number;
  /** Alerts in one POST to a webhook. Default 100. */
  maxAlertsPerPost?: number;
}

/** A route with all delivery needs to know of it, and how the API describes it. */
interface Route extends RouteTarget {
  /** Absent for an entry of `alerts.webhooks`. */
  config?: RouteConfig;
  /** The webhook's redacted URL, for an entry of `alerts.webhooks`. */
  webhookUrl?: string;
}

/** The channel for a configured channel; `alertsPerMessage` bounds a webhook's groups. */
export function channelOf(config: ChannelConfig, alertsPerMessage?: number): Channel {
  switch (config.type) {
    case 'email':
      return new EmailChannel(config);
    case 'telegram':
      return new TelegramChannel(config);
    case 'zalo':
      return new ZaloChannel(config);
    case 'ntfy':
      return new NtfyChannel(config);
    case 'webhook':
      return new WebhookChannel(config.url, { name: config.name, ...(alertsPerMessage === undefined ? {} : { alertsPerMessage }) });
  }
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
  readonly #channels: readonly Channel[];
  readonly #routes: readonly Route[];
  readonly #notifier: RouteNotifier;
  readonly #rates = new RejectionRate(REJECTING_RATE_WINDOW_MS);
  /** Aborted by `stop` and `close`: POSTs and backoff sleeps of the rounds started before. */
  #abort = new AbortController();
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

  /** Loads the stored alerts; `start` drops what is queued for routes no longer configured. */
  constructor(options: AlertServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#log = options.logger.child({ component: 'alerts' });
    const { config } = options;
    const channels = new Map(config.channels.map((c) => [c.name, channelOf(c, options.maxAlertsPerPost)]));
    const webhooks: Route[] = config.webhooks.map((url) => {
      const channel = new WebhookChannel(url, options.maxAlertsPerPost === undefined ? {} : { alertsPerMessage: options.maxAlertsPerPost });
      return { key: webhookKey(url), name: channel.redacted, channel, lang: 'en', webhookUrl: channel.redacted };
    });
    const routes: Route[] = config.routes.flatMap((route) => {
      const channel = channels.get(route.channel);
      // The config's validation has checked every route's channel; a route built by hand that names none is skipped.
      if (channel === undefined) return [];
      return [{ key: routeKey(route), name: route.name, channel, lang: route.lang, config: route, ...(route.quietHours === undefined ? {} : { quietHours: route.quietHours }) }];
    });
    this.#channels = [...channels.values(), ...webhooks.map((w) => w.channel)];
    this.#routes = [...webhooks, ...routes];
    this.#notifier = new RouteNotifier({
      store: options.store,
      writes: options.writes,
      targets: this.#routes,
      delivery: config.delivery,
      externalUrl: options.externalUrl,
      timeZone: options.timeZone,
      clock: this.#clock,
      random: options.random ?? Math.random,
      logger: this.#log,
    });
    this.#alerts = options.store.loadAlerts();
  }

  /** True between `start` and `stop` or `close`. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Drops what is queued for routes no longer configured, then evaluates now and every
   * `evaluateInterval`, until `stop` or `close`.
   */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const forgetting = this.#o.writes.forgetRoutes(this.#routes.map((r) => r.key)).then(
      (dropped) => {
        if (dropped > 0) this.#log.warn({ event: 'routes-forgotten', notifications: dropped }, 'dropped notifications queued for routes and webhooks no longer configured');
      },
      (err: unknown) => this.#log.error({ event: 'routes-forget-failed', err }, 'could not drop notifications of removed routes; they are not delivered and are dropped at the next start'),
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
   * Stops evaluating and delivering (another collector took over): the timer ends, POSTs and
   * backoff sleeps in flight are cut short (what they carried stays queued), and it resolves
   * once every evaluation and round has settled. `start` may be called again later; the
   * channels stay open.
   */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    this.#abort = new AbortController();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Takes the alerts as the store has them now (another collector evaluated them meanwhile),
   * and when they were evaluated if the store knows it. Only while not running.
   */
  reload(evaluatedAt?: number): void {
    if (this.#timer !== undefined) return;
    this.#alerts = this.#o.store.loadAlerts();
    if (evaluatedAt !== undefined) this.#evaluatedAt = evaluatedAt;
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
    if (this.#closed || this.#routes.length === 0) return Promise.resolve();
    if (this.#flushing !== undefined) {
      this.#flushAgain = true;
      return this.#flushing;
    }
    const { signal } = this.#abort;
    const round = (async () => {
      try {
        do {
          this.#flushAgain = false;
          await this.#notifier.flush(signal);
        } while (this.#flushAgain && !this.#closed && !signal.aborted);
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
      {
        forMs: config.forMs,
        scheduleIntervalMs: config.scheduleIntervalMs,
        verdictWindow: config.verdictWindow,
        fleetHealth: config.fleetHealth,
        ...(config.belowShareOfContract === undefined ? {} : { belowShareOfContract: config.belowShareOfContract }),
      },
      now,
    );
    const latestResult = sources.latestResult?.bind(sources);
    const gate = config.confirmBelowTarget && latestResult !== undefined ? confirmationGate(latestResult, config.scheduleIntervalMs) : undefined;
    const before = new Map(this.#alerts.map((alert) => [alert.fingerprint, alert]));
    const evaluation = evaluateAlerts(this.#alerts, conditions, now, gate);
    const firing = evaluation.alerts.filter((alert) => alert.state === 'firing');
    const routes: PlanRoute[] = this.#routes.map((r) => ({
      key: r.key,
      ...(r.config === undefined ? {} : { match: r.config.match }),
      ...(r.config?.digest === undefined ? {} : { digestAt: r.config.digest.at }),
    }));
    const upserts = routes.length === 0 ? [] : planNotifications(routes, firing, evaluation.resolved, store.notificationStates(), now, this.#o.timeZone);
    await writes.alertCommit({ changed: evaluation.changed, removed: evaluation.removed }, upserts, now);
    this.#alerts = evaluation.alerts;
    this.#evaluatedAt = now;
    if (gate !== undefined) this.#confirmations(evaluation.alerts, before, agents, now);
    for (const alert of evaluation.fired) this.#log.warn({ event: 'alert-firing', fingerprint: alert.fingerprint, labels: alert.labels }, alert.annotations['summary'] ?? 'alert firing');
    for (const alert of evaluation.resolved) this.#log.info({ event: 'alert-resolved', fingerprint: alert.fingerprint, labels: alert.labels }, 'alert resolved');
  }

  /**
   * Asks each site whose SpeedwatchSiteBelowTarget this evaluation put into confirmation for a
   * test now; a site not connected, or paused, is judged on its next result instead. Logs each
   * confirmation that met the target (its alert went back to pending).
   */
  #confirmations(alerts: readonly AlertRecord[], before: ReadonlyMap<string, AlertRecord>, agents: readonly AgentRecord[], now: number): void {
    for (const alert of alerts) {
      const old = before.get(alert.fingerprint);
      const agentId = alert.labels['agent_id'] ?? '';
      if (alert.confirmRequestedAt === now && old?.confirmRequestedAt === undefined) {
        const paused = agents.find((a) => a.id === agentId)?.pausedAt !== undefined;
        const asked = !paused && (this.#o.sources.requestTest?.(agentId) ?? false);
        this.#log.info(
          { event: 'confirmation-requested', fingerprint: alert.fingerprint, agentId, asked },
          asked ? 'site below target: confirmation test asked for before the alert fires' : 'site below target: the agent cannot be asked for a test now; its next result confirms or not',
        );
      } else if (old?.confirmRequestedAt !== undefined && alert.state === 'pending' && alert.confirmRequestedAt === undefined) {
        this.#log.info({ event: 'confirmation-met-target', fingerprint: alert.fingerprint, agentId }, 'the confirmation test met the target: the alert stays pending');
      }
    }
  }

  /** Pending and firing alerts as of the latest evaluation (as stored, before the first), and the routes' backlog. */
  report(state?: AlertState): AlertsReport {
    const backlog = this.#o.store.backlog();
    const waiting = (key: string): { undelivered: number; lastError: string | null } => {
      const b = backlog.get(key);
      return { undelivered: b?.undelivered ?? 0, lastError: b?.lastError ?? null };
    };
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
          confirmRequestedAt: alert.confirmRequestedAt === undefined ? null : new Date(alert.confirmRequestedAt).toISOString(),
        })),
      webhooks: this.#routes.flatMap((r) => (r.webhookUrl === undefined ? [] : [{ id: r.key, url: r.webhookUrl, ...waiting(r.key) }])),
      routes: this.#routes.map((r) => ({ id: r.key, name: r.name, channel: r.channel.name, channelType: r.channel.type, ...waiting(r.key) })),
    };
  }

  /**
   * Where each notification of each configured route went (alert_notifications, read on this
   * thread's connection). Channels are named by their configured names, webhooks of
   * `alerts.webhooks` by scheme, host and port only: never a URL that may hold a token.
   */
  deliveries(): AlertDeliveriesAnswer {
    const now = this.#clock.now();
    const timeZone = this.#o.timeZone;
    const known = new Set(this.#routes.map((r) => r.key));
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    const held = new Map(this.#routes.map((r) => [r.key, this.#notifier.heldUntil(r.key, now)]));
    return {
      timeZone,
      routes: this.#routes.map((r) => ({
        id: r.key,
        name: r.name,
        channel: r.channel.name,
        channelType: r.channel.type,
        lang: r.lang,
        quietHours: r.config?.quietHours === undefined ? null : { ...r.config.quietHours },
        digestAt: r.config?.digest?.at ?? null,
        heldUntil: iso(held.get(r.key)),
      })),
      deliveries: this.#o.store
        .deliveries()
        .filter((d) => known.has(d.route))
        .map((d) => {
          const heldUntil = d.deliveredAt === undefined ? held.get(d.route) : undefined;
          const state: DeliveryState = d.deliveredAt !== undefined ? 'delivered' : heldUntil !== undefined ? 'held' : d.lastError !== undefined || d.attempts > 0 ? 'failed' : 'queued';
          return {
            route: d.route,
            fingerprint: d.fingerprint,
            alertname: d.alertname,
            notified: d.status,
            state,
            attempts: d.attempts,
            lastError: d.lastError ?? null,
            deliveredAt: iso(d.deliveredAt),
            nextAttemptAt: d.deliveredAt === undefined ? iso(Math.max(d.nextAttemptAt, heldUntil ?? 0)) : null,
          };
        }),
    };
  }

  /**
   * Stops the timer, cuts short POSTs and backoff sleeps in flight (what they carried stays
   * queued) and resolves when every evaluation and round has settled. Does not close the store.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    for (const channel of this.#channels) channel.close();
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
