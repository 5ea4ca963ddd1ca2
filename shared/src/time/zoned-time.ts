/**
 * Calendar dates and months in a named time zone (an IANA name such as Asia/Ho_Chi_Minh), with
 * nothing but `Intl`: a report's month and a data budget's month are the site's, whatever zone
 * the machine runs in. Instants are ms since the epoch.
 */

/** Whether `timeZone` is one this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at `instant`, ms (+7 h for Asia/Ho_Chi_Minh). */
export function zoneOffsetMs(timeZone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(instant);
  const part = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

/** The instant of midnight starting `year-month-day` in `timeZone` (month 1–12; day may overflow, as Date.UTC allows). */
export function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  let instant = wall - zoneOffsetMs(timeZone, wall);
  // Once more at the instant found: the offset differs there when a DST change falls in between.
  instant = wall - zoneOffsetMs(timeZone, instant);
  return instant;
}

/** The `YYYY-MM-DD` of `instant` in `timeZone`. */
export function zonedDate(instant: number, timeZone: string): string {
  return new Date(instant + zoneOffsetMs(timeZone, instant)).toISOString().slice(0, 10);
}

/** The calendar month holding `instant` in `timeZone`: `YYYY-MM`, and its first and next month's first midnight. */
export interface ZonedMonth {
  month: string;
  startMs: number;
  /** Exclusive: the next month's first midnight. */
  endMs: number;
}

export function zonedMonth(instant: number, timeZone: string): ZonedMonth {
  const date = zonedDate(instant, timeZone);
  const year = Number(date.slice(0, 4));
  const month = Number(date.slice(5, 7));
  return { month: date.slice(0, 7), startMs: zonedMidnight(year, month, 1, timeZone), endMs: zonedMidnight(year, month + 1, 1, timeZone) };
}
