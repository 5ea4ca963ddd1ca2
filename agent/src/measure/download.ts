/**
 * Download: `streams` connections (more if the ramp adds them, ramp.ts) each fetch large
 * garbage files back to back for the phase's duration. Bytes are counted as they arrive (raw-http-connection.ts), per stream, sampled
 * every `sampleIntervalMs`; the reported rate is read off the sum of the streams' timelines
 * between the end of warm-up and the end of the phase (timeline.ts).
 *
 * After a loss TCP holds back what follows the hole and releases it in one burst when the
 * retransmission arrives. A stream whose body pauses mid-way marks the start of the pause in
 * its timeline (`Timeline.heldSince`), so the burst is spread over the time it was held back
 * rather than counted when it was read: a burst released just after warm-up no longer counts
 * bytes that arrived before it.
 */
import { performance } from 'node:perf_hooks';
import type { Endpoint } from './endpoints.js';
import { withQuery } from './endpoints.js';
import { MeasureError, toMeasureError } from './measure-error.js';
import { RawHttpConnection } from './raw-http-connection.js';
import { Ramp } from './ramp.js';
import { sumBytesAt, throughputFromCurve, Timeline } from './timeline.js';
import type { PhaseOutcome, ThroughputOptions } from './throughput-options.js';
import { RecentRate } from './throughput-options.js';

/** MiB asked for per request; LibreSpeed's own client asks for 100, below every backend's cap. */
export const DOWNLOAD_CHUNK_MIB = 100;
const READ_BUFFER_BYTES = 256 * 1024;

export async function measureDownload(endpoint: Endpoint, options: ThroughputOptions): Promise<PhaseOutcome> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const ramp = new Ramp(options);
  // One entry per stream; the ramp may add streams during warm-up.
  const active: (RawHttpConnection | undefined)[] = [];
  const errors: MeasureError[] = [];
  const timelines: Timeline[] = [];
  // Body bytes of each stream's closed connections.
  const retired: number[] = [];
  const recent = new RecentRate();
  let stopped = false;
  let seq = 0;

  const streamBytes = (index: number): number => (retired[index] as number) + (active[index]?.bodyBytes ?? 0);
  const totalBytes = (): number => {
    let sum = 0;
    for (let i = 0; i < timelines.length; i++) sum += streamBytes(i);
    return sum;
  };
  const record = (t: number): void => {
    for (let i = 0; i < timelines.length; i++) (timelines[i] as Timeline).add(Math.max(t, (timelines[i] as Timeline).lastMs), streamBytes(i));
  };
  const bytesAt = (t: number, fromStream = 0): number => sumBytesAt(fromStream === 0 ? timelines : timelines.slice(fromStream), t);

  const runStream = async (index: number): Promise<void> => {
    while (!stopped) {
      const conn = new RawHttpConnection({
        url: endpoint.downloadUrl,
        readBuffer,
        connectTimeoutMs: options.connectTimeoutMs,
        userAgent: options.userAgent,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        onHold: (sinceMs, bodyBytes) => (timelines[index] as Timeline).heldSince(sinceMs - started, (retired[index] as number) + bodyBytes),
      });
      active[index] = conn;
      try {
        await conn.connect();
        while (!stopped && conn.reusable) {
          await conn.get(withQuery(endpoint.downloadUrl, { r: `${index}-${seq++}`, ckSize: String(DOWNLOAD_CHUNK_MIB) }));
        }
      } catch (err) {
        if (!stopped) {
          errors.push(toMeasureError(err, endpoint.downloadUrl.href));
          return;
        }
      } finally {
        // Move the count to `retired` in the same tick the connection leaves `active`.
        retired[index] = (retired[index] as number) + conn.bodyBytes;
        active[index] = undefined;
        conn.destroy();
      }
    }
  };

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    record(elapsed());
    for (const conn of active) conn?.destroy();
    finish();
  };

  const streams: Promise<void>[] = [];
  let running = 0;
  const addStreams = (count: number, atMs: number): void => {
    for (let n = 0; n < count; n++) {
      const index = timelines.length;
      const timeline = new Timeline();
      // A stream added later had moved nothing until now.
      if (atMs > 0) timeline.add(atMs, 0);
      timelines.push(timeline);
      retired.push(0);
      active.push(undefined);
      running++;
      // Every stream failing ends the phase early: nothing more will arrive.
      streams.push(runStream(index).finally(() => --running === 0 && stop()));
    }
  };

  const ticker = setInterval(() => {
    const t = elapsed();
    const bytes = totalBytes();
    record(t);
    options.onProgress?.({ elapsedMs: t, mbps: recent.add(t, bytes) });
    if (options.timeUp?.() === true) {
      stop();
      return;
    }
    const more = ramp.step(t, bytesAt);
    if (more > 0) addStreams(more, t);
    const now = performance.now();
    for (const conn of active) {
      if (conn?.connected === true && now - conn.lastReadAt > options.stallTimeoutMs) {
        conn.destroy(new MeasureError('SW_STALLED', `${endpoint.downloadUrl.href}: no data for ${options.stallTimeoutMs} ms`));
      }
    }
  }, options.sampleIntervalMs);
  const deadline = setTimeout(stop, options.durationMs);
  const onAbort = (): void => {
    errors.push(new MeasureError('SW_ABORTED', 'download stopped before its time was up'));
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  addStreams(options.streams, 0);
  await finished;
  clearInterval(ticker);
  clearTimeout(deadline);
  options.signal?.removeEventListener('abort', onAbort);
  await Promise.all(streams);

  const endMs = Math.max(...timelines.map((t) => t.lastMs));
  const used = ramp.record(endMs);
  const result = throughputFromCurve(bytesAt, { ...used, sampleIntervalMs: options.sampleIntervalMs }, endMs);
  const error = errors[0];
  return { ...(result === undefined ? {} : { result: { ...result, ramp: used.ramp } }), ...(error === undefined ? {} : { error }) };
}
