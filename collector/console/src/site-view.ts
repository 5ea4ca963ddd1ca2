/**
 * A site's page (`#/site/<agent id>`): where it is and what it is, its targets and connection,
 * its verdict per window (the minimum-sample rule shown where it bites), its download and upload
 * over the chosen window against the target line and its latency and jitter (site-charts.ts),
 * loss and latency under load, its newest UDP quality (when it has one), the box's health, and
 * its latest tests. One request,
 * `/api/v1/site?agent=…&window=…`. Figure cells carry `data-field` (rows `data-window` or
 * `data-test`), which the browser test reads back against the API.
 */
import type { HealthView, SiteAnswer, SiteFigures, SiteTarget, SiteTest, SiteUdp } from '../../src/api/site-wire.js';
import { ApiError, fetchSite } from './api-client.js';
import { h } from './dom.js';
import type { Child } from './dom.js';
import { formatter } from './i18n.js';
import type { Formatter, Lang } from './i18n.js';
import { hrefOf } from './links.js';
import type { ConsolePage, PageView } from './pages.js';
import { latencyChart, throughputChart } from './site-charts.js';
import { verdictCell } from './verdict-cell.js';

export const sitePage: ConsolePage = {
  name: 'site',
  async load({ lang, window, argument }) {
    if (argument === '') return notFound(lang, formatter(lang, 'Asia/Ho_Chi_Minh').t.noSiteGiven);
    let data: SiteAnswer;
    try {
      data = await fetchSite(argument, window);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'SW_BAD_PARAMETER' && err.parameter === 'agent') {
        return notFound(lang, formatter(lang, 'Asia/Ho_Chi_Minh').t.siteNotFound(argument));
      }
      throw err;
    }
    const f = formatter(lang, data.timeZone);
    return { title: data.site.name, body: renderSite(data, f), windows: { list: data.windows, current: data.window } };
  },
};

/** A page saying what was not found, with the way back: never a blank page. */
function notFound(lang: Lang, message: string): PageView {
  const { t } = formatter(lang, 'Asia/Ho_Chi_Minh');
  return {
    title: message,
    body: h('div', { class: 'site' }, h('p', { class: 'notice error', role: 'alert', 'data-field': 'not-found' }, message), h('p', {}, h('a', { href: hrefOf('') }, t.backToOverview))),
  };
}

const optional = (value: number | null | undefined, format: (v: number) => string): string => (value === null || value === undefined ? '–' : format(value));
const time = (iso: string, f: Formatter, field?: string): HTMLElement => h('time', { datetime: iso, ...(field === undefined ? {} : { 'data-field': field }) }, f.time(iso));

export function renderSite(data: SiteAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  const { download_mbps: download, upload_mbps: upload, latency_ms: latency, jitter_ms: jitter } = data.series.points;
  return h(
    'div',
    { class: 'site', 'data-agent': data.site.id },
    head(data, f),
    data.computedAt === null ? h('p', { class: 'notice' }, t.notYet) : h('p', { class: 'computed' }, `${t.computedAt}: `, time(data.computedAt, f)),
    h('section', {}, h('h2', {}, t.verdictsByWindow), verdictTable(data, f)),
    h(
      'section',
      { class: 'charts' },
      h('h2', {}, t.throughputChart),
      download.length + upload.length === 0 ? h('p', { class: 'notice', 'data-field': 'no-tests' }, t.noTestsInWindow) : throughputChart(data.series, data.targets, f),
      h('h2', {}, t.latencyChart),
      latency.length + jitter.length === 0 ? h('p', { class: 'notice' }, t.noTestsInWindow) : latencyChart(data.series, data.targets, f),
      latencyFacts(data, f),
    ),
    data.udp === null ? null : h('section', { class: 'udp' }, h('h2', {}, t.udp.title), udpCard(data.udp, f)),
    h('section', {}, h('h2', {}, t.health), healthCard(data.health, f)),
    h('section', {}, h('h2', {}, t.recentTests(f.count(data.recent.length))), recentTable(data.recent, f)),
  );
}

/** A term and its value, the value carrying `data-field`. */
function fact(term: string, field: string, ...value: Child[]): HTMLElement[] {
  return [h('div', { class: 'fact' }, h('dt', {}, term), h('dd', { 'data-field': field }, ...value))];
}

function targetText(target: SiteTarget, f: Formatter): HTMLElement {
  const { t } = f;
  if (target.metric === 'latency') return h('span', { class: 'target-item' }, `${t.latency} ≤ `, h('span', { 'data-field': 'target-latency' }, f.ms(target.maxMs)), ' ms');
  return h('span', { class: 'target-item' }, `${target.metric === 'download' ? t.download : t.upload} ≥ `, h('span', { 'data-field': `target-${target.metric}` }, f.mbps(target.minMbps)), ' Mbps');
}

