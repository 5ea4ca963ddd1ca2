/**
 * The outbox log's on-disk format. The log is a sequence of frames:
 *
 *     [u32 LE payload length][u32 LE CRC-32 of payload][payload: UTF-8 JSON]
 *
 * and each payload is one record, told apart by `t`:
 *
 *     {"t":"h","v":1,"dropped":N,"deadLettered":M}   header: first frame of every file; carries the counters
 *     {"t":"r","r":<MeasurementResult>}              a result to deliver
 *     {"t":"a","ids":[…]}                            ack: these results were delivered
 *     {"t":"d","ids":[…],"dropped":N}                drop: these were dropped for space; N is the new total
 *     {"t":"x","id":"…","deadLettered":M}            dead-lettered: moved to dead-letter.jsonl; M is the new total
 *
 * Counters are totals, not increments, so the last one read wins and compaction only has to
 * copy them into the new header. Reading a frame checks its length and CRC; what a frame's JSON
 * means is checked by `parseRecord`, since a CRC proves only that the bytes are the ones written.
 */
import type { FileHandle } from 'node:fs/promises';
import { ValidationError, array, number, object, oneOf, string } from '@speedwatch/shared';
import type { Schema } from '@speedwatch/shared';
import { crc32 } from './crc32.js';

/** Bumped when a change would make an older agent misread the log; an older agent then refuses to open it. */
export const FORMAT_VERSION = 1;

/** Bytes before each payload: its length and its CRC-32. */
export const FRAME_HEADER_BYTES = 8;

/**
 * Largest payload written or accepted. A result is at most a few hundred KiB (the schema caps
 * sample arrays at 10 000 items), so a bigger length can only be a corrupt header.
 */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/**
 * Smallest payload accepted. The shortest record is far longer; the bound matters because a
 * file system may leave a zero-filled tail after a power cut, and zeroes read as length 0 with
 * CRC 0, which is the CRC of nothing: without it they would pass as empty records.
 */
export const MIN_PAYLOAD_BYTES = 2;

/** A record as in the file comment above; `r` is unchecked until the outbox validates it. */
export type LogRecord =
  | { t: 'h'; v: number; dropped: number; deadLettered: number }
  | { t: 'r'; r: unknown }
  | { t: 'a'; ids: string[] }
  | { t: 'd'; ids: string[]; dropped: number }
  | { t: 'x'; id: string; deadLettered: number };

/** One frame: header and payload in one buffer, ready to write. */
export function encodeFrame(record: LogRecord): Buffer {
  const json = JSON.stringify(record);
  const length = Buffer.byteLength(json);
  // Not from the shared pool: a result's frame lives in the outbox's index until it is acked,
  // and a pooled slice would keep its whole 8 KiB slab alive with it.
  const frame = Buffer.allocUnsafeSlow(FRAME_HEADER_BYTES + length);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
}

/** The payload of a frame made by `encodeFrame` or returned by `FrameScanner`. */
export function framePayload(frame: Buffer): Buffer {
  return frame.subarray(FRAME_HEADER_BYTES);
}

