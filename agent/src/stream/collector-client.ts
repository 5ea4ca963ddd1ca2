/**
 * The agent's side of protocol v1 (docs/protocol.md): one WebSocket to the collector, `hello`,
 * then the outbox's backlog oldest first in batches, one batch in flight, each removed from the
 * outbox only when the collector acks it. Reconnects with exponential backoff and full jitter;
 * detects a dead connection by ping/pong; a refused or revoked token is fatal (retrying it
 * forever would only hammer the collector).
 *
 * It trusts nothing it hears. Every frame goes through `parseCollectorMessage` (shared):
 * - A bad frame (binary, not JSON, not a valid message, over MAX_COLLECTOR_FRAME_BYTES) is
 *   logged at warn with its type, made printable and cut short, and dropped. The
 *   `maxBadFrames`-th bad frame on one connection (default 10) closes it with 1008; the client
 *   reconnects with backoff, and such a connection does not reset the backoff.
 * - A message of a type this version does not know (a newer collector's) is ignored, logged at
 *   warn once per connection and at debug after that.
 * - An `ack` or `reject` counts only for ids in flight on this connection: the outbox is never
 *   told about any other id (logged at warn once per frame).
 * - A `welcome` without limits, or with limits out of WIRE_LIMIT_RANGES, is a bad frame.
 * Nothing the collector sends throws out of the client, so nothing it sends stops the daemon.
 *
 * With a `health` source, a `health` message goes after each welcome and every
 * `healthIntervalMs`. A collector that does not know it answers `error` SW_PROTOCOL_MESSAGE:
 * on that connection no more is sent, and the error is not taken as the batch's
 * (docs/protocol.md#health-agent--collector).
 *
 * A connection that ends before the collector's welcome is a ConnectProblem (connect-problem.ts),
 * logged at warn with the URL and a hint when its cause appears or changes, at debug on the
 * retries that meet it again. Every time and timer goes through the injected Clock.
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import type { AgentSettings, HealthMessage, HelloMessage, Logger, MeasurementResult, ReceivedCollectorMessage, UpgradeMessage, WireLimits } from '@speedwatch/shared';
import { CLOSE_CODES, healthSchema, parseCollectorMessage, SpeedwatchError, ValidationError } from '@speedwatch/shared';
import type { Clock } from '../schedule/scheduler.js';
import { systemClock } from '../schedule/scheduler.js';
import type { ConnectProblem } from './connect-problem.js';
import { describeProblem, displayUrl, problemFromError, problemKey } from './connect-problem.js';

/**
 * What the client needs of the outbox. `ack` and `deadLetter` must take effect in the order they
 * are called (the Outbox queues its operations), since the client does not wait for one to end
 * before making the next call.
 */
export interface ResultQueue {
  pending(limit?: number): MeasurementResult[];
  ack(ids: readonly string[]): Promise<void>;
  deadLetter(id: string, code: string, message: string): Promise<void>;
  readonly stats: { pending: number; dropped: number };
}

export class CollectorAuthError extends SpeedwatchError {
  constructor(message: string) {
    super('SW_AGENT_UNAUTHORIZED', message);
    this.name = 'CollectorAuthError';
  }
}

/**
 * Largest frame the client reads from the collector, in bytes; a larger one closes the
 * connection (1009). The largest valid message is an ack of 10 000 ids of 64 characters, ~680 KB.
 */
export const MAX_COLLECTOR_FRAME_BYTES = 1024 * 1024;

/** Bad frames on one connection that close it (see the top of this file). */
export const DEFAULT_MAX_BAD_FRAMES = 10;

/** What a health source gives; the client adds the type, its clock and the outbox's figures. */
export type HealthFigures = Omit<HealthMessage, 'type' | 'clock' | 'backlog' | 'dropped'>;

