/**
 * One light simulated agent for the fleet simulator: the real agent's side of protocol v1
 * (agent/src/stream/collector-client.ts) without measuring: an outbox kept oldest first,
 * `hello` with the backlog, batches of at most `batch` results with one in flight, each result
 * forgotten only when acked, re-sent after a lost connection, reconnects with exponential
 * backoff and full jitter, its own ping, and an ack timeout. Results are made at a compressed
 * pace; the agent can drop its connection on purpose (a random reconnect) or go offline.
 *
 * The outbox holds only each result's id and values; the JSON text is cut from one template
 * (collector-results.ts) when a batch is sent, so ten thousand agents stay light.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { HelloMessage, Site } from '@speedwatch/shared';
import { CLOSE_CODES, PROTOCOL_VERSION } from '@speedwatch/shared';
import type { ResultText, ResultValues } from './collector-results.js';
import type { FleetCounters } from './fleet-protocol.js';

/** What all agents of one process share; passed in, so nothing here is module state. */
export interface FleetContext {
  url: string;
  text: ResultText;
  random: () => number;
  /** Wall clock, ms since the epoch. */
  now: () => number;
  counters: FleetCounters;
  /** Every id acked, by any agent of the process. */
  acked: Set<string>;
  batch: number;
  intervalMs: number;
  pingIntervalMs: number;
  /** Called at each welcome. */
  onWelcome: (agent: SimAgent) => void;
  /** Called when an agent's outbox becomes empty with its connection welcomed. */
  onSettled: (agent: SimAgent) => void;
}

/** One result waiting in the outbox. */
interface Pending extends ResultValues {
  /** Put on the wire before (so sending it again is a resend). */
  sent: boolean;
}

const RESULT_DURATION_MS = 27_000;
/** The real agent's schedule: one test every 15 minutes, used to date a backlog. */
const SCHEDULE_MS = 15 * 60_000;
const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 300_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;
const ACK_TIMEOUT_MS = 60_000;
/**
 * A random reconnect is a partition at one of the agent's results: from then on the agent hears
 * nothing more on that connection (an ack on its way is lost), half of the time what it sends
 * never arrives either, and the socket is closed up to this long later. So the result just made
 * is either never stored (re-sent, stored once) or stored with its ack lost (re-sent,
 * recognised by id, acked again).
 */
const DROP_DELAY_MAX_MS = 200;

export class SimAgent {
  /** The agent's id in the collector (what its token stands for). */
  readonly id: string;
  /** Every result id this agent made, in order. */
  readonly made: string[] = [];
  readonly #c: FleetContext;
  readonly #token: string;
  readonly #site: Site;
  readonly #baseDownloadMbps: number;
  #ws: WebSocket | undefined;
  /** Connections this agent closed itself: their close is not unexpected. */
  readonly #closing = new WeakSet<WebSocket>();
  /** Connections being dropped: what arrives on them is not heard. */
  readonly #deaf = new WeakSet<WebSocket>();
  /** Connections being dropped whose sends never arrive. */
  readonly #mute = new WeakSet<WebSocket>();
  #welcomed = false;
  #outbox: Pending[] = [];
  readonly #inFlight = new Set<string>();
  #attempt = 0;
  #alive = true;
  #retryTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #paceTimer: NodeJS.Timeout | undefined;
  #dropChance = 0;
  /** false while offline: a lost connection is not retried. */
  #online = false;
  #stopped = false;
  /** The version of the settings last received and acked, and when it was acked (performance.now()). */
  settingsVersion: string | undefined;
  settingsAckedAt = 0;
  /** Pings received since `markHold`, and whether the agent dropped since then. */
  pingsSinceMark = 0;
  droppedSinceMark = false;

  constructor(context: FleetContext, id: string, token: string, site: Site) {
    this.id = id;
    this.#c = context;
    this.#token = token;
    this.#site = site;
    this.#baseDownloadMbps = 40 + context.random() * 120;
  }

  /** Welcomed, nothing in the outbox and nothing in flight. */
  get settled(): boolean {
    return this.#welcomed && this.#outbox.length === 0 && this.#inFlight.size === 0;
  }

  get welcomed(): boolean {
    return this.#welcomed;
  }

  /** No socket at all (after going offline, once the close has happened). */
  get disconnected(): boolean {
    return this.#ws === undefined;
  }

  get backlog(): number {
    return this.#outbox.length;
  }

