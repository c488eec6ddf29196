import { UploadLeaseExpiredError, UploadQuotaError } from '../ledger-errors.ts';
import { runScript } from '../redis/lua.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { enc } from '../redis/redis-keys.ts';
import { asReply, unexpected } from '../redis/replies.ts';
import { incompleteUpload } from './batch-record.ts';
import type { Batch, BatchStore, UploadLease } from './batch-store.ts';
import { validateSweepUploadsLimit, validateUploadChunk, validateUploadLease } from './batch-validation.ts';
import { DISCARD_UPLOAD, PENDING_UPLOAD_BYTES, PUT_UPLOAD_CHUNK, SWEEP_UPLOADS } from './upload-scripts.ts';

/**
 * The Redis uploads: chunks under the batch id's keys, held by a lease until createBatch commits
 * them (see UploadLease and the upload scripts).
 */
export function redisUploadStore(
  ctx: RedisContext,
  readBatch: (batchId: string) => Promise<Batch | null>,
): Pick<
  BatchStore,
  'putUploadChunk' | 'discardUpload' | 'sweepUploads' | 'pendingUploadBytes' | 'readUpload'
> {
  const { redis, keys, prefix: p } = ctx;
  const leaseMember = keys.leaseMember;
  return {
    async putUploadChunk(batchId: string, index: number, data: Buffer, lease: UploadLease) {
      validateUploadChunk(index, data);
      validateUploadLease(lease);
      const reply = await runScript(
        redis,
        PUT_UPLOAD_CHUNK,
        [
          keys.batch(batchId),
          keys.uploadLease(batchId),
          keys.upload(batchId, index),
          keys.pendingUploads(lease.clientId),
          keys.clientUploadLeases(lease.clientId),
          keys.uploadLeases,
        ],
        [
          enc(batchId),
          index,
          data,
          lease.clientId,
          lease.leaseMs,
          lease.maxPendingBytes ?? '',
          keys.uploadChunkPrefix(batchId),
          leaseMember(lease.clientId, batchId),
        ],
      );
      const [status, value] = asReply(reply);
      switch (status) {
        case 'stored':
          return;
        case 'committed':
          throw new RangeError(`batch ${batchId} is stored already: its upload cannot change`);
        case 'other_client':
          throw new RangeError(`the upload of batch ${batchId} belongs to another client`);
        case 'expired':
          throw new UploadLeaseExpiredError(
            `the upload of batch ${batchId} holds no chunk any more (its lease ran out): start it again`,
            { context: { batchId, index } },
          );
        case 'over_limit':
          throw new UploadQuotaError(lease.maxPendingBytes ?? 0, Number(value));
        default:
          unexpected('put-upload-chunk', reply);
      }
    },

    async discardUpload(clientId: string, batchId: string) {
      const reply = await runScript(
        redis,
        DISCARD_UPLOAD,
        [
          keys.batch(batchId),
          keys.uploadLease(batchId),
          keys.pendingUploads(clientId),
          keys.clientUploadLeases(clientId),
          keys.uploadLeases,
        ],
        [keys.uploadChunkPrefix(batchId), enc(batchId), leaseMember(clientId, batchId), clientId],
      );
      const [status] = asReply(reply);
      if (status !== 'dropped' && status !== 'committed' && status !== 'other_client') {
        unexpected('discard-upload', reply);
      }
    },

    async sweepUploads(limit: number) {
      validateSweepUploadsLimit(limit);
      const reply = await runScript(redis, SWEEP_UPLOADS, [keys.uploadLeases], [`${p}:`, limit]);
      if (typeof reply !== 'number') return unexpected('sweep-uploads', reply);
      return reply;
    },

    async pendingUploadBytes(clientId: string) {
      const reply = await runScript(
        redis,
        PENDING_UPLOAD_BYTES,
        [keys.pendingUploads(clientId), keys.clientUploadLeases(clientId)],
        [],
      );
      const bytes = Number(reply);
      if (typeof reply !== 'string' || !Number.isSafeInteger(bytes)) {
        return unexpected('pending-upload-bytes', reply);
      }
      return bytes;
    },

    async *readUpload(batchId: string) {
      const batch = await readBatch(batchId);
      let bytes = 0;
      for (let index = 0; ; index += 1) {
        const chunk = await redis.getBuffer(keys.upload(batchId, index));
        if (chunk === null) break;
        bytes += chunk.length;
        yield chunk;
      }
      if (batch !== null && bytes !== batch.bytes) throw incompleteUpload(batchId, bytes, batch.bytes);
    },
  };
}
