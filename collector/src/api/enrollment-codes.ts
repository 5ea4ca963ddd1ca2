/**
 * `POST /api/v1/enrollment-codes`, an action behind the admin token (or an admin console session
 * with its CSRF token): a one-time enrollment code for a new site, added in the same transaction
 * as `agents add --enroll` does it, or, with `{"id"}` alone, a new code for an existing site as
 * `agents enroll ID` does (docs/fleet.md). The code is drawn here and shown once in the answer;
 * only its hash is stored, by the store writer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger, Site } from '@speedwatch/shared';
import { durationMs, siteSchema, ValidationError } from '@speedwatch/shared';
import { CODE_LIFETIME_RANGE_MS, DEFAULT_CODE_LIFETIME_MS, newEnrollmentCode } from '../enroll/issue-code.js';
import { hashToken, newToken } from '../ingest/tokens.js';
import { readBodyText } from '../server/request-body.js';
import { AreaNames } from '../sites/area-match.js';
import { AGENT_ID, AGENT_ID_RULE } from '../sites/sites-file.js';
import { StoreError } from '../store/store-error.js';
import type { AgentRecord, NewAgent } from '../store/store-types.js';
import type { StoreWriter } from '../writer/store-writer.js';
import { sendError, sendJson } from './api.js';
import type { EnrollmentCodeAnswer } from './fleet-wire.js';

export const ENROLLMENT_CODES_PATH = '/api/v1/enrollment-codes';
const MAX_BODY_BYTES = 4096;
const SITE_FIELDS = ['name', 'kind', 'technology', 'isp', 'area', 'lat', 'lon'] as const;
const lifetimeSchema = durationMs(CODE_LIFETIME_RANGE_MS.min, CODE_LIFETIME_RANGE_MS.max);

export interface EnrollmentCodeDeps {
  /** The agent as the collector knows it now (revoked ones included). */
  agent: (id: string) => AgentRecord | undefined;
  /** Every agent, for the areas already in use. */
  agents: () => readonly AgentRecord[];
  writer: Pick<StoreWriter, 'issueEnrollment'>;
  /** Re-reads the agents table after the new site is stored. */
  /** Re-reads the agents table now, so that a new site is in memory before the answer. */
  refreshAgents: () => Promise<unknown>;
  now: () => number;
  logger: Logger;
}

interface CodeRequest {
  id: string;
  lifetimeMs: number;
  /** Absent: a new code for the existing site `id`. */
  site?: Site;
}

class BodyError extends Error {
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super(message);
    this.parameter = parameter;
  }
}

function parseRequest(raw: unknown): CodeRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BodyError('body', 'expected a JSON object: {"id", "name", "kind", "technology", "isp", "area", "lat", "lon", "expires"}');
  const { id, expires, ...rest } = raw as Record<string, unknown>;
  if (typeof id !== 'string' || !AGENT_ID.test(id)) throw new BodyError('id', `id: expected ${AGENT_ID_RULE}, got ${JSON.stringify(id ?? null).slice(0, 120)}`);
  let lifetimeMs = DEFAULT_CODE_LIFETIME_MS;
  try {
    if (expires !== undefined) lifetimeMs = lifetimeSchema.parse(expires, 'expires');
    if (Object.keys(rest).length === 0) return { id, lifetimeMs };
    const site = siteSchema.parse(rest, '');
    if ((site.lat === undefined) !== (site.lon === undefined)) throw new BodyError('lat', 'lat and lon go together');
    return { id, lifetimeMs, site };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const known = (SITE_FIELDS as readonly string[]).includes(err.path) || err.path === 'expires';
    throw new BodyError(known ? err.path : err.path === '' ? 'body' : err.path, err.message);
  }
}

/** Runs the action; the caller has checked the method and who is asking. */
export async function handleEnrollmentCode(req: IncomingMessage, res: ServerResponse, deps: EnrollmentCodeDeps, via: 'bearer' | 'session'): Promise<void> {
  const text = await readBodyText(req, MAX_BODY_BYTES);
  if (text === undefined) return sendError(res, 400, 'SW_BAD_PARAMETER', `the body is over ${MAX_BODY_BYTES} bytes`, { parameter: 'body' });
  let request: CodeRequest;
  try {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new BodyError('body', 'the body is not JSON; send {"id", "name", "kind", "technology", …} for a new site, or {"id"} for a new code of an existing one');
    }
    request = parseRequest(raw);
  } catch (err) {
    if (err instanceof BodyError) return sendError(res, 400, 'SW_BAD_PARAMETER', err.message, { parameter: err.parameter });
    throw err;
  }
  const existing = deps.agent(request.id);
  let agent: NewAgent | undefined;
  let nearDuplicateOf: string | undefined;
  if (request.site === undefined) {
    if (existing === undefined || existing.revokedAt !== undefined) {
      return sendError(res, 404, 'SW_NOT_FOUND', `no active agent ${JSON.stringify(request.id)}; to add a site, send its name, kind and technology too`);
    }
  } else {
    if (existing !== undefined) return sendError(res, 409, 'SW_AGENT_EXISTS', `agent ${request.id} already exists; send {"id"} alone for a new code of that site`);
    const { site } = request;
    let area: string | undefined;
    if (site.area !== undefined) {
      const match = new AreaNames(deps.agents().flatMap((a) => (a.area === undefined ? [] : [a.area]))).match(site.area);
      area = match.area;
      nearDuplicateOf = match.nearDuplicateOf;
    }
    agent = {
      id: request.id,
      name: site.name,
      siteKind: site.kind,
      technology: site.technology,
      ...(site.isp === undefined ? {} : { isp: site.isp }),
      ...(area === undefined ? {} : { area }),
      ...(site.lat === undefined ? {} : { lat: site.lat }),
      ...(site.lon === undefined ? {} : { lon: site.lon }),
    };
  }
  const { code, codeHash } = newEnrollmentCode();
  const now = deps.now();
  const expiresAt = now + request.lifetimeMs;
  try {
    // Nobody is ever given this token: using the code sets the agent's real one.
    await deps.writer.issueEnrollment({ ...(agent === undefined ? {} : { add: { agent, tokenHash: hashToken(newToken()) } }), agentId: request.id, codeHash, now, expiresAt });
  } catch (err) {
    if (err instanceof StoreError && err.code === 'SW_AGENT_EXISTS') return sendError(res, 409, 'SW_AGENT_EXISTS', `agent ${request.id} already exists; send {"id"} alone for a new code of that site`);
    throw err;
  }
  await deps.refreshAgents();
  deps.logger.info({ event: 'enrollment-code-issued', agentId: request.id, added: agent !== undefined, via, expiresAt: new Date(expiresAt).toISOString() }, 'enrollment code issued through the API');
  const answer: EnrollmentCodeAnswer = {
    agentId: request.id,
    code,
    expiresAt: new Date(expiresAt).toISOString(),
    added: agent !== undefined,
    area: agent === undefined ? (existing?.area ?? null) : (agent.area ?? null),
    nearDuplicateOf: nearDuplicateOf ?? null,
  };
  sendJson(res, 201, answer);
}
