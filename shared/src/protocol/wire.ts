/**
 * Wire protocol v1 between agents and the collector, over one WebSocket per agent at
 * `/v1/agents` (see docs/protocol.md). Text frames, one JSON message each. The agent's identity
 * comes from its bearer token at the upgrade, never from a message.
 */
import type { ErrorCodeCarriedBy } from '../errors/error-codes.js';
import type { ResultStatus } from '../result/result.js';
import { RESULT_STATUSES } from '../result/result.js';
import { ValidationError } from '../errors/speedwatch-error.js';
import type { Schema } from '../validate/schema.js';
import { array, number, object, oneOf, optional, refine, string } from '../validate/schema.js';
import type { AgentSettings } from './agent-settings.js';
import { agentSettingsSchema } from './agent-settings.js';
import { agentVersionSchema, releaseBytesSchema, releasePathSchema, sha256Schema } from './release.js';
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

/** Agent → collector: the settings of this version are stored on the box and used from its next test. */
export interface ConfigAppliedMessage {
  type: 'config-applied';
  version: string;
}

/**
 * Agent → collector, right after `welcome` and every few minutes (docs/protocol.md#health): how
 * the box is doing. Every figure but the clock, the version and the outbox is optional: a
 * figure the agent could not read is left out, never guessed.
 */
export interface HealthMessage {
  type: 'health';
  /** The agent's clock when it sent the message (ISO 8601 UTC), to measure clock skew. */
  clock: string;
  agent: { version: string; platform?: string; arch?: string; node?: string };
  /** Seconds the agent daemon has been running. */
  uptimeSeconds?: number;
  /** Seconds the box has been up (since boot). */
  systemUptimeSeconds?: number;
  /** Results in the outbox not yet acked. */
  backlog: number;
  /** Results the outbox dropped for lack of space, in total (it survives restarts). */
  dropped: number;
  /** The latest test the daemon ran since it started; absent before its first. */
  lastTest?: HealthLastTest;
  /** Tests in a row, up to the latest, whose status was `failed` (0 after any other). */
  failedTestsInARow?: number;
  /** When the latest `ok` test since the daemon started finished (ISO 8601 UTC). */
  lastOkTestAt?: string;
  /** Bytes free to the agent in its data directory's file system (statfs: blocks available × block size). */
  diskFreeBytes?: number;
  /** The CPU's temperature, °C, where the box has a thermal zone for it. */
  cpuTemperatureCelsius?: number;
  /** The data the box's tests used this month, and its monthly budget when it has one (docs/agent.md, "Metered links"). */
  dataUsage?: HealthDataUsage;
}

/** A month's data use as `health` reports it. Bytes as the result's `usage` counts them. */
export interface HealthDataUsage {
  /** `YYYY-MM` in the budget's time zone (the box's own when it has no budget). */
  month: string;
  usedBytes: number;
  budgetBytes?: number;
}

/** The latest test, as `health` reports it. */
export interface HealthLastTest {
  status: ResultStatus;
  /** The result's finishedAt (ISO 8601 UTC). */
  finishedAt: string;
  /** The result's first error code, when it has one (any well-formed SW_ code: the agent may be newer). */
  errorCode?: string;
}

export type AgentMessage = HelloMessage | ResultsMessage | HealthMessage | ConfigAppliedMessage;

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

/**
 * Collector → agent, after `welcome` and whenever they change: the agent's settings (the site
 * it stands for, schedule, endpoints, test parameters). Answered by `config-applied`.
 */
export interface ConfigMessage {
  type: 'config';
  settings: AgentSettings;
}

/**
 * Collector → agent: run a test `delayMs` from now, outside the schedule (an operator's "test
 * now"; an area's agents get spread delays). Ignored while a test runs or the agent is paused.
 */
export interface TestNowMessage {
  type: 'test-now';
  delayMs: number;
}

/** The longest `test-now` delay: an hour. */
export const MAX_TEST_NOW_DELAY_MS = 3_600_000;

/**
 * Collector → agent, after `config` when the fleet config names an agent version for this agent
 * (`agentVersion`, docs/fleet.md "Upgrades"), and again whenever that changes: the release to
 * run. The agent downloads `path` from the collector with its token, checks the size and the
 * SHA-256 given here, and installs it if its `autoUpgrade` is on. Not answered. A new message
 * type rather than a field of `config`, so that agents that do not know it ignore it.
 */
export interface UpgradeMessage {
  type: 'upgrade';
  /** The version to run, e.g. `0.2.0`. */
  version: string;
  /** SHA-256 of the tarball, lowercase hex. */
  sha256: string;
  /** Where the collector serves it, e.g. `/v1/releases/speedwatch-agent-0.2.0.tgz`. */
  path: string;
  /** The tarball's size in bytes. */
  bytes: number;
}

export type CollectorMessage = WelcomeMessage | AckMessage | RejectMessage | ErrorMessage | ConfigMessage | TestNowMessage | UpgradeMessage;

/** The `type`s of CollectorMessage, the messages this version of the protocol knows. */
export const COLLECTOR_MESSAGE_TYPES = ['welcome', 'ack', 'reject', 'error', 'config', 'test-now', 'upgrade'] as const;

