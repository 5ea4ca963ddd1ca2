/**
 * `npm run bench`: every benchmark, each figure beside a peer or ceiling measured in the same
 * run (curl, undici, raw better-sqlite3, raw COPY into PostgreSQL, the HTTP floor), as ratios. Prints
 * one table and one JSON line. BENCH_RUNS (default 3) repetitions, medians reported; BENCH_PARTS picks
 * parts (agent,daemon,collector,postgres,console; postgres is the collector on PostgreSQL, in a
 * throwaway cluster, not measured where PostgreSQL is not installed); BENCH_PG_RESULTS sizes its
 * ingest (default 100 000); BENCH_SERIES_ROWS sizes the series database (default 10 000 000),
 * BENCH_VERDICT_AGENTS the verdict refresh's fleet (default 1 000), BENCH_CONSOLE_SITES the
 * console's fleet (default 10 000) and BENCH_CONSOLE_DAYS its days of results (default 2).
 */
import { benchAgent } from './agent-bench.js';
import { benchAgentDaemon } from './agent-daemon-bench.js';
import type { BenchRow } from './collector-bench.js';
import { benchCollector, formatBenchTable } from './collector-bench.js';
import { benchConsoleRender } from './console-render.js';

const runs = Number(process.env['BENCH_RUNS'] ?? 3);
const parts = new Set((process.env['BENCH_PARTS'] ?? 'agent,daemon,collector,postgres,console').split(',').map((p) => p.trim()));
const postgresResults = Number(process.env['BENCH_PG_RESULTS'] ?? 100_000);
if (!Number.isInteger(postgresResults) || postgresResults < 1) throw new Error(`BENCH_PG_RESULTS must be a positive integer, got ${JSON.stringify(process.env['BENCH_PG_RESULTS'])}`);
const seriesRows = Number(process.env['BENCH_SERIES_ROWS'] ?? 10_000_000);
const verdictAgents = Number(process.env['BENCH_VERDICT_AGENTS'] ?? 1_000);
if (!Number.isInteger(verdictAgents) || verdictAgents < 1) throw new Error(`BENCH_VERDICT_AGENTS must be a positive integer, got ${JSON.stringify(process.env['BENCH_VERDICT_AGENTS'])}`);
const consoleSites = Number(process.env['BENCH_CONSOLE_SITES'] ?? 10_000);
if (!Number.isInteger(consoleSites) || consoleSites < 1) throw new Error(`BENCH_CONSOLE_SITES must be a positive integer, got ${JSON.stringify(process.env['BENCH_CONSOLE_SITES'])}`);
const consoleDays = Number(process.env['BENCH_CONSOLE_DAYS'] ?? 2);
if (!Number.isInteger(consoleDays) || consoleDays < 1) throw new Error(`BENCH_CONSOLE_DAYS must be a positive integer, got ${JSON.stringify(process.env['BENCH_CONSOLE_DAYS'])}`);
for (const part of parts) {
  if (!['agent', 'daemon', 'collector', 'postgres', 'console'].includes(part)) throw new Error(`BENCH_PARTS: unknown part ${JSON.stringify(part)} (agent, daemon, collector, postgres, console)`);
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
  const out = await benchCollector({ runs, seriesRows, verdictAgents, parts: ['ingest', 'metrics', 'series', 'verdicts'] });
  rows.push(...out.rows);
  summary['collector'] = out.summary;
}
if (parts.has('postgres')) {
  const out = await benchCollector({ runs, seriesRows, postgresResults, parts: ['postgres'] });
  rows.push(...out.rows);
  summary['postgres'] = out.summary['postgres'];
}
if (parts.has('console')) {
  const out = await benchConsoleRender({ runs, sites: consoleSites, days: consoleDays });
  rows.push(...out.rows);
  summary['console'] = out.summary;
}
process.stdout.write(`${formatBenchTable(rows)}\n`);
process.stdout.write(`${JSON.stringify({ bench: 'speedwatch', ...summary })}\n`);
