/**
 * The collector process's core, without argv or signals: one HTTP server carrying the agents'
 * WebSocket (/v1/agents), the JSON API (/api/v1/…), /metrics, /healthz and /readyz; the
 * periodic maintenance (roll-ups, retention, verdicts, revoked agents leaving metrics); and the
 * collector's own alerts (evaluation and webhooks, from the first maintenance on).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '@speedwatch/shared';
import { AlertService, checkVerdictWindow } from '../alerts/alert-service.js';
import { SYSTEM_CLOCK } from '../alerts/alert-clock.js';
import type { AlertClock } from '../alerts/alert-clock.js';
import { openAlertStore } from '../alerts/alert-store.js';
import type { AlertStore } from '../alerts/alert-store.js';
import { handleApi, sendError, sendJson } from '../api/api.js';
import type { CollectorConfig } from '../config/collector-config.js';
import { IngestServer } from '../ingest/ingest-server.js';
import type { ResultWriter } from '../ingest/result-writer.js';
import { CollectorMetrics } from '../metrics/collector-metrics.js';
import type { Store } from '../store/store-types.js';
import type { VerdictService } from './verdict-service.js';

export interface CollectorDeps {
  store: Store;
  logger: Logger;
  verdicts: VerdictService;
  /** Commits ingested results; default: `store` on this thread (the bin uses a worker thread). */
  resultWriter?: ResultWriter;
  /** Wall clock, ms since the epoch. */
  now?: () => number;
  /**
   * The alerts' state. Default: a second connection to `config.db`, which `store` must have
   * opened (and migrated) already; the collector closes the one it opens.
   */
  alertStore?: AlertStore;
  /** Clock for alert evaluation and webhook backoff. Default: `now` and real timers. */
  alertClock?: AlertClock;
  /** In [0, 1), for the webhook retries' jitter. Default Math.random. */
  random?: () => number;
}

export interface RunningCollector {
  url: string;
  port: number;
  metrics: CollectorMetrics;
  ingest: IngestServer;
  /** The collector's own alerts: `evaluate()` runs an evaluation and a delivery round now. */
  alerts: AlertService;
  /** Runs maintenance now (also runs on its interval). */
  maintain(): void;
  close(): Promise<void>;
}

