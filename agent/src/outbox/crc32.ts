import zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib, gzip and PNG) of `data`, as an unsigned 32-bit
 * integer. Uses `zlib.crc32` (native, Node >= 20.15) and falls back to a table-driven version
 * for older runtimes; both give the same value, so a log written by one is read by the other.
 */
export const crc32: (data: Uint8Array) => number =
  typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : tableCrc32;

// 1 KiB, built once at load; never changed afterwards.
const TABLE = makeTable();

/** The portable version; exported so a test can check it against `zlib.crc32`. */
export function tableCrc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    crc = (TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
