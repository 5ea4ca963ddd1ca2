/** Human output of `speedwatch-agent once`: live progress on a terminal, and the summary. */
import type { MeasurementResult, Technology, ThroughputRamp, ThroughputResult } from '@speedwatch/shared';
import { checkResult, DEFAULT_TARGETS } from '@speedwatch/shared';
import type { SpeedTestEvent } from '../measure/speed-test-options.js';

/** Writes a one-line live status (carriage-return redrawn) for each event. */
export function progressPrinter(write: (text: string) => void): (event: SpeedTestEvent) => void {
  const clear = '\r\x1b[2K';
  return (event) => {
    switch (event.type) {
      case 'selected':
        write(`${clear}endpoint: ${event.endpoint} (${event.reason})\n`);
        break;
      case 'phase-start':
        write(`${clear}${event.phase}: starting…`);
        break;
      case 'probe':
        write(`${clear}latency: probe ${event.index + 1}/${event.count} ${event.rttMs === undefined ? 'lost' : `${event.rttMs.toFixed(2)} ms`}`);
        break;
      case 'progress': {
        const width = 20;
        const done = Math.min(width, Math.round((event.elapsedMs / event.durationMs) * width));
        write(
          `${clear}${event.phase.padEnd(8)} ${event.mbps.toFixed(1).padStart(8)} Mbps  [${'#'.repeat(done)}${'.'.repeat(width - done)}] ` +
            `${(event.elapsedMs / 1000).toFixed(1)}/${(event.durationMs / 1000).toFixed(0)} s`,
        );
        break;
      }
      case 'phase-end':
        write(clear + (event.error === undefined ? '' : `${event.phase}: ${event.error.code}: ${event.error.message}\n`));
        break;
    }
  };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function mbps(value: number): string {
  return `${value.toFixed(2)} Mbps`;
}

export function formatSummary(result: MeasurementResult, technology: Technology): string {
  const lines: string[] = [];
  const row = (label: string, text: string): void => {
    lines.push(`${label.padEnd(10)} ${text}`);
  };
  if (result.endpoint !== undefined) row('Endpoint', `${result.endpoint.name} ${result.endpoint.url} (${result.endpoint.reason})`);
  if (result.clientIp !== undefined) row('Client IP', result.clientIp);
  const l = result.latency;
  if (l !== undefined) {
    row(
      'Latency',
      `min ${l.minMs.toFixed(2)} ms, median ${l.medianMs.toFixed(2)} ms, p90 ${l.p90Ms.toFixed(2)} ms, jitter ${l.jitterMs.toFixed(2)} ms, ` +
        `loss ${(l.lossRatio * 100).toFixed(1)}%${l.connectMs === undefined ? '' : `, TCP connect ${l.connectMs.toFixed(2)} ms`}`,
    );
  }
  const u = result.udp;
  if (u !== undefined) {
    row(
      'UDP',
      `round trip median ${u.rttMedianMs.toFixed(2)} ms, p95 ${u.rttP95Ms.toFixed(2)} ms; jitter out ${u.forwardJitterMs.toFixed(2)} ms, back ${u.returnJitterMs.toFixed(2)} ms; ` +
        `loss ${(u.lossRatio * 100).toFixed(1)}% (out ${(u.forwardLossRatio * 100).toFixed(1)}%, back ${(u.returnLossRatio * 100).toFixed(1)}%) of ${u.sent} packets`,
    );
  }
  for (const phase of ['download', 'upload'] as const) {
    const t = result[phase];
    if (t === undefined) continue;
    const loaded = result.loadedLatency?.[phase];
    row(
      phase === 'download' ? 'Download' : 'Upload',
      `${mbps(t.mbps)} (${streamsText(t)}, ${(t.bytes / 1e6).toFixed(1)} MB in ${(t.durationMs / 1000).toFixed(1)} s after ${(t.warmupMs / 1000).toFixed(1)} s warm-up${warmupHow(t.ramp)})` +
        (t.librespeedMbps === undefined ? '' : `; LibreSpeed-style ${mbps(t.librespeedMbps)}`) +
        (loaded === undefined ? '' : `; latency under load median ${loaded.medianMs.toFixed(2)} ms, p90 ${loaded.p90Ms.toFixed(2)} ms`),
    );
  }
  const usage = result.usage;
  if (usage !== undefined) {
    const parts = (['download', 'upload', 'udp'] as const).filter((p) => usage.phases[p] !== undefined).map((p) => `${p} ${megabytes(usage.phases[p] ?? 0)}`);
    row('Data used', `${megabytes(usage.bytes)}${parts.length === 0 ? '' : ` (${parts.join(', ')})`}`);
  }
  const busy = result.busyLine;
  if (busy !== undefined) {
    const rate = busy.durationMs > 0 ? (busy.crossTrafficBytes * 1000) / busy.durationMs : 0;
    row(
      'Busy line',
      `${busy.interface}: ${megabytes(busy.crossTrafficBytes)} of other traffic in ${(busy.durationMs / 1000).toFixed(1)} s (${(rate / 1000).toFixed(1)} kB/s; threshold ${(busy.thresholdBytesPerSec / 1000).toFixed(1)} kB/s)` +
        (busy.flagged ? ': FLAGGED, the line was in use' : ''),
    );
  }
  for (const check of checkResult(result, technology, DEFAULT_TARGETS)) {
    const target = `${check.target.metric} target ${check.target.minMbps} Mbps for ${technology} broadband`;
    const text =
      check.verdict === 'no-data'
        ? `NO DATA for the ${target}`
        : `${check.verdict === 'meets' ? 'MEETS' : 'BELOW'} the ${target} (measured ${mbps(check.mbps ?? 0)})`;
    row('Verdict', text);
  }
  for (const error of result.errors ?? []) row('Error', `${error.phase}: ${error.code}: ${error.message}`);
  row('Status', result.status);
  return `${lines.join('\n')}\n`;
}

/** `4 streams`, or `4→8 streams` when the ramp added some. */
function streamsText(t: ThroughputResult): string {
  const from = t.ramp?.initialStreams;
  return from === undefined || from === t.streams ? `${t.streams} streams` : `${from}→${t.streams} streams`;
}

/** Why warm-up ended where it did, when it adapted. */
function warmupHow(ramp: ThroughputRamp | undefined): string {
  if (ramp === undefined || ramp.warmup === 'fixed') return '';
  return ramp.warmup === 'settled' ? ', until the rate settled' : ', the longest allowed (the rate never settled)';
}
