/**
 * The agent's side of protocol v1 (docs/protocol.md): one WebSocket to the collector, `hello`,
 * then the outbox's backlog oldest first in batches, one batch in flight, each removed from the
 * outbox only when the collector acks it. Reconnects with exponential backoff and full jitter;
 * detects a dead connection by ping/pong; a refused or revoked token is fatal (retrying it
 * forever would only hammer the collector).
 */
import WebSocket from 'ws';
import type { CollectorMessage, HelloMessage, Logger, MeasurementResult, RejectCode, WireLimits } from '@speedwatch/shared';
import { CLOSE_CODES, SpeedwatchError } from '@speedwatch/shared';

/** What the client needs of the outbox. */
export interface ResultQueue {
  pending(limit?: number): MeasurementResult[];
  ack(ids: readonly string[]): Promise<void>;
  deadLetter(id: string, code: RejectCode, message: string): Promise<void>;
  readonly stats: { pending: number; dropped: number };
}

export class CollectorAuthError extends SpeedwatchError {
  constructor(message: string) {
    super('SW_AGENT_UNAUTHORIZED', message);
    this.name = 'CollectorAuthError';
  }
}

export interface CollectorClientOptions {
  url: string;
  token: string;
  ca?: string;
  queue: ResultQueue;
  hello: () => Omit<HelloMessage, 'backlog' | 'dropped' | 'clock'>;
  logger: Logger;
  /** Results per message, at most; the collector's own limit (from welcome) also applies. */
  batchSize?: number;
  /** Backoff: first delay and cap, ms. Delays are uniformly random in [0, min(cap, first * 2^n)]. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Ping period; no pong by the next ping drops the connection. */
  pingIntervalMs?: number;
  /** A batch not acked within this is given up on and the connection dropped. */
  ackTimeoutMs?: number;
  random?: () => number;
  /** Called once when the collector refuses the token: the client has stopped. */
  onFatal: (err: CollectorAuthError) => void;
}

export type ClientState = 'connecting' | 'open' | 'waiting' | 'stopped';

export class CollectorClient {
  readonly #o: Required<Omit<CollectorClientOptions, 'ca'>> & { ca?: string };
  #ws: WebSocket | undefined;
  #state: ClientState = 'waiting';
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #alive = true;
  #limits: WireLimits | undefined;
  /** Ids of the batch in flight, not yet acked or rejected. */
  #inFlight = new Set<string>();
  #stopped = false;
  #work: Promise<void> = Promise.resolve();

