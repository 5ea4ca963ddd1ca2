/**
 * Refused input per second and reason over a sliding window, from readings of the collector's
 * own `speedwatch_collector_rejected_total` counter: what Prometheus' `rate(…[5m])` gives the
 * SpeedwatchCollectorRejecting rule. In memory: after a restart the rate is unknown until the
 * window has filled, and the rule's alerts are held as they were.
 */

export class RejectionRate {
  readonly #windowMs: number;
  /** Readings, oldest first: time (ms) and the counter per reason. */
  #readings: { at: number; totals: ReadonlyMap<string, number> }[] = [];

  /** `windowMs`: the span a rate is taken over. */
  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records the counters read at `at` (ms); drops readings no longer needed. */
  record(at: number, totals: ReadonlyMap<string, number>): void {
    this.#readings.push({ at, totals: new Map(totals) });
    // Keep the newest reading at least a window old: it is the base of the next rate.
    while (this.#readings.length > 2 && (this.#readings[1] as { at: number }).at <= at - this.#windowMs) this.#readings.shift();
  }

  /**
   * Per reason, the increase since the reading at least a window before `at`, per second;
   * undefined while no reading is that old. A counter lower than before (a reset) counts from 0.
   */
  perSecond(at: number): Map<string, number> | undefined {
    const base = this.#readings[0];
    const last = this.#readings[this.#readings.length - 1];
    if (base === undefined || last === undefined || base.at > at - this.#windowMs || last.at <= base.at) return undefined;
    const seconds = (last.at - base.at) / 1000;
    const out = new Map<string, number>();
    for (const [reason, total] of last.totals) {
      const before = base.totals.get(reason) ?? 0;
      out.set(reason, (total >= before ? total - before : total) / seconds);
    }
    return out;
  }
}
