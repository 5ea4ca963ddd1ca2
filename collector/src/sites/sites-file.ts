/**
 * The sites CSV of `speedwatch-collector agents import`: a header row naming the columns
 * (`id,name,site_kind,technology` required; `isp,area,area_code,lat,lon,contract_mbps` optional, in any order;
 * `area_code` names the area by its unit in the registry, instead of `area`), then
 * one site a row. Every problem of the file is listed at once, each with its line and column.
 */
import type { Problem } from '@speedwatch/shared';
import { OptionsError, problemAt, siteSchema, ValidationError } from '@speedwatch/shared';
import type { NewAgent } from '../store/store-types.js';
import { parseCsv } from './csv.js';

export const SITE_COLUMNS = ['id', 'name', 'site_kind', 'technology', 'isp', 'area', 'area_code', 'lat', 'lon', 'contract_mbps'] as const;
const REQUIRED = ['id', 'name', 'site_kind', 'technology'] as const;
/** The same rule as `agents add --id`. */
export const AGENT_ID = /^[a-z0-9][a-z0-9._-]{0,99}$/;
export const AGENT_ID_RULE = '1 to 100 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit';
/** Rows a file may have: a province's sites, with room. */
const MAX_ROWS = 100_000;

export class SitesFileError extends OptionsError {
  constructor(file: string, problems: readonly Problem[]) {
    super('SW_SITES_FILE', `${file}: cannot import`, problems);
    this.name = 'SitesFileError';
  }
}

const SCHEMA_KEY: Record<string, string> = { kind: 'site_kind', name: 'name', technology: 'technology', isp: 'isp', area: 'area', lat: 'lat', lon: 'lon', contractMbps: 'contract_mbps' };

/** The agents the file describes, in file order. `taken` says whether an id already exists. */
export function parseSitesFile(
  file: string,
  text: string,
  taken: (id: string) => boolean,
  areaOfCode: (code: string) => { path: string } | { problem: string } = () => ({ problem: 'the area registry is empty (areas import loads it)' }),
): NewAgent[] {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    throw new SitesFileError(file, [problemAt('', err instanceof Error ? err.message : String(err))]);
  }
  const [header, ...body] = rows;
  if (header === undefined) throw new SitesFileError(file, [problemAt('', `empty; expected a header row (${SITE_COLUMNS.join(',')}) and a row per site`)]);
  const columns = header.map((h) => h.trim().toLowerCase());
  const problems: Problem[] = [];
  for (const [i, name] of columns.entries()) {
    if (!(SITE_COLUMNS as readonly string[]).includes(name)) problems.push(problemAt('line 1', `column ${i + 1} ${JSON.stringify(header[i])} is not one of ${SITE_COLUMNS.join(', ')}`));
    else if (columns.indexOf(name) !== i) problems.push(problemAt('line 1', `column ${name} appears twice`));
  }
  for (const name of REQUIRED) if (!columns.includes(name)) problems.push(problemAt('line 1', `the ${name} column is missing`));
  if (body.length > MAX_ROWS) problems.push(problemAt('', `${body.length} rows; at most ${MAX_ROWS} a file`));
  if (problems.length > 0) throw new SitesFileError(file, problems);

  const agents: NewAgent[] = [];
  const seen = new Map<string, number>();
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
    const id = cell('id') ?? '';
    if (!AGENT_ID.test(id)) problems.push(problemAt(`${line} id`, `${JSON.stringify(id)} is not ${AGENT_ID_RULE}`));
    else if (seen.has(id)) problems.push(problemAt(`${line} id`, `${id} is also on line ${seen.get(id)}`));
    else if (taken(id)) problems.push(problemAt(`${line} id`, `agent ${id} already exists`));
    seen.set(id, index + 2);
    const number = (name: string): number | string | undefined => {
      const text = cell(name);
      return text === undefined ? undefined : Number.isFinite(Number(text)) ? Number(text) : text;
    };
    const areaCode = cell('area_code');
    let area = cell('area');
    if (areaCode !== undefined) {
      const resolved = areaOfCode(areaCode);
      if (area !== undefined) problems.push(problemAt(`${line} area_code`, 'give area or area_code, not both'));
      else if ('problem' in resolved) problems.push(problemAt(`${line} area_code`, resolved.problem));
      else area = resolved.path;
    }
    const raw = {
      name: cell('name'),
      kind: cell('site_kind'),
      technology: cell('technology'),
      ...(cell('isp') === undefined ? {} : { isp: cell('isp') }),
      ...(area === undefined ? {} : { area }),
      ...(cell('lat') === undefined ? {} : { lat: number('lat') }),
      ...(cell('lon') === undefined ? {} : { lon: number('lon') }),
      ...(cell('contract_mbps') === undefined ? {} : { contractMbps: number('contract_mbps') }),
    };
    try {
      const site = siteSchema.parse(raw, '');
      if ((site.lat === undefined) !== (site.lon === undefined)) throw new ValidationError('lat', 'lat and lon together, or neither');
      agents.push({
        id,
        name: site.name,
        siteKind: site.kind,
        technology: site.technology,
        ...(site.isp === undefined ? {} : { isp: site.isp }),
        ...(site.area === undefined ? {} : { area: site.area }),
        ...(areaCode === undefined ? {} : { areaCode }),
        ...(site.lat === undefined ? {} : { lat: site.lat, lon: site.lon as number }),
        ...(site.contractMbps === undefined ? {} : { contractMbps: site.contractMbps }),
      });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(problemAt(`${line} ${SCHEMA_KEY[err.path] ?? err.path}`, `expected ${err.expected}`));
    }
  });
  if (problems.length > 0) throw new SitesFileError(file, problems);
  return agents;
}
