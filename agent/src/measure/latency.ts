/**
 * Latency the i-Speed way: repeated requests for an empty file over one warm keep-alive
 * connection, timed from sending the request to the end of the (empty) answer.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LatencyResult, LoadedLatency } from '@speedwatch/shared';
import { median, round, summarize } from '@speedwatch/shared';
import { MeasureError, toMeasureError } from './measure-error.js';
import { socketAddress, withQuery } from './endpoints.js';
import { RawHttpConnection } from './raw-http-connection.js';
import { sleep } from './sleep.js';

export interface ProbeOptions {
  /** A probe with no complete answer within this many ms counts as lost. */
  timeoutMs: number;
  connectTimeoutMs: number;
  ca?: string | Buffer;
  userAgent: string;
}

/**
 * One keep-alive connection that answers "how long does an empty request take". It speaks
 * HTTP over a bare socket (raw-http-connection.ts) rather than through undici, whose dispatch
 * added 0.5–0.9 ms to every round trip on the delay lab (curl's on the same link is the
 * reference). A probe is timed from writing the request to the last byte of the answer; the
 * connection is (re)opened before the timer starts.
 */
export class LatencyProber {
  readonly #url: URL;
  readonly #options: ProbeOptions;
  readonly #readBuffer = Buffer.allocUnsafe(16 * 1024);
  #conn: RawHttpConnection | undefined;
  #seq = 0;

  constructor(url: URL, options: ProbeOptions) {
    this.#url = url;
    this.#options = options;
  }

  async #open(): Promise<RawHttpConnection> {
    const current = this.#conn;
    if (current?.connected === true && current.reusable) return current;
    current?.destroy();
    const conn = new RawHttpConnection({
      url: this.#url,
      readBuffer: this.#readBuffer,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      userAgent: this.#options.userAgent,
      ...(this.#options.ca === undefined ? {} : { ca: this.#options.ca }),
    });
    this.#conn = conn;
    await conn.connect();
    return conn;
  }

  /** One round trip in ms; throws a coded MeasureError when lost. */
  async probe(): Promise<number> {
    const { timeoutMs } = this.#options;
    const conn = await this.#open();
    const path = withQuery(this.#url, { r: `${Date.now().toString(36)}${(this.#seq++).toString(36)}` });
    const timer = setTimeout(() => conn.destroy(new MeasureError('SW_TIMEOUT', `${this.#url.href}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const started = performance.now();
    try {
      await conn.get(path);
      return performance.now() - started;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#conn?.destroy();
    this.#conn = undefined;
  }
}

export interface LatencyOptions extends ProbeOptions {
  /** Probes to time (after one uncounted warm-up request). */
  count: number;
  /** Pause between probes. */
  intervalMs: number;
  signal?: AbortSignal;
  onProbe?: (rttMs: number | undefined, index: number) => void;
}

/**
 * Times `count` probes over one warm connection, plus the TCP connect time. A probe lost to a
 * timeout or error counts towards `lossRatio`; the connection is warmed again before the next.
 * Throws only when no probe at all succeeds.
 */
export async function measureLatency(url: URL, options: LatencyOptions): Promise<LatencyResult> {
  const prober = new LatencyProber(url, options);
  try {
    const samples: number[] = [];
    let lost = 0;
    let firstError: MeasureError | undefined;
    let warm = false;
    for (let i = 0; i < options.count; i++) {
      if (options.signal?.aborted === true) throw new MeasureError('SW_ABORTED', 'latency test stopped');
      try {
        if (!warm) {
          await prober.probe(); // opens the connection; its handshake is not a round trip
          warm = true;
        }
        const rtt = await prober.probe();
        samples.push(rtt);
        options.onProbe?.(rtt, i);
      } catch (err) {
        const error = err instanceof MeasureError ? err : toMeasureError(err, url.href);
        firstError ??= error;
        lost++;
        warm = false;
        options.onProbe?.(undefined, i);
        // Nothing listens: give up early rather than wait out every timeout.
        if (samples.length === 0 && lost >= Math.min(3, options.count)) break;
      }
      if (options.intervalMs > 0 && i + 1 < options.count) await sleep(options.intervalMs, options.signal);
    }
    const summary = summarize(samples);
    if (summary === undefined) throw firstError ?? new MeasureError('SW_TIMEOUT', `${url.href}: no probe answered`);
    const connectMs = await measureConnectMs(url, 3, options.connectTimeoutMs).catch(() => undefined);
    const attempted = samples.length + lost;
    return {
      count: attempted,
      minMs: round(summary.min, 3),
      medianMs: round(summary.median, 3),
      meanMs: round(summary.mean, 3),
      p90Ms: round(summary.p90, 3),
      maxMs: round(summary.max, 3),
      jitterMs: round(summary.jitter, 3),
      lossRatio: round(lost / attempted, 4),
      ...(connectMs === undefined ? {} : { connectMs: round(connectMs, 3) }),
      samplesMs: samples.map((s) => round(s, 3)),
    };
  } finally {
    await prober.close();
  }
}

/** Median time of `count` TCP handshakes to the URL's host and port (no TLS, no HTTP). */
export async function measureConnectMs(url: URL, count: number, timeoutMs: number): Promise<number> {
  const { host, port } = socketAddress(url);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    times.push(
      await new Promise<number>((resolve, reject) => {
        let started = performance.now();
        const socket = net.connect({ host, port });
        const timer = setTimeout(() => socket.destroy(new MeasureError('SW_CONNECT_TIMEOUT', `${url.origin}: connect timed out`)), timeoutMs);
        // Time the handshake, not the name lookup before it.
        socket.once('lookup', () => {
          started = performance.now();
        });
        socket.once('connect', () => {
          const elapsed = performance.now() - started;
          clearTimeout(timer);
          socket.destroy();
          resolve(elapsed);
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(toMeasureError(err, url.origin));
        });
      }),
    );
  }
  return median(times);
}

/**
 * Probes latency on its own connection every `intervalMs` until stopped, for latency under
 * load while a throughput phase runs.
 */
export class LoadedLatencySampler {
  readonly #prober: LatencyProber;
  readonly #intervalMs: number;
  readonly #samples: number[] = [];
  #lost = 0;
  #stopped = false;
  readonly #loop: Promise<void>;

  constructor(url: URL, options: ProbeOptions & { intervalMs: number }) {
    this.#prober = new LatencyProber(url, options);
    this.#intervalMs = options.intervalMs;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    try {
      await this.#prober.probe(); // warm-up, not counted
    } catch {
      // Counted below as losses if the endpoint stays unreachable.
    }
    while (!this.#stopped) {
      try {
        const rtt = await this.#prober.probe();
        if (!this.#stopped) this.#samples.push(rtt);
      } catch {
        if (!this.#stopped) this.#lost++;
      }
      if (!this.#stopped) await sleep(this.#intervalMs);
    }
  }

  /** Stops probing and summarises; undefined when no probe answered. */
  async stop(): Promise<LoadedLatency | undefined> {
    this.#stopped = true;
    await this.#prober.close();
    await this.#loop;
    const summary = summarize(this.#samples);
    if (summary === undefined) return undefined;
    const count = this.#samples.length + this.#lost;
    return { count, medianMs: round(summary.median, 3), p90Ms: round(summary.p90, 3), lossRatio: round(this.#lost / count, 4) };
  }
}
