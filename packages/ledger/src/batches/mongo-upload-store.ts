import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mongoose, { type Model } from 'mongoose';
import { LedgerCorruptionError, UploadLeaseExpiredError, UploadQuotaError } from '../ledger-errors.ts';
import { type Lean, type MongoContext, NOW_MS, openDb } from '../mongo/mongo-support.ts';
import { incompleteUpload } from './batch-record.ts';
import type { Batch, BatchStore, UploadLease } from './batch-store.ts';
import {
  MAX_UPLOAD_CHUNK_BYTES,
  validateSweepUploadsLimit,
  validateUploadChunk,
  validateUploadLease,
} from './batch-validation.ts';

/** Upload chunks, newest write of each index first (readUpload, putUploadChunk's clean-up). */
const UPLOAD_INDEX = { 'metadata.batchId': 1, 'metadata.index': 1, uploadDate: -1, _id: -1 } as const;
/**
 * Upload chunks not yet committed carry `metadata.leaseUntilMs` (server clock); createBatch removes
 * it. Partial indexes hold only those: the sweep finds leases run out, the quota a client's uploads.
 */
const LEASED = { 'metadata.leaseUntilMs': { $exists: true } } as const;
const UPLOAD_LEASE_INDEXES = [
  { name: 'upload_leases', key: { 'metadata.leaseUntilMs': 1 } },
  { name: 'client_upload_leases', key: { 'metadata.clientId': 1, 'metadata.leaseUntilMs': 1 } },
] as const;
/**
 * createBatch first gives the upload's chunks this long (from the server's clock) to be committed,
 * so a sweep running meanwhile, which removes a chunk only if its lease has run out when it does,
 * can never remove one that becomes the batch's.
 */
export const COMMIT_LEASE_MS = 10 * 60_000;

/** The uploads' part of the MongoDB batch store, and the steps createBatch and init() take on them. */
export interface MongoUploads {
  readonly store: Pick<
    BatchStore,
    'putUploadChunk' | 'discardUpload' | 'sweepUploads' | 'pendingUploadBytes' | 'readUpload'
  >;
  /** Every chunk of the upload still under a lease lives `leaseMs` from now (server clock). */
  renewLease(batchId: string, leaseMs: number): Promise<void>;
  /** The upload's chunks lose their lease: they are the batch's from now on. */
  commitUpload(batchId: string): Promise<void>;
  /** Creates the indexes of the uploads bucket (init). */
  createIndexes(): Promise<void>;
}

/**
 * The MongoDB uploads: a GridFS bucket (`<bucketName>.files`, `<bucketName>.chunks`), one file per
 * upload chunk, leased until createBatch commits it.
 */
