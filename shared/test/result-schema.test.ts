import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MeasurementMethod, MeasurementResult } from '../src/index.js';
import { librespeedStyleMbps, MEASUREMENT_METHOD, parseMeasurementResult, ValidationError } from '../src/index.js';

function validResult(): MeasurementResult {
  return {
    schemaVersion: 1,
    id: '0b7e6d0c-8f1a-4e59-9d5e-2d1f0c9a7b31',
    status: 'ok',
    startedAt: '2025-03-01T08:00:00.000Z',
    finishedAt: '2025-03-01T08:00:25.120Z',
    technology: 'fixed',
    endpoint: { name: 'lab', url: 'http://127.0.0.1:8601/', reason: 'only' },
    latency: { count: 2, minMs: 1, medianMs: 1.5, meanMs: 1.5, p90Ms: 1.9, maxMs: 2, jitterMs: 1, lossRatio: 0, samplesMs: [1, 2] },
    download: {
      mbps: 110.2,
      bytes: 110_200_000,
      durationMs: 8000,
      streams: 4,
      warmupMs: 2000,
      totalBytes: 130_000_000,
      sampleIntervalMs: 200,
      samplesMbps: [90, 91.5],
    },
    loadedLatency: { download: { count: 30, medianMs: 12, p90Ms: 20, lossRatio: 0 } },
  };
}

function udpSection(): NonNullable<MeasurementResult['udp']> {
  return {
    port: 8601,
    packetBytes: 172,
    intervalMs: 20,
    sent: 250,
    received: 245,
    lossRatio: 0.02,
    forwardLossRatio: 0.012,
    returnLossRatio: 0.008,
    duplicates: 0,
    reordered: 1,
    rttMinMs: 40.1,
    rttMedianMs: 41.2,
    rttP95Ms: 44.9,
    rttMaxMs: 51,
    forwardJitterMs: 0.8,
    returnJitterMs: 0.6,
  };
}

