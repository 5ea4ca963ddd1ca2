/**
 * Helpers for tests of the store on real SQLite files: a fresh database in a temp directory
 * (both gone when the test finishes), more connections on it, and valid results to store.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult, ResultStatus, UdpResult } from '@speedwatch/shared';
import { onTestFinished } from 'vitest';
import { batchOfResults } from '../src/store/frame-batch.js';
import { openStore } from '../src/store/sqlite-store.js';
import type { SqliteStore, StoreOptions } from '../src/store/sqlite-store.js';
import type { InsertOutcome, StoredResult } from '../src/store/store-types.js';

/** A temp directory removed when the test finishes, pass or fail. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'speedwatch-store-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store on a real file, closed when the test finishes. */
export function open(path: string, options?: StoreOptions): SqliteStore {
  const store = openStore(path, options);
  onTestFinished(() => store.close());
  return store;
}

export function freshStore(options?: StoreOptions): { store: SqliteStore; path: string; dir: string } {
  const dir = tempDir();
  const path = join(dir, 'collector.db');
  return { store: open(path, options), path, dir };
}

/**
 * Stores an agent's results through the production write path (a frame batch, each document
 * cut out of the frame), in one transaction.
 */
export function storeResults(store: Pick<SqliteStore, 'writes'>, agentId: string, results: readonly MeasurementResult[], receivedAt: number): InsertOutcome {
  return store.writes.insertFrames([batchOfResults(agentId, receivedAt, results)])[0] as InsertOutcome;
}

/** The agent's stored result with the latest start (the last of its pages, which run in (ts, id) order). */
export function latestStored(store: Pick<SqliteStore, 'results'>, agentId: string): StoredResult | undefined {
  return store.results.page({ agentId, limit: 10_000 }).results.at(-1);
}

export interface ResultSpec {
  id?: string;
  status?: ResultStatus;
  downloadMbps?: number;
  uploadMbps?: number;
  latencyMs?: number;
  jitterMs?: number;
  lossRatio?: number;
  /** A `udp` section with this round-trip median (udpSection). */
  udpRttMs?: number;
}

/**
 * A UDP probe's section (docs/measurement.md, "UDP quality") around a round-trip median: 250
 * packets sent and 245 answered, so 5 lost (0.02), 3 on the way out (3 / 250 = 0.012) and 2 of
 * the 247 the reflector counted on the way back (2 / 247); jitter 1.25 ms out, 2.5 ms back.
 */
export function udpSection(rttMedianMs: number): UdpResult {
  return {
    port: 8601,
    packetBytes: 172,
    intervalMs: 20,
    sent: 250,
    received: 245,
    lossRatio: 0.02,
    forwardLossRatio: 3 / 250,
    returnLossRatio: 2 / 247,
    duplicates: 0,
    reordered: 1,
    rttMinMs: rttMedianMs - 2,
    rttMedianMs,
    rttP95Ms: rttMedianMs + 6.5,
    rttMaxMs: rttMedianMs + 15,
    forwardJitterMs: 1.25,
    returnJitterMs: 2.5,
  };
}

/** A realistic MeasurementResult started at `startedAt` (ms), checked by the real validator. */
export function makeResult(startedAt: number, spec: ResultSpec = {}): MeasurementResult {
  const throughput = (mbps: number) => {
    const bytes = Math.round((mbps * 1_000_000 * 8) / 8);
    return {
      mbps,
      bytes,
      durationMs: 8_000,
      streams: 4,
      warmupMs: 2_000,
      totalBytes: Math.round(bytes * 1.25),
      sampleIntervalMs: 5_000,
      samplesMbps: [mbps, mbps],
    };
  };
  const doc: Record<string, unknown> = {
    schemaVersion: 1,
    id: spec.id ?? randomUUID(),
    status: spec.status ?? 'ok',
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(startedAt + 24_000).toISOString(),
    technology: 'fixed',
    endpoint: { name: 'vnpt-hn', url: 'https://speed.example.vn/backend/', reason: 'only' },
    agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: 'v20.20.2' },
  };
  if (spec.latencyMs !== undefined) {
    const ms = spec.latencyMs;
    doc['latency'] = {
      count: 10,
      minMs: ms * 0.9,
      medianMs: ms,
      meanMs: ms,
      p90Ms: ms * 1.2,
      maxMs: ms * 1.5,
      jitterMs: spec.jitterMs ?? 1.5,
      lossRatio: spec.lossRatio ?? 0,
      samplesMs: [ms, ms * 0.9, ms * 1.5],
    };
  }
  if (spec.downloadMbps !== undefined) doc['download'] = throughput(spec.downloadMbps);
  if (spec.uploadMbps !== undefined) doc['upload'] = throughput(spec.uploadMbps);
  if (spec.udpRttMs !== undefined) doc['udp'] = udpSection(spec.udpRttMs);
  return parseMeasurementResult(JSON.parse(JSON.stringify(doc)));
}
