/**
 * The upload body: read, counted and discarded. With a pacer, each chunk read reserves its
 * bytes and the request is paused for the reserved delay, so TCP flow control slows the
 * sender to the pacer's rate.
 */
import type { IncomingMessage } from 'node:http';
import type { Pacer } from './pacer.js';

export type SinkOutcome =
  /** The whole body was read; `bytes` is its exact size. */
  | { readonly kind: 'complete'; readonly bytes: number }
  /** The body passed `maxBodyBytes`; reading stopped after `bytes`. */
  | { readonly kind: 'too-large'; readonly bytes: number }
  /** The client went away before the body ended. */
  | { readonly kind: 'aborted'; readonly bytes: number };

export interface SinkOptions {
  maxBodyBytes: number;
  /** Shared upload pacer; absent means read as fast as the client sends. */
  pacer: Pacer | undefined;
  /** Called with the size of every chunk read, for the server's byte count. */
  onBytes: (bytes: number) => void;
}

/**
 * Reads `req`'s body to the end without keeping it. When paced, 'complete' waits until the
 * last chunk's reserved time has come, so a confirmation never runs ahead of the rate.
 */
export function drainBody(req: IncomingMessage, options: SinkOptions): Promise<SinkOutcome> {
  const { maxBodyBytes, pacer, onBytes } = options;
  return new Promise((resolve) => {
    let bytes = 0;
    let resumeTimer: NodeJS.Timeout | undefined;
    let ended = false;
    let settled = false;

    const settle = (outcome: SinkOutcome): void => {
      if (settled) return;
      settled = true;
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('close', onClose);
      if (resumeTimer !== undefined) clearTimeout(resumeTimer);
      resolve(outcome);
    };
    const resume = (): void => {
      resumeTimer = undefined;
      if (ended) settle({ kind: 'complete', bytes });
      else req.resume();
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      onBytes(chunk.length);
      if (bytes > maxBodyBytes) {
        settle({ kind: 'too-large', bytes });
        return;
      }
      if (pacer === undefined) return;
      const delayMs = pacer.reserve(chunk.length);
      if (delayMs < 1) return;
      req.pause();
      resumeTimer = setTimeout(resume, delayMs);
    };
    const onEnd = (): void => {
      ended = true;
      if (resumeTimer === undefined) settle({ kind: 'complete', bytes });
    };
    const onClose = (): void => {
      if (!req.complete) settle({ kind: 'aborted', bytes });
    };

    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}
