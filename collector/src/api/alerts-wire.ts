/**
 * The answers of `GET /api/v1/alerts` and `GET /api/v1/alerts/deliveries`, as the console's
 * alerts page reads them (docs/alerts.md). Imports nothing, so the console's bundle can share it.
 * A channel is named by its configured name, an entry of `alerts.webhooks` by its URL's scheme,
 * host and port only: paths, queries and tokens never appear.
 */

export type AlertStateName = 'pending' | 'firing';

/** An alert as `/api/v1/alerts` shows it. */
export interface AlertView {
  fingerprint: string;
  alertname: string;
  state: AlertStateName;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** The condition's figure: Mbps, seconds silent, bytes free, failed tests in a row, refusals a second, or 0. */
  value: number | null;
  /** When the condition was first seen holding (ISO 8601). */
  activeAt: string;
  /** When it fired (ISO 8601); null while pending. */
  startsAt: string | null;
  /** While pending: when the confirmation test was asked for (ISO 8601), else null. */
  confirmRequestedAt: string | null;
}

/** A route's backlog in `/api/v1/alerts`. */
export interface RouteBacklogView {
  /** The route's key in the outbox (a hash). */
  id: string;
  /** The route's name; for an entry of `alerts.webhooks`, its URL's scheme, host and port. */
  name: string;
  /** The channel's configured name (the same redacted URL for an entry of `alerts.webhooks`). */
  channel: string;
  channelType: 'email' | 'telegram' | 'zalo' | 'ntfy' | 'webhook';
  undelivered: number;
  lastError: string | null;
}

/** `GET /api/v1/alerts`. */
export interface AlertsAnswer {
  /** The latest evaluation (ISO 8601); null before the first. */
  evaluatedAt: string | null;
  alerts: AlertView[];
  /** Each entry of `alerts.webhooks`: URL without path or query, and what waits for it. */
  webhooks: { id: string; url: string; undelivered: number; lastError: string | null }[];
  /** Every route (the entries of `alerts.webhooks` included) and what waits for it. */
  routes: RouteBacklogView[];
}

/**
 * Where a notification stands: waiting for its first attempt, held by its route's quiet hours,
 * delivered (the channel accepted it), or failed so far (tried again later).
 */
export type DeliveryState = 'queued' | 'held' | 'delivered' | 'failed';

/** A route as `/api/v1/alerts/deliveries` describes it. */
export interface RouteView {
  id: string;
  name: string;
  channel: string;
  channelType: RouteBacklogView['channelType'];
  lang: 'vi' | 'en';
  /** Local times (HH:MM) in `timeZone`; null without quiet hours. */
  quietHours: { from: string; to: string } | null;
  /** The daily digest's local time; null for a route that sends each alert. */
  digestAt: string | null;
  /** While its quiet hours hold its messages: when they end (ISO 8601); else null. */
  heldUntil: string | null;
}

/** One route's notification of one alert (or its digest): the latest state queued and its delivery. */
export interface NotificationView {
  /** The route's id, as in `routes`. */
  route: string;
  /** The alert's fingerprint, or `digest` for a route's daily digest. */
  fingerprint: string;
  /** The alert's name, or `digest`. */
  alertname: string;
  /** The state the route is to hear (a digest is `firing`). */
  notified: 'firing' | 'resolved';
  state: DeliveryState;
  /** Attempts made for this state. */
  attempts: number;
  /** The latest failure's code and message (never a token or a webhook's path); null once delivered. */
  lastError: string | null;
  deliveredAt: string | null;
  /** When an undelivered one is tried again (the end of the quiet hours when held); null once delivered. */
  nextAttemptAt: string | null;
}

/** `GET /api/v1/alerts/deliveries`: where every notification went. */
export interface AlertDeliveriesAnswer {
  /** The IANA zone the console shows times in, and routes' quiet hours and digests are in. */
  timeZone: string;
  /** The routes: each entry of `alerts.webhooks`, then `alerts.routes` in the config's order. */
  routes: RouteView[];
  /** By alert fingerprint, then route; resolved ones are kept until delivered, each route's latest digest kept. */
  deliveries: NotificationView[];
}
