/**
 * The fleet page (`#/fleet?problem=…`): counts of boxes silent, disconnected, unhealthy and
 * paused, boxes by agent version, and the boxes a filter picks, worst first, all from one
 * request (`/api/v1/fleet`, aggregated on the collector). For an admin session (its role from
 * `/api/v1/session`) each box has "Test now" and pause/resume, and a form issues an enrollment
 * code for a new site; every action carries the session's CSRF token. Read-only sessions see
 * no control. Figures carry `data-field` and rows `data-agent`, which the browser test reads.
 */
import type { EnrollmentCodeAnswer, FleetAnswer, FleetBox, FleetCounts, FleetFilter, PauseAnswer, SessionAnswer, TestNowAnswer } from '../../src/api/fleet-wire.js';
import { FLEET_FILTERS } from '../../src/api/fleet-wire.js';
import { ActionRefused, fetchFleet, fetchSession, LoginNeeded, postAction } from './api-client.js';
import { h } from './dom.js';
import { formatter } from './i18n.js';
import type { Formatter } from './i18n.js';
import { hrefOf } from './links.js';
import type { ConsolePage } from './pages.js';

function filterOf(query: URLSearchParams): FleetFilter {
  const asked = query.get('problem');
  return (FLEET_FILTERS as readonly string[]).includes(asked ?? '') ? (asked as FleetFilter) : 'all';
}

export const fleetPage: ConsolePage = {
  name: 'fleet',
  nav: (t) => t.fleet.nav,
  async load({ lang, query }) {
    const filter = filterOf(query);
    const [data, session] = await Promise.all([fetchFleet(filter), fetchSession()]);
    const f = formatter(lang, data.timeZone);
    return { title: f.t.fleet.title, body: renderFleet(data, session, f) };
  },
};

/** The page; after an action its figures are fetched and drawn again in place, the action's message kept. */
export function renderFleet(first: FleetAnswer, session: SessionAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  const admin = session.role === 'admin' && session.csrfToken !== null;
  const status = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite', 'data-field': 'action-message' });
  const content = h('div', { class: 'fleet-content' });
  /** The latest action's outcome: done, not done for a reason the box gives (info), or refused. */
  const say = (text: string, kind: 'done' | 'info' | 'error' = 'done'): void => {
    status.textContent = text;
    status.dataset['kind'] = kind;
  };
  const refused = (err: unknown): void => {
    if (err instanceof LoginNeeded) {
      window.location.assign('/console/login');
      return;
    }
    say(err instanceof ActionRefused ? t.fleet.refused(err.message, err.code) : `${t.error}: ${err instanceof Error ? err.message : String(err)}`, 'error');
  };
  const reload = async (): Promise<void> => {
    draw(await fetchFleet(first.filter));
  };
  const act = async (button: HTMLButtonElement, run: () => Promise<void>): Promise<void> => {
    button.disabled = true;
    try {
      await run();
    } catch (err) {
      refused(err);
    } finally {
      button.disabled = false;
    }
  };
  const actions = (box: FleetBox): HTMLElement | null => {
    if (!admin || session.csrfToken === null || box.revokedAt !== null) return null;
    const csrf = session.csrfToken;
    const test = h('button', { type: 'button', class: 'action', 'data-action': 'test' }, t.fleet.testNow);
    test.addEventListener('click', () => {
      void act(test, async () => {
        const answer = (await postAction('/api/v1/tests', { agent: box.id }, csrf)) as TestNowAnswer;
        const requested = answer.requested.find((r) => r.id === box.id);
        if (requested !== undefined) say(t.fleet.requested(box.id, f.count(Math.round(requested.delayMs / 1000))));
        else if (answer.paused.includes(box.id)) say(t.fleet.isPaused(box.id), 'info');
        else say(t.fleet.notConnected(box.id), 'info');
      });
    });
    const paused = box.pausedAt !== null;
    const toggle = h('button', { type: 'button', class: 'action', 'data-action': paused ? 'resume' : 'pause' }, paused ? t.fleet.resume : t.fleet.pause);
    toggle.addEventListener('click', () => {
      void act(toggle, async () => {
        const answer = (await postAction(paused ? '/api/v1/resume' : '/api/v1/pause', { agent: box.id }, csrf)) as PauseAnswer;
        await reload();
        say(answer.changed.includes(box.id) ? (paused ? t.fleet.resumed(box.id) : t.fleet.paused(box.id)) : t.fleet.unchanged(box.id));
      });
    });
    return h('td', { class: 'actions', 'data-label': t.fleet.actions }, h('div', { class: 'buttons' }, test, toggle));
  };
  const draw = (data: FleetAnswer): void => {
    content.replaceChildren(
      h('p', { class: 'computed' }, `${t.fleet.generatedAt}: `, h('time', { datetime: data.generatedAt }, f.time(data.generatedAt))),
      countTiles(data.counts, data.filter, f),
      h('p', { class: 'rule', 'data-field': 'rules' }, rulesText(data, f)),
      h('section', { 'aria-label': t.fleet.versions }, h('h2', {}, t.fleet.versions), versionsTable(data, f)),
      h('section', { 'aria-label': t.fleet.boxes }, h('h2', {}, t.fleet.boxes), filterBar(data.filter, f), boxesTable(data, f, admin, actions)),
    );
  };
  draw(first);
  return h('div', { class: 'fleet' }, status, content, admin && session.csrfToken !== null ? enrollForm(f, session.csrfToken, say, refused, reload) : null);
}

