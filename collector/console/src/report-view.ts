/**
 * The reports page: the compliance report a committee files, for a calendar month or any dates
 * and an area (`#/report?month=2026-11&area=…`; by default the last month that is over, for
 * every site), drawn from one request to /api/v1/report. The document part prints on A4 pages
 * (console.css, `@media print`); the same report downloads as CSV or XLSX from the API. The
 * headings and the method are the report's own words (collector/src/report/report-labels.ts),
 * so the printed page, the CSV and the XLSX say the same thing.
 */
import type { ComplianceReport, MetricFigures, ReportGroupRow, ReportSiteRow } from '../../src/report/report-wire.js';
import { reportLabels } from '../../src/report/report-labels.js';
import type { ReportLabels } from '../../src/report/report-labels.js';
import { ApiError, fetchReport } from './api-client.js';
import { h } from './dom.js';
import { formatter } from './i18n.js';
import type { Formatter } from './i18n.js';
import { hrefOf } from './links.js';
import type { ConsolePage } from './pages.js';

/** The query parameters the page passes to the API, in this order. */
const RANGE_KEYS = ['month', 'from', 'to', 'area'] as const;

export const reportPage: ConsolePage = {
  name: 'report',
  nav: (t) => t.reports,
  async load({ lang, query }) {
    const asked = new URLSearchParams();
    for (const key of RANGE_KEYS) {
      const value = query.get(key);
      if (value !== null && value !== '') asked.set(key, value);
    }
    const labels = reportLabels(lang);
    let report: ComplianceReport;
    try {
      report = await fetchReport(asked);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400) throw err;
      const f = formatter(lang, 'Asia/Ho_Chi_Minh');
      return { title: f.t.reports, body: h('div', { class: 'report' }, controls(undefined, asked, f), h('p', { class: 'notice error', role: 'alert', 'data-field': 'report-error' }, err.detail ?? err.message)) };
    }
    const f = formatter(lang, report.range.timeZone);
    const download = (format: 'csv' | 'xlsx'): string => {
      const search = new URLSearchParams(asked);
      if (!search.has('month') && !search.has('from')) search.set('month', report.range.month ?? '');
      search.set('format', format);
      search.set('lang', lang);
      return `/api/v1/report?${search.toString()}`;
    };
    return {
      title: `${f.t.reports} ${report.range.month ?? `${report.range.firstDay} – ${report.range.lastDay}`}`,
      body: h(
        'div',
        { class: 'report' },
        controls(report, asked, f, { csv: download('csv'), xlsx: download('xlsx') }),
        reportDocument(report, labels, f),
      ),
    };
  },
};

/** The form choosing the range and the area, and the print and download buttons; not printed. */
function controls(report: ComplianceReport | undefined, asked: URLSearchParams, f: Formatter, downloads?: { csv: string; xlsx: string }): HTMLElement {
  const { t } = f;
  const byRange = asked.has('from') || asked.has('to');
  const month = h('input', { type: 'month', name: 'month', id: 'report-month', value: asked.get('month') ?? report?.range.month ?? '' });
  const from = h('input', { type: 'date', name: 'from', id: 'report-from', value: asked.get('from') ?? report?.range.firstDay ?? '' });
  const to = h('input', { type: 'date', name: 'to', id: 'report-to', value: asked.get('to') ?? '' });
  const mode = (value: 'month' | 'range', label: string): HTMLElement =>
    h('label', {}, h('input', { type: 'radio', name: 'period', value, ...((value === 'range') === byRange ? { checked: '' } : {}) }), ' ', label);
  const area = h('select', { name: 'area', id: 'report-area' }, h('option', { value: '' }, t.allSites), ...(report?.areas ?? []).map((a) => h('option', { value: a, ...(a === report?.area ? { selected: '' } : {}) }, a)));
  const form = h(
    'form',
    { class: 'report-controls', 'aria-label': t.reportControls },
    h('fieldset', {}, h('legend', {}, t.period), mode('month', t.calendarMonth), ' ', month, ' ', mode('range', t.dateRange), ' ', from, ' – ', to, h('small', { class: 'hint' }, t.toExclusive)),
    h('label', { class: 'area-choice' }, `${t.area}: `, area),
    h('button', { type: 'submit' }, t.show),
    downloads === undefined ? null : h('button', { type: 'button', class: 'print' }, t.print),
    downloads === undefined ? null : h('a', { class: 'download', href: downloads.csv, download: '' }, 'CSV'),
    downloads === undefined ? null : h('a', { class: 'download', href: downloads.xlsx, download: '' }, 'XLSX'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next: Record<string, string> = {};
    if (data.get('period') === 'range') {
      next['from'] = String(data.get('from') ?? '');
      next['to'] = String(data.get('to') ?? '');
    } else next['month'] = String(data.get('month') ?? '');
    const chosen = String(data.get('area') ?? '');
    if (chosen !== '') next['area'] = chosen;
    window.location.hash = hrefOf('report', undefined, next);
  });
  form.querySelector('button.print')?.addEventListener('click', () => window.print());
  return form;
}

const optional = (value: number | null | undefined, format: (v: number) => string): string => (value === null || value === undefined ? '–' : format(value));

