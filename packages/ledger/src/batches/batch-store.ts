import type { OrderKey, OrderState } from '@rechargeflow/domain';
import type { CreateResult, NewOrder } from '../orders/new-order.ts';
import type { BatchOrderChunk, BatchOrderResult } from './batch-orders.ts';

export const BATCH_STATES = [
  /** The upload is stored; its import job has not started (or must be started again). */
  'stored',
  /** Rows are being validated and turned into orders. */
  'importing',
  /**
   * The import has ended: every row read is an order or an explained error; orders are still
   * progressing. With `error` set, reading stopped early (`stoppedAtLine`, `rowsNotRead`): the API
   * shows such a batch as `stopped`.
   */
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
  /** The upload's size: readUpload checks the stored chunks against it. */
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
  /**
   * Rows (from the first, ≤ rowsCommitted, a whole number of commits) whose orders have been handed
   * to the queue: their recharge jobs were added. The orders of the rows after it wait in the ledger,
   * `queued`, until the batch's release adds their jobs as the queue has room (docs/orders.md, "Batches").
   * 0 on batches stored before it existed (their release hands their queued orders over again,
   * which job ids make harmless).
   */
  readonly rowsReleased: number;
  /** Why the import stopped, when it could not go on (e.g. the header is wrong). */
  readonly error?: string | undefined;
  /**
   * With `error`: the line of the file (1-based, the header is line 1, counted by line breaks) where
   * reading stopped.
   */
  readonly stoppedAtLine?: number | undefined;
  /** With `error`: the input rows after the last row read that were never read (results.csv lines). */
  readonly rowsNotRead?: number | undefined;
  /** ISO; set by createBatch (= createdAt), updateBatch and commitRows (their `at`). */
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
  /**
   * Plain-language reason the row was refused. A row with an error counts as rejected (even if it
   * names an order, e.g. an existing order id with another body); one with only an orderId as accepted.
   */
  readonly error?: string | undefined;
}

/**
 * How an upload's chunks are held until createBatch commits them. Until then they are the
 * client's, under the batch id's own keys, and live only as long as the lease: a refused,
 * repeated or abandoned upload can never outlive it.
 */
export interface UploadLease {
  /** The uploading client: the chunks count against the bytes it holds not yet imported. */
  readonly clientId: string;
  /**
   * How long (ms, whole, ≥ 1) the upload's chunks live after its latest chunk unless createBatch
   * commits them first. Every chunk written renews the lease of all the upload's chunks, on the
   * store's clock.
   */
  readonly leaseMs: number;
  /**
   * The most bytes the client may hold stored but not yet imported: its uploads in progress (lease
   * running) plus its batches `stored` or `importing`. A chunk that would pass it is refused with
   * `UploadQuotaError`, nothing written. Absent: no limit.
   */
  readonly maxPendingBytes?: number | undefined;
}

export interface BatchPatch {
  readonly state?: BatchState | undefined;
  readonly rowsRead?: number | undefined;
  /** Sets the error; `undefined` leaves an earlier one as it is. */
  readonly error?: string | undefined;
  /** Sets stoppedAtLine (whole, ≥ 1); `undefined` leaves it as it is. */
  readonly stoppedAtLine?: number | undefined;
  /** Sets rowsNotRead (whole, ≥ 0); `undefined` leaves it as it is. */
  readonly rowsNotRead?: number | undefined;
}

/**
 * Uploads, batches and their row results. Both ledger stores implement it (MongoDB: GridFS for the
 * upload; Redis: the upload in chunks).
 *
 * An upload's life: putUploadChunk writes its chunks under the new batch id with a lease
 * (UploadLease); createBatch commits them (the lease is removed, they stay with the batch), or,
 * when the file is known already, removes them in the same step; discardUpload removes them at
 * once (a refused or aborted upload); sweepUploads removes what a lease let run out (a process
 * that died mid-upload). Nothing of an upload that never became a batch outlives its lease. The
 * client's bytes not yet imported (pendingUploadBytes) count from the first chunk until the batch
 * is `imported` or `done`.
 *
 * Membership: an order created with a `batchId` is a member of that batch; linkOrders makes an
 * existing order a member of another batch too. Every member counts in its batch's `batchStates`
 * under the state it is in now; the store moves the count in the same atomic write as the order's
 * transition (Redis) or counts on demand (MongoDB).
 */
