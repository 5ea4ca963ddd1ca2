/**
 * The console's login sessions: a token exchanged once for a random session id, kept in memory
 * with an expiry and sent back as an HttpOnly, SameSite=Strict cookie, so no token ever sits in
 * a URL or in the page's script. A session remembers which token opened it (its role: `admin`
 * for the admin token, else `read`) and holds its own random CSRF token, which the page reads
 * from `GET /api/v1/session` and sends back in `X-CSRF-Token` with every action (the
 * synchronizer token pattern, docs/console.md#admin-actions-and-csrf). Sessions die with the
 * process (people log in again after a restart).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie's name. */
export const SESSION_COOKIE = 'sw_session';

/** What a session may do: read only, or the admin actions too. */
export type SessionRole = 'read' | 'admin';

export interface ConsoleSession {
  role: SessionRole;
  /** 256 random bits, base64url: the value actions must carry in `X-CSRF-Token`. */
  csrfToken: string;
}

export interface SessionOptions {
  /** How long a session lasts from login, ms. */
  ttlMs: number;
  /** At most this many live sessions; the oldest is dropped first past it. */
  maxSessions: number;
  now: () => number;
  /** Random bytes for session ids and CSRF tokens (default node:crypto randomBytes). */
  random?: (bytes: number) => Buffer;
}

export const SESSION_DEFAULTS = Object.freeze({ ttlMs: 12 * 3_600_000, maxSessions: 10_000 });

interface Entry extends ConsoleSession {
  /** ms */
  expiresAt: number;
}

export class ConsoleSessions {
  readonly #options: SessionOptions;
  /** Session id → session, in order of creation. */
  readonly #sessions = new Map<string, Entry>();

  constructor(options: SessionOptions) {
    this.#options = options;
  }

  /** A new session with `role`; returns its id (256 random bits, base64url). */
  create(role: SessionRole): string {
    const random = this.#options.random ?? randomBytes;
    const id = random(32).toString('base64url');
    this.#sessions.set(id, { role, csrfToken: random(32).toString('base64url'), expiresAt: this.#options.now() + this.#options.ttlMs });
    if (this.#sessions.size > this.#options.maxSessions) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
    return id;
  }

  /** The live session `id` names; an expired one is forgotten. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined) return undefined;
    const entry = this.#sessions.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#options.now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return { role: entry.role, csrfToken: entry.csrfToken };
  }

  /** True when `id` names a live session. */
  valid(id: string | undefined): boolean {
    return this.get(id) !== undefined;
  }

  /** Ends a session (logout). */
  end(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  /** Live and expired sessions not yet forgotten (for tests). */
  get size(): number {
    return this.#sessions.size;
  }
}

/** The session id the request's Cookie header carries, if any. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** The Set-Cookie value for a session (`id`), or for clearing it (`undefined`). */
export function sessionCookie(id: string | undefined, { secure, ttlMs }: { secure: boolean; ttlMs: number }): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  return id === undefined
    ? [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attributes].join('; ')
    : [`${SESSION_COOKIE}=${id}`, `Max-Age=${Math.floor(ttlMs / 1000)}`, ...attributes].join('; ');
}
