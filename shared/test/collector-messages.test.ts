import { describe, expect, it } from 'vitest';
import { parseCollectorMessage, ValidationError, WIRE_LIMIT_RANGES } from '../src/index.js';

const LIMITS = { maxFrameBytes: 1_048_576, maxBatch: 500, maxMessagesPerMinute: 120 };
const WELCOME = { type: 'welcome', protocol: 1, agentId: 'lso-caoloc-thcs-hopthanh', serverTime: '2025-03-01T08:00:00.120Z', limits: LIMITS };
const ID = '0b7e6d0c-8f1a-4e59-9d5e-2d1f0c9a7b31';
const SHA = 'a'.repeat(64);
const UPGRADE = { type: 'upgrade', version: '0.2.0', sha256: SHA, path: '/v1/releases/speedwatch-agent-0.2.0.tgz', bytes: 652_123 };

function errorOf(value: unknown): ValidationError {
  try {
    parseCollectorMessage(value);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

/** `base` with `change` applied to a deep copy. */
function changed<T>(base: T, change: (m: Record<string, any>) => void): unknown {
  const copy = structuredClone(base) as Record<string, any>;
  change(copy);
  return copy;
}

describe('parseCollectorMessage', () => {
  // Each message as docs/protocol.md shows it, and at the edges of its bounds.
  it.each<[string, unknown]>([
    ['a welcome', WELCOME],
    ['a welcome with every limit at its lowest', { ...WELCOME, limits: { maxFrameBytes: 1024, maxBatch: 1, maxMessagesPerMinute: 1 } }],
    [
      'a welcome with every limit at its highest',
      { ...WELCOME, limits: { maxFrameBytes: WIRE_LIMIT_RANGES.maxFrameBytes.max, maxBatch: WIRE_LIMIT_RANGES.maxBatch.max, maxMessagesPerMinute: WIRE_LIMIT_RANGES.maxMessagesPerMinute.max } },
    ],
    ['an ack', { type: 'ack', ids: [ID] }],
    ['an empty ack', { type: 'ack', ids: [] }],
    ['an ack of a whole batch at the largest maxBatch', { type: 'ack', ids: Array.from({ length: 10_000 }, (_, i) => `result-${i}`) }],
    ['a reject', { type: 'reject', id: ID, code: 'SW_VALIDATION', message: 'download.mbps: expected a finite number >= 0, got -1' }],
    ['a reject of a result without an id', { type: 'reject', id: '#3', code: 'SW_VALIDATION', message: 'id: expected an id (required)' }],
    ['an error', { type: 'error', code: 'SW_RATE_LIMITED', message: 'over 120 messages a minute' }],
    ['an upgrade', UPGRADE],
    ['an upgrade to a pre-release with build metadata', { ...UPGRADE, version: '1.0.0-rc.1+pi', path: '/v1/releases/speedwatch-agent-1.0.0-rc.1+pi.tgz' }],
    ['an upgrade of the largest tarball', { ...UPGRADE, bytes: 32 * 1024 * 1024 }],
  ])('accepts %s and returns it as it is', (_name, message) => {
    expect(parseCollectorMessage(message)).toEqual(message);
  });

  it.each<[string, string]>([
    ['a lowercase name', 'maintenance'],
    ['a name with a dash and digits', 'limits-v2'],
    ['a name of 32 characters', `a${'b'.repeat(31)}`],
    // The known names are those in COLLECTOR_MESSAGE_TYPES, so this is as unknown as any.
    ['the word unknown', 'unknown'],
  ])('returns a message type it does not know, %s, as unknown so that it can be ignored', (_name, type) => {
    expect(parseCollectorMessage({ type, whatever: [1, { deep: true }] })).toEqual({ type: 'unknown', received: type });
  });

  // Each case is a frame a broken or hostile collector might send; the error must name the
  // field (its `path`) and say what was expected.
  it.each<[string, unknown, string, RegExp]>([
    ['null', null, '', /expected a message object, got null/],
    ['a number', 5, '', /got a number/],
    ['an array', [WELCOME], '', /got an array/],
    ['a string', 'welcome', '', /got a string/],
    ['no type', { ids: [ID] }, 'type', /got nothing/],
    ['a type that is not a string', { type: 5 }, 'type', /got a number/],
    ['a type in capitals', { type: 'ACK', ids: [] }, 'type', /lowercase/],
    ['a type of 33 characters', { type: `a${'b'.repeat(32)}` }, 'type', /got a string of 33 characters/],
    ['an empty type', { type: '' }, 'type', /got a string of 0 characters/],
    ['ids that are a number', { type: 'ack', ids: 5 }, 'ack.ids', /an array/],
    ['ids that are null', { type: 'ack', ids: null }, 'ack.ids', /an array/],
    ['an ack without ids', { type: 'ack' }, 'ack.ids', /required/],
    ['an id that is not a string', { type: 'ack', ids: [ID, 7] }, 'ack.ids[1]', /a string/],
    ['an empty id', { type: 'ack', ids: [''] }, 'ack.ids[0]', /1 to 64 characters/],
    ['an id of 65 characters', { type: 'ack', ids: ['a'.repeat(65)] }, 'ack.ids[0]', /1 to 64 characters/],
    ['more ids than the largest batch', { type: 'ack', ids: Array.from({ length: 10_001 }, (_, i) => `result-${i}`) }, 'ack.ids', /at most 10000 items/],
    ['an unknown field in an ack', { type: 'ack', ids: [], extra: 1 }, 'ack.extra', /unknown field/],
    ['a welcome without limits', changed(WELCOME, (m) => delete m['limits']), 'welcome.limits', /required/],
    ['limits that are null', changed(WELCOME, (m) => (m['limits'] = null)), 'welcome.limits', /an object/],
    ['limits without maxBatch', changed(WELCOME, (m) => delete m['limits'].maxBatch), 'welcome.limits.maxBatch', /required/],
    ['a maxBatch of 0', changed(WELCOME, (m) => (m['limits'].maxBatch = 0)), 'welcome.limits.maxBatch', />= 1/],
    ['a maxBatch over its cap', changed(WELCOME, (m) => (m['limits'].maxBatch = 10_001)), 'welcome.limits.maxBatch', /<= 10000/],
    ['a fractional maxBatch', changed(WELCOME, (m) => (m['limits'].maxBatch = 2.5)), 'welcome.limits.maxBatch', /an integer/],
    ['a maxFrameBytes under 1 KiB', changed(WELCOME, (m) => (m['limits'].maxFrameBytes = 100)), 'welcome.limits.maxFrameBytes', />= 1024/],
    ['a maxFrameBytes of a terabyte', changed(WELCOME, (m) => (m['limits'].maxFrameBytes = 2 ** 40)), 'welcome.limits.maxFrameBytes', /<= 67108864/],
    ['a negative rate limit', changed(WELCOME, (m) => (m['limits'].maxMessagesPerMinute = -1)), 'welcome.limits.maxMessagesPerMinute', />= 1/],
    ['a rate limit given as text', changed(WELCOME, (m) => (m['limits'].maxMessagesPerMinute = '120')), 'welcome.limits.maxMessagesPerMinute', /an integer/],
    ['a welcome of another protocol version', changed(WELCOME, (m) => (m['protocol'] = 2)), 'welcome.protocol', /one of 1/],
    ['a server time that is not a timestamp', changed(WELCOME, (m) => (m['serverTime'] = 'now')), 'welcome.serverTime', /ISO 8601/],
    ['an empty agent id', changed(WELCOME, (m) => (m['agentId'] = '')), 'welcome.agentId', /agent id/],
    ['an agent id with a control character', changed(WELCOME, (m) => (m['agentId'] = 'a\u001b[31m')), 'welcome.agentId', /printable ASCII/],
    ['a reject without an id', { type: 'reject', code: 'SW_VALIDATION', message: '' }, 'reject.id', /required/],
    ['a reject id of 65 characters', { type: 'reject', id: 'a'.repeat(65), code: 'SW_VALIDATION', message: '' }, 'reject.id', /at most 64/],
    ['a reject code that is not SW_', { type: 'reject', id: ID, code: 'oops', message: '' }, 'reject.code', /SW_/],
    ['a reject message of 2001 characters', { type: 'reject', id: ID, code: 'SW_VALIDATION', message: 'x'.repeat(2001) }, 'reject.message', /at most 2000/],
    ['an error without a code', { type: 'error', message: 'no' }, 'error.code', /required/],
    ['an error code with a newline', { type: 'error', code: 'SW_X\n', message: 'no' }, 'error.code', /SW_/],
    ['an error message that is an object', { type: 'error', code: 'SW_X', message: {} }, 'error.message', /a string/],
    // An upgrade names a directory on the box and a path on the collector: nothing else may pass.
    ['an upgrade to a version with a slash', { ...UPGRADE, version: '0.2.0/../../etc' }, 'upgrade.version', /a version like 0\.2\.0/],
    ['an upgrade to a version that is not semver', { ...UPGRADE, version: 'latest' }, 'upgrade.version', /a version like/],
    ['an upgrade whose hash is in capitals', { ...UPGRADE, sha256: SHA.toUpperCase() }, 'upgrade.sha256', /lowercase hex/],
    ['an upgrade whose hash is short', { ...UPGRADE, sha256: 'abc' }, 'upgrade.sha256', /64 lowercase hex/],
    ['an upgrade from another host', { ...UPGRADE, path: 'http://evil.example/speedwatch-agent-0.2.0.tgz' }, 'upgrade.path', /\/v1\/releases\//],
    ['an upgrade path outside the releases', { ...UPGRADE, path: '/v1/releases/../api/v1/agents' }, 'upgrade.path', /\/v1\/releases\//],
    ['an upgrade of an empty tarball', { ...UPGRADE, bytes: 0 }, 'upgrade.bytes', />= 1/],
    ['an upgrade over the size limit', { ...UPGRADE, bytes: 32 * 1024 * 1024 + 1 }, 'upgrade.bytes', /<= 33554432/],
    ['an upgrade with an unknown field', { ...UPGRADE, url: 'http://x/' }, 'upgrade.url', /unknown field/],
  ])('refuses %s, naming the field', (_name, value, path, expected) => {
    const err = errorOf(value);
    expect(err.code).toBe('SW_VALIDATION');
    expect(err.path).toBe(path);
    expect(err.message).toMatch(expected);
  });

  it('describes a refused type by its kind and length, never by its text', () => {
    expect(errorOf({ type: '\u202eKCA' }).message).toBe(
      'type: expected one of "welcome", "ack", "reject", "error", "config", "test-now", "upgrade", or a future type of 1 to 32 lowercase letters, digits, _ or -, got a string of 4 characters',
    );
  });
});
