/**
 * `npm run docs:errors`: rewrites the tables of docs/errors.md from the error-code registry
 * (shared/src/errors/error-codes.ts). test/errors-doc.test.ts fails until the committed file is
 * what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from './errors-doc.js';

// Built to test/dist/docs/: the repository is three levels up.
const file = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));
const before = readFileSync(file, 'utf8');
const after = renderErrorsDoc(before);
if (after === before) {
  console.log(`${file}: up to date`);
} else {
  writeFileSync(file, after);
  console.log(`${file}: tables rewritten from the registry`);
}
