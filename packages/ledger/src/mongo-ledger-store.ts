import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type HistoryEntry,
  isOrderState,
  type Order,
  type OrderKey,
  type OrderState,
  orderKeyId,
} from '@rechargeflow/domain';
import mongoose, { type Connection, type Model, type PipelineStage, Schema } from 'mongoose';
import type { Batch, BatchPatch, BatchState, NewBatch, RowResult, UploadLease } from './batch-store.ts';
import {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
  UploadLeaseExpiredError,
  UploadQuotaError,
} from './ledger-errors.ts';
import type {
  BalanceSample,
  CallbackInput,
  CallbackOutcome,
  CallbackRecord,
  ClaimChecksOptions,
  CreateResult,
  LedgerStore,
  ListOrdersQuery,
  NewOrder,
  OrderPage,
  ProviderSummary,
  StateCount,
  TransitionCommand,
  TransitionResult,
} from './ledger-store.ts';
import {
  assertCommand,
  batchListKey,
  callbackId,
  createdWindow,
  creationEntry,
  decodeStaleCursor,
  encodeCursor,
  encodeStaleCursor,
  historyEntry,
  isBatchState,
  listKey,
  MAX_UPLOAD_CHUNK_BYTES,
  reversalRecord,
  rowCommit,
  SummaryBuilder,
  scheduleChange,
  timeMs,
  validateBalanceSample,
  validateBatchListQuery,
  validateBatchPatch,
  validateCallbackInput,
  validateCallbackLimit,
  validateClaimOptions,
  validateFindBatchesLimit,
  validateListQuery,
  validateNewBatch,
  validateOutcome,
  validateStaleLimit,
  validateSweepUploadsLimit,
  validateUploadChunk,
  validateUploadLease,
} from './ledger-support.ts';
import { createdOrder, decodeOrder, newOrderRecord } from './order-record.ts';
import {
  callbackFields,
  decodeBalanceSample,
  decodeBatch,
  decodeCallback,
  decodeRowChunk,
} from './records.ts';

export interface MongoLedgerStoreOptions {
  /** The caller owns the connection: the store never closes it. */
  readonly connection: Connection;
  /** Default `orders`. */
  readonly collectionName?: string | undefined;
  /** Provider callbacks; default `callbacks`. */
  readonly callbacksCollectionName?: string | undefined;
  /** Provider balance samples; default `balance_samples`. */
  readonly balanceCollectionName?: string | undefined;
  /** Batches; default `batches`. */
  readonly batchesCollectionName?: string | undefined;
  /** Row results of batches, one document per commit; default `batch_rows`. */
  readonly batchRowsCollectionName?: string | undefined;
  /** GridFS bucket of the uploads (`<name>.files`, `<name>.chunks`); default `uploads`. */
  readonly uploadsBucketName?: string | undefined;
  /** Write concern of every write; default: the connection's. `majority` on a replica set. */
  readonly writeConcern?: 'majority' | number | undefined;
}

/**
 * One document per order, history embedded (an order has a handful of entries, far below 16 MB).
 * Besides the domain fields it stores `listKey` (creation time + key id: the list order and cursor,
 * and, by its time prefix, the creation-time range of summaries) and `updatedAtMs` (for findStale);
 * both are dropped when mapping back to an `Order`. Times from the server's clock (`$$NOW`) are
 * kept as epoch milliseconds, `pendingSinceMs` and `nextCheckAtMs`, and handed out as ISO.
 *
 * Every write is a single-document operation, which MongoDB applies atomically: the insert is
 * guarded by the unique indexes, and a transition or a status-check claim is one findOneAndUpdate
 * whose filter carries the condition. No multi-document transaction is needed (nor used: they need
 * a replica set).
 *
 * Updates that need the server's clock or a stored value are update pipelines: every value from a
 * caller goes in `$literal`, so a provider's text starting with `$` stays text.
 */
const historySchema = new Schema(
  {
    at: { type: String, required: true },
    from: { type: String, default: null },
    to: { type: String, required: true },
    source: { type: String, required: true },
    note: { type: String },
    providerStatus: { type: String },
    actor: { type: String },
  },
  { _id: false, id: false, strict: 'throw' },
);

const telgoo5Schema = new Schema(
  {
    enrollmentId: { type: String, required: true },
    planCode: { type: String },
    planId: { type: String },
    topupType: { type: String, required: true },
    paymentToken: { type: String },
    customerToken: { type: String },
    billingState: { type: String, required: true },
    billingCity: { type: String, required: true },
    billingZip: { type: String },
    billingAddress1: { type: String },
    billingAddress2: { type: String },
  },
  { _id: false, id: false, strict: 'throw' },
);

const requestSchema = new Schema(
  {
    operator: { type: String, required: true },
    circle: { type: String },
    number: { type: String, required: true },
    amount: { type: Number, required: true },
    value1: { type: String },
    value2: { type: String },
    telgoo5: { type: telgoo5Schema },
  },
  { _id: false, id: false, strict: 'throw' },
);

const reversalSchema = new Schema(
  {
    amount: { type: Number, required: true },
    at: { type: String, required: true },
    providerRef: { type: String },
    callbackId: { type: String },
  },
  { _id: false, id: false, strict: 'throw' },
);

