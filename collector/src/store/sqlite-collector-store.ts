/**
 * The CollectorStore on SQLite: the synchronous SqliteStore and its rooms, unchanged, behind the
 * asynchronous interface. Each call runs on the calling thread and resolves at once with what
 * the synchronous call returned (or rejects with what it threw); the collector keeps SQLite's
 * long work off the serving thread as before (writer and maintenance threads).
 */
import type { CollectorStore } from './collector-store.js';
import { maintainAll } from './collector-store.js';
import type { SqliteStore, StoreOptions } from './sqlite-store.js';
import { StoreError } from './store-error.js';

/** Runs `fn` now; its result or its throw as a promise. */
async function now<T>(fn: () => T): Promise<T> {
  return fn();
}

/**
 * `store` as a CollectorStore; closing it closes `store`. `options` are those it was opened with
 * (for other threads' connections). `sqlite` is the store itself, for SQLite-only tools (backup).
 */
export function sqliteCollectorStore(store: SqliteStore, options: StoreOptions = {}): CollectorStore & { readonly sqlite: SqliteStore } {
  const { agents, enrollment, health, areaUnits, results, rollups } = store;
  return {
    kind: 'sqlite',
    location: store.path,
    spec: { kind: 'sqlite', path: store.path, options },
    // One collector to a file: nothing to share.
    cluster: undefined,
    sqlite: store,
    agents: {
      add: (agent, tokenHash, at) => now(() => agents.add(agent, tokenHash, at)),
      get: (id) => now(() => agents.get(id)),
      byTokenHash: (tokenHash) => now(() => agents.byTokenHash(tokenHash)),
      list: () => now(() => agents.list()),
      listWithTokens: () => now(() => agents.listWithTokens()),
      revoke: (id, at) => now(() => agents.revoke(id, at)),
      edit: (id, site) => now(() => agents.edit(id, site)),
      setPaused: (ids, at) => now(() => agents.setPaused(ids, at)),
      rotate: (id, tokenHash) => now(() => agents.rotate(id, tokenHash)),
      touch: (touches) => now(() => agents.touch(touches)),
      changeSeq: () => now(() => agents.changeSeq()),
    },
    enrollment: {
      issue: (agentId, codeHash, at, expiresAt, add) =>
        now(() =>
          store.transaction(() => {
            if (add !== undefined) agents.add(add.agent, add.tokenHash, at);
            enrollment.issue(agentId, codeHash, at, expiresAt);
          }),
        ),
      redeem: (codeHash, tokenHash, at) => now(() => enrollment.redeem(codeHash, tokenHash, at)),
      latestByAgent: () => now(() => enrollment.latestByAgent()),
    },
    health: {
      save: (records) => now(() => health.save(records)),
      list: () => now(() => health.list()),
    },
    areaUnits: {
      upsert: (units) => now(() => areaUnits.upsert(units)),
      all: () => now(() => areaUnits.all()),
    },
    results: {
      insertFrames: (batches) => now(() => store.writes.insertFrames(batches)),
      page: (query) => now(() => results.page(query)),
      recent: (agentId, limit) => now(() => results.recent(agentId, limit)),
      latestActivity: (ids) => now(() => results.latestActivity(ids)),
      scanVerdictRows: (from, after, visit) =>
        now(() => String(results.scanVerdictRows(from, after === undefined ? undefined : rowidOf(after), visit))),
      scanVerdictRowsBetween: (from, to, visit) => now(() => results.scanVerdictRowsBetween(from, to, visit)),
      deletedBefore: () => now(() => results.deletedBefore()),
    },
    rollups: {
      series: (agentId, metric, from, to, stepMs) => now(() => rollups.series(agentId, metric, from, to, stepMs)),
      // One step per turn: the synchronous generator's steps, each awaited by whoever iterates.
      async *steps(at) {
        yield* rollups.steps(at);
      },
      maintain(at) {
        return maintainAll(this.steps(at));
      },
    },
    sizeBytes: () => now(() => store.sizeBytes()),
    close: () => now(() => store.close()),
  };
}

/** The rowid a SQLite scan position holds (positions come only from scanVerdictRows). */
function rowidOf(position: string): number {
  const rowid = Number(position);
  if (!Number.isSafeInteger(rowid)) throw new StoreError('SW_STORE_ARGUMENT', `not a scan position of this SQLite store: ${JSON.stringify(position.slice(0, 40))}`);
  return rowid;
}

/** The SqliteStore behind `store` when it is sqliteCollectorStore's, for what only SQLite does (its writer thread, backup). */
export function sqliteOf(store: CollectorStore): SqliteStore | undefined {
  return 'sqlite' in store && store.kind === 'sqlite' ? (store as { sqlite: SqliteStore }).sqlite : undefined;
}