const total = number({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
const id = string({ minLength: 1, maxLength: 200 });
const ids = array(id);
const anything: Schema<unknown> = { expected: 'a value', parse: (value) => value };

const RECORD_SCHEMAS = {
  h: object({ t: oneOf(['h']), v: number({ min: 1, integer: true }), dropped: total, deadLettered: total }),
  r: object({ t: oneOf(['r']), r: anything }),
  a: object({ t: oneOf(['a']), ids }),
  d: object({ t: oneOf(['d']), ids, dropped: total }),
  x: object({ t: oneOf(['x']), id, deadLettered: total }),
} as const satisfies Record<LogRecord['t'], Schema<LogRecord>>;

/**
 * The record in a frame's payload; throws (ValidationError or SyntaxError) when the JSON is not
 * a record this version knows. A header of another version is returned with only `v` read, so
 * the caller can refuse the file rather than misread it.
 */
export function parseRecord(payload: Buffer): LogRecord {
  const value: unknown = JSON.parse(payload.toString('utf8'));
  const t = typeof value === 'object' && value !== null ? (value as { t?: unknown }).t : undefined;
  if (t === 'h') {
    const v = (value as { v?: unknown }).v;
    if (typeof v === 'number' && v !== FORMAT_VERSION) return { t: 'h', v, dropped: 0, deadLettered: 0 };
  }
  if (typeof t !== 'string' || !Object.hasOwn(RECORD_SCHEMAS, t)) {
    throw new ValidationError('t', `one of ${Object.keys(RECORD_SCHEMAS).join(', ')}`);
  }
  return RECORD_SCHEMAS[t as LogRecord['t']].parse(value);
}

/** What `FrameScanner.next` found at the current offset. */
export type ScanStep =
  /** A frame whose length and CRC check out; `frame` is only valid until the next call. */
  | { kind: 'frame'; offset: number; frame: Buffer }
  /** The log ends cleanly at `offset`. */
  | { kind: 'end'; offset: number }
  /** The bytes from `offset` on are not a valid frame; `reason` says why. */
  | { kind: 'torn'; offset: number; reason: string };

/**
 * Reads frames from the start of a log in chunks, so opening a large log does not hold the
 * whole file in memory at once.
 */
export class FrameScanner {
  private buffer: Buffer;
  /** File offset of `buffer[0]`, and how many bytes of `buffer` hold file data. */
  private bufferStart = 0;
  private bufferBytes = 0;
  private offset = 0;

  /** `fileBytes` is the size of the file when scanning starts; nothing past it is read. */
  constructor(
    private readonly file: FileHandle,
    private readonly fileBytes: number,
    chunkBytes = 1024 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafe(chunkBytes);
  }

  async next(): Promise<ScanStep> {
    const offset = this.offset;
    const left = this.fileBytes - offset;
    if (left === 0) return { kind: 'end', offset };
    if (left < FRAME_HEADER_BYTES) return { kind: 'torn', offset, reason: `a frame header cut short (${left} bytes)` };
    const header = await this.view(offset, FRAME_HEADER_BYTES);
    const length = header.readUInt32LE(0);
    const expectedCrc = header.readUInt32LE(4);
    if (length < MIN_PAYLOAD_BYTES || length > MAX_PAYLOAD_BYTES) {
      return { kind: 'torn', offset, reason: `an impossible payload length (${length} bytes)` };
    }
    if (FRAME_HEADER_BYTES + length > left) {
      return { kind: 'torn', offset, reason: `a ${length}-byte payload that runs past the end of the file` };
    }
    const frame = await this.view(offset, FRAME_HEADER_BYTES + length);
    if (crc32(frame.subarray(FRAME_HEADER_BYTES)) !== expectedCrc) {
      return { kind: 'torn', offset, reason: 'a CRC mismatch' };
    }
    this.offset = offset + frame.length;
    return { kind: 'frame', offset, frame };
  }

  /** `bytes` bytes of the file from `offset`, which the caller has checked lie before `fileBytes`. */
  private async view(offset: number, bytes: number): Promise<Buffer> {
    const start = offset - this.bufferStart;
    if (start < 0 || start + bytes > this.bufferBytes) {
      const want = Math.min(Math.max(bytes, this.buffer.length), this.fileBytes - offset);
      if (want > this.buffer.length) this.buffer = Buffer.allocUnsafe(want);
      let filled = 0;
      while (filled < want) {
        const { bytesRead } = await this.file.read(this.buffer, filled, want - filled, offset + filled);
        if (bytesRead === 0) throw new Error(`the file shrank while being read (at byte ${offset + filled})`);
        filled += bytesRead;
      }
      this.bufferStart = offset;
      this.bufferBytes = filled;
      return this.buffer.subarray(0, bytes);
    }
    return this.buffer.subarray(start, start + bytes);
  }
}
