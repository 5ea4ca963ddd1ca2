/**
 * Where a test runs: resolved URLs of one i-Speed/LibreSpeed-style server, from a base URL
 * (`--endpoint`) or from a LibreSpeed server-list file (`--server-file`).
 */
import { array, object, optional, string, number, ValidationError } from '@speedwatch/shared';

export interface Endpoint {
  name: string;
  /** Base URL as given (`--endpoint`) or the server list's `server`, made absolute. */
  baseUrl: string;
  downloadUrl: URL;
  uploadUrl: URL;
  pingUrl: URL;
  getIpUrl: URL;
}

/** LibreSpeed's own default paths, which its PHP, Go and Rust backends and our endpoint all serve. */
export const DEFAULT_PATHS = {
  dlURL: 'garbage.php',
  ulURL: 'empty.php',
  pingURL: 'empty.php',
  getIpURL: 'getIP.php',
} as const;

function absoluteBase(raw: string, path: string): URL {
  // LibreSpeed lists often give protocol-relative servers ("//host/path/"), meant to follow
  // the page's scheme; an agent has no page, so it takes https, the scheme such lists expect.
  const text = raw.startsWith('//') ? `https:${raw}` : raw;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ValidationError(path, `an absolute http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(path, `an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  // Relative paths resolve against a directory: "http://h/speedtest" means "http://h/speedtest/".
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

function resolve(base: URL, relative: string, path: string): URL {
  try {
    return new URL(relative, base);
  } catch {
    throw new ValidationError(path, `a URL relative to ${base.href}, got ${JSON.stringify(relative)}`);
  }
}

/** An endpoint from a base URL with LibreSpeed's default paths. */
export function endpointFromBaseUrl(raw: string, name?: string, path = 'endpoint'): Endpoint {
  const base = absoluteBase(raw, path);
  return {
    name: name ?? base.host,
    baseUrl: base.href,
    downloadUrl: resolve(base, DEFAULT_PATHS.dlURL, path),
    uploadUrl: resolve(base, DEFAULT_PATHS.ulURL, path),
    pingUrl: resolve(base, DEFAULT_PATHS.pingURL, path),
    getIpUrl: resolve(base, DEFAULT_PATHS.getIpURL, path),
  };
}

const serverEntry = object({
  name: string({ minLength: 1, maxLength: 200 }),
  server: string({ minLength: 1, maxLength: 2000 }),
  dlURL: optional(string({ maxLength: 2000 })),
  ulURL: optional(string({ maxLength: 2000 })),
  pingURL: optional(string({ maxLength: 2000 })),
  getIpURL: optional(string({ maxLength: 2000 })),
  // Fields some lists carry that an agent has no use for; accepted so real lists load.
  id: optional(number()),
  sponsorName: optional(string({ maxLength: 200 })),
  sponsorURL: optional(string({ maxLength: 2000 })),
});
const serverList = array(serverEntry, { minItems: 1, maxItems: 1000 });

/**
 * Endpoints from a LibreSpeed server list (`[{"name","server","dlURL","ulURL","pingURL","getIpURL"}]`),
 * already parsed from JSON. Errors name the entry, e.g. `servers[2].server`.
 */
export function endpointsFromServerList(value: unknown, path = 'servers'): Endpoint[] {
  const entries = serverList.parse(value, path);
  const names = new Set<string>();
  return entries.map((entry, index) => {
    const at = `${path}[${index}]`;
    if (names.has(entry.name)) throw new ValidationError(`${at}.name`, `a name not used by another server, got ${JSON.stringify(entry.name)}`);
    names.add(entry.name);
    const base = absoluteBase(entry.server, `${at}.server`);
    return {
      name: entry.name,
      baseUrl: base.href,
      downloadUrl: resolve(base, entry.dlURL ?? DEFAULT_PATHS.dlURL, `${at}.dlURL`),
      uploadUrl: resolve(base, entry.ulURL ?? DEFAULT_PATHS.ulURL, `${at}.ulURL`),
      pingUrl: resolve(base, entry.pingURL ?? DEFAULT_PATHS.pingURL, `${at}.pingURL`),
      getIpUrl: resolve(base, entry.getIpURL ?? DEFAULT_PATHS.getIpURL, `${at}.getIpURL`),
    };
  });
}

/** A URL with `?r=<random>` (and extra params) appended, defeating any cache on the way. */
export function withQuery(url: URL, params: Record<string, string>): string {
  const out = new URL(url.href);
  for (const [key, value] of Object.entries(params)) out.searchParams.set(key, value);
  return `${out.pathname}${out.search}`;
}

/** Host (IPv6 brackets removed) and port (the scheme's default when absent) to open a socket to. */
export function socketAddress(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}
