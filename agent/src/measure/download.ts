/**
 * Download: `streams` connections each fetch large garbage files back to back for the phase's
 * duration. Bytes are counted as they arrive (raw-http-connection.ts), sampled every
 * `sampleIntervalMs`; the reported rate is the bytes between the end of warm-up and the end
 * of the phase over that time.
 */
import { performance } from 'node:perf_hooks';
import type { Endpoint } from './endpoints.js';
import { withQuery } from './endpoints.js';
import { MeasureError, toMeasureError } from './measure-error.js';
import { RawHttpConnection } from './raw-http-connection.js';
import { throughputFromCurve, Timeline } from './timeline.js';
import type { PhaseOutcome, ThroughputOptions } from './throughput-options.js';
import { RecentRate } from './throughput-options.js';

/** MiB asked for per request; LibreSpeed's own client asks for 100, below every backend's cap. */
export const DOWNLOAD_CHUNK_MIB = 100;
const READ_BUFFER_BYTES = 256 * 1024;

export async function measureDownload(endpoint: Endpoint, options: ThroughputOptions): Promise<PhaseOutcome> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const active: (RawHttpConnection | undefined)[] = new Array(options.streams).fill(undefined);
  const errors: MeasureError[] = [];
  const timeline = new Timeline();
  const recent = new RecentRate();
  let retiredBytes = 0;
  let stopped = false;
  let seq = 0;

  const totalBytes = (): number => {
    let sum = retiredBytes;
    for (const conn of active) if (conn !== undefined) sum += conn.bodyBytes;
    return sum;
  };

  const runStream = async (index: number): Promise<void> => {
    while (!stopped) {
      const conn = new RawHttpConnection({
        url: endpoint.downloadUrl,
        readBuffer,
        connectTimeoutMs: options.connectTimeoutMs,
        userAgent: options.userAgent,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
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
        // Move the count to `retiredBytes` in the same tick the connection leaves `active`.
        retiredBytes += conn.bodyBytes;
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
    timeline.add(Math.max(elapsed(), timeline.lastMs), totalBytes());
    for (const conn of active) conn?.destroy();
    finish();
  };

  const ticker = setInterval(() => {
    const t = elapsed();
    const bytes = totalBytes();
    timeline.add(t, bytes);
    options.onProgress?.({ elapsedMs: t, mbps: recent.add(t, bytes) });
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

  const streams = Array.from({ length: options.streams }, (_, i) => runStream(i));
  // Every stream failing ends the phase early: nothing more will arrive.
  void Promise.all(streams).then(stop);
  await finished;
  clearInterval(ticker);
  clearTimeout(deadline);
  options.signal?.removeEventListener('abort', onAbort);
  await Promise.all(streams);

  const result = throughputFromCurve((t) => timeline.bytesAt(t), options, timeline.lastMs);
  const error = errors[0];
  return { ...(result === undefined ? {} : { result }), ...(error === undefined ? {} : { error }) };
}
