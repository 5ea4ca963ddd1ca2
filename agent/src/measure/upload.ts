/**
 * Upload: `streams` connections (more if the ramp adds them, ramp.ts) each POST incompressible bodies back to back. A body counts
 * only once the endpoint has answered for it (the answer comes after the server has read the
 * whole body; our endpoint also says how many bytes it read in X-Speedwatch-Received-Bytes),
 * so bytes still sitting in socket buffers never inflate the rate.
 *
 * Each connection keeps `PIPELINE_DEPTH` requests outstanding (HTTP/1.1 pipelining): the next
 * body is written behind the one being read, so the connection never idles for the round trip
 * that the endpoint's answer takes. With one request at a time a stream sent a ~250 ms body,
 * then sat idle a round trip: at 40 ms that read 12% low. The server reads the bodies one
 * after another without a gap, so each stream's confirmed bytes form a timeline interpolated
 * between consecutive confirmations; the rate is read off their sum. An endpoint that does not
 * pipeline (it closes the connection after an answer) still works: undici sends the waiting
 * request again on a new connection, and only answered bodies count.
 *
 * Body sizes adapt so one body takes about `TARGET_REQUEST_MS` to be read, keeping
 * confirmations frequent at 1 Mbit/s and request overhead small at 1 Gbit/s.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { RECEIVED_BYTES_HEADER } from '@speedwatch/shared';
import type { Endpoint } from './endpoints.js';
import { withQuery } from './endpoints.js';
import { MeasureError, toMeasureError } from './measure-error.js';
import { sumBytesAt, throughputFromCurve, Timeline } from './timeline.js';
import type { PhaseOutcome, ThroughputOptions } from './throughput-options.js';
import { RecentRate } from './throughput-options.js';
import { Ramp } from './ramp.js';
import { sleep } from './sleep.js';

const MIN_BODY_BYTES = 64 * 1024;
/** Below common backend limits (PHP's post_max_size is 8M by default). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024 - 64 * 1024;
const FIRST_BODY_BYTES = 256 * 1024;
const TARGET_REQUEST_MS = 100;
/** Requests outstanding per connection: the one being read, and the next one behind it. */
const PIPELINE_DEPTH = 3;
/** After the phase's time is up, requests in flight get this long to be confirmed. */
const CONFIRM_GRACE_MS = 2000;

interface StreamState {
  timeline: Timeline;
  confirmed: number;
  failed: boolean;
  /** Time of the last confirmation, ms since the phase started (0: none yet). */
  lastConfirmedMs: number;
  sawNoHeader: boolean;
  /** Size of the next body, adapted after every confirmation. */
  size: number;
  /** When the stream started, ms since the phase started (the ramp adds streams during warm-up). */
  startedMs: number;
}

