/**
 * The console, served by the collector on its own port: the page shell at `/`, the bundled
 * assets at `/console/assets/…` (built by `npm run build` into collector/dist/console/, see
 * docs/console.md), and, when a read token is set, the login page that exchanges it for a
 * session cookie. Every answer carries a Content-Security-Policy without inline script,
 * `X-Content-Type-Options: nosniff` and `frame-ancestors 'none'`; nothing is fetched from
 * another origin, so the console works on an intranet with no internet.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Logger } from '@speedwatch/shared';
import type { AuthFailureLimiter } from '../ingest/auth-limiter.js';
import type { ConsoleSession, ConsoleSessions } from './console-sessions.js';
import { sessionCookie, sessionIdOf } from './console-sessions.js';
import { equalSecret, sameOrigin } from './request-checks.js';
import { readBodyText } from '../server/request-body.js';

/** Where `npm run build` writes the console: collector/dist/console/ beside dist/src/. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export const LOGIN_PATH = '/console/login';
export const LOGOUT_PATH = '/console/logout';
const ASSETS_PREFIX = '/console/assets/';

/** The headers every console answer carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it a browser sends `Origin: null` on the login form's post.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
});

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The largest login form accepted, bytes. */
const MAX_LOGIN_BODY_BYTES = 4096;

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  type: string;
}

/** What the build writes beside the assets: the hashed names of the entry script and style sheet. */
interface ConsoleManifest {
  js: string;
  css: string;
}

export interface ConsoleDeps {
  /** The built console (manifest.json and assets/); default DEFAULT_CONSOLE_DIR. */
  dir?: string;
  /** The read token, when the console needs a login; the admin token logs in too, as an admin session. */
  readToken: string | undefined;
  adminToken: string | undefined;
  sessions: ConsoleSessions;
  /** Failed logins count here, as failed agent tokens and enrollment codes do. */
  limiter: AuthFailureLimiter;
  /** Whether the collector serves https (the cookie is then `Secure`). */
  secure: boolean;
  sessionTtlMs: number;
  logger: Logger;
}

/** Answers the console's routes; `handle` returns false for a path that is not one of them. */
export class ConsoleRoute {
  readonly #deps: ConsoleDeps;
  readonly #assets = new Map<string, Asset>();
  readonly #manifest: ConsoleManifest | undefined;

  constructor(deps: ConsoleDeps) {
    this.#deps = deps;
    const dir = deps.dir ?? DEFAULT_CONSOLE_DIR;
    const manifestPath = join(dir, 'manifest.json');
    if (!existsSync(manifestPath)) {
      deps.logger.warn({ event: 'console-not-built', dir }, 'the console is not built (npm run build); / answers 404 until it is');
      return;
    }
    this.#manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
    const assetsDir = join(dir, 'assets');
    for (const name of readdirSync(assetsDir)) {
      const type = CONTENT_TYPES[extname(name)];
      if (type === undefined || name.endsWith('.map')) continue;
      const body = readFileSync(join(assetsDir, name));
      this.#assets.set(name, { body, gzipped: gzipSync(body, { level: 9 }), type });
    }
  }

  /** True when the request carries a live session cookie. */
  hasSession(req: IncomingMessage): boolean {
    return this.#deps.sessions.valid(sessionIdOf(req));
  }

  /** The live session the request's cookie names: its role and CSRF token. */
  session(req: IncomingMessage): ConsoleSession | undefined {
    return this.#deps.sessions.get(sessionIdOf(req));
  }

  async handle(path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (path === LOGIN_PATH) {
      if (req.method === 'POST') await this.#login(req, res);
      else if (req.method === 'GET' || req.method === 'HEAD') this.#send(res, 200, 'text/html; charset=utf-8', loginPage(false, this.#manifest), 'no-store');
      else this.#methodNotAllowed(res, 'GET, POST');
      return true;
    }
    if (path === LOGOUT_PATH) {
      if (req.method !== 'POST') {
        this.#methodNotAllowed(res, 'POST');
        return true;
      }
      if (!sameOrigin(req)) {
        this.#forbidden(res);
        return true;
      }
      this.#deps.sessions.end(sessionIdOf(req));
      res.writeHead(303, { ...SECURITY_HEADERS, location: this.#deps.readToken === undefined ? '/' : LOGIN_PATH, 'set-cookie': this.#cookie(undefined), 'cache-control': 'no-store' }).end();
      return true;
    }
    if (path.startsWith(ASSETS_PREFIX)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') this.#methodNotAllowed(res, 'GET');
      else this.#asset(path.slice(ASSETS_PREFIX.length), req, res);
      return true;
    }
    if (path === '/' || path === '/index.html') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.#methodNotAllowed(res, 'GET');
      } else if (this.#deps.readToken !== undefined && !this.hasSession(req)) {
        res.writeHead(303, { ...SECURITY_HEADERS, location: LOGIN_PATH, 'cache-control': 'no-store' }).end();
      } else if (this.#manifest === undefined) {
        this.#send(res, 404, 'text/plain; charset=utf-8', 'The console is not built: run npm run build, then restart the collector.\n', 'no-store');
      } else {
        this.#send(res, 200, 'text/html; charset=utf-8', shellPage(this.#manifest, this.#deps.readToken !== undefined), 'no-cache');
      }
      return true;
    }
    return false;
  }