const TILES: readonly { field: keyof FleetCounts; filter: FleetFilter; cls: string }[] = [
  { field: 'boxes', filter: 'all', cls: '' },
  { field: 'connected', filter: 'all', cls: '' },
  { field: 'silent', filter: 'silent', cls: 'bad' },
  { field: 'disconnected', filter: 'disconnected', cls: 'bad' },
  { field: 'unhealthy', filter: 'unhealthy', cls: 'warn' },
  { field: 'paused', filter: 'paused', cls: 'muted' },
  { field: 'ok', filter: 'ok', cls: 'good' },
  { field: 'revoked', filter: 'revoked', cls: 'muted' },
];

function countTiles(counts: FleetCounts, current: FleetFilter, f: Formatter): HTMLElement {
  const { t } = f;
  const label = (field: keyof FleetCounts): string =>
    field === 'boxes' ? t.fleet.boxes : field === 'connected' ? t.fleet.connected : field === 'revoked' ? t.fleet.revoked : (t.fleet.filters[field] ?? field);
  return h(
    'section',
    { class: 'tiles', 'aria-label': t.fleet.boxes },
    ...TILES.map(({ field, filter, cls }) =>
      h(
        'a',
        { class: `tile ${cls}`, href: hrefOf('fleet', undefined, { problem: filter }), 'data-tile': field, ...(filter === current && field !== 'connected' ? { 'aria-current': 'true' } : {}) },
        h('span', { class: 'value', 'data-field': field }, f.count(counts[field])),
        h('span', { class: 'label' }, label(field)),
        field === 'unhealthy'
          ? h(
              'small',
              { class: 'detail' },
              `${t.fleet.problems['tests-failing'] ?? ''} `,
              h('span', { 'data-field': 'testsFailing' }, f.count(counts.testsFailing)),
              ` · ${t.fleet.problems['disk-low'] ?? ''} `,
              h('span', { 'data-field': 'diskLow' }, f.count(counts.diskLow)),
              ` · ${t.fleet.problems['clock-skew'] ?? ''} `,
              h('span', { 'data-field': 'clockSkew' }, f.count(counts.clockSkew)),
            )
          : null,
      ),
    ),
  );
}

function duration(ms: number, f: Formatter): string {
  return f.t.duration(ms / 60_000);
}

function rulesText(data: FleetAnswer, f: Formatter): string {
  const r = data.rules;
  return f.t.fleet.rules({
    silent: f.count(r.silentIntervals),
    min: duration(r.silentMinMs, f),
    disk: f.bytes(r.diskFreeBelowBytes),
    failed: f.count(r.failedTestsInARow),
    okWithin: duration(r.okTestWithinMs, f),
    skew: duration(r.clockSkewMs, f),
  });
}

function versionsTable(data: FleetAnswer, f: Formatter): HTMLElement {
  const { t } = f;
  return h(
    'div',
    { class: 'scroll narrow' },
    h(
      'table',
      { class: 'versions' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t.fleet.version), h('th', { scope: 'col', class: 'num' }, t.fleet.boxes))),
      h(
        'tbody',
        {},
        ...data.versions.map((v) =>
          h('tr', { 'data-version': v.version ?? '' }, h('th', { scope: 'row' }, v.version ?? t.fleet.unknownVersion), h('td', { class: 'num', 'data-field': 'boxes' }, f.count(v.boxes))),
        ),
      ),
    ),
  );
}

