import { describe, expect, it } from 'vitest';
import { SourceLimiter, TokenBucket } from '../src/udp/source-limiter.js';

/** How many of `count` packets at `times` (ms) a limiter lets through. */
function allowed(take: (nowMs: number) => boolean, times: readonly number[]): number {
  return times.filter((t) => take(t)).length;
}

describe('TokenBucket', () => {
  it('lets a full burst through at once, then the rate', () => {
    const bucket = new TokenBucket(1000, 200, 0);
    expect(allowed((t) => bucket.take(t), Array(500).fill(0))).toBe(200);
    // One second later: 1000 more tokens, but the bucket holds 200.
    expect(allowed((t) => bucket.take(t), Array(500).fill(1000))).toBe(200);
    // Paced at the rate (one packet a millisecond), every packet passes.
    expect(allowed((t) => bucket.take(t), Array.from({ length: 1000 }, (_, i) => 1001 + i))).toBe(1000);
  });

  it('never refills from a clock that goes backwards', () => {
    const bucket = new TokenBucket(1000, 1, 100);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(50)).toBe(false);
  });
});

describe('SourceLimiter', () => {
  it('limits each address on its own', () => {
    const limiter = new SourceLimiter({ ratePerSecond: 10, burst: 5, maxSources: 10 });
    expect(allowed((t) => limiter.allow('10.0.0.1', t), Array(8).fill(0))).toBe(5);
    expect(allowed((t) => limiter.allow('10.0.0.2', t), Array(8).fill(0))).toBe(5);
    expect(limiter.allow('10.0.0.1', 100)).toBe(true); // 100 ms at 10/s: one token back
    expect(limiter.allow('10.0.0.1', 100)).toBe(false);
  });

  it('keeps at most maxSources addresses, forgetting the least recently seen first', () => {
    const limiter = new SourceLimiter({ ratePerSecond: 1, burst: 1, maxSources: 3 });
    for (const address of ['a', 'b', 'c']) expect(limiter.allow(address, 0)).toBe(true);
    expect(limiter.allow('a', 0)).toBe(false); // a is now the most recently seen
    expect(limiter.allow('d', 0)).toBe(true); // evicts b, the least recently seen
    expect(limiter.size).toBe(3);
    expect(limiter.allow('a', 0)).toBe(false); // a was kept: still empty
    expect(limiter.allow('b', 0)).toBe(true); // b was forgotten: a full bucket again
    for (let i = 0; i < 1000; i++) limiter.allow(`x${i}`, 0);
    expect(limiter.size).toBe(3);
  });
});
