/**
 * Builds the console (collector/console/src, TypeScript and CSS) with esbuild into
 * collector/dist/console/: hashed assets under assets/ and manifest.json naming the entry
 * script and style sheet, which the collector reads at start (collector/src/console/console-route.ts),
 * and the map's country outlines (build-boundaries.ts), whose hashed name the script is given.
 * Run by `npm install` (prepare), `npm run build`, `npm run release` and the console's browser
 * test. Type checking is tsc -b's (collector/console/tsconfig.json); esbuild only bundles.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildBoundaries } from './build-boundaries.js';

/** The repository root, from this file's place under test/ (its source or test/dist/). */
const HERE = fileURLToPath(import.meta.url);
const ROOT = HERE.slice(0, HERE.lastIndexOf('/test/') + 1);

export interface BuiltConsole {
  /** collector/dist/console/ */
  dir: string;
  js: string;
  css: string;
  /** Sizes of the script as served: raw and gzipped, bytes. */
  jsBytes: number;
  jsGzipBytes: number;
  cssGzipBytes: number;
  /** The map's outlines (assets/boundaries-<hash>.json) and their size as served, bytes. */
  boundaries: string;
  boundariesBytes: number;
  boundariesGzipBytes: number;
}

/** Builds the console into `<root>/collector/dist/console/`, replacing what was there. */
export async function buildConsole(root = ROOT): Promise<BuiltConsole> {
  const source = join(root, 'collector', 'console', 'src');
  const dir = join(root, 'collector', 'dist', 'console');
  const assets = join(dir, 'assets');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });
  const outlines = Buffer.from(JSON.stringify(buildBoundaries()));
  const boundaries = `boundaries-${createHash('sha256').update(outlines).digest('hex').slice(0, 10)}.json`;
  writeFileSync(join(assets, boundaries), outlines);
  const result = await build({
    entryPoints: { console: join(source, 'main.ts'), style: join(source, 'console.css') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir: assets,
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    // The script fetches the outlines by their hashed name (site-map.ts).
    define: { SPEEDWATCH_BOUNDARIES_URL: JSON.stringify(`/console/assets/${boundaries}`) },
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => join(root, path));
  const js = outputs.find((path) => path.endsWith('.js'));
  const css = outputs.find((path) => path.endsWith('.css'));
  if (js === undefined || css === undefined) throw new Error(`esbuild wrote ${outputs.join(', ')}; expected one .js and one .css`);
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify({ js: basename(js), css: basename(css), boundaries }, null, 2)}\n`);
  const jsText = readFileSync(js);
  return {
    dir,
    js: basename(js),
    css: basename(css),
    jsBytes: jsText.length,
    jsGzipBytes: gzipSync(jsText, { level: 9 }).length,
    cssGzipBytes: gzipSync(readFileSync(css), { level: 9 }).length,
    boundaries,
    boundariesBytes: outlines.length,
    boundariesGzipBytes: gzipSync(outlines, { level: 9 }).length,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = await buildConsole();
  process.stdout.write(
    `console built in ${built.dir}: ${built.js} ${built.jsBytes} B (${built.jsGzipBytes} B gzipped), ${built.css} (${built.cssGzipBytes} B gzipped), ${built.boundaries} ${built.boundariesBytes} B (${built.boundariesGzipBytes} B gzipped)\n`,
  );
}
