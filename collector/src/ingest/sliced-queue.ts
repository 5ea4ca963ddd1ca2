/**
 * Work handled a slice at a time, so that the event loop turns between slices. Ingest reads a
 * frame in the socket's data callback but parses and validates it here: in one poll phase the
 * loop may find a thousand sockets with a frame each, and doing all that work inline kept it
 * from accepting connections for hundreds of milliseconds (10 000 agents reconnecting at once
 * overflowed the kernel's accept queue, and their SYN retries took seconds). Urgent items (a
 * connection's first messages: its hello) go before the others.
 */

/** A first-in first-out list with O(1) shift (an index into an array, compacted now and then). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

export interface SlicedQueueOptions<T> {
  /** Handles one item; must not throw (an exception is passed to `onError` and the queue goes on). */
  handle: (item: T) => void;
  onError: (err: unknown, item: T) => void;
  /** Called after each slice, with what is still queued. */
  afterSlice?: () => void;
  /** Longest a slice runs before yielding to the event loop, ms. */
  sliceMs: number;
  /** A monotonic clock in ms (performance.now). */
  now: () => number;
}

export class SlicedQueue<T> {
  readonly #o: SlicedQueueOptions<T>;
  readonly #urgent = new Fifo<{ item: T; bytes: number }>();
  readonly #normal = new Fifo<{ item: T; bytes: number }>();
  #bytes = 0;
  #scheduled: NodeJS.Immediate | undefined;

  constructor(options: SlicedQueueOptions<T>) {
    this.#o = options;
  }

  /** Items queued and not yet handled. */
  get length(): number {
    return this.#urgent.length + this.#normal.length;
  }

  /** The sum of the `bytes` of the items queued. */
  get bytes(): number {
    return this.#bytes;
  }

  push(item: T, bytes: number, urgent = false): void {
    (urgent ? this.#urgent : this.#normal).push({ item, bytes });
    this.#bytes += bytes;
    this.#scheduled ??= setImmediate(() => this.#slice());
  }

  /** Handles everything queued now, without yielding (for shutting down). */
  drainNow(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    while (this.#next()) {
      // handled in #next
    }
  }

  #slice(): void {
    this.#scheduled = undefined;
    const until = this.#o.now() + this.#o.sliceMs;
    while (this.#next() && this.#o.now() < until) {
      // handled in #next
    }
    if (this.length > 0) this.#scheduled = setImmediate(() => this.#slice());
    this.#o.afterSlice?.();
  }

  /** Handles the next item; false when there was none. */
  #next(): boolean {
    const entry = this.#urgent.shift() ?? this.#normal.shift();
    if (entry === undefined) return false;
    this.#bytes -= entry.bytes;
    try {
      this.#o.handle(entry.item);
    } catch (err) {
      this.#o.onError(err, entry.item);
    }
    return true;
  }
}