function filterBar(current: FleetFilter, f: Formatter): HTMLElement {
  return h(
    'nav',
    { class: 'filters', 'aria-label': f.t.fleet.filter },
    ...FLEET_FILTERS.map((filter) =>
      h('a', { href: hrefOf('fleet', undefined, { problem: filter }), 'data-filter': filter, ...(filter === current ? { 'aria-current': 'page' } : {}) }, f.t.fleet.filters[filter] ?? filter),
    ),
  );
}

function healthCell(box: FleetBox, f: Formatter): HTMLElement {
  const { t } = f;
  const health = box.health;
  if (health === null) return h('td', { class: 'health', 'data-label': t.fleet.health }, '–');
  return h(
    'td',
    { class: 'health', 'data-label': t.fleet.health },
    health.diskFreeBytes === null ? null : h('span', { 'data-field': 'diskFree', class: box.problems.includes('disk-low') ? 'bad' : '' }, t.fleet.diskFree(f.bytes(health.diskFreeBytes))),
    health.dataUsage === null || health.dataUsage === undefined
      ? null
      : h(
          'span',
          { 'data-field': 'dataUsed', class: health.dataUsage.budgetBytes !== null && health.dataUsage.usedBytes >= health.dataUsage.budgetBytes ? 'bad' : '' },
          t.fleet.dataUsed(f.bytes(health.dataUsage.usedBytes), health.dataUsage.budgetBytes === null ? null : f.bytes(health.dataUsage.budgetBytes)),
        ),
    health.failedTestsInARow === null || health.failedTestsInARow === 0
      ? null
      : h('span', { 'data-field': 'failedInARow', class: box.problems.includes('tests-failing') ? 'bad' : '' }, t.fleet.failedInARow(f.count(health.failedTestsInARow))),
    box.problems.includes('clock-skew') ? h('span', { 'data-field': 'skew', class: 'bad' }, t.fleet.skew(f.decimal(health.clockSkewSeconds, 1))) : null,
  );
}

function boxesTable(data: FleetAnswer, f: Formatter, admin: boolean, actions: (box: FleetBox) => HTMLElement | null): HTMLElement {
  const { t } = f;
  if (data.boxes.length === 0) return h('p', { class: 'notice', 'data-field': 'none' }, t.fleet.none);
  const when = (iso: string | null): HTMLElement => (iso === null ? h('span', { class: 'muted' }, t.fleet.never) : h('time', { datetime: iso }, f.time(iso)));
  // On a phone each row is drawn as a card, its cells labelled from `data-label` (console.css).
  return h(
    'div',
    {},
    data.matched > data.boxes.length ? h('p', { class: 'notice', 'data-field': 'showing' }, t.fleet.showing(f.count(data.boxes.length), f.count(data.matched))) : null,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'boxes cards-on-phone' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, t.fleet.box),
            h('th', { scope: 'col' }, t.fleet.problemsColumn),
            h('th', { scope: 'col' }, t.fleet.lastResult),
            h('th', { scope: 'col' }, t.fleet.version),
            h('th', { scope: 'col' }, t.fleet.health),
            admin ? h('th', { scope: 'col' }, t.fleet.actions) : null,
          ),
        ),
        h(
          'tbody',
          {},
          ...data.boxes.map((box) =>
            h(
              'tr',
              { 'data-agent': box.id, 'data-problems': box.problems.join(' ') },
              h(
                'th',
                { scope: 'row', class: 'box' },
                h('a', { href: hrefOf('site', box.id) }, box.name),
                h('small', { class: 'id' }, box.id, ' · ', t.technology[box.technology] ?? box.technology),
                h('small', { class: 'id', 'data-field': 'area' }, box.area ?? t.noArea),
              ),
              h(
                'td',
                { class: 'problems', 'data-field': 'problems', 'data-label': t.fleet.problemsColumn },
                ...(box.revokedAt !== null
                  ? [h('span', { class: 'problem p-revoked', 'data-problem': 'revoked' }, t.fleet.revoked)]
                  : box.problems.length === 0
                    ? [h('span', { class: 'problem p-ok', 'data-problem': 'ok' }, t.fleet.ok)]
                    : box.problems.map((p) => h('span', { class: `problem p-${p}`, 'data-problem': p }, t.fleet.problems[p] ?? p))),
              ),
              h(
                'td',
                { 'data-label': t.fleet.lastResult },
                h('span', { 'data-field': 'lastResult' }, when(box.lastResultAt)),
                h('small', { class: 'id', 'data-field': 'lastSeen' }, `${t.fleet.lastSeen}: `, when(box.lastSeenAt)),
              ),
              h('td', { 'data-field': 'version', 'data-label': t.fleet.version }, box.version ?? '–'),
              healthCell(box, f),
              admin ? (actions(box) ?? h('td', {})) : null,
            ),
          ),
        ),
      ),
    ),
  );
}

