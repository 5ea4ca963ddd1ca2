/** Links between the console's pages (hash routes, see pages.ts). */

/** The hash of a page: `hrefOf('site', 'lso-001')` → `#/site/lso-001`. */
export function hrefOf(name: string, argument?: string, query?: Record<string, string>): string {
  const search = query === undefined ? '' : new URLSearchParams(query).toString();
  return `#/${name}${argument === undefined ? '' : `/${encodeURIComponent(argument)}`}${search === '' ? '' : `?${search}`}`;
}
