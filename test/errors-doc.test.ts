import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('docs/errors.md', () => {
  it('lists every error code the source can raise', () => {
    const codes = new Set<string>();
    for (const pkg of ['shared', 'agent', 'collector']) {
      for (const file of sources(join(ROOT, pkg, 'src'))) {
        for (const match of readFileSync(file, 'utf8').matchAll(/['"`](SW_[A-Z0-9_]+)['"`]/g)) codes.add(match[1] as string);
        for (const match of readFileSync(file, 'utf8').matchAll(/^\s+(SW_[A-Z0-9_]+):/gm)) codes.add(match[1] as string);
      }
    }
    expect(codes.size).toBeGreaterThan(10);
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| (SW_[A-Z0-9_]+) \|/gm)].map((m) => m[1]));
    expect([...codes].filter((code) => !documented.has(code)).sort()).toEqual([]);
  });
});
