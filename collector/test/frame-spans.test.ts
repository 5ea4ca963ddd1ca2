import { describe, expect, it } from 'vitest';
import { seededRandom } from '@speedwatch/shared';
import { resultSpans } from '../src/store/frame-spans.js';
import { frameBatch, frameRows } from '../src/store/frame-batch.js';
import type { ResultFigures } from '../src/store/result-row.js';

/** What the spans cut out, parsed: must equal what JSON.parse sees as `results`. */
function cut(frame: string): unknown[] {
  return resultSpans(frame).map(([start, end]) => JSON.parse(frame.slice(start, end)));
}

const NASTY = ['', '"', '\\', '\\"', ']', '[', '{', '}', ',', ':', '"results"', '\u2028', 'ü', '😀', '\n', '\t', '\u0000'];

function randomValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 4 : 7));
  switch (pick) {
    case 0:
      return Math.round((next() - 0.5) * 1e6) / 100;
    case 1:
      return NASTY[Math.floor(next() * NASTY.length)] + String(Math.floor(next() * 100));
    case 2:
      return [true, false, null][Math.floor(next() * 3)];
    case 3:
      return next() < 0.5 ? 1e21 : -0.000001;
    case 4:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) o[NASTY[Math.floor(next() * NASTY.length)] + String(i)] = randomValue(next, depth + 1);
      return o;
    }
  }
}

/** JSON text with random whitespace between tokens (outside strings). */
function spaced(text: string, next: () => number): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    out += c;
    if (inString) {
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if ('{}[],:'.includes(c) && next() < 0.3) out += [' ', '\n', '\t', '\r\n  '][Math.floor(next() * 4)];
  }
  return out;
}

describe('resultSpans', () => {
  it.each([
    ['a plain frame', '{"type":"results","results":[{"id":"a"},{"id":"b"}]}'],
    ['results before type', '{"results":[{"id":"a"}],"type":"results"}'],
    ['whitespace everywhere', ' {\n "type" : "results" ,\n "results" : [ {"id":"a"} , \t{"id":"b"} ]\n} '],
    ['an empty array', '{"type":"results","results":[]}'],
    ['brackets and quotes inside strings', '{"type":"results","results":[{"id":"a]\\"},[{"},{"x":"\\\\"}]}'],
    ['"results" as a string value and nested key', '{"note":"results","x":{"results":[1,2,3]},"results":[{"id":"a"}]}'],
    ['non-object elements', '{"results":[1,"two",null,true,[3],{"a":[]}]}'],
    ['an escaped spelling of the key', '{"res\\u0075lts":[{"id":"a"}]}'],
    ['a duplicate key: the last wins, as in JSON.parse', '{"results":[{"id":"first"}],"results":[{"id":"second"},{"id":"third"}]}'],
    ['a duplicate key spelt with escapes', '{"results":[{"id":"first"}],"r\\u0065sults":[{"id":"second"}]}'],
  ])('cuts exactly the elements JSON.parse sees: %s', (_name, frame) => {
    expect(cut(frame)).toEqual((JSON.parse(frame) as { results: unknown[] }).results);
  });

  it('finds nothing where there is no top-level results array', () => {
    expect(resultSpans('{"type":"hello"}')).toEqual([]);
    expect(resultSpans('{"results":{"a":1}}')).toEqual([]);
    expect(resultSpans('[1,2]')).toEqual([]);
  });

  it('agrees with JSON.parse on 2 000 random frames with awkward strings and whitespace', () => {
    const next = seededRandom(20261125);
    for (let n = 0; n < 2000; n++) {
      const results = Array.from({ length: Math.floor(next() * 6) }, () => randomValue(next, 0));
      const before = next() < 0.5 ? { type: 'results', pad: randomValue(next, 2) } : {};
      const frame = spaced(JSON.stringify({ ...before, results, after: randomValue(next, 2) }), next);
      expect(cut(frame), frame).toEqual(results);
    }
  });
});

describe('frameRows', () => {
  const figures = (id: string, status: ResultFigures['status'] = 'ok'): ResultFigures => ({
    id,
    ts: 1000,
    status,
    downloadMbps: 100,
    uploadMbps: status === 'ok' ? 40 : null,
    latencyMs: 12,
    jitterMs: 1,
    lossRatio: 0,
    loadedDownloadMs: 30,
    loadedUploadMs: null,
  });

  it('stores each accepted result as the text the agent sent, with the columns validation gave', () => {
    const frame = '{"type":"results","results":[{"id":"a", "x":1.50},{"id":"bad"},{"id":"c","y":[1e3]}]}';
    const rows = frameRows(frameBatch('site-1', 2000, frame, 3, [0, 2], [figures('a'), figures('c', 'partial')]));
    expect(rows).toEqual([
      ['a', 'site-1', 1000, 2000, 'ok', 100, 40, 12, 1, 0, '{"id":"a", "x":1.50}', null],
      ['c', 'site-1', 1000, 2000, 'partial', 100, null, 12, 1, 0, '{"id":"c","y":[1e3]}', null],
    ]);
  });

  it('falls back to serialising the parsed result when the count disagrees', () => {
    const frame = '{"type":"results","results":[{"id":"a", "x":1.50}]}';
    const rows = frameRows(frameBatch('site-1', 2000, frame, 2, [0], [figures('a')]));
    expect(rows[0]?.[10]).toBe('{"id":"a","x":1.5}');
  });
});

describe('resultSpans on text that is not valid JSON', () => {
  it.each(['{"results":["unterminated', '{"results":[{"a":[1,2', '{"results":[1,', '{"results'])('returns without hanging: %s', (frame) => {
    expect(Array.isArray(resultSpans(frame))).toBe(true);
  });
});
