import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENROLLMENT_CODE_BITS, ENROLLMENT_CODE_RANDOM_BYTES, formatEnrollmentCode, makeEnrollmentCode, parseEnrollmentCode } from '../src/index.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const randomBytes = fc.uint8Array({ minLength: ENROLLMENT_CODE_RANDOM_BYTES, maxLength: ENROLLMENT_CODE_RANDOM_BYTES });

function codeOf(bytes: number[]): string {
  return makeEnrollmentCode(Uint8Array.from(bytes));
}

describe('enrollment codes', () => {
  it('carry at least 60 random bits in 14 typeable characters', () => {
    expect(ENROLLMENT_CODE_BITS).toBeGreaterThanOrEqual(60);
    const code = codeOf([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{14}$/);
    expect(formatEnrollmentCode(code)).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$/);
  });

  it('differ when any of the 65 random bits differs', () => {
    const zero = new Uint8Array(ENROLLMENT_CODE_RANDOM_BYTES);
    const seen = new Set([makeEnrollmentCode(zero)]);
    for (let bit = 0; bit < ENROLLMENT_CODE_BITS; bit++) {
      const bytes = new Uint8Array(ENROLLMENT_CODE_RANDOM_BYTES);
      // Bit 0 is the least significant bit of the last byte.
      const index = ENROLLMENT_CODE_RANDOM_BYTES - 1 - Math.floor(bit / 8);
      bytes[index] = 1 << (bit % 8);
      seen.add(makeEnrollmentCode(bytes));
    }
    expect(seen.size).toBe(ENROLLMENT_CODE_BITS + 1);
  });

  it('read back as typed: lower case, dashes, spaces and the look-alikes I, L, O', () => {
    fc.assert(
      fc.property(randomBytes, (bytes) => {
        const code = makeEnrollmentCode(bytes);
        expect(parseEnrollmentCode(code)).toBe(code);
        expect(parseEnrollmentCode(` ${formatEnrollmentCode(code).toLowerCase()} `)).toBe(code);
        expect(parseEnrollmentCode(code.replace(/1/g, 'l').replace(/0/g, 'O'))).toBe(code);
      }),
    );
  });

  it('catch every single mistyped character', () => {
    fc.assert(
      fc.property(randomBytes, fc.nat(13), fc.nat(30), (bytes, at, shift) => {
        const code = makeEnrollmentCode(bytes);
        const typed = ALPHABET[(ALPHABET.indexOf(code[at] as string) + shift + 1) % 32] as string;
        const wrong = code.slice(0, at) + typed + code.slice(at + 1);
        expect(() => parseEnrollmentCode(wrong)).toThrow(expect.objectContaining({ code: 'SW_ENROLL_CODE_MISTYPED' }));
      }),
    );
  });

  // Luhn mod 32 has one blind pair, as Luhn mod 10 has 09/90: a swap of 0 and Z.
  it('catch every swap of two different neighbouring characters but 0 and Z', () => {
    fc.assert(
      fc.property(randomBytes, fc.nat(12), (bytes, at) => {
        const code = makeEnrollmentCode(bytes);
        fc.pre(code[at] !== code[at + 1] && `${code[at]}${code[at + 1]}` !== '0Z' && `${code[at]}${code[at + 1]}` !== 'Z0');
        const swapped = code.slice(0, at) + (code[at + 1] as string) + (code[at] as string) + code.slice(at + 2);
        expect(() => parseEnrollmentCode(swapped)).toThrow(expect.objectContaining({ code: 'SW_ENROLL_CODE_MISTYPED' }));
      }),
    );
  });

  it.each([
    ['too short', '7KQ2-M9XD-40RB-T'],
    ['too long', '7KQ2-M9XD-40RB-TVX'],
    ['a U', 'UKQ2-M9XD-40RB-TV'],
    ['punctuation', '7KQ2.M9XD.40RB.TV'],
    ['not text', 42],
    ['a token pasted instead', 'swa_0123456789abcdefghijklmnopqrstuvwxyz0123'],
  ])('refuse %s, naming what a code looks like', (_case, typed) => {
    expect(() => parseEnrollmentCode(typed)).toThrow(expect.objectContaining({ code: 'SW_ENROLL_CODE_MISTYPED', message: expect.stringContaining('like 7KQ2-M9XD-40RB-TV') as unknown }));
  });
});
