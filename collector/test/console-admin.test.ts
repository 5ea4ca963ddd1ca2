/**
 * The console's admin actions over real HTTP to a collector started in-process on a real SQLite
 * file: sessions remember the token that opened them (read or admin), `GET /api/v1/session`
 * gives the page its role and CSRF token, and an action sent with the session cookie runs only
 * from an admin session, from the collector's own origin, with the session's token in
 * `X-CSRF-Token`. Scripts keep using `Authorization: Bearer <admin token>` without one. Also
 * `POST /api/v1/enrollment-codes`: the code it shows redeems at `/v1/enroll` and the token it
 * gives connects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClient, TestCollector } from './ingest-util.js';
import { connectAgent, startTestCollector } from './ingest-util.js';

const READ = 'console-admin-read-token-0123456789';
const ADMIN = 'console-admin-admin-token-0123456789';

let t: TestCollector;
let box: AgentClient;

interface Answer {
  status: number;
  body: any;
}

async function request(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const res = await fetch(new URL(path, t.collector.url), {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    redirect: 'manual',
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** Logs in through the console's form; the session cookie as a Cookie header. */
async function logIn(token: string): Promise<string> {
  const res = await fetch(new URL('/console/login', t.collector.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const cookie = res.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/^sw_session=[A-Za-z0-9_-]{43}; /);
  expect(cookie).toContain('HttpOnly');
  expect(cookie).toContain('SameSite=Strict');
  return cookie.split(';')[0] as string;
}

async function csrfOf(cookie: string): Promise<string> {
  const { status, body } = await request('/api/v1/session', { headers: { cookie } });
  expect(status).toBe(200);
  return body.csrfToken as string;
}

async function pausedAt(id: string): Promise<string | null> {
  const { body } = await request('/api/v1/agents', { headers: { authorization: `Bearer ${READ}` } });
  return (body.agents as { id: string; pausedAt: string | null }[]).find((a) => a.id === id)?.pausedAt ?? null;
}

beforeAll(async () => {
  t = await startTestCollector({ readToken: READ, adminToken: ADMIN });
  box = await connectAgent(t.wsUrl, t.addAgent('school-1'));
  await box.hello();
  t.addAgent('school-2', { area: 'Lạng Sơn/Cao Lộc/Gia Cát' });
});

afterAll(async () => {
  box?.ws.terminate();
  await t?.close();
});

describe('console sessions', () => {
  it('remember the token that opened them: the read token gives role read, the admin token role admin, each with its own CSRF token', async () => {
    const read = await logIn(READ);
    const admin = await logIn(ADMIN);
    const readSession = await request('/api/v1/session', { headers: { cookie: read } });
    const adminSession = await request('/api/v1/session', { headers: { cookie: admin } });
    expect(readSession).toMatchObject({ status: 200, body: { role: 'read', via: 'session', actions: true } });
    expect(adminSession).toMatchObject({ status: 200, body: { role: 'admin', via: 'session', actions: true } });
    expect(readSession.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(adminSession.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(adminSession.body.csrfToken).not.toBe(readSession.body.csrfToken);
    // The token is the session's: the same session reads the same one again.
    expect(await csrfOf(admin)).toBe(adminSession.body.csrfToken);
  });

  it('tells a script its role by its bearer token, with no CSRF token, and refuses a request with neither', async () => {
    expect(await request('/api/v1/session', { headers: { authorization: `Bearer ${ADMIN}` } })).toMatchObject({ status: 200, body: { role: 'admin', via: 'bearer', csrfToken: null } });
    expect(await request('/api/v1/session', { headers: { authorization: `Bearer ${READ}` } })).toMatchObject({ status: 200, body: { role: 'read', via: 'bearer', csrfToken: null } });
    expect(await request('/api/v1/session')).toMatchObject({ status: 401, body: { error: { code: 'SW_UNAUTHORIZED' } } });
  });
});

describe('actions from the console', () => {
  it('refuse an admin session without the CSRF token, or with a wrong one (SW_CSRF), doing nothing', async () => {
    const admin = await logIn(ADMIN);
    const csrf = await csrfOf(admin);
    const missing = await request('/api/v1/pause', { method: 'POST', headers: { cookie: admin, 'sec-fetch-site': 'same-origin' }, body: { agent: 'school-1' } });
    expect(missing).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
    expect(missing.body.error.message).toContain('no X-CSRF-Token');
    const wrong = await request('/api/v1/pause', { method: 'POST', headers: { cookie: admin, 'x-csrf-token': `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` }, body: { agent: 'school-1' } });
    expect(wrong).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
    expect(wrong.body.error.message).toContain('a wrong X-CSRF-Token');
    const short = await request('/api/v1/pause', { method: 'POST', headers: { cookie: admin, 'x-csrf-token': 'x' }, body: { agent: 'school-1' } });
    expect(short).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
    // Another session's token is not this one's.
    const otherCsrf = await csrfOf(await logIn(ADMIN));
    expect(await request('/api/v1/pause', { method: 'POST', headers: { cookie: admin, 'x-csrf-token': otherCsrf }, body: { agent: 'school-1' } })).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
    expect(await pausedAt('school-1')).toBeNull();
  });

  it('refuse a request from another site even with the right token (Sec-Fetch-Site, else Origin)', async () => {
    const admin = await logIn(ADMIN);
    const csrf = await csrfOf(admin);
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'http://evil.example' }]) {
      const answer = await request('/api/v1/pause', { method: 'POST', headers: { cookie: admin, 'x-csrf-token': csrf, ...headers }, body: { agent: 'school-1' } });
      expect(answer).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
      expect(answer.body.error.message).toContain('another site');
    }
    expect(await pausedAt('school-1')).toBeNull();
  });

  it('refuse a read session with its right CSRF token (SW_ADMIN_REQUIRED)', async () => {
    const read = await logIn(READ);
    const csrf = await csrfOf(read);
    for (const path of ['/api/v1/pause', '/api/v1/tests', '/api/v1/enrollment-codes']) {
      const answer = await request(path, { method: 'POST', headers: { cookie: read, 'x-csrf-token': csrf, 'sec-fetch-site': 'same-origin' }, body: { agent: 'school-1', id: 'never-added' } });
      expect(answer).toMatchObject({ status: 403, body: { error: { code: 'SW_ADMIN_REQUIRED' } } });
    }
    expect(await pausedAt('school-1')).toBeNull();
    expect((await request('/api/v1/agents', { headers: { cookie: read } })).body.agents.map((a: { id: string }) => a.id)).not.toContain('never-added');
  });

  it('run from an admin session with its CSRF token: pause, resume and a test now the box receives', async () => {
    const admin = await logIn(ADMIN);
    const headers = { cookie: admin, 'x-csrf-token': await csrfOf(admin), 'sec-fetch-site': 'same-origin', origin: t.collector.url.slice(0, -1) };
    expect(await request('/api/v1/pause', { method: 'POST', headers, body: { agent: 'school-1' } })).toMatchObject({ status: 200, body: { changed: ['school-1'], unchanged: [] } });
    expect(await pausedAt('school-1')).not.toBeNull();
    expect(await request('/api/v1/resume', { method: 'POST', headers, body: { agent: 'school-1' } })).toMatchObject({ status: 200, body: { changed: ['school-1'] } });
    expect(await pausedAt('school-1')).toBeNull();
    const test = await request('/api/v1/tests', { method: 'POST', headers, body: { agent: 'school-1' } });
    expect(test).toMatchObject({ status: 202, body: { requested: [{ id: 'school-1', delayMs: 0 }], notConnected: [], paused: [] } });
    expect(await box.next('test-now')).toMatchObject({ type: 'test-now', delayMs: 0 });
    // A box with no connection is named, not tested.
    expect(await request('/api/v1/tests', { method: 'POST', headers, body: { agent: 'school-2' } })).toMatchObject({ status: 202, body: { requested: [], notConnected: ['school-2'] } });
  });

  it('run for a script with the admin bearer token and no CSRF token; the read token is refused (401)', async () => {
    expect(await request('/api/v1/tests', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: { agent: 'school-2' } })).toMatchObject({ status: 202, body: { notConnected: ['school-2'] } });
    expect(await request('/api/v1/tests', { method: 'POST', headers: { authorization: `Bearer ${READ}` }, body: { agent: 'school-2' } })).toMatchObject({ status: 401, body: { error: { code: 'SW_UNAUTHORIZED' } } });
    // A wrong bearer decides alone, whatever session cookie comes with it.
    const admin = await logIn(ADMIN);
    expect(await request('/api/v1/tests', { method: 'POST', headers: { authorization: `Bearer ${READ}`, cookie: admin, 'x-csrf-token': await csrfOf(admin) }, body: { agent: 'school-2' } })).toMatchObject({ status: 401 });
    expect(await request('/api/v1/tests', { method: 'POST', body: { agent: 'school-2' } })).toMatchObject({ status: 401, body: { error: { code: 'SW_UNAUTHORIZED' } } });
  });

  it('stop working once the session is logged out', async () => {
    const admin = await logIn(ADMIN);
    const csrf = await csrfOf(admin);
    const out = await fetch(new URL('/console/logout', t.collector.url), { method: 'POST', headers: { cookie: admin, 'sec-fetch-site': 'same-origin' }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(await request('/api/v1/pause', { method: 'POST', headers: { cookie: admin, 'x-csrf-token': csrf }, body: { agent: 'school-1' } })).toMatchObject({ status: 401, body: { error: { code: 'SW_UNAUTHORIZED' } } });
  });
});

describe('POST /api/v1/enrollment-codes', () => {
  it('adds a site and shows a code once; the code redeems at /v1/enroll and its token connects', async () => {
    const admin = await logIn(ADMIN);
    const headers = { cookie: admin, 'x-csrf-token': await csrfOf(admin), 'sec-fetch-site': 'same-origin' };
    const issued = await request('/api/v1/enrollment-codes', {
      method: 'POST',
      headers,
      body: { id: 'lso-new-1', name: 'Trạm y tế Hợp Thành', kind: 'clinic', technology: 'mobile', isp: 'Viettel', area: ' lạng sơn / cao lộc /Hợp Thành', expires: '14d' },
    });
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({ agentId: 'lso-new-1', added: true, area: 'Lạng Sơn/Cao Lộc/Hợp Thành', nearDuplicateOf: null });
    expect(issued.body.code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$/);
    const expiresInMs = Date.parse(issued.body.expiresAt) - Date.now();
    expect(expiresInMs).toBeGreaterThan(14 * 86_400_000 - 60_000);
    expect(expiresInMs).toBeLessThanOrEqual(14 * 86_400_000);
    const listed = (await request('/api/v1/agents', { headers: { cookie: admin } })).body.agents.find((a: { id: string }) => a.id === 'lso-new-1');
    expect(listed).toMatchObject({ site: { name: 'Trạm y tế Hợp Thành', kind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' }, connected: false });

    const enrolled = await request('/v1/enroll', { method: 'POST', body: { code: issued.body.code.toLowerCase() } });
    expect(enrolled).toMatchObject({ status: 200, body: { agentId: 'lso-new-1', site: { area: 'Lạng Sơn/Cao Lộc/Hợp Thành' } } });
    const client = await connectAgent(t.wsUrl, enrolled.body.token);
    expect(await client.hello()).toMatchObject({ type: 'welcome' });
    client.ws.terminate();
    expect(await request('/v1/enroll', { method: 'POST', body: { code: issued.body.code } })).toMatchObject({ status: 409, body: { error: { code: 'SW_ENROLL_CODE_USED' } } });
  });

  it('gives an existing site a new code with {"id"} alone, which ends its earlier one', async () => {
    const headers = { authorization: `Bearer ${ADMIN}` };
    const first = await request('/api/v1/enrollment-codes', { method: 'POST', headers, body: { id: 'school-2' } });
    expect(first).toMatchObject({ status: 201, body: { agentId: 'school-2', added: false, area: 'Lạng Sơn/Cao Lộc/Gia Cát' } });
    const second = await request('/api/v1/enrollment-codes', { method: 'POST', headers, body: { id: 'school-2', expires: '1h' } });
    expect(second.status).toBe(201);
    expect(await request('/v1/enroll', { method: 'POST', body: { code: first.body.code } })).toMatchObject({ status: 410, body: { error: { code: 'SW_ENROLL_CODE_EXPIRED' } } });
    expect(await request('/v1/enroll', { method: 'POST', body: { code: second.body.code } })).toMatchObject({ status: 200, body: { agentId: 'school-2' } });
  });

  it('warns of an area that resembles an existing one without its diacritics', async () => {
    const answer = await request('/api/v1/enrollment-codes', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: { id: 'lso-new-2', name: 'UBND Gia Cát', kind: 'office', technology: 'fixed', area: 'Lang Son/Cao Loc/Gia Cat' } });
    expect(answer).toMatchObject({ status: 201, body: { area: 'Lang Son/Cao Loc/Gia Cat', nearDuplicateOf: 'Lạng Sơn/Cao Lộc/Gia Cát' } });
  });

  it.each([
    ['an existing id for a new site', { id: 'school-1', name: 'x', kind: 'school', technology: 'fixed' }, 409, 'SW_AGENT_EXISTS', undefined],
    ['an unknown id alone', { id: 'nobody' }, 404, 'SW_NOT_FOUND', undefined],
    ['a bad id', { id: 'Bad Id', name: 'x', kind: 'school', technology: 'fixed' }, 400, 'SW_BAD_PARAMETER', 'id'],
    ['a site without its kind', { id: 'lso-x', name: 'x', technology: 'fixed' }, 400, 'SW_BAD_PARAMETER', 'kind'],
    ['an unknown technology', { id: 'lso-x', name: 'x', kind: 'school', technology: 'satellite' }, 400, 'SW_BAD_PARAMETER', 'technology'],
    ['an unknown field', { id: 'lso-x', name: 'x', kind: 'school', technology: 'fixed', colour: 'red' }, 400, 'SW_BAD_PARAMETER', 'colour'],
    ['a lifetime over 366 days', { id: 'lso-x', name: 'x', kind: 'school', technology: 'fixed', expires: '400d' }, 400, 'SW_BAD_PARAMETER', 'expires'],
    ['lat without lon', { id: 'lso-x', name: 'x', kind: 'school', technology: 'fixed', lat: 21.8 }, 400, 'SW_BAD_PARAMETER', 'lat'],
    ['a body that is not JSON', 'id=lso-x', 400, 'SW_BAD_PARAMETER', 'body'],
  ] as const)('refuses %s', async (_name, body, status, code, parameter) => {
    const answer = await request('/api/v1/enrollment-codes', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body });
    expect(answer).toMatchObject({ status, body: { error: { code, ...(parameter === undefined ? {} : { parameter }) } } });
    expect((await request('/api/v1/agents', { headers: { authorization: `Bearer ${READ}` } })).body.agents.map((a: { id: string }) => a.id)).not.toContain('lso-x');
  });
});

describe('a collector without an admin token', () => {
  it('refuses every action, from a bearer or a session (SW_ADMIN_DISABLED), and says so in /api/v1/session', async () => {
    const open = await startTestCollector({ readToken: READ });
    try {
      const res = await fetch(new URL('/console/login', open.collector.url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${READ}`, redirect: 'manual' });
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const session = (await (await fetch(new URL('/api/v1/session', open.collector.url), { headers: { cookie } })).json()) as { role: string; actions: boolean; csrfToken: string };
      expect(session).toMatchObject({ role: 'read', actions: false });
      for (const headers of [{ cookie, 'x-csrf-token': session.csrfToken }, { authorization: `Bearer ${READ}` }]) {
        const answer = await fetch(new URL('/api/v1/enrollment-codes', open.collector.url), { method: 'POST', headers, body: JSON.stringify({ id: 'x' }) });
        expect(answer.status).toBe(403);
        expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('SW_ADMIN_DISABLED');
      }
    } finally {
      await open.close();
    }
  });
});
