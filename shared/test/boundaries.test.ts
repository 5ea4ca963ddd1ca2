import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('the shared package', () => {
  it('imports nothing but its own files and node:util-level builtins', () => {
    // shared is the protocol both sides agree on: no agent or collector code, and no network,
    // database or logging library, so it runs anywhere either side does.
    const forbidden = /from '(@speedwatch\/(agent|collector)|undici|ws|better-sqlite3|prom-client|p-limit|node:(net|http|https|tls|dgram))'/;
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(forbidden.exec(text)?.[0], file).toBeUndefined();
    }
  });
});
