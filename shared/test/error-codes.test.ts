import { describe, expect, it } from 'vitest';
import type { ErrorMessage, RejectMessage, ResultError } from '../src/index.js';
import { ERROR_CODE_LIST, ERROR_CODES, errorCodesCarriedBy, isErrorCode, RESULT_ERROR_CODES, SpeedwatchError } from '../src/index.js';

describe('ERROR_CODES', () => {
  it('is frozen all the way down', () => {
    expect(Object.isFrozen(ERROR_CODES)).toBe(true);
    expect(Object.isFrozen(ERROR_CODES.SW_DNS)).toBe(true);
    expect(Object.isFrozen(ERROR_CODES.SW_DNS.carriers)).toBe(true);
    expect(Object.isFrozen(ERROR_CODE_LIST)).toBe(true);
  });

  // These lines are checked by `tsc -b`, which compiles the tests: each must stay an error.
  it('makes a code that is not in the registry, or not carried there, a compile error', () => {
    // @ts-expect-error SW_NOT_A_CODE is not in the registry
    expect(new SpeedwatchError('SW_NOT_A_CODE', 'x').code).toBe('SW_NOT_A_CODE');
    // @ts-expect-error a result does not carry SW_STORE_WRITE
    const result: ResultError = { phase: 'download', code: 'SW_STORE_WRITE', message: '' };
    // @ts-expect-error SW_TIMESTAMP goes in a reject message, not an error message
    const error: ErrorMessage = { type: 'error', code: 'SW_TIMESTAMP', message: '' };
    // @ts-expect-error SW_RATE_LIMITED goes in an error message, not a reject message
    const reject: RejectMessage = { type: 'reject', id: 'x', code: 'SW_RATE_LIMITED', message: '' };
    expect([result.code, error.code, reject.code]).toEqual(['SW_STORE_WRITE', 'SW_TIMESTAMP', 'SW_RATE_LIMITED']);
  });
});

describe('isErrorCode', () => {
  it.each([
    ['SW_DNS', true],
    ['SW_OUTBOX_UNREADABLE', true],
    ['SW_NOT_A_CODE', false],
    ['sw_dns', false],
    ['toString', false],
    [42, false],
    [undefined, false],
  ])('says %j is a registry code: %s', (value, expected) => {
    expect(isErrorCode(value)).toBe(expected);
  });
});

describe('errorCodesCarriedBy', () => {
  it('lists the codes a carrier carries, in registry order', () => {
    expect(errorCodesCarriedBy('WebhookError')).toEqual(['SW_WEBHOOK_STATUS', 'SW_WEBHOOK_TIMEOUT', 'SW_WEBHOOK_NETWORK']);
    expect(errorCodesCarriedBy('reject message')).toEqual(['SW_VALIDATION', 'SW_DUPLICATE_ID', 'SW_TIMESTAMP']);
    expect(errorCodesCarriedBy('HTTP 503')).toEqual(['SW_STORE_UNAVAILABLE', 'SW_RELEASE_BUSY']);
  });

  it('lists the codes of several carriers once each', () => {
    expect(errorCodesCarriedBy('error message', 'HTTP 503').filter((c) => c === 'SW_STORE_UNAVAILABLE')).toHaveLength(1);
  });

  it('gives results the measurement codes and SW_MEASURE_CRASHED', () => {
    expect(RESULT_ERROR_CODES).toEqual([...ERROR_CODE_LIST.filter((c) => ERROR_CODES[c].component === 'measurement'), 'SW_MEASURE_CRASHED']);
  });
});
