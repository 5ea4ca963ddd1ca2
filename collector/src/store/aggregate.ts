/**
 * The statistics of a series bucket: exact ones from raw values, and their combination from
 * hourly roll-ups. Both medians agree when every part holds one value.
 */
import type { SeriesPoint } from './store-types.js';

export type Aggregate = Omit<SeriesPoint, 'ts'>;

/** count, min, mean, exact median (mean of the two middle values for an even count) and max. Sorts `values` in place. */
export function aggregateValues(values: number[]): Aggregate {
  values.sort((a, b) => a - b);
  const count = values.length;
  if (count === 0) throw new RangeError('aggregateValues needs at least one value');
  let sum = 0;
  for (const value of values) sum += value;
  const middle = count >> 1;
  const upper = values[middle] as number;
  const median = count % 2 === 1 ? upper : ((values[middle - 1] as number) + upper) / 2;
  return { count, min: values[0] as number, mean: sum / count, median, max: values[count - 1] as number };
}

/**
 * Combines parts (hourly roll-ups) into one: counts add, min of mins, max of maxes, the mean
 * weighted by count, and the median as the count-weighted median of the parts' medians: the
 * first median (in ascending order) at which the running count reaches half the total, or
 * the mean of it and the next when the running count is exactly half. Reorders `parts`.
 */
export function combineAggregates(parts: Aggregate[]): Aggregate {
  const first = parts[0];
  if (first === undefined) throw new RangeError('combineAggregates needs at least one part');
  if (parts.length === 1) return { ...first };
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const part of parts) {
    count += part.count;
    if (part.min < min) min = part.min;
    if (part.max > max) max = part.max;
    sum += part.mean * part.count;
  }
  parts.sort((a, b) => a.median - b.median);
  const half = count / 2;
  let running = 0;
  let median = Number.NaN; // set below: the running count always reaches half the total
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as Aggregate;
    running += part.count;
    if (running < half) continue;
    const next = parts[i + 1];
    median = running === half && next !== undefined ? (part.median + next.median) / 2 : part.median;
    break;
  }
  return { count, min, mean: sum / count, median, max };
}
