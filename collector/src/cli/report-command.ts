/**
 * `speedwatch-collector report`: the compliance report for a month or dates and an area, from a
 * collector's database (a running collector's too: SQLite's WAL lets this read beside it), as
 * CSV, XLSX or JSON, in Vietnamese or English (docs/reports.md).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '@speedwatch/shared';
import type { CollectorConfig } from '../config/collector-config.js';
import { COLLECTOR_DEFAULTS, loadCollectorConfig } from '../config/collector-config.js';
import { reportCsv } from '../report/report-csv.js';
import { REPORT_LANGS, reportLabels } from '../report/report-labels.js';
import type { ReportLang } from '../report/report-labels.js';
import { parseReportRange } from '../report/report-range.js';
import { reportXlsx } from '../report/report-xlsx.js';
import { runReport } from '../report/run-report.js';
import { sqliteCollectorStore } from '../store/sqlite-collector-store.js';
import { openStore } from '../store/sqlite-store.js';
import { args, needDb } from './cli-args.js';
import { openCommandStore } from './cli-store.js';

export const REPORT_USAGE = `  report (--db PATH | --config FILE) (--month YYYY-MM | --from DATE --to DATE) [--area "Lạng Sơn/Cao Lộc"]
         [--format csv|xlsx|json] [--lang vi|en] [--out FILE] [--config FILE]
        the compliance report a committee files: per technology, per site kind and per site, the
        tests, median and mean download and upload, share at target and verdict (docs/reports.md).
        Dates are days in the config's timeZone (default Asia/Ho_Chi_Minh); --to is exclusive.
        Default: csv, vi, to stdout (xlsx needs --out or a redirected stdout)`;

const FORMATS = ['csv', 'xlsx', 'json'] as const;
type Format = (typeof FORMATS)[number];

function pick<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(() =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        month: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        area: { type: 'string' },
        format: { type: 'string' },
        lang: { type: 'string' },
        out: { type: 'string' },
        config: { type: 'string' },
      },
    }),
  );
  if (positionals.length > 0) throw new UsageError(`report takes no argument ${JSON.stringify(positionals[0])}`);
  const format = pick<Format>('format', values.format, FORMATS, 'csv');
  const lang = pick<ReportLang>('lang', values.lang, REPORT_LANGS, 'vi');
  // The targets, minimums and time zone are the collector's: from its config when given.
  const config: Readonly<CollectorConfig> = values.config === undefined ? COLLECTOR_DEFAULTS : loadCollectorConfig({ file: values.config, env: process.env });
  // A config whose store is PostgreSQL: the report reads it there (unless --db names a SQLite file).
  const onPostgres = values.db === undefined && values.config !== undefined && config.store.kind === 'postgres';
  const db = onPostgres ? '' : needDb(values.db ?? (values.config === undefined ? undefined : config.db));
  if (!onPostgres && !existsSync(db)) throw new UsageError(`--db ${db}: no such database`);
  let range;
  try {
    range = parseReportRange({ month: values.month, from: values.from, to: values.to }, config.timeZone);
  } catch (err) {
    throw new UsageError(`--${(err as { path?: string }).path ?? 'month'}: ${err instanceof Error ? err.message.replace(/^[a-z]+: /, '') : String(err)}`);
  }
  if (format === 'xlsx' && values.out === undefined && process.stdout.isTTY) throw new UsageError('--format xlsx writes a binary file: give --out FILE or redirect stdout');

  const started = performance.now();
  const store = onPostgres ? await openCommandStore({ config: values.config }) : sqliteCollectorStore(openStore(db, { retentionDays: config.retentionDays, mustExist: true }));
  let report;
  try {
    report = await runReport(store, { range, area: values.area, config: config.verdicts, timeZone: config.timeZone, now: Date.now() });
  } finally {
    await store.close();
  }
  const labels = reportLabels(lang);
  const body = format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'csv' ? reportCsv(report, labels) : await reportXlsx(report, labels);
  if (values.out === undefined) process.stdout.write(body);
  else writeFileSync(values.out, body);
  const tests = report.totals.reduce((n, row) => n + row.tests, 0);
  process.stderr.write(
    `report ${range.name}${report.area === null ? '' : ` for ${report.area}`}: ${report.sites.length} sites, ${tests} tests, ${Math.round(performance.now() - started)} ms${values.out === undefined ? '' : `, written to ${values.out}`}\n`,
  );
  for (const note of report.notes) process.stderr.write(`note: ${labels.note(note)}\n`);
  return 0;
}