export async function measureUpload(endpoint: Endpoint, options: ThroughputOptions): Promise<PhaseOutcome> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  // One buffer for every body of every stream: incompressible, made once, never copied.
  const payload = randomBytes(MAX_BODY_BYTES);
  const url = endpoint.uploadUrl;
  const abort = new AbortController();
  const errors: MeasureError[] = [];
  const recent = new RecentRate();
  let timeIsUp = false;
  // Ends the wait for the phase's time before it is up (the test reached its data cap).
  const early = new AbortController();
  // Once the time is up, streams go on sending until each has a confirmation past the end:
  // the body straddling the end must be read while the others still load the link, or it is
  // read faster than before the end and its interpolated bytes at the end come out too high.
  const stopping = (): boolean => timeIsUp && states.every((s) => s.failed || s.lastConfirmedMs >= options.durationMs);
  let seq = 0;
  const ramp = new Ramp(options);
  const states: StreamState[] = [];

  const clients: Client[] = [];
  const runStream = async (state: StreamState, index: number): Promise<void> => {
    const client = new Client(url.origin, {
      pipelining: PIPELINE_DEPTH,
      keepAliveTimeout: 30_000,
      // Confirmation comes only after the whole body is read, so headers may take a while.
      headersTimeout: options.durationMs + CONFIRM_GRACE_MS + options.stallTimeoutMs,
      bodyTimeout: options.stallTimeoutMs,
      connect: { timeout: options.connectTimeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    });
    client.on('connectionError', () => {});
    clients.push(client);
    const sentAt = state.startedMs;
    state.timeline.add(sentAt, 0);
    let firstConfirmed!: () => void;
    const first = new Promise<void>((resolve) => {
      firstConfirmed = resolve;
    });
    // One request after another on this connection; `PIPELINE_DEPTH` of these run side by side.
    const lane = async (): Promise<void> => {
      while (!stopping()) {
        const size = state.size;
        const res = await client.request({
          path: withQuery(url, { r: `${index}-${seq++}` }),
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'user-agent': options.userAgent },
          body: payload.subarray(0, size),
          // Let undici pipeline this POST behind the one in flight, although that one's answer
          // comes only after its body is read (`blocking` would hold the pipeline until then),
          // and send it again on a new connection if the server closes this one: harmless,
          // since only answers count.
          idempotent: true,
          blocking: false,
        });
        await res.body.dump({ limit: 64 * 1024 });
        if (res.statusCode !== 200) throw new MeasureError('SW_HTTP_STATUS', `${url.href}: HTTP ${res.statusCode}`);
        const header = Number(res.headers[RECEIVED_BYTES_HEADER.toLowerCase()]);
        const hasHeader = Number.isSafeInteger(header) && header >= 0;
        const received = hasHeader ? Math.min(header, size) : size;
        if (!hasHeader) state.sawNoHeader = true;
        const now = elapsed();
        // The server read this body since it read the one before (pipelined), or since the start.
        const took = Math.max(now - Math.max(state.lastConfirmedMs, sentAt), 1);
        state.confirmed += received;
        state.lastConfirmedMs = now;
        state.timeline.add(now, state.confirmed);
        state.size = Math.round(Math.min(MAX_BODY_BYTES, Math.max(MIN_BODY_BYTES, size * Math.min(4, TARGET_REQUEST_MS / took))));
        firstConfirmed();
      }
    };
    try {
      // The first body goes alone, to learn the size; then the pipeline is kept full.
      const firstLane = lane();
      const otherLanes = Promise.race([first, firstLane]).then(() => Promise.all(Array.from({ length: PIPELINE_DEPTH - 1 }, lane)));
      await Promise.all([firstLane, otherLanes]);
    } catch (err) {
      if (!abort.signal.aborted) {
        state.failed = true;
        errors.push(toMeasureError(err, url.href));
      }
    } finally {
      await client.destroy().catch(() => {});
    }
  };

  // Stopping closes the connections, which ends the requests in flight: one abort listener for
  // the phase rather than one per request (16 streams made Node warn of a listener leak).
  abort.signal.addEventListener(
    'abort',
    () => {
      for (const client of clients) client.destroy().catch(() => {});
    },
    { once: true },
  );
  const streams: Promise<void>[] = [];
  const addStreams = (count: number, atMs: number): void => {
    for (let n = 0; n < count; n++) {
      const state: StreamState = { timeline: new Timeline(), confirmed: 0, failed: false, lastConfirmedMs: 0, sawNoHeader: false, size: FIRST_BODY_BYTES, startedMs: atMs };
      states.push(state);
      streams.push(runStream(state, states.length - 1));
    }
  };
  const timelines = (): Timeline[] => states.map((s) => s.timeline);
  const bytesAt = (t: number, fromStream = 0): number => sumBytesAt(timelines().slice(fromStream), t);
  // The sum of the streams is known up to the oldest last confirmation (a stream without one
  // yet: its start, when it had sent nothing).
  const knownMs = (): number => Math.min(...states.filter((s) => !s.failed).map((s) => (s.lastConfirmedMs > 0 ? s.lastConfirmedMs : s.startedMs)));
  addStreams(options.streams, elapsed());
  const totalConfirmed = (): number => states.reduce((sum, s) => sum + s.confirmed, 0);
  let lastProgressAt = 0;
  let lastTotal = 0;
  const ticker = setInterval(() => {
    const t = elapsed();
    const total = totalConfirmed();
    options.onProgress?.({ elapsedMs: t, mbps: recent.add(t, total) });
    if (!early.signal.aborted && options.timeUp?.() === true) early.abort();
    if (!timeIsUp) {
      const more = ramp.step(knownMs(), bytesAt);
      if (more > 0) addStreams(more, t);
    }
    if (total !== lastTotal) {
      lastTotal = total;
      lastProgressAt = t;
    } else if (t - lastProgressAt > options.stallTimeoutMs && !abort.signal.aborted) {
      errors.push(new MeasureError('SW_STALLED', `${url.href}: no upload confirmed for ${options.stallTimeoutMs} ms`));
      abort.abort();
    }
  }, options.sampleIntervalMs);

  // Streams added later are awaited too: `streams` grows until the time is up.
  const allDone = (async (): Promise<void> => {
    for (let done = 0; done < streams.length; ) {
      const count = streams.length;
      await Promise.all(streams.slice(done));
      done = count;
    }
  })();
  const onAbort = (): void => {
    errors.push(new MeasureError('SW_ABORTED', 'upload stopped before its time was up'));
    abort.abort();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  const timeUp = sleep(options.durationMs, AbortSignal.any([abort.signal, early.signal]));
  await Promise.race([timeUp, allDone]);
  // New requests only until every stream is confirmed past the end; those in flight may still
  // be confirmed within the grace period.
  timeIsUp = true;
  const grace = sleep(CONFIRM_GRACE_MS, abort.signal);
  await Promise.race([grace, allDone]);
  abort.abort();
  await allDone;
  clearInterval(ticker);
  options.signal?.removeEventListener('abort', onAbort);

  // The window ends when the phase's time was up, or earlier if a healthy stream's last
  // confirmation came before that (its bytes after it are unknown, not zero).
  const healthy = states.filter((s) => !s.failed && s.lastConfirmedMs > 0);
  const endMs = Math.min(options.durationMs, elapsed(), ...healthy.map((s) => s.lastConfirmedMs));
  const used = ramp.record(endMs);
  const result = throughputFromCurve(bytesAt, { ...used, sampleIntervalMs: options.sampleIntervalMs }, endMs);
  const sawNoHeader = states.some((s) => s.sawNoHeader);
  const error = errors[0];
  return {
    ...(result === undefined ? {} : { result: { ...result, confirmedBy: sawNoHeader ? 'response' : 'header', ramp: used.ramp } }),
    ...(error === undefined ? {} : { error }),
  };
}
