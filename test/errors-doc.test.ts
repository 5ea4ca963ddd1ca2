/**
 * Error codes are defined once, in the registry (shared/src/errors/error-codes.ts), and
 * docs/errors.md is generated from it: these tests hold the source, the registry and the docs
 * to each other in both directions, as fastify's test/internals/errors.test.js does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODE_LIST, ERROR_CODES, ERROR_COMPONENTS, errorCodesCarriedBy, isErrorCode } from '@speedwatch/shared';
import type { ErrorCarrier } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { renderErrorsDoc } from './docs/errors-doc.js';

const ROOT = new URL('../', import.meta.url).pathname;
const CODE = /\bSW_[A-Z0-9_]+\b/g;

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'dist') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? files(path, keep) : keep(e.name) ? [path] : [];
  });
}

/** The TypeScript of every package outside its tests: each package's src, and the test package's tools. */
const SOURCES = [
  ...['shared', 'agent', 'collector', 'endpoint'].flatMap((pkg) => files(join(ROOT, pkg, 'src'), (n) => n.endsWith('.ts'))),
  ...['support', 'bench', 'demo', 'docs', 'release'].flatMap((dir) => files(join(ROOT, 'test', dir), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))),
];
const ERRORS_DOC = join(ROOT, 'docs', 'errors.md');
const read = (path: string): string => readFileSync(path, 'utf8');

/** Every code named in the files, with the first file that names it (for a failure message). */
function codesIn(paths: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const path of paths) for (const [code] of read(path).matchAll(CODE)) if (!found.has(code)) found.set(code, path.slice(ROOT.length));
  return found;
}

/** The rows of docs/errors.md's tables: component (from the block's marker), code, and the cells after it. */
function docRows(doc: string): { component: string; code: string; cells: string[] }[] {
  return [...doc.matchAll(/<!-- error-codes: (\S+) -->\n([\s\S]*?)<!-- \/error-codes -->/g)].flatMap(([, component, table]) =>
    [...(table as string).matchAll(/^\| (SW_[A-Z0-9_]+) \| (.*) \|$/gm)].map(([, code, rest]) => ({
      component: component as string,
      code: code as string,
      cells: (rest as string).split(/ (?<!\\)\| /),
    })),
  );
}

describe('the error-code registry', () => {
  it('holds every SW_ code named in the source of shared, agent, collector, endpoint and the test tools', () => {
    const named = codesIn(SOURCES);
    expect(named.size).toBeGreaterThan(50);
    expect([...named].filter(([code]) => !isErrorCode(code)).map(([code, where]) => `${code} (${where})`)).toEqual([]);
  });

  it('gives every code a component, a meaning and advice as one-line sentences, and at least one carrier', () => {
    const unfit = ERROR_CODE_LIST.filter((code) => {
      const { component, meaning, action, carriers } = ERROR_CODES[code];
      const sentence = (text: string): boolean => /^\S[^\n]*[.)]$/.test(text) && !text.includes('|');
      return !(ERROR_COMPONENTS as readonly string[]).includes(component) || !sentence(meaning) || !sentence(action) || (carriers as readonly ErrorCarrier[]).length === 0;
    });
    expect(unfit).toEqual([]);
  });

  it('names as carriers only error classes that the source defines', () => {
    const source = SOURCES.map(read).join('\n');
    const classes = new Set(ERROR_CODE_LIST.flatMap((code) => ERROR_CODES[code].carriers.filter((c: ErrorCarrier) => c.endsWith('Error'))));
    expect([...classes].filter((name) => !new RegExp(`\\bclass ${name} extends \\w*Error\\b`).test(source))).toEqual([]);
  });

  it('gives `reject` and `error` messages the codes docs/protocol.md lists for them', () => {
    const protocol = read(join(ROOT, 'docs', 'protocol.md'));
    const section = (heading: string): string[] => {
      const start = protocol.indexOf(`### \`${heading}\``);
      const end = protocol.indexOf('\n#', start + 1);
      return [...protocol.slice(start, end).matchAll(/^\| `(SW_[A-Z0-9_]+)`/gm)].map((m) => m[1] as string);
    };
    expect(section('reject')).toEqual([...errorCodesCarriedBy('reject message')]);
    expect(section('error')).toEqual([...errorCodesCarriedBy('error message')]);
  });
});

describe('docs/errors.md', () => {
  it('is what `npm run docs:errors` writes from the registry', () => {
    const doc = read(ERRORS_DOC);
    // On failure: run `npm run docs:errors` and commit docs/errors.md.
    expect(renderErrorsDoc(doc)).toBe(doc);
  });

  it('lists every registry code once, in the table of its component, with its meaning and advice', () => {
    const rows = docRows(read(ERRORS_DOC));
    expect(rows.map((r) => r.code).sort()).toEqual([...ERROR_CODE_LIST].sort());
    for (const { component, code, cells } of rows) {
      const entry = ERROR_CODES[code as keyof typeof ERROR_CODES];
      expect({ code, component, meaning: cells[0], action: cells[1] }).toEqual({ code, component: entry.component, meaning: entry.meaning, action: entry.action });
    }
  });

  it('names no code, in its tables or its prose, that is not in the registry', () => {
    expect([...codesIn([ERRORS_DOC]).keys()].filter((code) => !isErrorCode(code))).toEqual([]);
  });
});

describe('the other docs and the READMEs', () => {
  it('name no code that is not in the registry', () => {
    const readmes = ['README.md', 'shared/README.md', 'agent/README.md', 'collector/README.md', 'endpoint/README.md'].map((p) => join(ROOT, p)).filter((p) => existsSync(p));
    const docs = [...files(join(ROOT, 'docs'), (n) => n.endsWith('.md')), ...readmes];
    expect(docs.length).toBeGreaterThan(5);
    expect([...codesIn(docs)].filter(([code]) => !isErrorCode(code)).map(([code, where]) => `${code} (${where})`)).toEqual([]);
  });
});

describe('renderErrorsDoc', () => {
  const block = (component: string): string => `<!-- error-codes: ${component} -->\nold\n<!-- /error-codes -->\n`;
  const all = ERROR_COMPONENTS.map(block).join('\n');

  it('replaces each block with the table of its component and keeps the prose around it', () => {
    const out = renderErrorsDoc(`# Errors\n\nProse.\n\n${all}\nMore prose.\n`);
    expect(out).toMatch(/^# Errors\n\nProse\.\n\n<!-- error-codes: measurement -->\n\| code \| meaning \| what to do \| carried by \|\n/);
    expect(out).toMatch(/\| SW_STORE_UNAVAILABLE \| .* \| `error` message, HTTP 503 \|\n/);
    expect(out).toMatch(/\nMore prose\.\n$/);
    expect(out).not.toContain('\nold\n');
  });

  it.each([
    ['a component has no block', all.replace(block('endpoint'), ''), /no table block for endpoint/],
    ['a block names no component', `${all}${block('metrics')}`, /"metrics", not a component/],
    ['a component has two blocks', `${all}${block('input')}`, /two table blocks for input/],
  ])('refuses a file where %s', (_case, markdown, error) => {
    expect(() => renderErrorsDoc(markdown)).toThrow(error);
  });
});
