import {
  type HistoryEntry,
  type Order,
  type OrderKey,
  type OrderState,
  orderKeyId,
} from '@rechargeflow/domain';
import type { Model, PipelineStage } from 'mongoose';
import type { BatchStore } from '../batches/batch-store.ts';
import { ProviderOrderIdConflictError } from '../ledger-errors.ts';
import { isDuplicateKeyError, type Lean, type MongoContext, NOW_MS } from '../mongo/mongo-support.ts';
import { creationEntry, historyEntry } from '../shared/history-entries.ts';
import { timeMs } from '../shared/time.ts';
import { isOutboxState } from '../webhooks/webhook-record.ts';
import { mongoOrderQueries } from './mongo-order-queries.ts';
import { orderDocument, toOrder } from './mongo-order-schema.ts';
import type { CreateResult, NewOrder } from './new-order.ts';
import { validateClaimOptions } from './order-limits.ts';
import { createdOrder, newOrderRecord } from './order-record.ts';
import type { ClaimChecksOptions, OrderStore, TransitionCommand, TransitionResult } from './order-store.ts';
import { assertCommand, reversalRecord, scheduleChange } from './transition-rules.ts';

/** Orders per insertMany / link update. */
export const ORDER_CHUNK = 1_000;

/**
 * The MongoDB orders (schema and indexes: mongo-order-schema.ts). Also creates orders in bulk for
 * the batch store (BatchStore.createOrders).
 */
export function createMongoOrderStore(
  ctx: MongoContext,
  model: Model<Lean>,
): OrderStore & Pick<BatchStore, 'createOrders'> {
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
      await model.insertMany(docs, { ordered: false, lean: true, ...ctx.writeOptions });
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
      if (command.to !== expect.state && isOutboxState(command.to)) {
        // The webhook outbox entry, in this same update (see mongo-order-schema.ts).
        const version = { $add: ['$version', 1] };
        set.outbox = {
          $concatArrays: [
            { $ifNull: ['$outbox', []] },
            [
              {
                id: { $concat: [{ $toString: '$_id' }, ':', { $toString: { $toLong: version } }] },
                version,
                state: { $literal: command.to },
                atMs: NOW_MS,
              },
            ],
          ],
        };
        set.outboxAtMs = { $ifNull: ['$outboxAtMs', NOW_MS] };
      }
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

    ...mongoOrderQueries(model),
  };
}

/**
 * An init step: pending orders written before status checks were scheduled by the ledger are due at
 * once. Idempotent, and a no-op (an index lookup) once done.
 */
export async function scheduleLegacyPendingChecks(model: Model<Lean>): Promise<void> {
  await model
    .updateMany(
      { state: 'pending', nextCheckAtMs: { $exists: false } },
      [{ $set: { nextCheckAtMs: NOW_MS } }],
      {
        updatePipeline: true,
      },
    )
    .exec();
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
