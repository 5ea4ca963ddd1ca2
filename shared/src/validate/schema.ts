/**
 * A small runtime validator: schemas that turn `unknown` into typed values or throw a
 * ValidationError naming the field path (`download.samplesMbps[3]`) and what was expected.
 * Objects reject unknown keys, so a typo in a config or a message is an error, not a no-op.
 *
 * Two ways to use a schema: `parse` stops at the first problem and is what hot paths use (a
 * result on ingest); `parseAll` lists every problem at once, each with its key path, and is
 * what configs and options use. `refine` adds checks across fields or items, `transform`
 * builds the final value (defaults, units), `select` picks a schema by looking at the value.
 */
import { ValidationError } from '../errors/speedwatch-error.js';

export interface Schema<T> {
  /** Returns the value typed, or throws ValidationError at `path`. */
  readonly parse: (value: unknown, path?: string) => T;
  /** Human words for what this schema accepts, used in error messages. */
  readonly expected: string;
  /**
   * On schemas with parts (object, array, refine, transform, select): goes on after a problem,
   * pushing one ValidationError per problem into `problems` (every field of an object, every
   * item of an array, every failed check). Returns what could be parsed: an object without its
   * bad fields, an array or a transformed value only when all of it was good; undefined when
   * nothing was. Leaf schemas leave it out: their one problem is the one `parse` throws.
   */
  readonly collect?: (value: unknown, path: string, problems: ValidationError[]) => T | undefined;
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

/** `key` appended to `path`: `a` + `b` is `a.b`, `a` + `[2]` is `a[2]`, and `''` on either side adds nothing. */
export function keyPath(path: string, key: string): string {
  if (key === '') return path;
  if (path === '') return key;
  return key.startsWith('[') ? `${path}${key}` : `${path}.${key}`;
}

/** True when one path is the other or lies inside it (`a.b` and `a`, `a[1]` and `a`). */
function overlaps(a: string, b: string): boolean {
  const inside = (inner: string, outer: string): boolean =>
    outer === '' || inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return inside(a, b) || inside(b, a);
}

/** `schema.collect`, or for a leaf schema its `parse` with the one problem it throws pushed. */
function collectWith<T>(schema: Schema<T>, value: unknown, path: string, problems: ValidationError[]): T | undefined {
  if (schema.collect !== undefined) return schema.collect(value, path, problems);
  try {
    return schema.parse(value, path);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems.push(err);
    return undefined;
  }
}

export interface NumberRule {
  min?: number;
  max?: number;
  /** Exclusive lower bound: the number must be above it (a rate of `> 0`). */
  greaterThan?: number;
  integer?: boolean;
}

export function number(rule: NumberRule = {}): Schema<number> {
  const words = [rule.integer === true ? 'an integer' : 'a finite number'];
  if (rule.greaterThan != null) words.push(`> ${rule.greaterThan}`);
  if (rule.min != null) words.push(`>= ${rule.min}`);
  if (rule.max != null) words.push(`<= ${rule.max}`);
  const expected = words.join(' ');
  return {
    expected,
    parse(value, path = '') {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, expected, value);
      if (rule.integer === true && !Number.isInteger(value)) fail(path, expected, value);
      if (rule.greaterThan != null && !(value > rule.greaterThan)) fail(path, expected, value);
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
    collect(value, path, problems) {
      if (!Array.isArray(value)) {
        problems.push(new ValidationError(path, `${expected}, got ${describe(value)}`));
        return undefined;
      }
      const before = problems.length;
      const tooLong = rule.maxItems != null && value.length > rule.maxItems;
      if (tooLong || (rule.minItems != null && value.length < rule.minItems)) {
        problems.push(new ValidationError(path, `${expected}, got ${value.length} items`));
      }
      const out: T[] = [];
      for (let index = 0; index < value.length; index++) {
        const parsed = collectWith(item, value[index], `${path}[${index}]`, problems);
        if (parsed !== undefined) out.push(parsed);
      }
      return problems.length === before ? out : undefined;
    },
  };
}

export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  return { ...schema, optional: true };
}

/** An object schema can also report every field's problem at once, for config files. */
export interface ObjectSchema<T> extends Schema<T> {
  readonly collect: (value: unknown, path: string, problems: ValidationError[]) => T | undefined;
  /** One ValidationError per bad field (unknown, missing or malformed, nested ones field by field); empty when valid. */
  readonly problems: (value: unknown, path?: string) => ValidationError[];
}

