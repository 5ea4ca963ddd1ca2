/**
 * The overview page: per technology the sites meeting, below, with too few tests and silent;
 * the area tree (province → district → commune) with tests, median and mean download, share at
 * target and verdict, the minimum-sample rule shown where it bites; the slowest sites; the map
 * of the sites by verdict (site-map.ts).
 * Every figure cell carries `data-field` and its row `data-area`/`data-agent` and
 * `data-technology`, which the browser test reads back against the API.
 */
import type { AreaRow, OverviewAnswer, SlowSite, TechnologySummary } from '../../src/api/overview-wire.js';
import { fetchOverview } from './api-client.js';
import { h } from './dom.js';
import { formatter } from './i18n.js';
import { hrefOf } from './links.js';
import type { Formatter } from './i18n.js';
import { fetchOutlines } from './map-outlines.js';
import type { Outlines } from './map-outlines.js';
import type { ConsolePage } from './pages.js';
import { siteMap } from './site-map.js';
import { verdictCell } from './verdict-cell.js';

/**
 * The overview as a console page: one request, `/api/v1/overview?window=…` (or `?month=2026-11`
 * for a calendar month, `#/?month=2026-11`), beside the map's outlines (a cached asset).
 */
export const overviewPage: ConsolePage = {
  name: '',
  nav: (t) => t.overview,
  async load({ lang, window, query }) {
    const month = query.get('month') ?? undefined;
    const [data, outlines] = await Promise.all([fetchOverview(window, month), fetchOutlines()]);
    const f = formatter(lang, data.timeZone);
    return { title: f.t.overview, body: renderOverview(data, outlines, f), windows: { list: data.windows, current: data.window } };
  },
};

/** A calendar month instead of a rolling window: a month field that goes to `#/?month=…`. */
function monthChoice(data: OverviewAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  const input = h('input', { type: 'month', name: 'month', id: 'overview-month', value: data.month ?? '', required: '' });
  const form = h('form', { class: 'month-choice' }, h('label', { for: 'overview-month' }, `${t.calendarMonth}: `), input, h('button', { type: 'submit' }, t.showMonth));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value !== '') window.location.hash = hrefOf('', undefined, { month: input.value });
  });
  return form;
}

export function renderOverview(data: OverviewAnswer, outlines: Outlines | undefined, f: Formatter): HTMLElement {
  const { t } = f;
  return h(
    'div',
    { class: 'overview', 'data-window': data.window, 'data-month': data.month ?? '' },
    monthChoice(data, f),
    data.month !== null ? h('p', { class: 'notice month-note', 'data-field': 'month' }, t.monthShown(data.month)) : null,
    data.computedAt === null ? h('p', { class: 'notice' }, t.notYet) : h('p', { class: 'computed' }, `${t.computedAt}: `, h('time', { datetime: data.computedAt }, f.time(data.computedAt))),
    h('section', { class: 'cards', 'aria-label': t.sites }, ...data.technologies.map((s) => technologyCard(s, f))),
    siteMap(data.sites, outlines, f),
    h('section', {}, h('h2', {}, t.areaTree), areaTable(data.areas, f)),
    h('section', {}, h('h2', {}, t.slowest), slowestTable(data.slowest, f)),
  );
}

function technologyCard(s: TechnologySummary, f: Formatter): HTMLElement {
  const { t } = f;
  const item = (field: string, label: string, value: number, cls: string): HTMLElement =>
    h('div', { class: `count ${cls}` }, h('span', { class: 'value', 'data-field': field }, f.count(value)), h('span', { class: 'label' }, label));
  return h(
    'article',
    { class: 'card', 'data-technology': s.technology },
    h('h2', {}, t.technology[s.technology] ?? s.technology, ' ', h('span', { class: 'target' }, `${t.target} ≥ ${f.mbps(s.targetMbps)} Mbps`)),
    h('p', { class: 'sites' }, `${t.sites}: `, h('span', { 'data-field': 'sites' }, f.count(s.sites))),
    h(
      'div',
      { class: 'counts' },
      item('meets', t.meets, s.meets, 'v-meets'),
      item('below', t.below, s.below, 'v-below'),
      item('insufficientData', t.insufficient, s.insufficientData, 'v-insufficient-data'),
      item('noData', t.silent, s.noData, 'v-no-data'),
    ),
    h('p', { class: 'rule' }, t.minRule(f.count(s.minTests))),
  );
}

const optional = (value: number | null, format: (v: number) => string): string => (value === null ? '–' : format(value));