function head(data: SiteAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  const { site, connection } = data;
  const state = h(
    'span',
    { 'data-connected': String(connection.connected), class: connection.connected ? 'up' : 'down' },
    connection.connected ? t.connected : connection.lastSeenAt === null ? t.neverConnected : `${t.disconnected}, ${t.lastSeen} `,
    connection.connected || connection.lastSeenAt === null ? null : time(connection.lastSeenAt, f, 'lastSeen'),
  );
  return h(
    'section',
    { class: 'site-head card' },
    h('h2', {}, h('span', { 'data-field': 'name' }, site.name), ' ', h('small', { class: 'id' }, site.id)),
    h(
      'p',
      { class: 'badges' },
      connection.revokedAt === null ? null : h('span', { class: 'badge v-below', 'data-field': 'revoked' }, t.revoked),
      connection.pausedAt === null ? null : h('span', { class: 'badge v-insufficient-data', 'data-field': 'paused' }, t.paused),
    ),
    h(
      'dl',
      { class: 'facts' },
      ...fact(t.area, 'area', site.area ?? t.noArea),
      ...fact(t.kind, 'kind', t.kinds[site.kind] ?? site.kind),
      ...fact(t.technologyLabel, 'technology', t.technology[site.technology] ?? site.technology),
      ...fact(t.isp, 'isp', site.isp ?? '–'),
      ...fact(t.target, 'targets', ...data.targets.map((target) => targetText(target, f))),
      ...fact(t.connection, 'connection', state),
      ...(site.lat === null || site.lon === null ? [] : fact(t.coordinates, 'coordinates', `${site.lat.toFixed(4)}, ${site.lon.toFixed(4)}`)),
    ),
  );
}

function verdictTable(data: SiteAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  if (data.verdicts.length === 0) return h('p', { class: 'notice' }, data.connection.revokedAt === null ? t.notYet : t.revoked);
  const median = (figures: SiteFigures | null, format: (v: number) => string): string => optional(figures?.median, format);
  const col = (label: string, num = true): HTMLElement => h('th', { scope: 'col', ...(num ? { class: 'num' } : {}) }, label);
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'site-verdicts' },
      h('thead', {}, h('tr', {}, col(t.window, false), col(t.tests), col(t.failedTests), col(`${t.median} (Mbps)`), col(`${t.mean} (Mbps)`), col(t.share), col(`${t.medianUpload} (Mbps)`), col(`${t.medianLatency} (ms)`), col(t.verdict, false))),
      h(
        'tbody',
        {},
        ...data.verdicts.map((v) =>
          h(
            'tr',
            { 'data-window': v.window, ...(v.window === data.window ? { class: 'current', 'aria-current': 'true' } : {}) },
            h('th', { scope: 'row' }, t.windowNames[v.window] ?? v.window),
            h('td', { class: 'num', 'data-field': 'tests' }, f.count(v.download?.tests ?? 0)),
            h('td', { class: 'num', 'data-field': 'failed' }, f.count(v.failedTests)),
            h('td', { class: 'num', 'data-field': 'median' }, median(v.download, f.mbps)),
            h('td', { class: 'num', 'data-field': 'mean' }, optional(v.download?.mean, f.mbps)),
            h('td', { class: 'num', 'data-field': 'share' }, optional(v.download?.shareAtTarget, f.percent)),
            h('td', { class: 'num', 'data-field': 'upload' }, median(v.upload, f.mbps)),
            h('td', { class: 'num', 'data-field': 'latency' }, median(v.latency, f.ms)),
            verdictCell(v.verdict, v.download?.tests ?? 0, v.minTests, f),
          ),
        ),
      ),
    ),
    h('p', { class: 'rule' }, t.minRule(f.count(data.verdicts[0]?.minTests ?? 0))),
  );
}

function latencyFacts(data: SiteAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  const loaded = data.loadedLatency;
  return h(
    'dl',
    { class: 'facts figures' },
    ...fact(t.meanJitter, 'meanJitter', optional(data.series.meanJitterMs, (v) => `${f.ms(v)} ms`)),
    ...fact(t.meanLoss, 'meanLoss', optional(data.series.meanLossRatio, f.loss)),
    ...fact(
      t.loadedLatency,
      'loadedLatency',
      loaded === null
        ? t.notMeasured
        : h(
            'span',
            {},
            h('span', { 'data-field': 'loadedDownload' }, optional(loaded.downloadMs, f.ms)),
            ` ms ${t.whileDownloading}, `,
            h('span', { 'data-field': 'loadedUpload' }, optional(loaded.uploadMs, f.ms)),
            ` ms ${t.whileUploading} (`,
            time(loaded.startedAt, f, 'loadedAt'),
            ')',
          ),
    ),
  );
}

