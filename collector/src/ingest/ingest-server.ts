/**
 * Agent ingest: authenticates the WebSocket upgrade at /v1/agents by bearer token, then runs
 * protocol v1 on each connection (docs/protocol.md). A batch is acked only after its
 * transaction has committed; every refusal is answered (`error`/`reject`), counted by reason
 * and leaves other agents and stored data alone.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { AgentSettings, CollectorMessage, Logger, RejectCode, UpgradeMessage, WireErrorCode, WireLimits } from '@speedwatch/shared';
import { AGENTS_PATH, CLOSE_CODES, configAppliedSchema, healthSchema, helloSchema, parseMeasurementResult, PROTOCOL_VERSION, resultsSchema, ValidationError } from '@speedwatch/shared';
import type { ResultFigures } from '../store/result-row.js';
import { resultFigures } from '../store/result-row.js';
import { frameBatch } from '../store/frame-batch.js';
import type { AgentHealthRecord, AgentRecord, InsertOutcome } from '../store/store-types.js';
import type { StoreWriter } from '../writer/store-writer.js';
import type { AgentDirectory } from './agent-directory.js';
import type { RejectReason } from './ingest-errors.js';
import type { AuthLimits } from './auth-limiter.js';
import { AUTH_LIMIT_DEFAULTS, AuthFailureLimiter } from './auth-limiter.js';
import { SlicedQueue } from './sliced-queue.js';
import { TokenBucket } from './token-bucket.js';
import { bearerToken, hashToken } from './tokens.js';

/** What ingest tells the rest of the collector (metrics, logs); every hook is synchronous and cheap. */
export interface IngestEvents {
  /** `connId` numbers the connection on this collector (a new one replaces the agent's older one). */
  connected(agent: AgentRecord, connId: number): void;
  disconnected(agent: AgentRecord, connId: number): void;
  /** Results newly stored (not re-sent duplicates), after commit. */
  stored(agent: AgentRecord, results: readonly ResultFigures[]): void;
  rejected(reason: RejectReason, count: number): void;
  committed(seconds: number, results: number): void;
  clockSkew(agent: AgentRecord, skewMs: number): void;
  /** A valid `health` message arrived (its clock skew has been reported through clockSkew). */
  health(agent: AgentRecord, record: AgentHealthRecord): void;
}

export interface IngestOptions {
  /** Who may connect (by token hash), and where each agent's liveness is recorded. */
  agents: Pick<AgentDirectory, 'authenticate' | 'byTokenHash' | 'seen'>;
  /** Commits validated results (on the store writer thread in the collector). */
  writer: Pick<StoreWriter, 'stage' | 'commitStaged'>;
  logger: Logger;
  /** Wall clock, ms since the epoch. */
  now: () => number;
  limits: WireLimits;
  /** A result whose startedAt is further than this ahead of the collector's clock is rejected. */
  maxFutureMs: number;
  /** A result older than this is rejected (it would fall out of retention at once). */
  maxAgeMs: number;
  /** Ping period; a connection that missed the previous pong is dropped. */
  heartbeatMs: number;
  /**
   * Runs at each heartbeat before tokens are checked (the collector refreshes its agent table
   * there); the check waits for the promise it returns, which must not reject.
   */
  beforeBeat?: () => Promise<void> | void;
  /** Results read but not committed above which reading pauses; default MAX_PENDING_RESULTS. */
  maxPendingResults?: number;
  /** Failed token attempts allowed per client address; default AUTH_LIMIT_DEFAULTS. */
  authLimits?: AuthLimits;
  /** The settings pushed to each agent after welcome and when they change (the controller role); none: nothing is pushed. */
  settings?: SettingsSource;
  events: IngestEvents;
}

/** Where ingest gets each agent's settings and reports what the agent applied. */
export interface SettingsSource {
  /** The settings for the agent as the collector describes it now; undefined when it has none to push. */
  for(agentId: string): AgentSettings | undefined;
  /** The agent acknowledged `version` (stored on the box, used from its next test). */
  applied(agentId: string, version: string): void;
  /** The agent release the fleet config names for the agent, announced after its settings; undefined when none. */
  release?(agentId: string): UpgradeMessage | undefined;
}