  /** Connects now (and again after any loss, with backoff, until `goOffline` or `stop`). */
  connect(): void {
    if (this.#stopped) return;
    this.#online = true;
    clearTimeout(this.#retryTimer);
    this.#attempt = 0;
    if (this.#ws === undefined) this.#open();
  }

  /** Makes a result every [0.5, 1.5] × intervalMs, the first within one interval; at each, drops the connection with `dropChance`. */
  startPacing(dropChance: number): void {
    this.#dropChance = dropChance;
    clearTimeout(this.#paceTimer);
    this.#paceTimer = setTimeout(() => this.#tick(), this.#c.random() * this.#c.intervalMs);
  }

  stopPacing(): void {
    clearTimeout(this.#paceTimer);
    this.#paceTimer = undefined;
    this.#dropChance = 0;
  }

  markHold(): void {
    this.pingsSinceMark = 0;
    this.droppedSinceMark = false;
  }

  /** Drops the connection, stays offline, and accumulates `backlog` results dated on the real 15-minute schedule. */
  goOffline(backlog: number): void {
    this.stopPacing();
    this.#online = false;
    clearTimeout(this.#retryTimer);
    this.#drop();
    const now = this.#c.now();
    for (let k = backlog; k >= 1; k--) this.#make(now - k * SCHEDULE_MS);
  }

  /** Closes the connection normally (1000) and stops; resolves once it is closed (at most 5 s). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#online = false;
    this.stopPacing();
    clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    if (ws === undefined) return;
    this.#closing.add(ws);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 5000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.OPEN) ws.close(CLOSE_CODES.NORMAL, 'agent stopping');
      else ws.terminate();
    });
  }

  #tick(): void {
    this.#make(this.#c.now() - RESULT_DURATION_MS);
    const ws = this.#ws;
    if (this.#dropChance > 0 && this.#welcomed && ws !== undefined && this.#c.random() < this.#dropChance) {
      this.droppedSinceMark = true;
      this.#deaf.add(ws);
      if (this.#c.random() < 0.5) this.#mute.add(ws);
      setTimeout(() => {
        if (this.#ws === ws) this.#drop();
      }, this.#c.random() * DROP_DELAY_MAX_MS);
    }
    this.#pump();
    this.#paceTimer = setTimeout(() => this.#tick(), this.#c.intervalMs * (0.5 + this.#c.random()));
  }

  #make(startedMs: number): void {
    const id = randomUUID();
    const download = Math.round(this.#baseDownloadMbps * (0.7 + this.#c.random() * 0.5) * 100) / 100;
    this.#outbox.push({
      id,
      startedMs,
      downloadMbps: download,
      uploadMbps: Math.round(download * 40) / 100,
      latencyMs: Math.round((8 + this.#c.random() * 30) * 10) / 10,
      sent: false,
    });
    this.made.push(id);
    this.#c.counters.generated++;
  }

  /** Terminates the connection on purpose (a reconnect follows unless offline). */
  #drop(): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    this.#closing.add(ws);
    this.#c.counters.drops++;
    ws.terminate();
  }

  #open(): void {
    const c = this.#c;
    const ws = new WebSocket(c.url, {
      headers: { authorization: `Bearer ${this.#token}` },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    this.#ws = ws;
    this.#welcomed = false;
    this.#inFlight.clear();
    let opened = false;
    let failure = 'closed before open';
    ws.on('unexpected-response', (_req, res) => {
      this.#failed(`HTTP ${res.statusCode ?? '?'}`);
      if (res.statusCode === 401) this.#refused(`upgrade refused with HTTP 401 (token not accepted)`, true);
      this.#closing.add(ws);
      ws.terminate();
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // A failed connect or a broken socket: 'close' follows and decides what to do.
      failure = err.code ?? (err.message.includes('handshake has timed out') ? 'handshake timeout' : err.message.slice(0, 60));
    });
    ws.on('open', () => {
      opened = true;
      this.#alive = true;
      this.#pingTimer = setInterval(() => {
        if (!this.#alive) {
          c.counters.agentHeartbeatDrops++;
          this.#closing.add(ws);
          ws.terminate();
          return;
        }
        this.#alive = false;
        ws.ping();
      }, c.pingIntervalMs);
      const hello: HelloMessage = {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
        site: this.#site,
        clock: new Date(c.now()).toISOString(),
        backlog: this.#outbox.length,
        dropped: 0,
      };
      ws.send(JSON.stringify(hello));
    });
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('ping', () => {
      c.counters.pings++;
      this.pingsSinceMark++;
    });
    ws.on('message', (data) => {
      if (!this.#deaf.has(ws)) return this.#onMessage(data.toString());
      const ids = (JSON.parse(data.toString()) as { ids?: unknown }).ids;
      if (Array.isArray(ids)) c.counters.acksLost += ids.length;
    });
    ws.on('close', (code) => {
      clearInterval(this.#pingTimer);
      clearTimeout(this.#ackTimer);
      if (this.#ws === ws) {
        this.#ws = undefined;
        this.#welcomed = false;
        this.#inFlight.clear();
      }
      if (!opened) {
        if (!this.#closing.has(ws)) this.#failed(failure);
      } else if (!this.#closing.has(ws)) {
        this.droppedSinceMark = true;
        const key = String(code);
        c.counters.unexpectedCloses[key] = (c.counters.unexpectedCloses[key] ?? 0) + 1;
      }
      if (this.#online && !this.#stopped) this.#retry();
    });
  }

  #failed(reason: string): void {
    const failures = this.#c.counters.connectFailures;
    failures[reason] = (failures[reason] ?? 0) + 1;
  }

  #retry(): void {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    this.#retryTimer = setTimeout(() => {
      if (this.#online && !this.#stopped && this.#ws === undefined) this.#open();
    }, Math.round(this.#c.random() * cap));
  }

  #refused(what: string, fatal: boolean): void {
    const c = this.#c;
    c.counters.refusals++;
    c.counters.firstRefusal ??= what;
    if (fatal) {
      this.#online = false;
      this.#stopped = true;
    }
  }

  #onMessage(text: string): void {
    let message: { type?: unknown; ids?: unknown; id?: unknown; code?: unknown; message?: unknown; settings?: { version?: unknown } };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return this.#refused('a frame that is not JSON', false);
    }
    switch (message.type) {
      case 'welcome':
        this.#welcomed = true;
        this.#c.onWelcome(this);
        this.#attempt = 0;
        this.#c.counters.welcomes++;
        this.#pump();
        return;
      case 'ack':
        return this.#settle(Array.isArray(message.ids) ? (message.ids as string[]) : [], true);
      case 'config': {
        // As the agent does: keep the settings (here: their version), then acknowledge them.
        const version = String(message.settings?.version);
        this.#c.counters.settings++;
        this.#ws?.send(JSON.stringify({ type: 'config-applied', version }));
        this.settingsVersion = version;
        this.settingsAckedAt = performance.now();
        return;
      }
      case 'reject':
        this.#refused(`reject ${String(message.code)}: ${String(message.message)}`, false);
        return this.#settle([String(message.id)], false);
      case 'error':
        // Nothing of the batch was stored: send it again after a pause, as the agent does.
        this.#refused(`error ${String(message.code)}: ${String(message.message)}`, false);
        this.#inFlight.clear();
        clearTimeout(this.#ackTimer);
        this.#retryTimer = setTimeout(() => this.#pump(), Math.round(this.#c.random() * BACKOFF_INITIAL_MS * 5));
        return;
      default:
        this.#refused(`a message of unknown type ${String(message.type)}`, false);
    }
  }

  /** Forgets `ids` (acked, or rejected for good); sends the next batch once the one in flight is done. */
  #settle(ids: readonly string[], acked: boolean): void {
    const done = new Set(ids);
    for (const id of ids) {
      this.#inFlight.delete(id);
      if (acked && !this.#c.acked.has(id)) {
        this.#c.acked.add(id);
        this.#c.counters.acked++;
      }
    }
    this.#outbox = this.#outbox.filter((p) => !done.has(p.id));
    if (this.#inFlight.size > 0) return;
    clearTimeout(this.#ackTimer);
    if (this.#outbox.length === 0) this.#c.onSettled(this);
    else this.#pump();
  }

  #pump(): void {
    const ws = this.#ws;
    if (!this.#welcomed || ws === undefined || ws.readyState !== WebSocket.OPEN || this.#inFlight.size > 0 || this.#outbox.length === 0) return;
    const c = this.#c;
    const batch = this.#outbox.slice(0, c.batch);
    let frame = '{"type":"results","results":[';
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      frame += (i === 0 ? '' : ',') + c.text.make(p);
      this.#inFlight.add(p.id);
      if (p.sent) c.counters.resent++;
      p.sent = true;
    }
    frame += ']}';
    c.counters.sent += batch.length;
    if (this.#mute.has(ws)) c.counters.vanished += batch.length;
    else ws.send(frame);
    clearTimeout(this.#ackTimer);
    this.#ackTimer = setTimeout(() => {
      const key = 'ack-timeout';
      c.counters.unexpectedCloses[key] = (c.counters.unexpectedCloses[key] ?? 0) + 1;
      this.#closing.add(ws);
      ws.terminate();
    }, ACK_TIMEOUT_MS);
  }
}
