/**
 * The site page's time series charts (uPlot): download and upload against their target lines,
 * and latency with jitter. Each chart is drawn once its box is in the page and has a width, and
 * redrawn to the box's width when it changes (a phone turned, a window resized); it is destroyed
 * when the page replaces it. The box carries `data-series` (lines drawn), `data-points` and
 * `data-drawn` (how many times uPlot drew), which the browser test reads.
 */
import uPlot from 'uplot';
import type { SiteSeries, SiteSeriesPoint, SiteTarget } from '../../src/api/site-wire.js';
import { h } from './dom.js';
import type { Formatter } from './i18n.js';

/** One line: its label, colour, points, and a dash for target lines. */
interface Line {
  label: string;
  colour: string;
  /** Values at the shared x, null where the bucket has none. */
  values: (number | null)[];
  dash?: number[];
  format: (value: number) => string;
}

const COLOURS = { download: '#0b5cad', upload: '#1a7f37', target: '#c62828', latency: '#6f42c1', jitter: '#9a6700' };

/**
 * The x values (seconds) of every bucket with data in any of `series`, with a null bucket where
 * data stops for more than 4 times the usual spacing (at least 2 steps): a site silent for days
 * shows a gap, not a straight line across its silence.
 */
function xAxis(series: readonly (readonly SiteSeriesPoint[])[], stepMs: number): number[] {
  const times = [...new Set(series.flatMap((points) => points.map((p) => Date.parse(p.ts))))].sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - (times[i] as number)).sort((a, b) => a - b);
  const usual = gaps[Math.floor(gaps.length / 2)] ?? stepMs;
  const broken = Math.max(4 * usual, 2 * stepMs);
  const out: number[] = [];
  for (const [i, t] of times.entries()) {
    const previous = times[i - 1];
    if (previous !== undefined && t - previous > broken) out.push((previous + stepMs) / 1000);
    out.push(t / 1000);
  }
  return out;
}

/** The series' window in seconds, as uPlot's x scale wants it. */
function windowRange(series: SiteSeries): [number, number] {
  return [Date.parse(series.from) / 1000, Date.parse(series.to) / 1000];
}

/** The points' medians at `x` (seconds), null where a bucket has none. */
function medians(points: readonly SiteSeriesPoint[], x: readonly number[]): (number | null)[] {
  const byTime = new Map(points.map((p) => [Date.parse(p.ts) / 1000, p.median]));
  return x.map((t) => byTime.get(t) ?? null);
}

/** Tick labels in the collector's zone: hours within a day, the date at midnight and for longer steps. */
function timeTicks(f: Formatter): (u: uPlot, splits: number[], axisIdx: number, space: number, incr: number) => string[] {
  const hour = new Intl.DateTimeFormat(f.locale, { timeZone: f.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = new Intl.DateTimeFormat(f.locale, { timeZone: f.timeZone, day: '2-digit', month: '2-digit' });
  return (_u, splits, _axis, _space, incr) =>
    splits.map((s) => {
      const date = new Date(s * 1000);
      const clock = hour.format(date);
      return incr >= 86_400 || clock === '00:00' ? day.format(date) : clock;
    });
}

/**
 * A chart in a box that follows its width; `lines` share the x axis `x` (seconds), which spans
 * the whole window `range` (seconds), so a site silent since some day shows it at the right.
 */
function chart(kind: string, range: [number, number], x: number[], lines: Line[], unit: string, f: Formatter, height: number): HTMLElement {
  const box = h('div', { class: 'chart', 'data-chart': kind, 'data-series': String(lines.length), 'data-points': String(x.length) });
  const number = new Intl.NumberFormat(f.locale, { maximumFractionDigits: 1 });
  const at = new Intl.DateTimeFormat(f.locale, { timeZone: f.timeZone, dateStyle: 'short', timeStyle: 'short' });
  let plot: uPlot | undefined;
  let drawn = 0;
  const options = (width: number): uPlot.Options => ({
    width,
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), f.timeZone),
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true, range: () => range }, y: { range: (_u, min, max) => [0, Math.max(max, min, 1) * 1.1] } },
    axes: [
      { values: timeTicks(f), stroke: '#5b6575', grid: { stroke: '#e6e9ee' } },
      { label: unit, values: (_u, splits) => splits.map((v) => number.format(v)), stroke: '#5b6575', grid: { stroke: '#e6e9ee' }, size: 48 },
    ],
    series: [
      { label: f.t.time, value: (_u, v) => (v === null ? '–' : at.format(new Date(v * 1000))) },
      ...lines.map((line) => ({
        label: line.label,
        stroke: line.colour,
        width: line.dash === undefined ? 2 : 1.5,
        ...(line.dash === undefined ? { points: { show: true, size: 4 } } : { dash: line.dash, points: { show: false } }),
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : line.format(v)),
      })),
    ],
    hooks: {
      draw: [
        () => {
          drawn += 1;
          box.dataset['drawn'] = String(drawn);
        },
      ],
    },
  });
  const observer = new ResizeObserver(() => {
    if (!box.isConnected) {
      observer.disconnect();
      plot?.destroy();
      plot = undefined;
      return;
    }
    const width = Math.floor(box.clientWidth);
    if (width <= 0) return;
    if (plot === undefined) plot = new uPlot(options(width), [x, ...lines.map((l) => l.values)], box);
    else if (plot.width !== width) plot.setSize({ width, height });
  });
  observer.observe(box);
  return box;
}

/** The throughput chart: download and upload medians, and each rate target as a dashed line. */
export function throughputChart(series: SiteSeries, targets: readonly SiteTarget[], f: Formatter): HTMLElement {
  const { download_mbps: download, upload_mbps: upload } = series.points;
  const x = xAxis([download, upload], series.stepMs);
  const lines: Line[] = [
    { label: f.t.download, colour: COLOURS.download, values: medians(download, x), format: f.mbps },
    { label: f.t.upload, colour: COLOURS.upload, values: medians(upload, x), format: f.mbps },
  ];
  for (const target of targets) {
    if (target.metric === 'latency') continue;
    const label = f.t.targetOf(target.metric === 'download' ? f.t.download : f.t.upload);
    lines.push({ label, colour: target.metric === 'download' ? COLOURS.target : COLOURS.upload, values: x.map(() => target.minMbps), dash: [6, 4], format: f.mbps });
  }
  return chart('throughput', windowRange(series), x, lines, 'Mbps', f, 260);
}

/** The latency chart: latency and jitter medians, and a latency target as a dashed line. */
export function latencyChart(series: SiteSeries, targets: readonly SiteTarget[], f: Formatter): HTMLElement {
  const { latency_ms: latency, jitter_ms: jitter } = series.points;
  const x = xAxis([latency, jitter], series.stepMs);
  const lines: Line[] = [
    { label: f.t.latency, colour: COLOURS.latency, values: medians(latency, x), format: f.ms },
    { label: f.t.jitter, colour: COLOURS.jitter, values: medians(jitter, x), format: f.ms },
  ];
  for (const target of targets) {
    if (target.metric === 'latency') lines.push({ label: f.t.targetOf(f.t.latency), colour: COLOURS.target, values: x.map(() => target.maxMs), dash: [6, 4], format: f.ms });
  }
  return chart('latency', windowRange(series), x, lines, 'ms', f, 180);
}
