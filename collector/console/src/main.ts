/**
 * The console's entry point: routes the location hash to a page (pages.ts), draws the header
 * (navigation, the page's window, the language) and the page. A 401 (no or expired session) goes
 * to the login page. When a page is drawn, `document.body.dataset.renderMs` holds the time from
 * the start of its drawing (the script's start for the first), `dataset.page` its name and
 * `dataset.route` the hash it was drawn for (a test waits on it after following a link).
 */
import { LoginNeeded } from './api-client.js';
import { h } from './dom.js';
import { formatter, LANGS, saveLang, savedLang, savedWindow, saveWindow } from './i18n.js';
import type { Lang } from './i18n.js';
import { hrefOf } from './links.js';
import { PAGES, routeOf } from './pages.js';
import type { PageView } from './pages.js';

interface State {
  lang: Lang;
  window: string | undefined;
}

let started = performance.now();
/** Each drawing's number: an answer arriving after a newer drawing began is dropped. */
let drawing = 0;

async function show(app: HTMLElement, state: State): Promise<void> {
  const mine = ++drawing;
  const route = routeOf(window.location.hash);
  document.documentElement.lang = state.lang;
  document.body.dataset['state'] = 'loading';
  document.body.dataset['page'] = route.page.name === '' ? 'overview' : route.page.name;
  try {
    const view = await route.page.load({ lang: state.lang, window: state.window, argument: route.argument, query: route.query, redraw: () => void show(app, state) });
    if (mine !== drawing) return;
    document.title = `${view.title} — Speedwatch`;
    app.replaceChildren(header(app, state, view, route.page.name), h('main', {}, view.body));
    document.body.dataset['state'] = 'ready';
    document.body.dataset['route'] = window.location.hash;
    document.body.dataset['renderMs'] = String(Math.round(performance.now() - started));
  } catch (err) {
    if (mine !== drawing) return;
    if (err instanceof LoginNeeded) {
      window.location.assign('/console/login');
      return;
    }
    const f = formatter(state.lang, 'Asia/Ho_Chi_Minh');
    app.replaceChildren(
      header(app, state, undefined, route.page.name),
      h('p', { class: 'notice error', role: 'alert' }, `${f.t.error}: ${err instanceof Error ? err.message : String(err)}`),
    );
    document.body.dataset['state'] = 'error';
  }
}

function header(app: HTMLElement, state: State, view: PageView | undefined, current: string): HTMLElement {
  const { t } = formatter(state.lang, 'Asia/Ho_Chi_Minh');
  const switcher = (label: string, values: readonly string[], selected: string, name: (v: string) => string, choose: (v: string) => void): HTMLElement =>
    h(
      'div',
      { class: 'switch', role: 'group', 'aria-label': label },
      ...values.map((value) => {
        const button = h('button', { type: 'button', 'data-value': value, 'aria-pressed': String(value === selected) }, name(value));
        button.addEventListener('click', () => choose(value));
        return button;
      }),
    );
  const windows = view?.windows;
  const loginRequired = document.body.dataset['login'] === 'required';
  return h(
    'header',
    {},
    h('h1', {}, h('a', { href: hrefOf(''), class: 'home' }, 'Speedwatch'), ' ', h('span', { class: 'subtitle' }, t.title)),
    h(
      'nav',
      { 'aria-label': t.navigation },
      ...PAGES.filter((page) => page.nav !== undefined).map((page) =>
        h('a', { href: hrefOf(page.name), 'data-page': page.name === '' ? 'overview' : page.name, ...(page.name === current ? { 'aria-current': 'page' } : {}) }, page.nav?.(t) ?? page.name),
      ),
    ),
    h(
      'div',
      { class: 'controls' },
      windows === undefined
        ? null
        : switcher(t.window, windows.list, windows.current, (w) => t.windowNames[w] ?? w, (w) => {
            saveWindow(localStorage, w);
            state.window = w;
            started = performance.now();
            // A rolling window replaces a calendar month the route named (`#/?month=…`).
            const route = routeOf(window.location.hash);
            if (route.query.has('month')) window.location.hash = hrefOf(route.page.name, route.argument === '' ? undefined : route.argument);
            else void show(app, state);
          }),
      switcher('Language', LANGS, state.lang, (l) => (l === 'vi' ? 'Tiếng Việt' : 'English'), (l) => {
        saveLang(localStorage, l as Lang);
        state.lang = l as Lang;
        // The window shown stays chosen; a calendar month stays in the route, not in the state.
        if (windows !== undefined && windows.list.includes(windows.current)) state.window = windows.current;
        started = performance.now();
        void show(app, state);
      }),
      loginRequired ? h('form', { method: 'post', action: '/console/logout', class: 'logout' }, h('button', { type: 'submit' }, t.logout)) : null,
    ),
  );
}

const app = document.getElementById('app');
if (app !== null) {
  const state: State = { lang: savedLang(localStorage), window: savedWindow(localStorage) };
  window.addEventListener('hashchange', () => {
    started = performance.now();
    void show(app, state);
  });
  void show(app, state);
}
