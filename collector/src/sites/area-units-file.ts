/**
 * The units CSV of `speedwatch-collector areas import`: a header naming the columns (`code,name`
 * required; `parent_code,valid_from,valid_to` optional), one administrative unit a row. Dates are
 * `YYYY-MM-DD`, the start of that day in Vietnam (UTC+7); `valid_to` is the first day the unit
 * no longer exists. Every problem is listed at once with its line; nothing is imported until all
 * are fixed.
 */
import type { Problem } from '@speedwatch/shared';
import { canonicalArea, OptionsError, problemAt } from '@speedwatch/shared';
import type { AreaUnit } from '../store/area-units.js';
import { vietnamDate } from '../store/area-units.js';
import { parseCsv } from './csv.js';

export const UNIT_COLUMNS = ['code', 'name', 'parent_code', 'valid_from', 'valid_to'] as const;
const CODE = /^[A-Za-z0-9._-]{1,40}$/;
const MAX_ROWS = 200_000;

export class AreaUnitsFileError extends OptionsError {
  constructor(file: string, problems: readonly Problem[]) {
    super('SW_AREAS_FILE', `${file}: cannot import`, problems);
    this.name = 'AreaUnitsFileError';
  }
}

/** `YYYY-MM-DD` as the start of that day in Vietnam, ms; undefined when it is not such a date. */
export function vietnamDay(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const ms = Date.parse(`${text}T00:00:00+07:00`);
  return Number.isFinite(ms) && vietnamDate(ms) === text ? ms : undefined;
}

/** The units the file describes. `known` says whether a code is already in the registry (a parent may be there). */
export function parseAreaUnitsFile(file: string, text: string, known: (code: string) => boolean): AreaUnit[] {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    throw new AreaUnitsFileError(file, [problemAt('', err instanceof Error ? err.message : String(err))]);
  }
  const [header, ...body] = rows;
  if (header === undefined) throw new AreaUnitsFileError(file, [problemAt('', `empty; expected a header row (${UNIT_COLUMNS.join(',')}) and a row per unit`)]);
  const columns = header.map((h) => h.trim().toLowerCase());
  const problems: Problem[] = [];
  columns.forEach((name, i) => {
    if (!(UNIT_COLUMNS as readonly string[]).includes(name)) problems.push(problemAt('line 1', `column ${i + 1} ${JSON.stringify(header[i])} is not one of ${UNIT_COLUMNS.join(', ')}`));
    else if (columns.indexOf(name) !== i) problems.push(problemAt('line 1', `column ${name} appears twice`));
  });
  for (const name of ['code', 'name']) if (!columns.includes(name)) problems.push(problemAt('line 1', `the ${name} column is missing`));
  if (body.length > MAX_ROWS) problems.push(problemAt('', `${body.length} rows; at most ${MAX_ROWS} a file`));
  if (problems.length > 0) throw new AreaUnitsFileError(file, problems);

  const units: AreaUnit[] = [];
  const lineOf = new Map<string, number>();
  body.forEach((cells, index) => {
    const line = `line ${index + 2}`;
    if (cells.length !== columns.length) {
      problems.push(problemAt(line, `${cells.length} fields; the header has ${columns.length}`));
      return;
    }
    const cell = (name: string): string | undefined => {
      const value = cells[columns.indexOf(name)]?.trim();
      return value === undefined || value === '' ? undefined : value;
    };
    const code = cell('code') ?? '';
    const name = cell('name');
    const parentCode = cell('parent_code');
    if (!CODE.test(code)) problems.push(problemAt(`${line} code`, `${JSON.stringify(code)} is not 1 to 40 letters, digits, ".", "_" or "-"`));
    else if (lineOf.has(code)) problems.push(problemAt(`${line} code`, `${code} is also on line ${lineOf.get(code)}`));
    lineOf.set(code, index + 2);
    if (name === undefined || name.length > 100 || name.includes('/')) problems.push(problemAt(`${line} name`, 'expected 1 to 100 characters without "/"'));
    if (parentCode !== undefined && parentCode === code) problems.push(problemAt(`${line} parent_code`, 'a unit cannot be its own parent'));
    const dates: Partial<Record<'validFrom' | 'validTo', number>> = {};
    for (const [column, key] of [['valid_from', 'validFrom'], ['valid_to', 'validTo']] as const) {
      const text = cell(column);
      if (text === undefined) continue;
      const ms = vietnamDay(text);
      if (ms === undefined) problems.push(problemAt(`${line} ${column}`, `${JSON.stringify(text)} is not a date YYYY-MM-DD`));
      else dates[key] = ms;
    }
    if (dates.validFrom !== undefined && dates.validTo !== undefined && dates.validTo <= dates.validFrom) problems.push(problemAt(`${line} valid_to`, 'must be after valid_from'));
    units.push({ code, name: canonicalArea(name ?? ''), ...(parentCode === undefined ? {} : { parentCode }), ...dates });
  });
  for (const unit of units) {
    if (unit.parentCode !== undefined && !lineOf.has(unit.parentCode) && !known(unit.parentCode)) {
      problems.push(problemAt(`line ${lineOf.get(unit.code)} parent_code`, `${unit.parentCode} is neither in the file nor in the registry`));
    }
  }
  if (problems.length > 0) throw new AreaUnitsFileError(file, problems);
  return units;
}