  async #login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { readToken, adminToken, limiter, logger } = this.#deps;
    if (!sameOrigin(req)) return this.#forbidden(res);
    if (readToken === undefined) {
      res.writeHead(303, { ...SECURITY_HEADERS, location: '/', 'cache-control': 'no-store' }).end();
      return;
    }
    const address = req.socket.remoteAddress ?? '';
    const waitS = limiter.retryAfterSeconds(address);
    if (waitS > 0) {
      logger.warn({ event: 'console-login-rate-limited', remoteAddress: address, retryAfterS: waitS }, 'console login refused: too many failed attempts from this address');
      res.setHeader('retry-after', String(waitS));
      return this.#send(res, 429, 'text/html; charset=utf-8', loginPage('rate-limited', this.#manifest), 'no-store');
    }
    const body = await readBodyText(req, MAX_LOGIN_BODY_BYTES);
    const token = body === undefined ? undefined : new URLSearchParams(body).get('token') ?? undefined;
    // Both are compared whatever the first gives, so the time taken does not say which matched.
    const isRead = token !== undefined && equalSecret(token, readToken);
    const isAdmin = token !== undefined && adminToken !== undefined && equalSecret(token, adminToken);
    if (!isRead && !isAdmin) {
      limiter.failed(address);
      logger.warn({ event: 'console-login-refused', remoteAddress: address }, 'console login refused: wrong token');
      return this.#send(res, 401, 'text/html; charset=utf-8', loginPage('wrong', this.#manifest), 'no-store');
    }
    const role = isAdmin ? 'admin' : 'read';
    const id = this.#deps.sessions.create(role);
    logger.info({ event: 'console-login', remoteAddress: address, role }, 'console session opened');
    res.writeHead(303, { ...SECURITY_HEADERS, location: '/', 'set-cookie': this.#cookie(id), 'cache-control': 'no-store' }).end();
  }

  #asset(name: string, req: IncomingMessage, res: ServerResponse): void {
    const asset = this.#assets.get(name);
    if (asset === undefined) return this.#send(res, 404, 'text/plain; charset=utf-8', `no console asset ${name.slice(0, 100)}\n`, 'no-store');
    // Names carry a content hash (console-XXXXXXXX.js): a new build is a new name.
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzipped : asset.body;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': asset.type,
      'content-length': body.length,
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #cookie(id: string | undefined): string {
    return sessionCookie(id, { secure: this.#deps.secure, ttlMs: this.#deps.sessionTtlMs });
  }

  #send(res: ServerResponse, status: number, type: string, text: string, cache: string): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': cache }).end(text);
  }

  #methodNotAllowed(res: ServerResponse, allow: string): void {
    res.setHeader('allow', allow);
    this.#send(res, 405, 'text/plain; charset=utf-8', `method not allowed; use ${allow}\n`, 'no-store');
  }

  #forbidden(res: ServerResponse): void {
    this.#send(res, 403, 'text/plain; charset=utf-8', 'cross-origin form posts are refused\n', 'no-store');
  }
}

function parseManifest(value: unknown, path: string): ConsoleManifest {
  const m = value as Partial<Record<keyof ConsoleManifest, unknown>> | null;
  const ok = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9._-]+$/.test(v);
  if (m === null || typeof m !== 'object' || !ok(m.js) || !ok(m.css)) throw new Error(`${path}: expected {"js": "<file>", "css": "<file>"} naming files in assets/`);
  return { js: m.js, css: m.css };
}

/** The page the script renders into; no inline script or style. */
function shellPage(manifest: ConsoleManifest, loginRequired: boolean): string {
  return `<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Speedwatch</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSETS_PREFIX}${manifest.css}">
<script type="module" src="${ASSETS_PREFIX}${manifest.js}"></script>
</head>
<body data-login="${loginRequired ? 'required' : 'off'}">
<div id="app"><p class="loading">Đang tải… / Loading…</p></div>
<noscript><p>Trang này cần JavaScript. / This page needs JavaScript.</p></noscript>
</body>
</html>
`;
}

/** The login form (both languages: it is seen before any choice is remembered). Plain HTML, posted as a form. */
function loginPage(error: false | 'wrong' | 'rate-limited', manifest: ConsoleManifest | undefined): string {
  const message =
    error === 'wrong'
      ? '<p class="login-error" role="alert">Mã truy cập không đúng. / Wrong token.</p>'
      : error === 'rate-limited'
        ? '<p class="login-error" role="alert">Quá nhiều lần thử sai; hãy thử lại sau. / Too many failed attempts; try again later.</p>'
        : '';
  return `<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Speedwatch — Đăng nhập / Log in</title>
<link rel="icon" href="data:,">
${manifest === undefined ? '' : `<link rel="stylesheet" href="${ASSETS_PREFIX}${manifest.css}">\n`}</head>
<body>
<main class="login">
<h1>Speedwatch</h1>
<form method="post" action="${LOGIN_PATH}">
<label for="token">Mã truy cập (read hoặc admin token) / Read or admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Đăng nhập / Log in</button>
</form>
${message}
</main>
</body>
</html>
`;
}
