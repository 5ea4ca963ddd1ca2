/**
 * The lease (cluster/lease.ts) against an in-memory `leases` row with the database's rule, on a
 * fake clock: one holder at a time; a holder that stops renewing (killed, cut off) is replaced
 * within ttl + ttl/3 and has stepped down by the time the other takes over; a released lease is
 * taken at the next attempt.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import { Lease } from '../src/cluster/lease.js';
import type { LeaseClaim, LeaseSource } from '../src/cluster/lease.js';

const TTL = 3000;
const logger = createLogger({ level: 'silent' });

/** One lease row, expiring on the fake clock, as PostgreSQL's claim statement treats it. */
class MemoryLeases implements LeaseSource {
  row: { holder: string; epoch: number; expiresAt: number } | undefined;
  /** Holders whose claims fail (cut off from the database). */
  readonly unreachable = new Set<string>();

  async claim(_name: string, holder: string, ttlMs: number): Promise<LeaseClaim> {
    if (this.unreachable.has(holder)) throw new Error('connection refused');
    const now = Date.now();
    if (this.row === undefined || this.row.holder === holder || this.row.expiresAt <= now) {
      const epoch = this.row === undefined ? 1 : this.row.holder === holder ? this.row.epoch : this.row.epoch + 1;
      this.row = { holder, epoch, expiresAt: now + ttlMs };
      return { held: true, holder, epoch };
    }
    return { held: false, holder: this.row.holder, epoch: this.row.epoch };
  }

  async release(_name: string, holder: string): Promise<void> {
    if (this.row?.holder === holder) this.row.expiresAt = Number.NEGATIVE_INFINITY;
  }
}

describe('Lease', () => {
  let source: MemoryLeases;
  const leases: Lease[] = [];
  const changes: string[] = [];

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    source = new MemoryLeases();
    changes.length = 0;
  });
  afterEach(async () => {
    for (const lease of leases.splice(0)) await lease.close();
    vi.useRealTimers();
  });

  function lease(holder: string): Lease {
    const l = new Lease({ name: 'leader', holder, ttlMs: TTL, source, logger, now: () => Date.now(), onChange: (held) => changes.push(`${holder} ${held ? 'gained' : 'lost'}`) });
    leases.push(l);
    return l;
  }

  /** `a` claims first, `b` a tick later; then `forMs` passes. */
  async function aThenB(forMs: number): Promise<{ a: Lease; b: Lease }> {
    const a = lease('a');
    const b = lease('b');
    a.start();
    await vi.advanceTimersByTimeAsync(0);
    b.start();
    await vi.advanceTimersByTimeAsync(forMs);
    return { a, b };
  }

  it('is held by the first to claim it, and renewed so that the other never gets it', async () => {
    const { a, b } = await aThenB(10 * TTL);
    expect([a.held, b.held]).toEqual([true, false]);
    expect(a.fence).toEqual({ name: 'leader', holder: 'a', epoch: 1 });
    expect(b.fence).toBeUndefined();
    expect(changes).toEqual(['a gained']);
  });

  it('passes to the other within ttl + ttl/3 when the holder stops renewing, and the holder steps down before that', async () => {
    const { a, b } = await aThenB(TTL);
    // a is cut off from the database: its renewals fail from now on.
    source.unreachable.add('a');
    const cut = Date.now();
    let aLostAt = Number.NaN;
    let bGainedAt = Number.NaN;
    for (let t = 0; t < 3 * TTL && Number.isNaN(bGainedAt); t += 10) {
      await vi.advanceTimersByTimeAsync(10);
      if (Number.isNaN(aLostAt) && !a.held) aLostAt = Date.now();
      if (b.held) bGainedAt = Date.now();
    }
    expect(aLostAt).toBeLessThanOrEqual(bGainedAt);
    expect(bGainedAt - cut).toBeLessThanOrEqual(TTL + TTL / 3);
    expect(changes).toEqual(['a gained', 'a lost', 'b gained']);
    expect(source.row?.epoch).toBe(2);
  });

  it('is taken at the other\'s next attempt once released', async () => {
    const { a, b } = await aThenB(TTL);
    const released = Date.now();
    await a.close();
    await vi.advanceTimersByTimeAsync(b.renewMs);
    expect(b.held).toBe(true);
    expect(Date.now() - released).toBeLessThanOrEqual(b.renewMs);
  });
});
