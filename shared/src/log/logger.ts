/**
 * Structured logs: one JSON object a line, pino's shape (`level`, `time`, `msg`, bindings),
 * so the usual tools (jq, pino-pretty, Loki) read them. Written here rather than depending on
 * pino because the agent and the endpoint log a few lines a minute and must stay small.
 */

export const LOG_LEVELS = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  /** A logger whose lines all carry `bindings`, e.g. `{ component: 'endpoint', connId }`. */
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stderr so that stdout stays free for a CLI's output. */
  write?: (line: string) => void;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  bindings?: Record<string, unknown>;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(LOG_LEVELS, value);
}

/** True for an object with the Logger methods (for options that take a logger). */
export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error', 'child'].every((name) => typeof candidate[name] === 'function');
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? Date.now;
  const make = (bindings: Record<string, unknown>): Logger => {
    const emit = (level: Exclude<LogLevel, 'silent'>, obj: object | string, msg?: string): void => {
      if (LOG_LEVELS[level] < threshold) return;
      const fields = typeof obj === 'string' ? {} : serialiseFields(obj);
      const text = typeof obj === 'string' ? obj : msg;
      const line = { level: LOG_LEVELS[level], time: now(), ...bindings, ...fields, msg: text ?? '' };
      write(`${JSON.stringify(line)}\n`);
    };
    return {
      debug: (obj, msg) => emit('debug', obj, msg),
      info: (obj, msg) => emit('info', obj, msg),
      warn: (obj, msg) => emit('warn', obj, msg),
      error: (obj, msg) => emit('error', obj, msg),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make(options.bindings ?? {});
}

/** Errors do not survive JSON.stringify: each Error value among the fields becomes serialiseError's shape. */
function serialiseFields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    out[key] = value instanceof Error ? serialiseError(value) : value;
  }
  return out;
}

/** Levels of causes and aggregated errors followed below the logged error, at most. */
const MAX_CAUSE_DEPTH = 8;
/** Errors, causes and aggregated errors serialised for one logged error, at most. */
const MAX_ERRORS = 32;
/** Errors of an AggregateError serialised, at most; a last entry says how many were left out. */
const MAX_AGGREGATED = 10;
/** A string field longer than this is cut (messages and stacks are kept whole). */
const MAX_FIELD_CHARS = 1000;
/**
 * Words of field names never copied from an error, whatever the value: such a field may carry a
 * URL, headers, a body or a credential beyond what the message says (undici's ResponseError has
 * `body` and `headers`; an error may keep the request's `url`). The message is the error's
 * public words; its emitter keeps secrets out of it.
 */
const UNSAFE_WORDS = new Set(['url', 'uri', 'href', 'header', 'headers', 'auth', 'authorization', 'token', 'secret', 'password', 'passwd', 'cookie', 'credentials', 'body', 'key', 'apikey']);

/** True for a field named with an unsafe word, in any case or part: `url`, `rawHeaders`, `readToken`, `api_key`. */
function unsafeField(key: string): boolean {
  return key.split(/[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])/).some((word) => UNSAFE_WORDS.has(word.toLowerCase()));
}
/** Fields an error's shape sets itself or walks separately, so not copied as they are. */
const ERROR_SHAPE = new Set(['type', 'message', 'stack', 'code', 'name', 'cause', 'errors', 'aggregateErrors']);
/** Fields a cause that is not an Error never gives: it has no shape of its own. */
const NO_FIELDS = new Set<string>();

interface Walk {
  /** The errors between the logged one and here, to tell a cycle from a repeat. */
  readonly path: Set<object>;
  /** Errors that may still be serialised. */
  left: number;
}

/**
 * pino's `err` shape (pino-std-serializers' errWithCause): `type` (the error's name),
 * `message`, `stack`, `code` when there is one, the error's other own enumerable fields that
 * are primitives and not named like a secret (`unsafeField`), `cause` serialised the same way,
 * and an AggregateError's `errors` as `aggregateErrors`. A cause that is not an Error is kept if
 * it is a primitive, or as its safe primitive fields if it is an object. Bounded: a cycle
 * becomes `'[Circular]'`, and past MAX_CAUSE_DEPTH levels or MAX_ERRORS errors the rest is
 * `'[Truncated]'`.
 */
function serialiseError(err: Error): Record<string, unknown> {
  return errorShape(err, 0, { path: new Set(), left: MAX_ERRORS });
}

function errorShape(err: Error, depth: number, walk: Walk): Record<string, unknown> {
  walk.left--;
  const out: Record<string, unknown> = { type: String(err.name), message: String(err.message) };
  if (typeof err.stack === 'string') out['stack'] = err.stack;
  const code = safeValue((err as { code?: unknown }).code);
  if (code !== undefined) out['code'] = code;
  Object.assign(out, safeFields(err, ERROR_SHAPE));
  walk.path.add(err);
  if (err.cause !== undefined) out['cause'] = nested(err.cause, depth + 1, walk);
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    const shown = errors.slice(0, MAX_AGGREGATED).map((e: unknown) => nested(e, depth + 1, walk));
    out['aggregateErrors'] = errors.length > MAX_AGGREGATED ? [...shown, `[${errors.length - MAX_AGGREGATED} more]`] : shown;
  }
  walk.path.delete(err);
  return out;
}

/** A cause or an aggregated error. */
function nested(value: unknown, depth: number, walk: Walk): unknown {
  if (typeof value !== 'object' || value === null) return safeValue(value) ?? null;
  if (walk.path.has(value)) return '[Circular]';
  if (depth > MAX_CAUSE_DEPTH || walk.left <= 0) return '[Truncated]';
  if (value instanceof Error) return errorShape(value, depth, walk);
  walk.left--;
  return safeFields(value, NO_FIELDS);
}

/** The own enumerable fields of `value` that are primitives, not named like a secret, and not in `skip`. */
function safeFields(value: object, skip: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (skip.has(key) || unsafeField(key)) continue;
    let field: unknown;
    try {
      field = (value as Record<string, unknown>)[key];
    } catch {
      continue; // a getter that throws: logging must not
    }
    const safe = safeValue(field);
    if (safe !== undefined) out[key] = safe;
  }
  return out;
}

/** A primitive as JSON can hold it, long strings cut; undefined for anything else. */
function safeValue(value: unknown): string | number | boolean | null | undefined {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_FIELD_CHARS ? `${value.slice(0, MAX_FIELD_CHARS)}…` : value;
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    default:
      return value === null ? null : undefined;
  }
}
