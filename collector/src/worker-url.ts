/**
 * Where a worker thread's entry module is. Threads run compiled JavaScript: from the built
 * package that is the file beside the caller; when the caller runs from its TypeScript source
 * (vitest), it is the same path under `dist/` (built by `tsc -b`, which `npm test` runs first).
 */
export function builtModuleUrl(callerUrl: string, relative: string): URL {
  const url = new URL(relative, callerUrl);
  if (!callerUrl.endsWith('.ts')) return url;
  const at = url.pathname.lastIndexOf('/src/');
  if (at === -1) return url;
  return new URL(`${url.pathname.slice(0, at)}/dist${url.pathname.slice(at)}`, url);
}
