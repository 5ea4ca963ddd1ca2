import { describe, expect, it } from 'vitest';
import { Pacer } from '../src/index.js';

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

// At 8 Mbps one byte takes exactly 1 µs, so 1000 bytes take 1 ms: easy numbers to check.
const MBPS = 8;

describe('Pacer', () => {
  describe('#reserve', () => {
    it('lets the first burstMs worth of bytes go at once', () => {
      const clock = fakeClock();
      const pacer = new Pacer({ mbps: MBPS, burstMs: 10, now: clock.now });
      expect(pacer.reserve(4_000)).toBe(0);
      expect(pacer.reserve(6_000)).toBe(0);
    });

    it('delays bytes past the burst by their time at the rate', () => {
      const clock = fakeClock();
      const pacer = new Pacer({ mbps: MBPS, burstMs: 10, now: clock.now });
      pacer.reserve(10_000); // the whole burst: the clock now stands at `now`
      expect(pacer.reserve(5_000)).toBeCloseTo(0, 9);
      expect(pacer.reserve(5_000)).toBeCloseTo(5, 9);
      expect(pacer.reserve(1_000)).toBeCloseTo(10, 9);
    });

    it('holds many callers together to the rate, not each one', () => {
      const clock = fakeClock();
      const pacer = new Pacer({ mbps: MBPS, burstMs: 0, now: clock.now });
      // Four connections reserving 2000-byte slots in turn: slots follow each other, 2 ms apart.
      const delays = [1, 2, 3, 4, 5, 6, 7, 8].map(() => pacer.reserve(2_000));
      expect(delays.map((d) => Math.round(d * 1000) / 1000)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    });

    it('shortens the wait by the time already spent waiting', () => {
      const clock = fakeClock();
      const pacer = new Pacer({ mbps: MBPS, burstMs: 0, now: clock.now });
      pacer.reserve(3_000);
      clock.advance(1);
      expect(pacer.reserve(1_000)).toBeCloseTo(2, 9);
      clock.advance(10); // woke late: the next slot starts right away, the lateness is not repaid
      expect(pacer.reserve(1_000)).toBe(0);
    });

    it('banks no more than burstMs however long it was idle', () => {
      const clock = fakeClock();
      const pacer = new Pacer({ mbps: MBPS, burstMs: 10, now: clock.now });
      pacer.reserve(1_000);
      clock.advance(60_000);
      expect(pacer.reserve(10_000)).toBe(0);
      expect(pacer.reserve(3_000)).toBeCloseTo(0, 9);
      expect(pacer.reserve(1_000)).toBeCloseTo(3, 9);
    });

    it('moves bytes at the rate over a long run of small and large reservations', () => {
      const clock = fakeClock();
      const pacer = new Pacer({ mbps: 50, now: clock.now });
      let bytes = 0;
      // Act like a sender that waits exactly as told: 10 s of mixed sizes.
      const sizes = [16_384, 31_250, 65_536, 1_500];
      for (let i = 0; clock.now() < 11_000; i += 1) {
        const size = sizes[i % sizes.length] as number;
        clock.advance(pacer.reserve(size));
        bytes += size;
      }
      const mbps = (bytes * 8) / 10 / 1e6;
      expect(mbps).toBeGreaterThan(50 * 0.999);
      expect(mbps).toBeLessThan(50 * 1.002);
    });
  });

  describe('#bytesIn', () => {
    it('gives the bytes that move in a duration at the rate', () => {
      expect(new Pacer({ mbps: 50 }).bytesIn(5)).toBeCloseTo(31_250, 6);
    });
  });
});
