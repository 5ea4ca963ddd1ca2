/**
 * The answers of `GET /api/v1/alerts` and `GET /api/v1/alerts/deliveries`, as the console's
 * alerts page reads them (docs/alerts.md). Imports nothing, so the console's bundle can share it.
 * A webhook is named by its scheme, host and port only: paths and queries often carry secrets.
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
}

/** `GET /api/v1/alerts`. */
export interface AlertsAnswer {
  /** The latest evaluation (ISO 8601); null before the first. */
  evaluatedAt: string | null;
  alerts: AlertView[];
  /** Each configured webhook: URL without path or query, and what waits for it. */
  webhooks: { id: string; url: string; undelivered: number; lastError: string | null }[];
}

/** Where a notification stands: waiting for its first POST, delivered (a 2xx), or failed so far (tried again later). */
export type DeliveryState = 'queued' | 'delivered' | 'failed';

/** One webhook's notification of one alert: the latest state queued for it and its delivery. */
export interface NotificationView {
  /** The webhook's id (a hash of its URL), as in `webhooks`. */
  webhook: string;
  fingerprint: string;
  alertname: string;
  /** The state the webhook is to hear. */
  notified: 'firing' | 'resolved';
  state: DeliveryState;
  /** POSTs made for this state. */
  attempts: number;
  /** The latest failure's code and message (the webhook named by its host only); null once delivered. */
  lastError: string | null;
  deliveredAt: string | null;
  /** When an undelivered one is tried again; null once delivered. */
  nextAttemptAt: string | null;
}

/** `GET /api/v1/alerts/deliveries`: where every notification went. */
export interface AlertDeliveriesAnswer {
  /** The IANA zone the console shows times in. */
  timeZone: string;
  /** The configured webhooks: `name` is the URL's scheme, host and port (`https://hooks.example.org/…`). */
  webhooks: { id: string; name: string }[];
  /** By alert fingerprint, then webhook; resolved ones are kept until delivered. */
  deliveries: NotificationView[];
}
