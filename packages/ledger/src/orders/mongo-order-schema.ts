import type { HistoryEntry, Order, OrderState } from '@rechargeflow/domain';
import { Schema } from 'mongoose';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { type Lean, modelOptions, type WriteConcernOption } from '../mongo/mongo-support.ts';
import { listKey } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import type { NewOrder } from './new-order.ts';
import { decodeOrder, type newOrderRecord } from './order-record.ts';

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
 * The webhook outbox lives on the order it is about (webhooks/mongo-webhook-store.ts): a
 * transition entering a final state appends an entry in the same single-document update, so the
 * two cannot be separated by a crash, and ackOutbox removes it. `id` is the order's `_id` (hex),
 * `:`, and the version after the transition; `atMs` the server's clock.
 */
const outboxEntrySchema = new Schema(
  {
    id: { type: String, required: true },
    version: { type: Number, required: true },
    state: { type: String, required: true },
    atMs: { type: Number, required: true },
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
export const ORDER_INDEXES = [
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
  // readOutbox: only orders with unacknowledged webhook entries, oldest first.
  {
    name: 'webhook_outbox',
    key: { outboxAtMs: 1, _id: 1 },
    unique: false,
    partial: { outboxAtMs: { $exists: true } },
  },
] as const;

export function orderSchema(writeConcern: WriteConcernOption): Schema {
  const schema = new Schema(
    {
      clientId: { type: String, required: true },
      orderId: { type: String, required: true },
      providerOrderId: { type: String, required: true },
      // Every providerOrderId the order has had (see ORDER_INDEXES); absent on orders written before.
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
      // Webhook entries not acknowledged yet, oldest first; absent when there are none.
      outbox: { type: [outboxEntrySchema], default: undefined },
      // The oldest entry's atMs, present exactly while `outbox` is: the outbox index's key.
      outboxAtMs: { type: Number },
    },
    // `versionKey: false`: `version` is ours; mongoose's __v would be a second, different counter.
    modelOptions(writeConcern),
  );
  // `unique` only where wanted: an explicit `unique: false` could clash with an index built without it.
  for (const index of ORDER_INDEXES) {
    const sparse = 'sparse' in index && index.sparse;
    const partial = 'partial' in index ? { partialFilterExpression: index.partial } : {};
    schema.index(
      index.key,
      index.unique
        ? { name: index.name, unique: true, ...(sparse ? { sparse: true } : {}) }
        : { name: index.name, ...partial },
    );
  }
  return schema;
}

/** The document of a new order (createOrder and createOrders write the same). */
export function orderDocument(
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

export function toOrder(doc: Lean): Order {
  if (!Array.isArray(doc.history)) throw new LedgerCorruptionError('stored order has no history array');
  return decodeOrder(doc, doc.history);
}
