/**
 * The answers of the console's fleet page and admin actions, as the console reads them:
 * `GET /api/v1/fleet` (the boxes with a problem, counts and agent versions, aggregated on the
 * server so the page makes one request however large the fleet), `GET /api/v1/session` (the
 * role and CSRF token the page acts with), and `POST /api/v1/enrollment-codes`. Imports
 * nothing, so the console's bundle can share it (docs/console.md).
 */

/** What can be wrong with a box, worst first: the order boxes are sorted by. */
export const FLEET_PROBLEMS = ['silent', 'disconnected', 'tests-failing', 'disk-low', 'clock-skew', 'paused'] as const;
export type FleetProblem = (typeof FLEET_PROBLEMS)[number];

/** The problems that come from a box's health report. */
export const HEALTH_PROBLEMS: readonly FleetProblem[] = ['tests-failing', 'disk-low', 'clock-skew'];

/** The `problem` filter of /api/v1/fleet: one problem, `unhealthy` (any health problem), any problem, none, or the revoked boxes. */
export const FLEET_FILTERS = ['all', 'problems', 'ok', 'unhealthy', ...FLEET_PROBLEMS, 'revoked'] as const;
export type FleetFilter = (typeof FLEET_FILTERS)[number];

/** The bars the problems are judged by, as this collector applies them. */
export interface FleetRules {
  /**
   * Silent: no result for more than `silentIntervals` × the box's test interval, and at least
   * `silentMinMs` (for a box that never sent one, counted from when it was added). A paused box is not silent.
   */
  silentIntervals: number;
  silentMinMs: number;
  /** The test interval of boxes the fleet settings give none (`alerts.scheduleInterval`), ms. */
  defaultIntervalMs: number;
  /** `alerts.fleetHealth`: disk-low under this many bytes free (SpeedwatchAgentDiskLow). */
  diskFreeBelowBytes: number;
  /** tests-failing at this many failed tests in a row… (SpeedwatchAgentTestsFailing) */
  failedTestsInARow: number;
  /** …or no ok test this long before the report, ms. */
  okTestWithinMs: number;
  /** clock-skew: the box's clock off the collector's by more than this, ms. */
  clockSkewMs: number;
}

/** Unrevoked boxes by problem; a box with several problems counts under each. */
export interface FleetCounts {
  /** Unrevoked boxes. */
  boxes: number;
  /** Unrevoked boxes with no problem. */
  ok: number;
  connected: number;
  silent: number;
  disconnected: number;
  /** Boxes with any health problem (tests failing, disk low, clock skew). */
  unhealthy: number;
  testsFailing: number;
  diskLow: number;
  clockSkew: number;
  paused: number;
  /** Revoked boxes (hidden unless the filter asks for them). */
  revoked: number;
}

/** A box's latest health report, the figures the page shows. */
export interface FleetHealthView {
  reportedAt: string;
  diskFreeBytes: number | null;
  failedTestsInARow: number | null;
  lastOkTestAt: string | null;
  clockSkewSeconds: number;
  /** This month's data use of the box's tests, and its monthly budget when it has one (bytes). */
  dataUsage: { month: string; usedBytes: number; budgetBytes: number | null } | null;
}

export interface FleetBox {
  id: string;
  name: string;
  siteKind: string;
  technology: string;
  area: string | null;
  isp: string | null;
  /** From the agent's hello, else its latest health report; null before either. */
  version: string | null;
  connected: boolean;
  lastSeenAt: string | null;
  /** Start of its latest result; null before the first. */
  lastResultAt: string | null;
  /** Its test interval (the fleet settings', else `rules.defaultIntervalMs`), ms. */
  intervalMs: number;
  /** Silent once its latest result (or its addition) is older than this, ms. */
  silentAfterMs: number;
  pausedAt: string | null;
  revokedAt: string | null;
  health: FleetHealthView | null;
  /** Worst first, in FLEET_PROBLEMS' order; empty for a box with no problem (and for a revoked one). */
  problems: FleetProblem[];
}

export interface FleetAnswer {
  generatedAt: string;
  /** The IANA zone the console shows times in. */
  timeZone: string;
  rules: FleetRules;
  counts: FleetCounts;
  /** Unrevoked boxes by agent version, most first; `version` null for boxes that never said. */
  versions: { version: string | null; boxes: number }[];
  filter: FleetFilter;
  /** Boxes the filter matches. */
  matched: number;
  /** At most this many boxes are listed. */
  limit: number;
  /** The first `limit` boxes the filter matches, worst first (then the longest without a result, then by id). */
  boxes: FleetBox[];
}

/** `GET /api/v1/session`: what the console may do, and the token its actions carry. */
export interface SessionAnswer {
  role: 'read' | 'admin';
  /** How the request was let in: the session cookie, a bearer token, or an open collector (no read token). */
  via: 'session' | 'bearer' | 'open';
  /** The session's CSRF token for `X-CSRF-Token`; null without a session. */
  csrfToken: string | null;
  /** False when the collector has no admin token: no action is possible. */
  actions: boolean;
}

/** `POST /api/v1/enrollment-codes`'s answer (201): the code, shown once. */
export interface EnrollmentCodeAnswer {
  agentId: string;
  /** As people type it: groups of four. */
  code: string;
  expiresAt: string;
  /** True when the site was added by this request, false for a new code of an existing site. */
  added: boolean;
  /** The area as stored (an existing area's spelling when only case or spacing differ). */
  area: string | null;
  /** An existing area the typed one resembles (same letters without diacritics), when new. */
  nearDuplicateOf: string | null;
}

/** `POST /api/v1/tests`'s answer (202). */
export interface TestNowAnswer {
  requested: { id: string; delayMs: number }[];
  notConnected: string[];
  paused: string[];
  spreadMs: number;
}

/** `POST /api/v1/pause` and `/resume`'s answer (200). */
export interface PauseAnswer {
  changed: string[];
  unchanged: string[];
}
