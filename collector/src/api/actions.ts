/**
 * The API's actions, behind the admin token (docs/fleet.md): `POST /api/v1/tests` asks agents
 * for a test now, `POST /api/v1/pause` and `/resume` stop and restart their testing. A body
 * names the agents: `{"agent": ID}`, or any of `{"area", "siteKind", "technology"}` (the area a
 * prefix at level boundaries, as in the fleet settings). An area's tests are spread over a
 * window so that its boxes do not all load one endpoint at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { durationMs, MAX_TEST_NOW_DELAY_MS, object, oneOf, optional, refine, SITE_KINDS, string, TECHNOLOGIES, ValidationError } from '@speedwatch/shared';
import type { SettingsMatch } from '../fleet/fleet-settings.js';
import { matchesAgent } from '../fleet/fleet-settings.js';
import type { AgentRecord } from '../store/store-types.js';
import type { StoreWriter } from '../writer/store-writer.js';
import { sendError, sendJson } from './api.js';
import { readBodyText } from '../server/request-body.js';

export const ACTION_PATHS = ['/api/v1/tests', '/api/v1/pause', '/api/v1/resume'] as const;
const MAX_BODY_BYTES = 4096;
/** An area's tests by default: one every 15 s (a test is 10 s), at most an hour in all. */
export const DEFAULT_SPREAD_PER_AGENT_MS = 15_000;

export interface ActionDeps {
  agents: () => AgentRecord[];
  connectedIds: () => ReadonlySet<string>;
  requestTest: (agentId: string, delayMs: number) => boolean;
  writer: Pick<StoreWriter, 'setPaused'>;
  /** Re-reads the agents table after a change (the agents are then sent their new settings). */
  /** Re-reads the agents table now, so that the change is in memory before the answer. */
  refreshAgents: () => Promise<unknown>;
  now: () => number;
  /** Uniform in [0, 1): the order of an area's tests. */
  random: () => number;
}

interface Selection extends SettingsMatch {
  spreadMs?: number;
}

const selectionSchema = refine(
  object({
    agent: optional(string({ minLength: 1, maxLength: 100 })),
    area: optional(string({ minLength: 1, maxLength: 400 })),
    siteKind: optional(oneOf(SITE_KINDS)),
    technology: optional(oneOf(TECHNOLOGIES)),
    spread: optional(durationMs(0, MAX_TEST_NOW_DELAY_MS)),
  }),
  (body, report) => {
    if (body.agent === undefined && body.area === undefined && body.siteKind === undefined && body.technology === undefined) {
      report('', 'agent, or any of area, siteKind, technology', 'name the agents: {"agent": ID} or any of {"area", "siteKind", "technology"}');
    }
  },
);

/** The body as a selection, or undefined once a 400 has been sent. */
async function selection(req: IncomingMessage, res: ServerResponse): Promise<Selection | undefined> {
  const text = await readBodyText(req, MAX_BODY_BYTES);
  if (text === undefined) {
    sendError(res, 400, 'SW_BAD_PARAMETER', `the body is over ${MAX_BODY_BYTES} bytes`, { parameter: 'body' });
    return undefined;
  }
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    sendError(res, 400, 'SW_BAD_PARAMETER', 'the body is not JSON; send {"agent": ID} or {"area": "province/district"}', { parameter: 'body' });
    return undefined;
  }
  try {
    const body = selectionSchema.parse(raw, '');
    return {
      ...(body.agent === undefined ? {} : { agent: body.agent }),
      ...(body.area === undefined ? {} : { area: body.area }),
      ...(body.siteKind === undefined ? {} : { siteKind: body.siteKind }),
      ...(body.technology === undefined ? {} : { technology: body.technology }),
      ...(body.spread === undefined ? {} : { spreadMs: body.spread }),
    };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    sendError(res, 400, 'SW_BAD_PARAMETER', err.message, { parameter: err.path === '' ? 'body' : err.path });
    return undefined;
  }
}

/** Runs the action at `path` (one of ACTION_PATHS); the caller has checked the method and the admin token. */
export async function handleAction(path: (typeof ACTION_PATHS)[number], req: IncomingMessage, res: ServerResponse, deps: ActionDeps): Promise<void> {
  const chosen = await selection(req, res);
  if (chosen === undefined) return;
  const { spreadMs, ...match } = chosen;
  const active = deps.agents().filter((a) => a.revokedAt === undefined);
  const agents = active.filter((a) => matchesAgent(match, a));
  if (agents.length === 0) {
    return sendError(res, 404, 'SW_NOT_FOUND', match.agent !== undefined ? `no active agent ${JSON.stringify(match.agent)}` : 'no active agent matches; check the area (a prefix of agents\' areas) and the filters');
  }
  if (path === '/api/v1/tests') return testNow(agents, spreadMs, res, deps);
  const ids = agents.map((a) => a.id);
  const changed = await deps.writer.setPaused(ids, path === '/api/v1/pause' ? deps.now() : undefined);
  await deps.refreshAgents();
  const changedSet = new Set(changed);
  sendJson(res, 200, { changed, unchanged: ids.filter((id) => !changedSet.has(id)) });
}

function testNow(agents: AgentRecord[], spreadMs: number | undefined, res: ServerResponse, deps: ActionDeps): void {
  const connected = deps.connectedIds();
  const paused = agents.filter((a) => a.pausedAt !== undefined).map((a) => a.id);
  const ready = agents.filter((a) => a.pausedAt === undefined && connected.has(a.id));
  const notConnected = agents.filter((a) => a.pausedAt === undefined && !connected.has(a.id)).map((a) => a.id);
  // Random order, evenly spaced: whichever boxes share an endpoint, they test one after another.
  for (let i = ready.length - 1; i > 0; i--) {
    const j = Math.floor(deps.random() * (i + 1));
    [ready[i], ready[j]] = [ready[j] as AgentRecord, ready[i] as AgentRecord];
  }
  const window = spreadMs ?? Math.min(MAX_TEST_NOW_DELAY_MS, Math.max(0, ready.length - 1) * DEFAULT_SPREAD_PER_AGENT_MS);
  const step = ready.length > 1 ? window / (ready.length - 1) : 0;
  const requested: { id: string; delayMs: number }[] = [];
  ready.forEach((agent, i) => {
    const delayMs = Math.round(i * step);
    if (deps.requestTest(agent.id, delayMs)) requested.push({ id: agent.id, delayMs });
    else notConnected.push(agent.id);
  });
  sendJson(res, 202, { requested, notConnected, paused, spreadMs: Math.round(window) });
}
