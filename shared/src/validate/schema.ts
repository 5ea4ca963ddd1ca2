/**
 * A small runtime validator: schemas that turn `unknown` into typed values or throw a
 * ValidationError naming the field path (`download.samplesMbps[3]`) and what was expected.
 * Objects reject unknown keys, so a typo in a config or a message is an error, not a no-op.
 */
import { ValidationError } from '../errors/speedwatch-error.js';

export interface Schema<T> {
  /** Returns the value typed, or throws ValidationError at `path`. */
  readonly parse: (value: unknown, path?: string) => T;
  /** Human words for what this schema accepts, used in error messages. */
  readonly expected: string;
}

/** Marks an object property that may be absent (never `undefined` when present). */
export interface OptionalSchema<T> extends Schema<T> {
  readonly optional: true;
}

type AnySchema = Schema<unknown> | OptionalSchema<unknown>;
type Shape = Record<string, AnySchema>;
type Out<S> = S extends Schema<infer T> ? T : never;
type Flatten<T> = { [K in keyof T]: T[K] } & {};
type ObjectOut<S extends Shape> = Flatten<
  { [K in keyof S as S[K] extends OptionalSchema<unknown> ? never : K]: Out<S[K]> } & {
    [K in keyof S as S[K] extends OptionalSchema<unknown> ? K : never]?: Out<S[K]>;
  }
>;

function fail(path: string, expected: string, value: unknown): never {
  throw new ValidationError(path, `${expected}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
}

export function number(rule: NumberRule = {}): Schema<number> {
  const words = [rule.integer === true ? 'an integer' : 'a finite number'];
  if (rule.min != null) words.push(`>= ${rule.min}`);
  if (rule.max != null) words.push(`<= ${rule.max}`);
  const expected = words.join(' ');
  return {
    expected,
    parse(value, path = '') {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, expected, value);
      if (rule.integer === true && !Number.isInteger(value)) fail(path, expected, value);
      if (rule.min != null && value < rule.min) fail(path, expected, value);
      if (rule.max != null && value > rule.max) fail(path, expected, value);
      return value;
    },
  };
}

export interface StringRule {
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** Words for the pattern, e.g. `an ISO 8601 timestamp`. */
  patternName?: string;
}

export function string(rule: StringRule = {}): Schema<string> {
  const { minLength, maxLength } = rule;
  const length =
    minLength != null && maxLength != null
      ? ` of ${minLength} to ${maxLength} characters`
      : minLength != null
        ? ` of at least ${minLength} characters`
        : maxLength != null
          ? ` of at most ${maxLength} characters`
          : '';
  const expected = rule.patternName ?? `a string${length}`;
  return {
    expected,
    parse(value, path = '') {
      if (typeof value !== 'string') fail(path, expected, value);
      if (rule.minLength != null && value.length < rule.minLength) fail(path, expected, value);
      if (rule.maxLength != null && value.length > rule.maxLength) fail(path, expected, value);
      if (rule.pattern !== undefined && !rule.pattern.test(value)) fail(path, expected, value);
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    expected: 'true or false',
    parse(value, path = '') {
      if (typeof value !== 'boolean') fail(path, 'true or false', value);
      return value;
    },
  };
}

export function oneOf<const T extends readonly (string | number)[]>(values: T): Schema<T[number]> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    expected,
    parse(value, path = '') {
      if (!values.includes(value as string | number)) fail(path, expected, value);
      return value as T[number];
    },
  };
}

export function array<T>(item: Schema<T>, rule: { minItems?: number; maxItems?: number } = {}): Schema<T[]> {
  const expected = `an array${rule.maxItems != null ? ` of at most ${rule.maxItems} items` : ''}${
    rule.minItems != null ? ` of at least ${rule.minItems} items` : ''
  }`;
  return {
    expected,
    parse(value, path = '') {
      if (!Array.isArray(value)) fail(path, expected, value);
      if (rule.maxItems != null && value.length > rule.maxItems) fail(path, expected, value);
      if (rule.minItems != null && value.length < rule.minItems) fail(path, expected, value);
      // Hot on ingest (sample arrays): no path string per element unless one is needed for an
      // error, in which case the element is parsed again with its path (parsing is deterministic).
      // An array whose elements all come back as they are (numbers, strings) is returned
      // itself rather than copied: a result's samples are most of its size.
      let out: T[] | undefined;
      for (let index = 0; index < value.length; index++) {
        let parsed: T;
        try {
          parsed = item.parse(value[index], '');
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          item.parse(value[index], `${path}[${index}]`);
          throw err; // not reached: the second parse throws with the full path
        }
        if (out === undefined && parsed !== value[index]) out = value.slice(0, index) as T[];
        out?.push(parsed);
      }
      return out ?? (value as T[]);
    },
  };
}

export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  return { ...schema, optional: true };
}

/** An object schema can also report every field's problem at once, for config files. */
export interface ObjectSchema<T> extends Schema<T> {
  /** One ValidationError per bad field (unknown, missing or malformed); empty when valid. */
  readonly problems: (value: unknown, path?: string) => ValidationError[];
}

export function object<S extends Shape>(shape: S): ObjectSchema<ObjectOut<S>> {
  const keys = Object.keys(shape);
  const expected = 'an object';
  return {
    expected,
    problems(value, path = '') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return [new ValidationError(path, `${expected}, got ${describe(value)}`)];
      }
      const found: ValidationError[] = [];
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(shape, key)) {
          found.push(new ValidationError(join(path, key), `one of ${keys.join(', ')}`, { message: `unknown field (known fields: ${keys.join(', ')})` }));
        }
      }
      for (const key of keys) {
        const schema = shape[key] as AnySchema;
        try {
          if (input[key] === undefined) {
            if (!('optional' in schema)) throw new ValidationError(join(path, key), `${schema.expected} (required)`);
          } else {
            schema.parse(input[key], join(path, key));
          }
        } catch (err) {
          if (err instanceof ValidationError) found.push(err);
          else throw err;
        }
      }
      return found;
    },
    parse(value, path = '') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, expected, value);
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(shape, key)) {
          const known = `one of ${keys.join(', ')}`;
          throw new ValidationError(join(path, key), known, { message: `unknown field (known fields: ${keys.join(', ')})` });
        }
      }
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const schema = shape[key] as AnySchema;
        const field = input[key];
        if (field === undefined) {
          if ('optional' in schema) continue;
          throw new ValidationError(join(path, key), `${schema.expected} (required)`);
        }
        out[key] = schema.parse(field, join(path, key));
      }
      return out as ObjectOut<S>;
    },
  };
}
