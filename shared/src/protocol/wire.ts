/**
 * Wire protocol v1 between agents and the collector, over one WebSocket per agent at
 * `/v1/agents` (see docs/protocol.md). Text frames, one JSON message each. The agent's identity
 * comes from its bearer token at the upgrade, never from a message.
 */
import type { ErrorCodeCarriedBy } from '../errors/error-codes.js';
import type { Schema } from '../validate/schema.js';
import { array, number, object, oneOf, optional, string } from '../validate/schema.js';
import type { Site } from './site.js';
import { siteSchema } from './site.js';

export const PROTOCOL_VERSION = 1;
export const AGENTS_PATH = '/v1/agents';

/** Agent → collector, first message: who is talking and what its clock says. */
export interface HelloMessage {
  type: 'hello';
  protocol: typeof PROTOCOL_VERSION;
  agent: { version: string; platform?: string; arch?: string; node?: string };
  /** The site as the agent's config describes it; the collector's record stays authoritative. */
  site?: Site;
  /** The agent's clock when it sent hello (ISO 8601 UTC), to measure clock skew. */
  clock: string;
  /** Results the agent holds unsent, and results its outbox dropped for lack of space. */
  backlog?: number;
  dropped?: number;
}

/** Agent → collector: a batch of results, each with its agent-made unique id. */
export interface ResultsMessage {
  type: 'results';
  /** Raw results; each is validated on its own, so one bad result does not sink the batch. */
  results: unknown[];
}

export type AgentMessage = HelloMessage | ResultsMessage;

/** Collector → agent, answer to hello. */
export interface WelcomeMessage {
  type: 'welcome';
  protocol: typeof PROTOCOL_VERSION;
  agentId: string;
  serverTime: string;
  limits: WireLimits;
}

/** Collector → agent: these ids are committed to disk (new or already stored). Forget them. */
export interface AckMessage {
  type: 'ack';
  ids: string[];
}

/** Codes of `reject` messages (docs/errors.md): why one result will never be accepted. */
export type RejectCode = ErrorCodeCarriedBy<'reject message'>;

/** Collector → agent: this result will never be accepted; move it to the dead-letter file. */
export interface RejectMessage {
  type: 'reject';
  id: string;
  code: RejectCode;
  message: string;
}

/** Codes of `error` messages (docs/errors.md): a frame not protocol, a limit hit, the store down. */
export type WireErrorCode = ErrorCodeCarriedBy<'error message'>;

/** Collector → agent: a frame that was not protocol, or a limit hit; nothing in it was stored. */
export interface ErrorMessage {
  type: 'error';
  code: WireErrorCode;
  message: string;
}

export type CollectorMessage = WelcomeMessage | AckMessage | RejectMessage | ErrorMessage;

export interface WireLimits {
  /** Largest frame accepted, in bytes; a larger one closes the connection with 1009. */
  maxFrameBytes: number;
  /** Most results in one `results` message. */
  maxBatch: number;
  /** Messages an agent may send per minute (a token bucket with this burst). */
  maxMessagesPerMinute: number;
}

/** WebSocket close codes the collector uses. */
export const CLOSE_CODES = {
  /** Normal closure (either side). */
  NORMAL: 1000,
  /** The collector is shutting down; reconnect with backoff. */
  GOING_AWAY: 1001,
  /** The agent broke the protocol repeatedly or flooded; reconnect with backoff. */
  POLICY_VIOLATION: 1008,
  /** A frame over maxFrameBytes. */
  MESSAGE_TOO_BIG: 1009,
  /** The collector failed (e.g. its database); reconnect with backoff. */
  INTERNAL_ERROR: 1011,
  /** The agent's token was revoked or rotated while connected; do not reconnect with it. */
  TOKEN_REVOKED: 4001,
  /** The agent speaks a protocol version this collector does not. */
  UNSUPPORTED_PROTOCOL: 4002,
  /** Another connection with the same token replaced this one. */
  REPLACED: 4003,
} as const;

const timestamp = string({
  pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/,
  patternName: 'an ISO 8601 UTC timestamp',
});

export const helloSchema: Schema<HelloMessage> = object({
  type: oneOf(['hello']),
  protocol: oneOf([PROTOCOL_VERSION]),
  agent: object({
    version: string({ minLength: 1, maxLength: 50 }),
    platform: optional(string({ maxLength: 50 })),
    arch: optional(string({ maxLength: 50 })),
    node: optional(string({ maxLength: 50 })),
  }),
  site: optional(siteSchema),
  clock: timestamp,
  backlog: optional(number({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true })),
  dropped: optional(number({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true })),
});

/** The batch envelope; `maxBatch` bounds its length. Each result is validated separately. */
export function resultsSchema(maxBatch: number): Schema<ResultsMessage> {
  return object({
    type: oneOf(['results']),
    results: array({ expected: 'a result object', parse: (v) => v }, { minItems: 1, maxItems: maxBatch }),
  });
}

