/**
 * A digest route's daily message: the sites below target it matches, as of the day's digest
 * time (docs/alerts.md#digests). Built from the firing SpeedwatchSiteBelowTarget alerts, kept
 * in the outbox as one row per route (fingerprint `digest`) whose `starts_at` is the day's
 * digest time, so that a day's digest is queued once, retried until accepted, and survives a
 * restart like any notification. Pure.
 */
import type { AlertRecord } from './alert-evaluation.js';
import type { MissedTarget } from './alert-rules.js';
import { DIGEST_ALERTNAME } from './alert-routes.js';
import type { WebhookAlert } from './webhook-payload.js';

/** One site in a digest. */
export interface DigestSite {
  agentId: string;
  name: string;
  area?: string;
  technology?: string;
  siteKind?: string;
  window?: string;
  missed?: readonly MissedTarget[];
  /** When its alert fired (ISO 8601). */
  since: string;
}

/** What the outbox keeps for a digest. */
export interface DigestPayload {
  /** The day's digest time (ISO 8601). */
  at: string;
  /** Every site below target the route matches, by area then name. */
  digest: DigestSite[];
}

/** What the outbox keeps for a notification: an alert as a webhook hears it, or a digest. */
export type NotificationPayload = WebhookAlert | DigestPayload;

export function isDigest(payload: NotificationPayload): payload is DigestPayload {
  return 'digest' in payload;
}

/** The digest of the firing alerts `matches` takes, at `at` (ms): the sites below target, and nothing else. */
export function buildDigest(firing: readonly AlertRecord[], matches: (alert: AlertRecord) => boolean, at: number): DigestPayload {
  const sites: DigestSite[] = [];
  for (const alert of firing) {
    if (alert.state !== 'firing' || alert.labels['alertname'] !== DIGEST_ALERTNAME || !matches(alert)) continue;
    const { labels, facts } = alert;
    const agentId = labels['agent_id'] ?? '';
    sites.push({
      agentId,
      name: facts?.siteName ?? agentId,
      ...(labels['area'] === undefined ? {} : { area: labels['area'] }),
      ...(labels['technology'] === undefined ? {} : { technology: labels['technology'] }),
      ...(labels['site_kind'] === undefined ? {} : { siteKind: labels['site_kind'] }),
      ...(facts?.window === undefined ? {} : { window: facts.window }),
      ...(facts?.missed === undefined ? {} : { missed: facts.missed }),
      since: new Date(alert.firedAt ?? alert.activeAt).toISOString(),
    });
  }
  sites.sort((a, b) => (a.area ?? '').localeCompare(b.area ?? '', 'vi') || a.name.localeCompare(b.name, 'vi') || (a.agentId < b.agentId ? -1 : 1));
  return { at: new Date(at).toISOString(), digest: sites };
}