export function object<S extends Shape>(shape: S): ObjectSchema<ObjectOut<S>> {
  const keys = Object.keys(shape);
  const expected = 'an object';
  const collect = (value: unknown, path: string, problems: ValidationError[]): ObjectOut<S> | undefined => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(new ValidationError(path, `${expected}, got ${describe(value)}`));
      return undefined;
    }
    const input = value as Record<string, unknown>;
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(shape, key)) {
        problems.push(new ValidationError(join(path, key), `one of ${keys.join(', ')}`, { message: `unknown field (known fields: ${keys.join(', ')})` }));
      }
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const schema = shape[key] as AnySchema;
      if (input[key] === undefined) {
        if (!('optional' in schema)) problems.push(new ValidationError(join(path, key), `${schema.expected} (required)`));
        continue;
      }
      const parsed = collectWith(schema, input[key], join(path, key), problems);
      if (parsed !== undefined) out[key] = parsed;
    }
    return out as ObjectOut<S>;
  };
  return {
    expected,
    collect,
    problems(value, path = '') {
      const found: ValidationError[] = [];
      collect(value, path, found);
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

/** Every part of `T` optional, down through plain objects (arrays, functions and leaves kept whole). */
export type DeepPartial<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly unknown[]
    ? T
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/**
 * How a `refine` check reports a problem: at `key`, relative to the checked value (`''` for the
 * value itself, `maxBackoff`, `[2]`, `a.b`); `expected` says what must hold there, and `message`
 * replaces the default `expected …` words after the path.
 */
export type Report = (key: string, expected: string, message?: string) => void;

/** A check on a value its schema accepted; `path` is that value's path, for messages naming another key. */
export type Check<T> = (value: T, report: Report, path: string) => void;

/**
 * `schema` plus a check across its fields or items (two keys given together, names unique, one
 * bound under another). The check reports every problem it finds; `parse` throws the first,
 * `parseAll` lists them with the others. The check runs once the value is valid; with `needs`
 * (key paths relative to the value) it also runs when only those keys are, on the value with
 * the bad parts left out, so a problem elsewhere does not hide the check's: `needs` keys that
 * are absent were not given, never bad.
 */
export function refine<S extends Schema<unknown>>(schema: S, check: Check<Out<S>>): S;
export function refine<S extends Schema<unknown>>(schema: S, needs: readonly string[], check: Check<DeepPartial<Out<S>>>): S;
export function refine<S extends Schema<unknown>>(
  schema: S,
  ...args: [Check<Out<S>>] | [readonly string[], Check<DeepPartial<Out<S>>>]
): S {
  const needs = args.length === 1 ? undefined : args[0];
  const check = (args.length === 1 ? args[0] : args[1]) as Check<unknown>;
  const parse = (value: unknown, path = ''): unknown => {
    const out = schema.parse(value, path);
    check(out, (key, expected, message) => {
      throw new ValidationError(keyPath(path, key), expected, message === undefined ? undefined : { message });
    }, path);
    return out;
  };
  const collect = (value: unknown, path: string, problems: ValidationError[]): unknown => {
    const before = problems.length;
    const out = collectWith(schema, value, path, problems);
    if (out === undefined) return undefined;
    const found = problems.slice(before);
    const blocked = needs === undefined ? found.length > 0 : found.some((p) => needs.some((key) => overlaps(p.path, keyPath(path, key))));
    if (!blocked) {
      check(out, (key, expected, message) => {
        problems.push(new ValidationError(keyPath(path, key), expected, message === undefined ? undefined : { message }));
      }, path);
    }
    return out;
  };
  const problems = (value: unknown, path = ''): ValidationError[] => {
    const found: ValidationError[] = [];
    collect(value, path, found);
    return found;
  };
  // Whatever else `schema` carries (`optional`) stays; an object schema's `problems` sees the check.
  return { ...schema, parse, collect, ...('problems' in schema ? { problems } : {}) };
}

/**
 * A schema whose value is `build` of what `schema` accepted: defaults filled in, a richer type
 * made. `build` must not throw; checks belong in `refine`, before.
 */
export function transform<T, U>(schema: Schema<T>, build: (value: T) => U): Schema<U> {
  return {
    expected: schema.expected,
    parse: (value, path = '') => build(schema.parse(value, path)),
    collect(value, path, problems) {
      const before = problems.length;
      const out = collectWith(schema, value, path, problems);
      return out === undefined || problems.length > before ? undefined : build(out);
    },
  };
}

/**
 * A schema chosen by looking at the raw value, for values of several shapes told apart by a
 * field or a type (`{metric: "latency", maxMs}` or `{metric: "download", minMbps}`; `"7d"` or
 * `{name, ms}`), so that a problem names the fields of the shape that was meant.
 */
export function select<T>(expected: string, pick: (value: unknown) => Schema<T>): Schema<T> {
  return {
    expected,
    parse: (value, path = '') => pick(value).parse(value, path),
    collect: (value, path, problems) => collectWith(pick(value), value, path, problems),
  };
}

/** A value recognised by `test` rather than by its data: a logger, a function, a Buffer in an options object. */
export function custom<T>(expected: string, test: (value: unknown) => value is T): Schema<T> {
  return {
    expected,
    parse(value, path = '') {
      if (!test(value)) fail(path, expected, value);
      return value;
    },
  };
}

/** What `parseAll` found: the value when there was no problem; otherwise every problem, and what could be parsed. */
export type ParseAllResult<T> =
  | { value: T; partial: T; problems: [] }
  | { value: undefined; partial: DeepPartial<T> | undefined; problems: ValidationError[] };

/**
 * Parses `raw` with `schema`; when that fails, lists every problem at once (each message
 * starts with its key path), and returns as `partial` what did parse, for checks that need
 * the good parts (reading a file a valid key names) to run in the same round.
 */
export function parseAll<T>(schema: Schema<T>, raw: unknown, path = ''): ParseAllResult<T> {
  try {
    const value = schema.parse(raw, path);
    return { value, partial: value, problems: [] };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const problems: ValidationError[] = [];
    const partial = collectWith(schema, raw, path, problems) as DeepPartial<T> | undefined;
    return { value: undefined, partial, problems: problems.length > 0 ? problems : [err] };
  }
}