export function mongoUploads(
  ctx: MongoContext,
  bucketName: string,
  batches: Model<Lean>,
  findBatch: (batchId: string) => Promise<Batch | null>,
): MongoUploads {
  const writeConcern = ctx.writeOptions;
  let uploads: InstanceType<typeof mongoose.mongo.GridFSBucket> | undefined;

  /** The uploads bucket, made once the connection is open (`db` exists only then). */
  function uploadBucket(): InstanceType<typeof mongoose.mongo.GridFSBucket> {
    if (uploads === undefined) {
      const db = openDb(ctx.connection);
      // One GridFS chunk per upload chunk: a chunk is at most 1 MiB, far below 16 MB.
      uploads = new mongoose.mongo.GridFSBucket(db, {
        bucketName,
        chunkSizeBytes: MAX_UPLOAD_CHUNK_BYTES,
        ...writeConcern,
      });
    }
    return uploads;
  }

  /** The GridFS collections of the uploads, used directly for their leases. */
  function uploadCollection(kind: 'files' | 'chunks') {
    const db = openDb(ctx.connection);
    return db.collection(`${bucketName}.${kind}`);
  }

  /** The server's clock in epoch ms (`hello` answers its own time). */
  async function serverNowMs(): Promise<number> {
    const db = openDb(ctx.connection);
    const reply = await db.command({ hello: 1 });
    const localTime = (reply as { localTime?: unknown }).localTime;
    const ms = localTime instanceof Date ? localTime.getTime() : Date.parse(String(localTime));
    if (!Number.isFinite(ms)) throw new LedgerCorruptionError('MongoDB answered hello without its time');
    return ms;
  }

  /** Every chunk of the upload still under a lease lives `leaseMs` from now (server clock). */
  async function renewLease(batchId: string, leaseMs: number): Promise<void> {
    await uploadCollection('files').updateMany(
      { 'metadata.batchId': batchId, ...LEASED },
      [{ $set: { 'metadata.leaseUntilMs': { $add: [NOW_MS, leaseMs] } } }],
      writeConcern,
    );
  }

  /** The upload's chunks lose their lease: they are the batch's from now on. */
  async function commitUpload(batchId: string): Promise<void> {
    await uploadCollection('files').updateMany(
      { 'metadata.batchId': batchId, ...LEASED },
      { $unset: { 'metadata.leaseUntilMs': '' } },
      writeConcern,
    );
  }

  /**
   * Removes one upload file, only while it still matches `condition` (checked in the same
   * single-document delete), then its GridFS chunks (one per file: an upload chunk is ≤ 1 MiB).
   */
  async function removeUploadFile(
    id: InstanceType<typeof mongoose.mongo.ObjectId>,
    condition: Record<string, unknown>,
  ): Promise<boolean> {
    const gone = await uploadCollection('files').findOneAndDelete({ _id: id, ...condition }, writeConcern);
    if (gone === null) return false;
    await uploadCollection('chunks').deleteMany({ files_id: id }, writeConcern);
    return true;
  }

  /** An upload's chunks not committed, for the client, removed; nothing for a stored batch. */
  async function discardUpload(clientId: string, batchId: string): Promise<void> {
    if ((await batches.exists({ _id: batchId }).exec()) !== null) return;
    const doomed = await uploadCollection('files')
      .find(
        { 'metadata.batchId': batchId, 'metadata.clientId': clientId, ...LEASED },
        { projection: { _id: 1 } },
      )
      .toArray();
    for (const file of doomed) await removeUploadFile(file._id, LEASED);
  }

  /** The client's uploads whose lease runs at `nowMs`, plus its batches stored or importing. */
  async function pendingBytes(clientId: string, nowMs: number): Promise<number> {
    const [uploading] = await uploadCollection('files')
      .aggregate<{ bytes?: unknown }>([
        { $match: { 'metadata.clientId': clientId, 'metadata.leaseUntilMs': { $exists: true, $gt: nowMs } } },
        { $group: { _id: null, bytes: { $sum: '$length' } } },
      ])
      .toArray();
    const [stored] = await batches
      .aggregate<{ bytes?: unknown }>([
        { $match: { clientId, state: { $in: ['stored', 'importing'] } } },
        { $group: { _id: null, bytes: { $sum: '$bytes' } } },
      ])
      .exec();
    return Number(uploading?.bytes ?? 0) + Number(stored?.bytes ?? 0);
  }

  return {
    renewLease,
    commitUpload,
    async createIndexes() {
      const db = openDb(ctx.connection);
      await db.collection(`${bucketName}.files`).createIndex(UPLOAD_INDEX, { name: 'batch_upload_chunks' });
      for (const index of UPLOAD_LEASE_INDEXES) {
        await db
          .collection(`${bucketName}.files`)
          .createIndex(index.key, { name: index.name, partialFilterExpression: LEASED });
      }
    },
    store: {
      /**
       * Each chunk is a GridFS file of its own (`<batchId>/<index>`, metadata {batchId, index}): no
       * process has to hold a batch's chunks, so any API instance can take any chunk and a crash
       * loses nothing stored. A GridFS file is listed only once all its bytes are written, so a
       * listed chunk is whole. A rewrite adds a newer file, then removes the older ones of that
       * index (older by uploadDate, then _id): readers take the newest, and two concurrent writers
       * never remove each other's last copy.
       *
       * Until createBatch commits them, the files carry `metadata.clientId` and `leaseUntilMs`
       * (server clock), renewed for all of the upload's files after each write. The quota is checked
       * before the write from the stored sizes: two chunks of one client written at the same moment
       * (two uploads at once) may each pass the check, so the limit can be passed by at most one
       * chunk (1 MiB) per upload running at that moment.
       */
      async putUploadChunk(batchId: string, index: number, data: Buffer, lease: UploadLease) {
        validateUploadChunk(index, data);
        validateUploadLease(lease);
        if ((await batches.exists({ _id: batchId }).exec()) !== null) {
          throw new RangeError(`batch ${batchId} is stored already: its upload cannot change`);
        }
        const nowMs = await serverNowMs();
        const live = await uploadCollection('files')
          .find(
            { 'metadata.batchId': batchId, 'metadata.leaseUntilMs': { $exists: true, $gt: nowMs } },
            { projection: { metadata: 1, length: 1 } },
          )
          .toArray();
        if (live.some((file) => file.metadata?.clientId !== lease.clientId)) {
          throw new RangeError(`the upload of batch ${batchId} belongs to another client`);
        }
        if (index > 0 && live.length === 0) {
          throw new UploadLeaseExpiredError(
            `the upload of batch ${batchId} holds no chunk any more (its lease ran out): start it again`,
            { context: { batchId, index } },
          );
        }
        if (lease.maxPendingBytes !== undefined) {
          const pending = await pendingBytes(lease.clientId, nowMs);
          // A rewrite replaces the copy of this index already counted.
          const replaced = Math.max(
            0,
            ...live.filter((file) => file.metadata?.index === index).map((file) => Number(file.length)),
          );
          if (pending - replaced + data.length > lease.maxPendingBytes) {
            throw new UploadQuotaError(lease.maxPendingBytes, pending);
          }
        }
        const bucket = uploadBucket();
        const stream = bucket.openUploadStream(`${batchId}/${index}`, {
          metadata: { batchId, index, clientId: lease.clientId, leaseUntilMs: nowMs + lease.leaseMs },
        });
        await pipeline(Readable.from([data]), stream);
        await renewLease(batchId, lease.leaseMs);
        const copies = await bucket
          .find(
            { 'metadata.batchId': batchId, 'metadata.index': index },
            { sort: { uploadDate: -1, _id: -1 } },
          )
          .toArray();
        const mine = copies.findIndex((file) => file._id.equals(stream.id));
        for (const older of mine < 0 ? [] : copies.slice(mine + 1)) {
          await bucket.delete(older._id).catch((error: unknown) => {
            // Another writer removed it first.
            if (!(error instanceof mongoose.mongo.MongoRuntimeError)) throw error;
          });
        }
      },

      discardUpload,

      async sweepUploads(limit: number) {
        validateSweepUploadsLimit(limit);
        const nowMs = await serverNowMs();
        const runOut = { 'metadata.leaseUntilMs': { $exists: true, $lte: nowMs } };
        const uploads = await uploadCollection('files')
          .aggregate<{ _id: unknown }>([
            { $match: runOut },
            { $group: { _id: '$metadata.batchId' } },
            { $limit: limit },
          ])
          .toArray();
        let removed = 0;
        for (const { _id: batchId } of uploads) {
          if (typeof batchId !== 'string') continue;
          if ((await batches.exists({ _id: batchId }).exec()) !== null) {
            // Stored: its commit stopped before removing the leases. They go now, the chunks stay.
            await commitUpload(batchId);
            continue;
          }
          const doomed = await uploadCollection('files')
            .find({ 'metadata.batchId': batchId, ...runOut }, { projection: { _id: 1 } })
            .toArray();
          // Each removal checks the lease again: a commit renewing it meanwhile keeps the chunk.
          for (const file of doomed) await removeUploadFile(file._id, runOut);
          removed += 1;
        }
        return removed;
      },

      async pendingUploadBytes(clientId: string) {
        return pendingBytes(clientId, await serverNowMs());
      },

      async *readUpload(batchId: string) {
        const batch = await findBatch(batchId);
        const bucket = uploadBucket();
        const files = bucket.find({ 'metadata.batchId': batchId }, { sort: UPLOAD_INDEX });
        let expected = 0;
        let bytes = 0;
        for await (const file of files) {
          const index = file.metadata?.index;
          // Sorted newest first within an index: an older copy of an index already read is skipped.
          if (index !== expected) {
            if (typeof index === 'number' && index < expected) continue;
            break;
          }
          const parts: Buffer[] = [];
          for await (const part of bucket.openDownloadStream(file._id)) parts.push(part as Buffer);
          const chunk = Buffer.concat(parts);
          bytes += chunk.length;
          expected += 1;
          yield chunk;
        }
        if (batch !== null && bytes !== batch.bytes) throw incompleteUpload(batchId, bytes, batch.bytes);
      },
    },
  };
}