interface Session {
  agent: AgentRecord;
  tokenHash: string;
  ws: WebSocket;
  helloDone: boolean;
  alive: boolean;
  bucket: TokenBucket;
  violations: number;
  log: Logger;
  /** The version of the settings last sent on this connection. */
  settingsSent?: string;
  /** Welcome sent: the agent may send results (a hello may wait for it while ingest is over its limits). */
  welcomed: boolean;
  /** When its hello arrived, while its welcome waits (performance.now()). */
  helloAt?: number;
  /** The release last announced on this connection, as `version sha256`. */
  releaseSent?: string;
}

/**
 * Commits handed to the writer at once: with two, the writer thread starts the next commit
 * as soon as one ends, instead of waiting for this thread to read the answer and send more.
 */
const MAX_COMMITS_IN_FLIGHT = 2;

/**
 * Results in one group commit at most: about 20 MB of frames in one message to the writer
 * thread. Before ingest parsed in slices, commits of 10 000 cost 10–15% of throughput against
 * 20 000 (single bench runs); parsing is now the bound, and in the 10 000-agent storm commits of
 * 10 000 gave 19.3–20.8k results/s against 18.7–21.8k with 20 000, with less memory (see below).
 */
export const MAX_RESULTS_PER_COMMIT = 10_000;

/**
 * Results read but not yet committed, above which connections stop being read (TCP then
 * pushes back on the agents) until commits bring it under RESUME_SHARE of it. Without it a
 * reconnect storm of 10 000 agents replaying backlogs held every frame in memory at once (peak
 * RSS 1.2 GB); at 50 000 the storm peaked at 0.93–1.13 GB, at 20 000 at 0.74–1.04 GB (median
 * 0.89, 3 runs of npm run bench:fleet).
 */
export const MAX_PENDING_RESULTS = 20_000;

/**
 * Reading resumes once pending results fall to this share of the limit: one commit's worth
 * (MAX_RESULTS_PER_COMMIT) below it, so that the ingest thread goes back to work as soon as a
 * commit ends rather than idling while a second one runs (with commits of 10 000, resuming at
 * half gave 24.9k results/s and at 80% 26.4k, single runs).
 */
const RESUME_SHARE = 0.8;

/** A validated batch waiting for its commit, staged with the writer under `handle`. */
interface Queued {
  session: Session;
  results: ResultFigures[];
  handle: number;
}

/** Closes a flooding connection after this many rate-limited messages in a row. */
const MAX_CONSECUTIVE_VIOLATIONS = 20;

/**
 * Frames are parsed and validated in slices of at most this long, the event loop turning
 * between slices (sliced-queue.ts): accepting connections, answering /healthz and /metrics.
 */
const FRAME_SLICE_MS = 5;

/**
 * Bytes of frames read but not yet parsed above which connections stop being read, as with
 * MAX_PENDING_RESULTS; reading resumes under half of it.
 */
export const MAX_QUEUED_FRAME_BYTES = 8 * 1024 * 1024;

/** Paused connections resumed per turn of the event loop (see #maybeResume). */
const RESUME_PER_TURN = 64;

/**
 * Longest a hello waits for its welcome while ingest is over its limits. The agent gives up
 * on a welcome after 15 s; in the 10 000-agent storm every agent was welcomed within 8 s.
 */
const MAX_WELCOME_WAIT_MS = 2_500;

/** A text frame read from a connection and waiting to be parsed. */
interface ReadFrame {
  session: Session;
  /** The frame as read; decoded to text when its turn comes (decoding in the read callback, for every socket a poll phase finds readable, stopped the event loop for tens of ms). */
  data: RawData;
}

export class IngestServer {
  readonly #o: IngestOptions;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Map<string, Session>();
  readonly #heartbeat: NodeJS.Timeout;
  #nextConnId = 1;
  /** Batches validated and waiting for the next group commit. */
  readonly #queue: Queued[] = [];
  #flushHandle: NodeJS.Immediate | undefined;
  /** Commits handed to the writer and not yet answered. */
  readonly #writing = new Set<Promise<void>>();
  /** Results queued or being committed. */
  #pendingResults = 0;
  /** Sessions not being read while #pendingResults or the frames read are over their limits. */
  readonly #paused = new Set<Session>();
  /** Between #pauseAll and #maybeResume: a connection welcomed meanwhile is paused too, and a hello's welcome waits. */
  #overLimit = false;
  /** Hellos whose welcome waits for ingest to be under its limits, in order of arrival. */
  readonly #waitingWelcome = new Set<Session>();
  #welcomeTimer: NodeJS.Timeout | undefined;
  /** The next turn's resumptions, while connections are being resumed a few at a time. */
  #resuming: NodeJS.Immediate | undefined;
  /** Frames read and not yet parsed. */
  readonly #frames: SlicedQueue<ReadFrame>;
  readonly #writer: Pick<StoreWriter, 'stage' | 'commitStaged'>;
  readonly #authLimiter: AuthFailureLimiter;