function areaTable(rows: readonly AreaRow[], f: Formatter): HTMLElement {
  const { t } = f;
  const body = h('tbody');
  // Communes (level 3 and below) start folded under their district; a district's button unfolds them.
  const toggles = new Map<string, HTMLButtonElement>();
  for (const row of rows) {
    const name = row.area === '(none)' ? t.noArea : (row.area.split('/').at(-1) ?? row.area);
    const parent = row.level > 1 ? row.area.split('/').slice(0, -1).join('/') : '';
    const tr = h(
      'tr',
      { class: `level-${row.level}`, 'data-area': row.area, 'data-technology': row.technology, 'data-level': String(row.level), ...(parent === '' ? {} : { 'data-parent': parent }) },
      h('th', { scope: 'row', class: 'area-name' }, row.level === 2 ? districtToggle(row.area, toggles, body, f) : null, name),
      h('td', { class: 'tech' }, t.technology[row.technology] ?? row.technology),
      h('td', { class: 'num', 'data-field': 'tests', 'data-label': t.short.tests }, f.count(row.tests)),
      h('td', { class: 'num mbps', 'data-field': 'median', 'data-label': t.short.median }, optional(row.medianMbps, f.mbps)),
      h('td', { class: 'num mbps mean', 'data-field': 'mean', 'data-label': t.short.mean }, optional(row.meanMbps, f.mbps)),
      h('td', { class: 'num', 'data-field': 'share', 'data-label': t.short.share }, optional(row.shareAtTarget, f.percent)),
      verdictCell(row.verdict, row.tests, row.minTests, f),
    );
    if (row.level >= 3) tr.hidden = true;
    body.append(tr);
  }
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'areas stack' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t.area), h('th', { scope: 'col' }, ''), h('th', { scope: 'col', class: 'num' }, t.tests), h('th', { scope: 'col', class: 'num' }, `${t.median} (Mbps)`), h('th', { scope: 'col', class: 'num' }, `${t.mean} (Mbps)`), h('th', { scope: 'col', class: 'num' }, t.share), h('th', { scope: 'col' }, t.verdict))),
      body,
    ),
  );
}

/** The district's fold button: one per district (its first row), unfolding the rows below it. */
function districtToggle(district: string, toggles: Map<string, HTMLButtonElement>, body: HTMLElement, f: Formatter): HTMLButtonElement | null {
  if (toggles.has(district)) return null;
  const button = h('button', { type: 'button', class: 'fold', 'aria-expanded': 'false', 'aria-label': `${f.t.expand}: ${district}` }, '▸');
  button.addEventListener('click', () => {
    const open = button.getAttribute('aria-expanded') !== 'true';
    button.setAttribute('aria-expanded', String(open));
    button.textContent = open ? '▾' : '▸';
    for (const tr of body.querySelectorAll<HTMLElement>('tr')) {
      const area = tr.dataset['area'] ?? '';
      if (area.startsWith(`${district}/`)) tr.hidden = !open;
    }
  });
  toggles.set(district, button);
  return button;
}

function slowestTable(sites: readonly SlowSite[], f: Formatter): HTMLElement {
  const { t } = f;
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'slowest stack' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t.site), h('th', { scope: 'col' }, t.area), h('th', { scope: 'col' }, ''), h('th', { scope: 'col', class: 'num' }, t.tests), h('th', { scope: 'col', class: 'num' }, `${t.median} (Mbps)`), h('th', { scope: 'col', class: 'num' }, `${t.target} (Mbps)`), h('th', { scope: 'col' }, t.verdict))),
      h(
        'tbody',
        {},
        ...sites.map((s) =>
          h(
            'tr',
            { 'data-agent': s.agentId, 'data-technology': s.technology },
            h('th', { scope: 'row' }, h('a', { href: hrefOf('site', s.agentId) }, s.name), h('small', { class: 'id' }, s.agentId)),
            h('td', { class: 'place' }, s.area ?? t.noArea),
            h('td', { class: 'tech' }, t.technology[s.technology] ?? s.technology),
            h('td', { class: 'num', 'data-field': 'tests', 'data-label': t.short.tests }, f.count(s.tests)),
            h('td', { class: 'num mbps', 'data-field': 'median', 'data-label': t.short.median }, f.mbps(s.medianMbps)),
            h('td', { class: 'num mbps', 'data-label': t.short.target }, f.mbps(s.targetMbps)),
            verdictCell(s.verdict, s.tests, s.minTests, f),
          ),
        ),
      ),
    ),
  );
}
