import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '@speedwatch/shared';
import type { Clock, SchedulerEvent, SchedulerOptions } from '../src/schedule/scheduler.js';
import { DEFAULT_ABORT_GRACE_MS, Scheduler, systemClock } from '../src/schedule/scheduler.js';
import { ScheduleOptionsError } from '../src/schedule/schedule-error.js';
import { FakeClock } from './fake-clock.js';

const INTERVAL_MS = 900_000; // 15 min
const BOUND_MS = 600_000; // 10 min

interface RunRecord {
  slot: number;
  plannedAt: number;
  startedAt: number;
  endedAt?: number;
  abortedAt?: number;
  abortReason?: unknown;
}

/** Resolves after `ms` on `clock`, or rejects when `signal` aborts (a run that honours its signal). */
function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A scheduler on `clock` whose runs and events are recorded; `work` is what each run does. */
function harness(
  clock: FakeClock,
  options: Partial<SchedulerOptions> & { work: (ctx: { signal: AbortSignal; slot: number }) => Promise<void> },
): { scheduler: Scheduler; runs: RunRecord[]; events: SchedulerEvent[] } {
  const runs: RunRecord[] = [];
  const events: SchedulerEvent[] = [];
  const { work, ...rest } = options;
  const scheduler = new Scheduler({
    intervalMs: INTERVAL_MS,
    runBoundMs: BOUND_MS,
    clock,
    random: seededRandom(1),
    onEvent: (e) => events.push(e),
    ...rest,
    run: async (ctx) => {
      const record: RunRecord = { slot: ctx.slot, plannedAt: ctx.plannedAt, startedAt: clock.now() };
      runs.push(record);
      ctx.signal.addEventListener('abort', () => {
        record.abortedAt = clock.now();
        record.abortReason = ctx.signal.reason;
      });
      try {
        await work(ctx);
      } finally {
        record.endedAt = clock.now();
      }
    },
  });
  stopAfterTest(clock, scheduler);
  return { scheduler, runs, events };
}

/** Every scheduler a test makes is stopped after it, even when the test fails. */
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** Stops `scheduler` after the test; on a fake clock, moves time past the abort grace so that stop() can resolve. */
function stopAfterTest(clock: Clock, scheduler: Scheduler): void {
  stops.push(async () => {
    const stopping = scheduler.stop();
    if (clock instanceof FakeClock) await clock.advance(DEFAULT_ABORT_GRACE_MS);
    await stopping;
  });
}

function ofType<T extends SchedulerEvent['type']>(events: readonly SchedulerEvent[], type: T): Array<Extract<SchedulerEvent, { type: T }>> {
  return events.filter((e): e is Extract<SchedulerEvent, { type: T }> => e.type === type);
}

