/**
 * Confirm before firing (`alerts.confirmBelowTarget`, docs/alerts.md#confirmation): once a
 * SpeedwatchSiteBelowTarget has been pending for its `for`, the collector asks the site's agent
 * for a test now (the `test-now` message, as `POST /api/v1/tests` does) and the alert fires only
 * if that result is also below one of the targets the window's median missed. An agent that
 * cannot be asked (not connected, paused) is judged on its next result, whatever started it.
 * A confirmation that meets every missed target starts a new pending period. A failed test
 * confirms nothing: the alert keeps waiting. Pure: the caller passes the latest results.
 */
import type { AlertRecord, ConfirmGate } from './alert-evaluation.js';
import type { MissedTarget } from './alert-rules.js';

/** A result started this long before the request still counts as its answer: agents' clocks drift a little from the collector's. */
export const CONFIRM_SKEW_MS = 60_000;

/** What is known of an agent's latest result. */
export interface LatestFiguresView {
  /** startedAt, ms (the agent's clock). */
  ts: number;
  downloadMbps: number | null;
  uploadMbps: number | null;
  latencyMs: number | null;
}

/**
 * Whether a result is below one of the missed targets: `true`, `false`, or undefined when it
 * carries none of their metrics (a failed test).
 */
export function confirmsBelow(missed: readonly MissedTarget[], result: LatestFiguresView): boolean | undefined {
  let judged = false;
  for (const m of missed) {
    const value = m.metric === 'download' ? result.downloadMbps : m.metric === 'upload' ? result.uploadMbps : result.latencyMs;
    if (value === null) continue;
    judged = true;
    if (m.metric === 'latency' ? value > m.target : value < m.target) return true;
  }
  return judged ? false : undefined;
}

/**
 * The gate for `evaluateAlerts`. `minGapMs` (the schedule interval) bounds how often a site is
 * asked: a confirmation is asked no sooner than that after the pending period (re)started.
 */
export function confirmationGate(latest: (agentId: string) => LatestFiguresView | undefined, minGapMs: number): ConfirmGate {
  return (condition, previous: AlertRecord | undefined, now) => {
    const confirm = condition.confirm;
    if (confirm === undefined) return 'fire';
    const requestedAt = previous?.confirmRequestedAt;
    if (requestedAt === undefined) return now - (previous?.activeAt ?? now) >= minGapMs ? 'request' : 'hold';
    const result = latest(confirm.agentId);
    if (result === undefined || result.ts < requestedAt - CONFIRM_SKEW_MS) return 'wait';
    const below = confirmsBelow(confirm.missed, result);
    return below === undefined ? 'wait' : below ? 'fire' : 'restart';
  };
}
