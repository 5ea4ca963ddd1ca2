/**
 * Summary statistics over samples. Functions taking samples require at least one;
 * `summarize` returns undefined for none, so callers decide what "no data" means.
 */

function sorted(samples: readonly number[]): number[] {
  if (samples.length === 0) throw new RangeError('statistics need at least one sample');
  return [...samples].sort((a, b) => a - b);
}

/**
 * The p-th percentile (0..100) by linear interpolation between closest ranks
 * (Hyndman & Fan type 7, the default of R, NumPy and Excel's PERCENTILE.INC).
 */
export function percentile(samples: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const values = sorted(samples);
  const rank = (p / 100) * (values.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = values[low] as number;
  const highValue = values[high] as number;
  return lowValue + (highValue - lowValue) * (rank - low);
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('statistics need at least one sample');
  let sum = 0;
  for (const value of samples) sum += value;
  return sum / samples.length;
}

/**
 * Jitter as i-Speed and LibreSpeed report it: the mean absolute difference between
 * consecutive samples, in the order they were taken. One sample has no jitter (0).
 */
export function jitter(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('statistics need at least one sample');
  let sum = 0;
  for (let i = 1; i < samples.length; i++) {
    sum += Math.abs((samples[i] as number) - (samples[i - 1] as number));
  }
  return samples.length > 1 ? sum / (samples.length - 1) : 0;
}

export interface Summary {
  count: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p90: number;
  jitter: number;
}

export function summarize(samples: readonly number[]): Summary | undefined {
  if (samples.length === 0) return undefined;
  const values = sorted(samples);
  return {
    count: samples.length,
    min: values[0] as number,
    max: values[values.length - 1] as number,
    mean: mean(samples),
    median: percentile(values, 50),
    p90: percentile(values, 90),
    jitter: jitter(samples),
  };
}
