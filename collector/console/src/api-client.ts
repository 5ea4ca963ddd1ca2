/**
 * The console's reads of the collector's API, same origin, with the session cookie the login set.
 * Answers are checked before use: a collector of another version, or a proxy's error page, gives
 * a precise error instead of a page of `undefined`.
 */
import type { AlertDeliveriesAnswer, AlertsAnswer } from '../../src/api/alerts-wire.js';
import type { FleetAnswer, SessionAnswer } from '../../src/api/fleet-wire.js';
import type { OverviewAnswer } from '../../src/api/overview-wire.js';
import type { ComplianceReport } from '../../src/report/report-wire.js';
import type { SiteAnswer } from '../../src/api/site-wire.js';

/** The session expired or was never opened: the page goes to the login. */
export class LoginNeeded extends Error {
  constructor() {
    super('login needed');
    this.name = 'LoginNeeded';
  }
}

/** The API refused the request: its status, and its `{ error: { code, message, parameter } }` when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly parameter: string | undefined;
  /** The API's own message (names what was wrong), when it sent one. */
  readonly detail: string | undefined;

  constructor(path: string, status: number, error: Record<string, unknown> | undefined) {
    const message = typeof error?.['message'] === 'string' ? error['message'] : undefined;
    super(`${path}: HTTP ${status}${message === undefined ? '' : `: ${message}`}`);
    this.name = 'ApiError';
    this.detail = message;
    this.status = status;
    this.code = typeof error?.['code'] === 'string' ? error['code'] : undefined;
    this.parameter = typeof error?.['parameter'] === 'string' ? error['parameter'] : undefined;
  }
}

async function getJson(path: string): Promise<unknown> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) throw new LoginNeeded();
  if (!res.ok) {
    // The API's errors are JSON; a proxy's page is not, and keeps only the status.
    const body = (await res.json().catch(() => undefined)) as unknown;
    const error = isObject(body) && isObject(body['error']) ? body['error'] : undefined;
    throw new ApiError(path, res.status, error);
  }
  return (await res.json()) as unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A check of one field of an answer. */
type Check = (v: unknown) => boolean;
/** What an answer's fields must be, by name; fields not named are not checked. */
type Shape = Record<string, Check>;

const isString: Check = (v) => typeof v === 'string';
const isArray: Check = (v) => Array.isArray(v);
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const orNull = (check: Check): Check => (v) => v === null || check(v);
/** An object whose fields pass `shape`'s checks. */
const shaped = (shape: Shape): Check => (v) => isObject(v) && Object.entries(shape).every(([field, check]) => check(v[field]));

/**
 * `body` as the answer `path` gives, once it has `shape`; otherwise an Error saying it is not
 * `what` (`an overview answer`). The rest of the shape is the collector's `*-wire.ts`, built
 * from the same source.
 */
function answerOf<T>(path: string, what: string, body: unknown, shape: Shape): T {
  if (!shaped(shape)(body)) throw new Error(`${path}: not ${what} (is the collector the same version as the console?)`);
  return body as T;
}

/** The fields of an answer over a chosen window (the overview, a site's page). */
const WINDOWED: Shape = { window: isString, windows: isArray, timeZone: isString };

/** GET /api/v1/overview?window=…, checked. */
export async function fetchOverview(window: string | undefined, month?: string): Promise<OverviewAnswer> {
  const path = month !== undefined ? `/api/v1/overview?month=${encodeURIComponent(month)}` : `/api/v1/overview${window === undefined ? '' : `?window=${encodeURIComponent(window)}`}`;
  return answerOf<OverviewAnswer>(path, 'an overview answer', await getJson(path), {
    ...WINDOWED,
    technologies: isArray,
    areas: isArray,
    slowest: isArray,
    sites: isArray,
    computedAt: orNull(isString),
  });
}