  constructor(options: CollectorClientOptions) {
    this.#o = {
      batchSize: 100,
      backoffInitialMs: 1000,
      backoffMaxMs: 300_000,
      pingIntervalMs: 30_000,
      ackTimeoutMs: 60_000,
      random: Math.random,
      ...options,
    };
  }

  get state(): ClientState {
    return this.#state;
  }

  start(): void {
    this.#connect();
  }

  /** A new result is in the queue: send it if the connection is idle. */
  notify(): void {
    this.#pump();
  }

  /** Closes the connection and stops reconnecting; waits for queue updates in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#state = 'stopped';
    this.#clearTimers();
    const ws = this.#ws;
    if (ws !== undefined && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(CLOSE_CODES.NORMAL, 'agent stopping');
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000).unref();
      });
    }
    await this.#work;
  }

  #clearTimers(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#pingTimer);
    clearTimeout(this.#ackTimer);
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#state = 'connecting';
    const log = this.#o.logger;
    const ws = new WebSocket(this.#o.url, {
      headers: { authorization: `Bearer ${this.#o.token}` },
      handshakeTimeout: 15_000,
      perMessageDeflate: false,
      ...(this.#o.ca === undefined ? {} : { ca: this.#o.ca }),
    });
    this.#ws = ws;
    this.#inFlight.clear();
    ws.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 401) {
        this.#fatal('the collector refused this agent\'s token (HTTP 401): it is wrong, rotated or revoked; get a new one with `speedwatch-collector agents add` or `agents rotate`');
      } else {
        log.warn({ event: 'connect-refused', status: res.statusCode }, `collector answered HTTP ${res.statusCode ?? '?'} to the upgrade`);
      }
      ws.terminate();
    });
    ws.on('open', () => {
      log.info({ event: 'connected', url: this.#o.url }, 'connected to the collector');
      this.#alive = true;
      this.#pingTimer = setInterval(() => {
        if (!this.#alive) {
          log.warn({ event: 'heartbeat-missed' }, 'no pong from the collector; reconnecting');
          ws.terminate();
          return;
        }
        this.#alive = false;
        ws.ping();
      }, this.#o.pingIntervalMs);
      const stats = this.#o.queue.stats;
      const hello: HelloMessage = { ...this.#o.hello(), clock: new Date().toISOString(), backlog: stats.pending, dropped: stats.dropped };
      ws.send(JSON.stringify(hello));
    });
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('message', (data) => {
      let message: CollectorMessage;
      try {
        message = JSON.parse(data.toString()) as CollectorMessage;
      } catch {
        log.warn({ event: 'bad-frame' }, 'the collector sent a frame that is not JSON');
        return;
      }
      this.#onMessage(message);
    });
    ws.on('error', (err) => log.debug({ event: 'socket-error', err }, 'collector connection error'));
    ws.on('close', (code, reason) => {
      clearInterval(this.#pingTimer);
      clearTimeout(this.#ackTimer);
      if (this.#ws === ws) this.#ws = undefined;
      if (this.#stopped || this.#state === 'stopped') return;
      if (code === CLOSE_CODES.TOKEN_REVOKED) {
        this.#fatal('the collector closed the connection because this agent\'s token was revoked or rotated (4001)');
        return;
      }
      if (code === CLOSE_CODES.UNSUPPORTED_PROTOCOL) log.error({ event: 'unsupported-protocol' }, 'the collector does not speak this agent\'s protocol version; upgrade the agent');
      this.#retry(`closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`);
    });
  }

  #fatal(message: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#state = 'stopped';
    this.#clearTimers();
    const err = new CollectorAuthError(message);
    this.#o.logger.error({ event: 'unauthorized', err }, message);
    this.#o.onFatal(err);
  }

  #retry(why: string): void {
    this.#state = 'waiting';
    const cap = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** Math.min(this.#attempt, 30));
    const delay = Math.round(this.#o.random() * cap);
    this.#attempt++;
    this.#o.logger.info({ event: 'reconnect', why, inMs: delay, attempt: this.#attempt }, 'will reconnect');
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #onMessage(message: CollectorMessage): void {
    const log = this.#o.logger;
    switch (message.type) {
      case 'welcome':
        this.#limits = message.limits;
        this.#attempt = 0;
        this.#state = 'open';
        log.info({ event: 'welcome', agentId: message.agentId, skewMs: Date.parse(message.serverTime) - Date.now() }, 'collector said welcome');
        this.#pump();
        return;
      case 'ack':
        this.#settle(message.ids, (ids) => this.#o.queue.ack(ids));
        return;
      case 'reject':
        log.warn({ event: 'rejected', resultId: message.id, code: message.code }, `collector rejected a result: ${message.message}`);
        this.#settle([message.id], () => this.#o.queue.deadLetter(message.id, message.code, message.message));
        return;
      case 'error':
        // Nothing in the batch was stored: send it again after a pause (the collector may be
        // rate limiting or unable to store; it closes the connection if it must).
        log.warn({ event: 'collector-error', code: message.code }, message.message);
        this.#inFlight.clear();
        clearTimeout(this.#ackTimer);
        this.#timer = setTimeout(() => this.#pump(), Math.round(this.#o.random() * this.#o.backoffInitialMs * 5));
        return;
      default:
        log.warn({ event: 'unknown-message' }, 'the collector sent a message of unknown type');
    }
  }

  /** Applies an outbox update in order with the others, then sends more when the batch is done. */
  #settle(ids: readonly string[], update: (ids: readonly string[]) => Promise<void>): void {
    for (const id of ids) this.#inFlight.delete(id);
    this.#work = this.#work
      .then(() => update(ids))
      .catch((err: unknown) => this.#o.logger.error({ event: 'outbox-failed', err }, 'could not update the outbox'))
      .then(() => {
        if (this.#inFlight.size === 0) {
          clearTimeout(this.#ackTimer);
          this.#pump();
        }
      });
  }

  #pump(): void {
    const ws = this.#ws;
    if (this.#state !== 'open' || ws === undefined || ws.readyState !== WebSocket.OPEN || this.#inFlight.size > 0) return;
    const limit = Math.min(this.#o.batchSize, this.#limits?.maxBatch ?? this.#o.batchSize);
    let batch = this.#o.queue.pending(limit);
    if (batch.length === 0) return;
    let frame = JSON.stringify({ type: 'results', results: batch });
    // Stay under the collector's frame limit (it closes the connection over it): halve until it fits.
    const maxFrame = (this.#limits?.maxFrameBytes ?? 1024 * 1024) * 0.9;
    while (Buffer.byteLength(frame) > maxFrame && batch.length > 1) {
      batch = batch.slice(0, Math.ceil(batch.length / 2));
      frame = JSON.stringify({ type: 'results', results: batch });
    }
    for (const result of batch) this.#inFlight.add(result.id);
    ws.send(frame);
    this.#ackTimer = setTimeout(() => {
      this.#o.logger.warn({ event: 'ack-timeout', results: batch.length }, `no ack within ${this.#o.ackTimeoutMs} ms; reconnecting`);
      ws.terminate();
    }, this.#o.ackTimeoutMs);
  }
}
