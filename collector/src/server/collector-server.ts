/**
 * The collector process's core, without argv or signals: one HTTP server carrying the agents'
 * WebSocket (/v1/agents), the JSON API (/api/v1/…), /metrics, /healthz and /readyz, on a
 * thread that never waits for the database. Writes go to the store writer (a thread of its own
 * in the collector process); roll-ups, retention and verdicts to the maintenance runner
 * (another thread); agents are known from an in-memory directory that follows the database.
 * The collector's own alerts start once the first maintenance has computed verdicts.
 *
 * Several collectors may share one PostgreSQL database (the store has a `cluster`): then one
 * of them at a time holds the lease (cluster/lease.ts) and runs the roll-ups, retention, the
 * verdicts (published for the others, who serve them as they are) and the alerts (their state
 * in the database); each records its agents' connections every heartbeat, closes one that
 * another collector has registered since (the newest wins), and its /metrics carries its own
 * agents' series (the holder's also those of agents connected nowhere).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { AgentSettings, Logger, UpgradeMessage } from '@speedwatch/shared';
import { RELEASES_PATH } from '@speedwatch/shared';
import { AlertService, checkVerdictWindow } from '../alerts/alert-service.js';
import { SYSTEM_CLOCK } from '../alerts/alert-clock.js';
import type { AlertClock } from '../alerts/alert-clock.js';
import { alertWritesOn, openAlertStore } from '../alerts/alert-store.js';
import type { AlertReads, AlertStore, AlertWrites } from '../alerts/alert-store.js';
import { SharedAlertStore } from '../alerts/shared-alert-store.js';
import { FleetConnections } from '../cluster/fleet-connections.js';
import { Lease } from '../cluster/lease.js';
import { ACTION_PATHS, handleAction } from '../api/actions.js';
import { handleApi, sendError, sendJson } from '../api/api.js';
import { handleReportApi, isReportRequest } from '../api/report-routes.js';
import { ReportJobs } from '../report/report-jobs.js';
import { ENROLLMENT_CODES_PATH, handleEnrollmentCode } from '../api/enrollment-codes.js';
import { buildFleet } from '../api/fleet-page.js';
import type { SessionAnswer } from '../api/fleet-wire.js';
import type { CollectorConfig } from '../config/collector-config.js';
import { buildOverview } from '../api/overview.js';
import { authorizeAction } from '../console/action-auth.js';
import { ConsoleRoute } from '../console/console-route.js';
import { ConsoleSessions, SESSION_DEFAULTS } from '../console/console-sessions.js';
import { bearerIs, bearerOf } from '../console/request-checks.js';
import { ENROLL_PATH, handleEnroll } from '../enroll/enroll-route.js';
import { agentVersionFor, intervalFor, settingsFor } from '../fleet/fleet-settings.js';
import type { FleetConfig } from '../fleet/fleet-settings.js';
import { announcement, releaseOf } from '../releases/release-dir.js';
import type { ReleasesConfig } from '../releases/release-dir.js';
import { releaseRoute } from '../releases/release-route.js';
import { AgentDirectory } from '../ingest/agent-directory.js';
import { FleetHealth } from '../ingest/fleet-health.js';
import { IngestServer } from '../ingest/ingest-server.js';
import type { IngestEvents } from '../ingest/ingest-server.js';
import { inlineMaintenance } from '../maintenance/maintenance-runner.js';
import type { MaintenanceRunner } from '../maintenance/maintenance-runner.js';
import type { MaintenanceReport } from '../maintenance/maintenance-work.js';
import { errorFromThread } from '../maintenance/worker-maintenance.js';
import { CollectorMetrics } from '../metrics/collector-metrics.js';
import type { ClusterStore, CollectorStore } from '../store/collector-store.js';
import { sqliteOf } from '../store/sqlite-collector-store.js';
import { StoreError } from '../store/store-error.js';
import { existingStore } from '../store/store-spec.js';
import type { AgentRecord } from '../store/store-types.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { directStoreWriter, inlineStoreWriter, writeOps } from '../writer/store-writer.js';
import type { StoreWriter } from '../writer/store-writer.js';
import { CollectorListenError } from './listen-error.js';
import { LatestResults } from './latest-results.js';
import { VerdictService } from './verdict-service.js';

export interface CollectorDeps {
  /**
   * The serving thread's store, SQLite or PostgreSQL: reads only (API pages and series, the
   * agents table). Opened and migrated by the caller, who closes it after `close()`.
   */
  store: CollectorStore;
  logger: Logger;
  /**
   * Where writes go. Default: on this thread, over `store` (tests; for PostgreSQL what the bin
   * uses too); the bin uses WorkerStoreWriter for SQLite.
   */
  writer?: StoreWriter;
  /** Where maintenance passes run. Default: on this thread (tests); the bin uses WorkerMaintenance. */
  maintenance?: MaintenanceRunner;
  /** The verdict rules; default: `config.verdicts`. */
  verdictConfig?: VerdictConfig;
  /** Wall clock, ms since the epoch. */
  now?: () => number;
  /**
   * The alerts' tables, for reads. Default: a connection to the SQLite file `config.db` of its
   * own; with a store shared by several collectors (PostgreSQL), the store's own tables
   * (alerts/shared-alert-store.ts) and this is not used.
   */
  alertStore?: AlertStore;
  /**
   * This collector's id among those sharing the store: the lease's holder, the owner of its
   * rows in `agent_connections`. Default `HOST/PID/RANDOM`, new at each start.
   */
  collectorId?: string;
  /** Clock for alert evaluation and webhook backoff. Default: `now` and real timers. */
  alertClock?: AlertClock;
  /** In [0, 1), for the webhook retries' jitter. Default Math.random. */
  random?: () => number;
  /** The built console (manifest.json, assets/). Default: collector/dist/console/ (console-route.ts). */
  consoleDir?: string;
}

