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

/** Errors do not survive JSON.stringify; keep what helps an operator: type, code, message. */
function serialiseFields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    out[key] = value instanceof Error ? serialiseError(value) : value;
  }
  return out;
}

function serialiseError(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(code === undefined ? {} : { code }) };
}
