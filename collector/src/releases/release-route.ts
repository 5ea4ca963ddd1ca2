/**
 * `GET /v1/releases/<file>`: an agent downloads the release the collector announced to it
 * (docs/fleet.md, "Upgrades"). Authenticated with the agent's own bearer token, as its
 * WebSocket is, failed tokens counting against the address with the WebSocket's and
 * enrollment's; only the tarballs of versions the fleet config names are served, streamed
 * from the file with its length. At most MAX_CONCURRENT_DOWNLOADS at once: a fleet told to
 * upgrade all at once is answered 503 with Retry-After past that, and comes back spread out.
 */
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@speedwatch/shared';
import { RELEASES_PATH } from '@speedwatch/shared';
import { sendError } from '../api/api.js';
import type { AuthFailureLimiter } from '../ingest/auth-limiter.js';
import { bearerToken, hashToken } from '../ingest/tokens.js';
import type { AgentRecord } from '../store/store-types.js';
import type { ReleasesConfig } from './release-dir.js';

/** Downloads served at once, at most; each holds a file handle and a 64 KiB read buffer. */
export const MAX_CONCURRENT_DOWNLOADS = 16;
/** Seconds a busy answer asks the agent to wait (it adds jitter). */
export const BUSY_RETRY_AFTER_S = 10;

export interface ReleaseRouteDeps {
  /** The releases of the config in force (a reload replaces them). */
  releases: () => ReleasesConfig | undefined;
  /** The agent holding this token hash, if it is not revoked. */
  authenticate: (tokenHash: string) => Promise<AgentRecord | undefined>;
  limiter: AuthFailureLimiter;
  logger: Logger;
}

/** The handler of every path under RELEASES_PATH. */
export function releaseRoute(deps: ReleaseRouteDeps): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  let active = 0;
  const log = deps.logger;
  return async (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'SW_METHOD', `${req.method ?? ''} is not allowed; download a release with GET`);
    const address = req.socket.remoteAddress ?? '';
    const waitS = deps.limiter.retryAfterSeconds(address);
    if (waitS > 0) {
      log.warn({ event: 'release-rate-limited', remoteAddress: address, retryAfterS: waitS }, 'release download refused: too many failed token attempts from this address');
      res.setHeader('retry-after', String(waitS));
      return sendError(res, 429, 'SW_AUTH_RATE_LIMITED', `too many failed token attempts from this address; try again in ${waitS} s`, { retryAfterSeconds: waitS });
    }
    const token = bearerToken(req.headers.authorization);
    const agent = token === undefined ? undefined : await deps.authenticate(hashToken(token));
    if (agent === undefined) {
      deps.limiter.failed(address);
      log.warn({ event: 'release-unauthorized', remoteAddress: address, reason: token === undefined ? 'missing token' : 'unknown or revoked token' }, 'release download refused');
      res.setHeader('www-authenticate', 'Bearer');
      return sendError(res, 401, 'SW_UNAUTHORIZED', 'a release download needs Authorization: Bearer <agent token>');
    }
    const name = path.slice(RELEASES_PATH.length);
    const tarball = deps.releases()?.byFile.get(name);
    if (tarball === undefined) {
      return sendError(res, 404, 'SW_NOT_FOUND', `no release ${JSON.stringify(name.slice(0, 120))} is announced; the collector serves the tarballs its fleet config's agentVersion names`);
    }
    if (active >= MAX_CONCURRENT_DOWNLOADS) {
      res.setHeader('retry-after', String(BUSY_RETRY_AFTER_S));
      return sendError(res, 503, 'SW_RELEASE_BUSY', `${MAX_CONCURRENT_DOWNLOADS} downloads are in progress; try again in ${BUSY_RETRY_AFTER_S} s`, { retryAfterSeconds: BUSY_RETRY_AFTER_S });
    }
    active++;
    const started = performance.now();
    try {
      const file = await open(tarball.path, 'r');
      try {
        const { size } = await file.stat();
        // Served as it is: the agent checks the size and SHA-256 it was announced, and refuses a mismatch.
        if (size !== tarball.bytes) log.warn({ event: 'release-changed', file: tarball.file, bytes: size, announcedBytes: tarball.bytes }, 'the release file changed since the config was loaded; reload the collector to announce it again');
        res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': size, 'cache-control': 'no-store' });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        await pipeline(file.createReadStream({ autoClose: false }), res);
        log.info({ event: 'release-served', agentId: agent.id, file: tarball.file, bytes: size, ms: Math.round(performance.now() - started) }, 'release downloaded');
      } finally {
        await file.close();
      }
    } catch (err) {
      log.warn({ event: 'release-failed', agentId: agent.id, file: tarball.file, err }, 'release download did not complete');
      if (!res.headersSent) sendError(res, 500, 'SW_INTERNAL', `the release ${tarball.file} cannot be read on the collector; see its log`);
      else res.destroy();
    } finally {
      active--;
    }
  };
}
