/**
 * Freezes `value` and every object and array inside it, so a validated config cannot change
 * under the code that trusts it. Buffers are left as they are (a typed array cannot be frozen).
 * Returns `value`.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
