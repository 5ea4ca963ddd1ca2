/**
 * Targets the plan sets, and the verdict of one result against them. The defaults are
 * Cao Lộc town's 2025 figures as measured by i-Speed: download >= 102 Mbps on fixed
 * broadband and >= 42 Mbps on mobile broadband.
 */
import type { MeasurementResult, Technology } from '../result/result.js';

export type TargetMetric = 'download' | 'upload';

export interface Target {
  technology: Technology;
  metric: TargetMetric;
  /** The payload rate a result must reach, in Mbps (>=). */
  minMbps: number;
}

export const DEFAULT_TARGETS: readonly Target[] = Object.freeze([
  Object.freeze({ technology: 'fixed', metric: 'download', minMbps: 102 } as const),
  Object.freeze({ technology: 'mobile', metric: 'download', minMbps: 42 } as const),
]);

export type ResultVerdict = 'meets' | 'below' | 'no-data';

export interface TargetCheck {
  target: Target;
  verdict: ResultVerdict;
  /** The measured Mbps, absent when the result has no such measurement. */
  mbps?: number;
}

/** Checks one result against every target for `technology`; none apply → empty list. */
export function checkResult(
  result: Pick<MeasurementResult, 'download' | 'upload'>,
  technology: Technology,
  targets: readonly Target[] = DEFAULT_TARGETS,
): TargetCheck[] {
  return targets
    .filter((target) => target.technology === technology)
    .map((target) => {
      const measured = result[target.metric];
      if (measured === undefined) return { target, verdict: 'no-data' as const };
      return { target, verdict: measured.mbps >= target.minMbps ? 'meets' : 'below', mbps: measured.mbps };
    });
}