/**
 * What `parseCollectorMessage` returns for a well-formed message type this version does not
 * know, probably from a newer collector: to be logged and ignored. Nothing else of it is read.
 */
export interface UnknownCollectorMessage {
  type: 'unknown';
  /** The message's `type` as received: 1 to 32 lowercase letters, digits, `_` or `-`. */
  received: string;
}

export interface WireLimits {
  /** Largest frame accepted, in bytes; a larger one closes the connection with 1009. */
  maxFrameBytes: number;
  /** Most results in one `results` message. */
  maxBatch: number;
  /** Messages an agent may send per minute (a token bucket with this burst). */
  maxMessagesPerMinute: number;
}

/**
 * The range of each limit, inclusive: what the collector's config accepts, and what an agent
 * accepts in `welcome` (anything else is a broken or hostile collector).
 */
export const WIRE_LIMIT_RANGES = {
  /** Bytes: 1 KiB to 64 MiB. */
  maxFrameBytes: { min: 1024, max: 64 * 1024 * 1024 },
  maxBatch: { min: 1, max: 10_000 },
  maxMessagesPerMinute: { min: 1, max: 1_000_000 },
} as const;

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

/** A timestamp that is also a real instant (the pattern alone admits month 13): what a figure is computed from. */
const instant = refine(timestamp, (value, report) => {
  if (!Number.isFinite(Date.parse(value))) report('', 'a date and time that exist');
});

const agentSoftware = object({
  version: string({ minLength: 1, maxLength: 50 }),
  platform: optional(string({ maxLength: 50 })),
  arch: optional(string({ maxLength: 50 })),
  node: optional(string({ maxLength: 50 })),
});

const outboxCount = number({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });

export const helloSchema: Schema<HelloMessage> = object({
  type: oneOf(['hello']),
  protocol: oneOf([PROTOCOL_VERSION]),
  agent: agentSoftware,
  site: optional(siteSchema),
  clock: timestamp,
  backlog: optional(outboxCount),
  dropped: optional(outboxCount),
});

/** `welcome.limits`: every limit present, a whole number within WIRE_LIMIT_RANGES. */
export const wireLimitsSchema: Schema<WireLimits> = object({
  maxFrameBytes: number({ ...WIRE_LIMIT_RANGES.maxFrameBytes, integer: true }),
  maxBatch: number({ ...WIRE_LIMIT_RANGES.maxBatch, integer: true }),
  maxMessagesPerMinute: number({ ...WIRE_LIMIT_RANGES.maxMessagesPerMinute, integer: true }),
});

/** An id in `ack`: at most 64 characters, like result ids (one that is no result's id is never in flight). */
const ackedId = string({ minLength: 1, maxLength: 64 });
/**
 * An error code: `SW_` and capitals, digits or `_`, 64 characters at most (docs/errors.md).
 * Strict because it goes into logs and the dead-letter file as it is.
 */
const errorCode = string({ pattern: /^SW_[A-Z0-9_]{1,61}$/, patternName: 'an error code (SW_ and up to 61 capitals, digits or _)' });
/** Words from the collector for people: validation messages name a field path, so allow a few lines. */
const humanMessage = string({ maxLength: 2000 });

/** Bounds of `health`'s figures: wide enough for any real box, narrow enough to refuse garbage. */
export const HEALTH_RANGES = {
  /** Seconds: 0 to about 317 years. */
  uptimeSeconds: { min: 0, max: 10_000_000_000 },
  /** Bytes: 0 to 2^53 − 1 (8 PiB). */
  diskFreeBytes: { min: 0, max: Number.MAX_SAFE_INTEGER },
  /** °C: what a sensor can report, from a frozen box to a broken one. */
  cpuTemperatureCelsius: { min: -100, max: 250 },
  failedTestsInARow: { min: 0, max: 1_000_000_000 },
} as const;

export const healthSchema: Schema<HealthMessage> = object({
  type: oneOf(['health']),
  clock: instant,
  agent: agentSoftware,
  uptimeSeconds: optional(number(HEALTH_RANGES.uptimeSeconds)),
  systemUptimeSeconds: optional(number(HEALTH_RANGES.uptimeSeconds)),
  backlog: outboxCount,
  dropped: outboxCount,
  lastTest: optional(
    object({
      status: oneOf(RESULT_STATUSES),
      finishedAt: instant,
      errorCode: optional(errorCode),
    }),
  ),
  failedTestsInARow: optional(number({ ...HEALTH_RANGES.failedTestsInARow, integer: true })),
  lastOkTestAt: optional(instant),
  diskFreeBytes: optional(number({ ...HEALTH_RANGES.diskFreeBytes, integer: true })),
  cpuTemperatureCelsius: optional(number(HEALTH_RANGES.cpuTemperatureCelsius)),
  dataUsage: optional(
    object({
      month: string({ pattern: /^\d{4}-(0[1-9]|1[0-2])$/, patternName: 'a month as YYYY-MM' }),
      usedBytes: number({ ...HEALTH_RANGES.diskFreeBytes, integer: true }),
      budgetBytes: optional(number({ ...HEALTH_RANGES.diskFreeBytes, integer: true })),
    }),
  ),
});

