import { isOrderState, type OrderKey, type OrderState, orderKeyId } from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { CREATE_CHUNK } from '../orders/redis-order-store.ts';
import { runScript } from '../redis/lua.ts';
import { newestFirst } from '../redis/newest-first.ts';
import { enc, type RedisContext } from '../redis/redis-keys.ts';
import { asReply, flatToHash, parseStored, record, unexpected } from '../redis/replies.ts';
import { encodeCursor, validateBatchListQuery } from '../shared/cursors.ts';
import { batchIdOfListKey, batchListKey } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { decodeBatch, decodeRowChunk, rowCommit } from './batch-record.ts';
import { COMMIT_ROWS, CREATE_BATCH, LINK_ORDERS, RELEASE_ROWS, UPDATE_BATCH } from './batch-scripts.ts';
import {
  BATCH_STATES,
  type Batch,
  type BatchPatch,
  type BatchState,
  type BatchStore,
  type NewBatch,
  type RowResult,
} from './batch-store.ts';
import {
  isBatchState,
  MAX_BATCH_LIST_LIMIT,
  validateBatchPatch,
  validateFindBatchesLimit,
  validateNewBatch,
  validateRowNumber,
} from './batch-validation.ts';
import { redisBatchOrders } from './redis-batch-orders.ts';
import { redisUploadStore } from './redis-upload-store.ts';

/** Row-result chunks fetched per round trip by readRows. */
const ROW_CHUNKS_PER_READ = 20;

/**
 * The Redis batches, their uploads (redis-upload-store.ts) and row results (key layout:
 * redis/redis-keys.ts; scripts: batch-scripts.ts, upload-scripts.ts). Orders are created in bulk
 * by the order store (`orders.createOrders`), whose script keeps the batches' state counts.
 */
