import { createHash } from 'node:crypto';
import { isOrderState, type OrderKey, type OrderState } from '@rechargeflow/domain';
import type { Model } from 'mongoose';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { isDuplicateKeyError, type Lean, type MongoContext } from '../mongo/mongo-support.ts';
import { ORDER_CHUNK } from '../orders/mongo-order-store.ts';
import { encodeCursor, validateBatchListQuery } from '../shared/cursors.ts';
import { batchListKey } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { createBatchOrdersVia } from './batch-orders.ts';
import { decodeBatch, decodeRowChunk, rowCommit } from './batch-record.ts';
import type { Batch, BatchPatch, BatchState, BatchStore, NewBatch, RowResult } from './batch-store.ts';
import {
  isBatchState,
  MAX_BATCH_LIST_LIMIT,
  validateBatchPatch,
  validateFindBatchesLimit,
  validateNewBatch,
  validateRowNumber,
} from './batch-validation.ts';
import { COMMIT_LEASE_MS, type MongoUploads, mongoUploads } from './mongo-upload-store.ts';

/** Row documents fetched per query by readRows. */
const ROW_DOCS_PER_READ = 20;

/** The models of the MongoDB batch store: its own two, and the orders (membership lives on them). */
export interface MongoBatchModels {
  readonly batches: Model<Lean>;
  readonly batchRows: Model<Lean>;
  readonly orders: Model<Lean>;
}

/**
 * The MongoDB batches, their uploads (GridFS, mongo-upload-store.ts) and row results (schemas:
 * mongo-batch-schema.ts). Orders are created in bulk by the order store (`orders.createOrders`);
 * membership is `batchIds` on the order documents, counted when asked.
 */
