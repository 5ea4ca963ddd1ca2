/**
 * mulberry32: a small seeded PRNG, uniform in [0, 1). For the places that take a random
 * source (`random: () => number`) and must be replayable: tests on a fake clock, property
 * tests, and benchmarks whose compared runs must draw the same values. Not for secrets.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
