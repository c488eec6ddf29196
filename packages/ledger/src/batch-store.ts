import type { NewOrder, CreateResult } from './ledger-store.ts';
import type { OrderKey, OrderState } from '@rechargeflow/domain';

export const BATCH_STATES = [
  /** The upload is stored; its import job has not started (or must be started again). */
  'stored',
  /** Rows are being validated and turned into orders. */
  'importing',
  /** Every row is an order or an explained error; orders are still progressing. */
  'imported',
  /** Every order of the batch is settled (success, failed, reversed) or waits for a person. */
  'done',
] as const;
export type BatchState = (typeof BATCH_STATES)[number];

export interface NewBatch {
  readonly clientId: string;
  /** Opaque, unique: `b_` + random. */
  readonly batchId: string;
  /** sha256 hex of the uploaded bytes: the same file uploaded twice is the same batch. */
  readonly contentHash: string;
  readonly bytes: number;
  readonly filename?: string | undefined;
  /** ISO time. */
  readonly createdAt: string;
}

export interface Batch extends NewBatch {
  readonly state: BatchState;
  /** Data rows read so far (header excluded). */
  readonly rowsRead: number;
  /** Rows that became (or were linked to) an order. */
  readonly accepted: number;
  /** Rows refused with an explained error. */
  readonly rejected: number;
  /** Rows whose results are stored (the import's checkpoint: a restarted import resumes after it). */
  readonly rowsCommitted: number;
  /** Why the import stopped, when it could not go on (e.g. the header is wrong). */
  readonly error?: string | undefined;
  readonly updatedAt: string;
}

/** One input row's outcome, in input order. */
export interface RowResult {
  /** 1-based data row number (the header is row 0). */
  readonly row: number;
  /** The row's cells as read, by column name (for results.csv). */
  readonly cells: Readonly<Record<string, string>>;
  /** The order the row became or was linked to. */
  readonly orderId?: string | undefined;
  /** Plain-language reason the row was refused. */
  readonly error?: string | undefined;
}

export interface BatchPatch {
  readonly state?: BatchState | undefined;
  readonly rowsRead?: number | undefined;
  readonly error?: string | undefined;
}

/**
 * Uploads, batches and their row results. Both ledger stores implement it (MongoDB: GridFS for the
 * upload; Redis: the upload in chunks).
 */
export interface BatchStore {
  /**
   * Creates the batch unless the client already has one with the same content hash, which is then
   * returned with `created: false` (uploading the same file twice creates nothing new).
   */
  createBatch(batch: NewBatch): Promise<{ readonly created: boolean; readonly batch: Batch }>;
  /** Stores the upload's bytes, chunk `index` (0-based, ≤ 1 MiB each); rewriting a chunk is harmless. */
  putUploadChunk(batchId: string, index: number, data: Buffer): Promise<void>;
  /** The upload's chunks in order. */
  readUpload(batchId: string): AsyncIterable<Buffer>;
  getBatch(clientId: string, batchId: string): Promise<Batch | null>;
  /** A client's batches, newest first, cursor paging like listOrders. */
  listBatches(clientId: string, query: { limit: number; cursor?: string | undefined }): Promise<{ batches: readonly Batch[]; nextCursor?: string | undefined }>;
  /** Batches in `state` last changed before `updatedBefore` (ISO), oldest first, any client (recovery). */
  findBatches(state: BatchState, updatedBefore: string, limit: number): Promise<readonly Batch[]>;
  updateBatch(batchId: string, patch: BatchPatch, at: string): Promise<Batch>;
  /**
   * Stores the results of rows `results[0].row` … in input order and advances `rowsCommitted`,
   * `accepted` and `rejected` — atomically and only if `results[0].row === rowsCommitted + 1`
   * (returns false otherwise: a restarted import never counts a row twice).
   */
  commitRows(batchId: string, results: readonly RowResult[], at: string): Promise<boolean>;
  /** Row results in input order, in chunks. */
  readRows(batchId: string): AsyncIterable<readonly RowResult[]>;
  /**
   * Creates many orders in one round trip (each exactly like createOrder, each possibly already
   * existing), all belonging to `batchId`; existing ones are returned unchanged (see `linkOrders`).
   */
  createOrders(orders: readonly NewOrder[]): Promise<readonly CreateResult[]>;
  /** Makes existing orders members of the batch too (they count in its states from then on). */
  linkOrders(batchId: string, keys: readonly OrderKey[]): Promise<void>;
  /** The batch's member orders by their state now (kept up to date by every transition). */
  batchStates(batchId: string): Promise<Readonly<Partial<Record<OrderState, number>>>>;
}
