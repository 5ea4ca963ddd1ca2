/**
 * Checks on who sent a request, shared by the console's login and the admin actions: secrets
 * compared in constant time, the bearer token, and whether a browser sent it from this
 * collector's own pages (Sec-Fetch-Site, else Origin).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** `given` equals `expected`, compared in time that does not depend on where they differ. */
export function equalSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer …` header, if the request has one. */
export function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** The request carries `Authorization: Bearer <token>`. */
export function bearerIs(req: IncomingMessage, token: string): boolean {
  return equalSecret(bearerOf(req) ?? '', token);
}

/**
 * False for a request a browser sent from another site: by `Sec-Fetch-Site` where the browser
 * sends it, else by the Origin header naming another host. A client sending neither (curl,
 * a script) is let through: it carries no browser's cookies unless it was given them.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
