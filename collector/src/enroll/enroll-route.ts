/**
 * `POST /v1/enroll`: a box exchanges a one-time code for its agent's token (docs/deploy.md).
 * The code is checked for typos here as on the box, then used on the writer thread in one
 * transaction, so two boxes typing the same code cannot both get a token. Failed codes count
 * against the address like failed tokens (auth-limiter.ts).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentSettings, Logger, Site } from '@speedwatch/shared';
import { AGENTS_PATH, EnrollmentCodeError, parseEnrollmentCode } from '@speedwatch/shared';
import { sendError, sendJson } from '../api/api.js';
import { siteOf } from '../fleet/fleet-settings.js';
import type { AuthFailureLimiter } from '../ingest/auth-limiter.js';
import { hashToken, newToken } from '../ingest/tokens.js';
import type { AgentRecord } from '../store/store-types.js';
import type { StoreWriter } from '../writer/store-writer.js';
import { readBodyText } from '../server/request-body.js';

export const ENROLL_PATH = '/v1/enroll';
/** A code is 17 characters; the body has room for it and some whitespace, nothing more. */
const MAX_BODY_BYTES = 1024;

export interface EnrollDeps {
  writer: Pick<StoreWriter, 'redeemEnrollment'>;
  /** The site as the collector describes it, after the agents table was re-read. */
  agent: (id: string) => Promise<AgentRecord | undefined>;
  /** The agent's settings as the collector would push them. */
  settings: (id: string) => AgentSettings | undefined;
  limiter: AuthFailureLimiter;
  now: () => number;
  logger: Logger;
}

/** What the box receives: its id, its token (shown nowhere else) and the site it stands for. */
export interface EnrollAnswer {
  agentId: string;
  token: string;
  site: Site;
  /** The path of the agents' WebSocket on this collector. */
  agentsPath: string;
  /** Its settings, as the collector will push them at its first connection. */
  settings?: AgentSettings;
}

/** SHA-256 of a code's canonical form: what enrollment_codes stores. */
export function hashEnrollmentCode(canonical: string): string {
  return createHash('sha256').update(`enroll:${canonical}`, 'utf8').digest('hex');
}

export async function handleEnroll(req: IncomingMessage, res: ServerResponse, deps: EnrollDeps): Promise<void> {
  const address = req.socket.remoteAddress ?? '';
  const log = deps.logger;
  const waitS = deps.limiter.retryAfterSeconds(address);
  if (waitS > 0) {
    log.warn({ event: 'enroll-rate-limited', remoteAddress: address, retryAfterS: waitS }, 'enrollment refused: too many failed attempts from this address');
    res.setHeader('retry-after', String(waitS));
    return sendError(res, 429, 'SW_ENROLL_RATE_LIMITED', `too many failed enrollments from this address; try again in ${waitS} s`, { retryAfterSeconds: waitS });
  }
  const failed = (status: 400 | 403 | 409 | 410, code: 'SW_ENROLL_CODE_MISTYPED' | 'SW_ENROLL_CODE_UNKNOWN' | 'SW_ENROLL_CODE_USED' | 'SW_ENROLL_CODE_EXPIRED', message: string): void => {
    deps.limiter.failed(address);
    log.warn({ event: 'enroll-refused', code, remoteAddress: address }, 'enrollment refused');
    sendError(res, status, code, message);
  };
  const body = await readBodyText(req, MAX_BODY_BYTES);
  let code: string;
  try {
    if (body === undefined) throw new EnrollmentCodeError(`the request body is over ${MAX_BODY_BYTES} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new EnrollmentCodeError('the request body is not JSON; send {"code": "XXXX-XXXX-XXXX-XX"}');
    }
    code = parseEnrollmentCode((parsed as { code?: unknown } | null)?.code);
  } catch (err) {
    if (err instanceof EnrollmentCodeError) return failed(400, 'SW_ENROLL_CODE_MISTYPED', err.message);
    throw err;
  }
  const token = newToken();
  const now = deps.now();
  const redemption = await deps.writer.redeemEnrollment(hashEnrollmentCode(code), hashToken(token), now);
  switch (redemption.outcome) {
    case 'unknown':
      return failed(403, 'SW_ENROLL_CODE_UNKNOWN', 'this collector knows no such enrollment code (or its agent was revoked); check the code and the collector URL');
    case 'used':
      return failed(409, 'SW_ENROLL_CODE_USED', `this code was used at ${new Date(redemption.usedAt).toISOString()}; codes work once: issue a new one with \`speedwatch-collector agents enroll ID\``);
    case 'expired':
      return failed(410, 'SW_ENROLL_CODE_EXPIRED', `this code expired at ${new Date(redemption.expiredAt).toISOString()}; issue a new one with \`speedwatch-collector agents enroll ID\``);
    case 'enrolled': {
      const agent = await deps.agent(redemption.agentId);
      if (agent === undefined) throw new Error(`agent ${redemption.agentId} was enrolled but is not in the agents table`);
      log.info({ event: 'enrolled', agentId: agent.id, remoteAddress: address }, 'agent enrolled: its code is used and its token issued');
      const settings = deps.settings(agent.id);
      const answer: EnrollAnswer = { agentId: agent.id, token, site: siteOf(agent), agentsPath: AGENTS_PATH, ...(settings === undefined ? {} : { settings }) };
      return sendJson(res, 200, answer);
    }
  }
}
