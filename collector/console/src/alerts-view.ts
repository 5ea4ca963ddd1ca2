/**
 * The alerts page (`#/alerts?name=…`): the collector's pending and firing alerts (docs/alerts.md),
 * firing first, each with its site or area, severity, value and since when in the collector's
 * time zone, and where each notification went: per route (named by its name and channel, a
 * webhook of `alerts.webhooks` by host only), queued, held by quiet hours, delivered or failed,
 * with attempts, the latest error and when it was delivered; the routes with their channel,
 * language, quiet hours and digest time; each digest route's latest digest. From
 * `/api/v1/alerts` and `/api/v1/alerts/deliveries`. At most MAX_ROWS alerts are drawn; a
 * filter by alert name narrows a long list (10 000 disconnected boxes are 10 000 alerts).
 */
import type { AlertDeliveriesAnswer, AlertsAnswer, AlertView, NotificationView, RouteView } from '../../src/api/alerts-wire.js';
import { fetchAlerts } from './api-client.js';
import { h } from './dom.js';
import { formatter } from './i18n.js';
import type { Formatter } from './i18n.js';
import { hrefOf } from './links.js';
import type { ConsolePage } from './pages.js';

/** Alerts drawn at most; the rest are counted. */
export const MAX_ROWS = 500;

export const alertsPage: ConsolePage = {
  name: 'alerts',
  nav: (t) => t.alerts.nav,
  async load({ lang, query }) {
    const { alerts, deliveries } = await fetchAlerts();
    const f = formatter(lang, deliveries.timeZone);
    return { title: f.t.alerts.title, body: renderAlerts(alerts, deliveries, query.get('name') ?? '', f) };
  },
};

export function renderAlerts(data: AlertsAnswer, deliveries: AlertDeliveriesAnswer, name: string, f: Formatter): HTMLElement {
  const { t } = f;
  const byFingerprint = new Map<string, NotificationView[]>();
  for (const d of deliveries.deliveries) byFingerprint.set(d.fingerprint, [...(byFingerprint.get(d.fingerprint) ?? []), d]);
  const routeName = new Map(deliveries.routes.map((r) => [r.id, r.name]));
  const names = [...new Set(data.alerts.map((a) => a.alertname))].sort();
  const chosen = names.includes(name) ? name : '';
  const shown = orderOf(data.alerts).filter((a) => chosen === '' || a.alertname === chosen);
  const firing = data.alerts.filter((a) => a.state === 'firing').length;
  const active = new Set(data.alerts.map((a) => a.fingerprint));
  const digests = deliveries.deliveries.filter((d) => d.alertname === 'digest');
  const resolved = deliveries.deliveries.filter((d) => !active.has(d.fingerprint) && d.alertname !== 'digest');
  return h(
    'div',
    { class: 'alerts' },
    data.evaluatedAt === null ? h('p', { class: 'notice' }, t.alerts.notEvaluated) : h('p', { class: 'computed' }, `${t.alerts.evaluatedAt}: `, h('time', { datetime: data.evaluatedAt }, f.time(data.evaluatedAt))),
    h(
      'section',
      { class: 'tiles', 'aria-label': t.alerts.title },
      h('div', { class: 'tile bad' }, h('span', { class: 'value', 'data-field': 'firing' }, f.count(firing)), h('span', { class: 'label' }, t.alerts.firing)),
      h('div', { class: 'tile warn' }, h('span', { class: 'value', 'data-field': 'pending' }, f.count(data.alerts.length - firing)), h('span', { class: 'label' }, t.alerts.pending)),
    ),
    routesSection(data, deliveries.routes, f),
    names.length > 1
      ? h(
          'nav',
          { class: 'filters', 'aria-label': t.alerts.alert },
          h('a', { href: hrefOf('alerts'), 'data-filter': '', ...(chosen === '' ? { 'aria-current': 'page' } : {}) }, `${t.alerts.allKinds} (${f.count(data.alerts.length)})`),
          ...names.map((n) =>
            h('a', { href: hrefOf('alerts', undefined, { name: n }), 'data-filter': n, ...(n === chosen ? { 'aria-current': 'page' } : {}) }, `${t.alerts.names[n] ?? n} (${f.count(data.alerts.filter((a) => a.alertname === n).length)})`),
          ),
        )
      : null,
    data.alerts.length === 0 ? h('p', { class: 'notice', 'data-field': 'none' }, t.alerts.none) : alertsTable(shown, byFingerprint, routeName, f),
    resolved.length === 0 ? null : h('section', {}, h('h2', {}, t.alerts.resolvedTitle), resolvedList(resolved, routeName, f)),
    digests.length === 0 ? null : h('section', { class: 'digests' }, h('h2', {}, t.alerts.digests), h('ul', { class: 'digest-deliveries' }, ...digests.map((d) => notificationItem(d, routeName, f)))),
  );
}

