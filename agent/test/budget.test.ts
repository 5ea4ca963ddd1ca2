import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom, zonedMidnight, zonedMonth } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import type { BudgetPlan, BudgetPlanInput, PlannedTest } from '../src/budget/budget-planner.js';
import { DEFAULT_SMALL_BYTES, MIN_PHASE_MS, capFor, estimates, planWithinBudget, testsLeftInMonth } from '../src/budget/budget-planner.js';
import type { UsageEntry } from '../src/budget/usage-ledger.js';
import { KEEP_MS, USAGE_FILE, UsageLedger, entryBytes, parseLedger } from '../src/budget/usage-ledger.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const MB = 1_000_000;
const NOV_1 = zonedMidnight(2026, 11, 1, ZONE); // 2026-10-31T17:00:00Z
const DEC_1 = zonedMidnight(2026, 12, 1, ZONE);
const MINUTE = 60_000;
const FULL: PlannedTest = { tests: ['latency', 'download', 'upload'], durationMs: 10_000, warmupMs: 2000, udp: false };

/** A test of a line that moves `mbps` each way: 20 kB of latency, and rate × duration a phase. */
function testOf(atMs: number, mbps: number, durationMs: number, phases: readonly string[] = ['download', 'upload']): UsageEntry {
  const bytes = (mbps * 1e6 * durationMs) / 8000;
  return {
    atMs,
    phases: { select: 2000, latency: 18_000, ...(phases.includes('download') ? { download: bytes } : {}), ...(phases.includes('upload') ? { upload: bytes } : {}) },
    phaseMs: { ...(phases.includes('download') ? { download: durationMs } : {}), ...(phases.includes('upload') ? { upload: durationMs } : {}) },
  };
}

/** planWithinBudget over a history, as the daemon gives it: the month's use from the ledger, the last ten tests. */
function planFrom(input: Omit<BudgetPlanInput, 'usedBytes' | 'recent'> & { entries: readonly UsageEntry[] }): BudgetPlan {
  const { startMs, endMs } = zonedMonth(input.nowMs, input.budget.timeZone);
  const usedBytes = input.entries.filter((e) => e.atMs >= startMs && e.atMs < endMs).reduce((sum, e) => sum + entryBytes(e), 0);
  const { entries, ...rest } = input;
  return planWithinBudget({ ...rest, usedBytes, recent: entries.slice(-10) });
}

describe('UsageLedger', () => {
  it('keeps tests across a restart and sums a month in the budget\'s zone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-ledger-'));
    const { ledger } = await UsageLedger.open(dir, NOV_1);
    // 23:30 on 30 November in Vietnam is 16:30 UTC; 00:30 on 1 December is 17:30 UTC the same day.
    await ledger.record({ atMs: DEC_1 - 30 * MINUTE, phases: { download: 5 * MB } }, DEC_1);
    await ledger.record({ atMs: DEC_1 + 30 * MINUTE, phases: { download: 7 * MB, latency: 1000 } }, DEC_1);
    const { ledger: reopened, skipped } = await UsageLedger.open(dir, DEC_1 + MINUTE);
    expect(skipped).toBe(0);
    expect(reopened.recent).toHaveLength(2);
    expect(reopened.usedIn(DEC_1 - MINUTE, ZONE)).toEqual({ month: '2026-11', usedBytes: 5 * MB });
    expect(reopened.usedIn(DEC_1 + MINUTE, ZONE)).toEqual({ month: '2026-12', usedBytes: 7 * MB + 1000 });
    // In UTC both tests fall in November.
    expect(reopened.usedIn(DEC_1 + MINUTE, 'UTC')).toEqual({ month: '2026-11', usedBytes: 12 * MB + 1000 });
  });

  it('skips a line torn by a power cut, and rewrites the file clean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-ledger-'));
    writeFileSync(join(dir, USAGE_FILE), `${JSON.stringify({ atMs: NOV_1, phases: { upload: 1000 } })}\n{"atMs":${NOV_1},"pha`);
    const { ledger, skipped } = await UsageLedger.open(dir, NOV_1);
    expect(skipped).toBe(1);
    await ledger.record({ atMs: NOV_1 + MINUTE, phases: { upload: 2000 } }, NOV_1 + MINUTE);
    expect(parseLedger(readFileSync(join(dir, USAGE_FILE), 'utf8'))).toEqual({ entries: [ledger.recent[0], ledger.recent[1]], skipped: 0 });
  });

  it('drops tests older than two months', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-ledger-'));
    writeFileSync(join(dir, USAGE_FILE), [NOV_1 - KEEP_MS - 1, NOV_1].map((atMs) => `${JSON.stringify({ atMs, phases: { latency: 1 } })}\n`).join(''));
    const { ledger } = await UsageLedger.open(dir, NOV_1);
    expect(ledger.recent.map((e) => e.atMs)).toEqual([NOV_1]);
  });

  it('drops them from the file as they age, at most once a day, keeping every new test', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-ledger-'));
    const oldAt = NOV_1 - KEEP_MS + 3_600_000; // leaves the two months an hour after NOV_1
    writeFileSync(join(dir, USAGE_FILE), `${JSON.stringify({ atMs: oldAt, phases: { latency: 5 } })}\n`);
    const { ledger } = await UsageLedger.open(dir, NOV_1);
    expect(ledger.size).toBe(1);
    // Within a day of opening: appended only.
    await ledger.record({ atMs: NOV_1 + 2 * 3_600_000, phases: { latency: 6 } }, NOV_1 + 2 * 3_600_000);
    expect(parseLedger(readFileSync(join(dir, USAGE_FILE), 'utf8')).entries).toHaveLength(2);
    // A day later: the old test leaves memory and the file.
    const later = NOV_1 + 26 * 3_600_000;
    await ledger.record({ atMs: later, phases: { latency: 7 } }, later);
    expect(parseLedger(readFileSync(join(dir, USAGE_FILE), 'utf8')).entries.map((e) => e.phases.latency)).toEqual([6, 7]);
    expect(ledger.size).toBe(2);
    expect(ledger.usedIn(later, ZONE).usedBytes).toBe(13);
  });
});

