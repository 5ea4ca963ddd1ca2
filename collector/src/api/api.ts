/**
 * The JSON API under /api/v1 (and CSV export). Every parameter is validated; a bad one gets
 * 400 with a message naming it. Reads only: writes come from agents over ingest, and from the
 * actions behind the admin token (actions.ts, enrollment-codes.ts).
 */
import type { ServerResponse } from 'node:http';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';
import { SERIES_METRICS } from '../store/store-types.js';
import type { CollectorStore } from '../store/collector-store.js';
import type { AgentHealthRecord, AgentRecord, SeriesMetric } from '../store/store-types.js';
import type { LatestFigures } from '../server/latest-results.js';
import type { AgentVerdict } from '../verdict/verdicts.js';
import { csvField } from '../sites/csv.js';
import type { AlertDeliveriesAnswer } from './alerts-wire.js';
import { DEFAULT_FLEET_LIMIT } from './fleet-page.js';
import { FLEET_FILTERS } from './fleet-wire.js';
import type { FleetAnswer, FleetFilter, SessionAnswer } from './fleet-wire.js';
import type { OverviewAnswer } from './overview-wire.js';
import { healthView } from './health-view.js';
import { BadParameterError, Params } from './query-params.js';
import { sitePage } from './site-page.js';
import type { SiteDeps } from './site-page.js';
import { API_PRECISION, roundMbps, roundMs, roundOrNull, roundResult, roundSeriesPoint, roundShare } from './rounding.js';

export interface ApiDeps {
  /** Reads of results and series (the serving thread's connection or pool). */
  store: Pick<CollectorStore, 'results' | 'rollups'>;
  /** Every agent, revoked ones included, ordered by id (from memory). */
  agents: () => AgentRecord[];
  agent: (id: string) => AgentRecord | undefined;
  /** An agent's latest result (from memory). */
  latest: (id: string) => LatestFigures | undefined;
  /** An agent's latest health report (from memory). */
  health: (id: string) => AgentHealthRecord | undefined;
  /** Agents connected now. */
  connectedIds: () => ReadonlySet<string>;
  /** Verdicts per agent id, as last computed, figures rounded to API_PRECISION (absent until the first computation). */
  agentVerdicts: (agentId: string) => readonly AgentVerdict[] | undefined;
  /** Compliance by window and grouping, the groups as JSON text (its figures rounded to API_PRECISION already). */
  compliance: (window: string | undefined, groupBy: string | undefined) => { computedAt: string | null; basis: string; groupBy: string; window: string | null; groupsJson: string };
  complianceParams: { windows: readonly string[]; groupBy: readonly string[] };
  /** The console's overview for one window (a name from `complianceParams.windows`). */
  overview: (window: string) => OverviewAnswer;
  /** What the console's site page needs beyond the above (/api/v1/site). */
  site: SiteDeps;
  /**
   * The version of the settings the agent should have, the one it last acknowledged on this
   * collector, and the agent version the fleet config announces to it (docs/fleet.md, "Upgrades").
   */
  settings: (agentId: string) => { version: string | null; appliedVersion: string | null; appliedAt: string | null; agentVersion: string | null };
  /** The collector's own alerts, pending and firing, or only those in `state`. */
  alerts: (state: 'pending' | 'firing' | undefined) => unknown;
  /** Where each alert notification went, per webhook. */
  alertDeliveries: () => AlertDeliveriesAnswer;
  /** The console's fleet page: counts, versions, and the first `limit` boxes `filter` matches, worst first. */
  fleet: (filter: FleetFilter, limit: number) => FleetAnswer;
  /** Who the request is: its role and, for a console session, its CSRF token. */
  session: () => SessionAnswer;
  now: () => number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

/** Sends JSON already serialised. */
function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
}

/** The codes of the API's error answers (`{ error: { code, message } }`), each with its HTTP status in the registry. */
export type ApiErrorCode = ErrorCodeCarriedBy<`HTTP ${number}`>;

export function sendError(res: ServerResponse, status: number, code: ApiErrorCode, message: string, extra: Record<string, unknown> = {}): void {
  sendJson(res, status, { error: { code, message, ...extra } });
}

/** Answers `path` if it is an API route (resolves true), else resolves false. */
export async function handleApi(path: string, search: URLSearchParams, res: ServerResponse, deps: ApiDeps): Promise<boolean> {
  const route = ROUTES[path];
  if (route === undefined) return false;
  try {
    await route(search, res, deps);
  } catch (err) {
    if (err instanceof BadParameterError) sendError(res, 400, err.code, err.message, { parameter: err.parameter });
    else if ((err as { code?: unknown }).code === 'SW_STORE_CURSOR') sendError(res, 400, 'SW_BAD_PARAMETER', `cursor: ${(err as Error).message}`, { parameter: 'cursor' });
    else throw err;
  }
  return true;
}

