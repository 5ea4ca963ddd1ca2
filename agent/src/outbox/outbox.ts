/**
 * The durable outbox: every measurement result is kept on disk until the collector acks it,
 * across crashes and power cuts, on a cheap SD card, with `node:fs` only.
 *
 * One append-only log (`outbox.log`, format in record-format.ts) plus an in-memory index of the
 * live results. Every change is a frame appended and fsynced before its promise resolves.
 * Operations run one at a time through a promise chain, so concurrent calls land in call order
 * and there is only ever one writer.
 *
 * Recovery on open: frames are read until the first one whose length or CRC is wrong; from
 * there on the file is treated as torn and truncated. With a single appender that fsyncs each
 * frame before the next, a power cut can only damage the frames written since the last fsync,
 * which are at the tail. A bad frame with good-looking data after it can only be disk
 * corruption; the bytes after it can no longer be trusted to be frame boundaries, so the log
 * keeps what verified and, when the discarded part is large, saves it next to the log for an
 * operator (`outbox.log.corrupt-<time>`).
 *
 * Compaction rewrites the live set to `outbox.log.tmp`, fsyncs it, renames it over the log and
 * fsyncs the directory: at every instant one complete log is on disk.
 *
 * Assumes one process per directory; a second agent on the same directory would interleave
 * appends and lose data.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { boolean, createLogger, custom, isLogger, number, object, optional, parseAll, parseMeasurementResult, string } from '@speedwatch/shared';
import type { ErrorCode, Logger, MeasurementResult, Schema } from '@speedwatch/shared';
import { DeadLetterFile } from './dead-letter.js';
import { describeError, syncDirectory, writeFully } from './durable-fs.js';
import { OutboxError, OutboxOptionsError } from './outbox-error.js';
import { FORMAT_VERSION, FRAME_HEADER_BYTES, FrameScanner, MAX_PAYLOAD_BYTES, encodeFrame, framePayload, parseRecord } from './record-format.js';
import type { LogRecord } from './record-format.js';

/** The log's file name inside `OutboxOptions.dir`. */
export const LOG_FILE = 'outbox.log';
/** The dead-letter file's name inside `OutboxOptions.dir`. */
export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

/** The dead-letter code of a record whose CRC is good but whose result this version cannot read. */
export const UNREADABLE_CODE = 'SW_OUTBOX_UNREADABLE' satisfies ErrorCode;

const MIB = 1024 * 1024;

/**
 * A discarded tail larger than this is copied aside before truncation. A torn append is at most
 * one result and one drop record, a few KiB for a typical result; much more than that means
 * the disk corrupted the middle of the log.
 */
const SAVE_CORRUPT_TAIL_BYTES = 64 * 1024;

/** Compaction writes the live set in chunks of about this size. */
const COMPACT_CHUNK_BYTES = MIB;

export interface OutboxOptions {
  /** Directory of `outbox.log` and `dead-letter.jsonl`; created with its parents if missing. */
  dir: string;
  /**
   * Most bytes of live (unacked) records to keep, 8 bytes of framing each included; an append
   * that would pass it first drops the oldest results. Default 64 MiB.
   */
  maxBytes?: number;
  /**
   * The log is compacted once it is larger than this many bytes and more than half of it is
   * acked, dropped or dead-lettered records. Default 1 MiB.
   */
  compactMinBytes?: number;
  /** Child logger `{ component: 'outbox' }` of this; default: info and up to stderr. */
  logger?: Logger;
  /**
   * fsync the directory after creating or renaming a file in it, so the new entry survives a
   * power cut. Default true; turn off only where the directory's durability does not matter.
   */
  fsyncDir?: boolean;
  /** Milliseconds since the epoch, for dead-letter times and file names; default `Date.now`. */
  now?: () => number;
}

export interface OutboxStats {
  /** Results waiting for an ack. */
  pending: number;
  /** Bytes of their records in the log, framing included; what `maxBytes` bounds. */
  liveBytes: number;
  /** Size of the log file: live records plus acked ones not yet compacted away. */
  fileBytes: number;
  /** Results dropped for space, in total, across restarts. */
  dropped: number;
  /** Bytes of torn or corrupt tail cut off when this outbox was opened. */
  recoveredTornBytes: number;
  /** Results moved to dead-letter.jsonl, in total, across restarts. */
  deadLettered: number;
}

