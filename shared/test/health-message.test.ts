import { describe, expect, it } from 'vitest';
import { healthSchema, ValidationError } from '../src/index.js';

/** The example of docs/protocol.md#health, every field given. */
const HEALTH = {
  type: 'health',
  clock: '2025-03-01T08:05:00.000Z',
  agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
  uptimeSeconds: 86_400.5,
  systemUptimeSeconds: 1_209_600,
  backlog: 12,
  dropped: 0,
  lastTest: { status: 'failed', finishedAt: '2025-03-01T08:00:25.120Z', errorCode: 'SW_DNS' },
  failedTestsInARow: 3,
  lastOkTestAt: '2025-03-01T07:15:24.900Z',
  diskFreeBytes: 12_884_901_888,
  cpuTemperatureCelsius: 51.5,
};

function errorOf(value: unknown): ValidationError {
  try {
    healthSchema.parse(value, 'health');
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

/** `HEALTH` with `change` applied to a deep copy. */
function changed(change: (m: Record<string, any>) => void): unknown {
  const copy = structuredClone(HEALTH) as Record<string, any>;
  change(copy);
  return copy;
}

describe('healthSchema', () => {
  it.each<[string, unknown]>([
    ['the documented example', HEALTH],
    ['the fewest fields: clock, version and outbox', { type: 'health', clock: HEALTH.clock, agent: { version: '0.1.0' }, backlog: 0, dropped: 0 }],
    ['an ok last test without an error code', changed((m) => (m['lastTest'] = { status: 'ok', finishedAt: HEALTH.clock }))],
    ['an error code this version does not know (a newer agent)', changed((m) => (m['lastTest'].errorCode = 'SW_SOMETHING_NEW'))],
    ['a box below freezing', changed((m) => (m['cpuTemperatureCelsius'] = -20))],
    ['a full disk', changed((m) => (m['diskFreeBytes'] = 0))],
    ['a month\'s data use against a budget', changed((m) => (m['dataUsage'] = { month: '2025-03', usedBytes: 812_000_000, budgetBytes: 10_000_000_000 }))],
    ['a month\'s data use without a budget', changed((m) => (m['dataUsage'] = { month: '2025-03', usedBytes: 0 }))],
  ])('accepts %s as it is', (_name, message) => {
    expect(healthSchema.parse(message)).toEqual(message);
  });

  // Each case is what a broken or hostile agent might send; the error names the field.
  it.each<[string, unknown, string]>([
    ['no clock', changed((m) => delete m['clock']), 'health.clock'],
    ['a clock on the 13th month', changed((m) => (m['clock'] = '2025-13-01T08:00:00.000Z')), 'health.clock'],
    ['a clock with a time zone', changed((m) => (m['clock'] = '2025-03-01T08:00:00+07:00')), 'health.clock'],
    ['no backlog', changed((m) => delete m['backlog']), 'health.backlog'],
    ['a negative backlog', changed((m) => (m['backlog'] = -1)), 'health.backlog'],
    ['a fractional dropped count', changed((m) => (m['dropped'] = 0.5)), 'health.dropped'],
    ['a disk larger than 2^53 bytes', changed((m) => (m['diskFreeBytes'] = 2 ** 60)), 'health.diskFreeBytes'],
    ['a disk size as text', changed((m) => (m['diskFreeBytes'] = '12GB')), 'health.diskFreeBytes'],
    ['a temperature of 1 000 °C', changed((m) => (m['cpuTemperatureCelsius'] = 1000)), 'health.cpuTemperatureCelsius'],
    ['a temperature that is not a number', changed((m) => (m['cpuTemperatureCelsius'] = null)), 'health.cpuTemperatureCelsius'],
    ['an infinite uptime', changed((m) => (m['uptimeSeconds'] = Number.POSITIVE_INFINITY)), 'health.uptimeSeconds'],
    ['an uptime of a thousand years', changed((m) => (m['systemUptimeSeconds'] = 1000 * 365 * 86_400)), 'health.systemUptimeSeconds'],
    ['a status no result has', changed((m) => (m['lastTest'].status = 'great')), 'health.lastTest.status'],
    ['an error code in lowercase', changed((m) => (m['lastTest'].errorCode = 'sw_dns')), 'health.lastTest.errorCode'],
    ['an error code with a newline', changed((m) => (m['lastTest'].errorCode = 'SW_DNS\n')), 'health.lastTest.errorCode'],
    ['a negative failure count', changed((m) => (m['failedTestsInARow'] = -3)), 'health.failedTestsInARow'],
    ['an unknown field', changed((m) => (m['colour'] = 'blue')), 'health.colour'],
    ['a data-use month that is not one', changed((m) => (m['dataUsage'] = { month: '2025-13', usedBytes: 1 })), 'health.dataUsage.month'],
    ['a negative data use', changed((m) => (m['dataUsage'] = { month: '2025-03', usedBytes: -1 })), 'health.dataUsage.usedBytes'],
    ['an unknown field in lastTest', changed((m) => (m['lastTest'].detail = 'x')), 'health.lastTest.detail'],
    ['__proto__ as a field', JSON.parse('{"type":"health","clock":"2025-03-01T08:05:00.000Z","agent":{"version":"1"},"backlog":0,"dropped":0,"__proto__":{"x":1}}'), 'health.__proto__'],
    ['an array for agent', changed((m) => (m['agent'] = ['0.1.0'])), 'health.agent'],
  ])('refuses %s, naming %s', (_name, message, path) => {
    expect(errorOf(message).path).toBe(path);
  });

  it.each<[string, unknown, string]>([
    ['a version of 51 characters', changed((m) => (m['agent'].version = 'v'.repeat(51))), 'health.agent.version'],
    ['an empty version', changed((m) => (m['agent'].version = '')), 'health.agent.version'],
    ['a platform of 10 000 characters', changed((m) => (m['agent'].platform = 'x'.repeat(10_000))), 'health.agent.platform'],
    ['an error code of 100 characters', changed((m) => (m['lastTest'].errorCode = `SW_${'A'.repeat(97)}`)), 'health.lastTest.errorCode'],
  ])('refuses oversized text: %s', (_name, message, path) => {
    const err = errorOf(message);
    expect(err.path).toBe(path);
    // The error says what was expected without repeating the text it refused.
    expect(err.message.length).toBeLessThan(200);
  });
});
