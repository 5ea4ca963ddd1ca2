/**
 * COPY … FROM STDIN in PostgreSQL's text format: the fastest way rows reach a table, used as the
 * ceiling the store's group commits are measured against (`npm run bench`) and available to
 * tools that load many rows at once.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** One value in COPY's text format: \N for NULL, backslash, tab, newline and carriage return escaped. */
function field(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : text;
}

/** Copies `rows` (values in `columns` order) into `table` on `client`, one COPY statement; resolves with the rows copied. */
export async function copyRows(client: pg.ClientBase, table: string, columns: readonly string[], rows: Iterable<readonly unknown[]>): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${client.escapeIdentifier(table)} (${columns.map((c) => client.escapeIdentifier(c)).join(', ')}) FROM STDIN`));
  function* lines(): Generator<string> {
    for (const row of rows) yield `${row.map(field).join('\t')}\n`;
  }
  await pipeline(Readable.from(lines()), stream);
  return stream.rowCount;
}
