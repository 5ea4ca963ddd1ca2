/**
 * A reader of the tar archives `npm pack` writes, enough to install an agent release: ustar
 * headers (with the `prefix` field), pax extended headers and GNU long names for paths that do
 * not fit, regular files and directories. Anything else (links, devices, FIFOs) is refused, as
 * is a path outside `package/` or with `.`/`..` parts: what a release holds is written under
 * the data dir and nowhere else. Each header's checksum is verified.
 *
 * Why not node-tar (npm's own) or tar-stream: either adds 30–130 files to the agent's install
 * on every box for an operation that happens a few times a year, and the subset npm writes is
 * a hundred lines to read. gzip is node:zlib's.
 */
import { UpgradeError } from './upgrade-error.js';

/** A regular file of the archive, its path without the leading `package/`. */
export interface TarFile {
  /** Relative, `/`-separated, no `.` or `..` parts. */
  path: string;
  /** An execute bit was set in the archive (bins). */
  executable: boolean;
  data: Buffer;
}

const BLOCK = 512;
/** The directory `npm pack` puts a package's files in. */
export const PACKAGE_DIR = 'package/';

function refuse(message: string): never {
  throw new UpgradeError('SW_UPGRADE_PACKAGE', `the release is not a usable tar archive: ${message}`);
}

/** A NUL-terminated field, as text. */
function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/** An octal number field (space or NUL padded). */
function octal(block: Buffer, start: number, length: number, what: string): number {
  if ((block[start] ?? 0) & 0x80) refuse(`a ${what} in base-256 (over 8 GB)`);
  const digits = text(block, start, length).trim();
  if (!/^[0-7]*$/.test(digits)) refuse(`a ${what} that is not an octal number`);
  return digits === '' ? 0 : parseInt(digits, 8);
}

/** The `path` of a pax extended header's records (`<length> <key>=<value>\n` each), if it has one. */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - at || at + length > data.length) refuse('a pax header record of a bad length');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq !== -1 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += length;
  }
  return path;
}

/** The path under `package/`, checked; undefined for `package/` itself. */
function packagePath(path: string): string | undefined {
  if (!path.startsWith(PACKAGE_DIR)) refuse(`an entry outside ${PACKAGE_DIR}: ${JSON.stringify(path.slice(0, 200))}`);
  const rel = path.slice(PACKAGE_DIR.length).replace(/\/$/, '');
  if (rel === '') return undefined;
  if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    refuse(`an entry whose path is not a plain relative path: ${JSON.stringify(path.slice(0, 200))}`);
  }
  return rel;
}

/** The regular files of `archive` (an uncompressed tar), in order. Throws UpgradeError SW_UPGRADE_PACKAGE. */
export function readTar(archive: Buffer, maxEntries = 20_000): TarFile[] {
  const files: TarFile[] = [];
  let longPath: string | undefined;
  let entries = 0;
  for (let at = 0; at + BLOCK <= archive.length; ) {
    const header = archive.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return files;
    if (++entries > maxEntries) refuse(`more than ${maxEntries} entries`);
    const stored = octal(header, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
    if (sum !== stored) refuse(`a header at byte ${at} whose checksum does not match (a damaged archive)`);
    const size = octal(header, 124, 12, 'size');
    const start = at + BLOCK;
    if (start + size > archive.length) refuse(`an entry at byte ${at} that runs past the end (a truncated archive)`);
    const data = archive.subarray(start, start + size);
    at = start + Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(header[156] ?? 0);
    if (type === 'x') {
      longPath = paxPath(data) ?? longPath;
      continue;
    }
    if (type === 'L') {
      longPath = text(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    const name = text(header, 0, 100);
    const prefix = text(header, 257, 5) === 'ustar' ? text(header, 345, 155) : '';
    const path = longPath ?? (prefix === '' ? name : `${prefix}/${name}`);
    longPath = undefined;
    const rel = packagePath(path);
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') refuse(`an entry of type ${JSON.stringify(type)} (only files and directories are allowed): ${JSON.stringify(path.slice(0, 200))}`);
    if (rel === undefined) refuse(`a file named ${JSON.stringify(PACKAGE_DIR)}`);
    files.push({ path: rel, executable: (octal(header, 100, 8, 'mode') & 0o111) !== 0, data });
  }
  return refuse('no end-of-archive marker (a truncated archive)');
}
