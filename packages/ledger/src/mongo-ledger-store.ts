import type { Order, OrderKey, OrderState } from '@rechargeflow/domain';
import { type Connection, type Model, Schema } from 'mongoose';
import {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
} from './ledger-errors.ts';
import type {
  CreateResult,
  LedgerStore,
  ListOrdersQuery,
  NewOrder,
  OrderPage,
  TransitionCommand,
  TransitionResult,
} from './ledger-store.ts';
import {
  assertCommand,
  creationEntry,
  encodeCursor,
  historyEntry,
  listKey,
  timeMs,
  validateListQuery,
  validateStaleLimit,
} from './ledger-support.ts';
import { decodeOrder } from './order-record.ts';

export interface MongoLedgerStoreOptions {
  /** The caller owns the connection: the store never closes it. */
  readonly connection: Connection;
  /** Default `orders`. */
  readonly collectionName?: string | undefined;
  /** Write concern of every write; default: the connection's. `majority` on a replica set. */
  readonly writeConcern?: 'majority' | number | undefined;
}

/**
 * One document per order, history embedded (an order has a handful of entries, far below 16 MB).
 * Besides the domain fields it stores `listKey` (creation time + key id: the list order and cursor)
 * and `updatedAtMs` (for findStale); both are dropped when mapping back to an `Order`.
 *
 * Every write is a single-document operation, which MongoDB applies atomically: the insert is
 * guarded by the unique indexes, and a transition is one findOneAndUpdate whose filter carries
 * the expected state. No multi-document transaction is needed (nor used: they need a replica set).
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

const requestSchema = new Schema(
  {
    operator: { type: String, required: true },
    circle: { type: String },
    number: { type: String, required: true },
    amount: { type: Number, required: true },
    value1: { type: String },
    value2: { type: String },
  },
  { _id: false, id: false, strict: 'throw' },
);

/** Indexes the store needs; the unique ones are verified at init(). */
const INDEXES = [
  { name: 'client_order_unique', key: { clientId: 1, orderId: 1 }, unique: true },
  { name: 'provider_order_id_unique', key: { providerOrderId: 1 }, unique: true },
  { name: 'client_list', key: { clientId: 1, listKey: -1 }, unique: false },
  { name: 'client_state_list', key: { clientId: 1, state: 1, listKey: -1 }, unique: false },
  { name: 'state_updated', key: { state: 1, updatedAtMs: 1, listKey: 1 }, unique: false },
] as const;

function orderSchema(writeConcern: MongoLedgerStoreOptions['writeConcern']): Schema {
  const schema = new Schema(
    {
      clientId: { type: String, required: true },
      orderId: { type: String, required: true },
      providerOrderId: { type: String, required: true },
      provider: { type: String, required: true },
      request: { type: requestSchema, required: true },
      fingerprint: { type: String, required: true },
      state: { type: String, required: true },
      inFlight: { type: Boolean, required: true },
      attempts: { type: Number, required: true },
      providerTxId: { type: String },
      providerRef: { type: String },
      providerStatus: { type: String },
      batchId: { type: String },
      createdAt: { type: String, required: true },
      updatedAt: { type: String, required: true },
      version: { type: Number, required: true },
      history: { type: [historySchema], required: true },
      listKey: { type: String, required: true },
      updatedAtMs: { type: Number, required: true },
    },
    {
      // init() creates and checks the indexes; nothing happens behind the caller's back.
      autoIndex: false,
      autoCreate: false,
      // `version` is ours; mongoose's __v would be a second, different counter.
      versionKey: false,
      id: false,
      strict: 'throw',
      // The ledger is the system of record: always read what was last written.
      read: 'primary',
      ...(writeConcern === undefined ? {} : { writeConcern: { w: writeConcern } }),
    },
  );
  // `unique` only where wanted: an explicit `unique: false` could clash with an index built without it.
  for (const index of INDEXES) {
    schema.index(index.key, index.unique ? { name: index.name, unique: true } : { name: index.name });
  }
  return schema;
}

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

  async function findByKey(key: OrderKey): Promise<Order | null> {
    const doc = await model.findOne({ clientId: key.clientId, orderId: key.orderId }).lean<Lean>().exec();
    return doc === null ? null : toOrder(doc);
  }

  return {
    async init() {
      try {
        await model.createIndexes();
      } catch (cause) {
        throw new LedgerConfigurationError(
          `could not create the ledger indexes on MongoDB collection ${collectionName} ` +
            '(an index with the same name or keys but other options may exist; drop it and start again)',
          { cause, context: { collection: collectionName } },
        );
      }
      const existing: unknown[] = await model.listIndexes();
      for (const wanted of INDEXES.filter((index) => index.unique)) {
        const found = existing.some((index) => isSameUniqueIndex(index, wanted.key));
        if (!found) {
          throw new LedgerConfigurationError(
            `MongoDB collection ${collectionName} lacks the unique index ${JSON.stringify(wanted.key)}; ` +
              'without it an order could be stored twice',
            { context: { collection: collectionName, index: wanted.name } },
          );
        }
      }
    },

    async createOrder(order: NewOrder): Promise<CreateResult> {
      const doc = {
        clientId: order.clientId,
        orderId: order.orderId,
        providerOrderId: order.providerOrderId,
        provider: order.provider,
        request: order.request,
        fingerprint: order.fingerprint,
        state: 'queued' satisfies OrderState,
        inFlight: false,
        attempts: 0,
        ...(order.batchId === undefined ? {} : { batchId: order.batchId }),
        createdAt: order.now,
        updatedAt: order.now,
        version: 1,
        history: [creationEntry(order.now)],
        listKey: listKey(order, order.now),
        updatedAtMs: timeMs(order.now, 'now'),
      };
      try {
        const created = await model.insertOne(doc);
        return { created: true, order: toOrder(created.toObject()) };
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
      const doc = await model.findOne({ providerOrderId }).lean<Lean>().exec();
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
      const set: Record<string, unknown> = {
        state: command.to,
        updatedAt: command.entry.at,
        updatedAtMs: timeMs(command.entry.at, 'entry.at'),
      };
      if (patch?.inFlight !== undefined) set.inFlight = patch.inFlight;
      if (patch?.providerTxId !== undefined) set.providerTxId = patch.providerTxId;
      if (patch?.providerRef !== undefined) set.providerRef = patch.providerRef;
      if (patch?.providerStatus !== undefined) set.providerStatus = patch.providerStatus;
      const inc: Record<string, number> = { version: 1 };
      if (patch?.incrementAttempts === true) inc.attempts = 1;
      const updated = await model
        .findOneAndUpdate(
          filter,
          // `from` is exact: the filter only matches when the stored state equals it.
          { $set: set, $inc: inc, $push: { history: historyEntry(expect.state, command.to, command.entry) } },
          { returnDocument: 'after', upsert: false },
        )
        .lean<Lean>()
        .exec();
      if (updated !== null) return { applied: true, order: toOrder(updated) };
      const current = await findByKey(key);
      return current === null
        ? { applied: false, reason: 'not_found' }
        : { applied: false, reason: 'conflict', order: current };
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

function toOrder(doc: Lean): Order {
  if (!Array.isArray(doc.history)) throw new LedgerCorruptionError('stored order has no history array');
  return decodeOrder(doc, doc.history);
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
