/**
 * Upload: `streams` connections each POST incompressible bodies back to back. A body counts
 * only once the endpoint has answered for it (the answer comes after the server has read the
 * whole body; our endpoint also says how many bytes it read in X-Speedwatch-Received-Bytes),
 * so bytes still sitting in socket buffers never inflate the rate. Each stream's confirmed
 * bytes form a timeline, interpolated across each request; the rate is read off their sum.
 * Body sizes adapt so one request lasts about `TARGET_REQUEST_MS`, keeping confirmations
 * frequent at 1 Mbit/s and request overhead small at 1 Gbit/s.
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
import { sleep } from './sleep.js';

const MIN_BODY_BYTES = 64 * 1024;
/** Below common backend limits (PHP's post_max_size is 8M by default). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024 - 64 * 1024;
const FIRST_BODY_BYTES = 256 * 1024;
const TARGET_REQUEST_MS = 250;
/** After the phase's time is up, requests in flight get this long to be confirmed. */
const CONFIRM_GRACE_MS = 2000;

interface StreamState {
  timeline: Timeline;
  confirmed: number;
  failed: boolean;
  /** Time of the last confirmation, ms since the phase started. */
  lastConfirmedMs: number;
  sawNoHeader: boolean;
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
  let stopping = false;
  let seq = 0;
  const states: StreamState[] = Array.from({ length: options.streams }, () => ({
    timeline: new Timeline(),
    confirmed: 0,
    failed: false,
    lastConfirmedMs: 0,
    sawNoHeader: false,
  }));

  const runStream = async (state: StreamState, index: number): Promise<void> => {
    const client = new Client(url.origin, {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      // Confirmation comes only after the whole body is read, so headers may take a while.
      headersTimeout: options.durationMs + CONFIRM_GRACE_MS + options.stallTimeoutMs,
      bodyTimeout: options.stallTimeoutMs,
      connect: { timeout: options.connectTimeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
    });
    client.on('connectionError', () => {});
    let size = FIRST_BODY_BYTES;
    try {
      while (!stopping) {
        const sentAt = elapsed();
        state.timeline.add(sentAt, state.confirmed);
        const res = await client.request({
          path: withQuery(url, { r: `${index}-${seq++}` }),
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'user-agent': options.userAgent },
          body: payload.subarray(0, size),
          signal: abort.signal,
        });
        await res.body.dump({ limit: 64 * 1024 });
        if (res.statusCode !== 200) throw new MeasureError('SW_HTTP_STATUS', `${url.href}: HTTP ${res.statusCode}`);
        const header = Number(res.headers[RECEIVED_BYTES_HEADER.toLowerCase()]);
        const hasHeader = Number.isSafeInteger(header) && header >= 0;
        const received = hasHeader ? Math.min(header, size) : size;
        if (!hasHeader) state.sawNoHeader = true;
        const now = elapsed();
        state.confirmed += received;
        state.lastConfirmedMs = now;
        state.timeline.add(now, state.confirmed);
        const took = Math.max(now - sentAt, 1);
        size = Math.round(Math.min(MAX_BODY_BYTES, Math.max(MIN_BODY_BYTES, size * Math.min(4, TARGET_REQUEST_MS / took))));
      }
    } catch (err) {
      if (!abort.signal.aborted) {
        state.failed = true;
        errors.push(toMeasureError(err, url.href));
      }
    } finally {
      await client.destroy().catch(() => {});
    }
  };

  const streams = states.map((state, i) => runStream(state, i));
  const totalConfirmed = (): number => states.reduce((sum, s) => sum + s.confirmed, 0);
  let lastProgressAt = 0;
  let lastTotal = 0;
  const ticker = setInterval(() => {
    const t = elapsed();
    const total = totalConfirmed();
    options.onProgress?.({ elapsedMs: t, mbps: recent.add(t, total) });
    if (total !== lastTotal) {
      lastTotal = total;
      lastProgressAt = t;
    } else if (t - lastProgressAt > options.stallTimeoutMs && !abort.signal.aborted) {
      errors.push(new MeasureError('SW_STALLED', `${url.href}: no upload confirmed for ${options.stallTimeoutMs} ms`));
      abort.abort();
    }
  }, options.sampleIntervalMs);

  const allDone = Promise.all(streams);
  const onAbort = (): void => {
    errors.push(new MeasureError('SW_ABORTED', 'upload stopped before its time was up'));
    abort.abort();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  const timeUp = sleep(options.durationMs, abort.signal);
  await Promise.race([timeUp, allDone]);
  // No new requests; those in flight may still be confirmed within the grace period.
  stopping = true;
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
  const timelines = states.map((s) => s.timeline);
  const result = throughputFromCurve((t) => sumBytesAt(timelines, t), options, endMs);
  const sawNoHeader = states.some((s) => s.sawNoHeader);
  const error = errors[0];
  return {
    ...(result === undefined ? {} : { result: { ...result, confirmedBy: sawNoHeader ? 'response' : 'header' } }),
    ...(error === undefined ? {} : { error }),
  };
}
