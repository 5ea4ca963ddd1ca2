import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';
import { writeFully } from './durable-fs.js';

/** One line of dead-letter.jsonl. */
export interface DeadLetterEntry {
  /** The result's id; absent when an unreadable record had none. */
  id?: string;
  /**
   * Why it was set aside: the code of the collector's `reject` as sent (a newer collector may
   * send one this version does not list), or SW_OUTBOX_UNREADABLE.
   */
  code: ErrorCodeCarriedBy<'dead-letter line'> | (string & {});
  message: string;
  /** When it was set aside, ISO 8601 UTC. */
  time: string;
  /** The result as it was queued (for an unreadable record, whatever the record held). */
  result: unknown;
}

/**
 * dead-letter.jsonl: one JSON object a line, appended and fsynced, never rewritten. It is for
 * people (`jq`), so it is plain JSON lines rather than the framed log. A line cut short by a
 * power cut is left as it is and the next line starts on a fresh line.
 */
export class DeadLetterFile {
  private file: FileHandle | undefined;

  constructor(
    readonly filePath: string,
    private readonly syncDir: (dir: string) => Promise<void>,
  ) {}

  /** Appends `entry` as one line and fsyncs; on failure the handle is dropped and reopened next time. */
  async append(entry: DeadLetterEntry): Promise<void> {
    try {
      let prefix = '';
      if (this.file === undefined) {
        this.file = await open(this.filePath, 'a+');
        const { size } = await this.file.stat();
        if (size === 0) {
          await this.syncDir(path.dirname(this.filePath));
        } else {
          const last = Buffer.alloc(1);
          await this.file.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) prefix = '\n';
        }
      }
      await writeFully(this.file, Buffer.from(`${prefix}${JSON.stringify(entry)}\n`));
      await this.file.sync();
    } catch (err) {
      await this.close().catch(() => undefined); // the error being reported is `err`
      throw err;
    }
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }
}