/** What a collector sharing its store with others runs (PostgreSQL; absent on SQLite). */
export interface CollectorCluster {
  /** This collector's id (`HOST/PID/RANDOM`). */
  id: string;
  /** The lease for the fleet's maintenance, verdicts and alerts (cluster/lease.ts). */
  lease: Lease;
  connections: FleetConnections;
  /** Records this collector's connections and reads the fleet's now, closing those registered since elsewhere (also done every heartbeat). */
  beat(): Promise<void>;
}

export interface RunningCollector {
  url: string;
  port: number;
  /** Present when the store is shared by several collectors (PostgreSQL). */
  cluster?: CollectorCluster;
  metrics: CollectorMetrics;
  ingest: IngestServer;
  /** The collector's own alerts: `evaluate()` runs an evaluation and a delivery round now. */
  alerts: AlertService;
  verdicts: VerdictService;
  /**
   * Runs a maintenance pass now (also runs on its interval) and serves its verdicts: computed
   * here, or with several collectors and another holding the lease, as that one published them.
   */
  maintain(): Promise<void>;
  /** Re-reads the agents table if it changed (also done every heartbeat); resolves once done. */
  refreshAgents(): Promise<void>;
  /** Writes the agents' liveness and health reports recorded since the last flush (also done every heartbeat). */
  flushLiveness(): Promise<void>;
  /**
   * Replaces the fleet's settings and the releases served (a config reload) and sends connected
   * agents whose settings or announced release changed the new ones; resolves with how many.
   */
  reloadFleet(fleet: FleetConfig, releases?: ReleasesConfig): Promise<number>;
  close(): Promise<void>;
}

/** The routes, for a 404's message. */
const ROUTES_HINT =
  'see / (the console), /api/v1/agents, /api/v1/results, /api/v1/series, /api/v1/compliance, /api/v1/report, /api/v1/overview, /api/v1/site, /api/v1/fleet, /api/v1/alerts, /api/v1/alerts/deliveries, /api/v1/session, /metrics';

export async function startCollector(config: Readonly<CollectorConfig>, deps: CollectorDeps): Promise<RunningCollector> {
  const { store, logger } = deps;
  const now = deps.now ?? Date.now;
  const log = logger.child({ component: 'collector' });
  const verdictConfig = deps.verdictConfig ?? config.verdicts;
  const verdicts = new VerdictService(verdictConfig);
  checkVerdictWindow(config.alerts, verdicts.params.windows);

  // Everything opened here is closed by `close`, or by `abandon` if the start fails.
  const owned: (() => Promise<void> | void)[] = [];
  const abandon = async (): Promise<void> => {
    for (const release of owned.reverse()) await release();
  };
  try {
    const shared = store.cluster === undefined ? undefined : clusterOf(store.cluster, config, deps);
    let alerts: { reads: AlertReads; writes?: AlertWrites };
    let writer: StoreWriter;
    if (shared === undefined) {
      const alertStore = deps.alertStore ?? openAlertStore(config.db);
      if (deps.alertStore === undefined) owned.push(() => alertStore.close());
      const sqlite = sqliteOf(store);
      writer = deps.writer ?? (sqlite === undefined ? directStoreWriter(store, alertWritesOn(alertStore)) : inlineStoreWriter(writeOps(sqlite, alertStore)));
      alerts = { reads: alertStore };
    } else {
      // The alerts' state as the lease holder last wrote it, for /api/v1/alerts from the start.
      await shared.alerts.refresh();
      writer = deps.writer ?? directStoreWriter(store, shared.alerts);
      alerts = { reads: shared.alerts, writes: shared.alerts };
    }
    if (deps.writer === undefined) owned.push(() => writer.close());
    const maintenance = deps.maintenance ?? inlineMaintenance(store, verdictConfig);
    if (deps.maintenance === undefined) owned.push(() => maintenance.close());
    return await serve({ config, deps, log, now, verdicts, alerts, writer, maintenance, owned, shared });
  } catch (err) {
    await abandon();
    throw err;
  }
}

