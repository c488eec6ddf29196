import { LedgerCorruptionError } from '../ledger-errors.ts';
import { corrupt, optionalText, type Raw, storedCount, text } from '../shared/stored-records.ts';
import type { Batch, RowResult } from './batch-store.ts';
import { isBatchState } from './batch-validation.ts';

/**
 * Batch records: the row results a commit stores, and the decoders of stored batches and row
 * results (every field checked, storage-only fields dropped, absent optionals left absent).
 */

/** What commitRows stores and counts: the rows checked, with a fixed shape and no `undefined`. */
export interface RowCommit {
  readonly firstRow: number;
  readonly rows: readonly RowResult[];
  readonly accepted: number;
  readonly rejected: number;
}

export function rowCommit(results: readonly RowResult[]): RowCommit {
  if (!Array.isArray(results) || results.length === 0) {
    throw new RangeError('commitRows needs at least one row result');
  }
  const firstRow = results[0]?.row ?? 0;
  if (!Number.isSafeInteger(firstRow) || firstRow < 1) {
    throw new RangeError(`row numbers start at 1, got ${String(firstRow)}`);
  }
  let accepted = 0;
  let rejected = 0;
  const rows = results.map((result, i) => {
    if (result.row !== firstRow + i) {
      throw new RangeError(
        `row results must be consecutive: expected row ${firstRow + i}, got ${result.row}`,
      );
    }
    const row = isPlainRow(result) ? result : rowResult(result, refuseRow);
    if (row.error !== undefined) rejected += 1;
    else if (row.orderId !== undefined) accepted += 1;
    else throw new RangeError(`row ${row.row} has neither an orderId nor an error`);
    return row;
  });
  return { firstRow, rows, accepted, rejected };
}

/**
 * A result already in the stored shape (what the import builds): kept as it is rather than copied,
 * 1,000 per commit. Anything else goes through rowResult, which copies it into that shape or refuses it.
 */
const ROW_FIELDS = new Set(['row', 'cells', 'orderId', 'error']);

function isPlainRow(result: RowResult): boolean {
  const { row, cells, orderId, error } = result;
  if (typeof row !== 'number' || !Number.isSafeInteger(row) || row < 1) return false;
  if (orderId !== undefined && typeof orderId !== 'string') return false;
  if (error !== undefined && typeof error !== 'string') return false;
  if (Object.getPrototypeOf(result) !== Object.prototype) return false;
  for (const key in result) if (!ROW_FIELDS.has(key)) return false;
  if (typeof cells !== 'object' || cells === null || Object.getPrototypeOf(cells) !== Object.prototype)
    return false;
  for (const name in cells) if (typeof cells[name] !== 'string') return false;
  return true;
}

function refuseRow(field: string): never {
  throw new RangeError(`row result has an invalid ${field}`);
}

/** A row result with a fixed field order and no `undefined` fields (`fail` on a bad field). */
export function rowResult(value: unknown, fail: (field: string) => never): RowResult {
  if (typeof value !== 'object' || value === null) return fail('row');
  const raw = value as Record<string, unknown>;
  const { row, cells, orderId, error } = raw;
  if (typeof row !== 'number' || !Number.isSafeInteger(row) || row < 1) return fail('row');
  if (typeof cells !== 'object' || cells === null || Array.isArray(cells)) return fail('cells');
  const copy: Record<string, string> = {};
  for (const [name, cell] of Object.entries(cells)) {
    if (typeof cell !== 'string') return fail('cells');
    copy[name] = cell;
  }
  const result: { -readonly [K in keyof RowResult]: RowResult[K] } = { row, cells: copy };
  if (orderId !== undefined && orderId !== null) {
    if (typeof orderId !== 'string') return fail('orderId');
    result.orderId = orderId;
  }
  if (error !== undefined && error !== null) {
    if (typeof error !== 'string') return fail('error');
    result.error = error;
  }
  return result;
}

/** Counts (`bytes`, `rowsRead`, `accepted`, `rejected`, `rowsCommitted`, `rowsReleased`) already numbers. */
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
    // Absent on batches stored before releases existed: nothing counted as released yet.
    rowsReleased:
      raw.rowsReleased === undefined || raw.rowsReleased === null
        ? 0
        : storedCount(raw, 'batch', 'rowsReleased'),
    updatedAt: text(raw, 'batch', 'updatedAt'),
  };
  const filename = optionalText(raw, 'batch', 'filename');
  const error = optionalText(raw, 'batch', 'error');
  if (filename !== undefined) batch.filename = filename;
  if (error !== undefined) batch.error = error;
  // Absent on batches stored before they existed, and on batches that did not stop.
  if (raw.stoppedAtLine !== undefined && raw.stoppedAtLine !== null) {
    batch.stoppedAtLine = storedCount(raw, 'batch', 'stoppedAtLine');
  }
  if (raw.rowsNotRead !== undefined && raw.rowsNotRead !== null) {
    batch.rowsNotRead = storedCount(raw, 'batch', 'rowsNotRead');
  }
  return batch;
}

/** A stored chunk of row results (already parsed from JSON where the store keeps JSON). */
export function decodeRowChunk(value: unknown): RowResult[] {
  if (!Array.isArray(value)) return corrupt('row results', 'chunk', value);
  return value.map((row) => rowResult(row, (field) => corrupt('row result', field, row)));
}

/** A stored upload whose chunks do not add up to its batch's bytes: never a shortened file. */
export function incompleteUpload(batchId: string, stored: number, expected: number): LedgerCorruptionError {
  return new LedgerCorruptionError(
    `the stored upload of batch ${batchId} has ${stored} bytes, not ${expected}: a chunk is missing`,
    { context: { batchId, stored, expected } },
  );
}
