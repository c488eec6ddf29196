import { isOrderState, type Order, type OrderState } from '@rechargeflow/domain';
import type { Model } from 'mongoose';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import type { Lean } from '../mongo/mongo-support.ts';
import { decodeStaleCursor, encodeCursor, encodeStaleCursor, validateListQuery } from '../shared/cursors.ts';
import { createdWindow, listKey } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { toOrder } from './mongo-order-schema.ts';
import { validateStaleLimit } from './order-limits.ts';
import type { ListOrdersQuery, OrderPage, OrderStore, ProviderSummary, StateCount } from './order-store.ts';
import { SummaryBuilder } from './summary.ts';

/** The MongoDB orders' lists, scans, counts and summary, each answered from an index. */
export function mongoOrderQueries(
  model: Model<Lean>,
): Pick<OrderStore, 'listOrders' | 'findStale' | 'scanStale' | 'countInState' | 'summarize'> {
  return {
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
  };
}