/**
 * Indexes the store needs; the unique ones are verified at init().
 *
 * providerOrderId claims: an order's document holds every providerOrderId it ever had in
 * `providerOrderIds` (the current one included) under a unique multikey index, so a claim and the
 * order's own change are one single-document write: creation inserts `[id]`, a failover appends
 * the new id in the same findOneAndUpdate that moves the order. A clash with another order fails
 * that write whole (duplicate key), so nothing changes; there are no steps for a crash to fall
 * between, and the id an order had before a failover stays claimed by it and leads to it.
 * Orders written before failover existed have no `providerOrderIds` (the index is sparse, so they
 * do not clash as null); their one id is `providerOrderId`, which keeps its own unique index, and
 * every write sets both fields, so the two indexes together refuse any id held or held before.
 */
const INDEXES = [
  { name: 'client_order_unique', key: { clientId: 1, orderId: 1 }, unique: true },
  { name: 'provider_order_id_unique', key: { providerOrderId: 1 }, unique: true },
  {
    name: 'provider_order_ids_unique',
    key: { providerOrderIds: 1 },
    unique: true,
    sparse: true,
  },
  { name: 'client_list', key: { clientId: 1, listKey: -1 }, unique: false },
  { name: 'client_state_list', key: { clientId: 1, state: 1, listKey: -1 }, unique: false },
  { name: 'state_updated', key: { state: 1, updatedAtMs: 1, listKey: 1 }, unique: false },
  // claimDueChecks: pending orders by next check.
  { name: 'state_next_check', key: { state: 1, nextCheckAtMs: 1 }, unique: false },
  // summarize: the list key starts with the creation time.
  { name: 'created', key: { listKey: 1 }, unique: false },
  // batchStates: a batch's member orders by state (multikey on batchIds).
  { name: 'batch_states', key: { batchIds: 1, state: 1 }, unique: false },
] as const;

/** The server's clock as epoch milliseconds (one value for a whole operation). */
const NOW_MS = { $toDouble: '$$NOW' } as const;

/** Settings every model of the store shares. */
function modelOptions(writeConcern: MongoLedgerStoreOptions['writeConcern']) {
  return {
    // init() creates and checks the indexes; nothing happens behind the caller's back.
    autoIndex: false,
    autoCreate: false,
    versionKey: false,
    id: false,
    strict: 'throw',
    // The ledger is the system of record: always read what was last written.
    read: 'primary',
    ...(writeConcern === undefined ? {} : { writeConcern: { w: writeConcern } }),
  } as const;
}

function callbackSchema(writeConcern: MongoLedgerStoreOptions['writeConcern']): Schema {
  const schema = new Schema(
    {
      // The deterministic callback id: a second copy finds the first by it.
      _id: { type: String, required: true },
      provider: { type: String, required: true },
      providerOrderId: { type: String, required: true },
      status: { type: String, required: true },
      providerRef: { type: String },
      receivedAt: { type: String, required: true },
      raw: { type: String, required: true },
      outcome: { type: String, required: true },
      copies: { type: Number, required: true },
      note: { type: String },
      updatedAt: { type: String, required: true },
      updatedAtMs: { type: Number, required: true },
    },
    modelOptions(writeConcern),
  );
  schema.index({ outcome: 1, updatedAtMs: 1, _id: 1 }, { name: 'outcome_updated' });
  return schema;
}

function balanceSchema(writeConcern: MongoLedgerStoreOptions['writeConcern']): Schema {
  const schema = new Schema(
    {
      provider: { type: String, required: true },
      balance: { type: Number, required: true },
      at: { type: String, required: true },
      atMs: { type: Number, required: true },
    },
    modelOptions(writeConcern),
  );
  // Latest at or before a time; `_id` (insertion order) breaks ties within one millisecond.
  schema.index({ provider: 1, atMs: -1, _id: -1 }, { name: 'provider_at' });
  return schema;
}

function orderSchema(writeConcern: MongoLedgerStoreOptions['writeConcern']): Schema {
  const schema = new Schema(
    {
      clientId: { type: String, required: true },
      orderId: { type: String, required: true },
      providerOrderId: { type: String, required: true },
      // Every providerOrderId the order has had (see INDEXES); absent on orders written before.
      // `default: undefined`: mongoose would otherwise make an empty array.
      providerOrderIds: { type: [String], default: undefined },
      provider: { type: String, required: true },
      // Absent on orders written before routes existed (read as `[provider]`).
      route: { type: [String], default: undefined },
      request: { type: requestSchema, required: true },
      fingerprint: { type: String, required: true },
      state: { type: String, required: true },
      inFlight: { type: Boolean, required: true },
      attempts: { type: Number, required: true },
      // Absent on orders written before it existed (read as 0).
      statusChecks: { type: Number },
      pendingSinceMs: { type: Number },
      nextCheckAtMs: { type: Number },
      reversal: { type: reversalSchema },
      providerTxId: { type: String },
      providerRef: { type: String },
      providerStatus: { type: String },
      batchId: { type: String },
      // Every batch the order is a member of (see BatchStore); absent when none.
      batchIds: { type: [String], default: undefined },
      createdAt: { type: String, required: true },
      updatedAt: { type: String, required: true },
      version: { type: Number, required: true },
      history: { type: [historySchema], required: true },
      listKey: { type: String, required: true },
      updatedAtMs: { type: Number, required: true },
    },
    // `versionKey: false`: `version` is ours; mongoose's __v would be a second, different counter.
    modelOptions(writeConcern),
  );
  // `unique` only where wanted: an explicit `unique: false` could clash with an index built without it.
  for (const index of INDEXES) {
    const sparse = 'sparse' in index && index.sparse;
    schema.index(
      index.key,
      index.unique
        ? { name: index.name, unique: true, ...(sparse ? { sparse: true } : {}) }
        : { name: index.name },
    );
  }
  return schema;
}

