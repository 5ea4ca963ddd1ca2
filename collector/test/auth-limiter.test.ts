import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from '../src/ingest/auth-limiter.js';

describe('AuthFailureLimiter', () => {
  const make = (now: { ms: number }, maxAddresses = 100) => new AuthFailureLimiter({ maxFailures: 3, periodMs: 60_000, maxAddresses }, () => now.ms);

  it('lets an address fail maxFailures times, then asks it to wait until one attempt has refilled', () => {
    const now = { ms: 0 };
    const limiter = make(now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(0);
      limiter.failed('10.0.0.1');
    }
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(20); // 3 per minute: one every 20 s
    expect(limiter.retryAfterSeconds('10.0.0.2')).toBe(0); // others are not affected
    now.ms = 15_000;
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(5);
    now.ms = 20_000;
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(0);
  });

  it('forgets an address once its bucket is full again', () => {
    const now = { ms: 0 };
    const limiter = make(now);
    limiter.failed('10.0.0.1');
    expect(limiter.size).toBe(1);
    now.ms = 20_000;
    expect(limiter.retryAfterSeconds('10.0.0.1')).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('tracks at most maxAddresses, forgetting the least recently failed', () => {
    const now = { ms: 0 };
    const limiter = make(now, 2);
    for (const a of ['a', 'b', 'a', 'c']) limiter.failed(a);
    expect(limiter.size).toBe(2);
    for (let i = 0; i < 3; i++) limiter.failed('c');
    expect(limiter.retryAfterSeconds('c')).toBeGreaterThan(0);
    limiter.failed('b'); // evicts a, the least recently failed
    expect(limiter.size).toBe(2);
    for (let i = 0; i < 2; i++) limiter.failed('a');
    expect(limiter.retryAfterSeconds('a')).toBe(0); // a started over: two failures of three
  });
});
