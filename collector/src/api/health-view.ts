/** An agent's latest health report as the API shows it (/api/v1/agents, /api/v1/site, `agents list`). */
import type { AgentHealthRecord } from '../store/store-types.js';
import { API_PRECISION, roundOrNull, roundTo } from './rounding.js';
import type { HealthView } from './site-wire.js';

/**
 * When the report arrived, the clock skew then, and every figure of the report, null where the
 * agent could not read it (docs/collector.md#fleet-health); null without a report.
 */
export function healthView(record: AgentHealthRecord | undefined): HealthView | null {
  if (record === undefined) return null;
  const r = record.report;
  const seconds = (value: number): number => roundTo(value, API_PRECISION.seconds);
  return {
    reportedAt: new Date(record.receivedAt).toISOString(),
    clockSkewSeconds: seconds(record.skewMs / 1000),
    agentClock: r.clock,
    agent: { version: r.agent.version, platform: r.agent.platform ?? null, arch: r.agent.arch ?? null, node: r.agent.node ?? null },
    uptimeSeconds: roundOrNull(r.uptimeSeconds, seconds),
    systemUptimeSeconds: roundOrNull(r.systemUptimeSeconds, seconds),
    backlog: r.backlog,
    dropped: r.dropped,
    lastTest: r.lastTest === undefined ? null : { status: r.lastTest.status, finishedAt: r.lastTest.finishedAt, errorCode: r.lastTest.errorCode ?? null },
    failedTestsInARow: r.failedTestsInARow ?? null,
    lastOkTestAt: r.lastOkTestAt ?? null,
    diskFreeBytes: r.diskFreeBytes ?? null,
    cpuTemperatureCelsius: roundOrNull(r.cpuTemperatureCelsius, (value) => roundTo(value, API_PRECISION.celsius)),
    dataUsage: r.dataUsage === undefined ? null : { month: r.dataUsage.month, usedBytes: r.dataUsage.usedBytes, budgetBytes: r.dataUsage.budgetBytes ?? null },
  };
}