function enrollForm(f: Formatter, csrf: string, say: (text: string) => void, refused: (err: unknown) => void, reload: () => Promise<void>): HTMLElement {
  const e = f.t.fleet.enroll;
  const field = (name: string, label: string, control: HTMLElement): HTMLElement => h('label', { class: `field f-${name}` }, h('span', {}, label), control);
  const input = (name: string, attributes: Record<string, string> = {}): HTMLInputElement => h('input', { id: `enroll-${name}`, name, autocomplete: 'off', ...attributes });
  const select = (name: string, options: Record<string, string>, selected: string): HTMLSelectElement =>
    h('select', { id: `enroll-${name}`, name }, ...Object.entries(options).map(([value, label]) => h('option', { value, ...(value === selected ? { selected: '' } : {}) }, label)));
  const result = h('div', { class: 'enroll-result', 'data-field': 'enroll-result' });
  const submit = h('button', { type: 'submit' }, e.submit);
  const form = h(
    'form',
    { class: 'enroll', 'data-form': 'enroll' },
    field('id', e.id, input('id', { required: '', pattern: '[a-z0-9][a-z0-9._\\-]{0,99}', maxlength: '100', placeholder: 'lso-caoloc-tyt-hopthanh' })),
    field('name', e.name, input('name', { required: '', maxlength: '200' })),
    field('kind', e.kind, select('kind', e.kinds, 'school')),
    field('technology', e.technology, select('technology', f.t.technology, 'fixed')),
    field('isp', e.isp, input('isp', { maxlength: '100' })),
    field('area', e.area, input('area', { maxlength: '400', placeholder: 'Lạng Sơn/Cao Lộc/Hợp Thành' })),
    field('expires', e.expires, select('expires', e.expiry, '7d')),
    h('div', { class: 'submit' }, submit),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const value = (name: string): string => String(data.get(name) ?? '').trim();
    const body: Record<string, string> = { id: value('id'), name: value('name'), kind: value('kind'), technology: value('technology'), expires: value('expires') };
    if (value('isp') !== '') body['isp'] = value('isp');
    if (value('area') !== '') body['area'] = value('area');
    submit.disabled = true;
    postAction('/api/v1/enrollment-codes', body, csrf)
      .then(async (answer) => {
        const issued = answer as EnrollmentCodeAnswer;
        const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
        const command = `speedwatch-agent enroll --collector ${scheme}://${window.location.host}/v1/agents --code ${issued.code} \\\n    --config /etc/speedwatch/agent.yaml --data-dir /var/lib/speedwatch`;
        result.replaceChildren(
          h(
            'div',
            {},
            h('h3', {}, e.issued(issued.agentId)),
            h('output', { class: 'code', 'data-field': 'code' }, issued.code),
            h('p', {}, `${e.validUntil}: `, h('time', { datetime: issued.expiresAt, 'data-field': 'expiresAt' }, f.time(issued.expiresAt))),
            issued.nearDuplicateOf === null ? null : h('p', { class: 'warning' }, e.nearDuplicate(issued.nearDuplicateOf)),
            h('p', {}, e.onTheBox),
            h('pre', {}, command),
          ),
        );
        form.reset();
        say('');
        await reload();
      })
      .catch(refused)
      .finally(() => {
        submit.disabled = false;
      });
  });
  return h('section', { class: 'enroll-section', 'aria-label': e.title }, h('h2', {}, e.title), h('p', { class: 'rule' }, e.intro), form, result);
}
