/**
 * Who may run an action (`POST /api/v1/tests`, `/pause`, `/resume`, `/enrollment-codes`):
 * a script with `Authorization: Bearer <admin token>` (no cookie involved, so no CSRF check),
 * or the console with its session cookie, when the session was opened with the admin token,
 * the request comes from the collector's own page (Sec-Fetch-Site, else Origin) and carries
 * the session's CSRF token in `X-CSRF-Token`. The cookie is SameSite=Strict as well: a
 * browser does not send it from another site at all. Both checks stay, because SameSite is a
 * browser's promise (an old one does not keep it) and a same-site page on another port or
 * subdomain is "same-site" to it. See docs/console.md#admin-actions-and-csrf.
 */
import type { IncomingMessage } from 'node:http';
import type { ApiErrorCode } from '../api/api.js';
import type { ConsoleSession } from './console-sessions.js';
import { bearerIs, bearerOf, equalSecret, sameOrigin } from './request-checks.js';

/** The header the console sends the session's CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

export interface ActionAuthDeps {
  /** Undefined: actions are off. */
  adminToken: string | undefined;
  /** The live console session the request's cookie names. */
  session: (req: IncomingMessage) => ConsoleSession | undefined;
}

export type ActionAuth =
  | { ok: true; via: 'bearer' | 'session' }
  | { ok: false; status: 401 | 403; code: ApiErrorCode; message: string };

/** Whether `req` may run the action at `path`, and if not, the answer to send. */
export function authorizeAction(req: IncomingMessage, path: string, deps: ActionAuthDeps): ActionAuth {
  const { adminToken } = deps;
  if (adminToken === undefined) {
    return { ok: false, status: 403, code: 'SW_ADMIN_DISABLED', message: 'this collector has no adminToken, so its actions are off; set adminToken or adminTokenFile in its config' };
  }
  // A bearer header decides alone: a script's request, whatever cookie it may also carry.
  if (bearerOf(req) !== undefined) {
    return bearerIs(req, adminToken) ? { ok: true, via: 'bearer' } : { ok: false, status: 401, code: 'SW_UNAUTHORIZED', message: `${path} needs Authorization: Bearer <admin token>` };
  }
  const session = deps.session(req);
  if (session === undefined) {
    return { ok: false, status: 401, code: 'SW_UNAUTHORIZED', message: `${path} needs Authorization: Bearer <admin token>, or a console session opened with the admin token` };
  }
  if (!sameOrigin(req)) {
    return { ok: false, status: 403, code: 'SW_CSRF', message: `${path}: refused, the request comes from another site (Sec-Fetch-Site or Origin)` };
  }
  const given = req.headers[CSRF_HEADER];
  if (typeof given !== 'string' || !equalSecret(given, session.csrfToken)) {
    return { ok: false, status: 403, code: 'SW_CSRF', message: `${path}: refused, the request has ${typeof given === 'string' ? 'a wrong' : 'no'} X-CSRF-Token; the console reads its token from GET /api/v1/session` };
  }
  if (session.role !== 'admin') {
    return { ok: false, status: 403, code: 'SW_ADMIN_REQUIRED', message: `${path} needs an admin session: this one was opened with the read token; log in with the admin token` };
  }
  return { ok: true, via: 'session' };
}
