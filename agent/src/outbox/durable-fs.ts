/**
 * The few file-system steps durability rests on, with what each one guarantees.
 */
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileHandle } from 'node:fs/promises';

/**
 * Writes all of `data` at the file's current position (the end, for a handle opened with 'a' or
 * 'a+'). `write(2)` may write less than asked, e.g. when the disk fills up part-way, so this
 * loops; it does not fsync.
 */
export async function writeFully(file: FileHandle, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await file.write(data, written, data.length - written, null);
    written += bytesWritten;
  }
}

// A directory cannot be opened (Windows: EISDIR, EPERM) or fsynced (some FUSE and network file
// systems: EINVAL, EBADF) everywhere; there the file system gives no stronger guarantee to ask for.
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'ENOTSUP']);

/**
 * fsyncs a directory, which makes a file created, renamed or removed in it survive a power cut
 * (fsyncing the file itself does not persist its directory entry).
 */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && DIR_SYNC_UNSUPPORTED.has(code)) return;
    throw err;
  } finally {
    await handle?.close();
  }
}

/** The message of whatever was thrown, for an error message of our own. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Replaces `path` with `data` so that a power cut leaves the old file or the new one, never a
 * mix: written to a temporary file beside it (with `mode`), fsynced, renamed over it, and the
 * directory fsynced.
 */
export async function replaceFileDurably(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const file = await open(temp, 'w', mode);
  try {
    await writeFully(file, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}
