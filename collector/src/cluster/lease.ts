/**
 * A lease: work that several collectors on one database must do once for the fleet (roll-ups,
 * retention, partitions, the verdicts and the alerts) is done by the collector holding it. It
 * is a row with an expiry on the database's clock (store/postgres/postgres-leases.ts), not a
 * consensus of our own: the holder renews it every third of its time to live, and when the
 * holder stops renewing (killed, cut off from the database, its event loop stalled) another
 * collector takes it at its first attempt after the expiry.
 *
 * Bounds, with `ttlMs` the time to live and renewals every `ttlMs / 3`:
 * - A holder that dies is replaced within `ttlMs + ttlMs / 3` of its last renewal, hence of its
 *   death (at most `4/3 · ttlMs` later; 20 s with the default 15 s).
 * - A holder believes it holds the lease until nine tenths of `ttlMs` after it *sent* its last
 *   successful renewal (its own monotonic clock), before the expiry the database set when it
 *   ran the renewal (later than it was sent): it stops before anyone else may start, with a
 *   tenth of the time to live to spare for clocks that do not run at quite the same rate.
 * - What it writes under the lease is fenced as well: each of those transactions first checks
 *   that it still holds the lease, and records its epoch as the newest to have written
 *   (`lease_fences`), refusing to go on if a newer holder already has (`SW_LEASE_LOST`): a
 *   holder that stalls and wakes up late cannot write after its successor. The lease's own
 *   row is never locked by those writes, so a renewal never waits for a long one.
 * - A holder that closes releases the lease: the next attempt of another collector (within
 *   `ttlMs / 3`) takes it.
 */
import type { Logger } from '@speedwatch/shared';

/** Who must hold which lease, since which change of holder, for a write to go through: checked in the write's transaction. */
export interface LeaseFence {
  name: string;
  holder: string;
  /** The lease's epoch when this holder took it: a fencing token, newer holders have higher ones. */
  epoch: number;
}

/** What the lease needs of the database (PostgreSQL's `leases` table). */
export interface LeaseSource {
  /**
   * Takes the lease for `holder` if it is free or expired, or renews it if `holder` has it, for
   * `ttlMs` from now on the database's clock. Resolves with whether `holder` holds it now, and
   * the lease's holder and epoch (which moves at each change of holder).
   */
  claim(name: string, holder: string, ttlMs: number): Promise<LeaseClaim>;
  /** Ends `holder`'s lease at once (nothing if it does not hold it). */
  release(name: string, holder: string): Promise<void>;
}

export interface LeaseClaim {
  held: boolean;
  /** Who holds the lease now (undefined: nobody has ever held it). */
  holder: string | undefined;
  epoch: number;
}

export interface LeaseOptions {
  /** The lease's name, one row of `leases`. */
  name: string;
  /** This collector's id, unique per process start. */
  holder: string;
  /** Time to live of each claim, ms; renewals every third of it. */
  ttlMs: number;
  source: LeaseSource;
  logger: Logger;
  /** Called when this collector gains (true) or loses (false) the lease. */
  onChange: (held: boolean) => void;
  /** Monotonic clock, ms. Default performance.now. */
  now?: () => number;
}

export class Lease {
  readonly #o: LeaseOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  /** Until when (monotonic ms) this collector may act as the holder. */
  #heldUntil = Number.NEGATIVE_INFINITY;
  #held = false;
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #claiming: Promise<void> | undefined;
  #failing = false;
  #closed = false;

  constructor(options: LeaseOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#log = options.logger.child({ component: 'lease', lease: options.name });
  }

  /** Renewal period, ms: a third of the time to live. */
  get renewMs(): number {
    return Math.max(1, Math.floor(this.#o.ttlMs / 3));
  }

  /** True while this collector holds the lease (its last renewal has not run out). */
  get held(): boolean {
    return this.#held && this.#now() < this.#heldUntil;
  }

  /** The lease's epoch when this collector last held it. */
  get epoch(): number {
    return this.#epoch;
  }

  /** What writes under this lease must show; undefined while it is not held. */
  get fence(): LeaseFence | undefined {
    return this.held ? { name: this.#o.name, holder: this.#o.holder, epoch: this.#epoch } : undefined;
  }

  /** Tries now, then every `renewMs`, until `close`. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.claim(), this.renewMs);
    this.#timer.unref();
    void this.claim();
  }

  /** One attempt to take or renew the lease (joins one in progress); never rejects. */
  claim(): Promise<void> {
    this.#claiming ??= this.#claimOnce().finally(() => {
      this.#claiming = undefined;
    });
    return this.#claiming;
  }

  /** Stops renewing and releases the lease if held; resolves once released (or given up). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#expiry);
    await this.#claiming;
    const was = this.#held;
    this.#set(false, 'released');
    if (!was) return;
    try {
      await this.#o.source.release(this.#o.name, this.#o.holder);
    } catch (err) {
      this.#log.warn({ event: 'lease-release-failed', err }, 'could not release the lease; another collector takes it when it expires');
    }
  }

  async #claimOnce(): Promise<void> {
    if (this.#closed) return;
    const sentAt = this.#now();
    let claim: LeaseClaim;
    try {
      claim = await this.#o.source.claim(this.#o.name, this.#o.holder, this.#o.ttlMs);
    } catch (err) {
      if (!this.#failing) this.#log.warn({ event: 'lease-claim-failed', err, held: this.held }, 'could not take or renew the lease; will retry');
      this.#failing = true;
      this.#checkExpiry();
      return;
    }
    if (this.#failing) this.#log.info({ event: 'lease-claim-recovered' }, 'the lease can be claimed again');
    this.#failing = false;
    if (this.#closed) return;
    if (!claim.held) {
      this.#set(false, `held by ${claim.holder ?? 'nobody'}`);
      return;
    }
    this.#heldUntil = sentAt + this.#o.ttlMs - Math.floor(this.#o.ttlMs / 10);
    this.#epoch = claim.epoch;
    this.#set(true, 'claimed');
    // Step down at the expiry this collector can be sure of, even if no renewal answers by then.
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => this.#checkExpiry(), Math.max(0, this.#heldUntil - this.#now()) + 1);
    this.#expiry.unref();
  }

  #checkExpiry(): void {
    if (this.#held && this.#now() >= this.#heldUntil) this.#set(false, 'not renewed in time');
  }

  #set(held: boolean, why: string): void {
    if (held === this.#held) return;
    this.#held = held;
    if (held) this.#log.info({ event: 'lease-acquired', epoch: this.#epoch, ttlMs: this.#o.ttlMs }, 'this collector now holds the lease');
    else if (why === 'released') this.#log.info({ event: 'lease-released', epoch: this.#epoch }, 'this collector gave up the lease (closing)');
    else this.#log.warn({ event: 'lease-lost', epoch: this.#epoch, reason: why }, 'this collector no longer holds the lease');
    this.#o.onChange(held);
  }
}
