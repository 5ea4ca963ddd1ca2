import { describe, expect, it } from 'vitest';
import { ENDPOINT_DEFAULTS, EndpointOptionsError, resolveEndpointOptions } from '../src/index.js';

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
    });
    expect(options).not.toHaveProperty('maxMbps');
    expect(options).not.toHaveProperty('tls');
    expect(Object.isFrozen(options)).toBe(true);
  });

  it('keeps port 0 rather than taking the default', () => {
    expect(resolveEndpointOptions({ port: 0 }).port).toBe(0);
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
  ])('refuses %s = %j, naming the option', (key, value) => {
    let error: unknown;
    try {
      resolveEndpointOptions({ [key]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EndpointOptionsError);
    expect((error as EndpointOptionsError).code).toBe('SW_ENDPOINT_OPTIONS');
    expect((error as EndpointOptionsError).problems[0]?.option).toMatch(new RegExp(`^${key}`));
  });

  it('reports every problem at once', () => {
    try {
      resolveEndpointOptions({ port: 'x', maxMbps: 0, tls: {}, extra: 1 });
      expect.unreachable();
    } catch (err) {
      expect((err as EndpointOptionsError).problems.map((p) => p.option).sort()).toEqual(['extra', 'maxMbps', 'port', 'tls.cert', 'tls.key']);
    }
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => resolveEndpointOptions({ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 })).toThrow(/headersTimeoutMs: expected no more than the request timeout/);
  });

  it('exposes its defaults frozen', () => {
    expect(Object.isFrozen(ENDPOINT_DEFAULTS)).toBe(true);
  });
});
