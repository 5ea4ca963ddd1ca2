import type { Clock } from '../src/schedule/scheduler.js';

/**
 * A deterministic clock: timers wait in a priority queue ordered by due time, then by creation
 * order; `advance(ms)` fires the due ones in that order, setting `now()` to each one's due time
 * and letting every pending microtask run after each, so async runs progress as they would.
 */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: FakeTimer[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: FakeTimer = { dueAt: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cleared: false };
    this.#push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    (handle as FakeTimer).cleared = true;
  }

  /** Timers armed and neither fired nor cleared. */
  get pending(): number {
    return this.#heap.filter((t) => !t.cleared).length;
  }

  /** Milliseconds from now to each armed timer, soonest first. */
  dueIn(): number[] {
    return this.#heap
      .filter((t) => !t.cleared)
      .map((t) => t.dueAt - this.#now)
      .sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer due by then (including ones armed on the way). */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await drainMicrotasks();
    for (let t = this.#pop(); t !== undefined; t = this.#pop()) {
      if (t.dueAt > until) {
        this.#push(t);
        break;
      }
      if (t.cleared) continue;
      this.#now = t.dueAt;
      t.fn();
      await drainMicrotasks();
    }
    this.#now = until;
  }

  #push(t: FakeTimer): void {
    const h = this.#heap;
    h.push(t);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as FakeTimer, h[parent] as FakeTimer)) break;
      [h[i], h[parent]] = [h[parent] as FakeTimer, h[i] as FakeTimer];
      i = parent;
    }
  }

  #pop(): FakeTimer | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && before(h[l] as FakeTimer, h[min] as FakeTimer)) min = l;
      if (r < h.length && before(h[r] as FakeTimer, h[min] as FakeTimer)) min = r;
      if (min === i) break;
      [h[i], h[min]] = [h[min] as FakeTimer, h[i] as FakeTimer];
      i = min;
    }
    return top;
  }
}

interface FakeTimer {
  readonly dueAt: number;
  readonly seq: number;
  readonly fn: () => void;
  cleared: boolean;
}

function before(a: FakeTimer, b: FakeTimer): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
}

/** A macrotask turn: every microtask queued before it, and every one those queue, has run. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
