/**
 * The console's reads of the collector's API, same origin, with the session cookie the login set.
 * Answers are checked before use: a collector of another version, or a proxy's error page, gives
 * a precise error instead of a page of `undefined`.
 */
import type { OverviewAnswer } from '../../src/api/overview-wire.js';

/** The session expired or was never opened: the page goes to the login. */
export class LoginNeeded extends Error {
  constructor() {
    super('login needed');
    this.name = 'LoginNeeded';
  }
}

async function getJson(path: string): Promise<unknown> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) throw new LoginNeeded();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** GET /api/v1/overview?window=…, checked. */
export async function fetchOverview(window: string | undefined): Promise<OverviewAnswer> {
  const path = `/api/v1/overview${window === undefined ? '' : `?window=${encodeURIComponent(window)}`}`;
  const body = await getJson(path);
  if (
    !isObject(body) ||
    typeof body['window'] !== 'string' ||
    !Array.isArray(body['windows']) ||
    typeof body['timeZone'] !== 'string' ||
    !Array.isArray(body['technologies']) ||
    !Array.isArray(body['areas']) ||
    !Array.isArray(body['slowest']) ||
    !Array.isArray(body['sites']) ||
    !(body['computedAt'] === null || typeof body['computedAt'] === 'string')
  ) {
    throw new Error(`${path}: not an overview answer (is the collector the same version as the console?)`);
  }
  // The rest of the shape is the collector's overview-wire.ts, built from the same source.
  return body as unknown as OverviewAnswer;
}
