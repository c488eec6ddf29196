import { isOrderState, type Order, type OrderState } from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { newestFirst } from '../redis/newest-first.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { decodeStaleCursor, encodeCursor, encodeStaleCursor, validateListQuery } from '../shared/cursors.ts';
import { createdWindow, keyIdOfListKey } from '../shared/list-keys.ts';
import { timeMs } from '../shared/time.ts';
import { validateStaleLimit } from './order-limits.ts';
import { decodeRequest } from './order-record.ts';
import type { ListOrdersQuery, OrderPage, OrderStore, ProviderSummary, StateCount } from './order-store.ts';
import { parseJson, readOrders } from './redis-order-snapshot.ts';
import { SummaryBuilder } from './summary.ts';

/** Orders read per round trip when scanning (summaries, the upgrade): bounds memory per step. */
export const SCAN_CHUNK = 500;
/** Clients whose first page a summary asks for in one round trip. */
const SUMMARY_CLIENTS = 20;
/** A client's orders read per round trip by a listing filtered by state. */
const FILTER_SCAN_CHUNK = 200;
/** At most this many of a client's orders are read for one page filtered by state. */
export const FILTER_SCAN_BUDGET = 5_000;

/** The Redis orders' lists, scans, counts and summary: reads of the indexes the scripts keep. */
export function redisOrderQueries(
  ctx: RedisContext,
): Pick<OrderStore, 'listOrders' | 'findStale' | 'scanStale' | 'countInState' | 'summarize'> {
  const { redis, keys } = ctx;

  /** The state of each listed order (null: gone), one round trip. */
  async function pipelineStates(members: readonly string[]): Promise<(string | null)[]> {
    if (members.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const member of members) pipeline.hget(keys.order(keyIdOfListKey(member)), 'state');
    return ((await pipeline.exec()) ?? []).map(([error, state]) => {
      if (error) throw error;
      return typeof state === 'string' ? state : null;
    });
  }

  /** Counts the listed orders (gone ones skipped) into the summary: one round trip. */
  async function addToSummary(summary: SummaryBuilder, members: readonly string[]): Promise<void> {
    const pipeline = redis.pipeline();
    for (const member of members) {
      pipeline.hmget(keys.order(keyIdOfListKey(member)), 'provider', 'state', 'request');
    }
    for (const [error, fields] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      const [provider, state, request] = Array.isArray(fields) ? (fields as unknown[]) : [];
      if (provider === null && state === null) continue;
      if (typeof provider !== 'string' || !isOrderState(state)) {
        throw new LedgerCorruptionError('stored order has an invalid provider or state');
      }
      summary.add(provider, state, 1, decodeRequest(parseJson(request, 'request')).amount);
    }
  }

  return {
    async listOrders(clientId: string, query: ListOrdersQuery): Promise<OrderPage> {
      const { limit, after } = validateListQuery(query);
      const index = keys.clientOrders(clientId);
      const wanted = query.state;
      if (wanted === undefined) {
        // One more than asked tells whether another page exists.
        const members = await newestFirst(redis, index, after, limit + 1);
        const page = members.slice(0, limit);
        const orders = await readOrders(ctx, page.map(keyIdOfListKey));
        const shown = orders.filter((order): order is Order => order !== null);
        const last = page.at(-1);
        return members.length > limit && last !== undefined
          ? { orders: shown, nextCursor: encodeCursor(last) }
          : { orders: shown };
      }
      // There is no per-state index of a client's orders (it cost five index writes and ~150 bytes
      // per order): the client's list is walked newest first, keeping the orders in the state,
      // until the page is full and one more is found, the list ends, or FILTER_SCAN_BUDGET orders
      // were read; then the page ends early with a cursor where the walk stopped.
      const shown: Order[] = [];
      let walk = after;
      let lastShown: string | undefined;
      let scanned = 0;
      for (;;) {
        const members = await newestFirst(redis, index, walk, FILTER_SCAN_CHUNK);
        // The states first (small replies), then the orders that are in the state; an order that
        // changed state between the two reads is not shown under a state it left.
        const states = await pipelineStates(members);
        const candidates = members.filter((_, i) => states[i] === wanted);
        const orders = await readOrders(ctx, candidates.map(keyIdOfListKey));
        for (let i = 0; i < candidates.length; i++) {
          const order = orders[i];
          if (order === null || order === undefined || order.state !== wanted) continue;
          // The page is full and another order in the state exists: the next page starts after the last shown.
          if (shown.length === limit && lastShown !== undefined) {
            return { orders: shown, nextCursor: encodeCursor(lastShown) };
          }
          shown.push(order);
          lastShown = candidates[i];
        }
        scanned += members.length;
        if (members.length < FILTER_SCAN_CHUNK) return { orders: shown };
        walk = members.at(-1);
        if (scanned >= FILTER_SCAN_BUDGET) {
          const resume = shown.length === limit ? lastShown : walk;
          return resume === undefined
            ? { orders: shown }
            : { orders: shown, nextCursor: encodeCursor(resume) };
        }
      }
    },

    async findStale(state: OrderState, updatedBefore: string, limit: number): Promise<readonly Order[]> {
      validateStaleLimit(limit);
      const before = timeMs(updatedBefore, 'updatedBefore');
      const keyIds = await redis.zrangebyscore(
        keys.stateUpdated(state),
        '-inf',
        `(${before}`,
        'LIMIT',
        0,
        limit,
      );
      const orders = await readOrders(ctx, keyIds);
      return orders.filter(
        (order): order is Order =>
          order !== null && order.state === state && timeMs(order.updatedAt, 'updatedAt') < before,
      );
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
      // Members of one score are in member order, so (score, keyId) is a strict position. A page
      // starts at the cursor's score and skips that score's members at or before its keyId; many
      // orders share one millisecond (a batch import), so the read moves on past what it skipped
      // until the page is full or the range ends.
      const positions: { keyId: string; ms: number }[] = [];
      let offset = 0;
      let exhausted = false;
      while (positions.length <= limit && !exhausted) {
        const want = limit + 1 - positions.length;
        const flat = await redis.zrangebyscore(
          keys.stateUpdated(state),
          after === undefined ? '-inf' : String(after.ms),
          `(${before}`,
          'WITHSCORES',
          'LIMIT',
          offset,
          want,
        );
        offset += flat.length / 2;
        exhausted = flat.length / 2 < want;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const keyId = flat[i]!;
          const ms = Number(flat[i + 1]);
          if (after !== undefined && ms === after.ms && keyId <= after.tie) continue;
          positions.push({ keyId, ms });
        }
      }
      const page = positions.slice(0, limit);
      const orders = await readOrders(
        ctx,
        page.map((p) => p.keyId),
      );
      const shown = orders.filter(
        (order): order is Order =>
          order !== null && order.state === state && timeMs(order.updatedAt, 'updatedAt') < before,
      );
      const last = page.at(-1);
      return positions.length > limit && last !== undefined
        ? { orders: shown, nextCursor: encodeStaleCursor({ ms: last.ms, tie: last.keyId }) }
        : { orders: shown };
    },

    async countInState(state: OrderState): Promise<StateCount> {
      const key = keys.stateUpdated(state);
      const [count, oldest] = await Promise.all([
        redis.zcard(key),
        redis.zrange(key, '0', '0', 'WITHSCORES'),
      ]);
      const score = oldest[1];
      return { count, oldestChangeAt: score === undefined ? null : new Date(Number(score)).toISOString() };
    },

    async summarize(from: string, to: string): Promise<readonly ProviderSummary[]> {
      const { lower, upper } = createdWindow(from, to);
      const summary = new SummaryBuilder();
      if (lower >= upper) return summary.build();
      // Walks every registered client's list over the window, by list key, each page after the
      // last one seen: orders created meanwhile can neither shift nor repeat a page. The first
      // page of every client of a registry page is asked for in one round trip.
      const page = (clientId: string, start: string): string[] => [
        keys.clientOrders(clientId),
        start,
        `(${upper}`,
        'BYLEX',
        'LIMIT',
        '0',
        String(SCAN_CHUNK),
      ];
      // SSCAN may hand a member out twice: each client is walked once.
      const walked = new Set<string>();
      let clientCursor = '0';
      do {
        const [next, found] = await redis.sscan(keys.clients, clientCursor, 'COUNT', SCAN_CHUNK);
        clientCursor = next;
        const fresh = found.filter((clientId) => !walked.has(clientId));
        for (const clientId of fresh) walked.add(clientId);
        // A few clients' first pages per round trip: at most SUMMARY_CLIENTS x SCAN_CHUNK members held.
        for (let from = 0; from < fresh.length; from += SUMMARY_CLIENTS) {
          const clientIds = fresh.slice(from, from + SUMMARY_CLIENTS);
          const firsts =
            (await redis
              .pipeline(clientIds.map((clientId) => ['zrange', ...page(clientId, `[${lower}`)]))
              .exec()) ?? [];
          for (const [i, clientId] of clientIds.entries()) {
            const [error, reply] = firsts[i] ?? [new Error('no reply'), null];
            if (error) throw error;
            let members = Array.isArray(reply) ? (reply as string[]) : [];
            while (members.length > 0) {
              await addToSummary(summary, members);
              if (members.length < SCAN_CHUNK) break;
              members = (await redis.call('zrange', ...page(clientId, `(${members.at(-1)}`))) as string[];
            }
          }
        }
      } while (clientCursor !== '0');
      return summary.build();
    },
  };
}
