import { LedgerCorruptionError } from '../ledger-errors.ts';

/**
 * Field readers for decoding the ledger's stored records (callbacks, balance samples, batches, row
 * results): a field that is not what was written is corruption, never guessed at. Orders have
 * their own, finer decoder (orders/order-record.ts).
 */

export type Raw = Readonly<Record<string, unknown>>;

export function corrupt(record: string, field: string, value: unknown): never {
  throw new LedgerCorruptionError(`stored ${record} has an invalid ${field}`, {
    context: { field, type: typeof value },
  });
}

export function text(raw: Raw, record: string, field: string): string {
  const value = raw[field];
  return typeof value === 'string' ? value : corrupt(record, field, value);
}

export function optionalText(raw: Raw, record: string, field: string): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : corrupt(record, field, value);
}

export function storedCount(raw: Raw, record: string, field: string): number {
  const value = raw[field];
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? value
    : corrupt(record, field, value);
}
