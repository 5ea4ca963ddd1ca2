/**
 * `npm run bench`: every benchmark, each figure beside a peer or ceiling measured in the same
 * run (curl, undici, raw better-sqlite3, the HTTP floor), as ratios. Prints one table and one
 * JSON line. BENCH_RUNS (default 3) repetitions, medians reported; BENCH_PARTS picks
 * parts (agent,daemon,collector); BENCH_SERIES_ROWS sizes the series database (default 10 000 000),
 * BENCH_VERDICT_AGENTS the verdict refresh's fleet (default 1 000).
 */
import { benchAgent } from './agent-bench.js';
import { benchAgentDaemon } from './agent-daemon-bench.js';
import type { BenchRow } from './collector-bench.js';
import { benchCollector, formatBenchTable } from './collector-bench.js';

const runs = Number(process.env['BENCH_RUNS'] ?? 3);
const parts = new Set((process.env['BENCH_PARTS'] ?? 'agent,daemon,collector').split(',').map((p) => p.trim()));
const seriesRows = Number(process.env['BENCH_SERIES_ROWS'] ?? 10_000_000);
const verdictAgents = Number(process.env['BENCH_VERDICT_AGENTS'] ?? 1_000);
if (!Number.isInteger(verdictAgents) || verdictAgents < 1) throw new Error(`BENCH_VERDICT_AGENTS must be a positive integer, got ${JSON.stringify(process.env['BENCH_VERDICT_AGENTS'])}`);
for (const part of parts) {
  if (!['agent', 'daemon', 'collector'].includes(part)) throw new Error(`BENCH_PARTS: unknown part ${JSON.stringify(part)} (agent, daemon, collector)`);
}
if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS must be a positive integer, got ${JSON.stringify(process.env['BENCH_RUNS'])}`);

const rows: BenchRow[] = [];
const summary: Record<string, unknown> = { runs, date: new Date().toISOString(), node: process.versions.node };
if (parts.has('agent')) {
  const out = await benchAgent({ runs });
  rows.push(...out.rows);
  summary['agent'] = out.summary;
}
if (parts.has('daemon')) {
  const out = await benchAgentDaemon({ runs });
  rows.push(...out.rows);
  summary['daemon'] = out.summary;
}
if (parts.has('collector')) {
  const out = await benchCollector({ runs, seriesRows, verdictAgents });
  rows.push(...out.rows);
  summary['collector'] = out.summary;
}
process.stdout.write(`${formatBenchTable(rows)}\n`);
process.stdout.write(`${JSON.stringify({ bench: 'speedwatch', ...summary })}\n`);
