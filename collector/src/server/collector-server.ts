/**
 * The collector process's core, without argv or signals: one HTTP server carrying the agents'
 * WebSocket (/v1/agents), the JSON API (/api/v1/…), /metrics, /healthz and /readyz; and the
 * periodic maintenance (roll-ups, retention, verdicts, revoked agents leaving metrics).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '@speedwatch/shared';
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
}

export interface RunningCollector {
  url: string;
  port: number;
  metrics: CollectorMetrics;
  ingest: IngestServer;
  /** Runs maintenance now (also runs on its interval). */
  maintain(): void;
  close(): Promise<void>;
}

export async function startCollector(config: Readonly<CollectorConfig>, deps: CollectorDeps): Promise<RunningCollector> {
  const { store, logger, verdicts } = deps;
  const now = deps.now ?? Date.now;
  const log = logger.child({ component: 'collector' });
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

  const authorised = (req: IncomingMessage): boolean => {
    if (config.readToken === undefined) return true;
    const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const expected = Buffer.from(config.readToken);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://collector');
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
      now,
    });
    if (!handled) sendError(res, 404, 'SW_NOT_FOUND', `no route ${path}; see /api/v1/agents, /api/v1/results, /api/v1/series, /api/v1/compliance, /metrics`);
  };

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      log.error({ event: 'request-failed', err, path: (req.url ?? '').slice(0, 200) }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'SW_INTERNAL', 'internal error; see the collector log');
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => ingest.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/`;
  log.info({ event: 'listening', url }, 'collector listening');
  const firstMaintenance = setImmediate(maintain);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    metrics,
    ingest,
    maintain,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        clearImmediate(firstMaintenance);
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