const SEVERITY_RANK: Readonly<Record<string, number>> = { critical: 0, warning: 1, info: 2 };

/** Firing before pending, then the most severe first; the API's order (by name) within. */
export function orderOf(alerts: readonly AlertView[]): AlertView[] {
  const rank = (a: AlertView): number => (a.state === 'firing' ? 0 : 10) + (SEVERITY_RANK[a.labels['severity'] ?? ''] ?? 3);
  return alerts.map((alert, index) => ({ alert, index })).sort((a, b) => rank(a.alert) - rank(b.alert) || a.index - b.index).map((x) => x.alert);
}

function routesSection(data: AlertsAnswer, routes: readonly RouteView[], f: Formatter): HTMLElement {
  const { t } = f;
  if (data.routes.length === 0) return h('p', { class: 'notice', 'data-field': 'no-webhooks' }, t.alerts.noWebhooks);
  const views = new Map(routes.map((r) => [r.id, r]));
  return h(
    'section',
    { 'aria-label': t.alerts.webhooks },
    h('h2', {}, t.alerts.webhooks),
    h(
      'ul',
      { class: 'webhooks routes' },
      ...data.routes.map((r) => {
        const view = views.get(r.id);
        const notes = [
          view?.digestAt == null ? null : t.alerts.digestAt(view.digestAt),
          view?.quietHours == null ? null : t.alerts.quietHours(view.quietHours.from, view.quietHours.to),
          view === undefined || r.channelType === 'webhook' ? null : view.lang,
        ].filter((n) => n !== null);
        return h(
          'li',
          { 'data-route': r.id, 'data-channel-type': r.channelType },
          h('strong', { 'data-field': 'route' }, r.name),
          r.channel === r.name ? null : h('span', {}, ' → ', h('code', { 'data-field': 'channel' }, r.channel)),
          ` (${t.alerts.channelTypes[r.channelType] ?? r.channelType}${notes.length === 0 ? '' : `; ${notes.join('; ')}`})`,
          ' · ',
          h('span', { class: r.undelivered > 0 ? 'bad' : 'good', 'data-field': 'undelivered' }, t.alerts.undelivered(f.count(r.undelivered))),
          view?.heldUntil == null ? null : h('small', { 'data-field': 'heldUntil' }, ` · ${t.alerts.heldUntil} `, h('time', { datetime: view.heldUntil }, f.time(view.heldUntil))),
          r.lastError === null ? null : h('small', { class: 'error-text', 'data-field': 'lastError' }, `${t.alerts.lastError}: ${r.lastError}`),
        );
      }),
    ),
  );
}

/** The alert's figure in its unit (alert-rules.ts says which). */
function valueText(alert: AlertView, f: Formatter): string {
  const v = alert.value;
  if (v === null) return '–';
  switch (alert.alertname) {
    case 'SpeedwatchSiteBelowTarget':
    case 'SpeedwatchGroupBelowTarget':
      return `${f.mbps(v)} Mbps`;
    case 'SpeedwatchAgentSilent':
      return f.t.alerts.silentFor(f.t.duration(v / 60));
    case 'SpeedwatchAgentDiskLow':
      return f.bytes(v);
    case 'SpeedwatchAgentTestsFailing':
      return f.t.alerts.failedInARow(f.count(v));
    case 'SpeedwatchCollectorRejecting':
      return f.t.alerts.perSecond(f.decimal(v, 2));
    case 'SpeedwatchSiteUdpLossHigh':
      return `${f.decimal(v * 100, 1)} %`;
    case 'SpeedwatchSiteUdpJitterHigh':
    case 'SpeedwatchSiteUdpRoundTripHigh':
      return `${f.decimal(v * 1000, 1)} ms`;
    default:
      return v === 0 ? '–' : f.decimal(v, 1);
  }
}