describe('planWithinBudget', () => {
  const budget = { monthlyBytes: 60_000 * MB, timeZone: ZONE };

  it('runs the throughput phases at their shortest when the line has no history', () => {
    const plan = planFrom({ budget, nowMs: NOV_1, intervalMs: 15 * MINUTE, entries: [], test: FULL });
    expect(plan.test).toEqual({ ...FULL, durationMs: MIN_PHASE_MS, warmupMs: 750 });
    expect(plan.decision).toMatchObject({ action: 'shortened', reason: 'no-history', durationMs: MIN_PHASE_MS, usedBytes: 0, month: '2026-11' });
  });

  it('runs the full test when it fits its share', () => {
    const history = [testOf(NOV_1, 20, 10_000)];
    const plan = planFrom({ budget: { ...budget, monthlyBytes: 1e12 }, nowMs: NOV_1 + MINUTE, intervalMs: 15 * MINUTE, entries: history, test: FULL });
    expect(plan.test).toEqual(FULL);
    // 20 kB, and 25 MB each way at 20 Mbit/s for 10 s.
    expect(plan.decision).toMatchObject({ action: 'full', reason: 'within-allowance', estimatedBytes: 50_020_000 });
  });

  it("shortens the phases to the test's share of what is left", () => {
    // 60 GB over the 2880 tests of a 30-day month at one every 15 min: 20.8 MB a test; the line
    // moves 2.5 MB/s each way, so the phases fit in (20.83 MB − 20 kB) / 5 MB/s = 4.16 s.
    const history = [testOf(NOV_1 - 15 * MINUTE, 20, 10_000)];
    expect(testsLeftInMonth(NOV_1, ZONE, 15 * MINUTE)).toBe(2880);
    const plan = planFrom({ budget, nowMs: NOV_1, intervalMs: 15 * MINUTE, entries: history, test: FULL });
    // Capped at twice the share: a line that turned faster cannot spend more than that.
    expect(plan.decision).toMatchObject({ action: 'shortened', reason: 'over-allowance', allowanceBytes: 20_833_333, durationMs: 4100, capBytes: 41_666_666 });
    expect(plan.test).toEqual({ ...FULL, durationMs: 4100, warmupMs: 1025 });
  });

  it("caps a test at twice its share or its estimate, never past what the month has left", () => {
    expect(capFor(100 * MB, 10 * MB, 12 * MB)).toBe(24 * MB);
    expect(capFor(15 * MB, 10 * MB, 8 * MB)).toBe(15 * MB);
    expect(capFor(0, 0, 20_000)).toBe(0);
    // The last test of the month may use what is left, and no more.
    const lastHour = DEC_1 - 10 * MINUTE;
    const history = [testOf(NOV_1, 20, 10_000)];
    const plan = planFrom({ budget: { monthlyBytes: 100 * MB, timeZone: ZONE }, nowMs: lastHour, intervalMs: 15 * MINUTE, entries: history, test: FULL });
    expect(plan.decision).toMatchObject({ usedBytes: 50_020_000, allowanceBytes: 49_980_000, action: 'shortened', durationMs: 9900, capBytes: 49_980_000 });
  });

  it('leaves upload out, then download, when even the shortest phases do not fit', () => {
    const history = [testOf(NOV_1 - 15 * MINUTE, 20, 10_000)];
    // 12 MB a test: both phases at 3 s would take 15 MB; download alone fits in 4.7 s.
    const small = planFrom({ budget: { ...budget, monthlyBytes: 2880 * 12 * MB }, nowMs: NOV_1, intervalMs: 15 * MINUTE, entries: history, test: FULL });
    expect(small.test.tests).toEqual(['latency', 'download']);
    expect(small.decision).toMatchObject({ action: 'shortened', skipped: ['upload'], durationMs: 4700 });
    // 5 MB a test: not even download at 3 s (7.5 MB).
    const tiny = planFrom({ budget: { ...budget, monthlyBytes: 2880 * 5 * MB }, nowMs: NOV_1, intervalMs: 15 * MINUTE, entries: history, test: FULL });
    expect(tiny.test.tests).toEqual(['latency']);
    expect(tiny.decision).toMatchObject({ action: 'skipped', reason: 'over-allowance', skipped: ['download', 'upload'] });
  });

  it('skips throughput, and still measures latency, once the budget is spent', () => {
    const spent = [testOf(NOV_1 + MINUTE, 20, 10_000)];
    const plan = planFrom({ budget: { ...budget, monthlyBytes: 40 * MB }, nowMs: NOV_1 + 2 * MINUTE, intervalMs: 15 * MINUTE, entries: spent, test: { ...FULL, udp: true } });
    expect(plan.test).toEqual({ ...FULL, tests: ['latency'], udp: true });
    expect(plan.decision).toMatchObject({ action: 'skipped', reason: 'budget-spent', usedBytes: 50_020_000, allowanceBytes: 0, skipped: ['download', 'upload'] });
    expect(plan.decision.estimatedBytes).toBe(20_000 + 107_000);
  });

  it('spreads a month\'s budget so that the last day still has tests, and stays within it', () => {
    // A month of tests every 15 minutes on a line of 20 Mbit/s each way whose tests use
    // ±15% of the estimate (seeded), with 30 GB: 10.4 MB a test, so download alone, about 4 s.
    const random = seededRandom(20261130);
    const monthlyBytes = 30_000 * MB;
    const entries: UsageEntry[] = [testOf(NOV_1 - 15 * MINUTE, 20, 10_000)];
    const byDay = new Map<number, { tests: number; withThroughput: number; shortestMs: number }>();
    for (let nowMs = NOV_1; nowMs < DEC_1; nowMs += 15 * MINUTE) {
      const { test, decision } = planFrom({ budget: { monthlyBytes, timeZone: ZONE }, nowMs, intervalMs: 15 * MINUTE, entries, test: FULL });
      const ran = test.tests.filter((t) => t !== 'latency');
      const entry = testOf(nowMs, 20 * (0.85 + 0.3 * random()), test.durationMs, ran);
      entries.push(entry);
      const day = Math.floor((nowMs - NOV_1) / 86_400_000) + 1;
      const stats = byDay.get(day) ?? { tests: 0, withThroughput: 0, shortestMs: Infinity };
      stats.tests++;
      if (ran.length > 0) {
        stats.withThroughput++;
        stats.shortestMs = Math.min(stats.shortestMs, test.durationMs);
      }
      byDay.set(day, stats);
      expect(decision.action).not.toBe('full');
    }
    const used = entries.filter((e) => e.atMs >= NOV_1).reduce((sum, e) => sum + entryBytes(e), 0);
    expect(used).toBeLessThanOrEqual(monthlyBytes);
    expect(used).toBeGreaterThan(0.97 * monthlyBytes);
    expect(byDay.size).toBe(30);
    const last = byDay.get(30);
    expect(last?.tests).toBe(96);
    // The last day's tests still measure download (most of them), none shorter than 3 s.
    expect(last?.withThroughput).toBeGreaterThan(80);
    expect(last?.shortestMs).toBeGreaterThanOrEqual(MIN_PHASE_MS);
  });
});

describe('estimates', () => {
  it('takes the median of the last ten tests', () => {
    const entries = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 100].map((mbps, i) => testOf(NOV_1 + i * MINUTE, mbps, 10_000));
    // The last ten: 3…11 and 100 Mbit/s; their median 7.5 Mbit/s is 937.5 bytes a ms.
    expect(estimates(entries)).toMatchObject({ smallBytes: 20_000, download: 937.5, upload: 937.5 });
    expect(estimates([]).smallBytes).toBe(DEFAULT_SMALL_BYTES);
  });
});