export const welcomeSchema: Schema<WelcomeMessage> = object({
  type: oneOf(['welcome']),
  protocol: oneOf([PROTOCOL_VERSION]),
  // The collector's ids are lowercase (`agents add --id`); printable ASCII is all this side needs.
  agentId: string({ pattern: /^[\x21-\x7e]{1,100}$/, patternName: 'an agent id of 1 to 100 printable ASCII characters' }),
  serverTime: timestamp,
  limits: wireLimitsSchema,
});

/** An ack names the results of one batch at most, so no more ids than the largest `maxBatch`. */
export const ackSchema: Schema<AckMessage> = object({
  type: oneOf(['ack']),
  ids: array(ackedId, { maxItems: WIRE_LIMIT_RANGES.maxBatch.max }),
});

/**
 * `reject` and `error` as an agent receives them: the code is any well-formed SW_ code, since a
 * newer collector may send one this version's registry does not know (it is logged and
 * dead-lettered as sent).
 */
export type ReceivedRejectMessage = Omit<RejectMessage, 'code'> & { code: string };
export type ReceivedErrorMessage = Omit<ErrorMessage, 'code'> & { code: string };
/** A collector message as an agent receives it (parseCollectorMessage). */
export type ReceivedCollectorMessage = WelcomeMessage | AckMessage | ReceivedRejectMessage | ReceivedErrorMessage | ConfigMessage | TestNowMessage | UpgradeMessage;

export const testNowSchema: Schema<TestNowMessage> = object({
  type: oneOf(['test-now']),
  delayMs: number({ min: 0, max: MAX_TEST_NOW_DELAY_MS, integer: true }),
});

export const configMessageSchema: Schema<ConfigMessage> = object({
  type: oneOf(['config']),
  settings: agentSettingsSchema,
});

export const upgradeMessageSchema: Schema<UpgradeMessage> = object({
  type: oneOf(['upgrade']),
  version: agentVersionSchema,
  sha256: sha256Schema,
  path: releasePathSchema,
  bytes: releaseBytesSchema,
});

export const configAppliedSchema: Schema<ConfigAppliedMessage> = object({
  type: oneOf(['config-applied']),
  version: string({ pattern: /^[A-Za-z0-9._-]{1,64}$/, patternName: 'a settings version' }),
});

export const rejectSchema: Schema<ReceivedRejectMessage> = object({
  type: oneOf(['reject']),
  // The result's id cut to 64 characters, or `#<index>` for a result without a string id.
  id: string({ maxLength: 64 }),
  code: errorCode,
  message: humanMessage,
});

export const errorMessageSchema: Schema<ReceivedErrorMessage> = object({
  type: oneOf(['error']),
  code: errorCode,
  message: humanMessage,
});

/** What a message type from a newer collector must look like to be ignored rather than refused. */
const FUTURE_TYPE = /^[a-z][a-z0-9_-]{0,31}$/;
const TYPE_EXPECTED = `one of ${COLLECTOR_MESSAGE_TYPES.map((t) => JSON.stringify(t)).join(', ')}, or a future type of 1 to 32 lowercase letters, digits, _ or -`;

/**
 * Turns a parsed JSON value from the collector into a typed message. A message of a type this
 * version does not know, but that looks like one (1 to 32 lowercase letters, digits, `_` or
 * `-`, starting with a letter), comes back as `UnknownCollectorMessage`; anything else that is
 * not a valid message throws a ValidationError whose `path` names the field (`ack.ids[3]`,
 * `welcome.limits.maxBatch`; `type` when there is no usable type, `''` for a non-object).
 */
export function parseCollectorMessage(value: unknown): ReceivedCollectorMessage | UnknownCollectorMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('', 'a message object', { message: `expected a message object, got ${kindOf(value)}` });
  }
  const type = (value as { type?: unknown }).type;
  switch (type) {
    case 'welcome':
      return welcomeSchema.parse(value, 'welcome');
    case 'ack':
      return ackSchema.parse(value, 'ack');
    case 'reject':
      return rejectSchema.parse(value, 'reject');
    case 'error':
      return errorMessageSchema.parse(value, 'error');
    case 'config':
      return configMessageSchema.parse(value, 'config');
    case 'test-now':
      return testNowSchema.parse(value, 'test-now');
    case 'upgrade':
      return upgradeMessageSchema.parse(value, 'upgrade');
  }
  if (typeof type === 'string' && FUTURE_TYPE.test(type)) return { type: 'unknown', received: type };
  throw new ValidationError('type', TYPE_EXPECTED, { message: `expected ${TYPE_EXPECTED}, got ${kindOf(type)}` });
}

/** What a value is, in a few words that never repeat a received string. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** The batch envelope; `maxBatch` bounds its length. Each result is validated separately. */
export function resultsSchema(maxBatch: number): Schema<ResultsMessage> {
  return object({
    type: oneOf(['results']),
    results: array({ expected: 'a result object', parse: (v) => v }, { minItems: 1, maxItems: maxBatch }),
  });
}

