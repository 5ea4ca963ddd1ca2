/**
 * Routes: which alerts go to which channel, in which language, when (docs/alerts.md#routes).
 * A route matches an alert by its labels (area prefix at level boundaries, site kind,
 * technology, severity, alert name: each a list of which any may match, every given key must);
 * it may hold its messages during quiet hours, in the collector's time zone, and a digest route
 * sends, once a day at its hour, the list of sites below target instead of one message each.
 * Each entry of `alerts.webhooks` is a route of its own that matches everything. Pure.
 */
import { createHash } from 'node:crypto';
import { areaKey } from '@speedwatch/shared';
import type { SiteKind, Technology } from '@speedwatch/shared';
import { zoneOffsetMs } from '@speedwatch/shared';
import type { Labels } from './alert-fingerprint.js';

export const ROUTE_LANGS = ['vi', 'en'] as const;
export type RouteLang = (typeof ROUTE_LANGS)[number];

export const SEVERITIES = ['critical', 'warning', 'info'] as const;

/** What a route takes: every key given must match (any of its values); none given matches every alert. */
export interface RouteMatch {
  /** Area paths; an alert matches one when its `area` label is it or lies under it (`Lạng Sơn` takes `Lạng Sơn/Cao Lộc`). */
  areaPrefix?: readonly string[];
  siteKind?: readonly SiteKind[];
  technology?: readonly Technology[];
  severity?: readonly string[];
  alertname?: readonly string[];
}

/** A local time of day, `HH:MM` (24 h), in the collector's `timeZone`. */
export type LocalTime = string;

export interface RouteConfig {
  name: string;
  /** The name of the channel in `alerts.channels`. */
  channel: string;
  match: Readonly<RouteMatch>;
  lang: RouteLang;
  /** Messages due in [from, to) wait until `to`; `from` after `to` spans midnight. */
  quietHours?: Readonly<{ from: LocalTime; to: LocalTime }>;
  /** A digest route sends only a daily list of the sites below target it matches, at `at`. */
  digest?: Readonly<{ at: LocalTime }>;
}

/** The alert name a digest carries in the outbox, and its one fingerprint per route. */
export const DIGEST = 'digest';

/** The alert whose firing instances make a digest's list. */
export const DIGEST_ALERTNAME = 'SpeedwatchSiteBelowTarget';

/**
 * The route's key in the outbox (alert_notifications.route): a hash of its name and channel, so
 * that moving a route to another channel makes the new channel hear what is firing. Never the
 * same as a webhook's key (a hash of a URL alone).
 */
export function routeKey(route: Pick<RouteConfig, 'name' | 'channel'>): string {
  return createHash('sha256').update(`route\u0000${route.name}\u0000${route.channel}`).digest('hex').slice(0, 16);
}

/** The key of an entry of `alerts.webhooks`: the hash of its URL, as the outbox has keyed it since migration 2. */
export function webhookKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** Whether an alert with these labels is one the route takes (a digest route's digest aside). */
export function routeMatches(match: Readonly<RouteMatch>, labels: Labels): boolean {
  return routeMatcher(match)(labels);
}

/**
 * `routeMatches` for one route, its area prefixes keyed once: an evaluation matches every
 * firing alert against every route. `areaKeys` caches the alerts' area keys across routes.
 */
export function routeMatcher(match: Readonly<RouteMatch>, areaKeys: Map<string, string> = new Map()): (labels: Labels) => boolean {
  const prefixes = match.areaPrefix?.map((prefix) => areaKey(prefix));
  const any = (values: readonly string[] | undefined, value: string | undefined): boolean => values === undefined || (value !== undefined && values.includes(value));
  return (labels) => {
    if (!any(match.siteKind, labels['site_kind'])) return false;
    if (!any(match.technology, labels['technology'])) return false;
    if (!any(match.severity, labels['severity'])) return false;
    if (!any(match.alertname, labels['alertname'])) return false;
    if (prefixes !== undefined) {
      const area = labels['area'];
      if (area === undefined) return false;
      let key = areaKeys.get(area);
      if (key === undefined) {
        key = areaKey(area);
        areaKeys.set(area, key);
      }
      const k = key;
      if (!prefixes.some((prefix) => k === prefix || k.startsWith(`${prefix}/`))) return false;
    }
    return true;
  };
}

/** Minutes after midnight of `HH:MM`. */
export function minuteOfDay(time: LocalTime): number {
  const [hours, minutes] = time.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}

/** `instant`'s minutes after local midnight in `timeZone`, and the instant of that midnight. */
function localDay(instant: number, timeZone: string): { minute: number; midnight: number } {
  const wall = instant + zoneOffsetMs(timeZone, instant);
  const wallMidnight = wall - (((wall % 86_400_000) + 86_400_000) % 86_400_000);
  return { minute: Math.floor((wall - wallMidnight) / 60_000), midnight: toInstant(wallMidnight, timeZone) };
}

/** The instant whose wall time in `timeZone` is `wall` (ms of a UTC-read wall clock). */
function toInstant(wall: number, timeZone: string): number {
  let instant = wall - zoneOffsetMs(timeZone, wall);
  instant = wall - zoneOffsetMs(timeZone, instant); // again, in case an offset change lies between
  return instant;
}

/** The instant of local time `minute` (after midnight) on the local day starting at `midnight`, `days` later. */
function at(midnight: number, minute: number, days: number, timeZone: string): number {
  const wallMidnight = midnight + zoneOffsetMs(timeZone, midnight);
  return toInstant(wallMidnight + days * 86_400_000 + minute * 60_000, timeZone);
}

/**
 * When the quiet period holding `now` ends, or undefined when `now` is not quiet. Quiet is
 * [from, to) in local time; a `from` later than `to` spans midnight (22:00–06:30).
 */
export function quietUntil(quiet: Readonly<{ from: LocalTime; to: LocalTime }> | undefined, now: number, timeZone: string): number | undefined {
  if (quiet === undefined) return undefined;
  const from = minuteOfDay(quiet.from);
  const to = minuteOfDay(quiet.to);
  const { minute, midnight } = localDay(now, timeZone);
  const quietNow = from < to ? minute >= from && minute < to : minute >= from || minute < to;
  if (!quietNow) return undefined;
  return at(midnight, to, minute < to ? 0 : 1, timeZone);
}

/** The latest digest time at or before `now` (ms): today's `at` once it has passed (`today`), else yesterday's. */
export function digestSlot(time: LocalTime, now: number, timeZone: string): { at: number; today: boolean } {
  const { minute, midnight } = localDay(now, timeZone);
  const target = minuteOfDay(time);
  const today = minute >= target;
  return { at: at(midnight, target, today ? 0 : -1, timeZone), today };
}
