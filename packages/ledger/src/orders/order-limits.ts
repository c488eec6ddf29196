import { milliseconds, validateLimit } from '../shared/validation.ts';
import type { ClaimChecksOptions } from './order-store.ts';

export const MAX_STALE_LIMIT = 1_000;
export const MAX_CLAIM_LIMIT = 1_000;

export function validateStaleLimit(limit: number): number {
  return validateLimit(limit, MAX_STALE_LIMIT, 'findStale');
}

export function validateClaimOptions(options: ClaimChecksOptions): { limit: number; intervals: number[] } {
  const limit = validateLimit(options.limit, MAX_CLAIM_LIMIT, 'claimDueChecks');
  if (!Array.isArray(options.intervalsMs) || options.intervalsMs.length === 0) {
    throw new RangeError('claimDueChecks intervalsMs must hold at least one interval');
  }
  // At least 1 ms: a zero interval would let the next claim hand the same order out again at once.
  const intervals = options.intervalsMs.map((ms) => milliseconds(ms, 'claimDueChecks interval', 1));
  return { limit, intervals };
}
