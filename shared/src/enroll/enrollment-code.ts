/**
 * One-time enrollment codes: what a person types on a box to exchange for the agent's token.
 * 13 characters of Crockford's base32 (65 random bits) and a check character, shown in groups
 * of four (`7KQ2-M9XD-40RB-TV`). Crockford's alphabet has no I, L, O or U, and reading accepts
 * the look-alikes (I and L as 1, O as 0), lower case, spaces and dashes. The check character
 * (Luhn mod 32) catches every single mistyped character and every swap of two neighbours but
 * 0 and Z, so a typo is caught on the box before anything is sent.
 */
import { SpeedwatchError } from '../errors/speedwatch-error.js';

export const ENROLLMENT_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Random characters in a code; 5 bits each. */
export const ENROLLMENT_CODE_DATA_LENGTH = 13;
/** Random bits in a code. */
export const ENROLLMENT_CODE_BITS = ENROLLMENT_CODE_DATA_LENGTH * 5;
/** Bytes of randomness `makeEnrollmentCode` needs. */
export const ENROLLMENT_CODE_RANDOM_BYTES = Math.ceil(ENROLLMENT_CODE_BITS / 8);

/** A typed code that cannot be a code: caught on the box, before anything is sent. */
export class EnrollmentCodeError extends SpeedwatchError {
  declare readonly code: 'SW_ENROLL_CODE_MISTYPED';
  constructor(message: string) {
    super('SW_ENROLL_CODE_MISTYPED', message);
    this.name = 'EnrollmentCodeError';
  }
}

const EXPECTED = `an enrollment code: ${ENROLLMENT_CODE_DATA_LENGTH + 1} characters of 0-9 and A-Z without I, L, O, U, like 7KQ2-M9XD-40RB-TV`;

/** Luhn mod N over base-32 digits: the character that makes the weighted sum 0 mod 32. */
function checkCharacter(data: string): string {
  let sum = 0;
  let factor = 2;
  for (let i = data.length - 1; i >= 0; i--) {
    let addend = factor * ENROLLMENT_CODE_ALPHABET.indexOf(data[i] as string);
    addend = Math.floor(addend / 32) + (addend % 32);
    sum += addend;
    factor = factor === 2 ? 1 : 2;
  }
  return ENROLLMENT_CODE_ALPHABET[(32 - (sum % 32)) % 32] as string;
}

/** The code's canonical form (upper case, no separators) shown in groups of four. */
export function formatEnrollmentCode(canonical: string): string {
  return canonical.match(/.{1,4}/g)?.join('-') ?? canonical;
}

/**
 * A new code from `random` (at least ENROLLMENT_CODE_RANDOM_BYTES bytes from a CSPRNG), in its
 * canonical form. The caller owns the randomness, so shared stays free of node:crypto and tests
 * can fix it.
 */
export function makeEnrollmentCode(random: Uint8Array): string {
  if (random.length < ENROLLMENT_CODE_RANDOM_BYTES) throw new RangeError(`makeEnrollmentCode needs ${ENROLLMENT_CODE_RANDOM_BYTES} random bytes, got ${random.length}`);
  let bits = 0n;
  for (const byte of random.subarray(0, ENROLLMENT_CODE_RANDOM_BYTES)) bits = (bits << 8n) | BigInt(byte);
  let data = '';
  for (let i = 0; i < ENROLLMENT_CODE_DATA_LENGTH; i++) {
    data += ENROLLMENT_CODE_ALPHABET[Number(bits & 31n)];
    bits >>= 5n;
  }
  return data + checkCharacter(data);
}

/**
 * The canonical form of a typed code; EnrollmentCodeError when it has the wrong length, a
 * character outside the alphabet, or a check character that does not match (a typo).
 */
export function parseEnrollmentCode(text: unknown): string {
  if (typeof text !== 'string' || text.length > 64) throw new EnrollmentCodeError(`expected ${EXPECTED}`);
  const canonical = text
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  if (canonical.length !== ENROLLMENT_CODE_DATA_LENGTH + 1 || [...canonical].some((c) => !ENROLLMENT_CODE_ALPHABET.includes(c))) {
    throw new EnrollmentCodeError(`${JSON.stringify(text)} is not ${EXPECTED}`);
  }
  const data = canonical.slice(0, -1);
  if (checkCharacter(data) !== canonical.slice(-1)) {
    throw new EnrollmentCodeError(`${JSON.stringify(text)}: a character is mistyped (its check character does not match); type the code again`);
  }
  return canonical;
}
