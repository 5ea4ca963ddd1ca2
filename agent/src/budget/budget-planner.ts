/**
 * Plans a test on a metered link so that the month's traffic stays within its budget, spread
 * over the month: each test may use what is left of the budget over the tests left in the month
 * (its allowance). A test is estimated from the last tests of this line (the median of each
 * phase's bytes, and of the throughput phases' bytes a ms); when the full test does not fit its
 * allowance, the throughput phases are shortened, then upload is left out, then download.
 * Latency always runs, and the UDP probe (about 110 kB) runs when asked: they are small and
 * they tell whether the line is up. A test that uses less than its share leaves more for later
 * ones; one that uses more leaves less, so an estimate that is off corrects itself. And a test
 * with throughput phases gets a data cap (`--max-bytes`): twice its share or its estimate, never
 * more than the month has left, so a line that turned faster than its history cannot spend the
 * month's budget in one test.
 */
import type { BudgetDecision, BudgetSettings } from '@speedwatch/shared';
import { defaultWarmupFor, median, zonedMonth } from '@speedwatch/shared';
import type { TestName } from '../measure/speed-test-options.js';
import type { UsageEntry } from './usage-ledger.js';
import { RECENT_TESTS } from './usage-ledger.js';

/** A throughput phase shorter than this measures little: the planner shortens no further, it leaves the phase out. */
export const MIN_PHASE_MS = 3000;

/** Tests the estimates are the median of: the ledger's recent ones. */
export const HISTORY_TESTS = RECENT_TESTS;

/** What a test of latency alone (and choosing the endpoint) is taken to cost before the line has any history, bytes. */
export const DEFAULT_SMALL_BYTES = 30_000;
/** The UDP probe's bytes, both ways, before the line has any history: 250 packets of 214 bytes each way. */
export const DEFAULT_UDP_BYTES = 107_000;

export interface PlannedTest {
  tests: TestName[];
  durationMs: number;
  warmupMs: number | 'auto';
  udp: boolean;
}

export interface BudgetPlanInput {
  budget: BudgetSettings;
  /** ms since the epoch. */
  nowMs: number;
  /** The schedule's interval: how many tests the month has left. */
  intervalMs: number;
  /** Bytes used so far in the budget's month (the ledger's `usedIn`). */
  usedBytes: number;
  /** The line's last tests, oldest first (the ledger's `recent`): what the test is estimated from. */
  recent: readonly UsageEntry[];
  test: PlannedTest;
}

export interface BudgetPlan {
  test: PlannedTest;
  /** `capBytes` is set when the test has throughput phases: the daemon passes it as `--max-bytes`. */
  decision: BudgetDecision;
}

/** The cap of a test with throughput phases: twice its share or its estimate, at most what the month has left. */
export function capFor(leftBytes: number, allowanceBytes: number, estimatedBytes: number): number {
  return Math.max(0, Math.min(leftBytes, 2 * Math.max(allowanceBytes, estimatedBytes)));
}

/** Bytes a ms of each throughput phase, and the bytes of the rest, from the last HISTORY_TESTS tests. */
export interface Estimates {
  /** Choosing the endpoint, latency, and everything outside the phases. */
  smallBytes: number;
  udpBytes: number;
  download?: number;
  upload?: number;
}

export function estimates(entries: readonly UsageEntry[]): Estimates {
  const recent = entries.slice(-HISTORY_TESTS);
  const small = recent.map((e) => (e.phases.select ?? 0) + (e.phases.latency ?? 0));
  const udp = recent.flatMap((e) => (e.phases.udp === undefined ? [] : [e.phases.udp]));
  const out: Estimates = {
    smallBytes: small.length === 0 ? DEFAULT_SMALL_BYTES : median(small),
    udpBytes: udp.length === 0 ? DEFAULT_UDP_BYTES : median(udp),
  };
  for (const phase of ['download', 'upload'] as const) {
    const rates = recent.flatMap((e) => {
      const bytes = e.phases[phase];
      const ms = e.phaseMs?.[phase];
      return bytes === undefined || ms === undefined ? [] : [bytes / ms];
    });
    if (rates.length > 0) out[phase] = median(rates);
  }
  return out;
}

