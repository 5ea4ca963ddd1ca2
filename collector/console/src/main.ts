/**
 * The console's entry point: reads the remembered language and window, fetches the overview in
 * one request and renders it. A 401 (no or expired session) goes to the login page. When the
 * page is drawn, `document.body.dataset.renderMs` holds the time from this script's start.
 */
import { fetchOverview, LoginNeeded } from './api-client.js';
import { h } from './dom.js';
import { formatter, LANGS, saveLang, savedLang, savedWindow, saveWindow } from './i18n.js';
import type { Lang } from './i18n.js';
import { renderOverview } from './overview-view.js';

const started = performance.now();

interface State {
  lang: Lang;
  window: string | undefined;
}

async function show(app: HTMLElement, state: State): Promise<void> {
  document.documentElement.lang = state.lang;
  document.body.dataset['state'] = 'loading';
  try {
    const data = await fetchOverview(state.window);
    const f = formatter(state.lang, data.timeZone);
    document.title = `${f.t.overview} — Speedwatch`;
    app.replaceChildren(header(app, state, data.windows, data.window), h('main', {}, renderOverview(data, f)));
    document.body.dataset['state'] = 'ready';
    document.body.dataset['renderMs'] = String(Math.round(performance.now() - started));
  } catch (err) {
    if (err instanceof LoginNeeded) {
      window.location.assign('/console/login');
      return;
    }
    const f = formatter(state.lang, 'Asia/Ho_Chi_Minh');
    app.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, `${f.t.error}: ${err instanceof Error ? err.message : String(err)}`));
    document.body.dataset['state'] = 'error';
  }
}

function header(app: HTMLElement, state: State, windows: readonly string[], current: string): HTMLElement {
  const f = formatter(state.lang, 'Asia/Ho_Chi_Minh');
  const { t } = f;
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
  const loginRequired = document.body.dataset['login'] === 'required';
  return h(
    'header',
    {},
    h('h1', {}, 'Speedwatch ', h('span', { class: 'subtitle' }, t.title)),
    h(
      'div',
      { class: 'controls' },
      switcher(t.window, windows, current, (w) => t.windowNames[w] ?? w, (w) => {
        saveWindow(localStorage, w);
        void show(app, { ...state, window: w });
      }),
      switcher('Language', LANGS, state.lang, (l) => (l === 'vi' ? 'Tiếng Việt' : 'English'), (l) => {
        saveLang(localStorage, l as Lang);
        void show(app, { ...state, lang: l as Lang, window: current });
      }),
      loginRequired ? h('form', { method: 'post', action: '/console/logout', class: 'logout' }, h('button', { type: 'submit' }, t.logout)) : null,
    ),
  );
}

const app = document.getElementById('app');
if (app !== null) void show(app, { lang: savedLang(localStorage), window: savedWindow(localStorage) });
