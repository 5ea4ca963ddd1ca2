/**
 * `npm run release`: writes release/speedwatch-{agent,endpoint,collector}-<version>.tgz, each
 * installable with `npm install -g ./<file>.tgz` on a box with Node and npm only (see
 * release-tarballs.ts), and prints each tarball's packed size and file count.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEPLOYABLES, packRelease } from './release-tarballs.js';

const USAGE = [
  'Usage: npm run release [-- --out DIR]',
  '',
  `Packs ${DEPLOYABLES.map((d) => d.dir).join(', ')} into one installable tarball each.`,
  '',
  'Options:',
  '  --out DIR   where the tarballs go (default: release/ in the repository)',
  '  --help      show this help',
  '',
].join('\n');

// Built to test/dist/release/: the repository is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

function kB(bytes: number): string {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

let values: { out?: string; help?: boolean };
try {
  ({ values } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
} catch (err) {
  process.stderr.write(`make-release: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  process.exit(1);
}
if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const outDir = values.out ?? `${ROOT}/release`;

try {
  const packed = await packRelease(ROOT, outDir, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write('\n');
  for (const tarball of packed) {
    const registry = tarball.fromRegistry.length > 0 ? `; npm fetches ${tarball.fromRegistry.join(', ')} at install` : '; installs offline';
    process.stdout.write(`${tarball.file}  ${kB(tarball.bytes)} packed, ${tarball.entryCount} files, ${kB(tarball.unpackedBytes)} unpacked${registry}\n`);
  }
} catch (err) {
  process.stderr.write(`make-release: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