interface Parts {
  config: Readonly<CollectorConfig>;
  deps: CollectorDeps;
  log: Logger;
  now: () => number;
  verdicts: VerdictService;
  /** Where the alerts read their state, and write it when not through the store writer. */
  alerts: { reads: AlertReads; writes?: AlertWrites };
  writer: StoreWriter;
  maintenance: MaintenanceRunner;
  owned: (() => Promise<void> | void)[];
  shared: SharedParts | undefined;
}

/** A collector's parts for sharing its store with others. */
interface SharedParts {
  id: string;
  lease: Lease;
  alerts: SharedAlertStore;
  connections: FleetConnections;
  /** Set by `serve`: what to do when the lease is gained or lost. */
  leaseChanged: (held: boolean) => void;
}

/** `HOST/PID/RANDOM`: unique per start, and a person reading `leases` or `agent_connections` knows the process. */
export function newCollectorId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

function clusterOf(cluster: ClusterStore, config: Readonly<CollectorConfig>, deps: CollectorDeps): SharedParts {
  const id = deps.collectorId ?? newCollectorId();
  const parts: SharedParts = {
    id,
    lease: new Lease({ name: LEADER_LEASE, holder: id, ttlMs: config.leaseTtlMs, source: cluster.leases, logger: deps.logger, onChange: (held) => parts.leaseChanged(held) }),
    alerts: new SharedAlertStore(cluster.alerts, () => parts.lease.fence),
    // Presence lasts three heartbeats: a collector that misses one or two is not taken for dead.
    connections: new FleetConnections({ store: cluster.connections, self: { id, url: '', startedAt: Date.now() }, presenceMs: 3 * config.heartbeatMs, logger: deps.logger.child({ component: 'connections' }) }),
    leaseChanged: () => {},
  };
  return parts;
}

/** The lease whose holder runs the fleet's maintenance, verdicts and alerts. */
export const LEADER_LEASE = 'leader';