/**
 * Batches: `_id` is the batchId. The per-client content-hash index is the dedupe: a second upload
 * of the same file fails its insert and finds the first batch. Besides the Batch fields it keeps
 * `listKey` (created ms + batchId: list order and cursor) and `updatedAtMs` (findBatches).
 */
const BATCH_INDEXES = [
  { name: 'client_content_unique', key: { clientId: 1, contentHash: 1 }, unique: true },
  { name: 'client_batch_unique', key: { clientId: 1, batchId: 1 }, unique: true },
  { name: 'client_list', key: { clientId: 1, listKey: -1 }, unique: false },
  { name: 'state_updated', key: { state: 1, updatedAtMs: 1, _id: 1 }, unique: false },
  // pendingUploadBytes: a client's batches not yet imported.
  { name: 'client_state', key: { clientId: 1, state: 1 }, unique: false },
] as const;

function batchSchema(writeConcern: MongoLedgerStoreOptions['writeConcern']): Schema {
  const schema = new Schema(
    {
      _id: { type: String, required: true },
      clientId: { type: String, required: true },
      batchId: { type: String, required: true },
      contentHash: { type: String, required: true },
      bytes: { type: Number, required: true },
      filename: { type: String },
      createdAt: { type: String, required: true },
      state: { type: String, required: true },
      rowsRead: { type: Number, required: true },
      accepted: { type: Number, required: true },
      rejected: { type: Number, required: true },
      rowsCommitted: { type: Number, required: true },
      error: { type: String },
      updatedAt: { type: String, required: true },
      updatedAtMs: { type: Number, required: true },
      listKey: { type: String, required: true },
    },
    modelOptions(writeConcern),
  );
  for (const index of BATCH_INDEXES) {
    schema.index(index.key, index.unique ? { name: index.name, unique: true } : { name: index.name });
  }
  return schema;
}

/**
 * Row results, one immutable document per commit attempt that got as far as writing, unique per
 * (batchId, firstRow): the rows as JSON text (column names are data, never field names), their
 * count, accepted and rejected counts, and a digest of the JSON. See commitRows.
 */
const ROW_INDEXES = [
  { name: 'batch_first_row_unique', key: { batchId: 1, firstRow: 1 }, unique: true },
] as const;

function rowsSchema(writeConcern: MongoLedgerStoreOptions['writeConcern']): Schema {
  const schema = new Schema(
    {
      batchId: { type: String, required: true },
      firstRow: { type: Number, required: true },
      count: { type: Number, required: true },
      accepted: { type: Number, required: true },
      rejected: { type: Number, required: true },
      digest: { type: String, required: true },
      rows: { type: String, required: true },
    },
    modelOptions(writeConcern),
  );
  for (const index of ROW_INDEXES) schema.index(index.key, { name: index.name, unique: true });
  return schema;
}

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
const COMMIT_LEASE_MS = 10 * 60_000;

type Lean = Record<string, unknown>;