/** A promise settled from outside, for a run that waits on no timer at all. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let resolve = (): void => {};
  let reject = (_err: unknown): void => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Scheduler', () => {
  describe('#constructor', () => {
    it.each<[string, Record<string, unknown>, string[]]>([
      ['an interval of 0', { intervalMs: 0 }, ['intervalMs']],
      ['an interval that is not a number', { intervalMs: Number.NaN }, ['intervalMs']],
      ['a negative run bound', { runBoundMs: -1 }, ['runBoundMs']],
      ['a run bound past the longest timer', { runBoundMs: 2 ** 31 }, ['runBoundMs']],
      ['an endless abort grace', { abortGraceMs: Number.POSITIVE_INFINITY }, ['abortGraceMs']],
      [
        'everything wrong at once',
        { intervalMs: '15m', runBoundMs: 0, abortGraceMs: -1, clock: {}, random: 0.5, run: undefined, onEvent: 'log', jitter: true },
        ['jitter', 'intervalMs', 'runBoundMs', 'abortGraceMs', 'clock', 'random', 'run', 'onEvent'],
      ],
    ])('rejects %s with SW_SCHEDULE_OPTIONS naming each key', (_case, bad, paths) => {
      let thrown: unknown;
      try {
        new Scheduler({ intervalMs: 1000, runBoundMs: 1000, clock: new FakeClock(), random: () => 0, run: async () => {}, ...bad });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ScheduleOptionsError);
      expect((thrown as ScheduleOptionsError).code).toBe('SW_SCHEDULE_OPTIONS');
      expect((thrown as ScheduleOptionsError).problems.map((p) => p.path)).toEqual(paths);
    });

    it('accepts an abort grace of 0', () => {
      const make = (): Scheduler =>
        new Scheduler({ intervalMs: 1, runBoundMs: 1, abortGraceMs: 0, clock: new FakeClock(), random: () => 0, run: async () => {} });
      expect(make).not.toThrow();
    });
  });

  describe('planning', () => {
    it('spreads the first runs of 1 000 schedulers started together over the whole interval', async () => {
      const clock = new FakeClock();
      const firstStarts: number[] = [];
      const fleet = Array.from({ length: 1000 }, (_, box) => {
        const s = new Scheduler({
          intervalMs: INTERVAL_MS,
          runBoundMs: BOUND_MS,
          clock,
          random: seededRandom(1000 + box), // each box has its own generator
          run: async ({ slot }) => {
            if (slot === 0) firstStarts.push(clock.now());
          },
        });
        stopAfterTest(clock, s);
        s.start();
        return s;
      });
      await clock.advance(INTERVAL_MS);
      expect(firstStarts).toHaveLength(1000);
      const tenths = Array.from({ length: 10 }, () => 0);
      for (const t of firstStarts) {
        expect(t).toBeGreaterThanOrEqual(0);
        expect(t).toBeLessThan(INTERVAL_MS);
        const i = Math.floor((t / INTERVAL_MS) * 10);
        tenths[i] = (tenths[i] ?? 0) + 1;
      }
      // Uniform: 100 expected per tenth, standard deviation √(1000 · 0.1 · 0.9) ≈ 9.5, so 60–140 is over 4 σ.
      for (const n of tenths) expect(n).toBeGreaterThanOrEqual(60);
      for (const n of tenths) expect(n).toBeLessThanOrEqual(140);
      // The edges of the interval are used too, not only its middle.
      expect(Math.min(...firstStarts)).toBeLessThan(INTERVAL_MS * 0.01);
      expect(Math.max(...firstStarts)).toBeGreaterThan(INTERVAL_MS * 0.99);
      await Promise.all(fleet.map((s) => s.stop()));
      expect(clock.pending).toBe(0);
    });

    it('starts each run at its planned time inside its own slot, one run per slot', async () => {
      const clock = new FakeClock();
      await clock.advance(12_345); // slots count from start(), not from 0
      const t0 = clock.now();
      const { scheduler, runs, events } = harness(clock, { work: () => sleep(clock, 60_000) });
      scheduler.start();
      await clock.advance(50 * INTERVAL_MS);
      expect(runs.length).toBeGreaterThanOrEqual(49);
      runs.forEach((r, k) => {
        const slotStart = t0 + k * INTERVAL_MS;
        expect(r.slot).toBe(k);
        expect(r.plannedAt).toBeGreaterThanOrEqual(slotStart);
        expect(r.plannedAt).toBeLessThan(slotStart + INTERVAL_MS);
        expect(r.startedAt).toBeGreaterThanOrEqual(r.plannedAt);
        expect(r.startedAt).toBeLessThan(slotStart + INTERVAL_MS);
      });
      expect(ofType(events, 'skipped')).toEqual([]);
    });

    it('emits planned, started and finished for each run', async () => {
      const clock = new FakeClock();
      const { scheduler, events } = harness(clock, { random: () => 0.5, work: () => sleep(clock, 1000) });
      scheduler.start();
      await clock.advance(INTERVAL_MS);
      expect(events).toEqual([
        { type: 'planned', at: 0, slot: 0, plannedAt: 450_000, catchUp: false },
        { type: 'started', at: 450_000, slot: 0, plannedAt: 450_000 },
        { type: 'finished', at: 451_000, slot: 0, startedAt: 450_000, durationMs: 1000, aborted: false },
        { type: 'planned', at: 451_000, slot: 1, plannedAt: 1_350_000, catchUp: false },
      ]);
    });
  });

  describe('overlong runs', () => {
    // Runs of 1.7 intervals (1 530 000 ms); the bound (2 intervals) does not cut them.
    const RUN_MS = 1_530_000;

    it.each([
      {
        // Each run ends at 0.2 of the slot after next (0.5 + 1.7 = 2.2), before that slot's planned 0.5: one slot skipped, then a wait.
        random: 0.5,
        starts: [
          [0, 450_000],
          [2, 2_250_000],
          [4, 4_050_000],
          [6, 5_850_000],
          [8, 7_650_000],
        ],
        skipped: [1, 3, 5, 7],
      },
      {
        // 0.25 + 1.7 = 1.95: the run ends after slot 1's planned time, which starts at once (catch-up) and ends at 3.65 → slot 2 skipped …
        // … until a run ends exactly at 7.0, the start of slot 7, before its planned 7.25: it waits.
        random: 0.25,
        starts: [
          [0, 225_000],
          [1, 1_755_000],
          [3, 3_285_000],
          [5, 4_815_000],
          [7, 6_525_000],
          [8, 8_055_000],
        ],
        skipped: [2, 4, 6],
      },
    ])('with random() = $random: runs never overlap, a passed slot starts at once, slots passed entirely are skipped', async ({ random, starts, skipped }) => {
      const clock = new FakeClock();
      const { scheduler, runs, events } = harness(clock, { random: () => random, runBoundMs: 2 * INTERVAL_MS, work: () => sleep(clock, RUN_MS) });
      scheduler.start();
      await clock.advance(9 * INTERVAL_MS);
      expect(runs.map((r) => [r.slot, r.startedAt])).toEqual(starts);
      expect(ofType(events, 'skipped').map((e) => [e.count, e.firstSlot, e.lastSlot])).toEqual(skipped.map((slot) => [1, slot, slot]));
      expect(ofType(events, 'overran')).toEqual([]);
    });

    it('never overlaps and skips exactly the slots that passed while running, over 300 slots of a seeded schedule', async () => {
      const clock = new FakeClock();
      const { scheduler, runs, events } = harness(clock, { random: seededRandom(7), runBoundMs: 2 * INTERVAL_MS, work: () => sleep(clock, RUN_MS) });
      scheduler.start();
      await clock.advance(300 * INTERVAL_MS);
      const done = runs.filter((r) => r.endedAt !== undefined);
      expect(done.length).toBeGreaterThan(100);
      const skips = ofType(events, 'skipped');
      let skippedTotal = 0;
      let catchUps = 0;
      for (let i = 0; i + 1 < done.length; i++) {
        const run = done[i] as RunRecord;
        const next = done[i + 1] as RunRecord;
        const endedAt = run.endedAt as number;
        // Planned times are fractions of a millisecond: compare to a microsecond.
        expect(endedAt - run.startedAt).toBeCloseTo(RUN_MS, 3);
        expect(next.startedAt).toBeGreaterThanOrEqual(endedAt); // no overlap
        // The next run is in the slot the run ended in, or the one after if it ended in its own slot.
        const endSlot = Math.floor(endedAt / INTERVAL_MS);
        expect(next.slot).toBe(Math.max(run.slot + 1, endSlot));
        // It starts at its planned time, or right at the end of the run if that time had passed.
        expect(next.startedAt).toBeCloseTo(Math.max(next.plannedAt, endedAt), 3);
        if (next.plannedAt < endedAt) catchUps++;
        const gap = next.slot - run.slot - 1;
        const skip = skips.find((e) => e.firstSlot === run.slot + 1);
        expect(skip?.count ?? 0).toBe(gap);
        if (skip !== undefined) expect([skip.at, skip.lastSlot]).toEqual([endedAt, next.slot - 1]);
        skippedTotal += gap;
      }
      // Every slot up to the last run is accounted for: run or skipped, never both, never queued.
      const last = done[done.length - 1] as RunRecord;
      expect(done.length + skippedTotal).toBe(last.slot + 1);
      expect(skips.every((e) => e.count === 1)).toBe(true); // a 1.7-interval run can pass at most one whole slot
      expect(catchUps).toBeGreaterThan(0);
      expect(skippedTotal).toBeGreaterThan(0);
    });
  });

  describe('run bound', () => {
    it('aborts the signal at exactly runBoundMs and abandons a run that ignores it after the grace', async () => {
      const clock = new FakeClock();
      const ignored = deferred();
      const { scheduler, runs, events } = harness(clock, {
        random: () => 0.1,
        work: ({ slot }) => (slot === 0 ? ignored.promise : sleep(clock, 1000)),
      });
      scheduler.start();
      await clock.advance(INTERVAL_MS + 200_000);
      const [first, second] = runs;
      expect(first?.startedAt).toBe(90_000);
      expect(first?.abortedAt).toBe(90_000 + BOUND_MS);
      expect(first?.abortReason).toMatchObject({ name: 'AbortError' });
      expect(ofType(events, 'overran')).toEqual([{ type: 'overran', at: 690_000, slot: 0, startedAt: 90_000, runBoundMs: BOUND_MS }]);
      expect(ofType(events, 'abandoned')).toEqual([
        { type: 'abandoned', at: 695_000, slot: 0, startedAt: 90_000, durationMs: BOUND_MS + 5000, aborted: 'bound' },
      ]);
      // The schedule goes on: slot 1 is planned when the run is abandoned and starts at its own time.
      expect(ofType(events, 'planned')[1]).toEqual({ type: 'planned', at: 695_000, slot: 1, plannedAt: 990_000, catchUp: false });
      expect(second?.startedAt).toBe(990_000);
      // The abandoned run settling late (here, rejecting) changes nothing and is no unhandled rejection.
      const before = events.length;
      ignored.reject(new Error('late'));
      await clock.advance(1);
      expect(events.slice(before)).toEqual([]);
      expect(ofType(events, 'failed')).toEqual([]);
    });

    it('waits abortGraceMs as configured', async () => {
      const clock = new FakeClock();
      const { scheduler, events } = harness(clock, { random: () => 0, abortGraceMs: 250, work: () => deferred().promise });
      scheduler.start();
      await clock.advance(BOUND_MS + 249);
      expect(ofType(events, 'abandoned')).toEqual([]);
      await clock.advance(1);
      expect(ofType(events, 'abandoned').map((e) => e.at)).toEqual([BOUND_MS + 250]);
    });

    it('reports a run that stops on the abort as failed by the bound, without abandoning it', async () => {
      const clock = new FakeClock();
      const { scheduler, runs, events } = harness(clock, { random: () => 0, work: ({ signal }) => sleep(clock, 10 * BOUND_MS, signal) });
      scheduler.start();
      await clock.advance(BOUND_MS);
      const failed = ofType(events, 'failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ at: BOUND_MS, slot: 0, durationMs: BOUND_MS, aborted: 'bound', err: { name: 'AbortError' } });
      expect(runs[0]?.endedAt).toBe(BOUND_MS);
      expect(ofType(events, 'abandoned')).toEqual([]);
      expect(events.at(-1)).toEqual({ type: 'planned', at: BOUND_MS, slot: 1, plannedAt: INTERVAL_MS, catchUp: false });
    });
  });

  describe('#stop', () => {
    it('aborts the run in progress, resolves once it settled, and starts nothing after', async () => {
      const clock = new FakeClock();
      // The run honours its signal but takes 2 s to clean up.
      const { scheduler, runs, events } = harness(clock, {
        random: () => 0,
        work: async ({ signal }) => {
          try {
            await sleep(clock, 60_000, signal);
          } catch (err) {
            await sleep(clock, 2000);
            throw err;
          }
        },
      });
      scheduler.start();
      await clock.advance(30_000);
      expect(runs).toHaveLength(1);
      let resolved = false;
      const stopping = scheduler.stop().then(() => {
        resolved = true;
      });
      expect(scheduler.running).toBe(false);
      expect(runs[0]?.abortedAt).toBe(30_000);
      await clock.advance(1999);
      expect(resolved).toBe(false);
      await clock.advance(1);
      expect(resolved).toBe(true);
      await stopping;
      expect(clock.pending).toBe(0);
      expect(events.slice(-2)).toEqual([
        { type: 'failed', at: 32_000, slot: 0, startedAt: 0, durationMs: 32_000, aborted: 'stop', err: runs[0]?.abortReason },
        { type: 'stopped', at: 32_000 },
      ]);
      await clock.advance(10 * INTERVAL_MS);
      expect(runs).toHaveLength(1);
    });

    it('gives up on a run that ignores the abort after the grace', async () => {
      const clock = new FakeClock();
      const ignored = deferred();
      const { scheduler, events } = harness(clock, { random: () => 0, work: () => ignored.promise });
      scheduler.start();
      await clock.advance(1000);
      let resolved = false;
      const stopping = scheduler.stop().then(() => {
        resolved = true;
      });
      await clock.advance(4999);
      expect(resolved).toBe(false);
      await clock.advance(1);
      await stopping;
      expect(events.slice(-2)).toEqual([
        { type: 'abandoned', at: 6000, slot: 0, startedAt: 0, durationMs: 6000, aborted: 'stop' },
        { type: 'stopped', at: 6000 },
      ]);
      expect(clock.pending).toBe(0);
      ignored.resolve();
      await clock.advance(INTERVAL_MS);
      expect(events.at(-1)).toEqual({ type: 'stopped', at: 6000 });
    });

    it('keeps the grace that the bound started when stop() comes during it', async () => {
      const clock = new FakeClock();
      const { scheduler, events } = harness(clock, { random: () => 0, work: () => deferred().promise });
      scheduler.start();
      await clock.advance(BOUND_MS + 3000);
      const stopping = scheduler.stop();
      await clock.advance(2000);
      await stopping;
      expect(ofType(events, 'abandoned')).toMatchObject([{ at: BOUND_MS + 5000, aborted: 'bound' }]);
    });

    it('cancels a planned run and leaves no timer', async () => {
      const clock = new FakeClock();
      const { scheduler, runs, events } = harness(clock, { random: () => 0.5, work: async () => {} });
      scheduler.start();
      expect(scheduler.running).toBe(true);
      expect(clock.pending).toBe(1);
      await clock.advance(1000);
      await scheduler.stop();
      expect(clock.pending).toBe(0);
      await clock.advance(2 * INTERVAL_MS);
      expect(runs).toEqual([]);
      expect(events.map((e) => e.type)).toEqual(['planned', 'stopped']);
    });

    it('is idempotent, and a stopped scheduler cannot be started again', async () => {
      const clock = new FakeClock();
      const { scheduler, runs } = harness(clock, { work: async () => {} });
      const first = scheduler.stop();
      expect(scheduler.stop()).toBe(first);
      await first;
      expect(() => scheduler.start()).toThrow(Error);
      await clock.advance(2 * INTERVAL_MS);
      expect(runs).toEqual([]);
      expect(clock.pending).toBe(0);
    });
  });

  describe('failing runs', () => {
    it('reports a run that throws or rejects and goes on with the schedule', async () => {
      const clock = new FakeClock();
      const thrown = new Error('thrown before any await');
      const rejected = new Error('rejected later');
      const starts: number[] = [];
      const events: SchedulerEvent[] = [];
      const scheduler = new Scheduler({
        intervalMs: INTERVAL_MS,
        runBoundMs: BOUND_MS,
        clock,
        random: () => 0.5,
        onEvent: (e) => events.push(e),
        // Not an async function: slot 0 throws synchronously.
        run: ({ slot }) => {
          starts.push(slot);
          if (slot === 0) throw thrown;
          if (slot === 1) return sleep(clock, 1000).then(() => Promise.reject(rejected));
          return sleep(clock, 1000);
        },
      });
      stopAfterTest(clock, scheduler);
      scheduler.start();
      await clock.advance(4 * INTERVAL_MS);
      expect(starts).toEqual([0, 1, 2, 3]);
      expect(ofType(events, 'failed').map((e) => [e.slot, e.err, e.aborted])).toEqual([
        [0, thrown, false],
        [1, rejected, false],
      ]);
      expect(ofType(events, 'finished').map((e) => e.slot)).toEqual([2, 3]);
      expect(scheduler.running).toBe(true);
    });
  });
});

describe('systemClock', () => {
  it('drives a real schedule: runs start in turn, at or after their planned time, and the bound aborts on time', async () => {
    const INTERVAL = 200;
    const BOUND = 60;
    const events: SchedulerEvent[] = [];
    const threeDone = deferred();
    const t0 = systemClock.now();
    const scheduler = new Scheduler({
      intervalMs: INTERVAL,
      runBoundMs: BOUND,
      abortGraceMs: 100,
      clock: systemClock,
      random: seededRandom(3),
      onEvent: (e) => {
        events.push(e);
        if (ofType(events, 'finished').length + ofType(events, 'failed').length === 3) threeDone.resolve();
      },
      // Slot 1 runs until its bound aborts it; the others take 20 ms.
      run: ({ signal, slot }) => sleep(systemClock, slot === 1 ? 10_000 : 20, signal),
    });
    stopAfterTest(systemClock, scheduler);
    const timeout = setTimeout(() => threeDone.reject(new Error('three runs did not end within 5 s')), 5000);
    try {
      scheduler.start();
      await threeDone.promise;
    } finally {
      clearTimeout(timeout);
    }
    await scheduler.stop();
    const startedEvents = ofType(events, 'started');
    const ended = [...ofType(events, 'finished'), ...ofType(events, 'failed')].sort((a, b) => a.slot - b.slot);
    expect(ended.map((e) => e.slot)).toEqual([0, 1, 2]);
    startedEvents.slice(0, 3).forEach((s, k) => {
      expect(s.slot).toBe(k);
      expect(s.plannedAt).toBeGreaterThanOrEqual(t0 + k * INTERVAL);
      expect(s.plannedAt).toBeLessThan(systemClock.now());
      expect(s.at).toBeGreaterThanOrEqual(s.plannedAt);
      const prev = ended[k - 1];
      if (prev !== undefined) expect(s.at).toBeGreaterThanOrEqual(prev.at);
    });
    const overrun = ended[1];
    expect(overrun).toMatchObject({ type: 'failed', aborted: 'bound', err: { name: 'AbortError' } });
    expect(overrun?.durationMs).toBeGreaterThanOrEqual(BOUND);
    expect(scheduler.running).toBe(false);
  });
});