export async function startCollector(config: Readonly<CollectorConfig>, deps: CollectorDeps): Promise<RunningCollector> {
  const { store, logger, verdicts } = deps;
  const now = deps.now ?? Date.now;
  const log = logger.child({ component: 'collector' });
  checkVerdictWindow(config.alerts, verdicts.params.windows);
  const metrics = new CollectorMetrics({ databaseSizeBytes: () => store.sizeBytes() });
  const ingest = new IngestServer({
    store,
    ...(deps.resultWriter === undefined ? {} : { writer: deps.resultWriter }),
    logger: logger.child({ component: 'ingest' }),
    now,
    limits: config.limits,
    maxFutureMs: config.maxFutureSkewMs,
    maxAgeMs: config.retentionDays * 86_400_000,
    heartbeatMs: config.heartbeatMs,
    events: metrics,
  });

  const syncAgents = (): void => {
    const known = new Set(metrics.knownAgentIds());
    const connected = ingest.connectedIds();
    for (const agent of store.listAgents()) {
      if (agent.revokedAt !== undefined) {
        if (known.has(agent.id)) metrics.removeAgent(agent.id);
      } else if (!known.has(agent.id)) {
        metrics.setAgent(agent, store.latestResult(agent.id)?.result, connected.has(agent.id));
      }
    }
  };

  const maintain = (): void => {
    try {
      const outcome = store.maintain(now());
      if (outcome.rolledUpHours > 0 || outcome.deletedResults > 0) log.info({ event: 'maintenance', ...outcome }, 'roll-ups and retention');
      syncAgents();
      verdicts.refresh(now(), metrics);
    } catch (err) {
      log.error({ event: 'maintenance-failed', err }, 'maintenance failed; will retry');
    }
  };
  // Seed metrics at once (cheap); roll-ups and verdicts wait until the port is open, so that a
  // large first maintenance (87 s over 10 M results) does not keep /healthz unanswered.
  syncAgents();
  const timer = setInterval(maintain, config.maintenanceIntervalMs);
  timer.unref();

  let url = '';
  const alertStore = deps.alertStore ?? openAlertStore(config.db);
  const rejected = metrics.registry.getSingleMetric('speedwatch_collector_rejected_total');
  const alerts = new AlertService({
    config: config.alerts,
    store: alertStore,
    sources: {
      agents: () => store.listAgents(),
      connectedIds: () => ingest.connectedIds(),
      verdicts: (agentId) => verdicts.forAgent(agentId),
      targets: verdicts.config.targets,
      rejectedTotals: async () => {
        const totals = new Map<string, number>();
        for (const { labels, value } of (await rejected?.get())?.values ?? []) totals.set(String(labels['reason']), value);
        return totals;
      },
    },
    externalUrl: () => config.alerts.externalUrl ?? url,
    logger,
    clock: deps.alertClock ?? { now, sleep: SYSTEM_CLOCK.sleep },
    ...(deps.random === undefined ? {} : { random: deps.random }),
  });

  const authorised = (req: IncomingMessage): boolean => {
    if (config.readToken === undefined) return true;
    const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const expected = Buffer.from(config.readToken);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://collector');
    } catch {
      // A request target no URL parser takes (`//[`, `//a:99999/`) names no route.
      return sendError(res, 404, 'SW_NOT_FOUND', 'the request target is not a valid URL path; see /api/v1/agents, /api/v1/results, /api/v1/series, /api/v1/compliance, /api/v1/alerts, /metrics');
    }
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'SW_METHOD', `${req.method ?? ''} is not allowed; the API is read-only (GET)`);
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      try {
        store.sizeBytes();
        return sendJson(res, 200, { status: 'ready', agentsConnected: ingest.connectionCount });
      } catch (err) {
        return sendJson(res, 503, { status: 'not ready', reason: err instanceof Error ? err.message : String(err) });
      }
    }
    if (path === '/metrics' || path.startsWith('/api/')) {
      if (!authorised(req)) return sendError(res, 401, 'SW_UNAUTHORIZED', 'this collector needs Authorization: Bearer <read token> for the API and metrics');
    }
    if (path === '/metrics') {
      const text = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text);
      return;
    }
    const handled = handleApi(path, url.searchParams, res, {
      store,
      connectedIds: () => ingest.connectedIds(),
      agentVerdicts: (id) => verdicts.forAgent(id),
      compliance: (window, groupBy) => verdicts.compliance(window, groupBy),
      complianceParams: verdicts.params,
      alerts: (state) => alerts.report(state),
      now,
    });
    if (!handled) sendError(res, 404, 'SW_NOT_FOUND', `no route ${path}; see /api/v1/agents, /api/v1/results, /api/v1/series, /api/v1/compliance, /api/v1/alerts, /metrics`);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    onRequest(req, res).catch((err: unknown) => {
      log.error({ event: 'request-failed', err, path: (req.url ?? '').slice(0, 200) }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'SW_INTERNAL', 'internal error; see the collector log');
      else res.destroy();
    });
  };
  // With TLS configured the collector speaks only https and wss: tokens never cross in clear.
  // Slow clients (slow-loris) are cut once their headers take over 10 s; Node checks every
  // connectionsCheckingInterval, 30 s by default, which would let them pile up three times longer.
  const timeouts = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };
  const server = config.tls === undefined ? createServer(timeouts, handler) : createTlsServer({ ...timeouts, cert: config.tls.cert, key: config.tls.key }, handler);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => ingest.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Node's default backlog of 511 overflowed when 10 000 agents reconnected at once (the
      // fleet benchmark: ~2 500 handshakes timed out and retried); the kernel caps it at somaxconn.
      server.listen({ port: config.port, host: config.host, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    clearInterval(timer);
    if (deps.alertStore === undefined) alertStore.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  url = `${config.tls === undefined ? 'http' : 'https'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/`;
  log.info({ event: 'listening', url }, 'collector listening');
  // Alerts start once the first maintenance has computed verdicts (an agent whose verdicts are
  // not computed yet has its SpeedwatchSiteBelowTarget state held, not resolved).
  const firstMaintenance = setImmediate(() => {
    maintain();
    alerts.start();
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    metrics,
    ingest,
    alerts,
    maintain,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        clearImmediate(firstMaintenance);
        await alerts.close();
        if (deps.alertStore === undefined) alertStore.close();
        await ingest.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        log.info({ event: 'closed' }, 'collector closed');
      })();
      return closing;
    },
  };
}