export interface CollectorClientOptions {
  url: string;
  token: string;
  ca?: string;
  queue: ResultQueue;
  hello: () => Omit<HelloMessage, 'backlog' | 'dropped' | 'clock'>;
  logger: Logger;
  /** Results per message, at most; the collector's own limit (from welcome) also applies. Default 100. */
  batchSize?: number;
  /**
   * Backoff, in milliseconds: first delay and cap (defaults 1 000 and 300 000). The n-th retry
   * in a row waits a uniformly random time in [0, min(cap, first · 2^n)].
   */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Ping period in milliseconds; no pong by the next ping drops the connection. Default 30 000. */
  pingIntervalMs?: number;
  /** A batch not wholly acked within this many milliseconds drops the connection. Default 60 000. */
  ackTimeoutMs?: number;
  /** From the start of a connection to the collector's welcome, at most, in milliseconds. Default 15 000. */
  connectTimeoutMs?: number;
  /** How long `stop()` waits for the close handshake before cutting the socket, in milliseconds. Default 2 000. */
  closeGraceMs?: number;
  /** Bad frames on one connection that close it. Default DEFAULT_MAX_BAD_FRAMES (10). */
  maxBadFrames?: number;
  /** Timers and a monotonic clock; default the system's. */
  clock?: Clock;
  /** Wall-clock milliseconds since the epoch, for hello's `clock` and the skew; default `Date.now`. */
  wallNow?: () => number;
  /** Uniform in [0, 1): backoff and pause jitter. Default `Math.random`. */
  random?: () => number;
  /** Called once when the collector refuses the token: the client has stopped. */
  onFatal: (err: CollectorAuthError) => void;
  /**
   * Settings pushed by the collector (`config`, already validated). Once the returned promise
   * resolves (they are stored), the client acknowledges them with `config-applied`; a rejection
   * is logged and nothing is acknowledged. None: pushed settings are ignored.
   */
  onSettings?: (settings: AgentSettings) => Promise<void>;
  /** The collector asks for a test `delayMs` from now (`test-now`). None: ignored. */
  onTestNow?: (delayMs: number) => void;
  /** Each valid `welcome`, once its connection is open for results (a new version on trial is confirmed by it). */
  onWelcome?: () => void;
  /** A release announced by the collector (`upgrade`, already validated). None: announcements are ignored. */
  onUpgrade?: (offer: UpgradeMessage) => void;
  /**
   * The figures of the `health` message; without it none is sent. Called after each welcome
   * and every `healthIntervalMs`, never twice at once; it should not throw (a throw or a
   * rejection is logged and that message skipped).
   */
  health?: () => Promise<HealthFigures>;
  /** Milliseconds between two `health` messages on one connection. Default 300 000. */
  healthIntervalMs?: number;
}

export type ClientState = 'connecting' | 'open' | 'waiting' | 'stopped';

type Hooks = 'ca' | 'health' | 'onSettings' | 'onTestNow' | 'onWelcome' | 'onUpgrade';
type Settings = Required<Omit<CollectorClientOptions, Hooks>> & Pick<CollectorClientOptions, Hooks>;

/** One WebSocket and everything that lives and dies with it. */
interface Connection {
  readonly ws: WebSocket;
  /** The client's logger with this connection's `connId`. */
  readonly log: Logger;
  /** `open` fired: the upgrade succeeded. */
  opened: boolean;
  /** A valid welcome arrived; `limits` is set. */
  welcomed: boolean;
  limits: WireLimits | undefined;
  /** Why it failed, once known: the first reason wins over the errors of tearing it down. */
  problem: ConnectProblem | undefined;
  /** The client decided to end it: further frames are not read. */
  closing: boolean;
  badFrames: number;
  unknownTypes: number;
  /** A pong (or the connection's start) since the last ping. */
  alive: boolean;
  /** Ids of the batch in flight on this connection, not yet acked or rejected. */
  readonly inFlight: Set<string>;
  /** After an `error` message, no batch is sent until this pause ends. */
  paused: boolean;
  /** `health` messages sent on this connection, and how many of them the collector refused. */
  healthSent: number;
  healthRefused: number;
  /** Figures being gathered for a `health` message. */
  healthGathering: boolean;
  connectTimer: unknown;
  pingTimer: unknown;
  ackTimer: unknown;
  pauseTimer: unknown;
  closeTimer: unknown;
  healthTimer: unknown;
}

