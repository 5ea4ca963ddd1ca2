/**
 * A report thread: opens the collector's database on its own connection, builds one report (or
 * one range's compliance), posts the rendered answer and ends. The read of a month of a large
 * fleet takes seconds; here it stalls nothing that serves agents or the API.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { roundVerdict } from '../api/rounding.js';
import { openCollectorStore } from '../store/store-spec.js';
import { reportCsv } from './report-csv.js';
import { reportLabels } from './report-labels.js';
import type { FromReportThread, ReportThreadInit } from './report-protocol.js';
import { reportXlsx } from './report-xlsx.js';
import { runRangeCompliance, runRangeOverview, runReport } from './run-report.js';

const port = parentPort;
if (port === null) throw new Error('report-thread.js runs as a worker thread');
try {
  // Background work, as maintenance: the serving thread keeps its CPU on a small box.
  setPriority(0, 10);
} catch {
  // Not allowed here: the report runs at the process's priority.
}
const init = workerData as ReportThreadInit;
const post = (message: FromReportThread): void => port.postMessage(message);

async function run(): Promise<FromReportThread> {
  const store = await openCollectorStore(init.store);
  try {
    const { job } = init;
    if (job.kind === 'compliance') {
      const groups = await runRangeCompliance(store, job.range, job.groupBy, init.verdicts);
      // Rounded as the rolling windows' groups are (the API's precision).
      return { type: 'done', body: JSON.stringify(groups.map(roundVerdict)), rows: groups.length };
    }
    if (job.kind === 'overview') {
      const overview = await runRangeOverview(store, job.range, job.windows, init.verdicts, init.timeZone, init.now);
      return { type: 'done', body: JSON.stringify(overview), rows: overview.sites.length };
    }
    const report = await runReport(store, { range: job.range, area: job.area, config: init.verdicts, timeZone: init.timeZone, now: init.now });
    const labels = reportLabels(job.lang);
    const body = job.format === 'json' ? JSON.stringify(report) : job.format === 'csv' ? reportCsv(report, labels) : new Uint8Array(await reportXlsx(report, labels));
    return { type: 'done', body, rows: report.sites.length };
  } finally {
    await store.close();
  }
}

run().then(post, (err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const path = (e as { path?: unknown }).path;
  post({ type: 'failed', error: { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}), ...(typeof path === 'string' ? { path } : {}) } });
});