interface Settings {
  dir: string;
  logPath: string;
  tmpPath: string;
  maxBytes: number;
  compactMinBytes: number;
  fsyncDir: boolean;
  now: () => number;
}

/**
 * Results waiting for the collector's ack, kept on disk. Open with `Outbox.open`; every write
 * is fsynced before its promise resolves. Memory: the index holds each pending result's record
 * bytes (about `stats.liveBytes`, at most `maxBytes`); `pending()` parses them on demand.
 */
export class Outbox {
  /** id → the result's frame as written, in append order (a Map iterates in insertion order). */
  private readonly live = new Map<string, Buffer>();
  private liveBytes = 0;
  /** End of the last good frame: the file's size whenever no operation is running. */
  private fileBytes = 0;
  private dropped = 0;
  private deadLettered = 0;
  private recoveredTornBytes = 0;
  private queue: Promise<void> = Promise.resolve();
  private compactionQueued = false;
  /** Set by close(): new operations are refused. */
  private closing: Promise<void> | undefined;
  /** Set when the state on disk is no longer known (a failed fsync); every operation is refused. */
  private failure: OutboxError | undefined;
  private readonly deadLetters: DeadLetterFile;

  private constructor(
    private readonly settings: Settings,
    private file: FileHandle,
    private readonly log: Logger,
  ) {
    this.deadLetters = new DeadLetterFile(path.join(settings.dir, DEAD_LETTER_FILE), (dir) => this.syncDir(dir));
  }

