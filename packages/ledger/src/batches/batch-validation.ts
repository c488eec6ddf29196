import { MAX_LIST_LIMIT } from '../shared/cursors.ts';
import { timeMs } from '../shared/time.ts';
import { nonEmpty, validateLimit, wholeNumber } from '../shared/validation.ts';
import {
  BATCH_STATES,
  type BatchPatch,
  type BatchState,
  type NewBatch,
  type UploadLease,
} from './batch-store.ts';

/** Batches: the same rules in both stores, checked before anything is written. */

export const MAX_BATCH_LIST_LIMIT = MAX_LIST_LIMIT;
export const MAX_FIND_BATCHES_LIMIT = 1_000;
/** An upload chunk holds at most 1 MiB. */
export const MAX_UPLOAD_CHUNK_BYTES = 1024 * 1024;

export function isBatchState(value: unknown): value is BatchState {
  return typeof value === 'string' && (BATCH_STATES as readonly string[]).includes(value);
}

/** Checks a new batch before anything is written; answers its creation time in ms. */
export function validateNewBatch(batch: NewBatch): number {
  nonEmpty(batch.clientId, 'batch clientId');
  nonEmpty(batch.batchId, 'batchId');
  nonEmpty(batch.contentHash, 'batch contentHash');
  wholeNumber(batch.bytes, 'batch bytes');
  if (batch.filename !== undefined && typeof batch.filename !== 'string') {
    throw new RangeError('batch filename must be a string');
  }
  return timeMs(batch.createdAt, 'createdAt');
}

export function validateBatchPatch(patch: BatchPatch, at: string): number {
  if (patch.state !== undefined && !isBatchState(patch.state)) {
    throw new RangeError(`not a batch state: ${JSON.stringify(patch.state)}`);
  }
  if (patch.rowsRead !== undefined) wholeNumber(patch.rowsRead, 'rowsRead');
  if (patch.rowsNotRead !== undefined) wholeNumber(patch.rowsNotRead, 'rowsNotRead');
  if (patch.stoppedAtLine !== undefined) {
    wholeNumber(patch.stoppedAtLine, 'stoppedAtLine');
    if (patch.stoppedAtLine < 1) throw new RangeError('stoppedAtLine counts from 1');
  }
  if (patch.error !== undefined && typeof patch.error !== 'string') {
    throw new RangeError('batch error must be a string');
  }
  return timeMs(at, 'at');
}

/** A row number or row count of readRowChunk and releaseRows: a whole number from 1. */
export function validateRowNumber(value: number, name: string): void {
  wholeNumber(value, name);
  if (value < 1) throw new RangeError(`${name} counts from 1, got ${value}`);
}

export function validateUploadChunk(index: number, data: Buffer): void {
  wholeNumber(index, 'upload chunk index');
  if (!Buffer.isBuffer(data)) throw new RangeError('an upload chunk must be a Buffer');
  if (data.length > MAX_UPLOAD_CHUNK_BYTES) {
    throw new RangeError(`an upload chunk holds at most ${MAX_UPLOAD_CHUNK_BYTES} bytes, got ${data.length}`);
  }
}

export function validateFindBatchesLimit(limit: number): number {
  return validateLimit(limit, MAX_FIND_BATCHES_LIMIT, 'findBatches');
}

/** Uploads removed per sweepUploads call, at most. */
export const MAX_SWEEP_UPLOADS_LIMIT = 1_000;

export function validateSweepUploadsLimit(limit: number): number {
  return validateLimit(limit, MAX_SWEEP_UPLOADS_LIMIT, 'sweepUploads');
}

/** Checks an upload's lease before anything is written. */
export function validateUploadLease(lease: UploadLease): void {
  if (typeof lease !== 'object' || lease === null) throw new RangeError('an upload chunk needs its lease');
  nonEmpty(lease.clientId, 'upload lease clientId');
  if (!Number.isSafeInteger(lease.leaseMs) || lease.leaseMs < 1) {
    throw new RangeError(`upload leaseMs must be a whole number >= 1, got ${String(lease.leaseMs)}`);
  }
  if (lease.maxPendingBytes !== undefined) wholeNumber(lease.maxPendingBytes, 'upload maxPendingBytes');
}
