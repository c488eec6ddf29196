import { corrupt, type Raw, text } from '../shared/stored-records.ts';
import { timeMs } from '../shared/time.ts';
import type { BalanceSample } from './balance-store.ts';

export function validateBalanceSample(sample: BalanceSample): number {
  if (typeof sample.provider !== 'string' || sample.provider === '') {
    throw new RangeError('balance sample provider must be a non-empty string');
  }
  // A provider may extend credit, so a balance below zero is a fact to record, not an error.
  if (!Number.isSafeInteger(sample.balance)) {
    throw new RangeError(`balance sample balance must be a whole number of paise, got ${sample.balance}`);
  }
  return timeMs(sample.at, 'at');
}

export function decodeBalanceSample(raw: Raw): BalanceSample {
  const balance = raw.balance;
  if (typeof balance !== 'number' || !Number.isSafeInteger(balance))
    corrupt('balance sample', 'balance', balance);
  return {
    provider: text(raw, 'balance sample', 'provider'),
    balance,
    at: text(raw, 'balance sample', 'at'),
  };
}