export function createMongoLedgerStore(options: MongoLedgerStoreOptions): LedgerStore {
  const collectionName = options.collectionName ?? 'orders';
  // One model per store; overwriting lets tests and restarts build a store twice on one connection.
  const model: Model<Lean> = options.connection.model<Lean>(
    `RechargeflowLedgerOrder_${collectionName}`,
    orderSchema(options.writeConcern),
    collectionName,
    { overwriteModels: true },
  );

  const callbacksName = options.callbacksCollectionName ?? 'callbacks';
  const callbacks: Model<Lean> = options.connection.model<Lean>(
    `RechargeflowLedgerCallback_${callbacksName}`,
    callbackSchema(options.writeConcern),
    callbacksName,
    { overwriteModels: true },
  );
  const balanceName = options.balanceCollectionName ?? 'balance_samples';
  const balances: Model<Lean> = options.connection.model<Lean>(
    `RechargeflowLedgerBalance_${balanceName}`,
    balanceSchema(options.writeConcern),
    balanceName,
    { overwriteModels: true },
  );

  const batchesName = options.batchesCollectionName ?? 'batches';
  const batches: Model<Lean> = options.connection.model<Lean>(
    `RechargeflowLedgerBatch_${batchesName}`,
    batchSchema(options.writeConcern),
    batchesName,
    { overwriteModels: true },
  );
  const rowsName = options.batchRowsCollectionName ?? 'batch_rows';
  const batchRows: Model<Lean> = options.connection.model<Lean>(
    `RechargeflowLedgerBatchRows_${rowsName}`,
    rowsSchema(options.writeConcern),
    rowsName,
    { overwriteModels: true },
  );
  const bucketName = options.uploadsBucketName ?? 'uploads';
  const writeConcern =
    options.writeConcern === undefined ? {} : { writeConcern: { w: options.writeConcern } };
  let uploads: InstanceType<typeof mongoose.mongo.GridFSBucket> | undefined;

  /** The uploads bucket, made once the connection is open (`db` exists only then). */
  function uploadBucket(): InstanceType<typeof mongoose.mongo.GridFSBucket> {
    if (uploads === undefined) {
      const { db } = options.connection;
      if (db === undefined) throw new Error('MongoDB connection is not open');
      // One GridFS chunk per upload chunk: a chunk is at most 1 MiB, far below 16 MB.
      uploads = new mongoose.mongo.GridFSBucket(db, {
        bucketName,
        chunkSizeBytes: MAX_UPLOAD_CHUNK_BYTES,
        ...writeConcern,
      });
    }
    return uploads;
  }

  async function findBatch(batchId: string): Promise<Batch | null> {
    const doc = await batches.findById(batchId).lean<Lean>().exec();
    return doc === null ? null : decodeBatch(doc);
  }

  /** The GridFS collections of the uploads, used directly for their leases. */
  function uploadCollection(kind: 'files' | 'chunks') {
    const { db } = options.connection;
    if (db === undefined) throw new Error('MongoDB connection is not open');
    return db.collection(`${bucketName}.${kind}`);
  }

  /** The server's clock in epoch ms (`hello` answers its own time). */
  async function serverNowMs(): Promise<number> {
    const { db } = options.connection;
    if (db === undefined) throw new Error('MongoDB connection is not open');
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

  /**
   * Inserts up to ORDER_CHUNK new orders in one unordered insertMany (a key repeated in the call is
   * sent once). Duplicate keys come back per order: the orders that exist are read in one query;
   * an order whose key does not exist clashed on its providerOrderId.
   */
  async function insertOrders(
    prepared: readonly { order: NewOrder; record: ReturnType<typeof newOrderRecord>; entry: HistoryEntry }[],
  ): Promise<CreateResult[]> {
    const firstOfKey = new Map<string, number>();
    const sent: number[] = [];
    prepared.forEach(({ order }, i) => {
      const id = orderKeyId(order);
      if (!firstOfKey.has(id)) {
        firstOfKey.set(id, i);
        sent.push(i);
      }
    });
    const docs = sent.map((i) => {
      const { order, record, entry } = prepared[i]!;
      return orderDocument(order, record, entry);
    });
    const failed = new Set<number>();
    try {
      await model.insertMany(docs, { ordered: false, lean: true, ...writeConcern });
    } catch (error) {
      const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
      if (!Array.isArray(writeErrors) || writeErrors.length === 0) throw error;
      for (const writeError of writeErrors) {
        const { index, code } = writeErrorOf(writeError);
        if (code !== 11000 || index === undefined) throw error;
        failed.add(sent[index] ?? -1);
      }
    }
    const existing = new Map<string, Order>();
    if (failed.size > 0) {
      const keys = [...failed].map((i) => {
        const order = prepared[i]?.order;
        return { clientId: order?.clientId, orderId: order?.orderId };
      });
      for (const doc of await model.find({ $or: keys }).lean<Lean[]>().exec()) {
        const order = toOrder(doc);
        existing.set(orderKeyId(order), order);
      }
    }
    const results: CreateResult[] = [];
    prepared.forEach(({ order, record, entry }, i) => {
      const id = orderKeyId(order);
      const first = firstOfKey.get(id) ?? i;
      if (first !== i) {
        const earlier = results[first];
        if (earlier === undefined) throw new Error('unreachable: an earlier result is missing');
        results.push({ created: false, order: earlier.order });
        return;
      }
      if (!failed.has(i)) {
        results.push({ created: true, order: createdOrder(order, record, entry) });
        return;
      }
      const found = existing.get(id);
      // Whichever unique index refused it: if the key exists, that is the order to return;
      // otherwise the providerOrderId belongs to another order and must not be overwritten.
      if (found === undefined) throw new ProviderOrderIdConflictError(order.providerOrderId);
      results.push({ created: false, order: found });
    });
    return results;
  }

  async function findByKey(key: OrderKey): Promise<Order | null> {
    const doc = await model.findOne({ clientId: key.clientId, orderId: key.orderId }).lean<Lean>().exec();
    return doc === null ? null : toOrder(doc);
  }

  return {
    async init() {
      for (const [each, name] of [
        [model, collectionName],
        [callbacks, callbacksName],
        [balances, balanceName],
        [batches, batchesName],
        [batchRows, rowsName],
      ] as const) {
        try {
          await each.createIndexes();
        } catch (cause) {
          throw new LedgerConfigurationError(
            `could not create the ledger indexes on MongoDB collection ${name} ` +
              '(an index with the same name or keys but other options may exist; drop it and start again)',
            { cause, context: { collection: name } },
          );
        }
      }
      for (const [each, name, wanted] of [
        [model, collectionName, INDEXES],
        [batches, batchesName, BATCH_INDEXES],
        [batchRows, rowsName, ROW_INDEXES],
      ] as const) {
        const existing: unknown[] = await each.listIndexes();
        for (const index of wanted.filter((one) => one.unique)) {
          if (!existing.some((found) => isSameUniqueIndex(found, index.key))) {
            throw new LedgerConfigurationError(
              `MongoDB collection ${name} lacks the unique index ${JSON.stringify(index.key)}; ` +
                'without it a record could be stored twice',
              { context: { collection: name, index: index.name } },
            );
          }
        }
      }
      const { db } = options.connection;
      if (db === undefined) throw new Error('MongoDB connection is not open');
      await db.collection(`${bucketName}.files`).createIndex(UPLOAD_INDEX, { name: 'batch_upload_chunks' });
      for (const index of UPLOAD_LEASE_INDEXES) {
        await db
          .collection(`${bucketName}.files`)
          .createIndex(index.key, { name: index.name, partialFilterExpression: LEASED });
      }
      // Pending orders written before status checks were scheduled by the ledger: due at once.
      // Idempotent, and a no-op (an index lookup) once done.
      await model
        .updateMany(
          { state: 'pending', nextCheckAtMs: { $exists: false } },
          [{ $set: { nextCheckAtMs: NOW_MS } }],
          {
            updatePipeline: true,
          },
        )
        .exec();
    },

    async createOrder(order: NewOrder): Promise<CreateResult> {
      const record = newOrderRecord(order);
      const entry = creationEntry(order.now);
      try {
        await model.insertOne(orderDocument(order, record, entry));
        return { created: true, order: createdOrder(order, record, entry) };
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        // Whichever unique index refused it: if this key exists, that is the order to return;
        // otherwise the providerOrderId belongs to another order and must not be overwritten.
        const existing = await findByKey(order);
        if (existing !== null) return { created: false, order: existing };
        throw new ProviderOrderIdConflictError(order.providerOrderId);
      }
    },

    getOrder: findByKey,

    async getOrderByProviderOrderId(providerOrderId: string) {
      // The current id of any order (older orders have no providerOrderIds), or an earlier one.
      const doc = await model
        .findOne({ $or: [{ providerOrderId }, { providerOrderIds: providerOrderId }] })
        .lean<Lean>()
        .exec();
      return doc === null ? null : toOrder(doc);
    },

    async transition(key: OrderKey, command: TransitionCommand): Promise<TransitionResult> {
      assertCommand(command);
      const { patch, expect } = command;
      const filter: Record<string, unknown> = {
        clientId: key.clientId,
        orderId: key.orderId,
        state: expect.state,
      };
      if (expect.inFlight !== undefined) filter.inFlight = expect.inFlight;
      // The attempt pin: part of the filter, so a write about an attempt the order has left matches nothing.
      if (expect.providerOrderId !== undefined) filter.providerOrderId = expect.providerOrderId;
      if (expect.version !== undefined) filter.version = expect.version;
      const target = patch?.switchProvider;
      const book = patch?.bookAttempt;
      if (book !== undefined) {
        // The attempt must be one this order holds (now or before a failover), the provider in its route.
        filter.$and = [
          { $or: [{ route: book.provider }, { route: { $exists: false }, provider: book.provider }] },
          { $or: [{ providerOrderIds: book.providerOrderId }, { providerOrderId: book.providerOrderId }] },
        ];
      }
      if (target !== undefined) {
        // In the filter, so the check is part of the atomic write: the stored route holds the
        // provider (an order without a route, from before routes, has `[provider]`), and the
        // order does not hold the new id yet (else this switch has been applied: a conflict).
        filter.$and = [
          { $or: [{ route: target.provider }, { route: { $exists: false }, provider: target.provider }] },
          { providerOrderId: { $ne: target.providerOrderId } },
          { providerOrderIds: { $ne: target.providerOrderId } },
        ];
      }
      // `from` is exact: the filter only matches when the stored state equals it.
      const entry = historyEntry(expect.state, command.to, command.entry);
      const set: Record<string, unknown> = {
        state: { $literal: command.to },
        updatedAt: { $literal: command.entry.at },
        updatedAtMs: { $literal: timeMs(command.entry.at, 'entry.at') },
        version: { $add: ['$version', 1] },
        history: { $concatArrays: ['$history', { $literal: [entry] }] },
      };
      if (patch?.inFlight !== undefined) set.inFlight = { $literal: patch.inFlight };
      if (patch?.providerTxId !== undefined) set.providerTxId = { $literal: patch.providerTxId };
      if (patch?.providerRef !== undefined) set.providerRef = { $literal: patch.providerRef };
      if (patch?.providerStatus !== undefined) set.providerStatus = { $literal: patch.providerStatus };
      if (patch?.reversal !== undefined) set.reversal = { $literal: reversalRecord(patch.reversal) };
      if (patch?.incrementAttempts === true) set.attempts = { $add: ['$attempts', 1] };
      if (book !== undefined) {
        set.provider = { $literal: book.provider };
        set.providerOrderId = { $literal: book.providerOrderId };
      }
      if (target !== undefined) {
        set.provider = { $literal: target.provider };
        set.providerOrderId = { $literal: target.providerOrderId };
        // The claim: the unique index on providerOrderIds refuses the whole write on a clash.
        // One $set stage sees the document as it was, so `$providerOrderId` is the old id.
        set.providerOrderIds = {
          $concatArrays: [
            { $ifNull: ['$providerOrderIds', ['$providerOrderId']] },
            { $literal: [target.providerOrderId] },
          ],
        };
      }
      const schedule = scheduleChange(command);
      if (schedule.kind === 'enter') set.pendingSinceMs = NOW_MS;
      if (schedule.kind === 'enter' || schedule.kind === 'reschedule') {
        set.nextCheckAtMs = { $add: [NOW_MS, schedule.afterMs] };
      }
      const update: PipelineStage.Set[] | [PipelineStage.Set, PipelineStage.Unset] =
        schedule.kind === 'leave' ? [{ $set: set }, { $unset: 'nextCheckAtMs' }] : [{ $set: set }];
      let updated: Lean | null;
      try {
        updated = await model
          .findOneAndUpdate(filter, update, { returnDocument: 'after', upsert: false, updatePipeline: true })
          .lean<Lean>()
          .exec();
      } catch (error) {
        // Only a switch writes a unique field: its new id belongs to another order. Nothing changed.
        if (target !== undefined && isDuplicateKeyError(error)) {
          throw new ProviderOrderIdConflictError(target.providerOrderId);
        }
        throw error;
      }
      if (updated !== null) return { applied: true, order: toOrder(updated) };
      const current = await findByKey(key);
      if (current === null) return { applied: false, reason: 'not_found' };
      // Why the filter did not match, in the order the Redis script checks. The route never
      // changes, so a provider outside it is refused whenever the expectation holds.
      const expected =
        current.state === expect.state &&
        (expect.inFlight === undefined || current.inFlight === expect.inFlight) &&
        (expect.providerOrderId === undefined || current.providerOrderId === expect.providerOrderId) &&
        (expect.version === undefined || current.version === expect.version);
      const moveTo = target?.provider ?? book?.provider;
      if (expected && moveTo !== undefined && !current.route.includes(moveTo)) {
        throw new RangeError(
          `cannot move order ${key.clientId}/${key.orderId} to ${moveTo}: not in its route`,
        );
      }
      if (expected && book !== undefined) {
        // In the route, so the attempt is not one the order holds.
        throw new RangeError(
          `cannot book order ${key.clientId}/${key.orderId} on ${book.providerOrderId}: not one of its attempts`,
        );
      }
      return { applied: false, reason: 'conflict', order: current };
    },

    async listOrders(clientId: string, query: ListOrdersQuery): Promise<OrderPage> {
      const { limit, after } = validateListQuery(query);
      const filter: Record<string, unknown> = { clientId };
      if (query.state !== undefined) filter.state = query.state;
      if (after !== undefined) filter.listKey = { $lt: after };
      // One more than asked tells whether another page exists.
      const docs = await model
        .find(filter)
        .sort({ listKey: -1 })
        .limit(limit + 1)
        .lean<Lean[]>()
        .exec();
      const page = docs.slice(0, limit).map(toOrder);
      const last = page.at(-1);
      return docs.length > limit && last !== undefined
        ? { orders: page, nextCursor: encodeCursor(listKey(last, last.createdAt)) }
        : { orders: page };
    },

    async findStale(state: OrderState, updatedBefore: string, limit: number): Promise<readonly Order[]> {
      validateStaleLimit(limit);
      const docs = await model
        .find({ state, updatedAtMs: { $lt: timeMs(updatedBefore, 'updatedBefore') } })
        .sort({ updatedAtMs: 1, listKey: 1 })
        .limit(limit)
        .lean<Lean[]>()
        .exec();
      return docs.map(toOrder);
    },

    async scanStale(
      state: OrderState,
      updatedBefore: string,
      limit: number,
      cursor?: string | undefined,
    ): Promise<OrderPage> {
      validateStaleLimit(limit);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const after = cursor === undefined ? undefined : decodeStaleCursor(cursor);
      // (updatedAtMs, listKey) is the state_updated index's order: a strict position.
      const filter: Record<string, unknown> =
        after === undefined
          ? { state, updatedAtMs: { $lt: before } }
          : {
              state,
              updatedAtMs: { $lt: before },
              $or: [
                { updatedAtMs: { $gt: after.ms } },
                { updatedAtMs: after.ms, listKey: { $gt: after.tie } },
              ],
            };
      const docs = await model
        .find(filter)
        .sort({ updatedAtMs: 1, listKey: 1 })
        .limit(limit + 1)
        .lean<Lean[]>()
        .exec();
      const page = docs.slice(0, limit);
      const last = page.at(-1);
      return docs.length > limit && last !== undefined
        ? {
            orders: page.map(toOrder),
            nextCursor: encodeStaleCursor({ ms: last.updatedAtMs as number, tie: last.listKey as string }),
          }
        : { orders: page.map(toOrder) };
    },

    async appendHistory(
      key: OrderKey,
      entry: Omit<HistoryEntry, 'from' | 'to'>,
      expect?: { readonly state: OrderState; readonly providerOrderId?: string | undefined },
    ): Promise<TransitionResult> {
      timeMs(entry.at, 'entry.at');
      // One pipeline update reads the state it writes into the entry: atomic like the Redis script.
      const row = historyEntry('queued', 'queued', entry);
      const { from: _from, to: _to, ...rest } = row;
      const literal = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, { $literal: v }]));
      const doc = await model
        .findOneAndUpdate(
          {
            clientId: key.clientId,
            orderId: key.orderId,
            ...(expect === undefined ? {} : { state: expect.state }),
            ...(expect?.providerOrderId === undefined ? {} : { providerOrderId: expect.providerOrderId }),
          },
          [
            {
              $set: {
                version: { $add: ['$version', 1] },
                history: {
                  $concatArrays: ['$history', [{ at: literal.at, from: '$state', to: '$state', ...literal }]],
                },
              },
            },
          ],
          { returnDocument: 'after', upsert: false, updatePipeline: true },
        )
        .lean<Lean>()
        .exec();
      if (doc !== null) return { applied: true, order: toOrder(doc) };
      const current = await findByKey(key);
      return current === null
        ? { applied: false, reason: 'not_found' }
        : { applied: false, reason: 'conflict', order: current };
    },

    async clock(): Promise<Date> {
      const { db } = options.connection;
      if (db === undefined) throw new Error('MongoDB connection is not open');
      // `hello` answers the server's own time.
      const reply = await db.command({ hello: 1 });
      const localTime = (reply as { localTime?: unknown }).localTime;
      return localTime instanceof Date ? localTime : new Date(String(localTime));
    },

    async countInState(state: OrderState): Promise<StateCount> {
      // Both answered from the state_updated index.
      const [count, oldest] = await Promise.all([
        model.countDocuments({ state }).exec(),
        model
          .findOne({ state }, { updatedAtMs: 1 })
          .sort({ updatedAtMs: 1 })
          .lean<{ updatedAtMs: number }>()
          .exec(),
      ]);
      return { count, oldestChangeAt: oldest ? new Date(oldest.updatedAtMs).toISOString() : null };
    },

    async claimDueChecks(claim: ClaimChecksOptions): Promise<readonly Order[]> {
      const { limit, intervals } = validateClaimOptions(claim);
      // After check n (counted in the first stage) the next is due intervals[min(n, len - 1)] from now.
      const update: PipelineStage.Set[] = [
        { $set: { statusChecks: { $add: [{ $ifNull: ['$statusChecks', 0] }, 1] } } },
        {
          $set: {
            nextCheckAtMs: {
              $add: [
                NOW_MS,
                {
                  $arrayElemAt: [{ $literal: intervals }, { $min: ['$statusChecks', intervals.length - 1] }],
                },
              ],
            },
          },
        },
      ];
      const claimed: Order[] = [];
      const claimedIds: unknown[] = [];
      // Each round claims one order atomically: the filter is re-checked against the order as the
      // update applies, so a concurrent claimer that got there first (next check moved out) wins alone.
      // `$nin`: with a short interval an order claimed early in this call could fall due again in it.
      while (claimed.length < limit) {
        const filter = {
          state: 'pending',
          _id: { $nin: claimedIds },
          $expr: { $lte: ['$nextCheckAtMs', NOW_MS] },
        };
        const doc = await model
          .findOneAndUpdate(filter, update, {
            sort: { state: 1, nextCheckAtMs: 1 },
            returnDocument: 'after',
            upsert: false,
            updatePipeline: true,
          })
          .lean<Lean>()
          .exec();
        if (doc === null) break;
        claimedIds.push(doc._id);
        claimed.push(toOrder(doc));
      }
      return claimed;
    },

    async recordCallback(input: CallbackInput) {
      validateCallbackInput(input);
      const id = callbackId(input);
      const upsert = async (): Promise<unknown> =>
        callbacks
          .findOneAndUpdate(
            { _id: id },
            {
              $setOnInsert: {
                ...callbackFields(input),
                outcome: 'received' satisfies CallbackOutcome,
                updatedAt: input.receivedAt,
                updatedAtMs: timeMs(input.receivedAt, 'receivedAt'),
              },
              // A new record starts at 1; a copy adds one and changes nothing else.
              $inc: { copies: 1 },
            },
            { upsert: true, returnDocument: 'after', includeResultMetadata: true },
          )
          .lean()
          .exec();
      let result: unknown;
      try {
        result = await upsert();
      } catch (error) {
        // Two first copies at once: the one that lost the insert finds the record the second time.
        if (!isDuplicateKeyError(error)) throw error;
        result = await upsert();
      }
      // With includeResultMetadata the answer is `{ value, lastErrorObject: { updatedExisting } }`.
      const { value, lastErrorObject } = (result ?? {}) as { value?: unknown; lastErrorObject?: unknown };
      const updatedExisting = (lastErrorObject as { updatedExisting?: unknown } | null | undefined)
        ?.updatedExisting;
      if (typeof value !== 'object' || value === null || typeof updatedExisting !== 'boolean') {
        throw new LedgerCorruptionError('unexpected answer from MongoDB when recording a callback', {
          context: { callbackId: id },
        });
      }
      return { record: toCallback(value as Lean), isNew: !updatedExisting };
    },

    async setCallbackOutcome(id: string, outcome: CallbackOutcome, note: string | undefined, at: string) {
      validateOutcome(outcome);
      const set = { outcome, updatedAt: at, updatedAtMs: timeMs(at, 'at') };
      const result = await callbacks
        .updateOne(
          { _id: id },
          // A note describes the outcome it came with: a new outcome without one drops the old.
          note === undefined ? { $set: set, $unset: { note: 1 } } : { $set: { ...set, note } },
        )
        .exec();
      if (result.matchedCount === 0) throw new RangeError(`no stored callback has the id ${id}`);
    },

    async getCallback(id: string) {
      const doc = await callbacks.findOne({ _id: id }).lean<Lean>().exec();
      return doc === null ? null : toCallback(doc);
    },

    async findCallbacks(outcome: CallbackOutcome, updatedBefore: string, limit: number) {
      validateOutcome(outcome);
      validateCallbackLimit(limit);
      const docs = await callbacks
        .find({ outcome, updatedAtMs: { $lt: timeMs(updatedBefore, 'updatedBefore') } })
        .sort({ updatedAtMs: 1, _id: 1 })
        .limit(limit)
        .lean<Lean[]>()
        .exec();
      return docs.map(toCallback);
    },

    async recordBalance(sample: BalanceSample) {
      const atMs = validateBalanceSample(sample);
      await balances.insertOne({ provider: sample.provider, balance: sample.balance, at: sample.at, atMs });
    },

    async balanceAt(provider: string, at: string) {
      const doc = await balances
        .findOne({ provider, atMs: { $lte: timeMs(at, 'at') } })
        .sort({ atMs: -1, _id: -1 })
        .lean<Lean>()
        .exec();
      return doc === null ? null : decodeBalanceSample(doc);
    },

    async summarize(from: string, to: string): Promise<readonly ProviderSummary[]> {
      const { lower, upper } = createdWindow(from, to);
      const summary = new SummaryBuilder();
      if (lower >= upper) return summary.build();
      // At most providers x states rows come back; the buckets are made in one place for both stores.
      const rows: unknown[] = await model
        .aggregate([
          { $match: { listKey: { $gte: lower, $lt: upper } } },
          {
            $group: {
              _id: { provider: '$provider', state: '$state' },
              count: { $sum: 1 },
              amount: { $sum: '$request.amount' },
            },
          },
        ])
        .exec();
      for (const row of rows) {
        const {
          _id: group,
          count,
          amount,
        } = row as { _id?: { provider?: unknown; state?: unknown }; count?: unknown; amount?: unknown };
        const provider = group?.provider;
        const state = group?.state;
        if (
          typeof provider !== 'string' ||
          !isOrderState(state) ||
          typeof count !== 'number' ||
          typeof amount !== 'number'
        ) {
          throw new LedgerCorruptionError('stored orders have an invalid provider, state or amount');
        }
        summary.add(provider, state, count, amount);
      }
      return summary.build();
    },

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
        updatedAt: batch.createdAt,
        updatedAtMs: createdAtMs,
        listKey: batchListKey(batch.batchId, createdAtMs),
      };
      // Commit in three steps, each safe to stop after: the upload's chunks get time first (a sweep
      // never removes a chunk whose lease runs), then the batch is inserted, then the leases go. A
      // crash before the last step leaves leases on a stored batch's chunks: the sweep, finding the
      // batch, removes the leases instead of the chunks.
      await renewLease(batch.batchId, COMMIT_LEASE_MS);
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
        if (known.batchId === batch.batchId) await commitUpload(batch.batchId);
        else await discardUpload(batch.clientId, batch.batchId);
        return { created: false, batch: known };
      }
      await commitUpload(batch.batchId);
      return { created: true, batch: decodeBatch(doc) };
    },

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
        .find({ 'metadata.batchId': batchId, 'metadata.index': index }, { sort: { uploadDate: -1, _id: -1 } })
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

    async getBatch(clientId: string, batchId: string) {
      const doc = await batches.findOne({ clientId, batchId }).lean<Lean>().exec();
      return doc === null ? null : decodeBatch(doc);
    },

    async listBatches(clientId: string, query: { limit: number; cursor?: string | undefined }) {
      const { limit, after } = validateBatchListQuery(query);
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

    async createOrders(orders: readonly NewOrder[]) {
      // Every order checked before the first write.
      const prepared = orders.map((order) => ({
        order,
        record: newOrderRecord(order),
        entry: creationEntry(order.now),
      }));
      const results: CreateResult[] = [];
      for (let start = 0; start < prepared.length; start += ORDER_CHUNK) {
        results.push(...(await insertOrders(prepared.slice(start, start + ORDER_CHUNK))));
      }
      return results;
    },

    async linkOrders(batchId: string, keys: readonly OrderKey[]) {
      for (let start = 0; start < keys.length; start += ORDER_CHUNK) {
        const chunk = keys.slice(start, start + ORDER_CHUNK);
        // $addToSet: linking twice (or to the batch an order came from) changes nothing.
        await model
          .updateMany(
            { $or: chunk.map((key) => ({ clientId: key.clientId, orderId: key.orderId })) },
            { $addToSet: { batchIds: batchId } },
          )
          .exec();
      }
    },

    /** Counted when asked (an index-only count per state): always current, no counters to keep. */
    async batchStates(batchId: string) {
      const rows: unknown[] = await model
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

    async ping() {
      const { db } = options.connection;
      if (db === undefined) throw new Error('MongoDB connection is not open');
      await db.command({ ping: 1 });
    },

    async close() {
      // The connection belongs to the caller.
    },
  };
}

