/**
 * When the agent runs its speed tests.
 *
 * Rules:
 * - Time is cut into slots of `intervalMs` from the moment `start()` is called: slot `k` is
 *   `[t0 + k·intervalMs, t0 + (k+1)·intervalMs)`. Each slot's run is planned at a uniformly
 *   random point of its slot (`t0 + (k + random())·intervalMs`), so the first run too starts
 *   anywhere in the first interval, and a fleet started at the same moment spreads its tests
 *   over the whole interval instead of testing in lock-step.
 * - Runs never overlap: the next slot is planned only once the current run has finished.
 *   If a run ends after the planned time of the slot it ends in, that slot's run starts right
 *   away (the only catch-up, at most one); slots that passed entirely while the run went on are
 *   skipped, reported in one `skipped` event with their count, never queued up. So every run
 *   starts inside its own slot, never before its planned time.
 * - A run still going `runBoundMs` after it started has its signal aborted (`overran` event,
 *   reason an `AbortError` DOMException). If it has not settled `abortGraceMs` after the abort,
 *   the scheduler reports it `abandoned` and plans the next slot anyway; whatever the run
 *   started (a child process, sockets) is the caller's to kill. Its late settlement is ignored.
 * - `stop()` cancels the planned run, aborts the signal of a run in progress and resolves once
 *   that run has settled, or `abortGraceMs` after the abort; it leaves no timer behind, no run
 *   starts after it, and calling it again returns the same promise.
 * - A run that throws or rejects is reported (`failed` event with the error as `err`) and the
 *   schedule goes on.
 * - `reschedule()` changes the interval and the run bound (settings pushed by the collector):
 *   with no run in progress the next slot starts at once and its run is planned in it, as if
 *   `start()` were called again; during a run, the new values apply from the run's end.
 * - `runNow()` starts the planned slot's run at once (a box just enrolled, a "test now") unless
 *   a run is in progress; the schedule then goes on from that slot as usual.
 * - Options are checked at construction: every one out of range is listed in one
 *   ScheduleOptionsError (SW_SCHEDULE_OPTIONS).
 * - Times are milliseconds on the clock's timeline. `systemClock` is monotonic
 *   (`performance.now()`), not wall-clock time: a Raspberry Pi has no real-time clock and
 *   steps its wall clock at NTP sync, which must not skip or bunch up tests.
 */

import { custom, number, object, optional, parseAll } from '@speedwatch/shared';
import type { Schema } from '@speedwatch/shared';
import { ScheduleOptionsError } from './schedule-error.js';

