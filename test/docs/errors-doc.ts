/**
 * docs/errors.md's tables, generated from the error-code registry (`ERROR_CODES` in
 * @speedwatch/shared). The prose of the file is written by hand; each component's table sits
 * between `<!-- error-codes: <component> -->` and `<!-- /error-codes -->` and is replaced whole,
 * so a code's meaning and advice are written once, in the registry.
 */
import { ERROR_CODE_LIST, ERROR_CODES, ERROR_COMPONENTS } from '@speedwatch/shared';
import type { ErrorCarrier, ErrorComponent } from '@speedwatch/shared';

const BLOCK = /<!-- error-codes: ([^ ]*) -->\n[\s\S]*?<!-- \/error-codes -->/g;

/** `markdown` with every table block filled from the registry. Throws for a component with no block, two blocks, or a block of no component. */
export function renderErrorsDoc(markdown: string): string {
  const seen = new Set<string>();
  const out = markdown.replace(BLOCK, (_block, component: string) => {
    if (!(ERROR_COMPONENTS as readonly string[]).includes(component)) throw new Error(`docs/errors.md: a table block names ${JSON.stringify(component)}, not a component (${ERROR_COMPONENTS.join(', ')})`);
    if (seen.has(component)) throw new Error(`docs/errors.md: two table blocks for ${component}`);
    seen.add(component);
    return `<!-- error-codes: ${component} -->\n${errorTable(component as ErrorComponent)}<!-- /error-codes -->`;
  });
  const missing = ERROR_COMPONENTS.filter((c) => !seen.has(c));
  if (missing.length > 0) throw new Error(`docs/errors.md: no table block for ${missing.join(', ')}; add <!-- error-codes: NAME --> <!-- /error-codes --> where its table goes`);
  return out;
}

/** The Markdown table of one component's codes, in registry order, ending with a newline. */
export function errorTable(component: ErrorComponent): string {
  const rows = ERROR_CODE_LIST.filter((code) => ERROR_CODES[code].component === component).map((code) => {
    const { meaning, action, carriers } = ERROR_CODES[code];
    return `| ${code} | ${cell(meaning)} | ${cell(action)} | ${carriers.map(carrierText).join(', ')} |\n`;
  });
  return `| code | meaning | what to do | carried by |\n|---|---|---|---|\n${rows.join('')}`;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function carrierText(carrier: ErrorCarrier): string {
  switch (carrier) {
    case 'result':
      return 'result `errors[]`';
    case 'error message':
      return '`error` message';
    case 'reject message':
      return '`reject` message';
    case 'dead-letter line':
      return '`dead-letter.jsonl` line';
    default:
      return carrier.startsWith('HTTP ') ? carrier : `\`${carrier}\``;
  }
}
