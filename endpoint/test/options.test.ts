import type { Problem } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { ENDPOINT_DEFAULTS, EndpointOptionsError, resolveEndpointOptions } from '../src/index.js';

function problemsOf(input: unknown): readonly Problem[] {
  try {
    resolveEndpointOptions(input);
  } catch (err) {
    expect(err).toBeInstanceOf(EndpointOptionsError);
    expect((err as EndpointOptionsError).code).toBe('SW_ENDPOINT_OPTIONS');
    return (err as EndpointOptionsError).problems;
  }
  throw new Error('expected an EndpointOptionsError');
}

describe('resolveEndpointOptions', () => {
  it('fills in every default', () => {
    const options = resolveEndpointOptions({});
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: 8601,
      maxChunkMiB: 1024,
      maxBodyBytes: 268_435_456,
      maxConnections: 512,
      headersTimeoutMs: 10_000,
      idleTimeoutMs: 30_000,
      keepAliveTimeoutMs: 15_000,
      requestTimeoutMs: 120_000,
      udpSourceRatePps: 1000,
      udpRatePps: 10_000,
    });
    expect(options).not.toHaveProperty('udpPort'); // the HTTP port's number, once bound
    expect(options).not.toHaveProperty('maxMbps');
    expect(options).not.toHaveProperty('tls');
    expect(Object.isFrozen(options)).toBe(true);
  });

  it('keeps port 0 rather than taking the default', () => {
    expect(resolveEndpointOptions({ port: 0 }).port).toBe(0);
  });

  it('keeps udpPort 0 (no reflector) rather than taking the default', () => {
    expect(resolveEndpointOptions({ udpPort: 0 }).udpPort).toBe(0);
  });

  it.each([
    ['port', 65_536],
    ['port', -1],
    ['port', '8601'],
    ['maxMbps', 0],
    ['maxMbps', -5],
    ['maxMbps', Number.NaN],
    ['maxChunkMiB', 0],
    ['maxBodyBytes', 1.5],
    ['maxConnections', 0],
    ['headersTimeoutMs', 0],
    ['idleTimeoutMs', 2 ** 31],
    ['keepAliveTimeoutMs', Number.POSITIVE_INFINITY],
    ['requestTimeoutMs', null],
    ['host', ''],
    ['logger', {}],
    ['tls', { cert: 'x' }],
    ['colour', 'blue'],
    ['udpPort', 65_536],
    ['udpPort', -1],
    ['udpPort', 1.5],
    ['udpSourceRatePps', 0],
    ['udpRatePps', 2_000_000],
  ])('refuses %s = %j, naming the option', (key, value) => {
    const problems = problemsOf({ [key]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toMatch(new RegExp(`^${key}`));
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['bad types, a bad rate, an incomplete TLS pair and an unknown key', { port: 'x', maxMbps: 0, tls: {}, extra: 1 }, ['extra', 'port', 'maxMbps', 'tls.cert', 'tls.key']],
    ['every limit out of range', { maxChunkMiB: 0, maxBodyBytes: -1, maxConnections: 1.5, idleTimeoutMs: 0, keepAliveTimeoutMs: 2 ** 31 }, ['maxChunkMiB', 'maxBodyBytes', 'maxConnections', 'idleTimeoutMs', 'keepAliveTimeoutMs']],
    ['a headers timeout longer than the request timeout beside a bad host', { host: '', headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 }, ['host', 'headersTimeoutMs']],
    ['a headers timeout longer than the default request timeout', { headersTimeoutMs: 200_000, logger: 'stderr' }, ['logger', 'headersTimeoutMs']],
    ['options that are not an object', [] as unknown as Record<string, unknown>, ['']],
  ])('reports %s in one error', (_case, options, paths) => {
    const problems = problemsOf(options);
    expect(problems.map((p) => p.path)).toEqual(paths);
    for (const problem of problems) if (problem.path !== '') expect(problem.message.startsWith(`${problem.path}: `)).toBe(true);
  });

  it('exposes its defaults frozen', () => {
    expect(Object.isFrozen(ENDPOINT_DEFAULTS)).toBe(true);
  });
});
