/**
 * The Grafana provisioning files and dashboards (collector/deploy/grafana). Grafana itself is not
 * installable here (no Debian package), so the dashboards are checked for structure, and every
 * panel query and variable query runs, with the variables filled in as Grafana would, in a real
 * Prometheus (Debian's package) with the shipped rules, scraping a live collector fed real
 * results over the WebSocket protocol. The Prometheus part is skipped with a printed reason
 * where the prometheus binary is missing, except under CI.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConnection, prometheusUnavailable, startCollector, startPrometheus, testResult, until } from './support/prometheus.js';
import type { LiveCollector, PromAnswer, PrometheusServer, PromSeries, Site } from './support/prometheus.js';

const GRAFANA = new URL('../collector/deploy/grafana/', import.meta.url).pathname;
const DASHBOARDS_DOC = readFileSync(new URL('../docs/dashboards.md', import.meta.url), 'utf8');

interface DatasourceRef {
  type?: string;
  uid?: string;
}

interface Target {
  refId: string;
  expr: string;
  datasource?: DatasourceRef;
  instant?: boolean;
  format?: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: DatasourceRef;
  targets?: Target[];
  panels?: Panel[];
  options?: Record<string, unknown>;
  fieldConfig?: { overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[] };
  transformations?: { id: string; options: Record<string, unknown> }[];
}

/** The part of a geomap layer's options the map test reads. */
interface GeomapLayer {
  type: string;
  location?: { mode: string; latitude?: string; longitude?: string };
  config?: { style?: { color?: { field?: string } } };
}

interface Variable {
  name: string;
  type: string;
  datasource?: DatasourceRef;
  definition?: string;
  query?: string | { query: string };
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const DASHBOARD_FILES = readdirSync(join(GRAFANA, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
const DASHBOARDS = DASHBOARD_FILES.map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(GRAFANA, 'dashboards', file), 'utf8')) as Dashboard }));

const datasources = parseYaml(readFileSync(join(GRAFANA, 'provisioning/datasources/speedwatch.yml'), 'utf8')) as { apiVersion: number; datasources: { uid: string; type: string; url: string }[] };
const providers = parseYaml(readFileSync(join(GRAFANA, 'provisioning/dashboards/speedwatch.yml'), 'utf8')) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
const DATASOURCE_UID = datasources.datasources[0]?.uid;

/** Every panel, rows' nested panels included. */
function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

function variableQuery(v: Variable): string {
  return typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
}

/** Grafana's variable syntaxes: `$name`, `${name}`, `${name:format}`, `[[name]]`. */
const VARIABLE_REF = /\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g;

/** Names of the dashboard variables `text` uses: Grafana's own (`$__…`) and regex groups (`$1`) left out. */
function variablesUsed(text: string): string[] {
  return [...text.matchAll(VARIABLE_REF)].map((m) => (m[1] ?? m[2] ?? m[3]) as string).filter((n) => !n.startsWith('__') && !/^\d+$/.test(n));
}

/** Replaces Grafana variables with `values`; unknown names stay as they are, as in Grafana. */
function substitute(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(VARIABLE_REF, (whole, a?: string, b?: string, c?: string) => values[(a ?? b ?? c) as string] ?? whole);
}

/** How Grafana writes one selected value of a multi-value variable into a Prometheus query. */
function grafanaRegexEscape(value: string): string {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** Grafana's built-in interval variables, for a 5-minute range and a 15 s step. */
const BUILT_IN = { __interval: '15s', __interval_ms: '15000', __rate_interval: '1m', __range: '5m', __range_s: '300', __range_ms: '300000' };

const SITES: Site[] = [
  { id: 'school-1', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', lat: 21.86, lon: 106.83 },
  { id: 'clinic-1', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc', lat: 21.85, lon: 106.82 },
  // No coordinates: not on the map.
  { id: 'office-1', siteKind: 'office', technology: 'fixed', isp: 'FPT', area: 'Hà Nội/Ba Đình' },
  // Never connects: a site with no data (on the map, with no version).
  { id: 'school-2', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Lộc Bình', lat: 21.76, lon: 106.92 },
];

/** The sites the map shows: those with coordinates. */
const MAPPED = SITES.filter((s) => s.lat !== undefined && s.lon !== undefined);

/** Variable values: everything selected (Grafana's All is `.*` here), or particular values (two technologies, one of the rest) as Grafana writes them. */
function selections(collectorTarget: string): Record<'everything selected' | 'particular values', Record<string, string>> {
  return {
    'everything selected': { ...BUILT_IN, technology: '.*', site_kind: '.*', isp: '.*', area: '.*', instance: '.*', window: '24h', agent: 'school-1' },
    'particular values': {
      ...BUILT_IN,
      technology: '(fixed|mobile)',
      site_kind: 'school',
      isp: 'VNPT',
      area: grafanaRegexEscape('Lạng Sơn/Cao Lộc/Hợp Thành'),
      instance: grafanaRegexEscape(collectorTarget),
      window: '7d',
      agent: 'clinic-1',
    },
  };
}

const QUERIES = DASHBOARDS.flatMap(({ file, dashboard }) =>
  allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) =>
      (['everything selected', 'particular values'] as const).map((selection) => ({ file, panel: panel.title, refId: target.refId, expr: target.expr, selection })),
    ),
  ),
);

const LABEL_VALUES = /^label_values\((?:(.+),\s*)?(\w+)\)$/;

const VARIABLES = DASHBOARDS.flatMap(({ file, dashboard }) =>
  dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ file, name: v.name, query: variableQuery(v) })),
);

