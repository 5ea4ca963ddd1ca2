/**
 * The API's answers that read a range of results from the database on a report thread
 * (report/report-jobs.ts): `GET /api/v1/report` (the committee's report as JSON, CSV or XLSX)
 * and `GET /api/v1/compliance` with `month` or `from`/`to` (the rolling windows stay served
 * from memory by api.ts). Docs: docs/reports.md.
 */
import type { ServerResponse } from 'node:http';
import { areaLooseKey, ValidationError } from '@speedwatch/shared';
import type { ReportJob, ReportFormat } from '../report/report-protocol.js';
import { REPORT_LANGS } from '../report/report-labels.js';
import type { ReportLang } from '../report/report-labels.js';
import { parseReportRange, previousMonth } from '../report/report-range.js';
import type { ReportRange } from '../report/report-range.js';
import { ReportBusyError } from '../report/report-jobs.js';
import type { JobOutput } from '../report/report-jobs.js';
import { GROUP_BY } from '../verdict/verdicts.js';
import { sendError } from './api.js';
import { API_PRECISION } from './rounding.js';
import { BadParameterError, Params } from './query-params.js';

export interface ReportApiDeps {
  run: (job: ReportJob) => Promise<JobOutput>;
  timeZone: string;
  now: () => number;
  /** The rolling windows' names, which a month's overview lists beside it. */
  windows: readonly string[];
}

const FORMATS: readonly ReportFormat[] = ['json', 'csv', 'xlsx'];

const CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The range asked for; with none, `fallbackMonth` (the report's default: the last month that is over). */
function rangeOf(params: Params, timeZone: string, fallbackMonth?: string): ReportRange {
  const given = { month: params.string('month', 7), from: params.string('from', 40), to: params.string('to', 40) };
  if (fallbackMonth !== undefined && given.month === undefined && given.from === undefined && given.to === undefined) given.month = fallbackMonth;
  try {
    return parseReportRange(given, timeZone);
  } catch (err) {
    if (err instanceof ValidationError) throw new BadParameterError(err.path, err.message.replace(/^[^:]*: /, ''));
    throw err;
  }
}

function sendText(res: ServerResponse, type: string, output: JobOutput): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(output.body), 'cache-control': 'no-store', 'server-timing': `report;dur=${output.ms}` }).end(output.body);
}

/** An ASCII file name part: "Lạng Sơn/Cao Lộc" → "lang-son-cao-loc". */
function slug(text: string): string {
  return areaLooseKey(text)
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
}

/** Whether `search` asks a range-read route this module answers. */
export function isReportRequest(path: string, search: URLSearchParams): boolean {
  return (
    path === '/api/v1/report' ||
    (path === '/api/v1/compliance' && (search.has('month') || search.has('from') || search.has('to'))) ||
    (path === '/api/v1/overview' && search.has('month'))
  );
}

/** Answers a request isReportRequest accepted, errors included. */
export async function handleReportApi(path: string, search: URLSearchParams, res: ServerResponse, deps: ReportApiDeps): Promise<void> {
  try {
    if (path === '/api/v1/report') {
      const params = new Params(search, ['month', 'from', 'to', 'area', 'format', 'lang']);
      const range = rangeOf(params, deps.timeZone, previousMonth(deps.now(), deps.timeZone));
      const area = params.string('area', 400);
      const format = params.oneOf('format', FORMATS) ?? 'json';
      const lang = params.oneOf<ReportLang>('lang', REPORT_LANGS) ?? 'vi';
      const output = await deps.run({ kind: 'report', range, format, lang, ...(area === undefined ? {} : { area }) });
      const name = `speedwatch-report-${range.month ?? `${range.name.replace(/[^0-9-]+/g, '_')}`}${area === undefined ? '' : `-${slug(area)}`}-${lang}.${format}`;
      const headers: Record<string, string | number> = { 'content-type': CONTENT_TYPES[format], 'content-length': Buffer.byteLength(output.body), 'cache-control': 'no-store', 'server-timing': `report;dur=${output.ms}` };
      if (format !== 'json') headers['content-disposition'] = `attachment; filename="${name}"`;
      res.writeHead(200, headers).end(output.body);
      return;
    }
    if (path === '/api/v1/overview') {
      const params = new Params(search, ['month']);
      const range = rangeOf(params, deps.timeZone);
      const output = await deps.run({ kind: 'overview', range, windows: deps.windows });
      sendText(res, CONTENT_TYPES.json, output);
      return;
    }
    const params = new Params(search, ['month', 'from', 'to', 'groupBy']);
    const range = rangeOf(params, deps.timeZone);
    const groupBy = params.oneOf('groupBy', GROUP_BY) ?? 'all';
    const output = await deps.run({ kind: 'compliance', range, groupBy });
    const head = JSON.stringify({ computedAt: new Date(deps.now()).toISOString(), groupBy, window: range.name, from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), precision: API_PRECISION });
    const text = `${head.slice(0, -1)},"groups":${String(output.body)}}`;
    res.writeHead(200, { 'content-type': CONTENT_TYPES.json, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'server-timing': `report;dur=${output.ms}` }).end(text);
  } catch (err) {
    if (err instanceof BadParameterError) sendError(res, 400, err.code, err.message, { parameter: err.parameter });
    else if (err instanceof ValidationError) sendError(res, 400, 'SW_BAD_PARAMETER', err.message, { parameter: err.path });
    else if (err instanceof ReportBusyError) {
      res.setHeader('retry-after', '60');
      sendError(res, 429, err.code, err.message);
    } else sendError(res, 500, 'SW_REPORT_FAILED', err instanceof Error ? err.message : String(err));
  }
}