/** Orders per insertMany / link update. */
const ORDER_CHUNK = 1_000;
/** Row documents fetched per query by readRows. */
const ROW_DOCS_PER_READ = 20;

/** The document of a new order (createOrder and createOrders write the same). */
function orderDocument(
  order: NewOrder,
  record: ReturnType<typeof newOrderRecord>,
  entry: HistoryEntry,
): Record<string, unknown> {
  return {
    clientId: order.clientId,
    orderId: order.orderId,
    providerOrderId: order.providerOrderId,
    providerOrderIds: [order.providerOrderId],
    provider: order.provider,
    route: record.route,
    request: record.request,
    fingerprint: order.fingerprint,
    state: 'queued' satisfies OrderState,
    inFlight: false,
    attempts: 0,
    statusChecks: 0,
    ...(order.batchId === undefined ? {} : { batchId: order.batchId, batchIds: [order.batchId] }),
    createdAt: order.now,
    updatedAt: order.now,
    version: 1,
    history: [entry],
    listKey: listKey(order, order.now),
    updatedAtMs: timeMs(order.now, 'now'),
  };
}

/** `index` and `code` of a driver WriteError (getters) or of its plain `err`. */
function writeErrorOf(value: unknown): { index: number | undefined; code: unknown } {
  const error = (value ?? {}) as {
    index?: unknown;
    code?: unknown;
    err?: { index?: unknown; code?: unknown };
  };
  const index = error.index ?? error.err?.index;
  return { index: typeof index === 'number' ? index : undefined, code: error.code ?? error.err?.code };
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

function incompleteUpload(batchId: string, stored: number, expected: number): LedgerCorruptionError {
  return new LedgerCorruptionError(
    `the stored upload of batch ${batchId} has ${stored} bytes, not ${expected}: a chunk is missing`,
    { context: { batchId, stored, expected } },
  );
}

function toOrder(doc: Lean): Order {
  if (!Array.isArray(doc.history)) throw new LedgerCorruptionError('stored order has no history array');
  return decodeOrder(doc, doc.history);
}

function toCallback(doc: Lean): CallbackRecord {
  return decodeCallback({ ...doc, id: doc._id });
}

function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}

function isSameUniqueIndex(index: unknown, key: Readonly<Record<string, number>>): boolean {
  if (typeof index !== 'object' || index === null) return false;
  const { key: actual, unique } = index as { key?: unknown; unique?: unknown };
  if (unique !== true || typeof actual !== 'object' || actual === null) return false;
  const actualEntries = Object.entries(actual);
  const wantedEntries = Object.entries(key);
  return (
    actualEntries.length === wantedEntries.length &&
    wantedEntries.every(([field, direction], i) => {
      const entry = actualEntries[i];
      return entry !== undefined && entry[0] === field && Number(entry[1]) === direction;
    })
  );
}