/** The tests left in the month holding `nowMs`, this one included: one an interval. */
export function testsLeftInMonth(nowMs: number, timeZone: string, intervalMs: number): number {
  const { endMs } = zonedMonth(nowMs, timeZone);
  return Math.max(1, Math.ceil((endMs - nowMs) / intervalMs));
}

/** The test to run now, and why (see the top of this file). */
export function planWithinBudget(input: BudgetPlanInput): BudgetPlan {
  const { budget, nowMs, test } = input;
  const { month } = zonedMonth(nowMs, budget.timeZone);
  const usedBytes = Math.round(input.usedBytes);
  const left = Math.max(0, budget.monthlyBytes - usedBytes);
  const allowanceBytes = Math.floor(left / testsLeftInMonth(nowMs, budget.timeZone, input.intervalMs));
  const est = estimates(input.recent);
  const fixed = est.smallBytes + (test.udp ? est.udpBytes : 0);
  const throughput = test.tests.filter((t): t is 'download' | 'upload' => t === 'download' || t === 'upload');
  const base = { monthlyBytes: budget.monthlyBytes, month, usedBytes, allowanceBytes };
  const costOf = (phases: readonly ('download' | 'upload')[], durationMs: number): number =>
    Math.round(fixed + phases.reduce((sum, p) => sum + (est[p] ?? 0) * durationMs, 0));
  const run = (phases: readonly ('download' | 'upload')[], durationMs: number): PlannedTest => ({
    ...test,
    tests: test.tests.filter((t) => t === 'latency' || (phases as readonly string[]).includes(t)),
    durationMs,
    warmupMs: durationMs === test.durationMs || test.warmupMs === 'auto' ? test.warmupMs : Math.min(test.warmupMs, defaultWarmupFor(durationMs)),
  });
  const skipAll = (reason: BudgetDecision['reason']): BudgetPlan => ({
    test: run([], test.durationMs),
    decision: { ...base, estimatedBytes: costOf([], 0), action: throughput.length === 0 ? 'full' : 'skipped', reason, ...(throughput.length === 0 ? {} : { skipped: [...throughput] }) },
  });

  if (throughput.length === 0) return skipAll(usedBytes >= budget.monthlyBytes ? 'budget-spent' : 'within-allowance');
  if (usedBytes >= budget.monthlyBytes) return skipAll('budget-spent');

  // No test of this line yet to estimate from: the throughput phases at their shortest, to learn its rate.
  if (throughput.some((p) => est[p] === undefined)) {
    const durationMs = Math.min(test.durationMs, MIN_PHASE_MS);
    const estimatedBytes = costOf(throughput, durationMs);
    return {
      test: run(throughput, durationMs),
      decision: {
        ...base,
        estimatedBytes,
        action: durationMs < test.durationMs ? 'shortened' : 'full',
        reason: 'no-history',
        ...(durationMs < test.durationMs ? { durationMs } : {}),
        capBytes: capFor(left, allowanceBytes, estimatedBytes),
      },
    };
  }

  const full = costOf(throughput, test.durationMs);
  if (full <= allowanceBytes) {
    return { test: run(throughput, test.durationMs), decision: { ...base, estimatedBytes: full, action: 'full', reason: 'within-allowance', capBytes: capFor(left, allowanceBytes, full) } };
  }

  // The longest phases that fit, both phases first, then download alone (the plan's headline figure).
  for (const phases of [throughput, throughput.filter((p) => p === 'download')]) {
    if (phases.length === 0) continue;
    const perMs = phases.reduce((sum, p) => sum + (est[p] ?? 0), 0);
    const fits = Math.floor((allowanceBytes - fixed) / perMs / 100) * 100;
    const durationMs = Math.min(test.durationMs, fits);
    if (durationMs < Math.min(MIN_PHASE_MS, test.durationMs)) continue;
    const dropped = throughput.filter((p) => !phases.includes(p));
    const estimatedBytes = costOf(phases, durationMs);
    return {
      test: run(phases, durationMs),
      decision: {
        ...base,
        estimatedBytes,
        action: 'shortened',
        reason: 'over-allowance',
        ...(dropped.length === 0 ? {} : { skipped: dropped }),
        ...(durationMs < test.durationMs ? { durationMs } : {}),
        capBytes: capFor(left, allowanceBytes, estimatedBytes),
      },
    };
  }
  return skipAll('over-allowance');
}