/** Time and timers, injected so that tests can run the schedule on a fake clock. */
export interface Clock {
  /** Current time in milliseconds; only differences matter. */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from now; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers on a monotonic clock; a timer never fires before `ms` have passed on `now()`. */
export const systemClock: Clock = Object.freeze({
  now: (): number => performance.now(),
  setTimeout: (fn: () => void, ms: number): unknown => {
    // libuv measures timers on a loop time cached at whole milliseconds, so a Node timer may
    // fire up to a millisecond early as seen by performance.now(); re-arm for the remainder.
    const dueAt = performance.now() + ms;
    const timer: SystemTimer = { timeout: undefined };
    const arm = (delayMs: number): void => {
      timer.timeout = setTimeout(() => {
        const leftMs = dueAt - performance.now();
        if (leftMs > 0) arm(leftMs);
        else fn();
      }, delayMs);
    };
    arm(ms);
    return timer;
  },
  clearTimeout: (handle: unknown): void => {
    clearTimeout((handle as SystemTimer).timeout);
  },
});

interface SystemTimer {
  timeout: ReturnType<typeof setTimeout> | undefined;
}

/** What the run was aborted by: its time bound, or `stop()`. `false` if it was not aborted. */
export type AbortCause = false | 'bound' | 'stop';

/** What the scheduler did, for logs and metrics. `at` is the clock time of the event (ms). */
export type SchedulerEvent =
  /** A slot's run was planned; `catchUp` when its planned time had already passed (it starts right away). */
  | { type: 'planned'; at: number; slot: number; plannedAt: number; catchUp: boolean }
  | { type: 'started'; at: number; slot: number; plannedAt: number }
  /** The run resolved. */
  | { type: 'finished'; at: number; slot: number; startedAt: number; durationMs: number; aborted: AbortCause }
  /** The run threw or rejected with `err`. */
  | { type: 'failed'; at: number; slot: number; startedAt: number; durationMs: number; aborted: AbortCause; err: unknown }
  /** The run reached `runBoundMs` and its signal was aborted. */
  | { type: 'overran'; at: number; slot: number; startedAt: number; runBoundMs: number }
  /** The run had not settled `abortGraceMs` after its abort; the scheduler no longer waits for it. */
  | { type: 'abandoned'; at: number; slot: number; startedAt: number; durationMs: number; aborted: 'bound' | 'stop' }
  /** Slots `firstSlot`…`lastSlot` (`count` of them) passed entirely while a run went on; none of them runs. */
  | { type: 'skipped'; at: number; count: number; firstSlot: number; lastSlot: number }
  /** `stop()` finished: no run in progress (or the last one abandoned), no timer left. */
  | { type: 'stopped'; at: number };

export interface SchedulerOptions {
  /** Length of a slot: one run per interval, in milliseconds (e.g. 900 000 for 15 min). */
  intervalMs: number;
  /** Longest a run may take, in milliseconds; past it the run's AbortSignal fires. May exceed `intervalMs`. */
  runBoundMs: number;
  /**
   * Grace after the abort, in milliseconds, before the scheduler stops waiting for the run and
   * moves on (the run is then reported as abandoned). Default 5 000.
   */
  abortGraceMs?: number;
  clock: Clock;
  /** Uniform in [0, 1): places each run in its slot. Injected so that tests are deterministic. */
  random: () => number;
  /**
   * One run. `slot` counts intervals from `start()` (0 is the first); `plannedAt` is the
   * planned start and `slotEndsAt` the end of its slot, on the clock's timeline; `instant` when
   * `runNow()` started it rather than the schedule. The run should settle soon after `signal` aborts.
   */
  run: (ctx: RunContext) => Promise<void>;
  /** Called synchronously for each event; must not throw (an exception is rethrown outside the scheduler). */
  onEvent?: (e: SchedulerEvent) => void;
}

export interface RunContext {
  signal: AbortSignal;
  slot: number;
  plannedAt: number;
  slotEndsAt: number;
  instant: boolean;
}

export const DEFAULT_ABORT_GRACE_MS = 5_000;

/** Node's longest timer; a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';
const fn = (expected: string): Schema<(...args: never[]) => unknown> => custom(expected, isFunction);

const optionsSchema = object({
  intervalMs: number({ greaterThan: 0, max: MAX_TIMER_MS }),
  runBoundMs: number({ greaterThan: 0, max: MAX_TIMER_MS }),
  abortGraceMs: optional(number({ min: 0, max: MAX_TIMER_MS })),
  clock: custom('a clock with now, setTimeout and clearTimeout', (value): value is Clock =>
    typeof value === 'object' && value !== null && ['now', 'setTimeout', 'clearTimeout'].every((name) => isFunction((value as Record<string, unknown>)[name])),
  ),
  random: fn('a function returning a number in [0, 1)'),
  run: fn('a function returning a promise'),
  onEvent: optional(fn('a function')),
});

interface ActiveRun {
  readonly slot: number;
  readonly startedAt: number;
  readonly controller: AbortController;
  aborted: AbortCause;
  boundTimer: Timer | undefined;
  graceTimer: Timer | undefined;
  /** Resolves when the run settled or was abandoned. */
  readonly done: Promise<void>;
  readonly release: () => void;
}

interface Timer {
  readonly handle: unknown;
}

/**
 * Runs `run` once per slot of `intervalMs`, at a random point of the slot, never two at once.
 * See the rules at the top of this file.
 */
export class Scheduler {
  readonly #o: Readonly<SchedulerOptions> & { readonly abortGraceMs: number };
  /** `intervalMs` and `runBoundMs` as of the latest reschedule. */
  #intervalMs: number;
  #runBoundMs: number;
  /** A reschedule during a run: the slots restart at its end. */
  #restartAfterRun = false;
  /** The slot whose run `#planTimer` will start. */
  #plannedSlot = 0;
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  /** Clock time of `start()`: the beginning of slot 0. */
  #t0 = 0;
  #planTimer: Timer | undefined;
  #current: ActiveRun | undefined;
  #stopped: Promise<void> | undefined;