export function createRedisBatchStore(
  ctx: RedisContext,
  orders: Pick<BatchStore, 'createOrders'>,
): BatchStore {
  const { redis, keys } = ctx;
  const leaseMember = keys.leaseMember;

  async function readBatch(batchId: string): Promise<Batch | null> {
    return decodeBatchHash(await redis.hgetall(keys.batch(batchId)));
  }

  async function readBatches(batchIds: readonly string[]): Promise<(Batch | null)[]> {
    if (batchIds.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const batchId of batchIds) pipeline.hgetall(keys.batch(batchId));
    return ((await pipeline.exec()) ?? []).map(([error, hash]) => {
      if (error) throw error;
      return decodeBatchHash(hash);
    });
  }

  return {
    async createBatch(batch: NewBatch) {
      const createdAtMs = validateNewBatch(batch);
      const fields: Record<string, string | number> = {
        clientId: batch.clientId,
        batchId: batch.batchId,
        contentHash: batch.contentHash,
        bytes: batch.bytes,
        createdAt: batch.createdAt,
        state: 'stored' satisfies BatchState,
        rowsRead: 0,
        accepted: 0,
        rejected: 0,
        rowsCommitted: 0,
        rowsReleased: 0,
        updatedAt: batch.createdAt,
        listKey: batchListKey(batch.batchId, createdAtMs),
      };
      if (batch.filename !== undefined) fields.filename = batch.filename;
      const reply = await runScript(
        redis,
        CREATE_BATCH,
        [
          keys.batchContent(batch.clientId, batch.contentHash),
          keys.batch(batch.batchId),
          keys.clientBatches(batch.clientId),
          keys.batchesInState('stored'),
          keys.uploadLease(batch.batchId),
          keys.pendingUploads(batch.clientId),
          keys.clientUploadLeases(batch.clientId),
          keys.uploadLeases,
        ],
        [
          batch.batchId,
          batchListKey(batch.batchId, createdAtMs),
          createdAtMs,
          keys.uploadChunkPrefix(batch.batchId),
          leaseMember(batch.clientId, batch.batchId),
          enc(batch.batchId),
          batch.bytes,
          ...Object.entries(fields).flat(),
        ],
      );
      const [status, value] = asReply(reply);
      if (status === 'batch_id_taken') throw new RangeError(`batchId ${batch.batchId} is taken`);
      if (status === 'created') {
        return {
          created: true,
          batch: decodeBatchHash(flatToHash(value)) ?? unexpected('create-batch', reply),
        };
      }
      if (status !== 'exists' || typeof value !== 'string') return unexpected('create-batch', reply);
      // The claim is never moved or removed, nor its batch: reading it in a second step is safe.
      const existing = await readBatch(value);
      return { created: false, batch: existing ?? unexpected('create-batch', reply) };
    },

    ...redisUploadStore(ctx, readBatch),

    async getBatch(clientId: string, batchId: string) {
      const batch = await readBatch(batchId);
      return batch !== null && batch.clientId === clientId ? batch : null;
    },

    async listBatches(clientId: string, query: { limit: number; cursor?: string | undefined }) {
      const { limit, after } = validateBatchListQuery(query, MAX_BATCH_LIST_LIMIT);
      const members = await newestFirst(redis, keys.clientBatches(clientId), after, limit + 1);
      const page = members.slice(0, limit);
      const batches = (await readBatches(page.map(batchIdOfListKey))).filter(
        (batch): batch is Batch => batch !== null && batch.clientId === clientId,
      );
      const last = page.at(-1);
      return members.length > limit && last !== undefined
        ? { batches, nextCursor: encodeCursor(last) }
        : { batches };
    },

    async findBatches(state: BatchState, updatedBefore: string, limit: number) {
      validateFindBatchesLimit(limit);
      if (!isBatchState(state)) throw new RangeError(`not a batch state: ${JSON.stringify(state)}`);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const batchIds = await redis.zrangebyscore(
        keys.batchesInState(state),
        '-inf',
        `(${before}`,
        'LIMIT',
        0,
        limit,
      );
      // A batch may change between the index read and the batch read: show it only as it is now.
      return (await readBatches(batchIds)).filter(
        (batch): batch is Batch =>
          batch !== null && batch.state === state && timeMs(batch.updatedAt, 'updatedAt') < before,
      );
    },

    async updateBatch(batchId: string, patch: BatchPatch, at: string) {
      const atMs = validateBatchPatch(patch, at);
      const fields: (string | number)[] = [];
      if (patch.rowsRead !== undefined) fields.push('rowsRead', patch.rowsRead);
      if (patch.error !== undefined) fields.push('error', patch.error);
      if (patch.stoppedAtLine !== undefined) fields.push('stoppedAtLine', patch.stoppedAtLine);
      if (patch.rowsNotRead !== undefined) fields.push('rowsNotRead', patch.rowsNotRead);
      // The batch's client names its pending upload bytes (a batch never changes client).
      const clientId = await redis.hget(keys.batch(batchId), 'clientId');
      if (clientId === null) throw new RangeError(`no batch has the id ${batchId}`);
      const reply = await runScript(
        redis,
        UPDATE_BATCH,
        [keys.batch(batchId), ...BATCH_STATES.map(keys.batchesInState), keys.pendingUploads(clientId)],
        [batchId, at, atMs, patch.state ?? '', ...BATCH_STATES, enc(batchId), ...fields],
      );
      const [status, flat] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no batch has the id ${batchId}`);
      if (status !== 'updated') return unexpected('update-batch', reply);
      return decodeBatchHash(flatToHash(flat)) ?? unexpected('update-batch', reply);
    },

    async commitRows(batchId: string, results: readonly RowResult[], at: string) {
      const commit = rowCommit(results);
      const atMs = timeMs(at, 'at');
      const reply = await runScript(
        redis,
        COMMIT_ROWS,
        [
          keys.batch(batchId),
          keys.rows(batchId, commit.firstRow),
          keys.rowChunks(batchId),
          ...BATCH_STATES.map(keys.batchesInState),
        ],
        [
          batchId,
          commit.firstRow,
          commit.rows.length,
          commit.accepted,
          commit.rejected,
          at,
          atMs,
          JSON.stringify(commit.rows),
          ...BATCH_STATES,
        ],
      );
      const [status] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no batch has the id ${batchId}`);
      if (status !== 'committed' && status !== 'stale') return unexpected('commit-rows', reply);
      return status === 'committed';
    },

    async *readRows(batchId: string) {
      // Committed chunks only ever append to the list, so paging it by position is stable.
      for (let start = 0; ; start += ROW_CHUNKS_PER_READ) {
        const firstRows = await redis.lrange(keys.rowChunks(batchId), start, start + ROW_CHUNKS_PER_READ - 1);
        if (firstRows.length === 0) return;
        const chunks = await redis.mget(...firstRows.map((row) => keys.rows(batchId, Number(row))));
        for (const chunk of chunks) {
          yield decodeRowChunk(parseStored(chunk, 'stored row results are invalid'));
        }
        if (firstRows.length < ROW_CHUNKS_PER_READ) return;
      }
    },

    async readRowChunk(batchId: string, firstRow: number) {
      validateRowNumber(firstRow, 'firstRow');
      // commitRows writes a chunk's key only in the script that counts it: a key is a counted commit.
      const chunk = await redis.get(keys.rows(batchId, firstRow));
      return chunk === null ? null : decodeRowChunk(parseStored(chunk, 'stored row results are invalid'));
    },

    async releaseRows(batchId: string, firstRow: number, count: number) {
      validateRowNumber(firstRow, 'firstRow');
      validateRowNumber(count, 'count');
      const reply = await runScript(redis, RELEASE_ROWS, [keys.batch(batchId)], [firstRow, count]);
      const [status] = asReply(reply);
      if (status === 'not_found') throw new RangeError(`no batch has the id ${batchId}`);
      if (status !== 'released' && status !== 'stale') return unexpected('release-rows', reply);
      return status === 'released';
    },

    async queuedProviders(orderKeys: readonly OrderKey[]) {
      if (orderKeys.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const key of orderKeys) pipeline.hmget(keys.order(orderKeyId(key)), 'state', 'provider');
      return ((await pipeline.exec()) ?? []).map(([error, reply]) => {
        if (error) throw error;
        const [state, provider] = Array.isArray(reply) ? reply : [];
        return state === 'queued' && typeof provider === 'string' ? provider : null;
      });
    },

    createOrders: orders.createOrders,

    createBatchOrders: redisBatchOrders(ctx),

    async linkOrders(batchId: string, orderKeys: readonly OrderKey[]) {
      for (let start = 0; start < orderKeys.length; start += CREATE_CHUNK) {
        const chunk = orderKeys.slice(start, start + CREATE_CHUNK);
        await runScript(
          redis,
          LINK_ORDERS,
          [keys.batchStates(batchId), ...chunk.map((key) => keys.order(orderKeyId(key)))],
          [enc(batchId)],
        );
      }
    },

    async batchStates(batchId: string) {
      const counts: Partial<Record<OrderState, number>> = {};
      for (const [state, value] of Object.entries(await redis.hgetall(keys.batchStates(batchId)))) {
        const count = Number(value);
        if (!isOrderState(state) || !Number.isSafeInteger(count) || count < 0) {
          throw new LedgerCorruptionError('stored batch state counts are invalid', { context: { batchId } });
        }
        if (count > 0) counts[state] = count;
      }
      return counts;
    },
  };
}

/** A batch hash (HGETALL as an object) → Batch; an empty hash is a missing batch. */
function decodeBatchHash(hash: unknown): Batch | null {
  const fields = record(hash);
  if (Object.keys(fields).length === 0) return null;
  const counts: Record<string, number> = {};
  for (const field of ['bytes', 'rowsRead', 'accepted', 'rejected', 'rowsCommitted']) {
    counts[field] = Number(fields[field]);
  }
  for (const field of ['stoppedAtLine', 'rowsNotRead', 'rowsReleased']) {
    if (fields[field] !== undefined) counts[field] = Number(fields[field]);
  }
  return decodeBatch({ ...fields, ...counts });
}
