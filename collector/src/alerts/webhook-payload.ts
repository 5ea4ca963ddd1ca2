/**
 * The body of a notification: Alertmanager's webhook message, version "4"
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), so that any
 * receiver written for Alertmanager (chat bridges, ticketing, on-call tools) takes the
 * collector's alerts as they are. Alerts are grouped by `alertname`, as Alertmanager's
 * default route groups them. Pure.
 */
import type { Labels } from './alert-fingerprint.js';
import type { AlertRecord } from './alert-evaluation.js';
import type { AlertFacts } from './alert-rules.js';

/** Alertmanager's `endsAt` for an alert that has not ended (Go's zero time). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The receiver name in every message. */
export const RECEIVER = 'speedwatch-collector';

export type NotificationStatus = 'firing' | 'resolved';

/** One alert as a webhook hears it, without the parts fixed at send time (status, generatorURL). */
export interface WebhookAlert {
  labels: Labels;
  annotations: Readonly<Record<string, string>>;
  /** RFC 3339: when the alert fired. */
  startsAt: string;
  /** RFC 3339: when it was resolved, or ZERO_TIME while firing. */
  endsAt: string;
  fingerprint: string;
  /** The figures behind the annotations, kept for messages to people; never sent to a webhook. */
  facts?: AlertFacts;
}

export interface WebhookMessage {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: NotificationStatus;
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: (WebhookAlert & { status: NotificationStatus; generatorURL: string })[];
}

/** A firing alert (no `resolvedAt`) or a resolved one, as a webhook hears it. */
export function webhookAlert(alert: AlertRecord, resolvedAt?: number): WebhookAlert {
  return {
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: new Date(alert.firedAt ?? alert.activeAt).toISOString(),
    endsAt: resolvedAt === undefined ? ZERO_TIME : new Date(resolvedAt).toISOString(),
    fingerprint: alert.fingerprint,
    ...(alert.facts === undefined ? {} : { facts: alert.facts }),
  };
}

/**
 * One message for alerts sharing `alertname`. `status` is `firing` when any alert in it fires.
 * `externalUrl` ends with `/`; each alert's generatorURL is the collector's alert list.
 */
export function webhookMessage(
  alertname: string,
  alerts: readonly { status: NotificationStatus; alert: WebhookAlert }[],
  externalUrl: string,
): WebhookMessage {
  const generatorURL = `${externalUrl}api/v1/alerts`;
  return {
    version: '4',
    groupKey: `{}:{alertname=${JSON.stringify(alertname)}}`,
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: RECEIVER,
    groupLabels: { alertname },
    commonLabels: common(alerts.map((a) => a.alert.labels)),
    commonAnnotations: common(alerts.map((a) => a.alert.annotations)),
    externalURL: externalUrl,
    alerts: alerts.map(({ status, alert }) => ({
      status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      generatorURL,
      fingerprint: alert.fingerprint,
    })),
  };
}

/** The pairs every set has, with the same value. */
function common(sets: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  const [first, ...rest] = sets;
  const out: Record<string, string> = {};
  if (first === undefined) return out;
  for (const [key, value] of Object.entries(first)) {
    if (rest.every((set) => set[key] === value)) out[key] = value;
  }
  return out;
}