  constructor(options: IngestOptions) {
    this.#o = options;
    this.#writer = options.writer;
    this.#authLimiter = new AuthFailureLimiter(options.authLimits ?? AUTH_LIMIT_DEFAULTS, options.now);
    this.#frames = new SlicedQueue<ReadFrame>({
      handle: ({ session, data }) => this.#onText(session, data),
      onError: (err, { session }) => session.log.error({ event: 'frame-failed', err }, 'handling a frame failed; it was dropped'),
      afterSlice: () => this.#maybeResume(),
      sliceMs: FRAME_SLICE_MS,
      now: () => performance.now(),
    });
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.limits.maxFrameBytes, perMessageDeflate: false });
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Agents connected now, by id. */
  connectedIds(): ReadonlySet<string> {
    return new Set(this.#sessions.keys());
  }

  isConnected(agentId: string): boolean {
    return this.#sessions.has(agentId);
  }

  /**
   * Closes the agent's connection because it has a newer one to another collector (close
   * code 4003, as when it connects twice to this one); false when it is not connected here.
   */
  closeReplaced(agentId: string): boolean {
    const session = this.#sessions.get(agentId);
    if (session === undefined) return false;
    session.log.info({ event: 'replaced' }, 'a newer connection to another collector replaces this one');
    session.ws.close(CLOSE_CODES.REPLACED, 'replaced by a newer connection to another collector');
    return true;
  }

  /** Results read and not yet committed, frames read and not yet parsed, and the connections not being read because of them. */
  get backpressure(): { pendingResults: number; queuedFrames: number; pausedConnections: number; waitingWelcomes: number } {
    return { pendingResults: this.#pendingResults, queuedFrames: this.#frames.length, pausedConnections: this.#paused.size, waitingWelcomes: this.#waitingWelcome.size };
  }

  /** Failed authentications per address; enrollment's failed codes count here too, so guessing either is limited alike. */
  get authLimiter(): AuthFailureLimiter {
    return this.#authLimiter;
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Takes over an HTTP upgrade: 404 for other paths, 401 without a valid token, else the WebSocket. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== AGENTS_PATH) return refuse(socket, 404, `no WebSocket at ${path}; agents connect to ${AGENTS_PATH}`);
    const address = req.socket.remoteAddress ?? '';
    const waitS = this.#authLimiter.retryAfterSeconds(address);
    if (waitS > 0) {
      this.#o.events.rejected('auth_rate_limited', 1);
      this.#o.logger.warn({ event: 'auth-rate-limited', remoteAddress: address, retryAfterS: waitS }, 'agent refused: too many failed token attempts');
      return refuse(socket, 429, `too many failed token attempts from ${address}; try again in ${waitS} s`, waitS);
    }
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      this.#authLimiter.failed(address);
      this.#o.events.rejected('unauthorized', 1);
      this.#o.logger.warn({ event: 'unauthorized', reason: 'missing token', remoteAddress: address }, 'agent refused');
      return refuse(socket, 401, 'Authorization: Bearer <token> is required');
    }
    const tokenHash = hashToken(token);
    // A known token is let in at once; an unknown one first has the agents table looked at again.
    const known = this.#o.agents.byTokenHash(tokenHash);
    if (known !== undefined) return this.#upgrade(req, socket, head, known, tokenHash);
    this.#o.agents.authenticate(tokenHash).then(
      (agent) => this.#upgrade(req, socket, head, agent, tokenHash),
      (err: unknown) => {
        this.#o.logger.error({ event: 'authenticate-failed', err, remoteAddress: address }, 'agent refused: its token could not be checked');
        refuse(socket, 503, 'the collector could not check the token; try again later', 5);
      },
    );
  }

  /** Welcomes the upgrade of `agent`, or refuses it (401) when the token named none. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, agent: AgentRecord | undefined, tokenHash: string): void {
    if (socket.destroyed) return;
    if (agent === undefined) {
      const address = req.socket.remoteAddress ?? '';
      this.#authLimiter.failed(address);
      this.#o.events.rejected('unauthorized', 1);
      this.#o.logger.warn({ event: 'unauthorized', reason: 'unknown or revoked token', remoteAddress: address }, 'agent refused');
      return refuse(socket, 401, 'the token is unknown or revoked');
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, agent, tokenHash, req));
  }

  /** Closes every agent connection with 1001 (going away) and stops the heartbeat. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearInterval(this.#welcomeTimer);
    clearImmediate(this.#resuming);
    // Parse, commit and ack what is already read before the connections go.
    this.#frames.drainNow();
    if (this.#flushHandle !== undefined) {
      clearImmediate(this.#flushHandle);
      this.#flushHandle = undefined;
    }
    while (this.#writing.size > 0 || this.#queue.length > 0) {
      this.#flush();
      await Promise.all(this.#writing);
    }
    const closed = [...this.#sessions.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.ws.once('close', () => resolve());
          s.ws.close(CLOSE_CODES.GOING_AWAY, 'collector shutting down');
          setTimeout(() => {
            s.ws.terminate();
            resolve();
          }, 2000).unref();
        }),
    );
    await Promise.all(closed);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #open(ws: WebSocket, agent: AgentRecord, tokenHash: string, req: IncomingMessage): void {
    const connId = this.#nextConnId++;
    const log = this.#o.logger.child({ agentId: agent.id, connId });
    const previous = this.#sessions.get(agent.id);
    if (previous !== undefined) {
      log.info({ event: 'replaced' }, 'a new connection replaces the old one');
      this.#sessions.delete(agent.id);
      previous.ws.close(CLOSE_CODES.REPLACED, 'replaced by a newer connection');
    }
    const session: Session = {
      agent,
      tokenHash,
      ws,
      helloDone: false,
      welcomed: false,
      alive: true,
      bucket: new TokenBucket(this.#o.limits.maxMessagesPerMinute, 60_000, this.#o.now),
      violations: 0,
      log,
    };
    this.#sessions.set(agent.id, session);
    this.#o.events.connected(agent, connId);
    log.info({ event: 'connected', remoteAddress: req.socket.remoteAddress }, 'agent connected');
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('message', (data, isBinary) => this.#onMessage(session, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.#o.events.rejected('frame_too_large', 1);
        log.warn({ event: 'rejected', reason: 'frame_too_large', limitBytes: this.#o.limits.maxFrameBytes }, 'frame over the size limit');
      } else {
        log.warn({ event: 'socket-error', err }, 'agent connection error');
      }
    });
    ws.on('close', (code) => {
      if (this.#sessions.get(agent.id) === session) this.#sessions.delete(agent.id);
      this.#paused.delete(session);
      this.#waitingWelcome.delete(session);
      this.#o.events.disconnected(agent, connId);
      log.info({ event: 'disconnected', code }, 'agent disconnected');
    });
  }

  #send(session: Session, message: CollectorMessage): void {
    if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(message));
  }

  #error(session: Session, reason: RejectReason, code: WireErrorCode, message: string): void {
    this.#o.events.rejected(reason, 1);
    session.log.warn({ event: 'rejected', reason, code }, message);
    this.#send(session, { type: 'error', code, message });
  }

  #onMessage(session: Session, data: RawData, isBinary: boolean): void {
    this.#o.agents.seen(session.agent.id, this.#o.now());
    if (!session.bucket.take()) {
      session.violations++;
      this.#error(session, 'rate_limited', 'SW_RATE_LIMITED', `over ${this.#o.limits.maxMessagesPerMinute} messages a minute; message dropped, nothing in it was stored`);
      if (session.violations >= MAX_CONSECUTIVE_VIOLATIONS) session.ws.close(CLOSE_CODES.POLICY_VIOLATION, 'message flood');
      return;
    }
    session.violations = 0;
    if (isBinary) return this.#error(session, 'binary', 'SW_PROTOCOL_BINARY', 'binary frames are not part of the protocol; send JSON text');
    // A connection's first frames (its hello) go before other connections' results.
    this.#frames.push({ session, data }, rawLength(data), !session.helloDone);
    if (this.#frames.bytes > MAX_QUEUED_FRAME_BYTES) this.#pauseAll();
  }

  /** A text frame, a slice at a time (see FRAME_SLICE_MS), in the order each connection sent them. */
  #onText(session: Session, data: RawData): void {
    // The connection has gone (or was replaced) since: the agent sends again what was not acked.
    if (session.ws.readyState !== session.ws.OPEN) return;
    const text = textOf(data);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.#error(session, 'json', 'SW_PROTOCOL_JSON', 'the frame is not valid JSON');
    }
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    if (type === 'hello') return this.#onHello(session, message);
    if (type === 'results') {
      if (!session.helloDone) return this.#error(session, 'hello_required', 'SW_HELLO_REQUIRED', 'send hello before results');
      return this.#onResults(session, message, text);
    }
    if (type === 'config-applied') return this.#onConfigApplied(session, message);
    if (type === 'health') {
      if (!session.helloDone) return this.#error(session, 'hello_required', 'SW_HELLO_REQUIRED', 'send hello before health');
      return this.#onHealth(session, message);
    }
    this.#error(session, 'message', 'SW_PROTOCOL_MESSAGE', `unknown message type ${JSON.stringify(printable(type)).slice(0, 60)}; expected hello, results, health or config-applied`);
  }

  #onConfigApplied(session: Session, message: unknown): void {
    let applied;
    try {
      applied = configAppliedSchema.parse(message, 'config-applied');
    } catch (err) {
      return this.#error(session, 'message', 'SW_PROTOCOL_MESSAGE', err instanceof ValidationError ? err.message : String(err));
    }
    // An answer to settings sent before the latest is stale: the latest will be answered too.
    if (applied.version !== session.settingsSent) return;
    session.log.info({ event: 'settings-applied', version: applied.version }, 'agent applied its settings');
    this.#o.settings?.applied(session.agent.id, applied.version);
  }

  /**
   * Sends the agent its settings if they differ from what this connection was last sent, then
   * the release it should run if that differs from the one last announced on it.
   */
  #pushSettings(session: Session): boolean {
    if (!session.welcomed) return false;
    const source = this.#o.settings;
    const settings = source?.for(session.agent.id);
    let sent = false;
    if (settings !== undefined && settings.version !== session.settingsSent) {
      session.settingsSent = settings.version;
      this.#send(session, { type: 'config', settings });
      sent = true;
    }
    const release = source?.release?.(session.agent.id);
    const key = release === undefined ? undefined : `${release.version} ${release.sha256}`;
    if (key !== session.releaseSent) {
      if (key === undefined) delete session.releaseSent;
      else session.releaseSent = key;
      if (release !== undefined) {
        this.#send(session, release);
        session.log.debug({ event: 'upgrade-announced', version: release.version, sha256: release.sha256 }, 'agent release announced');
        sent = true;
      }
    }
    return sent;
  }

  /** Asks a connected, welcomed agent for a test `delayMs` from now; false when it is not connected. */
  requestTest(agentId: string, delayMs: number): boolean {
    const session = this.#sessions.get(agentId);
    if (session === undefined || !session.welcomed) return false;
    this.#send(session, { type: 'test-now', delayMs });
    return true;
  }

  /**
   * Sends every connected agent whose settings or announced release changed (a reload, an
   * edited site) the new ones, a few hundred per turn of the event loop so that a push to
   * 10 000 agents does not stop the others. Resolves with how many agents were sent something.
   */
  async pushSettings(): Promise<number> {
    let sent = 0;
    let inTurn = 0;
    for (const session of [...this.#sessions.values()]) {
      if (this.#sessions.get(session.agent.id) !== session) continue;
      if (this.#pushSettings(session)) sent++;
      if (++inTurn >= 250) {
        inTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return sent;
  }

  /** Not answered when valid: the report is kept (in memory, written at the next heartbeat) and shown. */
  #onHealth(session: Session, message: unknown): void {
    let health;
    try {
      health = healthSchema.parse(message, 'health');
    } catch (err) {
      return this.#error(session, 'message', 'SW_PROTOCOL_MESSAGE', err instanceof ValidationError ? err.message : String(err));
    }
    const now = this.#o.now();
    const { type: _type, ...report } = health;
    const record: AgentHealthRecord = { agentId: session.agent.id, receivedAt: now, skewMs: Date.parse(report.clock) - now, report };
    this.#o.events.clockSkew(session.agent, record.skewMs);
    this.#o.events.health(session.agent, record);
    session.log.debug(
      { event: 'health', skewMs: record.skewMs, backlog: report.backlog, diskFreeBytes: report.diskFreeBytes ?? null, lastTestStatus: report.lastTest?.status ?? null },
      'health',
    );
  }

  #onHello(session: Session, message: unknown): void {
    let hello;
    try {
      hello = helloSchema.parse(message, 'hello');
    } catch (err) {
      if ((message as { protocol?: unknown }).protocol !== PROTOCOL_VERSION) {
        this.#error(session, 'message', 'SW_PROTOCOL_MESSAGE', `protocol ${printable((message as { protocol?: unknown }).protocol).slice(0, 60)} is not supported; this collector speaks ${PROTOCOL_VERSION}`);
        session.ws.close(CLOSE_CODES.UNSUPPORTED_PROTOCOL, 'unsupported protocol version');
        return;
      }
      return this.#error(session, 'message', 'SW_PROTOCOL_MESSAGE', err instanceof ValidationError ? err.message : String(err));
    }
    const now = this.#o.now();
    const skewMs = Date.parse(hello.clock) - now;
    session.helloDone = true;
    this.#o.agents.seen(session.agent.id, now, hello.agent.version);
    session.agent = { ...session.agent, version: hello.agent.version };
    this.#o.events.clockSkew(session.agent, skewMs);
    session.log.info({ event: 'hello', version: hello.agent.version, skewMs, backlog: hello.backlog ?? null, dropped: hello.dropped ?? null }, 'hello');
    if (this.#overLimit && !session.welcomed) {
      // Over the limits: a welcomed agent sends its backlog at once, and a paused connection
      // still holds what it had read (the storm's memory). Its welcome waits for room, at most
      // MAX_WELCOME_WAIT_MS, well inside the agent's 15 s welcome timeout.
      session.helloAt = performance.now();
      this.#waitingWelcome.add(session);
      this.#welcomeTimer ??= setInterval(() => this.#welcomeOverdue(), 250);
      return;
    }
    this.#welcome(session);
  }

  #welcome(session: Session): void {
    this.#waitingWelcome.delete(session);
    delete session.helloAt;
    session.welcomed = true;
    this.#send(session, {
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      agentId: session.agent.id,
      serverTime: new Date(this.#o.now()).toISOString(),
      limits: this.#o.limits,
    });
    // Every welcome is followed by the settings, even a repeated hello's: the agent may have restarted its state.
    delete session.settingsSent;
    delete session.releaseSent;
    this.#pushSettings(session);
    if (this.#overLimit) this.#pause(session);
  }

  /** Welcomes the hellos that have waited MAX_WELCOME_WAIT_MS, over the limits or not. */
  #welcomeOverdue(): void {
    const due = performance.now() - MAX_WELCOME_WAIT_MS;
    for (const session of this.#waitingWelcome) {
      if ((session.helloAt ?? 0) > due) break; // in order of arrival
      if (session.ws.readyState === session.ws.OPEN) this.#welcome(session);
      else this.#waitingWelcome.delete(session);
    }
    if (this.#waitingWelcome.size === 0) {
      clearInterval(this.#welcomeTimer);
      this.#welcomeTimer = undefined;
    }
  }

  #onResults(session: Session, message: unknown, text: string): void {
    const length = Array.isArray((message as { results?: unknown }).results) ? (message as { results: unknown[] }).results.length : 0;
    if (length > this.#o.limits.maxBatch) {
      return this.#error(session, 'batch_too_large', 'SW_BATCH_TOO_LARGE', `${length} results in one message; the limit is ${this.#o.limits.maxBatch}`);
    }
    let batch;
    try {
      batch = resultsSchema(this.#o.limits.maxBatch).parse(message, 'results');
    } catch (err) {
      return this.#error(session, 'message', 'SW_PROTOCOL_MESSAGE', err instanceof ValidationError ? err.message : String(err));
    }
    const now = this.#o.now();
    const valid: ResultFigures[] = [];
    const accepted: number[] = [];
    const seen = new Set<string>();
    for (const [index, raw] of batch.results.entries()) {
      const rawId = (raw as { id?: unknown } | null)?.id;
      const id = typeof rawId === 'string' ? rawId.slice(0, 64) : `#${index}`;
      let result;
      try {
        result = parseMeasurementResult(raw);
      } catch (err) {
        this.#reject(session, 'validation', id, 'SW_VALIDATION', err instanceof Error ? err.message : String(err));
        continue;
      }
      if (seen.has(result.id)) {
        this.#reject(session, 'duplicate_id', result.id, 'SW_DUPLICATE_ID', 'this id appears earlier in the same batch');
        continue;
      }
      seen.add(result.id);
      const ts = Date.parse(result.startedAt);
      if (ts > now + this.#o.maxFutureMs || ts < now - this.#o.maxAgeMs) {
        const rule = `startedAt must be within ${Math.round(this.#o.maxAgeMs / 86_400_000)} days before and ${Math.round(this.#o.maxFutureMs / 60_000)} minutes after the collector's clock (${new Date(now).toISOString()})`;
        this.#reject(session, 'timestamp', result.id, 'SW_TIMESTAMP', `${result.startedAt} is out of range: ${rule}`);
        continue;
      }
      valid.push(resultFigures(result, ts));
      accepted.push(index);
    }
    if (valid.length === 0) return;
    const handle = this.#writer.stage(frameBatch(session.agent.id, now, text, batch.results.length, accepted, valid));
    this.#queue.push({ session, results: valid, handle });
    this.#pendingResults += valid.length;
    if (this.#pendingResults > (this.#o.maxPendingResults ?? MAX_PENDING_RESULTS)) this.#pauseAll();
    this.#scheduleFlush();
  }

  /**
   * Over a limit: stops reading every welcomed connection (TCP then pushes back on the agents)
   * until #maybeResume. Pausing only the connection that went over let every other one's frame
   * in, each already read: in a storm of 10 000 agents that is 400 MB of frames at once. A
   * connection not welcomed yet is still read, so its hello is answered; it is paused with its
   * welcome.
   */
  #pauseAll(): void {
    this.#overLimit = true;
    for (const session of this.#sessions.values()) if (session.welcomed) this.#pause(session);
  }

  #pause(session: Session): void {
    if (this.#paused.has(session)) return;
    this.#paused.add(session);
    session.ws.pause();
  }

  /**
   * Once both results and frames are under their resume marks, resumes the paused connections,
   * RESUME_PER_TURN a turn of the event loop: a resumed connection at once reads what its
   * socket had buffered, and resuming a thousand at once did all that reading in one go (the
   * event loop stopped for tens of milliseconds).
   */
  #maybeResume(): void {
    if ((this.#paused.size === 0 && this.#waitingWelcome.size === 0) || this.#resuming !== undefined) return;
    if (this.#pendingResults > (this.#o.maxPendingResults ?? MAX_PENDING_RESULTS) * RESUME_SHARE) return;
    if (this.#frames.bytes > MAX_QUEUED_FRAME_BYTES / 2) return;
    this.#overLimit = false;
    let resumed = 0;
    for (const paused of this.#paused) {
      if (resumed++ === RESUME_PER_TURN) break;
      this.#paused.delete(paused);
      paused.ws.resume();
    }
    // Connections holding read data first; then the hellos that waited, as many a turn.
    for (const waiting of this.#waitingWelcome) {
      if (resumed++ >= RESUME_PER_TURN || this.#overLimit) break;
      if (waiting.ws.readyState === waiting.ws.OPEN) this.#welcome(waiting);
      else this.#waitingWelcome.delete(waiting);
    }
    if (this.#paused.size > 0 || (this.#waitingWelcome.size > 0 && !this.#overLimit)) {
      this.#resuming = setImmediate(() => {
        this.#resuming = undefined;
        this.#maybeResume();
      });
    }
  }

  #scheduleFlush(): void {
    if (this.#flushHandle === undefined && this.#writing.size < MAX_COMMITS_IN_FLIGHT) this.#flushHandle = setImmediate(() => this.#flush());
  }

  /**
   * Group commit: every batch queued since the last flush, from any agent, goes into one
   * transaction (one fsync), then each agent gets its own ack. At most MAX_COMMITS_IN_FLIGHT
   * at a time: under load batches pile up meanwhile, so an fsync is shared by all of them.
   */
  #flush(): void {
    this.#flushHandle = undefined;
    if (this.#writing.size >= MAX_COMMITS_IN_FLIGHT) return; // a commit ending flushes again
    // Whole batches until the commit holds MAX_RESULTS_PER_COMMIT (at least one batch).
    let take = 0;
    let results = 0;
    while (take < this.#queue.length && (take === 0 || results + (this.#queue[take] as Queued).results.length <= MAX_RESULTS_PER_COMMIT)) {
      results += (this.#queue[take] as Queued).results.length;
      take++;
    }
    const queued = this.#queue.splice(0, take);
    if (queued.length === 0) return;
    const writing: Promise<void> = this.#commit(queued, results)
      .catch((err: unknown) => this.#o.logger.error({ event: 'commit-failed', err }, 'handling a commit failed'))
      .finally(() => {
        this.#writing.delete(writing);
        this.#pendingResults -= results;
        this.#maybeResume();
        if (this.#queue.length > 0) this.#scheduleFlush();
      });
    this.#writing.add(writing);
    // More than one commit's worth queued: the next commit can start now (up to the limit in flight).
    if (this.#queue.length > 0) this.#scheduleFlush();
  }

  async #commit(queued: readonly Queued[], total: number): Promise<void> {
    const started = performance.now();
    let outcomes;
    try {
      outcomes = await this.#writer.commitStaged(queued.map((q) => q.handle));
    } catch (err) {
      this.#o.events.rejected('store_unavailable', total);
      this.#o.logger.error({ event: 'store-failed', err, results: total, batches: queued.length }, 'batches not committed; nothing acked');
      // The connection stays: the agent sends the batch again after a pause (a database locked
      // for a while must not turn into every agent reconnecting at once).
      for (const session of new Set(queued.map((q) => q.session))) {
        this.#send(session, { type: 'error', code: 'SW_STORE_UNAVAILABLE', message: 'the collector could not store the batch; nothing was acked, send it again later' });
      }
      return;
    }
    this.#o.events.committed((performance.now() - started) / 1000, total);
    queued.forEach(({ session, results }, i) => {
      const outcome = outcomes[i] as InsertOutcome;
      const insertedIds = new Set(outcome.inserted);
      this.#o.events.stored(session.agent, results.filter((r) => insertedIds.has(r.id)));
      // Only now, with the transaction committed, may the agent forget these results.
      this.#send(session, { type: 'ack', ids: [...outcome.inserted, ...outcome.duplicates] });
    });
  }

  #reject(session: Session, reason: RejectReason, id: string, code: RejectCode, message: string): void {
    this.#o.events.rejected(reason, 1);
    session.log.warn({ event: 'rejected', reason, code, resultId: id }, message);
    this.#send(session, { type: 'reject', id, code, message });
  }

  #beat(): void {
    // The agents table is read asynchronously (PostgreSQL, or SQLite behind the store
    // interface): the token check waits for this beat's reload, so a revocation ends its
    // connection in this beat, not the next.
    void Promise.resolve(this.#o.beforeBeat?.()).then(() => this.#closeRevoked());
    for (const session of this.#sessions.values()) {
      if (!this.#isCurrent(session)) continue;
      // A session paused for backpressure reads no pongs; it is not dead.
      if (!session.alive && !this.#paused.has(session)) {
        session.log.warn({ event: 'heartbeat-missed' }, 'no pong since the last ping; dropping the connection');
        session.ws.terminate();
        continue;
      }
      session.alive = false;
      session.ws.ping();
    }
  }

  /** Whether the session's token still names its agent (not revoked, not rotated). */
  #isCurrent(session: Session): boolean {
    return this.#o.agents.byTokenHash(session.tokenHash)?.id === session.agent.id;
  }

  /** A revoked or rotated token ends the connection within one heartbeat. */
  #closeRevoked(): void {
    for (const session of this.#sessions.values()) {
      if (this.#isCurrent(session)) continue;
      session.log.warn({ event: 'token-revoked' }, 'token revoked or rotated; closing');
      session.ws.close(CLOSE_CODES.TOKEN_REVOKED, 'token revoked');
    }
  }
}

/** A text frame's UTF-8 (ws hands text frames over as one Buffer; fragments and ArrayBuffers are its other forms). */
function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

/** Bytes of a frame as ws hands it over (a Buffer, or its fragments). */
function rawLength(data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, part) => n + part.length, 0) : data.byteLength;
}

/**
 * A received value for an error message: String() of a primitive; an object or array is named,
 * never converted, since a sender's `toString` can be anything (`{"toString":1}` makes String throw).
 */
function printable(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' && value !== null ? 'an object' : String(value);
}

const REASONS = { 401: 'Unauthorized', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' } as const;

function refuse(socket: Duplex, status: keyof typeof REASONS, message: string, retryAfterS?: number): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${status === 401 ? 'WWW-Authenticate: Bearer\r\n' : ''}${retryAfterS === undefined ? '' : `Retry-After: ${retryAfterS}\r\n`}Connection: close\r\n\r\n${body}`,
  );
}
