/** The schema library's ways of listing every problem at once: nested objects, arrays of objects, checks across fields. */
import { describe, expect, it } from 'vitest';
import { array, number, object, oneOf, optional, parseAll, refine, select, string, transform, ValidationError } from '../src/index.js';

const paths = (problems: readonly { path: string }[]): string[] => problems.map((p) => p.path);

const delivery = refine(
  object({ backoff: optional(number({ min: 0 })), maxBackoff: optional(number({ min: 0 })) }),
  (d, report, path) => {
    if (d.backoff !== undefined && d.maxBackoff !== undefined && d.maxBackoff < d.backoff) report('maxBackoff', `at least ${path}.backoff`);
  },
);
const names = refine(array(object({ name: string({ minLength: 1 }), size: number({ integer: true }) })), (items, report) => {
  items.forEach((item, index) => {
    if (items.findIndex((other) => other.name === item.name) !== index) report(`[${index}].name`, 'a name not used before');
  });
});
const config = refine(
  object({ port: optional(number({ min: 0, max: 65535 })), delivery: optional(delivery), items: optional(names), pick: optional(string()) }),
  ['items', 'pick'],
  (c, report) => {
    if (c.pick !== undefined && !(c.items ?? []).some((item) => item.name === c.pick)) report('pick', 'the name of one of the items');
  },
);

describe('schemas', () => {
  describe('parseAll', () => {
    it('returns the value and no problem when it is valid', () => {
      const outcome = parseAll(config, { port: 80, items: [{ name: 'a', size: 1 }], pick: 'a' });
      expect(outcome.problems).toEqual([]);
      expect(outcome.value).toEqual({ port: 80, items: [{ name: 'a', size: 1 }], pick: 'a' });
    });

    it.each<[string, unknown, string[]]>([
      ['nested fields, field by field', { delivery: { backoff: -1, maxBackoff: 'x', extra: 1 } }, ['delivery.extra', 'delivery.backoff', 'delivery.maxBackoff']],
      ['the items of an array of objects', { items: [{ name: '', size: 1.5 }, { size: 2 }] }, ['items[0].name', 'items[0].size', 'items[1].name']],
      ['a failed check beside a bad field', { port: -1, delivery: { backoff: 10, maxBackoff: 1 } }, ['port', 'delivery.maxBackoff']],
      ['every repeated item', { items: [{ name: 'a', size: 1 }, { name: 'a', size: 2 }, { name: 'a', size: 3 }] }, ['items[1].name', 'items[2].name']],
      ['a check across keys while another key is bad', { port: 'http', items: [{ name: 'a', size: 1 }], pick: 'b' }, ['port', 'pick']],
      ['a value of the wrong type', 'x', ['']],
    ])('lists %s', (_case, value, expected) => {
      const outcome = parseAll(config, value);
      expect(outcome.value).toBeUndefined();
      expect(paths(outcome.problems)).toEqual(expected);
      for (const problem of outcome.problems) {
        expect(problem).toBeInstanceOf(ValidationError);
        if (problem.path !== '') expect(problem.message.startsWith(`${problem.path}: `)).toBe(true);
      }
    });

    it('skips a check whose keys are bad, rather than judging them', () => {
      expect(paths(parseAll(config, { items: [{ name: 'a' }], pick: 'b' }).problems)).toEqual(['items[0].size']);
      expect(paths(parseAll(config, { delivery: { backoff: 'x', maxBackoff: 1 } }).problems)).toEqual(['delivery.backoff']);
    });

    it('returns the good parts as partial', () => {
      const outcome = parseAll(config, { port: 'http', delivery: { backoff: 1, maxBackoff: 2 }, items: [{ name: '' }] });
      expect(outcome.partial).toEqual({ delivery: { backoff: 1, maxBackoff: 2 } });
    });

    it('names paths under the given path', () => {
      expect(paths(parseAll(config, { port: -1 }, 'server').problems)).toEqual(['server.port']);
    });
  });

  describe('refine', () => {
    it('makes parse throw the first problem, with its path', () => {
      expect(() => config.parse({ delivery: { backoff: 10, maxBackoff: 1 } }, 'c')).toThrow(expect.objectContaining({ code: 'SW_VALIDATION', path: 'c.delivery.maxBackoff' }));
      expect(() => names.parse([{ name: 'a', size: 1 }, { name: 'a', size: 1 }])).toThrow(expect.objectContaining({ path: '[1].name' }));
    });

    it("keeps an object schema's problems() in step with its check", () => {
      expect(paths(delivery.problems({ backoff: 5, maxBackoff: 1 }))).toEqual(['maxBackoff']);
    });
  });

  describe('transform and select', () => {
    const window = select('a duration or {name, ms}', (value) =>
      typeof value === 'string' ? transform(string({ pattern: /^\d+h$/ }), (text) => ({ name: text, ms: Number.parseInt(text, 10) * 3_600_000 })) : object({ name: string(), ms: number({ min: 1 }) }),
    );

    it('builds the value from what was accepted', () => {
      expect(array(window).parse(['2h', { name: 'x', ms: 5 }])).toEqual([
        { name: '2h', ms: 7_200_000 },
        { name: 'x', ms: 5 },
      ]);
    });

    it('lists the problems of the shape that was meant', () => {
      expect(paths(parseAll(array(window), ['soon', { name: 1, ms: 0 }]).problems)).toEqual(['[0]', '[1].name', '[1].ms']);
    });
  });

  describe('number', () => {
    it.each([
      [0, false],
      [0.001, true],
    ])('with greaterThan 0 takes %d: %s', (value, ok) => {
      expect(parseAll(number({ greaterThan: 0 }), value).problems.length === 0).toBe(ok);
    });
  });

  describe('array', () => {
    it('returns the array itself when its items come back unchanged (ingest relies on it)', () => {
      const samples = [1, 2, 3];
      expect(array(number()).parse(samples)).toBe(samples);
    });

    it('lists a length problem and the bad items together', () => {
      expect(paths(parseAll(array(oneOf(['a', 'b']), { maxItems: 2 }), ['a', 'c', 'b']).problems)).toEqual(['', '[1]']);
    });
  });
});
