import type { Batch, RowResult } from './batch-store.ts';
import { LedgerCorruptionError } from './ledger-errors.ts';
import type { BalanceSample, CallbackInput, CallbackRecord } from './ledger-store.ts';
import { isBatchState, isCallbackOutcome, rowResult } from './ledger-support.ts';

/**
 * Decoders for the ledger's other records (callbacks, balance samples, batches, row results), the counterpart of
 * order-record.ts: every field checked, storage-only fields dropped, absent optionals left absent.
 */

type Raw = Readonly<Record<string, unknown>>;

function corrupt(record: string, field: string, value: unknown): never {
  throw new LedgerCorruptionError(`stored ${record} has an invalid ${field}`, {
    context: { field, type: typeof value },
  });
}

function text(raw: Raw, record: string, field: string): string {
  const value = raw[field];
  return typeof value === 'string' ? value : corrupt(record, field, value);
}

function optionalText(raw: Raw, record: string, field: string): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : corrupt(record, field, value);
}

/** `raw.copies` already a number. */
export function decodeCallback(raw: Raw): CallbackRecord {
  const outcome = raw.outcome;
  const copies = raw.copies;
  if (!isCallbackOutcome(outcome)) corrupt('callback', 'outcome', outcome);
  if (typeof copies !== 'number' || !Number.isSafeInteger(copies) || copies < 1)
    corrupt('callback', 'copies', copies);
  const callback: { -readonly [K in keyof CallbackRecord]: CallbackRecord[K] } = {
    id: text(raw, 'callback', 'id'),
    provider: text(raw, 'callback', 'provider'),
    providerOrderId: text(raw, 'callback', 'providerOrderId'),
    status: text(raw, 'callback', 'status'),
    receivedAt: text(raw, 'callback', 'receivedAt'),
    raw: text(raw, 'callback', 'raw'),
    outcome,
    copies,
    updatedAt: text(raw, 'callback', 'updatedAt'),
  };
  const providerRef = optionalText(raw, 'callback', 'providerRef');
  const note = optionalText(raw, 'callback', 'note');
  if (providerRef !== undefined) callback.providerRef = providerRef;
  if (note !== undefined) callback.note = note;
  return callback;
}

/** The stored fields of a new callback (before outcome, copies and updatedAt), without `undefined`. */
export function callbackFields(input: CallbackInput): Record<string, string> {
  const fields: Record<string, string> = {
    provider: input.provider,
    providerOrderId: input.providerOrderId,
    status: input.status,
    receivedAt: input.receivedAt,
    raw: input.raw,
  };
  if (input.providerRef !== undefined) fields.providerRef = input.providerRef;
  return fields;
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

function storedCount(raw: Raw, record: string, field: string): number {
  const value = raw[field];
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? value
    : corrupt(record, field, value);
}

/** Counts (`bytes`, `rowsRead`, `accepted`, `rejected`, `rowsCommitted`) already numbers. */
export function decodeBatch(raw: Raw): Batch {
  const state = raw.state;
  if (!isBatchState(state)) corrupt('batch', 'state', state);
  const batch: { -readonly [K in keyof Batch]: Batch[K] } = {
    clientId: text(raw, 'batch', 'clientId'),
    batchId: text(raw, 'batch', 'batchId'),
    contentHash: text(raw, 'batch', 'contentHash'),
    bytes: storedCount(raw, 'batch', 'bytes'),
    createdAt: text(raw, 'batch', 'createdAt'),
    state,
    rowsRead: storedCount(raw, 'batch', 'rowsRead'),
    accepted: storedCount(raw, 'batch', 'accepted'),
    rejected: storedCount(raw, 'batch', 'rejected'),
    rowsCommitted: storedCount(raw, 'batch', 'rowsCommitted'),
    updatedAt: text(raw, 'batch', 'updatedAt'),
  };
  const filename = optionalText(raw, 'batch', 'filename');
  const error = optionalText(raw, 'batch', 'error');
  if (filename !== undefined) batch.filename = filename;
  if (error !== undefined) batch.error = error;
  return batch;
}

/** A stored chunk of row results (already parsed from JSON where the store keeps JSON). */
export function decodeRowChunk(value: unknown): RowResult[] {
  if (!Array.isArray(value)) return corrupt('row results', 'chunk', value);
  return value.map((row) => rowResult(row, (field) => corrupt('row result', field, row)));
}