function summary(latest: LatestFigures | undefined): unknown {
  if (latest === undefined) return null;
  return {
    id: latest.id,
    startedAt: new Date(latest.ts).toISOString(),
    status: latest.status,
    downloadMbps: roundOrNull(latest.downloadMbps, roundMbps),
    uploadMbps: roundOrNull(latest.uploadMbps, roundMbps),
    latencyMs: roundOrNull(latest.latencyMs, roundMs),
  };
}

function requireAgent(params: Params, deps: ApiDeps, name = 'agent'): string {
  const agent = params.string(name);
  if (agent === undefined) throw new BadParameterError(name, 'required');
  if (deps.agent(agent) === undefined) throw new BadParameterError(name, `no agent ${JSON.stringify(agent)}`);
  return agent;
}

function range(params: Params, deps: ApiDeps, defaultMs: number): { from: number; to: number } {
  const to = params.time('to') ?? deps.now();
  const from = params.time('from') ?? to - defaultMs;
  if (from >= to) throw new BadParameterError('from', 'must be before to');
  return { from, to };
}

const ROUTES: Record<string, (search: URLSearchParams, res: ServerResponse, deps: ApiDeps) => void | Promise<void>> = {
  '/api/v1/agents'(search, res, deps) {
    const params = new Params(search, ['revoked']);
    const includeRevoked = params.oneOf('revoked', ['true', 'false']) === 'true';
    const connected = deps.connectedIds();
    const agents = deps
      .agents()
      .filter((a) => includeRevoked || a.revokedAt === undefined)
      .map((a) => ({
        id: a.id,
        site: { name: a.name, kind: a.siteKind, technology: a.technology, isp: a.isp ?? null, area: a.area ?? null, areaCode: a.areaCode ?? null, lat: a.lat ?? null, lon: a.lon ?? null, contractMbps: a.contractMbps ?? null },
        version: a.version ?? null,
        connected: connected.has(a.id),
        lastSeenAt: a.lastSeenAt === undefined ? null : new Date(a.lastSeenAt).toISOString(),
        revokedAt: a.revokedAt === undefined ? null : new Date(a.revokedAt).toISOString(),
        pausedAt: a.pausedAt === undefined ? null : new Date(a.pausedAt).toISOString(),
        latest: summary(deps.latest(a.id)),
        health: healthView(deps.health(a.id)),
        verdicts: deps.agentVerdicts(a.id) ?? null,
        settings: deps.settings(a.id),
      }));
    sendJson(res, 200, { precision: API_PRECISION, agents });
  },

  async '/api/v1/results'(search, res, deps) {
    const params = new Params(search, ['agent', 'from', 'to', 'limit', 'cursor']);
    const agent = params.string('agent');
    if (agent !== undefined && deps.agent(agent) === undefined) throw new BadParameterError('agent', `no agent ${JSON.stringify(agent)}`);
    const from = params.time('from');
    const to = params.time('to');
    const cursor = params.string('cursor', 512);
    const page = await deps.store.results.page({
      limit: params.integer('limit', 1, 10_000) ?? 100,
      ...(agent === undefined ? {} : { agentId: agent }),
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    sendJson(res, 200, {
      precision: API_PRECISION,
      results: page.results.map((r) => ({ agentId: r.agentId, receivedAt: new Date(r.receivedAt).toISOString(), ...roundResult(r.result) })),
      nextCursor: page.nextCursor ?? null,
    });
  },

  async '/api/v1/results.csv'(search, res, deps) {
    const params = new Params(search, ['agent', 'from', 'to']);
    const agent = params.string('agent');
    if (agent !== undefined && deps.agent(agent) === undefined) throw new BadParameterError('agent', `no agent ${JSON.stringify(agent)}`);
    const from = params.time('from');
    const to = params.time('to');
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="speedwatch-results.csv"', 'cache-control': 'no-store' });
    // The byte-order mark is how Excel knows the file is UTF-8 (without it, Vietnamese names come out garbled).
    res.write(`\uFEFF${RESULTS_CSV_COLUMNS.join(',')}\n`);
    const sites = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await deps.store.results.page({
        limit: 5000,
        ...(agent === undefined ? {} : { agentId: agent }),
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      const lines = page.results.map((r) =>
        [
          r.id,
          csvField(r.agentId),
          siteCells(sites, r.agentId, deps),
          r.result.startedAt,
          r.status,
          roundOrNull(r.downloadMbps, roundMbps) ?? '',
          roundOrNull(r.uploadMbps, roundMbps) ?? '',
          roundOrNull(r.latencyMs, roundMs) ?? '',
          roundOrNull(r.jitterMs, roundMs) ?? '',
          roundOrNull(r.lossRatio, roundShare) ?? '',
        ].join(','),
      );
      if (lines.length > 0) res.write(`${lines.join('\n')}\n`);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    res.end();
  },

  async '/api/v1/series'(search, res, deps) {
    const params = new Params(search, ['agent', 'metric', 'from', 'to', 'step']);
    const agent = requireAgent(params, deps);
    const metric = params.oneOf<SeriesMetric>('metric', SERIES_METRICS);
    if (metric === undefined) throw new BadParameterError('metric', `required: one of ${SERIES_METRICS.join(', ')}`);
    const { from, to } = range(params, deps, DAY);
    const step = params.duration('step', 60_000, 31 * DAY) ?? (to - from > 7 * DAY ? DAY : to - from > 2 * DAY ? HOUR : 15 * 60_000);
    if ((to - from) / step > 10_000) throw new BadParameterError('step', `gives ${Math.ceil((to - from) / step)} points; at most 10000`);
    const points = await deps.store.rollups.series(agent, metric, from, to, step);
    sendJson(res, 200, {
      precision: API_PRECISION,
      agent,
      metric,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      stepMs: step,
      points: points.map((p) => ({ ...roundSeriesPoint(metric, p), ts: new Date(p.ts).toISOString() })),
    });
  },

  '/api/v1/compliance'(search, res, deps) {
    const params = new Params(search, ['window', 'groupBy']);
    const window = params.oneOf('window', deps.complianceParams.windows);
    const groupBy = params.oneOf('groupBy', deps.complianceParams.groupBy);
    const report = deps.compliance(window, groupBy);
    // The groups arrive as JSON text from the maintenance thread: spliced in, not parsed again.
    const head = JSON.stringify({ computedAt: report.computedAt, basis: report.basis, groupBy: report.groupBy, window: report.window, precision: API_PRECISION });
    sendJsonText(res, 200, `${head.slice(0, -1)},"groups":${report.groupsJson}}`);
  },

  '/api/v1/overview'(search, res, deps) {
    const params = new Params(search, ['window']);
    const window = params.oneOf('window', deps.complianceParams.windows) ?? deps.complianceParams.windows[0];
    if (window === undefined) throw new BadParameterError('window', 'this collector judges no window');
    sendJson(res, 200, deps.overview(window));
  },

  async '/api/v1/site'(search, res, deps) {
    sendJson(res, 200, await sitePage(search, deps));
  },

  '/api/v1/alerts'(search, res, deps) {
    const params = new Params(search, ['state']);
    sendJson(res, 200, deps.alerts(params.oneOf('state', ['firing', 'pending'] as const)));
  },

  '/api/v1/alerts/deliveries'(search, res, deps) {
    new Params(search, []);
    sendJson(res, 200, deps.alertDeliveries());
  },

  '/api/v1/fleet'(search, res, deps) {
    const params = new Params(search, ['problem', 'limit']);
    const filter = params.oneOf('problem', FLEET_FILTERS) ?? 'all';
    sendJson(res, 200, deps.fleet(filter, params.integer('limit', 1, 10_000) ?? DEFAULT_FLEET_LIMIT));
  },

  '/api/v1/session'(search, res, deps) {
    new Params(search, []);
    sendJson(res, 200, deps.session());
  },
};

/** The columns of /api/v1/results.csv, in order (docs/collector.md#csv-export). */
export const RESULTS_CSV_COLUMNS = ['id', 'agent_id', 'site_name', 'site_kind', 'technology', 'isp', 'area', 'area_code', 'started_at', 'status', 'download_mbps', 'upload_mbps', 'latency_ms', 'jitter_ms', 'loss_ratio'] as const;

/** The site columns of an agent's rows, escaped once per agent per export; empty for an agent no longer registered. */
function siteCells(cache: Map<string, string>, agentId: string, deps: ApiDeps): string {
  let cells = cache.get(agentId);
  if (cells === undefined) {
    const a = deps.agent(agentId);
    cells = [a?.name, a?.siteKind, a?.technology, a?.isp, a?.area, a?.areaCode].map((v) => csvField(v ?? '')).join(',');
    cache.set(agentId, cells);
  }
  return cells;
}