export function createMongoBatchStore(
  ctx: MongoContext,
  models: MongoBatchModels,
  bucketName: string,
  orders: Pick<BatchStore, 'createOrders'>,
): { readonly store: BatchStore; readonly uploads: MongoUploads } {
  const { batches, batchRows, orders: orderModel } = models;

  async function findBatch(batchId: string): Promise<Batch | null> {
    const doc = await batches.findById(batchId).lean<Lean>().exec();
    return doc === null ? null : decodeBatch(doc);
  }

  const uploads = mongoUploads(ctx, bucketName, batches, findBatch);

  const store: BatchStore = {
    async createBatch(batch: NewBatch) {
      const createdAtMs = validateNewBatch(batch);
      const doc = {
        _id: batch.batchId,
        clientId: batch.clientId,
        batchId: batch.batchId,
        contentHash: batch.contentHash,
        bytes: batch.bytes,
        ...(batch.filename === undefined ? {} : { filename: batch.filename }),
        createdAt: batch.createdAt,
        state: 'stored' satisfies BatchState,
        rowsRead: 0,
        accepted: 0,
        rejected: 0,
        rowsCommitted: 0,
        rowsReleased: 0,
        updatedAt: batch.createdAt,
        updatedAtMs: createdAtMs,
        listKey: batchListKey(batch.batchId, createdAtMs),
      };
      // Commit in three steps, each safe to stop after: the upload's chunks get time first (a sweep
      // never removes a chunk whose lease runs), then the batch is inserted, then the leases go. A
      // crash before the last step leaves leases on a stored batch's chunks: the sweep, finding the
      // batch, removes the leases instead of the chunks.
      await uploads.renewLease(batch.batchId, COMMIT_LEASE_MS);
      try {
        await batches.insertOne(doc);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        // The same content (the first upload wins, for good), or a batchId another batch has.
        const existing = await batches
          .findOne({ clientId: batch.clientId, contentHash: batch.contentHash })
          .lean<Lean>()
          .exec();
        if (existing === null) throw new RangeError(`batchId ${batch.batchId} is taken`);
        const known = decodeBatch(existing);
        // A retry of a create that happened commits; a second upload of the file goes at once.
        if (known.batchId === batch.batchId) await uploads.commitUpload(batch.batchId);
        else await uploads.store.discardUpload(batch.clientId, batch.batchId);
        return { created: false, batch: known };
      }
      await uploads.commitUpload(batch.batchId);
      return { created: true, batch: decodeBatch(doc) };
    },

    ...uploads.store,

    async getBatch(clientId: string, batchId: string) {
      const doc = await batches.findOne({ clientId, batchId }).lean<Lean>().exec();
      return doc === null ? null : decodeBatch(doc);
    },

    async listBatches(clientId: string, query: { limit: number; cursor?: string | undefined }) {
      const { limit, after } = validateBatchListQuery(query, MAX_BATCH_LIST_LIMIT);
      const filter: Record<string, unknown> = { clientId };
      if (after !== undefined) filter.listKey = { $lt: after };
      const docs = await batches
        .find(filter)
        .sort({ listKey: -1 })
        .limit(limit + 1)
        .lean<Lean[]>()
        .exec();
      const page = docs.slice(0, limit);
      const last = page.at(-1)?.listKey;
      const list = page.map((doc) => decodeBatch(doc));
      return docs.length > limit && typeof last === 'string'
        ? { batches: list, nextCursor: encodeCursor(last) }
        : { batches: list };
    },

    async findBatches(state: BatchState, updatedBefore: string, limit: number) {
      validateFindBatchesLimit(limit);
      if (!isBatchState(state)) throw new RangeError(`not a batch state: ${JSON.stringify(state)}`);
      const docs = await batches
        .find({ state, updatedAtMs: { $lt: timeMs(updatedBefore, 'updatedBefore') } })
        .sort({ updatedAtMs: 1, _id: 1 })
        .limit(limit)
        .lean<Lean[]>()
        .exec();
      return docs.map((doc) => decodeBatch(doc));
    },

    async updateBatch(batchId: string, patch: BatchPatch, at: string) {
      const atMs = validateBatchPatch(patch, at);
      const set: Record<string, unknown> = { updatedAt: at, updatedAtMs: atMs };
      if (patch.state !== undefined) set.state = patch.state;
      if (patch.rowsRead !== undefined) set.rowsRead = patch.rowsRead;
      if (patch.error !== undefined) set.error = patch.error;
      if (patch.stoppedAtLine !== undefined) set.stoppedAtLine = patch.stoppedAtLine;
      if (patch.rowsNotRead !== undefined) set.rowsNotRead = patch.rowsNotRead;
      const doc = await batches
        .findOneAndUpdate({ _id: batchId }, { $set: set }, { returnDocument: 'after', upsert: false })
        .lean<Lean>()
        .exec();
      if (doc === null) throw new RangeError(`no batch has the id ${batchId}`);
      return decodeBatch(doc);
    },

    /**
     * Two writes, no transaction: the rows document, then one conditional update of the batch
     * (`rowsCommitted` still `firstRow - 1`) that advances the counts by what that document holds.
     * Rows documents are never changed once written (unique per batch and first row), so the counts
     * always describe stored rows:
     * - a crash after the rows write leaves a document the batch does not count yet; the next
     *   commit from that row finds it (duplicate key) and counts it: it holds the results of an
     *   earlier attempt at the same rows, whose orders exist. If its rows differ from this call's
     *   (another chunk size), this call answers false and the importer resumes after rowsCommitted;
     * - concurrent commits of the same rows all meet one document, and only one update matches.
     * readRows follows the chain of counted documents (1, 1 + count, …) up to rowsCommitted, so
     * uncounted documents are never read.
     */
    async commitRows(batchId: string, results: readonly RowResult[], at: string) {
      const commit = rowCommit(results);
      const atMs = timeMs(at, 'at');
      const current = await batches.findById(batchId).select({ rowsCommitted: 1 }).lean<Lean>().exec();
      if (current === null) throw new RangeError(`no batch has the id ${batchId}`);
      if (current.rowsCommitted !== commit.firstRow - 1) return false;
      const rows = JSON.stringify(commit.rows);
      const mine = {
        batchId,
        firstRow: commit.firstRow,
        count: commit.rows.length,
        accepted: commit.accepted,
        rejected: commit.rejected,
        digest: createHash('sha256').update(rows).digest('hex'),
      };
      let stored: Lean = mine;
      try {
        await batchRows.insertOne({ ...mine, rows });
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        const found = await batchRows
          .findOne({ batchId, firstRow: commit.firstRow })
          .select({ rows: 0 })
          .lean<Lean>()
          .exec();
        if (found === null) throw error;
        stored = found;
      }
      const { count, accepted, rejected } = storedCounts(stored);
      const update = await batches
        .updateOne(
          { _id: batchId, rowsCommitted: commit.firstRow - 1 },
          {
            $inc: { rowsCommitted: count, accepted, rejected },
            $set: { updatedAt: at, updatedAtMs: atMs },
          },
        )
        .exec();
      return update.modifiedCount === 1 && stored.digest === mine.digest;
    },

    async *readRows(batchId: string) {
      const batch = await batches.findById(batchId).select({ rowsCommitted: 1 }).lean<Lean>().exec();
      const committed = typeof batch?.rowsCommitted === 'number' ? batch.rowsCommitted : 0;
      let next = 1;
      while (next <= committed) {
        const docs = await batchRows
          .find({ batchId, firstRow: { $gte: next } })
          .sort({ firstRow: 1 })
          .limit(ROW_DOCS_PER_READ)
          .lean<Lean[]>()
          .exec();
        const before = next;
        for (const doc of docs) {
          if (next > committed) return;
          // Inside rows already read: an uncounted attempt's document.
          if (typeof doc.firstRow !== 'number' || doc.firstRow < next) continue;
          if (doc.firstRow > next) break;
          const chunk = decodeRowChunk(parseRows(doc.rows));
          next += storedCounts(doc).count;
          yield chunk;
        }
        if (next === before) {
          throw new LedgerCorruptionError(
            `batch ${batchId} counts rows from ${next} whose results are not stored`,
            {
              context: { batchId, row: next },
            },
          );
        }
      }
    },

    async readRowChunk(batchId: string, firstRow: number) {
      validateRowNumber(firstRow, 'firstRow');
      const batch = await batches.findById(batchId).select({ rowsCommitted: 1 }).lean<Lean>().exec();
      const committed = typeof batch?.rowsCommitted === 'number' ? batch.rowsCommitted : 0;
      if (firstRow > committed) return null;
      // Within rowsCommitted, the document at a commit's first row is the one the batch counted
      // (commitRows counts whatever document holds that first row).
      const doc = await batchRows.findOne({ batchId, firstRow }).lean<Lean>().exec();
      if (doc === null) {
        throw new LedgerCorruptionError(
          `batch ${batchId} counts rows from ${firstRow} whose results are not stored`,
          { context: { batchId, row: firstRow } },
        );
      }
      return decodeRowChunk(parseRows(doc.rows));
    },

    /** One conditional update: the checkpoint where the caller saw it, the rows committed. */
    async releaseRows(batchId: string, firstRow: number, count: number) {
      validateRowNumber(firstRow, 'firstRow');
      validateRowNumber(count, 'count');
      // Batches stored before rowsReleased existed have none: released nothing.
      const from =
        firstRow === 1
          ? { $or: [{ rowsReleased: 0 }, { rowsReleased: { $exists: false } }] }
          : { rowsReleased: firstRow - 1 };
      const update = await batches
        .updateOne(
          { _id: batchId, ...from, rowsCommitted: { $gte: firstRow - 1 + count } },
          { $set: { rowsReleased: firstRow - 1 + count } },
        )
        .exec();
      if (update.modifiedCount === 1) return true;
      if ((await batches.exists({ _id: batchId }).exec()) === null) {
        throw new RangeError(`no batch has the id ${batchId}`);
      }
      return false;
    },

    async queuedProviders(keys: readonly OrderKey[]) {
      const providers = new Map<string, string>();
      for (let start = 0; start < keys.length; start += ORDER_CHUNK) {
        const chunk = keys.slice(start, start + ORDER_CHUNK);
        const docs = await orderModel
          .find({
            $or: chunk.map((key) => ({ clientId: key.clientId, orderId: key.orderId })),
            state: 'queued',
          })
          .select({ clientId: 1, orderId: 1, provider: 1 })
          .lean<Lean[]>()
          .exec();
        for (const doc of docs) {
          if (typeof doc.provider === 'string')
            providers.set(`${doc.clientId}\u0000${doc.orderId}`, doc.provider);
        }
      }
      return keys.map((key) => providers.get(`${key.clientId}\u0000${key.orderId}`) ?? null);
    },

    createOrders: orders.createOrders,

    createBatchOrders: (chunk) => createBatchOrdersVia(orders.createOrders, chunk),

    async linkOrders(batchId: string, keys: readonly OrderKey[]) {
      for (let start = 0; start < keys.length; start += ORDER_CHUNK) {
        const chunk = keys.slice(start, start + ORDER_CHUNK);
        // $addToSet: linking twice (or to the batch an order came from) changes nothing.
        await orderModel
          .updateMany(
            { $or: chunk.map((key) => ({ clientId: key.clientId, orderId: key.orderId })) },
            { $addToSet: { batchIds: batchId } },
          )
          .exec();
      }
    },

    /** Counted when asked (an index-only count per state): always current, no counters to keep. */
    async batchStates(batchId: string) {
      const rows: unknown[] = await orderModel
        .aggregate([{ $match: { batchIds: batchId } }, { $group: { _id: '$state', count: { $sum: 1 } } }])
        .exec();
      const counts: Partial<Record<OrderState, number>> = {};
      for (const row of rows) {
        const { _id: state, count } = row as { _id?: unknown; count?: unknown };
        if (!isOrderState(state) || typeof count !== 'number') {
          throw new LedgerCorruptionError('stored orders have an invalid state', { context: { batchId } });
        }
        if (count > 0) counts[state] = count;
      }
      return counts;
    },
  };
  return { store, uploads };
}

function storedCounts(doc: Lean): { count: number; accepted: number; rejected: number } {
  const { count, accepted, rejected } = doc;
  for (const value of [count, accepted, rejected]) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new LedgerCorruptionError('stored row results have invalid counts');
    }
  }
  return { count: count as number, accepted: accepted as number, rejected: rejected as number };
}

function parseRows(value: unknown): unknown {
  try {
    return JSON.parse(String(value));
  } catch (cause) {
    throw new LedgerCorruptionError('stored row results are invalid', { cause });
  }
}
