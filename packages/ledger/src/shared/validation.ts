/**
 * Checks of what callers hand the ledger, made before anything is written, the same in both
 * stores: a bad argument is a `RangeError` (a programming error), never a partial write.
 */

export function validateLimit(limit: number, max: number, what: string): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new RangeError(`${what} limit must be a whole number from 1 to ${max}, got ${limit}`);
  }
  return limit;
}

/** A whole number of milliseconds (callers compute them from seconds, which may not be whole). */
export function milliseconds(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.round(value) < min) {
    throw new RangeError(`${what} must be a number of milliseconds >= ${min}, got ${String(value)}`);
  }
  return Math.round(value);
}

export function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new RangeError(`${what} must be a non-empty string`);
  return value;
}

export function wholeNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a whole number >= 0, got ${String(value)}`);
  }
  return value;
}