  /**
   * Creates the directory if needed and recovers the log. A torn or corrupt tail is cut off
   * with a warning, never thrown. Throws OutboxError SW_OUTBOX_OPTIONS (an OutboxOptionsError
   * listing every bad option), SW_OUTBOX_OPEN (the directory or log cannot be created, read or
   * truncated) or SW_OUTBOX_VERSION.
   */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const settings = resolveOptions(options);
    const log = (options.logger ?? createLogger()).child({ component: 'outbox' });
    let file: FileHandle;
    try {
      const created = await mkdir(settings.dir, { recursive: true });
      if (created !== undefined && settings.fsyncDir) await syncDirectory(path.dirname(created));
      // A temporary file left by a compaction that crashed before its rename; the log is whole.
      await rm(settings.tmpPath, { force: true });
      file = await open(settings.logPath, 'a+');
    } catch (err) {
      throw new OutboxError('SW_OUTBOX_OPEN', `cannot open the outbox in ${settings.dir}: ${describeError(err)}`, { cause: err });
    }
    const outbox = new Outbox(settings, file, log);
    try {
      await outbox.recover();
    } catch (err) {
      await file.close().catch(() => undefined); // the error being reported is `err`
      if (err instanceof OutboxError) throw err;
      throw new OutboxError('SW_OUTBOX_OPEN', `cannot recover ${settings.logPath}: ${describeError(err)}`, { cause: err });
    }
    return outbox;
  }

  /** A snapshot of the counters. */
  get stats(): OutboxStats {
    return {
      pending: this.live.size,
      liveBytes: this.liveBytes,
      fileBytes: this.fileBytes,
      dropped: this.dropped,
      recoveredTornBytes: this.recoveredTornBytes,
      deadLettered: this.deadLettered,
    };
  }

  /**
   * Queues `result`; resolves once its record is written and fsynced. A result whose id is
   * already pending is not stored twice. When the live records would pass `maxBytes`, the
   * oldest results are dropped (counted in `stats.dropped`, logged as a warning).
   * Throws SW_OUTBOX_TOO_LARGE, SW_OUTBOX_WRITE or SW_OUTBOX_CLOSED; after any of them the
   * result is not in the outbox.
   */
  append(result: MeasurementResult): Promise<void> {
    return this.enqueue(async () => {
      if (this.live.has(result.id)) return;
      const frame = encodeFrame({ t: 'r', r: result });
      const limit = Math.min(this.settings.maxBytes, FRAME_HEADER_BYTES + MAX_PAYLOAD_BYTES);
      if (frame.length > limit) {
        throw new OutboxError('SW_OUTBOX_TOO_LARGE', `result ${result.id} takes ${frame.length} bytes; the outbox holds at most ${limit} (maxBytes)`);
      }
      const victims = this.oldestToDrop(frame.length);
      // The result goes first: if power fails between the two frames, nothing is lost and the
      // next open drops what is over the limit.
      const data = victims.length === 0 ? frame : Buffer.concat([frame, encodeFrame({ t: 'd', ids: victims, dropped: this.dropped + victims.length })]);
      await this.write(data);
      this.forgetDropped(victims);
      this.live.set(result.id, frame);
      this.liveBytes += frame.length;
      if (victims.length > 0) this.scheduleCompaction();
    });
  }

  /**
   * Up to `limit` pending results (a whole number; default all), oldest first, in append order.
   * Each call parses fresh objects from the stored records, so pass a batch-sized limit.
   * Throws OutboxOptionsError (SW_OUTBOX_OPTIONS) for a limit that is not a count.
   */
  pending(limit?: number): MeasurementResult[] {
    if (limit !== undefined) {
      const { problems } = parseAll(pendingLimitSchema, limit, 'limit');
      if (problems.length > 0) throw new OutboxOptionsError(problems, 'Outbox.pending(limit) is not valid');
    }
    const max = limit ?? Infinity;
    const out: MeasurementResult[] = [];
    for (const frame of this.live.values()) {
      if (out.length >= max) break;
      out.push(resultOf(frame));
    }
    return out;
  }

  /** Durably forgets the results with these ids; ids not pending are ignored. */
  ack(ids: readonly string[]): Promise<void> {
    return this.enqueue(async () => {
      const known = [...new Set(ids)].filter((id) => this.live.has(id));
      if (known.length === 0) return;
      await this.write(encodeFrame({ t: 'a', ids: known }));
      for (const id of known) this.forget(id);
      this.scheduleCompaction();
    });
  }

  /**
   * Moves a pending result to dead-letter.jsonl as `{ id, code, message, time, result }`
   * (fsynced), then removes it from the queue. An id not pending is ignored. Should power fail
   * between the two steps, the result is still pending on restart and may be dead-lettered a
   * second time: a dead-letter line can repeat, a result is never lost.
   */
  deadLetter(id: string, code: string, message: string): Promise<void> {
    return this.enqueue(async () => {
      const frame = this.live.get(id);
      if (frame === undefined) return;
      const time = new Date(this.settings.now()).toISOString();
      try {
        await this.deadLetters.append({ id, code, message, time, result: resultOf(frame) });
      } catch (err) {
        throw new OutboxError('SW_OUTBOX_WRITE', `cannot write ${this.deadLetters.filePath}: ${describeError(err)}`, { cause: err });
      }
      const total = this.deadLettered + 1;
      await this.write(encodeFrame({ t: 'x', id, deadLettered: total }));
      this.forget(id);
      this.deadLettered = total;
      this.log.warn({ id, code, deadLettered: total }, 'moved a result to the dead-letter file');
      this.scheduleCompaction();
    });
  }

  /** Rewrites the log with only the live results now, whatever its size. */
  compact(): Promise<void> {
    return this.enqueue(() => this.compactNow());
  }

  /** Waits for queued operations, then closes the files. Later calls are refused with SW_OUTBOX_CLOSED. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue;
      try {
        await this.deadLetters.close();
      } finally {
        await this.file.close();
      }
    })();
    return this.closing;
  }

  // ---- recovery ----

  private async recover(): Promise<void> {
    const { logPath } = this.settings;
    const { size } = await this.file.stat();
    const scanner = new FrameScanner(this.file, size);
    const unreadable: { value: unknown; message: string }[] = [];
    let end = 0;
    for (;;) {
      const step = await scanner.next();
      if (step.kind === 'end') break;
      if (step.kind === 'torn') {
        await this.cutTornTail(size, step.offset, step.reason);
        break;
      }
      end = step.offset + step.frame.length;
      let record: LogRecord;
      try {
        record = parseRecord(framePayload(step.frame));
      } catch (err) {
        // The CRC matched, so these are bytes this outbox wrote, not a torn write: a record of
        // a later version or a bug. It is not a result, so skipping it loses nothing.
        this.log.warn({ err, offset: step.offset }, 'skipped an outbox record this version does not understand');
        continue;
      }
      if (record.t === 'r') {
        this.recoverResult(record.r, step.frame, unreadable);
      } else if (record.t === 'h') {
        if (record.v !== FORMAT_VERSION) {
          throw new OutboxError('SW_OUTBOX_VERSION', `${logPath} has format version ${record.v}; this agent reads version ${FORMAT_VERSION}. Upgrade the agent, or move the file away to start an empty outbox.`);
        }
        if (step.offset === 0) {
          this.dropped = record.dropped;
          this.deadLettered = record.deadLettered;
        }
      } else {
        this.applyRemoval(record);
      }
    }
    this.fileBytes = end;
    if (this.fileBytes === 0) {
      await this.write(encodeFrame(this.header()));
      await this.syncDir(this.settings.dir);
    }
    for (const { value, message } of unreadable) {
      const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
      await this.deadLetters.append({
        ...(typeof id === 'string' ? { id } : {}),
        code: UNREADABLE_CODE,
        message,
        time: new Date(this.settings.now()).toISOString(),
        result: value,
      });
      this.deadLettered += 1;
    }
    const victims = this.oldestToDrop(0);
    if (victims.length > 0) {
      await this.write(encodeFrame({ t: 'd', ids: victims, dropped: this.dropped + victims.length }));
      this.forgetDropped(victims);
    }
    // Compaction is what keeps an unreadable record from being dead-lettered again next time,
    // and what persists the dead-letter count for it.
    if (unreadable.length > 0 || this.worthCompacting()) await this.compactNow();
    this.log.info({ ...this.stats }, 'outbox opened');
  }

  private recoverResult(value: unknown, frame: Buffer, unreadable: { value: unknown; message: string }[]): void {
    let result: MeasurementResult;
    try {
      result = parseMeasurementResult(value);
    } catch (err) {
      unreadable.push({ value, message: `the queued result is not valid: ${describeError(err)}` });
      return;
    }
    if (this.live.has(result.id)) return;
    const copy = Buffer.allocUnsafeSlow(frame.length); // `frame` is the scanner's buffer
    frame.copy(copy);
    this.live.set(result.id, copy);
    this.liveBytes += copy.length;
  }

  private applyRemoval(record: Exclude<LogRecord, { t: 'r' } | { t: 'h' }>): void {
    switch (record.t) {
      case 'a':
        for (const id of record.ids) this.forget(id);
        return;
      case 'd':
        for (const id of record.ids) this.forget(id);
        this.dropped = record.dropped;
        return;
      case 'x':
        this.forget(record.id);
        this.deadLettered = record.deadLettered;
        return;
    }
  }

  private async cutTornTail(size: number, offset: number, reason: string): Promise<void> {
    const tornBytes = size - offset;
    this.recoveredTornBytes = tornBytes;
    const fields = { tornBytes, offset, reason, file: this.settings.logPath };
    if (tornBytes > SAVE_CORRUPT_TAIL_BYTES) {
      const savedTo = `${this.settings.logPath}.corrupt-${new Date(this.settings.now()).toISOString().replace(/[:.]/g, '-')}`;
      try {
        await this.copyTail(offset, size, savedTo);
        this.log.error({ ...fields, savedTo }, 'outbox log is corrupt in the middle; keeping the records before the damage, the rest is saved aside');
      } catch (err) {
        this.log.error({ ...fields, err }, 'outbox log is corrupt in the middle; keeping the records before the damage, and the rest could not be saved aside');
      }
    } else {
      this.log.warn(fields, 'outbox log ends in a torn record (a crash or power cut during a write); cut it off');
    }
    await this.file.truncate(offset);
    await this.file.sync();
  }

  private async copyTail(from: number, to: number, target: string): Promise<void> {
    const out = await open(target, 'wx');
    try {
      const chunk = Buffer.allocUnsafe(Math.min(MIB, to - from));
      for (let at = from; at < to; ) {
        const { bytesRead } = await this.file.read(chunk, 0, Math.min(chunk.length, to - at), at);
        if (bytesRead === 0) break;
        await writeFully(out, chunk.subarray(0, bytesRead));
        at += bytesRead;
      }
      await out.sync();
    } finally {
      await out.close();
    }
  }

  // ---- writing ----

  /**
   * Runs `op` after every operation queued before it. Refused at once after close(), and when
   * its turn comes if the outbox has failed meanwhile.
   */
  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) {
      return Promise.reject(new OutboxError('SW_OUTBOX_CLOSED', `the outbox in ${this.settings.dir} is closed`));
    }
    const run = this.queue.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return op();
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Appends `data` (whole frames) to the log and fsyncs it. */
  private async write(data: Buffer): Promise<void> {
    const { logPath } = this.settings;
    try {
      await writeFully(this.file, data);
    } catch (err) {
      // Part of `data` may be in the file; later frames must not follow a partial one.
      try {
        await this.file.truncate(this.fileBytes);
      } catch (truncateErr) {
        this.fail(`cannot cut a failed write off ${logPath}: ${describeError(truncateErr)}`, truncateErr);
      }
      throw new OutboxError('SW_OUTBOX_WRITE', `cannot write to ${logPath}: ${describeError(err)}`, { cause: err });
    }
    try {
      await this.file.sync();
    } catch (err) {
      // After a failed fsync, Linux may have dropped the dirty pages and a retry can report
      // success without writing them: what is on disk is unknown until the log is read again.
      this.fail(`fsync of ${logPath} failed: ${describeError(err)}; reopen the outbox`, err);
      throw new OutboxError('SW_OUTBOX_WRITE', `fsync of ${logPath} failed: ${describeError(err)}`, { cause: err });
    }
    this.fileBytes += data.length;
  }

  private fail(message: string, cause: unknown): void {
    this.failure = new OutboxError('SW_OUTBOX_CLOSED', message, { cause });
    this.log.error({ err: cause, file: this.settings.logPath }, 'outbox stopped: the state of its log on disk is unknown; reopen it');
  }

  private header(): LogRecord {
    return { t: 'h', v: FORMAT_VERSION, dropped: this.dropped, deadLettered: this.deadLettered };
  }

  /** The oldest ids to drop so that `extraBytes` more fit within maxBytes. */
  private oldestToDrop(extraBytes: number): string[] {
    const victims: string[] = [];
    let bytes = this.liveBytes + extraBytes;
    for (const [id, frame] of this.live) {
      if (bytes <= this.settings.maxBytes) break;
      victims.push(id);
      bytes -= frame.length;
    }
    return victims;
  }

  private forgetDropped(victims: string[]): void {
    if (victims.length === 0) return;
    for (const id of victims) this.forget(id);
    this.dropped += victims.length;
    this.log.warn(
      { dropped: victims.length, droppedTotal: this.dropped, maxBytes: this.settings.maxBytes },
      'outbox full: dropped the oldest results to make room',
    );
  }

  private forget(id: string): void {
    const frame = this.live.get(id);
    if (frame === undefined) return;
    this.live.delete(id);
    this.liveBytes -= frame.length;
  }

  // ---- compaction ----

  private worthCompacting(): boolean {
    return this.fileBytes > this.settings.compactMinBytes && this.fileBytes - this.liveBytes > this.fileBytes / 2;
  }

  /** Queues a compaction after the current operation, if the log is worth compacting then. */
  private scheduleCompaction(): void {
    if (this.compactionQueued || this.closing !== undefined || !this.worthCompacting()) return;
    this.compactionQueued = true;
    // The queue owns this promise (close() waits for it); a failure is logged, not thrown, as
    // the log is still valid and the operation that scheduled it has already succeeded.
    this.enqueue(async () => {
      this.compactionQueued = false;
      if (this.worthCompacting()) await this.compactNow();
    }).catch((err: unknown) => {
      this.compactionQueued = false;
      this.log.error({ err }, 'outbox compaction failed; the log stays as it was');
    });
  }

  private async compactNow(): Promise<void> {
    const { logPath, tmpPath, dir } = this.settings;
    const beforeBytes = this.fileBytes;
    const header = encodeFrame(this.header());
    try {
      const tmp = await open(tmpPath, 'w');
      try {
        await writeFully(tmp, header);
        let chunk: Buffer[] = [];
        let chunkBytes = 0;
        for (const frame of this.live.values()) {
          chunk.push(frame);
          chunkBytes += frame.length;
          if (chunkBytes >= COMPACT_CHUNK_BYTES) {
            await writeFully(tmp, Buffer.concat(chunk, chunkBytes));
            chunk = [];
            chunkBytes = 0;
          }
        }
        if (chunkBytes > 0) await writeFully(tmp, Buffer.concat(chunk, chunkBytes));
        await tmp.sync();
      } finally {
        await tmp.close();
      }
      await rename(tmpPath, logPath);
    } catch (err) {
      await rm(tmpPath, { force: true }).catch(() => undefined); // the error being reported is `err`
      throw new OutboxError('SW_OUTBOX_WRITE', `cannot compact ${logPath}: ${describeError(err)}`, { cause: err });
    }
    // The rename is done: the old handle now writes to an unlinked file, so switch or stop.
    const old = this.file;
    try {
      await this.syncDir(dir);
      this.file = await open(logPath, 'a+');
    } catch (err) {
      this.fail(`cannot reopen ${logPath} after compaction: ${describeError(err)}`, err);
      throw new OutboxError('SW_OUTBOX_WRITE', `cannot reopen ${logPath} after compaction: ${describeError(err)}`, { cause: err });
    }
    this.fileBytes = header.length + this.liveBytes;
    try {
      await old.close();
    } catch (err) {
      this.log.warn({ err }, 'could not close the outbox log replaced by compaction');
    }
    this.log.info({ beforeBytes, afterBytes: this.fileBytes, pending: this.live.size }, 'compacted the outbox log');
  }

  private async syncDir(dir: string): Promise<void> {
    if (this.settings.fsyncDir) await syncDirectory(dir);
  }
}

