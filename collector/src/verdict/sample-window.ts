/**
 * The samples of the longest verdict window, kept in memory as columns (sample-columns.ts) and
 * brought up to date from the store incrementally: at start every result of the window, then at
 * each refresh only the rows stored since (SQLite: by rowid, which only grows, see the store's
 * retention delete; PostgreSQL: by transaction snapshot), while samples that have left the
 * window are dropped. Re-reading 30 days
 * at every refresh cost 18 s a minute at 1 000 sites testing every 15 minutes.
 */
import { RESULT_STATUSES } from '@speedwatch/shared';
import type { ResultStatus } from '@speedwatch/shared';
import type { ResultStore, ScanPosition } from '../store/collector-store.js';
import type { VerdictRow } from '../store/store-types.js';
import type { SampleColumns } from './sample-columns.js';
import { firstAtOrAfter } from './sample-columns.js';

const MIN_CAPACITY = 1024;

interface Columns {
  agent: Int32Array;
  ts: Float64Array;
  status: Uint8Array;
  downloadMbps: Float64Array;
  uploadMbps: Float64Array;
  latencyMs: Float64Array;
  /** 1 when the test ran on a busy line. */
  busy: Uint8Array;
}

function allocate(capacity: number): Columns {
  return {
    agent: new Int32Array(capacity),
    ts: new Float64Array(capacity),
    status: new Uint8Array(capacity),
    downloadMbps: new Float64Array(capacity),
    uploadMbps: new Float64Array(capacity),
    latencyMs: new Float64Array(capacity),
    busy: new Uint8Array(capacity),
  };
}

const FIELDS = ['agent', 'ts', 'status', 'downloadMbps', 'uploadMbps', 'latencyMs', 'busy'] as const;

export interface WindowUpdate {
  /** Rows read from the store by this update. */
  added: number;
  /** Samples dropped because they left the window. */
  evicted: number;
  /** Samples held after the update. */
  held: number;
  /** Agents with rows read by this update; undefined after the first (which read every agent's). */
  agentsAdded?: ReadonlySet<string>;
}

export class SampleWindow {
  readonly #store: Pick<ResultStore, 'scanVerdictRows'>;
  readonly #spanMs: number;
  readonly #agentIds: string[] = [];
  readonly #indexOf = new Map<string, number>();
  #c: Columns = allocate(MIN_CAPACITY);
  /** Samples held are at [#start, #end), ascending by ts. */
  #start = 0;
  #end = 0;
  #position: ScanPosition | undefined;

  /** `spanMs`: the longest window; samples older than `now - spanMs` are dropped. */
  constructor(store: Pick<ResultStore, 'scanVerdictRows'>, spanMs: number) {
    this.#store = store;
    this.#spanMs = spanMs;
  }

  /**
   * Reads what the store gained since the last update (everything the first time) and drops what
   * left the window. Updates must not overlap (the maintenance pass runs one at a time).
   */
  async update(now: number): Promise<WindowUpdate> {
    const from = now - this.#spanMs;
    let added = 0;
    let sorted = true;
    let previous = this.#end > this.#start ? (this.#c.ts[this.#end - 1] as number) : Number.NEGATIVE_INFINITY;
    const agentsAdded = this.#position === undefined ? undefined : new Set<string>();
    try {
      this.#position = await this.#store.scanVerdictRows(from, this.#position, (row) => {
        this.#append(row);
        agentsAdded?.add(row[1]);
        added++;
        if (row[2] < previous) sorted = false;
        previous = row[2];
      });
    } catch (err) {
      // A scan that failed part way (a connection lost) is read again next time: forget its rows.
      this.#end -= added;
      throw err;
    }
    // Late results (a backlog replayed) arrive after newer ones: merge them into place. The new
    // rows are the last `added` (an append that filled the buffer compacted it to the front).
    if (!sorted) this.#mergeTail(this.#end - added);
    const keepFrom = this.#start + firstAtOrAfter(this.columns(), from);
    const evicted = keepFrom - this.#start;
    this.#start = keepFrom;
    const update: WindowUpdate = { added, evicted, held: this.#end - this.#start };
    if (agentsAdded !== undefined) update.agentsAdded = agentsAdded;
    return update;
  }

  /** Views of the samples held (valid until the next update). */
  columns(): SampleColumns {
    const { agent, ts, status, downloadMbps, uploadMbps, latencyMs, busy } = this.#c;
    const [s, e] = [this.#start, this.#end];
    return {
      length: e - s,
      agentIds: this.#agentIds,
      agent: agent.subarray(s, e),
      ts: ts.subarray(s, e),
      status: status.subarray(s, e),
      downloadMbps: downloadMbps.subarray(s, e),
      uploadMbps: uploadMbps.subarray(s, e),
      latencyMs: latencyMs.subarray(s, e),
      busy: busy.subarray(s, e),
    };
  }

  #append(row: VerdictRow): void {
    if (this.#end === this.#c.ts.length) this.#makeRoom();
    const [, agentId, ts, status, down, up, latency, busy] = row;
    let agent = this.#indexOf.get(agentId);
    if (agent === undefined) {
      agent = this.#agentIds.push(agentId) - 1;
      this.#indexOf.set(agentId, agent);
    }
    const i = this.#end++;
    const c = this.#c;
    c.agent[i] = agent;
    c.ts[i] = ts;
    c.status[i] = RESULT_STATUSES.indexOf(status as ResultStatus);
    c.downloadMbps[i] = down ?? Number.NaN;
    c.uploadMbps[i] = up ?? Number.NaN;
    c.latencyMs[i] = latency ?? Number.NaN;
    c.busy[i] = busy === 1 ? 1 : 0;
  }

  /** Full: compacts to the front, growing by half when more than half is in use. */
  #makeRoom(): void {
    const held = this.#end - this.#start;
    const capacity = held * 2 > this.#c.ts.length ? Math.max(MIN_CAPACITY, Math.ceil(this.#c.ts.length * 1.5)) : this.#c.ts.length;
    const next = capacity === this.#c.ts.length ? this.#c : allocate(capacity);
    for (const field of FIELDS) (next[field] as Float64Array).set((this.#c[field] as Float64Array).subarray(this.#start, this.#end));
    this.#c = next;
    this.#start = 0;
    this.#end = held;
  }

  /** Sorts [tailStart, #end) by ts (stable) and merges it with the sorted [#start, tailStart). */
  #mergeTail(tailStart: number): void {
    const c = this.#c;
    const tail = Array.from({ length: this.#end - tailStart }, (_, k) => tailStart + k);
    tail.sort((a, b) => (c.ts[a] as number) - (c.ts[b] as number) || a - b);
    const held = this.#end - this.#start;
    const out = allocate(Math.max(MIN_CAPACITY, c.ts.length));
    let i = this.#start;
    let t = 0;
    for (let k = 0; k < held; k++) {
      // Ties: the sample held first, so equal timestamps keep arrival order.
      const takeHeld = i < tailStart && (t >= tail.length || (c.ts[i] as number) <= (c.ts[tail[t] as number] as number));
      const from = takeHeld ? i++ : (tail[t++] as number);
      out.agent[k] = c.agent[from] as number;
      out.ts[k] = c.ts[from] as number;
      out.status[k] = c.status[from] as number;
      out.downloadMbps[k] = c.downloadMbps[from] as number;
      out.uploadMbps[k] = c.uploadMbps[from] as number;
      out.latencyMs[k] = c.latencyMs[from] as number;
      out.busy[k] = c.busy[from] as number;
    }
    this.#c = out;
    this.#start = 0;
    this.#end = held;
  }
}