async function serve(parts: Parts): Promise<RunningCollector> {
  const { config, deps, log, now, verdicts, writer, maintenance, owned, shared } = parts;
  const { store, logger } = deps;
  const metrics = new CollectorMetrics({ databaseSizeBytes: () => store.sizeBytes() });
  // Reloaded when the agents table changes (polled every heartbeat, and on an unknown token).
  // An edited site changes the agent's settings: those connected are sent their new ones.
  const agents = await AgentDirectory.load(store.agents, logger.child({ component: 'agents' }), () => {
    syncAgents();
    void pushSettings();
  });
  let fleet = config.fleet;
  let releases = config.releases;
  /** What each agent acknowledged on this collector (an agent acknowledges again at each connection). */
  const applied = new Map<string, { version: string; at: number }>();
  const currentSettings = (id: string): AgentSettings | undefined => {
    const agent = agents.get(id);
    return agent === undefined || agent.revokedAt !== undefined ? undefined : settingsFor(fleet, agent);
  };
  /** The release the fleet config names for the agent; a loaded config has the tarball of every version it names. */
  const currentRelease = (id: string): UpgradeMessage | undefined => {
    const agent = agents.get(id);
    const version = agent === undefined || agent.revokedAt !== undefined ? undefined : agentVersionFor(fleet, agent);
    const tarball = version === undefined ? undefined : releaseOf(releases, version);
    return tarball === undefined ? undefined : announcement(tarball);
  };
  const latest = new LatestResults();
  // Reports and range compliance read months of results: on threads of their own.
  const reports = new ReportJobs({ store: existingStore(store.spec), verdicts: verdicts.config, timeZone: config.timeZone, logger: logger.child({ component: 'reports' }) });
  // Each agent's latest health report: from the database now, then from its `health` messages.
  const fleetHealth = new FleetHealth();
  const loadedHealth = await store.health.list();
  fleetHealth.load(loadedHealth.records);
  if (loadedHealth.unreadable.length > 0) {
    log.warn({ event: 'health-unreadable', agents: loadedHealth.unreadable.slice(0, 20), count: loadedHealth.unreadable.length }, 'stored health reports that are no longer valid were skipped; the agents report again within minutes');
  }
  const events: IngestEvents = {
    connected(agent, connId) {
      const known = metrics.hasAgent(agent.id);
      metrics.connected(agent);
      if (shared === undefined) return;
      shared.connections.connected(agent.id, connId);
      if (!known) seedSeries(agent);
    },
    disconnected(agent, connId) {
      metrics.disconnected(agent);
      if (shared === undefined) return;
      shared.connections.disconnected(agent.id, connId);
      if (!carried(agent, (id) => ingest.isConnected(id))) metrics.dropSeries(agent.id);
    },
    stored(agent, results) {
      metrics.stored(agent, results);
      for (const result of results) latest.record(agent.id, result);
    },
    rejected: (reason, count) => metrics.rejected(reason, count),
    committed: (seconds) => metrics.committed(seconds),
    clockSkew: (agent, skewMs) => metrics.clockSkew(agent, skewMs),
    health(agent, record) {
      fleetHealth.record(record);
      metrics.health(agent, record);
    },
  };
  const ingest = new IngestServer({
    agents,
    writer,
    logger: logger.child({ component: 'ingest' }),
    now,
    limits: config.limits,
    maxFutureMs: config.maxFutureSkewMs,
    maxAgeMs: config.retentionDays * 86_400_000,
    heartbeatMs: config.heartbeatMs,
    settings: {
      for: currentSettings,
      applied: (id, version) => applied.set(id, { version, at: now() }),
      release: currentRelease,
    },
    // Every heartbeat: follow the agents table (so a revocation ends its connection in this
    // same beat), write down who was seen, and with other collectors, who is connected where.
    beforeBeat: () => {
      // None rejects: a failed reload or flush is logged and tried again at the next beat. The
      // token check waits for the reload.
      void flushLiveness();
      if (shared !== undefined) void fleetBeat();
      return refreshAgents();
    },
    events,
  });

  const pushSettings = async (): Promise<number> => {
    const sent = await ingest.pushSettings();
    if (sent > 0) log.info({ event: 'settings-pushed', agents: sent }, 'new settings sent to connected agents');
    return sent;
  };

  const refreshAgents = async (): Promise<void> => {
    await agents.refresh();
  };
  /**
   * Whether this collector's /metrics carries the agent's series. Alone (SQLite): every agent
   * not revoked. With other collectors: the agents connected here, and the lease holder also
   * carries those connected nowhere (their `speedwatch_agent_connected 0`, last results and
   * verdicts), so that each agent's series come from exactly one collector of the fleet.
   */
  const carried = (agent: AgentRecord, isLocal: (agentId: string) => boolean): boolean =>
    agent.revokedAt === undefined && (shared === undefined || isLocal(agent.id) || (shared.lease.held && !shared.connections.isConnected(agent.id)));
  /** Fills an agent's new series with what this collector knows of it (its latest result is kept by the metrics themselves). */
  const seedSeries = (agent: AgentRecord): void => {
    const health = fleetHealth.get(agent.id);
    if (health !== undefined) metrics.seedHealth(agent.id, health);
    // Alone, the first maintenance pass sets every agent's verdicts; with others, an agent may be carried later.
    const list = shared === undefined ? undefined : verdicts.forAgent(agent.id);
    if (list !== undefined) metrics.setAgentVerdicts(agent.id, list.map((v): [string, string] => [v.window, v.verdict]));
  };
  /** Agents this collector newly carries get series; those it no longer carries (revoked, or carried elsewhere) lose theirs. */
  const syncAgents = (): void => {
    const known = new Set(metrics.knownAgentIds());
    const local = ingest.connectedIds();
    const isLocal = (id: string): boolean => local.has(id);
    for (const agent of agents.list()) {
      if (!carried(agent, isLocal)) {
        if (known.has(agent.id)) metrics.dropSeries(agent.id);
        if (agent.revokedAt !== undefined) {
          metrics.removeAgent(agent.id);
          latest.remove(agent.id);
        }
      } else if (!known.has(agent.id)) {
        metrics.setAgent(agent, undefined, local.has(agent.id));
        seedSeries(agent);
      }
    }
  };
  syncAgents();

  /** One heartbeat of the fleet's connections: ours written, theirs read, our replaced ones closed. */
  const fleetBeat = async (): Promise<void> => {
    if (shared === undefined || closed) return;
    const replaced = await shared.connections.beat();
    for (const agentId of replaced) {
      if (ingest.closeReplaced(agentId)) log.info({ event: 'replaced-elsewhere', agentId, holder: shared.connections.holderOf(agentId) ?? null }, 'the agent connected to another collector since: its older connection here is closed');
    }
    syncAgents();
  };

  let flushing: Promise<void> | undefined;
  /** Liveness and health reports since the last flush, one write each (so at most one per agent per heartbeat). */
  const flushLiveness = (): Promise<void> => {
    flushing ??= (async () => {
      const touches = agents.takeTouches();
      const reports = fleetHealth.takeDirty();
      const touched = async (): Promise<void> => {
        if (touches.length === 0) return;
        try {
          await writer.touch(touches);
        } catch (err) {
          agents.returnTouches(touches);
          log.warn({ event: 'liveness-flush-failed', err, agents: touches.length }, 'could not record when agents were last seen; will retry');
        }
      };
      const reported = async (): Promise<void> => {
        if (reports.length === 0) return;
        try {
          await writer.saveHealth(reports);
        } catch (err) {
          fleetHealth.returnDirty(reports);
          log.warn({ event: 'health-flush-failed', err, agents: reports.length }, 'could not record the agents\' health reports; will retry');
        }
      };
      await Promise.all([touched(), reported()]);
    })().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  /** Agents connected to this collector, or with others, to any live collector of the fleet. */
  const fleetConnectedIds = (): ReadonlySet<string> => shared?.connections.connectedIds() ?? ingest.connectedIds();
  const alerts = new AlertService({
    config: config.alerts,
    store: parts.alerts.reads,
    writes: parts.alerts.writes ?? writer,
    sources: {
      agents: () => agents.list(),
      connectedIds: fleetConnectedIds,
      activity: (ids) => latest.activity(ids),
      health: () => fleetHealth.all(),
      verdicts: (agentId) => verdicts.forAgent(agentId),
      targets: verdicts.config.targets,
      latestResult: (agentId) => latest.latest(agentId),
      requestTest: (agentId) => ingest.requestTest(agentId, 0),
      rejectedTotals: async () => {
        const totals = new Map<string, number>();
        const rejected = metrics.registry.getSingleMetric('speedwatch_collector_rejected_total');
        for (const { labels, value } of (await rejected?.get())?.values ?? []) totals.set(String(labels['reason']), value);
        return totals;
      },
    },
    externalUrl: () => config.alerts.externalUrl ?? url,
    timeZone: config.timeZone,
    logger,
    clock: deps.alertClock ?? { now, sleep: SYSTEM_CLOCK.sleep },
    ...(deps.random === undefined ? {} : { random: deps.random }),
  });

  const applyReport = (report: MaintenanceReport): void => {
    for (const seed of report.latest) {
      latest.seed(seed);
      metrics.seedLatest(seed.agentId, seed.figures);
      if (seed.udp !== undefined) metrics.seedUdp(seed.agentId, seed.udp);
    }
    // Verdicts this collector computed but could not publish because it lost the lease are not
    // served: the holder's, read at the next pass, are what every collector serves.
    const lost = report.publishError?.code === 'SW_LEASE_LOST';
    if (report.verdicts !== undefined && !lost) verdicts.apply(report.verdicts, metrics);
    metrics.threadHeap('maintenance', report.heap);
    const figures = { role: report.role, rolledUpHours: report.rolledUpHours, deletedResults: report.deletedResults, samplesHeld: report.samplesHeld, rollupMs: Math.round(report.rollupMs), verdictMs: Math.round(report.verdictMs) };
    if (report.role === 'following') {
      log.debug({ event: 'maintenance', ...figures, verdictsRead: report.verdicts?.agents.length ?? 0 }, 'verdicts read as the lease holder published them');
      return;
    }
    metrics.maintained(report.rollupMs, report.verdictMs);
    if (report.publishError !== undefined) {
      const err = errorFromThread(report.publishError);
      if (lost) log.warn({ event: 'verdicts-not-published', err }, 'this collector lost the lease during the pass: its verdicts were neither published nor served');
      else log.error({ event: 'verdicts-publish-failed', err }, 'the verdicts could not be published for the other collectors; the next pass publishes all of them');
    }
    if (report.rollupError !== undefined) {
      log.error({ event: 'maintenance-failed', err: errorFromThread(report.rollupError), ...figures }, 'roll-ups or retention stopped early; the next maintenance carries on');
    } else if (report.rolledUpHours > 0 || report.deletedResults > 0) {
      log.info({ event: 'maintenance', ...figures }, 'roll-ups, retention and verdicts');
    } else {
      log.debug({ event: 'maintenance', ...figures }, 'verdicts refreshed');
    }
  };
  let maintaining: Promise<void> | undefined;
  /** A pass asked for while one runs (the lease changed hands): it runs once that one ends. */
  let maintainAgain = false;
  let warm = false;
  let closed = false;
  const maintain = (): Promise<void> => {
    // A pass still running when the next is due: the next is skipped, not queued.
    maintaining ??= maintenance
      .run(now(), shared?.lease.fence)
      .then(
        async (report) => {
          if (closed) return;
          applyReport(report);
          if (shared !== undefined) return followAlerts();
          if (!warm) {
            warm = true;
            log.info({ event: 'warmed-up', verdictMs: Math.round(report.verdictMs), samplesHeld: report.samplesHeld }, 'verdicts computed; alerts start');
            alerts.start();
          }
        },
        (err: unknown) => log.error({ event: 'maintenance-failed', err }, 'maintenance failed; will retry at the next interval'),
      )
      .finally(() => {
        maintaining = undefined;
        if (maintainAgain && !closed) {
          maintainAgain = false;
          void maintain();
        }
      });
    return maintaining;
  };
  /** A pass now, or right after the one in progress. */
  const maintainSoon = (): void => {
    if (maintaining === undefined) void maintain();
    else maintainAgain = true;
  };

  /**
   * With other collectors, after each pass: once verdicts are served, the holder of the lease
   * runs the alerts (from the state as the last holder left it); every other collector takes
   * the state the holder wrote, for its /api/v1/alerts.
   */
  const followAlerts = async (): Promise<void> => {
    if (shared === undefined || closed) return;
    if (!warm && verdicts.computedAt !== undefined) {
      warm = true;
      log.info({ event: 'warmed-up' }, 'verdicts served');
    }
    if (alerts.running) return; // the holder's copy is its own writes
    try {
      await shared.alerts.refresh();
    } catch (err) {
      log.warn({ event: 'alerts-refresh-failed', err }, 'could not read the alerts\' state; will retry after the next maintenance pass');
      return;
    }
    alerts.reload(shared.alerts.evaluatedAt());
    if (shared.lease.held && warm && !closed) {
      log.info({ event: 'alerts-started', epoch: shared.lease.epoch }, 'this collector holds the lease: it evaluates and delivers the alerts');
      alerts.start();
    }
  };
  if (shared !== undefined) {
    shared.leaseChanged = (held) => {
      // Gained: a leading pass now (the alerts start after it). Lost: the alerts stop at once.
      if (!held) void alerts.stop();
      if (closed) return;
      syncAgents();
      maintainSoon();
    };
  }
  const maintenanceTimer = setInterval(() => void maintain(), config.maintenanceIntervalMs);
  maintenanceTimer.unref();
  owned.push(() => clearInterval(maintenanceTimer));

  const consoleRoute = new ConsoleRoute({
    ...(deps.consoleDir === undefined ? {} : { dir: deps.consoleDir }),
    readToken: config.readToken,
    adminToken: config.adminToken,
    sessions: new ConsoleSessions({ ...SESSION_DEFAULTS, now }),
    limiter: ingest.authLimiter,
    secure: config.tls !== undefined,
    sessionTtlMs: SESSION_DEFAULTS.ttlMs,
    logger: logger.child({ component: 'console' }),
  });
  /** Reads: open without a read token; else the read token, the admin token, or a console session (its cookie). */
  const authorised = (req: IncomingMessage): boolean =>
    config.readToken === undefined ||
    bearerIs(req, config.readToken) ||
    (config.adminToken !== undefined && bearerIs(req, config.adminToken)) ||
    consoleRoute.hasSession(req);
  /** Who an authorised request is, for `GET /api/v1/session`: a bearer header decides alone, as for actions. */
  const sessionOf = (req: IncomingMessage): SessionAnswer => {
    const actions = config.adminToken !== undefined;
    if (bearerOf(req) !== undefined) return { role: config.adminToken !== undefined && bearerIs(req, config.adminToken) ? 'admin' : 'read', via: 'bearer', csrfToken: null, actions };
    const session = consoleRoute.session(req);
    if (session !== undefined) return { role: session.role, via: 'session', csrfToken: session.csrfToken, actions };
    return { role: 'read', via: 'open', csrfToken: null, actions };
  };
  const timeZone = config.timeZone;

  const serveRelease = releaseRoute({
    releases: () => releases,
    authenticate: (tokenHash) => agents.authenticate(tokenHash),
    limiter: ingest.authLimiter,
    logger: logger.child({ component: 'releases' }),
  });

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let target: URL;
    try {
      target = new URL(req.url ?? '/', 'http://collector');
    } catch {
      // A request target no URL parser takes (`//[`, `//a:99999/`) names no route.
      return sendError(res, 404, 'SW_NOT_FOUND', `the request target is not a valid URL path; ${ROUTES_HINT}`);
    }
    const path = target.pathname;
    if (path === ENROLL_PATH) {
      if (req.method !== 'POST') return sendError(res, 405, 'SW_METHOD', `${req.method ?? ''} is not allowed; enroll with POST ${ENROLL_PATH} and {"code": "…"}`);
      return handleEnroll(req, res, {
        writer,
        agent: async (id) => {
          await refreshAgents();
          return agents.get(id);
        },
        settings: currentSettings,
        limiter: ingest.authLimiter,
        now,
        logger: logger.child({ component: 'enroll' }),
      });
    }
    if ((ACTION_PATHS as readonly string[]).includes(path) || path === ENROLLMENT_CODES_PATH) {
      if (req.method !== 'POST') return sendError(res, 405, 'SW_METHOD', `${req.method ?? ''} is not allowed; POST to ${path}`);
      const auth = authorizeAction(req, path, { adminToken: config.adminToken, session: (r) => consoleRoute.session(r) });
      if (!auth.ok) {
        if (auth.status === 403 && auth.code !== 'SW_ADMIN_DISABLED') log.warn({ event: 'action-refused', code: auth.code, path, remoteAddress: req.socket.remoteAddress ?? '' }, 'console action refused');
        return sendError(res, auth.status, auth.code, auth.message);
      }
      if (path === ENROLLMENT_CODES_PATH) {
        return handleEnrollmentCode(
          req,
          res,
          { agent: (id) => agents.get(id), agents: () => agents.list(), writer, refreshAgents, now, logger: logger.child({ component: 'enroll' }) },
          auth.via,
        );
      }
      return handleAction(path as (typeof ACTION_PATHS)[number], req, res, {
        agents: () => agents.list(),
        // A test is asked of an agent over its connection: only those connected here can be.
        connectedIds: () => ingest.connectedIds(),
        requestTest: (id, delayMs) => ingest.requestTest(id, delayMs),
        writer,
        refreshAgents,
        now,
        random: deps.random ?? Math.random,
      });
    }
    if (path.startsWith(RELEASES_PATH)) return serveRelease(req, res, path);
    if (await consoleRoute.handle(path, req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'SW_METHOD', `${req.method ?? ''} is not allowed; the API is read-only (GET)`);
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') return await readiness(res);
    if (path === '/metrics' || path.startsWith('/api/')) {
      if (!authorised(req)) return sendError(res, 401, 'SW_UNAUTHORIZED', 'this collector needs Authorization: Bearer <read token> for the API and metrics');
    }
    if (path === '/metrics') {
      const serving = getHeapStatistics();
      metrics.threadHeap('serving', { used: serving.used_heap_size, total: serving.total_heap_size });
      const writerHeap = writer.heap?.();
      if (writerHeap !== undefined) metrics.threadHeap('writer', writerHeap);
      const [head, series] = await metrics.render();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': head.length + series.length, 'cache-control': 'no-store' });
      res.write(head);
      res.end(series);
      return;
    }
    if (isReportRequest(path, target.searchParams)) return handleReportApi(path, target.searchParams, res, { run: (job) => reports.run(job, now()), timeZone: config.timeZone, now, windows: verdicts.params.windows });
    const handled = await handleApi(path, target.searchParams, res, {
      store,
      agents: () => agents.list(),
      agent: (id) => agents.get(id),
      latest: (id) => latest.latest(id),
      health: (id) => fleetHealth.get(id),
      connectedIds: fleetConnectedIds,
      agentVerdicts: (id) => verdicts.forApi(id),
      compliance: (window, groupBy) => verdicts.compliance(window, groupBy),
      complianceParams: verdicts.params,
      overview: (window) =>
        buildOverview({
          window,
          windows: verdicts.params.windows,
          computedAt: verdicts.computedAt,
          timeZone: config.timeZone,
          agents: agents.list(),
          agentVerdicts: (id) => verdicts.forAgent(id),
          areaGroups: verdicts.groups('area', window),
          targets: verdicts.config.targets,
          agentMinTests: verdicts.config.minTests.agent,
        }),
      site: {
        windows: verdicts.config.windows,
        targets: verdicts.config.targets,
        timeZone: config.timeZone,
        computedAt: () => verdicts.computedAt,
        verdicts: (id) => verdicts.forAgent(id),
      },
      alerts: (state) => alerts.report(state),
      alertDeliveries: () => alerts.deliveries(),
      fleet: (filter, limit) =>
        buildFleet({
          now: now(),
          timeZone,
          agents: agents.list(),
          connected: fleetConnectedIds(),
          lastResultAt: (id) => latest.latest(id)?.ts,
          health: (id) => fleetHealth.get(id),
          intervalMs: (agent) => intervalFor(fleet, agent),
          defaultIntervalMs: config.alerts.scheduleIntervalMs,
          fleetHealth: config.alerts.fleetHealth,
          filter,
          limit,
        }),
      session: () => sessionOf(req),
      settings: (id) => {
        const a = applied.get(id);
        return {
          version: currentSettings(id)?.version ?? null,
          appliedVersion: a?.version ?? null,
          appliedAt: a === undefined ? null : new Date(a.at).toISOString(),
          agentVersion: currentRelease(id)?.version ?? null,
        };
      },
      now,
    });
    if (!handled) sendError(res, 404, 'SW_NOT_FOUND', `no route ${path}; ${ROUTES_HINT}`);
  };

  /** 200 once verdicts are computed and the database answers; 503 naming what is not ready yet. */
  const readiness = async (res: ServerResponse): Promise<void> => {
    const waiting: string[] = [];
    if (!warm) waiting.push('verdicts: the first maintenance pass has not finished');
    try {
      // One row: the database answers a read on the serving thread's connection.
      await store.agents.changeSeq();
    } catch (err) {
      waiting.push(`database: ${err instanceof Error ? err.message : String(err)}`);
    }
    // With other collectors: whether this one holds the lease (runs maintenance and alerts for all).
    const lease = shared === undefined ? {} : { leaseHeld: shared.lease.held };
    if (waiting.length > 0) return sendJson(res, 503, { status: warm ? 'not ready' : 'warming up', waiting, agentsConnected: ingest.connectionCount, ...lease });
    sendJson(res, 200, { status: 'ready', agentsConnected: ingest.connectionCount, verdictsComputedAt: new Date(verdicts.computedAt ?? 0).toISOString(), ...lease });
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    onRequest(req, res).catch((err: unknown) => {
      if (err instanceof StoreError) {
        log.warn({ event: 'request-store-failed', err, path: (req.url ?? '').slice(0, 200) }, 'request failed: the database did not answer');
        if (!res.headersSent) sendError(res, 503, 'SW_STORE_UNAVAILABLE', 'the collector\'s database did not answer; try again shortly', { retryAfterSeconds: 5 });
        else res.destroy();
        return;
      }
      log.error({ event: 'request-failed', err, path: (req.url ?? '').slice(0, 200) }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'SW_INTERNAL', 'internal error; see the collector log');
      else res.destroy();
    });
  };
  // With TLS configured the collector speaks only https and wss: tokens never cross in clear.
  // Slow clients (slow-loris) are cut once their headers take over 10 s; Node checks every
  // connectionsCheckingInterval, 30 s by default, which would let them pile up three times longer.
  const timeouts = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };
  const server: Server = config.tls === undefined ? createServer(timeouts, handler) : createTlsServer({ ...timeouts, cert: config.tls.cert, key: config.tls.key }, handler);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => ingest.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new CollectorListenError(config.host, config.port, err)));
      // Node's default backlog of 511 overflowed when 10 000 agents reconnected at once (the
      // fleet benchmark: ~2 500 handshakes timed out and retried); the kernel caps it at somaxconn.
      server.listen({ port: config.port, host: config.host, backlog: 4096 }, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
  } catch (err) {
    await alerts.close();
    await ingest.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `${config.tls === undefined ? 'http' : 'https'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/`;
  log.info({ event: 'listening', url, ...(shared === undefined ? {} : { collectorId: shared.id }) }, 'collector listening');
  if (shared !== undefined) {
    shared.connections.url = url;
    shared.lease.start();
  }
  server.on('error', (err) => log.error({ event: 'server-error', err }, 'HTTP server error'));
  // The first pass runs once the port is open: on a large database it takes minutes (on the
  // maintenance thread), and /healthz, agents and the API are served meanwhile.
  void maintain();

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    ...(shared === undefined ? {} : { cluster: { id: shared.id, lease: shared.lease, connections: shared.connections, beat: fleetBeat } }),
    metrics,
    ingest,
    alerts,
    verdicts,
    // A pass that starts now, or after the one in progress (which may have read the store before the call).
    async maintain() {
      if (maintaining !== undefined) await maintaining;
      await maintain();
    },
    refreshAgents,
    flushLiveness,
    reloadFleet(next, nextReleases) {
      fleet = next;
      releases = nextReleases;
      return pushSettings();
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(maintenanceTimer);
        // Released first: another collector takes the lease at its next attempt.
        await shared?.lease.close();
        await reports.close();
        await alerts.close();
        await ingest.close();
        await shared?.connections.leave();
        await flushLiveness();
        await maintaining;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        for (const release of owned.reverse()) await release();
        owned.length = 0;
        log.info({ event: 'closed' }, 'collector closed');
      })();
      return closing;
    },
  };
}