export interface BatchStore {
  /**
   * Creates the batch (state `stored`, all counts 0, `updatedAt` = `createdAt`) unless the client
   * already has one with the same content hash, which is then returned with `created: false`
   * (uploading the same file twice creates nothing new; the new batchId is not used, and the
   * upload written under it is removed in the same step). Rejects with `RangeError` (nothing
   * written) for a malformed batch or a batchId another batch already has.
   *
   * Creating the batch commits the upload written under its batchId: its lease is removed, so its
   * chunks stay as long as the batch, and its `bytes` count in the client's pendingUploadBytes until
   * the batch is `imported` or `done`. Called again for a batch it created (a retry), it answers
   * that batch with `created: false` and removes nothing.
   */
  createBatch(batch: NewBatch): Promise<{ readonly created: boolean; readonly batch: Batch }>;
  /**
   * Stores the upload's bytes, chunk `index` (0-based, whole number, ≤ 1 MiB each, else
   * `RangeError`); rewriting a chunk is harmless (the last write wins). The batch must not exist
   * yet: the upload is stored while it is hashed, before createBatch commits it; until then it
   * lives under `lease` (renewed for all its chunks by each write). Nothing is written, and:
   * - `RangeError` when the batch exists already (a stored upload never changes), the upload is
   *   another client's, or the lease is malformed;
   * - `UploadLeaseExpiredError` for a chunk after the first when the upload holds no chunk whose
   *   lease still runs (it ran out: the upload must start again);
   * - `UploadQuotaError` when the chunk would take the client past `lease.maxPendingBytes`.
   */
  putUploadChunk(batchId: string, index: number, data: Buffer, lease: UploadLease): Promise<void>;
  /**
   * Removes, at once, the chunks of an upload not committed by createBatch and stops counting them
   * for the client. Does nothing for a batch that exists (its upload is committed), for another
   * client's upload, or when nothing is stored.
   */
  discardUpload(clientId: string, batchId: string): Promise<void>;
  /**
   * Removes uploads whose lease ran out by the store's clock (their process died mid-upload, or
   * could not discard them), at most `limit` (1..1000) uploads per call; answers how many it
   * removed (fewer than `limit`: none left for now). Never touches a committed upload.
   */
  sweepUploads(limit: number): Promise<number>;
  /**
   * The bytes the client holds stored but not yet imported: chunks of its uploads in progress
   * (lease running) plus the `bytes` of its batches `stored` or `importing`.
   */
  pendingUploadBytes(clientId: string): Promise<number>;
  /**
   * The upload's chunks in order (0, 1, … up to the first missing one). When the batch exists and
   * the chunks do not add up to its `bytes`, throws `LedgerCorruptionError` after the last chunk
   * (a chunk missing): never a silently shortened file.
   */
  readUpload(batchId: string): AsyncIterable<Buffer>;
  /** The batch, or null when there is none or it belongs to another client. */
  getBatch(clientId: string, batchId: string): Promise<Batch | null>;
  /**
   * A client's batches, newest first (by createdAt), cursor paging like listOrders (limit 1..500,
   * a foreign cursor: `ValidationError`).
   */
  listBatches(
    clientId: string,
    query: { limit: number; cursor?: string | undefined },
  ): Promise<{ batches: readonly Batch[]; nextCursor?: string | undefined }>;
  /**
   * Batches in `state` last changed (`updatedAt`) before `updatedBefore` (ISO, exclusive), oldest
   * first, any client, at most `limit` (1..1000) (recovery).
   */
  findBatches(state: BatchState, updatedBefore: string, limit: number): Promise<readonly Batch[]>;
  /**
   * Applies the patch and sets `updatedAt` = `at`. Rejects with `RangeError` for an unknown batch.
   * Entering `imported` or `done` ends the batch's bytes counting in pendingUploadBytes.
   */
  updateBatch(batchId: string, patch: BatchPatch, at: string): Promise<Batch>;
  /**
   * Stores the results of rows `results[0].row` … (consecutive, in input order, at least one, else
   * `RangeError`) and advances `rowsCommitted`, `accepted` and `rejected` and sets `updatedAt` = `at`
   * — atomically and only if `results[0].row === rowsCommitted + 1`. Returns false otherwise, having
   * stored nothing of `results`: a restarted import never counts a row twice; it reads the batch
   * again and resumes after `rowsCommitted`. (MongoDB only: a false may come with the batch moved
   * on by the stored results of an interrupted earlier commit of the same first row; they are
   * results of the same input rows, and resuming after `rowsCommitted` is right either way.)
   * Rejects with `RangeError` for an unknown batch.
   */
  commitRows(batchId: string, results: readonly RowResult[], at: string): Promise<boolean>;
  /** Row results in input order, in chunks (as committed), up to `rowsCommitted`. */
  readRows(batchId: string): AsyncIterable<readonly RowResult[]>;
  /**
   * The committed chunk of row results that starts at row `firstRow` (as commitRows stored it);
   * null past `rowsCommitted`. `firstRow` must be where a commit starts: 1, or the row after a
   * chunk read or released before (`rowsReleased + 1`). Rejects with `RangeError` for a bad number.
   */
  readRowChunk(batchId: string, firstRow: number): Promise<readonly RowResult[] | null>;
  /**
   * Advances `rowsReleased` from `firstRow - 1` by `count` rows (whole, ≥ 1), only if it is
   * `firstRow - 1` now and the rows are committed (`firstRow - 1 + count ≤ rowsCommitted`); answers
   * whether it moved. False is not an error: another run released those rows first, or the import
   * has not committed them yet. Rejects with `RangeError` for an unknown batch or bad numbers.
   */
  releaseRows(batchId: string, firstRow: number, count: number): Promise<boolean>;
  /**
   * Creates many orders in one round trip (each exactly like createOrder, each possibly already
   * existing, a key repeated in the call is created once), each a member of its own `batchId` when
   * it has one; existing ones are returned unchanged and are not made members (see `linkOrders`).
   * Results are in the order of `orders`. Every order is checked before anything is written (a
   * `RangeError` writes nothing). A `ProviderOrderIdConflictError` (an order's providerOrderId held
   * by another order) rejects the whole call; the call's other orders may or may not have been
   * written then (Redis: none), each is idempotent, so a retry without the culprit completes them.
   */
  createOrders(orders: readonly NewOrder[]): Promise<readonly CreateResult[]>;
  /**
   * createOrders for one chunk of a CSV import: orders of one client, made at one time, members of
   * one batch, each written exactly as createOrders writes it. Answers per order, in order:
   * `created`, `existing` (with the order, unchanged, not made a member) or `archived` (retention
   * removed the key's order: nothing is made under it; the rest of the chunk goes ahead). Checks and
   * errors as createOrders.
   */
  createBatchOrders(chunk: BatchOrderChunk): Promise<readonly BatchOrderResult[]>;
  /**
   * For a batch release: per key, in order, the provider of its order when the order is `queued`,
   * else null (no such order, or it has moved on). Reads only those two fields of each order.
   */
  queuedProviders(keys: readonly OrderKey[]): Promise<readonly (string | null)[]>;
  /**
   * Makes existing orders members of the batch too (they count in its states from then on).
   * Linking an order that already is a member changes nothing; unknown keys are ignored.
   */
  linkOrders(batchId: string, keys: readonly OrderKey[]): Promise<void>;
  /**
   * The batch's member orders by their state now (kept up to date by every transition). States
   * without members are absent (an unknown batch: `{}`).
   */
  batchStates(batchId: string): Promise<Readonly<Partial<Record<OrderState, number>>>>;
}