function notificationItem(d: NotificationView, routeName: ReadonlyMap<string, string>, f: Formatter): HTMLElement {
  const { t } = f;
  const what = d.alertname === 'digest' ? t.alerts.digest : (t.alerts.notified[d.notified] ?? d.notified);
  return h(
    'li',
    { class: `delivery d-${d.state}`, 'data-route': d.route, 'data-state': d.state },
    h('span', { class: 'hook' }, routeName.get(d.route) ?? d.route),
    ' ',
    h('span', { class: 'state', 'data-field': 'state' }, `${t.alerts.states[d.state] ?? d.state} (${what})`),
    h(
      'small',
      { class: 'id' },
      h('span', { 'data-field': 'attempts' }, t.alerts.attempts(d.attempts, f.count(d.attempts))),
      d.deliveredAt === null ? null : h('span', {}, ' · ', h('time', { datetime: d.deliveredAt, 'data-field': 'deliveredAt' }, f.time(d.deliveredAt))),
      d.nextAttemptAt === null || d.state === 'queued' ? null : h('span', {}, ` · ${t.alerts.nextAttempt} `, h('time', { datetime: d.nextAttemptAt }, f.time(d.nextAttemptAt))),
    ),
    d.lastError === null ? null : h('small', { class: 'error-text', 'data-field': 'lastError' }, d.lastError),
  );
}

function alertsTable(alerts: readonly AlertView[], byFingerprint: ReadonlyMap<string, NotificationView[]>, routeName: ReadonlyMap<string, string>, f: Formatter): HTMLElement {
  const { t } = f;
  const rows = alerts.slice(0, MAX_ROWS);
  return h(
    'div',
    {},
    alerts.length > rows.length ? h('p', { class: 'notice', 'data-field': 'showing' }, t.alerts.showing(f.count(rows.length), f.count(alerts.length))) : null,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'alert-list cards-on-phone' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, t.alerts.alert),
            h('th', { scope: 'col' }, t.alerts.site),
            h('th', { scope: 'col' }, t.alerts.severity),
            h('th', { scope: 'col', class: 'num' }, t.alerts.value),
            h('th', { scope: 'col' }, t.alerts.since),
            h('th', { scope: 'col' }, t.alerts.notifications),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows.map((alert) => {
            const agent = alert.labels['agent_id'];
            const area = alert.labels['area'];
            const severity = alert.labels['severity'] ?? '';
            const sent = byFingerprint.get(alert.fingerprint) ?? [];
            return h(
              'tr',
              { 'data-fingerprint': alert.fingerprint, 'data-alertname': alert.alertname, 'data-state': alert.state },
              h(
                'th',
                { scope: 'row', class: 'alert-name' },
                h('span', { class: `badge s-${alert.state}`, 'data-field': 'state' }, alert.state === 'firing' ? t.alerts.firing : t.alerts.pending),
                ' ',
                t.alerts.names[alert.alertname] ?? alert.alertname,
                h('small', { class: 'id' }, alert.alertname),
                alert.annotations['summary'] === undefined ? null : h('small', { class: 'summary' }, alert.annotations['summary']),
                alert.confirmRequestedAt === null ? null : h('small', { class: 'id', 'data-field': 'confirming' }, `${t.alerts.confirming} (`, h('time', { datetime: alert.confirmRequestedAt }, f.time(alert.confirmRequestedAt)), ')'),
              ),
              h(
                'td',
                { 'data-field': 'site', 'data-label': t.alerts.site },
                agent === undefined ? null : h('a', { href: hrefOf('site', agent) }, agent),
                agent === undefined && alert.labels['technology'] !== undefined ? (t.technology[alert.labels['technology']] ?? alert.labels['technology']) : null,
                alert.labels['reason'] === undefined ? null : alert.labels['reason'],
                area === undefined ? null : h('small', { class: 'id' }, area),
              ),
              h('td', { class: `severity sev-${severity}`, 'data-field': 'severity', 'data-label': t.alerts.severity }, t.alerts.severities[severity] ?? severity),
              h('td', { class: 'num', 'data-field': 'value', 'data-label': t.alerts.value }, valueText(alert, f)),
              h(
                'td',
                { 'data-label': t.alerts.since },
                h('time', { datetime: alert.activeAt, 'data-field': 'activeAt' }, f.time(alert.activeAt)),
                alert.startsAt === null ? null : h('small', { class: 'id' }, `${t.alerts.firedAt}: `, h('time', { datetime: alert.startsAt, 'data-field': 'startsAt' }, f.time(alert.startsAt))),
              ),
              h('td', { class: 'deliveries', 'data-label': t.alerts.notifications }, sent.length === 0 ? '–' : h('ul', {}, ...sent.map((d) => notificationItem(d, routeName, f)))),
            );
          }),
        ),
      ),
    ),
  );
}

function resolvedList(resolved: readonly NotificationView[], routeName: ReadonlyMap<string, string>, f: Formatter): HTMLElement {
  return h(
    'ul',
    { class: 'resolved-deliveries' },
    ...resolved.slice(0, MAX_ROWS).map((d) => h('li', { 'data-fingerprint': d.fingerprint }, h('strong', {}, f.t.alerts.names[d.alertname] ?? d.alertname), ' ', h('ul', {}, notificationItem(d, routeName, f)))),
  );
}