export class CollectorClient {
  readonly #o: Settings;
  readonly #url: string;
  #conn: Connection | undefined;
  /** Connections started so far: the next one's `connId`. */
  #connections = 0;
  #state: ClientState = 'waiting';
  /** Failed connections in a row: the backoff's exponent. */
  #attempt = 0;
  #retryTimer: unknown;
  /** problemKey of the last connect problem logged at warn; undefined once a welcome arrived. */
  #lastProblem: string | undefined;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  /** Outbox updates, applied one after the other in the order the collector's messages came. */
  #work: Promise<void> = Promise.resolve();

  constructor(options: CollectorClientOptions) {
    this.#o = {
      batchSize: 100,
      backoffInitialMs: 1000,
      backoffMaxMs: 300_000,
      pingIntervalMs: 30_000,
      ackTimeoutMs: 60_000,
      connectTimeoutMs: 15_000,
      closeGraceMs: 2000,
      healthIntervalMs: 300_000,
      maxBadFrames: DEFAULT_MAX_BAD_FRAMES,
      clock: systemClock,
      wallNow: Date.now,
      random: Math.random,
      ...options,
    };
    this.#url = displayUrl(options.url);
  }

  get state(): ClientState {
    return this.#state;
  }

  start(): void {
    this.#connect();
  }

  /** A new result is in the queue: send it if the connection is idle. */
  notify(): void {
    if (this.#conn !== undefined) this.#pump(this.#conn);
  }

  /** Closes the connection and stops reconnecting; waits for queue updates in progress. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    this.#state = 'stopped';
    this.#clear(this.#retryTimer);
    const conn = this.#conn;
    if (conn !== undefined) await this.#closeAndWait(conn);
    await this.#work;
  }

  /** Closes `conn`; resolves on its close event, or after closeGraceMs (the socket cut) whatever happens. */
  #closeAndWait(conn: Connection): Promise<void> {
    const { ws } = conn;
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const bound = this.#o.clock.setTimeout(() => {
        ws.terminate();
        resolve();
      }, this.#o.closeGraceMs);
      ws.once('close', () => {
        this.#clear(bound);
        resolve();
      });
      this.#close(conn, CLOSE_CODES.NORMAL, 'agent stopping');
    });
  }

  /** Starts the close handshake and cuts the socket if it has not finished within closeGraceMs. */
  #close(conn: Connection, code: number, reason: string): void {
    if (conn.closing) return;
    conn.closing = true;
    this.#clearConnectionTimers(conn);
    if (conn.ws.readyState === WebSocket.CONNECTING) {
      conn.ws.terminate();
      return;
    }
    conn.ws.close(code, reason);
    conn.closeTimer = this.#o.clock.setTimeout(() => conn.ws.terminate(), this.#o.closeGraceMs);
  }

  #connect(): void {
    this.#retryTimer = undefined;
    if (this.#stopped) return;
    this.#state = 'connecting';
    const { clock } = this.#o;
    const ws = new WebSocket(this.#o.url, {
      headers: { authorization: `Bearer ${this.#o.token}` },
      perMessageDeflate: false,
      maxPayload: MAX_COLLECTOR_FRAME_BYTES,
      ...(this.#o.ca === undefined ? {} : { ca: this.#o.ca }),
    });
    const conn: Connection = {
      ws,
      log: this.#o.logger.child({ connId: ++this.#connections }),
      opened: false,
      welcomed: false,
      limits: undefined,
      problem: undefined,
      closing: false,
      badFrames: 0,
      unknownTypes: 0,
      alive: true,
      inFlight: new Set(),
      paused: false,
      healthSent: 0,
      healthRefused: 0,
      healthGathering: false,
      connectTimer: undefined,
      pingTimer: undefined,
      ackTimer: undefined,
      pauseTimer: undefined,
      closeTimer: undefined,
      healthTimer: undefined,
    };
    this.#conn = conn;
    conn.connectTimer = clock.setTimeout(() => {
      conn.connectTimer = undefined;
      conn.problem ??= { cause: conn.opened ? 'no-welcome' : 'timeout' };
      conn.ws.terminate();
    }, this.#o.connectTimeoutMs);

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401) {
        this.#fatal('the collector refused this agent\'s token (HTTP 401): it is wrong, rotated or revoked; get a new one with `speedwatch-collector agents add` or `agents rotate`');
      } else {
        conn.problem ??= { cause: status === 404 ? 'not-found' : 'http-status', status };
      }
      ws.terminate();
    });
    ws.on('open', () => this.#onOpen(conn));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data, isBinary) => this.#onFrame(conn, data, isBinary));
    ws.on('error', (err: Error & { code?: unknown }) => {
      if (conn.opened) {
        // Framing the WebSocket library refused (oversized, bad UTF-8, masked, bad opcode):
        // a bad frame it has already answered by closing the connection.
        if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) {
          conn.badFrames++;
          conn.problem ??= { cause: 'bad-frames', badFrames: conn.badFrames, errCode: err.code };
          conn.log.warn({ event: 'bad-frame', url: this.#url, errCode: err.code, badFrames: conn.badFrames }, `the collector sent a frame the WebSocket layer refused (${err.code}); closing`);
          return;
        }
        conn.log.debug({ event: 'socket-error', err }, 'collector connection error');
      }
      conn.problem ??= problemFromError(err);
    });
    ws.on('close', (code, reason) => this.#onClose(conn, code, reason));
  }

  #onOpen(conn: Connection): void {
    if (conn !== this.#conn || conn.closing) return;
    conn.opened = true;
    conn.log.info({ event: 'connected', url: this.#url }, 'connected to the collector');
    this.#armPing(conn);
    const stats = this.#o.queue.stats;
    const hello: HelloMessage = { ...this.#o.hello(), clock: new Date(this.#o.wallNow()).toISOString(), backlog: stats.pending, dropped: stats.dropped };
    conn.ws.send(JSON.stringify(hello));
  }

  #armPing(conn: Connection): void {
    conn.pingTimer = this.#o.clock.setTimeout(() => {
      conn.pingTimer = undefined;
      if (conn.closing || conn.ws.readyState !== WebSocket.OPEN) return;
      if (!conn.alive) {
        conn.log.warn({ event: 'heartbeat-missed', url: this.#url }, `no pong from the collector within ${this.#o.pingIntervalMs} ms; reconnecting`);
        conn.problem ??= { cause: 'timeout' };
        conn.closing = true;
        this.#clearConnectionTimers(conn);
        conn.ws.terminate();
        return;
      }
      conn.alive = false;
      conn.ws.ping();
      this.#armPing(conn);
    }, this.#o.pingIntervalMs);
  }

  #onClose(conn: Connection, code: number, reason: Buffer): void {
    this.#clearConnectionTimers(conn);
    this.#clear(conn.closeTimer);
    // One connection at a time: the next starts only from the retry armed here.
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    if (this.#stopped) return;
    if (code === CLOSE_CODES.TOKEN_REVOKED) {
      this.#fatal('the collector closed the connection because this agent\'s token was revoked or rotated (4001)');
      return;
    }
    if (!conn.welcomed) {
      const problem: ConnectProblem =
        conn.problem ??
        (code === CLOSE_CODES.UNSUPPORTED_PROTOCOL ? { cause: 'unsupported-protocol' } : conn.opened ? { cause: 'closed', closeCode: code } : { cause: 'network' });
      this.#retryAfterProblem(problem);
      return;
    }
    // A connection that did its work resets the backoff; one closed for bad frames does not.
    if (conn.problem?.cause !== 'bad-frames') this.#attempt = 0;
    const delay = this.#nextDelay();
    conn.log.info(
      { event: 'disconnected', url: this.#url, code, reason: printable(reason.toString('utf8'), 60), ...(conn.problem === undefined ? {} : { cause: conn.problem.cause }), attempt: this.#attempt, retryInMs: delay },
      'disconnected from the collector; will reconnect',
    );
    this.#retryIn(delay);
  }

  /** Logs a connect problem at warn if it is new or changed, at debug if not, and retries. */
  #retryAfterProblem(problem: ConnectProblem): void {
    const delay = this.#nextDelay();
    const key = problemKey(problem);
    const fields = { event: 'connect-failed', url: this.#url, ...problem, attempt: this.#attempt, retryInMs: delay };
    const { what, hint } = describeProblem(problem, this.#o.url, this.#o.connectTimeoutMs);
    if (key !== this.#lastProblem) {
      this.#lastProblem = key;
      const level = problem.cause === 'unsupported-protocol' ? 'error' : 'warn';
      this.#o.logger[level](fields, `cannot connect to the collector at ${this.#url}: ${what}; ${hint}. Retrying with backoff; further failures of this kind are logged at debug`);
    } else {
      this.#o.logger.debug(fields, `cannot connect to the collector at ${this.#url}: ${what}; will retry`);
    }
    this.#retryIn(delay);
  }

  /** The next backoff delay; counts the attempt. */
  #nextDelay(): number {
    const cap = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(this.#o.random() * cap);
  }

  #retryIn(delay: number): void {
    this.#state = 'waiting';
    this.#retryTimer = this.#o.clock.setTimeout(() => this.#connect(), delay);
  }

  #fatal(message: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#state = 'stopped';
    this.#clear(this.#retryTimer);
    if (this.#conn !== undefined) this.#clearConnectionTimers(this.#conn);
    const err = new CollectorAuthError(message);
    this.#o.logger.error({ event: 'unauthorized', url: this.#url, err }, message);
    this.#o.onFatal(err);
  }

  #onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn !== this.#conn || conn.closing || this.#stopped) return;
    if (isBinary) return this.#badFrame(conn, '(binary)', 'a binary frame; the protocol is JSON text');
    let value: unknown;
    try {
      value = JSON.parse(data.toString());
    } catch {
      return this.#badFrame(conn, '(not JSON)', 'not valid JSON');
    }
    let message;
    try {
      message = parseCollectorMessage(value);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return this.#badFrame(conn, typeOf(value), `${err.path === '' ? 'the message' : printable(err.path, 80)}: expected ${printable(err.expected, 200)}`);
    }
    if (message.type === 'unknown') {
      conn.unknownTypes++;
      const level = conn.unknownTypes === 1 ? 'warn' : 'debug';
      conn.log[level](
        { event: 'unknown-message', type: message.received, unknownTypes: conn.unknownTypes },
        `ignored a message of type ${message.received}, which this agent does not know (a newer collector?)${level === 'warn' ? '; more are logged at debug' : ''}`,
      );
      return;
    }
    this.#onMessage(conn, message);
  }

  #badFrame(conn: Connection, type: string, problem: string): void {
    conn.badFrames++;
    const { maxBadFrames } = this.#o;
    conn.log.warn(
      { event: 'bad-frame', url: this.#url, type, problem, badFrames: conn.badFrames, maxBadFrames },
      `dropped a frame from the collector (type ${type}): ${problem}`,
    );
    if (conn.badFrames >= maxBadFrames) {
      conn.problem ??= { cause: 'bad-frames', badFrames: conn.badFrames };
      conn.log.warn({ event: 'bad-frames-close', url: this.#url, badFrames: conn.badFrames }, `${conn.badFrames} bad frames on this connection; closing it and reconnecting with backoff`);
      this.#close(conn, CLOSE_CODES.POLICY_VIOLATION, 'bad frames');
    }
  }

  #onMessage(conn: Connection, message: ReceivedCollectorMessage): void {
    const { log } = conn;
    switch (message.type) {
      case 'welcome': {
        conn.limits = message.limits;
        this.#clear(conn.connectTimer);
        conn.connectTimer = undefined;
        if (this.#lastProblem !== undefined) {
          log.info({ event: 'reconnected', url: this.#url, afterAttempts: this.#attempt }, `connected to the collector again after ${this.#attempt} failed attempts`);
          this.#lastProblem = undefined;
        }
        conn.welcomed = true;
        this.#state = 'open';
        log.info({ event: 'welcome', agentId: message.agentId, limits: message.limits, skewMs: Date.parse(message.serverTime) - this.#o.wallNow() }, 'collector said welcome');
        this.#hook('onWelcome', () => this.#o.onWelcome?.());
        this.#sendHealth(conn);
        this.#pump(conn);
        return;
      }
      case 'upgrade': {
        log.debug({ event: 'upgrade-received', version: message.version }, 'the collector announced an agent release');
        this.#hook('onUpgrade', () => this.#o.onUpgrade?.(message));
        return;
      }
      case 'ack': {
        const acked = message.ids.filter((id) => conn.inFlight.has(id));
        const unknown = message.ids.length - acked.length;
        if (unknown > 0) {
          log.warn({ event: 'ack-unknown-ids', unknownIds: unknown, ackedIds: acked.length }, `the collector acked ${unknown} id(s) not in flight; ignored them`);
        }
        if (acked.length > 0) this.#settle(conn, acked, (ids) => this.#o.queue.ack(ids));
        return;
      }
      case 'reject': {
        const { id, code } = message;
        if (!conn.inFlight.has(id)) {
          log.warn({ event: 'reject-unknown-id', code }, 'the collector rejected an id not in flight; ignored it');
          return;
        }
        const text = printable(message.message, 300);
        log.warn({ event: 'rejected', resultId: id, code }, `collector rejected a result: ${text}`);
        this.#settle(conn, [id], () => this.#o.queue.deadLetter(id, code, message.message));
        return;
      }
      case 'test-now':
        log.info({ event: 'test-now-received', delayMs: message.delayMs }, 'the collector asked for a test');
        this.#o.onTestNow?.(message.delayMs);
        return;
      case 'config': {
        const { settings } = message;
        const onSettings = this.#o.onSettings;
        if (onSettings === undefined) return;
        log.info({ event: 'settings-received', version: settings.version }, 'the collector sent settings');
        let applying: Promise<void>;
        try {
          applying = onSettings(settings);
        } catch (err) {
          applying = Promise.reject(err);
        }
        applying.then(
          () => {
            if (conn === this.#conn && !conn.closing && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify({ type: 'config-applied', version: settings.version }));
          },
          (err: unknown) => log.error({ event: 'settings-failed', err, version: settings.version }, 'could not apply the settings the collector sent; keeping the ones in force'),
        );
        return;
      }
      case 'error': {
        if (message.code === 'SW_PROTOCOL_MESSAGE' && conn.healthSent > conn.healthRefused) {
          // A collector that does not know `health` (or refuses this one): the batch is not
          // concerned, since the agent's batches never earn this code.
          conn.healthRefused++;
          this.#clear(conn.healthTimer);
          conn.healthTimer = undefined;
          if (conn.healthRefused === 1) {
            log.info({ event: 'health-refused', code: message.code }, `the collector refused the health message (${printable(message.message, 300)}); no more is sent on this connection`);
          }
          return;
        }
        // Nothing in the batch was stored: send it again after a pause (the collector may be
        // rate limiting or unable to store; it closes the connection if it must).
        const pauseMs = Math.round(this.#o.random() * this.#o.backoffInitialMs * 5);
        log.warn({ event: 'collector-error', code: message.code, pauseMs }, `the collector answered an error: ${printable(message.message, 300)}`);
        conn.inFlight.clear();
        this.#clear(conn.ackTimer);
        conn.ackTimer = undefined;
        this.#clear(conn.pauseTimer);
        conn.paused = true;
        conn.pauseTimer = this.#o.clock.setTimeout(() => {
          conn.pauseTimer = undefined;
          conn.paused = false;
          this.#pump(conn);
        }, pauseMs);
        return;
      }
    }
  }

  /**
   * Tells the outbox now, while the message is being read (the queue applies its calls in call
   * order), then sends more once the update is done and nothing is left in flight.
   */
  #settle(conn: Connection, ids: readonly string[], update: (ids: readonly string[]) => Promise<void>): void {
    for (const id of ids) conn.inFlight.delete(id);
    let updated: Promise<void>;
    try {
      updated = update(ids);
    } catch (err) {
      updated = Promise.reject(err);
    }
    const done = updated.catch((err: unknown) => this.#o.logger.error({ event: 'outbox-failed', err }, 'could not update the outbox'));
    this.#work = this.#work
      .then(() => done)
      .then(() => {
        if (conn.inFlight.size === 0) {
          this.#clear(conn.ackTimer);
          conn.ackTimer = undefined;
          this.#pump(conn);
        }
      });
  }

  #pump(conn: Connection): void {
    const { ws, limits } = conn;
    if (conn !== this.#conn || this.#stopped || conn.closing || limits === undefined || conn.paused || conn.inFlight.size > 0 || ws.readyState !== WebSocket.OPEN) return;
    let batch = this.#o.queue.pending(Math.min(this.#o.batchSize, limits.maxBatch));
    if (batch.length === 0) return;
    let frame = JSON.stringify({ type: 'results', results: batch });
    // Stay under the collector's frame limit (it closes the connection over it): halve until it fits.
    const maxFrame = limits.maxFrameBytes * 0.9;
    while (Buffer.byteLength(frame) > maxFrame && batch.length > 1) {
      batch = batch.slice(0, Math.ceil(batch.length / 2));
      frame = JSON.stringify({ type: 'results', results: batch });
    }
    for (const result of batch) conn.inFlight.add(result.id);
    ws.send(frame);
    const results = batch.length;
    conn.ackTimer = this.#o.clock.setTimeout(() => {
      conn.ackTimer = undefined;
      conn.log.warn({ event: 'ack-timeout', url: this.#url, results }, `no ack within ${this.#o.ackTimeoutMs} ms; reconnecting`);
      conn.closing = true;
      this.#clearConnectionTimers(conn);
      ws.terminate();
    }, this.#o.ackTimeoutMs);
  }

  /**
   * Gathers the health figures and sends them, then arms the next message; nothing while the
   * previous gathering runs, on a connection that is going, or once the collector refused one.
   */
  #sendHealth(conn: Connection): void {
    const source = this.#o.health;
    if (source === undefined || conn.healthGathering) return;
    conn.healthGathering = true;
    // Not awaited by stop(): a statfs on a hung file system cannot be cancelled, and the daemon
    // must still stop. Every step checks that its connection is still the one in use.
    void this.#gatherAndSend(conn, source).finally(() => {
      conn.healthGathering = false;
      if (conn !== this.#conn || conn.closing || this.#stopped || conn.healthRefused > 0) return;
      conn.healthTimer = this.#o.clock.setTimeout(() => {
        conn.healthTimer = undefined;
        this.#sendHealth(conn);
      }, this.#o.healthIntervalMs);
    });
  }

  /** One `health` message; never rejects. */
  async #gatherAndSend(conn: Connection, source: () => Promise<HealthFigures>): Promise<void> {
    try {
      const figures = await source();
      if (conn !== this.#conn || conn.closing || this.#stopped || conn.healthRefused > 0 || conn.ws.readyState !== WebSocket.OPEN) return;
      const stats = this.#o.queue.stats;
      let message: HealthMessage;
      try {
        message = healthSchema.parse({ type: 'health', clock: new Date(this.#o.wallNow()).toISOString(), ...figures, backlog: stats.pending, dropped: stats.dropped }, 'health');
      } catch (err) {
        conn.log.warn({ event: 'health-invalid', path: err instanceof ValidationError ? err.path : null, err }, 'the health figures are not valid; this message is skipped');
        return;
      }
      conn.ws.send(JSON.stringify(message));
      conn.healthSent++;
    } catch (err) {
      conn.log.warn({ event: 'health-failed', err }, 'could not gather or send the health figures; this message is skipped');
    }
  }

  /** Runs a hook of the owner's; a throw is logged, never let out (nothing the collector sends stops the client). */
  #hook(name: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.#o.logger.error({ event: 'hook-failed', hook: name, err }, `the ${name} hook failed`);
    }
  }

  #clearConnectionTimers(conn: Connection): void {
    this.#clear(conn.connectTimer);
    this.#clear(conn.pingTimer);
    this.#clear(conn.ackTimer);
    this.#clear(conn.pauseTimer);
    this.#clear(conn.healthTimer);
    conn.connectTimer = conn.pingTimer = conn.ackTimer = conn.pauseTimer = conn.healthTimer = undefined;
  }

  #clear(handle: unknown): void {
    if (handle !== undefined) this.#o.clock.clearTimeout(handle);
  }
}

/** The `type` of a parsed frame, for a log line: printable and short, whatever was sent. */
function typeOf(value: unknown): string {
  if (typeof value !== 'object' || value === null) return `(${value === null ? 'null' : typeof value})`;
  if (Array.isArray(value)) return '(an array)';
  const type = (value as { type?: unknown }).type;
  if (type === undefined) return '(none)';
  return typeof type === 'string' ? printable(type, 40) : `(${type === null ? 'null' : Array.isArray(type) ? 'an array' : typeof type})`;
}

/** `text` with every character outside printable ASCII as `?`, cut to `max` characters. */
function printable(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[^\x20-\x7e…]/g, '?');
}