/** The printable document: heading block, notes, totals, per kind, per site, method. */
function reportDocument(report: ComplianceReport, labels: ReportLabels, f: Formatter): HTMLElement {
  const c = labels.columns;
  const word = (dictionary: Record<string, string>, value: string): string => dictionary[value] ?? value;
  const metric = (m: MetricFigures | null, field: 'median' | 'mean', name: string): HTMLElement => h('td', { class: 'num', 'data-field': name }, optional(m?.[field], f.mbps));
  const verdict = (v: string): HTMLElement => h('td', { class: `verdict v-${v}`, 'data-field': 'verdict', 'data-verdict': v }, word(labels.verdict, v));
  const groupTable = (rows: readonly ReportGroupRow[], cls: string, withKind: boolean): HTMLElement =>
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: `report-table ${cls}` },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, c.technology),
            withKind ? h('th', { scope: 'col' }, c.siteKind) : null,
            ...[c.sites, c.meets, c.below, c.insufficientData, c.noData, c.tests, c.downloadMedian, c.downloadMean, c.uploadMedian, c.shareAtTarget].map((label) => h('th', { scope: 'col', class: 'num' }, label)),
            h('th', { scope: 'col' }, c.verdict),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows.map((r) =>
            h(
              'tr',
              { 'data-technology': r.technology, ...(r.siteKind === undefined ? {} : { 'data-kind': r.siteKind }) },
              h('th', { scope: 'row' }, word(labels.technology, r.technology), h('small', { class: 'id' }, `≥ ${f.mbps(r.targetMbps)} Mbps`)),
              withKind ? h('td', {}, word(labels.siteKind, r.siteKind ?? '')) : null,
              h('td', { class: 'num', 'data-field': 'sites' }, f.count(r.sites)),
              h('td', { class: 'num', 'data-field': 'meets' }, f.count(r.siteVerdicts.meets)),
              h('td', { class: 'num', 'data-field': 'below' }, f.count(r.siteVerdicts.below)),
              h('td', { class: 'num', 'data-field': 'insufficientData' }, f.count(r.siteVerdicts.insufficientData)),
              h('td', { class: 'num', 'data-field': 'noData' }, f.count(r.siteVerdicts.noData)),
              h('td', { class: 'num', 'data-field': 'tests' }, f.count(r.tests), r.verdict === 'insufficient-data' ? h('small', { class: 'bites', 'data-field': 'rule' }, f.t.needs(f.count(r.tests), f.count(r.minTests))) : null),
              metric(r.download, 'median', 'downloadMedian'),
              metric(r.download, 'mean', 'downloadMean'),
              metric(r.upload, 'median', 'uploadMedian'),
              h('td', { class: 'num', 'data-field': 'share' }, optional(r.shareAtTarget, f.percent)),
              verdict(r.verdict),
            ),
          ),
        ),
      ),
    );
  const siteRow = (s: ReportSiteRow): HTMLElement =>
    h(
      'tr',
      { 'data-agent': s.agentId, 'data-technology': s.technology },
      h('th', { scope: 'row' }, h('a', { href: hrefOf('site', s.agentId) }, s.name), h('small', { class: 'id' }, s.agentId)),
      h('td', { class: 'area-cell' }, s.area ?? ''),
      h('td', {}, word(labels.technology, s.technology), h('small', { class: 'id' }, word(labels.siteKind, s.siteKind))),
      h('td', { class: 'num', 'data-field': 'tests' }, f.count(s.tests)),
      metric(s.download, 'median', 'downloadMedian'),
      metric(s.upload, 'median', 'uploadMedian'),
      h('td', { class: 'num', 'data-field': 'share' }, optional(s.shareAtTarget, f.percent)),
      verdict(s.verdict),
    );
  const r = report.range;
  return h(
    'article',
    { class: 'report-doc', 'data-range': r.name, 'data-area': report.area ?? '' },
    h('h2', { class: 'report-title' }, labels.title),
    h(
      'dl',
      { class: 'report-head' },
      h('dt', {}, labels.area),
      h('dd', { 'data-field': 'area' }, report.area ?? labels.wholeFleet),
      h('dt', {}, labels.range),
      h('dd', { 'data-field': 'period' }, `${r.firstDay} – ${r.lastDay}`),
      h('dt', {}, labels.timeZone),
      h('dd', {}, r.timeZone),
      h('dt', {}, labels.generatedAt),
      h('dd', {}, h('time', { datetime: report.generatedAt }, f.time(report.generatedAt))),
    ),
    ...report.notes.map((note) => h('p', { class: 'notice report-note', 'data-note': note.code }, labels.note(note))),
    h('h3', {}, labels.totals),
    groupTable(report.totals, 'report-totals', false),
    h('h3', {}, labels.byKind),
    groupTable(report.byKind, 'report-kinds', true),
    h('h3', {}, `${labels.sites} (${f.count(report.sites.length)})`),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'report-table report-sites' },
        h(
          'thead',
          {},
          h('tr', {}, ...[c.name, c.siteArea, c.technology].map((label) => h('th', { scope: 'col' }, label)), ...[c.tests, c.downloadMedian, c.uploadMedian, c.shareAtTarget].map((label) => h('th', { scope: 'col', class: 'num' }, label)), h('th', { scope: 'col' }, c.verdict)),
        ),
        h('tbody', {}, ...report.sites.map(siteRow)),
      ),
    ),
    h('h3', {}, labels.method),
    h('ul', { class: 'report-method' }, ...labels.methodLines(report.method).map((line) => h('li', {}, line))),
  );
}
