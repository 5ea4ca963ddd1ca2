/**
 * Which handler a request goes to. Routes match on the last path segment, so the endpoint
 * answers under any prefix a LibreSpeed server list names (`/backend/garbage.php`,
 * `/speedtest/empty`).
 */

export type RouteName = 'garbage' | 'empty' | 'getIP' | 'healthz';

const ROUTES: ReadonlyMap<string, RouteName> = new Map([
  ['garbage', 'garbage'],
  ['garbage.php', 'garbage'],
  ['empty', 'empty'],
  ['empty.php', 'empty'],
  ['getIP', 'getIP'],
  ['getIP.php', 'getIP'],
  ['healthz', 'healthz'],
]);

/** Methods each route answers, besides OPTIONS (CORS preflight), which every route answers. */
export const ROUTE_METHODS: Readonly<Record<RouteName, readonly string[]>> = {
  garbage: ['GET', 'HEAD'],
  empty: ['GET', 'HEAD', 'POST', 'PUT'],
  getIP: ['GET', 'HEAD'],
  healthz: ['GET', 'HEAD'],
};

export interface RequestTarget {
  /** The matched route, or undefined when the last path segment names none. */
  route: RouteName | undefined;
  /** The path without the query, e.g. `/backend/garbage.php`. */
  path: string;
  /** The raw query string without `?`, `''` when there is none. */
  query: string;
}

/** Splits a request target (`/x/garbage.php?ckSize=10`) and looks its last segment up. */
export function matchRoute(target: string): RequestTarget {
  const mark = target.indexOf('?');
  const path = mark === -1 ? target : target.slice(0, mark);
  const query = mark === -1 ? '' : target.slice(mark + 1);
  const segment = path.slice(path.lastIndexOf('/') + 1);
  return { route: ROUTES.get(segment), path, query };
}

/** LibreSpeed's default download size when a client sends no `ckSize`. */
export const DEFAULT_CK_SIZE_MIB = 4;

export type CkSize = { readonly ok: true; readonly mib: number } | { readonly ok: false; readonly message: string };

/**
 * The download size in MiB from the `ckSize` query parameter: absent → 4; a positive integer
 * → itself, clamped to `maxChunkMiB` (LibreSpeed clamps too); anything else is refused with
 * a message naming the parameter and the accepted range.
 */
export function parseCkSize(query: string, maxChunkMiB: number): CkSize {
  const text = query === '' ? null : new URLSearchParams(query).get('ckSize');
  if (text === null) return { ok: true, mib: Math.min(DEFAULT_CK_SIZE_MIB, maxChunkMiB) };
  const mib = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(mib >= 1)) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    return {
      ok: false,
      message: `ckSize must be a whole number of MiB from 1 to ${maxChunkMiB} (larger values are clamped), got ${JSON.stringify(shown)}`,
    };
  }
  return { ok: true, mib: Math.min(mib, maxChunkMiB) };
}