/** The result in a live frame: validated when read at open, or typed when appended. */
function resultOf(frame: Buffer): MeasurementResult {
  return (JSON.parse(framePayload(frame).toString('utf8')) as { r: MeasurementResult }).r;
}

const bytes = (min: number): Schema<number> => number({ integer: true, min, max: Number.MAX_SAFE_INTEGER });

const optionsSchema = object({
  dir: string({ minLength: 1, maxLength: 4096 }),
  maxBytes: optional(bytes(1)),
  compactMinBytes: optional(bytes(0)),
  logger: optional(custom('a logger with debug, info, warn, error and child', isLogger)),
  fsyncDir: optional(boolean()),
  now: optional(custom('a function returning milliseconds', (value): value is () => number => typeof value === 'function')),
});

/** A count of results; absent means all. */
const pendingLimitSchema = number({ integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });

/** Throws OutboxOptionsError listing every option out of range. */
function resolveOptions(input: OutboxOptions): Readonly<Settings> {
  const { value: options, problems } = parseAll(optionsSchema, input);
  if (options === undefined) throw new OutboxOptionsError(problems);
  const dir = path.resolve(options.dir);
  return Object.freeze({
    dir,
    logPath: path.join(dir, LOG_FILE),
    tmpPath: path.join(dir, `${LOG_FILE}.tmp`),
    maxBytes: options.maxBytes ?? 64 * MIB,
    compactMinBytes: options.compactMinBytes ?? MIB,
    fsyncDir: options.fsyncDir ?? true,
    now: options.now ?? Date.now,
  });
}