/** The newest UDP quality: round trip, jitter and loss each way, loss in all, and when it was measured. */
function udpCard(udp: SiteUdp, f: Formatter): HTMLElement {
  const { udp: t } = f.t;
  const ms = (v: number): string => `${f.ms(v)} ms`;
  return h(
    'div',
    { class: 'card' },
    h(
      'dl',
      { class: 'facts' },
      ...fact(t.rttMedian, 'udpRttMedian', ms(udp.rttMedianMs)),
      ...fact(t.rttP95, 'udpRttP95', ms(udp.rttP95Ms)),
      ...fact(t.jitterUp, 'udpJitterUp', ms(udp.forwardJitterMs)),
      ...fact(t.jitterDown, 'udpJitterDown', ms(udp.returnJitterMs)),
      ...fact(t.lossUp, 'udpLossUp', f.loss(udp.forwardLossRatio)),
      ...fact(t.lossDown, 'udpLossDown', f.loss(udp.returnLossRatio)),
      ...fact(t.loss, 'udpLoss', f.loss(udp.lossRatio)),
      ...fact(t.measuredAt, 'udpAt', time(udp.startedAt, f)),
    ),
    h('p', { class: 'rule' }, t.note),
  );
}

function healthCard(health: HealthView | null, f: Formatter): HTMLElement {
  const { t } = f;
  if (health === null) return h('p', { class: 'notice', 'data-field': 'no-health' }, t.noHealth);
  return h(
    'dl',
    { class: 'facts health card' },
    ...fact(t.reportedAt, 'reportedAt', time(health.reportedAt, f)),
    ...fact(t.version, 'version', health.agent.version),
    ...fact(t.uptime, 'uptime', optional(health.uptimeSeconds, f.duration)),
    ...fact(t.diskFree, 'diskFree', optional(health.diskFreeBytes, f.gigabytes)),
    ...fact(t.cpuTemperature, 'cpuTemperature', optional(health.cpuTemperatureCelsius, f.celsius)),
    ...fact(t.backlog, 'backlog', f.count(health.backlog)),
    ...fact(t.failedInARow, 'failedInARow', optional(health.failedTestsInARow, f.count)),
    ...fact(t.clockSkew, 'clockSkew', f.seconds(health.clockSkewSeconds)),
  );
}

function recentTable(tests: readonly SiteTest[], f: Formatter): HTMLElement {
  const { t } = f;
  if (tests.length === 0) return h('p', { class: 'notice', 'data-field': 'no-recent' }, t.noTests);
  const col = (label: string, num = true): HTMLElement => h('th', { scope: 'col', ...(num ? { class: 'num' } : {}) }, label);
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'recent' },
      h('thead', {}, h('tr', {}, col(t.time, false), col(t.status, false), col(`${t.download} (Mbps)`), col(`${t.upload} (Mbps)`), col(`${t.latency} (ms)`), col(t.loss), col(t.endpoint, false))),
      h(
        'tbody',
        {},
        ...tests.map((test) =>
          h(
            'tr',
            { 'data-test': test.id, 'data-status': test.status },
            h('th', { scope: 'row' }, time(test.startedAt, f, 'time')),
            h('td', { class: `status s-${test.status}`, 'data-field': 'status' }, t.statuses[test.status] ?? test.status, test.error === null ? null : h('small', { class: 'id', 'data-field': 'error' }, test.error.code)),
            h('td', { class: 'num', 'data-field': 'download' }, optional(test.downloadMbps, f.mbps)),
            h('td', { class: 'num', 'data-field': 'upload' }, optional(test.uploadMbps, f.mbps)),
            h('td', { class: 'num', 'data-field': 'latency' }, optional(test.latencyMs, f.ms)),
            h('td', { class: 'num', 'data-field': 'loss' }, optional(test.lossRatio, f.loss)),
            h('td', { 'data-field': 'endpoint', ...(test.endpoint === null ? {} : { title: test.endpoint.url }) }, test.endpoint?.name ?? '–', test.endpoint === null ? null : h('small', { class: 'id' }, test.endpoint.url)),
          ),
        ),
      ),
    ),
  );
}