  /** @throws ScheduleOptionsError (SW_SCHEDULE_OPTIONS) listing every option out of range or of the wrong type. */
  constructor(o: SchedulerOptions) {
    const { problems } = parseAll(optionsSchema, o);
    if (problems.length > 0) throw new ScheduleOptionsError(problems);
    this.#o = Object.freeze({ ...o, abortGraceMs: o.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS });
    this.#intervalMs = o.intervalMs;
    this.#runBoundMs = o.runBoundMs;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  get runBoundMs(): number {
    return this.#runBoundMs;
  }

  /**
   * New interval and run bound. With no run in progress, the next slot starts now (its run at
   * a random point of it); during a run, the slots restart when it ends.
   * @throws ScheduleOptionsError for values out of range.
   */
  reschedule(next: { intervalMs: number; runBoundMs: number }): void {
    const { problems } = parseAll(optionsSchema, { ...this.#o, ...next });
    if (problems.length > 0) throw new ScheduleOptionsError(problems);
    this.#intervalMs = next.intervalMs;
    this.#runBoundMs = next.runBoundMs;
    if (this.#state !== 'running') return;
    if (this.#current !== undefined) {
      this.#restartAfterRun = true;
      return;
    }
    this.#clear(this.#planTimer);
    this.#planTimer = undefined;
    const slot = this.#plannedSlot;
    this.#t0 = this.#o.clock.now() - slot * this.#intervalMs;
    this.#plan(slot);
  }

  /** Starts the planned slot's run now; false (nothing done) while a run is in progress or when not running. */
  runNow(): boolean {
    if (this.#state !== 'running' || this.#current !== undefined || this.#planTimer === undefined) return false;
    this.#clear(this.#planTimer);
    const slot = this.#plannedSlot;
    const plannedAt = this.#o.clock.now();
    this.#emit({ type: 'planned', at: plannedAt, slot, plannedAt, catchUp: false });
    this.#planTimer = {
      handle: this.#o.clock.setTimeout(() => {
        this.#planTimer = undefined;
        this.#begin(slot, plannedAt, true);
      }, 0),
    };
    return true;
  }

  /** True from `start()` until `stop()` is called. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /**
   * Starts slot 0 now and plans its run. Calling it again while running does nothing.
   * @throws Error after `stop()`: a stopped scheduler stays stopped; make a new one.
   */
  start(): void {
    if (this.#state === 'running') return;
    if (this.#state === 'stopped') throw new Error('Scheduler.start(): the scheduler was stopped; create a new Scheduler');
    this.#state = 'running';
    this.#t0 = this.#o.clock.now();
    this.#plan(0);
  }

  /**
   * Cancels the planned run, aborts the one in progress and resolves once it settled or
   * `abortGraceMs` after the abort. Idempotent: later calls return the same promise. Never rejects.
   */
  stop(): Promise<void> {
    if (this.#stopped !== undefined) return this.#stopped;
    this.#state = 'stopped';
    this.#clear(this.#planTimer);
    this.#planTimer = undefined;
    const run = this.#current;
    if (run === undefined) {
      this.#emit({ type: 'stopped', at: this.#o.clock.now() });
      this.#stopped = Promise.resolve();
    } else {
      this.#abort(run, 'stop');
      this.#stopped = run.done.then(() => this.#emit({ type: 'stopped', at: this.#o.clock.now() }));
    }
    return this.#stopped;
  }

  /** Plans slot `slot`'s run at a random point of the slot, or right away if that point has passed. */
  #plan(slot: number): void {
    const { clock } = this.#o;
    const intervalMs = this.#intervalMs;
    const now = clock.now();
    this.#plannedSlot = slot;
    const plannedAt = this.#t0 + slot * intervalMs + this.#o.random() * intervalMs;
    this.#emit({ type: 'planned', at: now, slot, plannedAt, catchUp: plannedAt < now });
    // Even a catch-up goes through a timer: a run never starts inside start() or a settle handler.
    this.#planTimer = {
      handle: clock.setTimeout(() => {
        this.#planTimer = undefined;
        this.#begin(slot, plannedAt);
      }, Math.max(0, plannedAt - now)),
    };
  }

  #begin(slot: number, plannedAt: number, instant = false): void {
    if (this.#state !== 'running') return;
    const { clock } = this.#o;
    let release = (): void => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run: ActiveRun = {
      slot,
      startedAt: clock.now(),
      controller: new AbortController(),
      aborted: false,
      boundTimer: undefined,
      graceTimer: undefined,
      done,
      release,
    };
    this.#current = run;
    const runBoundMs = this.#runBoundMs;
    run.boundTimer = { handle: clock.setTimeout(() => this.#overran(run, runBoundMs), runBoundMs) };
    this.#emit({ type: 'started', at: run.startedAt, slot, plannedAt });
    let settled: Promise<void>;
    try {
      const slotEndsAt = this.#t0 + (slot + 1) * this.#intervalMs;
      settled = Promise.resolve(this.#o.run({ signal: run.controller.signal, slot, plannedAt, slotEndsAt, instant }));
    } catch (err) {
      settled = Promise.reject(err);
    }
    // Both outcomes are handled here and the handlers do not throw: no rejection escapes.
    void settled.then(
      () => this.#settle(run, undefined, false),
      (err: unknown) => this.#settle(run, err, true),
    );
  }

  #overran(run: ActiveRun, runBoundMs: number): void {
    run.boundTimer = undefined;
    if (this.#current !== run) return;
    this.#emit({ type: 'overran', at: this.#o.clock.now(), slot: run.slot, startedAt: run.startedAt, runBoundMs });
    this.#abort(run, 'bound');
  }

  /** Aborts the run's signal once (the first cause wins) and starts its grace period. */
  #abort(run: ActiveRun, cause: 'bound' | 'stop'): void {
    if (run.aborted !== false) return;
    run.aborted = cause;
    this.#clear(run.boundTimer);
    run.boundTimer = undefined;
    run.graceTimer = { handle: this.#o.clock.setTimeout(() => this.#abandon(run, cause), this.#o.abortGraceMs) };
    const why = cause === 'bound' ? `the run overran its bound of ${this.#runBoundMs} ms` : 'the scheduler was stopped';
    run.controller.abort(new DOMException(why, 'AbortError'));
  }

  #settle(run: ActiveRun, err: unknown, failed: boolean): void {
    if (this.#current !== run) return; // abandoned earlier: its late settlement is ignored
    this.#current = undefined;
    this.#clear(run.boundTimer);
    this.#clear(run.graceTimer);
    run.boundTimer = undefined;
    run.graceTimer = undefined;
    const at = this.#o.clock.now();
    const base = { at, slot: run.slot, startedAt: run.startedAt, durationMs: at - run.startedAt, aborted: run.aborted };
    this.#emit(failed ? { type: 'failed', ...base, err } : { type: 'finished', ...base });
    this.#next(run.slot, at);
    run.release();
  }

  #abandon(run: ActiveRun, cause: 'bound' | 'stop'): void {
    run.graceTimer = undefined;
    if (this.#current !== run) return;
    this.#current = undefined;
    this.#clear(run.boundTimer);
    run.boundTimer = undefined;
    const at = this.#o.clock.now();
    this.#emit({ type: 'abandoned', at, slot: run.slot, startedAt: run.startedAt, durationMs: at - run.startedAt, aborted: cause });
    this.#next(run.slot, at);
    run.release();
  }

  /** After slot `slot`'s run ended at `endedAt`: skip the slots that passed entirely, plan the next. */
  #next(slot: number, endedAt: number): void {
    if (this.#state !== 'running') return;
    if (this.#restartAfterRun) {
      this.#restartAfterRun = false;
      this.#t0 = endedAt - (slot + 1) * this.#intervalMs;
    }
    const endSlot = Math.floor((endedAt - this.#t0) / this.#intervalMs);
    const next = Math.max(slot + 1, endSlot);
    const count = next - slot - 1;
    if (count > 0) this.#emit({ type: 'skipped', at: endedAt, count, firstSlot: slot + 1, lastSlot: next - 1 });
    this.#plan(next);
  }

  #clear(timer: Timer | undefined): void {
    if (timer !== undefined) this.#o.clock.clearTimeout(timer.handle);
  }

  /** A listener's exception must neither corrupt the schedule nor become an unhandled rejection: rethrow it on its own. */
  #emit(e: SchedulerEvent): void {
    const onEvent = this.#o.onEvent;
    if (onEvent === undefined) return;
    try {
      onEvent(e);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
