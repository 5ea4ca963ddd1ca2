/**
 * Result documents for the collector benchmarks: one template validated with the shared schema,
 * then copies with a fresh id, times and metric values spliced into its JSON text, so that the
 * load generator and the bulk loader spend no JSON.stringify per result.
 */
import type { MeasurementResult } from '@speedwatch/shared';
import { parseMeasurementResult } from '@speedwatch/shared';

/**
 * `agent-default`: the shape the agent sends with its default options (20 pings, 50 rate
 * samples per direction at 200 ms over 10 s, loaded latency), ~1.9 kB of JSON.
 * `compact`: the same fields with 4 pings and 5 samples per direction, ~1 kB, for the
 * multi-million-row series database, where document size only costs disk space and load time.
 */
export type ResultShape = 'agent-default' | 'compact';

/** The values that vary between copies; times in ms since the epoch. */
export interface ResultValues {
  id: string;
  startedMs: number;
  downloadMbps: number;
  uploadMbps: number;
  latencyMs: number;
}

/** How long a result takes from start to finish (latency, then download, then upload). */
const RESULT_DURATION_MS = 27_000;

function rateSamples(count: number, mbps: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.round(mbps * (0.9 + ((i * 7) % 10) / 50) * 1000) / 1000);
}

/** A valid result of `shape`, as the agent would send it. */
export function resultTemplate(shape: ResultShape): MeasurementResult {
  const pings = shape === 'agent-default' ? 20 : 4;
  const samples = shape === 'agent-default' ? 50 : 5;
  const startedAt = '2026-01-01T00:00:00.000Z';
  const throughput = (mbps: number) => ({
    mbps,
    bytes: Math.round((mbps * 1e6 * 8) / 8),
    durationMs: 8000,
    streams: 4,
    warmupMs: 2000,
    totalBytes: Math.round((mbps * 1e6 * 10) / 8),
    sampleIntervalMs: 200,
    samplesMbps: rateSamples(samples, mbps),
  });
  return parseMeasurementResult({
    schemaVersion: 1,
    id: '00000000-0000-4000-8000-000000000000',
    status: 'ok',
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + RESULT_DURATION_MS).toISOString(),
    technology: 'fixed',
    endpoint: { name: 'vnpt-hanoi', url: 'https://speedtest.example.vn/', reason: 'lowest-latency' },
    clientIp: '203.0.113.45',
    latency: {
      count: pings,
      minMs: 11.2,
      medianMs: 12.9,
      meanMs: 13.4,
      p90Ms: 16.1,
      maxMs: 19.8,
      jitterMs: 1.7,
      lossRatio: 0,
      connectMs: 12.1,
      samplesMs: Array.from({ length: pings }, (_, i) => 11.2 + ((i * 13) % 9)),
    },
    download: throughput(104.3),
    upload: { ...throughput(43.8), confirmedBy: 'header' },
    loadedLatency: {
      download: { count: 32, medianMs: 38.5, p90Ms: 61.2, lossRatio: 0 },
      upload: { count: 32, medianMs: 44.9, p90Ms: 70.3, lossRatio: 0 },
    },
    agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: 'v20.20.0' },
  });
}

const SLOTS = ['id', 'startedAt', 'finishedAt', 'downloadMbps', 'uploadMbps', 'latencyMs'] as const;
type Slot = (typeof SLOTS)[number];
const mark = (slot: Slot): string => `\u0001${slot}\u0001`;

/** Makes the JSON text of copies of one template; each copy is a valid MeasurementResult. */
export class ResultText {
  /** Literal text between the slots, one more than `#order`. */
  readonly #parts: string[];
  readonly #order: Slot[];

  constructor(template: MeasurementResult) {
    const marked: Record<string, unknown> = {
      ...template,
      id: mark('id'),
      startedAt: mark('startedAt'),
      finishedAt: mark('finishedAt'),
    };
    if (template.download !== undefined) marked['download'] = { ...template.download, mbps: mark('downloadMbps') };
    if (template.upload !== undefined) marked['upload'] = { ...template.upload, mbps: mark('uploadMbps') };
    if (template.latency !== undefined) marked['latency'] = { ...template.latency, medianMs: mark('latencyMs') };
    // Slots are JSON strings ("\u0001id\u0001"); numbers replace the quotes too.
    const text = JSON.stringify(marked);
    const pieces = text.split(/"\\u0001(\w+)\\u0001"/);
    this.#parts = pieces.filter((_, i) => i % 2 === 0);
    this.#order = pieces.filter((_, i) => i % 2 === 1) as Slot[];
  }

  /** The JSON text of a copy with `values`; startedAt and finishedAt keep the template's gap. */
  make(values: ResultValues): string {
    const parts = this.#parts;
    let text = parts[0] as string;
    for (let i = 0; i < this.#order.length; i++) {
      text += this.#value(this.#order[i] as Slot, values) + (parts[i + 1] as string);
    }
    return text;
  }

  #value(slot: Slot, v: ResultValues): string {
    switch (slot) {
      case 'id':
        return `"${v.id}"`;
      case 'startedAt':
        return `"${new Date(v.startedMs).toISOString()}"`;
      case 'finishedAt':
        return `"${new Date(v.startedMs + RESULT_DURATION_MS).toISOString()}"`;
      case 'downloadMbps':
        return String(v.downloadMbps);
      case 'uploadMbps':
        return String(v.uploadMbps);
      case 'latencyMs':
        return String(v.latencyMs);
    }
  }
}