/** GET /api/v1/report?… (JSON), checked; a 400 (a bad month, an unknown area) is an ApiError with the API's message. */
export async function fetchReport(query: URLSearchParams): Promise<ComplianceReport> {
  const search = new URLSearchParams(query);
  search.set('format', 'json');
  const path = `/api/v1/report?${search.toString()}`;
  return answerOf<ComplianceReport>(path, 'a report', await getJson(path), { range: isObject, totals: isArray, byKind: isArray, sites: isArray, areas: isArray });
}

/** GET /api/v1/site?agent=…&window=…, checked. */
export async function fetchSite(agentId: string, window: string | undefined): Promise<SiteAnswer> {
  const query = new URLSearchParams({ agent: agentId, ...(window === undefined ? {} : { window }) });
  const path = `/api/v1/site?${query.toString()}`;
  return answerOf<SiteAnswer>(path, 'a site answer', await getJson(path), {
    ...WINDOWED,
    site: isObject,
    connection: isObject,
    targets: isArray,
    verdicts: isArray,
    series: shaped({ points: isObject }),
    recent: isArray,
    health: orNull(isObject),
    udp: orNull(
      shaped({
        startedAt: isString,
        rttMedianMs: isNumber,
        rttP95Ms: isNumber,
        forwardJitterMs: isNumber,
        returnJitterMs: isNumber,
        lossRatio: isNumber,
        forwardLossRatio: isNumber,
        returnLossRatio: isNumber,
      }),
    ),
  });
}

/** GET /api/v1/session: the role the page acts with and its CSRF token. */
export async function fetchSession(): Promise<SessionAnswer> {
  return answerOf<SessionAnswer>('/api/v1/session', 'a session answer', await getJson('/api/v1/session'), {
    role: (v) => v === 'read' || v === 'admin',
    csrfToken: orNull(isString),
    actions: (v) => typeof v === 'boolean',
  });
}

/** GET /api/v1/fleet?problem=…, checked. */
export async function fetchFleet(problem: string): Promise<FleetAnswer> {
  const path = `/api/v1/fleet?problem=${encodeURIComponent(problem)}`;
  return answerOf<FleetAnswer>(path, 'a fleet answer', await getJson(path), {
    timeZone: isString,
    counts: isObject,
    rules: isObject,
    versions: isArray,
    boxes: isArray,
    matched: isNumber,
  });
}

/** GET /api/v1/alerts and /api/v1/alerts/deliveries, together, checked. */
export async function fetchAlerts(): Promise<{ alerts: AlertsAnswer; deliveries: AlertDeliveriesAnswer }> {
  const [alerts, deliveries] = await Promise.all([getJson('/api/v1/alerts'), getJson('/api/v1/alerts/deliveries')]);
  return {
    alerts: answerOf<AlertsAnswer>('/api/v1/alerts', 'an alerts answer', alerts, { alerts: isArray, routes: isArray }),
    deliveries: answerOf<AlertDeliveriesAnswer>('/api/v1/alerts/deliveries', 'a deliveries answer', deliveries, { timeZone: isString, deliveries: isArray, routes: isArray }),
  };
}

/** An action the collector refused: its HTTP status and the API's `SW_…` code and message. */
export class ActionRefused extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ActionRefused';
    this.status = status;
    this.code = code;
  }
}

/**
 * POSTs an action with the session cookie and the session's CSRF token in `X-CSRF-Token`
 * (docs/console.md#admin-actions-and-csrf); resolves with the answer's JSON on 2xx, throws
 * ActionRefused with the API's code otherwise.
 */
export async function postAction(path: string, body: unknown, csrfToken: string): Promise<unknown> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrfToken },
    body: JSON.stringify(body),
  });
  if (res.status === 401) throw new LoginNeeded();
  let answer: unknown;
  try {
    answer = await res.json();
  } catch {
    throw new ActionRefused(res.status, 'HTTP', `${path}: HTTP ${res.status}`);
  }
  if (!res.ok) {
    const error = isObject(answer) && isObject(answer['error']) ? answer['error'] : {};
    throw new ActionRefused(res.status, typeof error['code'] === 'string' ? error['code'] : 'HTTP', typeof error['message'] === 'string' ? error['message'] : `HTTP ${res.status}`);
  }
  return answer;
}