function errorOf(value: unknown): ValidationError {
  try {
    parseMeasurementResult(value);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('parseMeasurementResult', () => {
  it('accepts a valid result and returns it unchanged', () => {
    expect(parseMeasurementResult(validResult())).toEqual(validResult());
  });

  // Each case breaks one field; the error must name that field's path and what was expected.
  it.each<[string, (r: Record<string, any>) => void, string, RegExp]>([
    ['a missing status', (r) => delete r['status'], 'status', /one of "ok", "partial", "failed" \(required\)/],
    ['a wrong status', (r) => (r['status'] = 'great'), 'status', /one of "ok", "partial", "failed", got "great"/],
    ['a negative rate deep inside', (r) => (r['download'].samplesMbps[1] = -1), 'download.samplesMbps[1]', />= 0/],
    ['a sample that is not a number', (r) => (r['download'].samplesMbps[0] = { mbps: 90 }), 'download.samplesMbps[0]', /a finite number/],
    ['a zero sample interval', (r) => (r['download'].sampleIntervalMs = 0), 'download.sampleIntervalMs', />= 1/],
    ['a string for a number', (r) => (r['latency'].medianMs = '1.5'), 'latency.medianMs', /a finite number/],
    ['an unknown field', (r) => (r['speed'] = 1), 'speed', /^speed: unknown field \(known fields: schemaVersion, method, id, status/],
    ['an impossible date', (r) => (r['startedAt'] = '2025-13-45T99:00:00Z'), 'startedAt', /ISO 8601/],
    ['a loss ratio above one', (r) => (r['latency'].lossRatio = 1.5), 'latency.lossRatio', /<= 1/],
    ['a fractional stream count', (r) => (r['download'].streams = 2.5), 'download.streams', /an integer/],
    ['a bad error code', (r) => (r['error'] = { phase: 'download', code: 'oops', message: '' }), 'error.code', /SW_/],
    ['a code that is not in the registry', (r) => (r['error'] = { phase: 'download', code: 'SW_MADE_UP', message: '' }), 'error.code', /an error code a result can carry.*got "SW_MADE_UP"/],
    ['a registry code no result carries', (r) => (r['errors'] = [{ phase: 'upload', code: 'SW_STORE_WRITE', message: '' }]), 'errors[0].code', /got "SW_STORE_WRITE"/],
    ['a non-object', (r) => Object.assign(r, { loadedLatency: [] }), 'loadedLatency', /an object, got an array/],
    ['a UDP loss ratio above one', (r) => (r['udp'] = { ...udpSection(), forwardLossRatio: 1.2 }), 'udp.forwardLossRatio', /<= 1/],
    ['a UDP section without its jitter', (r) => (r['udp'] = { ...udpSection(), returnJitterMs: undefined }), 'udp.returnJitterMs', /required/],
    ['an unknown field in the UDP section', (r) => (r['udp'] = { ...udpSection(), mos: 4.2 }), 'udp.mos', /unknown field/],
    ['a UDP port out of range', (r) => (r['udp'] = { ...udpSection(), port: 0 }), 'udp.port', />= 1/],
    ['an error of an unknown phase', (r) => (r['error'] = { phase: 'video', code: 'SW_TIMEOUT', message: '' }), 'error.phase', /"udp"/],
    ['a method of another form', (r) => (r['method'] = 'speedwatch-two'), 'method', /a method name like "speedwatch-3".*got "speedwatch-two"/],
    ['a method that is not a text', (r) => (r['method'] = 2), 'method', /a method name like "speedwatch-3"/],
    ['a negative LibreSpeed-style figure', (r) => (r['download'].librespeedMbps = -1), 'download.librespeedMbps', />= 0/],
    // 110.2 × 1.06 = 116.812
    ['a speedwatch-2 download without its LibreSpeed-style figure', (r) => (r['method'] = 'speedwatch-2'), 'download.librespeedMbps', /speedwatch-2 \(mbps × 1.06\) \(required\)/],
    ['a speedwatch-2 figure that is not mbps × 1.06', (r) => Object.assign(r, { method: 'speedwatch-2', download: { ...r['download'], librespeedMbps: 116.814 } }), 'download.librespeedMbps', /mbps × 1.06 = 116.812 to 0.001 .*got 116.814/],
  ])('rejects %s, naming %s', (_name, breakIt, path, expected) => {
    const result = validResult() as unknown as Record<string, any>;
    breakIt(result);
    const error = errorOf(result);
    expect(error.code).toBe('SW_VALIDATION');
    expect(error.path).toBe(path);
    expect(error.message).toMatch(expected);
  });

  it('accepts a result with a UDP section and a UDP error, and one without (older agents)', () => {
    const withUdp: MeasurementResult = { ...validResult(), status: 'partial', udp: udpSection(), errors: [{ phase: 'udp', code: 'SW_UDP_NO_REPLY', message: 'x' }] };
    expect(parseMeasurementResult(structuredClone(withUdp))).toEqual(withUdp);
    expect(parseMeasurementResult(validResult()).udp).toBeUndefined();
  });

  it('accepts the usage, busyLine and budget sections docs/protocol.md shows, and a SW_BUDGET_CAPPED error', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const example = /^("usage":[\s\S]*?)\n```/m.exec(doc)?.[1];
    expect(example).toBeDefined();
    const sections = JSON.parse(`{${example as string}}`) as Pick<MeasurementResult, 'usage' | 'busyLine' | 'budget'>;
    const result = { ...validResult(), status: 'partial', ...sections, errors: [{ phase: 'upload', code: 'SW_BUDGET_CAPPED', message: 'x' }] };
    expect(parseMeasurementResult(structuredClone(result))).toEqual(result);
  });

  it.each<[string, (r: Record<string, any>) => void, string]>([
    ['a negative cross traffic', (r) => (r['busyLine'].crossTrafficBytes = -1), 'busyLine.crossTrafficBytes'],
    ['a flag that is not true or false', (r) => (r['busyLine'].flagged = 'yes'), 'busyLine.flagged'],
    ['a budget action no planner takes', (r) => (r['budget'].action = 'halved'), 'budget.action'],
    ['a budget month that is not one', (r) => (r['budget'].month = '2026-00'), 'budget.month'],
    ['usage of a phase there is not', (r) => (r['usage'].phases.video = 1), 'usage.phases.video'],
  ])('refuses %s, naming the field', (_name, change, path) => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const sections = JSON.parse(`{${/^("usage":[\s\S]*?)\n```/m.exec(doc)?.[1] ?? ''}}`) as Record<string, any>;
    const result = { ...validResult(), ...sections } as Record<string, any>;
    change(result);
    expect(() => parseMeasurementResult(result)).toThrow(expect.objectContaining({ path }));
  });

  it('accepts the udp section docs/protocol.md shows', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const example = /^"udp":(\{[\s\S]*?\})\n```/m.exec(doc)?.[1];
    expect(example).toBeDefined();
    const udp = JSON.parse(example as string) as MeasurementResult['udp'];
    expect(parseMeasurementResult({ ...validResult(), udp }).udp).toEqual(udp);
  });

  describe('method and the LibreSpeed-style figure', () => {
    const withFigures = (method: string): MeasurementResult => {
      const result = validResult() as MeasurementResult & { download: NonNullable<MeasurementResult['download']> };
      return { ...result, method: method as MeasurementMethod, download: { ...result.download, librespeedMbps: librespeedStyleMbps(result.download.mbps) } };
    };

    it('accepts a result of this method with both figures, and one without either (older agents)', () => {
      const current = withFigures(MEASUREMENT_METHOD);
      expect(current.download?.librespeedMbps).toBe(116.812);
      expect(parseMeasurementResult(structuredClone(current))).toEqual(current);
      expect(parseMeasurementResult(validResult()).method).toBeUndefined();
    });

    it('accepts a figure off by its rounding and that of mbps, not more', () => {
      // mbps 110.2 stands for up to 110.2005, whose × 1.06 is 116.81253: 116.813 is what an agent rounding there reports.
      const result = withFigures(MEASUREMENT_METHOD);
      for (const [figure, ok] of [[116.813, true], [116.8115, true], [116.8135, false]] as const) {
        const r = { ...result, download: { ...result.download, librespeedMbps: figure } } as MeasurementResult;
        if (ok) expect(parseMeasurementResult(r).download?.librespeedMbps).toBe(figure);
        else expect(errorOf(r).path).toBe('download.librespeedMbps');
      }
    });

    it("accepts a later method's name and leaves its figures to it: a collector never refuses a newer agent for its method", () => {
      const later = { ...withFigures('speedwatch-4'), download: { ...validResult().download!, librespeedMbps: 120 } } as MeasurementResult;
      expect(parseMeasurementResult(structuredClone(later))).toEqual(later);
    });
  });

  it('rejects null and arrays at the top with path "value"', () => {
    expect(errorOf(null).message).toMatch(/^value: expected an object, got null/);
    expect(errorOf([]).path).toBe('');
  });
});
