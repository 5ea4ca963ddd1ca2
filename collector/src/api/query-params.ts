/** Query-string parameters of the JSON API, each validated with an error naming it. */
import { parseDurationMs, SpeedwatchError } from '@speedwatch/shared';

export class BadParameterError extends SpeedwatchError {
  declare readonly code: 'SW_BAD_PARAMETER';
  readonly parameter: string;

  constructor(parameter: string, message: string) {
    super('SW_BAD_PARAMETER', `${parameter}: ${message}`);
    this.name = 'BadParameterError';
    this.parameter = parameter;
  }
}

export class Params {
  readonly #search: URLSearchParams;
  readonly #allowed: ReadonlySet<string>;

  constructor(search: URLSearchParams, allowed: readonly string[]) {
    this.#search = search;
    this.#allowed = new Set(allowed);
    for (const key of search.keys()) {
      if (!this.#allowed.has(key)) throw new BadParameterError(key, `unknown parameter (this endpoint takes ${allowed.join(', ') || 'none'})`);
    }
  }

  string(name: string, maxLength = 200): string | undefined {
    const values = this.#search.getAll(name);
    if (values.length > 1) throw new BadParameterError(name, 'given more than once');
    const value = values[0];
    if (value === undefined) return undefined;
    if (value === '' || value.length > maxLength) throw new BadParameterError(name, `expected 1 to ${maxLength} characters`);
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) throw new BadParameterError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    return value as T;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) throw new BadParameterError(name, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return n;
  }

  /** A time: ISO 8601, or Unix milliseconds. */
  time(name: string): number | undefined {
    const value = this.string(name, 64);
    if (value === undefined) return undefined;
    const ms = /^\d{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
    if (!Number.isFinite(ms)) throw new BadParameterError(name, `expected an ISO 8601 time (2025-01-31T00:00:00Z) or Unix milliseconds, got ${JSON.stringify(value)}`);
    return ms;
  }

  duration(name: string, minMs: number, maxMs: number): number | undefined {
    const value = this.string(name, 32);
    if (value === undefined) return undefined;
    const ms = parseDurationMs(value);
    if (ms === undefined || ms < minMs || ms > maxMs) throw new BadParameterError(name, `expected a duration like 1h or 15m from ${minMs} ms to ${maxMs} ms, got ${JSON.stringify(value)}`);
    return ms;
  }
}
