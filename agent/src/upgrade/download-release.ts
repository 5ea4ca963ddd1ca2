/**
 * Downloads an announced release from the collector into a file, with the agent's bearer token,
 * hashing it on the way. Bounded: no more bytes than announced are read, and the whole transfer
 * has a deadline. node:http/https, not undici: the daemon does not load undici (memory), and
 * this is one GET.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { describeError } from '../outbox/durable-fs.js';
import { UpgradeError } from './upgrade-error.js';

export interface DownloadOptions {
  /** http:// or https:// URL of the tarball on the collector. */
  url: string;
  /** The agent's token, sent as `Authorization: Bearer`. */
  token: string;
  /** Extra CA (PEM) for https, as for the WebSocket. */
  ca?: string;
  /** The size announced, in bytes: a different Content-Length, or more bytes, is a mismatch. */
  bytes: number;
  /** Where the tarball is written (created or replaced, mode 0600). */
  dest: string;
  /** The whole transfer, at most, in milliseconds. */
  timeoutMs: number;
  /** Stops the transfer (the daemon is stopping). */
  signal?: AbortSignal;
  userAgent: string;
}

export interface Downloaded {
  /** SHA-256 of what was received, lowercase hex. */
  sha256: string;
  bytes: number;
}

function get(url: URL, options: { headers: Record<string, string>; ca?: string; signal: AbortSignal }): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', headers: options.headers, signal: options.signal, ...(options.ca === undefined ? {} : { ca: options.ca }) }, resolve);
    req.once('error', reject);
    req.end();
  });
}

/** Seconds of a Retry-After header as milliseconds, bounded to 1 s – 1 h; undefined without one. */
function retryAfterMs(header: string | undefined): number | undefined {
  const seconds = Number(header);
  return header === undefined || !Number.isFinite(seconds) ? undefined : Math.min(Math.max(seconds, 1), 3600) * 1000;
}

/**
 * The tarball in `dest`, with its hash. Throws UpgradeError: SW_UPGRADE_HASH when the size
 * differs from the announced one, SW_UPGRADE_DOWNLOAD for the rest (a status other than 200,
 * with `retryAfterMs` for 429 and 503; the network; the deadline).
 */
export async function downloadRelease(o: DownloadOptions): Promise<Downloaded> {
  const url = new URL(o.url);
  const shown = `${url.origin}${url.pathname}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new UpgradeError('SW_UPGRADE_DOWNLOAD', `GET ${shown}: not complete within ${Math.round(o.timeoutMs / 1000)} s`)), o.timeoutMs);
  const stop = (): void => controller.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    const res = await get(url, { headers: { authorization: `Bearer ${o.token}`, 'user-agent': o.userAgent }, ...(o.ca === undefined ? {} : { ca: o.ca }), signal: controller.signal });
    if (res.statusCode !== 200) {
      res.resume();
      const wait = res.statusCode === 429 || res.statusCode === 503 ? retryAfterMs(res.headers['retry-after']) : undefined;
      throw new UpgradeError('SW_UPGRADE_DOWNLOAD', `GET ${shown}: HTTP ${res.statusCode ?? 0}`, { httpStatus: res.statusCode ?? 0, ...(wait === undefined ? {} : { retryAfterMs: wait }) });
    }
    const length = res.headers['content-length'];
    if (length !== undefined && Number(length) !== o.bytes) {
      res.destroy();
      throw new UpgradeError('SW_UPGRADE_HASH', `GET ${shown}: the collector serves ${length} bytes but announced ${o.bytes}`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    await pipeline(
      res,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > o.bytes) throw new UpgradeError('SW_UPGRADE_HASH', `GET ${shown}: more than the ${o.bytes} bytes announced`);
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(o.dest, { mode: 0o600 }),
      { signal: controller.signal },
    );
    if (bytes !== o.bytes) throw new UpgradeError('SW_UPGRADE_HASH', `GET ${shown}: ${bytes} bytes received, ${o.bytes} announced`);
    return { sha256: hash.digest('hex'), bytes };
  } catch (err) {
    if (err instanceof UpgradeError) throw err;
    const reason: unknown = controller.signal.reason;
    if (controller.signal.aborted && reason instanceof UpgradeError) throw reason;
    throw new UpgradeError('SW_UPGRADE_DOWNLOAD', `GET ${shown}: ${describeError(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', stop);
  }
}
