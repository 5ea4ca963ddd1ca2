/**
 * The console's pages and its hash routes: `#/` the overview, `#/fleet`, `#/alerts`, `#/site/<agent id>`, and each page
 * a module registers here. A route is `#/<page>[/<argument>][?<query>]`; the hash keeps every
 * page on the one document the collector serves (and its CSP), with no server routes to add.
 */
import type { Lang, Strings } from './i18n.js';
import { alertsPage } from './alerts-view.js';
import { fleetPage } from './fleet-view.js';
import { overviewPage } from './overview-view.js';
import { reportPage } from './report-view.js';
import { sitePage } from './site-view.js';

/** What a page gets to load and draw itself. */
export interface PageContext {
  lang: Lang;
  /** The window remembered or chosen, for pages that have one. */
  window: string | undefined;
  /** The route's argument (`#/site/lso-001` → `lso-001`), decoded; '' when absent. */
  argument: string;
  /** The route's query (`#/report?from=…`). */
  query: URLSearchParams;
  /** Draws the page again (after an action changed what it shows). */
  redraw: () => void;
}

/** A drawn page. */
export interface PageView {
  title: string;
  body: HTMLElement;
  /** The windows to offer in the header's switcher, when the page has one. */
  windows?: { list: readonly string[]; current: string };
}

export interface ConsolePage {
  /** The route's first segment: '' for the overview. */
  name: string;
  /** The label in the navigation bar; pages without one are reached by links (a site's page). */
  nav?: (t: Strings) => string;
  load: (context: PageContext) => Promise<PageView>;
}

/** In the navigation bar's order. */
export const PAGES: readonly [ConsolePage, ...ConsolePage[]] = [overviewPage, fleetPage, alertsPage, reportPage, sitePage];

export interface Route {
  page: ConsolePage;
  argument: string;
  query: URLSearchParams;
}

/** The page a location hash names; the overview for an empty or unknown one. */
export function routeOf(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const queryAt = text.indexOf('?');
  const path = queryAt < 0 ? text : text.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? '' : text.slice(queryAt + 1));
  const slash = path.indexOf('/');
  const name = slash < 0 ? path : path.slice(0, slash);
  let argument = slash < 0 ? '' : path.slice(slash + 1);
  try {
    argument = decodeURIComponent(argument);
  } catch {
    // A malformed escape is kept as typed: the page reports the id it could not find.
  }
  const page = PAGES.find((p) => p.name === name) ?? PAGES[0];
  return { page, argument, query };
}
