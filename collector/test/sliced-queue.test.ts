import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SlicedQueue } from '../src/ingest/sliced-queue.js';

/** Turns of the event loop until `check` holds (at most 1 000). */
async function turnsUntil(check: () => boolean): Promise<number> {
  for (let turns = 0; turns < 1_000; turns++) {
    if (check()) return turns;
    await nextTurn();
  }
  throw new Error('never held');
}

describe('SlicedQueue', () => {
  it('handles urgent items first, each kind in the order pushed', async () => {
    const handled: string[] = [];
    const queue = new SlicedQueue<string>({ handle: (item) => handled.push(item), onError: () => {}, sliceMs: 100, now: () => performance.now() });
    queue.push('r1', 1);
    queue.push('h1', 1, true);
    queue.push('r2', 1);
    queue.push('h2', 1, true);
    expect(queue.length).toBe(4);
    await turnsUntil(() => queue.length === 0);
    expect(handled).toEqual(['h1', 'h2', 'r1', 'r2']);
  });

  it('stops a slice once its time is up and lets the event loop turn before the next', async () => {
    let clock = 0;
    const handled: number[] = [];
    let slices = 0;
    const queue = new SlicedQueue<number>({
      // Each item takes 2 ms of the fake clock: a 5 ms slice handles three.
      handle: (item) => {
        handled.push(item);
        clock += 2;
      },
      onError: () => {},
      afterSlice: () => slices++,
      sliceMs: 5,
      now: () => clock,
    });
    for (let i = 0; i < 10; i++) queue.push(i, 10);
    expect(queue.bytes).toBe(100);
    // Something else waiting on the event loop runs between the slices.
    const seenBetweenSlices: number[] = [];
    let watching = true;
    const watch = (): void => {
      seenBetweenSlices.push(handled.length);
      if (watching) setImmediate(watch);
    };
    setImmediate(watch);
    await turnsUntil(() => queue.length === 0);
    watching = false;
    expect(handled).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(queue.bytes).toBe(0);
    expect(slices).toBe(4); // 3 + 3 + 3 + 1
    expect(seenBetweenSlices.some((n) => n > 0 && n < 10)).toBe(true);
  });

  it('reports a failing item and goes on with the next', async () => {
    const errors: [unknown, string][] = [];
    const handled: string[] = [];
    const queue = new SlicedQueue<string>({
      handle: (item) => {
        if (item === 'bad') throw new Error('boom');
        handled.push(item);
      },
      onError: (err, item) => errors.push([err, item]),
      sliceMs: 100,
      now: () => performance.now(),
    });
    for (const item of ['a', 'bad', 'b']) queue.push(item, 1);
    await turnsUntil(() => queue.length === 0);
    expect(handled).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[1]).toBe('bad');
  });

  it('handles everything at once on drainNow, and calls afterSlice after each slice', async () => {
    const handled: number[] = [];
    let afterSlices = 0;
    const queue = new SlicedQueue<number>({
      handle: (item) => handled.push(item),
      onError: () => {},
      afterSlice: () => afterSlices++,
      sliceMs: 100,
      now: () => performance.now(),
    });
    for (let i = 0; i < 5; i++) queue.push(i, 1);
    queue.drainNow();
    expect(handled).toEqual([0, 1, 2, 3, 4]);
    expect(queue.length).toBe(0);
    queue.push(5, 1);
    await turnsUntil(() => queue.length === 0);
    expect(afterSlices).toBe(1);
  });
});