function panel(file: string, title: string): Panel {
  const dashboard = DASHBOARDS.find((d) => d.file === file)?.dashboard;
  const found = dashboard && allPanels(dashboard).find((p) => p.title === title);
  if (found === undefined) throw new Error(`${file} has no panel "${title}"`);
  return found;
}

function expr(file: string, title: string, refId: string): string {
  const target = panel(file, title).targets?.find((t) => t.refId === refId);
  if (target === undefined) throw new Error(`${file} › ${title} has no query ${refId}`);
  return target.expr;
}

describe('Grafana provisioning', () => {
  it('provisions one Prometheus datasource with a fixed uid', () => {
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', uid: 'speedwatch-prometheus' });
  });

  it('loads dashboards from files, from the folder docs/dashboards.md says to copy them to', () => {
    expect(providers.apiVersion).toBe(1);
    const [provider] = providers.providers;
    expect(provider?.type).toBe('file');
    expect(DASHBOARDS_DOC).toContain(provider?.options.path);
    expect(DASHBOARDS_DOC).toContain('/etc/grafana/provisioning/datasources/');
    expect(DASHBOARDS_DOC).toContain('/etc/grafana/provisioning/dashboards/');
  });
});

describe('Grafana dashboards', () => {
  it('ship a fleet overview, a site page and fleet health, each with its own uid', () => {
    expect(DASHBOARD_FILES).toEqual(['fleet-health.json', 'fleet-overview.json', 'site.json']);
    const uids = DASHBOARDS.map((d) => d.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('link only to dashboards that exist', () => {
    const uids = new Set(DASHBOARDS.map((d) => d.dashboard.uid));
    const linked = JSON.stringify(DASHBOARDS).match(/\/d\/[\w-]+/g) ?? [];
    expect(linked.length).toBeGreaterThan(0);
    for (const link of linked) expect(uids).toContain(link.slice(3));
  });

  it('place the sites on the map by their lat and lon labels, made numbers, and colour them by verdict', () => {
    const map = panel('fleet-overview.json', 'Sites on the map');
    expect(map.type).toBe('geomap');
    expect(map.targets?.map((t) => t.format)).toEqual(['table', 'table']);
    expect(map.targets?.every((t) => t.instant === true)).toBe(true);
    const layers = (map.options?.['layers'] ?? []) as GeomapLayer[];
    expect(layers).toHaveLength(1);
    expect(layers[0]).toMatchObject({ type: 'markers', location: { mode: 'coords', latitude: 'lat', longitude: 'lon' } });
    // The markers layer reads one frame: the two queries are merged into it.
    const transformations = map.transformations ?? [];
    expect(transformations[0]?.id).toBe('merge');
    const conversions = transformations.find((t) => t.id === 'convertFieldType')?.options['conversions'];
    expect(conversions).toEqual([
      { targetField: 'lat', destinationType: 'number' },
      { targetField: 'lon', destinationType: 'number' },
    ]);
    // The colour field is the verdict label under its organized name, with a colour for each verdict.
    const renamed = (transformations.find((t) => t.id === 'organize')?.options['renameByName'] ?? {}) as Record<string, string>;
    const colourField = layers[0]?.config?.style?.color?.field;
    expect(colourField).toBe(renamed['verdict']);
    const override = map.fieldConfig?.overrides?.find((o) => o.matcher.id === 'byName' && o.matcher.options === colourField);
    const [mapping] = (override?.properties.find((p) => p.id === 'mappings')?.value ?? []) as { options: Record<string, { color?: string }> }[];
    for (const verdict of ['meets', 'below', 'insufficient-data', 'no-data']) expect(mapping?.options[verdict]?.color, verdict).toBeDefined();
  });

  describe.each(DASHBOARDS)('$file', ({ dashboard }) => {
    const panels = allPanels(dashboard);

    it('is a schema 39 dashboard with a uid and a title', () => {
      expect(dashboard.schemaVersion).toBe(39);
      expect(dashboard.uid).toMatch(/^speedwatch-[a-z-]+$/);
      expect(dashboard.uid.length).toBeLessThanOrEqual(40);
      expect(dashboard.title).toMatch(/^Speedwatch \/ /);
    });

    it('numbers and titles its panels uniquely', () => {
      for (const key of ['id', 'title'] as const) {
        const values = panels.map((p) => p[key]);
        expect(new Set(values).size, key).toBe(values.length);
      }
    });

    it('places every panel on the 24-column grid, none over another', () => {
      const boxes = panels.map((p) => ({ title: p.title, ...p.gridPos }));
      for (const b of boxes) {
        expect(b.h, b.title).toBeGreaterThan(0);
        expect(Number.isInteger(b.x) && Number.isInteger(b.y) && b.w > 0 && b.x + b.w <= 24, `${b.title}: x ${b.x}, w ${b.w}`).toBe(true);
      }
      for (const [i, a] of boxes.entries()) {
        for (const b of boxes.slice(i + 1)) {
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `${a.title} and ${b.title}`).toBe(false);
        }
      }
    });

    it('queries only the provisioned Prometheus datasource, in every panel, query and variable', () => {
      const withQueries = panels.filter((p) => p.type !== 'row');
      expect(withQueries.length).toBeGreaterThan(0);
      for (const p of withQueries) {
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
        for (const t of p.targets ?? []) {
          expect(t.datasource ?? p.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
          expect(t.expr.trim(), `${p.title} ${t.refId}`).not.toBe('');
        }
      }
      for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) expect(v.datasource, v.name).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
    });

    it('uses only template variables it defines, in panel titles, panel queries and variable queries', () => {
      const defined = new Set(dashboard.templating.list.map((v) => v.name));
      const texts = [...panels.flatMap((p) => [p.title, ...(p.targets ?? []).map((t) => t.expr)]), ...dashboard.templating.list.map(variableQuery)];
      for (const text of texts) for (const name of variablesUsed(text)) expect(defined, `$${name} in ${text}`).toContain(name);
    });

    it('defines each variable before the variables whose queries use it', () => {
      const seen = new Set<string>();
      for (const v of dashboard.templating.list) {
        for (const name of variablesUsed(variableQuery(v))) expect(seen, `${v.name} uses $${name}`).toContain(name);
        seen.add(v.name);
      }
    });
  });
});

const why = prometheusUnavailable('Grafana dashboard query test');

describe.skipIf(why !== undefined)('Grafana dashboard queries in a real Prometheus scraping a live collector', () => {
  let dir = '';
  let collector: LiveCollector | undefined;
  let prometheus: PrometheusServer | undefined;
  const agents: AgentConnection[] = [];
  let values: ReturnType<typeof selections> | undefined;

  /** Runs `query` as Grafana does for an instant panel and for a time series panel (last 5 minutes). */
  async function instantAndRange(query: string): Promise<{ instant: PromAnswer<{ result: PromSeries[] }>; range: PromAnswer<{ result: PromSeries[] }> }> {
    const end = Math.floor(Date.now() / 1000);
    const [instant, range] = await Promise.all([
      prometheus!.api<{ result: PromSeries[] }>('/api/v1/query', { query, time: String(end) }),
      prometheus!.api<{ result: PromSeries[] }>('/api/v1/query_range', { query, start: String(end - 300), end: String(end), step: '15' }),
    ]);
    return { instant, range };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sw-grafana-'));
    collector = await startCollector(dir, SITES);
    prometheus = await startPrometheus(dir, collector.target);
    values = selections(collector.target);
    const open = (id: string): Promise<AgentConnection> => AgentConnection.open(collector!.url, collector!.tokens.get(id)!, '0.1.0');
    const [school, clinic, office] = await Promise.all([open('school-1'), open('clinic-1'), open('office-1')]);
    agents.push(school, clinic, office);
    // school-1 (fixed, target 102): 80 and 80 Mbps, below; clinic-1 (mobile, 42): 55, meets;
    // office-1 (fixed): 150, meets; school-2 sends nothing.
    // Latency under load: school-1 45 ms while downloading, 80 ms while uploading (the latest result's).
    await school.results([
      testResult({ technology: 'fixed', downloadMbps: 80, uploadMbps: 40, latencyMs: 12, loadedLatencyMs: { download: 30, upload: 60 }, startedAgoMs: 120_000 }),
      testResult({ technology: 'fixed', downloadMbps: 80, uploadMbps: 40, latencyMs: 12, loadedLatencyMs: { download: 45, upload: 80 } }),
    ]);
    await clinic.results([testResult({ technology: 'mobile', downloadMbps: 55, uploadMbps: 20, latencyMs: 35, loadedLatencyMs: { download: 120, upload: 300 } })]);
    await office.results([testResult({ technology: 'fixed', downloadMbps: 150, uploadMbps: 100, latencyMs: 4, loadedLatencyMs: { download: 6, upload: 9 } })]);
    // One refused frame, for the rejects panel.
    office.send('{not json');
    await office.next('error');
    const ready = [
      'count(speedwatch_agent_verdict{window="24h", verdict="meets"}) == 2',
      'count(speedwatch_agent_verdict{window="24h", verdict="below"}) == 1',
      'count(speedwatch:agent_download_mbps) == 3',
      'count(speedwatch:target_download_mbps) == 2',
      'technology_area:speedwatch_agent_download_mbps:median',
      'count(speedwatch_agent_info{lat!=""}) == 3',
      'count(speedwatch_agent_info{version!=""}) == 3',
      'speedwatch_agent_upload_loaded_latency_seconds{agent_id="school-1"} == 0.08',
      'speedwatch_collector_rejected_total{reason="json"} == 1',
      'speedwatch_collector_ingested_results_total == 4',
      // A few scrapes after the last result, so that rates have two points.
      'count_over_time(speedwatch_collector_ingested_results_total[1m]) >= 4',
    ];
    await until('the results in Prometheus', async () => ((await Promise.all(ready.map((q) => prometheus!.query(q)))).every((r) => r.length > 0) ? true : undefined), 45_000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await prometheus?.stop();
    await collector?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it.each(QUERIES)('$file › $panel › $refId parses and runs as an instant and a range query ($selection)', async ({ expr: query, selection }) => {
    const concrete = substitute(query, values![selection]);
    expect(concrete).not.toMatch(/\$[a-z_]/i);
    const { instant, range } = await instantAndRange(concrete);
    expect(instant, concrete).toMatchObject({ status: 'success' });
    expect(range, concrete).toMatchObject({ status: 'success' });
  });

  it.each(VARIABLES)('$file › variable $name lists values through the label values and series APIs', async ({ name, query }) => {
    const match = LABEL_VALUES.exec(query);
    expect(match, query).not.toBeNull();
    const [, selector, label] = match as RegExpExecArray;
    const concrete = substitute(selector ?? `{${label}!=""}`, values!['everything selected']);
    const labelValues = await prometheus!.api<string[]>(`/api/v1/label/${label}/values`, { 'match[]': concrete });
    expect(labelValues, concrete).toMatchObject({ status: 'success' });
    expect(labelValues.data.length, `${name}: ${concrete}`).toBeGreaterThan(0);
    const series = await prometheus!.api<Record<string, string>[]>('/api/v1/series', { 'match[]': concrete });
    expect(series, concrete).toMatchObject({ status: 'success' });
    expect(series.data.every((s) => s[label as string] !== undefined)).toBe(true);
  });

  it('counts the sites by verdict: two meet the target, one is below, one has no data', async () => {
    const result = await prometheus!.query(substitute(expr('fleet-overview.json', 'Sites by verdict', 'A'), values!['everything selected']));
    const counts = Object.fromEntries(result.map((s) => [s.metric['verdict'], Number(s.value?.[1])]));
    expect(counts).toEqual({ meets: 2, below: 1, 'no-data': 1 });
  });

  it('puts school-1 first among the slowest sites, at 80 of 102 Mbps', async () => {
    const all = values!['everything selected'];
    const shares = await prometheus!.query(substitute(expr('fleet-overview.json', 'Slowest sites', 'A'), all));
    const mbps = await prometheus!.query(substitute(expr('fleet-overview.json', 'Slowest sites', 'B'), all));
    // school-2 has never sent a download.
    expect(shares).toHaveLength(3);
    const slowest = shares.reduce((a, b) => (Number(a.value?.[1]) <= Number(b.value?.[1]) ? a : b));
    expect(slowest.metric).toMatchObject({ agent_id: 'school-1', technology: 'fixed', site_kind: 'school', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' });
    expect(Number(slowest.value?.[1])).toBeCloseTo(80 / 102, 6);
    expect(Number(mbps.find((s) => s.metric['agent_id'] === 'school-1')?.value?.[1])).toBeCloseTo(80, 6);
  });

  it("draws the site's download over time with the 102 Mbps target line of its technology", async () => {
    const all = values!['everything selected'];
    const download = (await instantAndRange(substitute(expr('site.json', 'Download', 'A'), all))).range.data.result;
    const target = (await instantAndRange(substitute(expr('site.json', 'Download', 'B'), all))).range.data.result;
    expect(download).toHaveLength(1);
    expect(download[0]?.metric['agent_id']).toBe('school-1');
    expect(Number(download[0]?.values?.at(-1)?.[1])).toBeCloseTo(80, 6);
    expect(target).toHaveLength(1);
    expect(target[0]?.metric['technology']).toBe('fixed');
    expect(Number(target[0]?.values?.at(-1)?.[1])).toBeCloseTo(102, 6);
  });

  it('puts exactly the sites with coordinates on the map, at their lat and lon, with their verdict', async () => {
    const all = values!['everything selected'];
    const sites = await prometheus!.query(substitute(expr('fleet-overview.json', 'Sites on the map', 'A'), all));
    const placed = Object.fromEntries(sites.map((s) => [s.metric['agent_id'], { lat: Number(s.metric['lat']), lon: Number(s.metric['lon']), verdict: s.metric['verdict'] }]));
    expect(placed).toEqual({
      'school-1': { lat: 21.86, lon: 106.83, verdict: 'below' },
      'clinic-1': { lat: 21.85, lon: 106.82, verdict: 'meets' },
      'school-2': { lat: 21.76, lon: 106.92, verdict: 'no-data' },
    });
    expect(sites.every((s) => /^-?\d+(\.\d+)?$/.test(s.metric['lat'] ?? '') && /^-?\d+(\.\d+)?$/.test(s.metric['lon'] ?? ''))).toBe(true);
    // One row per site: school-1, clinic-1 and school-2 have coordinates, office-1 has none.
    expect(sites).toHaveLength(MAPPED.length);
    // The latest download, for the tooltip, has the same labels, so the two tables merge row by row.
    const downloads = await prometheus!.query(substitute(expr('fleet-overview.json', 'Sites on the map', 'B'), all));
    expect(Object.fromEntries(downloads.map((s) => [s.metric['agent_id'], Number(s.value?.[1])]))).toEqual({ 'school-1': 80, 'clinic-1': 55 });
    const key = ({ metric }: PromSeries): string => JSON.stringify(['agent_id', 'site_kind', 'technology', 'isp', 'area', 'lat', 'lon'].map((l) => metric[l]));
    for (const d of downloads) expect(sites.map(key), key(d)).toContain(key(d));
    // The filters apply: school, VNPT, Hợp Thành leaves school-1.
    const filtered = await prometheus!.query(substitute(expr('fleet-overview.json', 'Sites on the map', 'A'), values!['particular values']));
    expect(filtered.map((s) => s.metric['agent_id'])).toEqual(['school-1']);
  });

  it("draws the site's latency during the download and during the upload, in seconds", async () => {
    const all = values!['everything selected'];
    const last = async (refId: string): Promise<number> => {
      const series = (await instantAndRange(substitute(expr('site.json', 'Latency under load', refId), all))).range.data.result;
      expect(series.map((s) => s.metric['agent_id'])).toEqual(['school-1']);
      return Number(series[0]?.values?.at(-1)?.[1]);
    };
    expect(await last('A')).toBeCloseTo(0.045, 9);
    expect(await last('B')).toBeCloseTo(0.08, 9);
    expect(await last('C')).toBeCloseTo(0.012, 9);
  });

  it('counts the agents by the version of their hello, leaving out a site known only by its coordinates', async () => {
    const result = await prometheus!.query(substitute(expr('fleet-health.json', 'Agent versions', 'A'), values!['everything selected']));
    expect(Object.fromEntries(result.map((s) => [s.metric['version'], Number(s.value?.[1])]))).toEqual({ '0.1.0': 3 });
  });
});
