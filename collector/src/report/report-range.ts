/**
 * The span of time a report or a compliance query covers: a calendar month (`2026-11`) or any
 * `from`/`to`, each a date (`2026-11-01`, midnight in the collector's time zone) or an instant
 * with its offset (`2026-11-01T08:00:00+07:00`). `to` is exclusive, so `--from 2026-11-01 --to
 * 2026-12-01` is November. Dates are read in the collector's zone, not the machine's: a
 * committee in Lạng Sơn means its own midnight whatever zone the server runs in.
 */
// The zone arithmetic is shared's (zoned-time.ts): the agent's data budget counts months the same way.
import { ValidationError, zonedDate, zonedMidnight } from '@speedwatch/shared';

/** The longest range a report covers: its samples are held in memory (about 40 bytes a test). */
export const MAX_REPORT_DAYS = 366;

const DAY_MS = 86_400_000;

export interface ReportRange {
  /** `2026-11` for a month, else `<from>/<to>` as given. */
  name: string;
  from: number;
  to: number;
  /** The month's `YYYY-MM` when the range is one. */
  month?: string;
}

const MONTH = /^(\d{4})-(\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// An instant must say its offset: without one it would silently mean the server's zone.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseMonth(text: string, field: string): { year: number; month: number } {
  const match = MONTH.exec(text);
  const year = Number(match?.[1]);
  const month = Number(match?.[2]);
  if (match === null || month < 1 || month > 12 || year < 2000 || year > 2999) throw new ValidationError(field, `a month as YYYY-MM (e.g. 2026-11), got ${JSON.stringify(text.slice(0, 40))}`);
  return { year, month };
}

/** One end of a range: a date at midnight in the zone, or an instant with its offset. */
export function parseRangeEnd(text: string, field: string, timeZone: string): number {
  const date = DATE.exec(text);
  if (date !== null) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const instant = zonedMidnight(year, month, day, timeZone);
    // 2026-02-30 is not a date; Date.UTC would roll it into March.
    if (month < 1 || month > 12 || day < 1 || zonedDate(instant, timeZone) !== text) throw new ValidationError(field, `a real date, got ${JSON.stringify(text)}`);
    return instant;
  }
  if (INSTANT.test(text)) {
    const instant = Date.parse(text);
    if (Number.isFinite(instant)) return instant;
  }
  throw new ValidationError(field, `a date (YYYY-MM-DD, midnight in ${timeZone}) or a time with its offset (e.g. 2026-11-01T08:00:00+07:00), got ${JSON.stringify(text.slice(0, 40))}`);
}

/** The calendar month before the one `now` falls in, in `timeZone`: a report's default, the last month that is over. */
export function previousMonth(now: number, timeZone: string): string {
  const [year, month] = zonedDate(now, timeZone).split('-').map(Number) as [number, number];
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, '0')}`;
}

/**
 * The range `month`, or `from`/`to`, name: exactly one of the two forms. Throws
 * ValidationError (`SW_VALIDATION`) naming the field: a malformed month or date, both forms or
 * neither, `from` not before `to`, or longer than MAX_REPORT_DAYS.
 */
export function parseReportRange(given: { month?: string | undefined; from?: string | undefined; to?: string | undefined }, timeZone: string): ReportRange {
  const { month, from, to } = given;
  if (month !== undefined) {
    if (from !== undefined || to !== undefined) throw new ValidationError('month', 'a month or from/to, not both');
    const m = parseMonth(month, 'month');
    return { name: month, from: zonedMidnight(m.year, m.month, 1, timeZone), to: zonedMidnight(m.year, m.month + 1, 1, timeZone), month };
  }
  if (from === undefined || to === undefined) throw new ValidationError(from === undefined ? 'from' : 'to', 'a month, or both from and to');
  const start = parseRangeEnd(from, 'from', timeZone);
  const end = parseRangeEnd(to, 'to', timeZone);
  if (start >= end) throw new ValidationError('to', `a time after from (${from}), got ${to}`);
  if (end - start > MAX_REPORT_DAYS * DAY_MS) throw new ValidationError('to', `at most ${MAX_REPORT_DAYS} days after from, got ${Math.ceil((end - start) / DAY_MS)}`);
  return { name: `${from}/${to}`, from: start, to: end };
}
