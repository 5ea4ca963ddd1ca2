/**
 * The download body: incompressible bytes from one random buffer made at start-up. Every
 * response writes views of that buffer (made once per chunk size), so serving allocates no
 * payload memory however many bytes go out.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pacer } from './pacer.js';

/** Paced writes carry about this much time at the pacer's rate... */
const PACED_WRITE_MS = 5;
/** ...but no less than this, so slow rates do not cost a syscall per few bytes... */
const MIN_PACED_WRITE_BYTES = 16 * 1024;
/** ...and no more than this, so fast rates stay smooth. */
const MAX_PACED_WRITE_BYTES = 256 * 1024;

export class Payload {
  readonly #buffer: Buffer;
  readonly #views = new Map<number, readonly Buffer[]>();

  /** `buffer` should be random (e.g. `crypto.randomBytes(1 << 20)`); it is never copied or changed. */
  constructor(buffer: Buffer) {
    if (buffer.length === 0) throw new RangeError('payload buffer must not be empty');
    this.#buffer = buffer;
  }

  /** Consecutive views of `chunkBytes` each over the buffer (one view when it is larger); made once per size. */
  views(chunkBytes: number): readonly Buffer[] {
    const size = Math.min(chunkBytes, this.#buffer.length);
    let views = this.#views.get(size);
    if (views === undefined) {
      const count = Math.floor(this.#buffer.length / size);
      views = Object.freeze(Array.from({ length: count }, (_, i) => this.#buffer.subarray(i * size, (i + 1) * size)));
      this.#views.set(size, views);
    }
    return views;
  }
}

/** Bytes per paced write: about PACED_WRITE_MS of the pacer's rate, within bounds. */
export function pacedWriteBytes(pacer: Pacer): number {
  const bytes = Math.round(pacer.bytesIn(PACED_WRITE_MS));
  return Math.min(Math.max(bytes, MIN_PACED_WRITE_BYTES), MAX_PACED_WRITE_BYTES);
}

export interface SendPayloadOptions {
  payload: Payload;
  /** Shared download pacer; absent means as fast as the socket takes it. */
  pacer: Pacer | undefined;
  /** Called with the size of every write, for the server's byte count. */
  onBytes: (bytes: number) => void;
}

/**
 * Writes `totalBytes` of payload as the body of `res` (whose head the caller has set, with
 * Content-Length) and ends it. Waits for 'drain' whenever the socket is full and for the
 * pacer's delay before each paced write. Resolves `false`, without writing more, as soon as
 * the client goes away.
 */
export async function sendPayload(res: ServerResponse, totalBytes: number, options: SendPayloadOptions): Promise<boolean> {
  const { payload, pacer, onBytes } = options;
  // Unpaced, each write is the whole buffer: the fewest syscalls and 'drain' waits.
  const views = payload.views(pacer === undefined ? Number.POSITIVE_INFINITY : pacedWriteBytes(pacer));
  let closed = false;
  const onClose = (): void => {
    closed = true;
  };
  res.once('close', onClose);
  try {
    let left = totalBytes;
    let index = 0;
    while (left > 0) {
      if (closed) return false;
      let chunk = views[index] as Buffer;
      index = index + 1 === views.length ? 0 : index + 1;
      if (chunk.length > left) chunk = chunk.subarray(0, left);
      if (pacer !== undefined) {
        const delayMs = pacer.reserve(chunk.length);
        // Below a millisecond a timer cannot help; the pacer's burst allowance covers it.
        if (delayMs >= 1) await sleep(delayMs);
        if (closed) return false;
      }
      const more = res.write(chunk);
      left -= chunk.length;
      onBytes(chunk.length);
      if (!more && left > 0 && !(await drained(res))) return false;
    }
    res.end();
    return true;
  } finally {
    res.removeListener('close', onClose);
  }
}

/** Resolves true on 'drain', false if the response closes first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.removeListener('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.removeListener('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
