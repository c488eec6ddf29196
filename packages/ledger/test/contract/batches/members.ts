import {
  type Order,
  paise,
  providerOrderId,
  type RechargeRequest,
  requestFingerprint,
} from '@rechargeflow/domain';
import { beforeEach, expect, it } from 'vitest';
import type { BatchOrder } from '../../../src/batches/batch-orders.ts';
import type { BatchStore } from '../../../src/batches/batch-store.ts';
import { ProviderOrderIdConflictError } from '../../../src/ledger-errors.ts';
import type { NewOrder, OrderStore } from '../../../src/orders/order-store.ts';
import {
  applied,
  at,
  created,
  keyOf,
  type LiveFixture,
  move,
  newOrder,
  orderIn,
  REQUEST,
} from '../fixtures.ts';

/** Bulk orders and batch membership: createOrders, createBatchOrders, linkOrders, batchStates. */
export function batchMemberContract(live: LiveFixture): void {
  let store: BatchStore & OrderStore;

  beforeEach(() => {
    store = live.store;
  });

  it('creates 1000 orders in one call exactly as createOrder would, one by one', async () => {
    // Existing orders: some moved on, one under another client with the same order id.
    for (let i = 0; i < 1000; i += 10) await created(store, newOrder('shop-1', `o-${i}`, 1));
    await applied(store, { clientId: 'shop-1', orderId: 'o-10' }, move('queued', 'processing', 2));
    await created(store, newOrder('shop-2', 'o-1', 1));
    const before = new Map<string, Order>();
    for (let i = 0; i < 1000; i += 10) {
      const order = await store.getOrder({ clientId: 'shop-1', orderId: `o-${i}` });
      if (order !== null) before.set(order.orderId, order);
    }
    const other: RechargeRequest = { ...REQUEST, amount: paise(2_000), value1: 'x' };
    const orders: NewOrder[] = Array.from({ length: 1000 }, (_, i) => ({
      ...newOrder('shop-1', `o-${i}`, 5, i % 3 === 0 ? other : REQUEST),
      batchId: 'b_bulk',
      ...(i % 7 === 0 ? { route: ['a1topup', 'telgoo5'] } : {}),
    }));
    // The same key twice in one call: created once, the second answers it unchanged.
    orders.push({ ...newOrder('shop-1', 'o-1', 6), batchId: 'b_bulk' });

    const results = await store.createOrders(orders);
    expect(results).toHaveLength(1001);
    for (const [i, result] of results.entries()) {
      const order = orders[i]!;
      const existing = before.get(order.orderId);
      if (existing !== undefined) {
        expect(result).toStrictEqual({ created: false, order: existing });
        continue;
      }
      if (i === 1000) {
        expect(result).toStrictEqual({ created: false, order: results[1]?.order });
        continue;
      }
      expect(result.created).toBe(true);
      // What createOrder answers for the key now is what createOrders answered when it created it.
      expect(await store.createOrder(order)).toStrictEqual({ created: false, order: result.order });
      expect(result.order).toMatchObject({
        state: 'queued',
        version: 1,
        batchId: 'b_bulk',
        route: order.route ?? ['a1topup'],
        request: order.request,
        createdAt: at(5),
      });
    }
    // Orders that existed are returned unchanged and are not made members (see linkOrders).
    expect(await store.batchStates('b_bulk')).toStrictEqual({ queued: 900 });
    const page = await store.listOrders('shop-1', { limit: 500, state: 'queued' });
    expect(page.nextCursor).toBeDefined();
    expect(
      await store.getOrderByProviderOrderId(providerOrderId({ clientId: 'shop-1', orderId: 'o-999' })),
    ).toMatchObject({ orderId: 'o-999' });
    expect(await store.createOrders([])).toEqual([]);
  });

  it('refuses a bulk order the way createOrder would: a bad route writes nothing, a held providerOrderId throws', async () => {
    const good = newOrder('shop-1', 'fine', 1);
    await expect(
      store.createOrders([good, { ...newOrder('shop-1', 'bad', 1), route: ['telgoo5'] }]),
    ).rejects.toBeInstanceOf(RangeError);
    expect(await store.getOrder(keyOf(good))).toBeNull();

    await created(store, newOrder('shop-1', 'holder', 1));
    const thief = {
      ...newOrder('shop-1', 'thief', 1),
      providerOrderId: providerOrderId({ clientId: 'shop-1', orderId: 'holder' }),
    };
    await expect(store.createOrders([good, thief])).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
    expect(await store.getOrder(keyOf(thief))).toBeNull();
    expect((await store.getOrderByProviderOrderId(thief.providerOrderId))?.orderId).toBe('holder');
  });

  it('creates each key exactly once when 20 bulk calls with overlapping keys race', async () => {
    const calls = Array.from({ length: 20 }, (_, call) =>
      Array.from({ length: 50 }, (_, i) => ({
        ...newOrder('shop-1', `k-${call * 5 + i}`, 1),
        batchId: 'b_race',
      })),
    );
    const answers = await Promise.all(calls.map((orders) => store.createOrders(orders)));
    const createdPerKey = new Map<string, number>();
    for (const result of answers.flat()) {
      createdPerKey.set(
        result.order.orderId,
        (createdPerKey.get(result.order.orderId) ?? 0) + (result.created ? 1 : 0),
      );
      expect(result.order.version).toBe(1);
    }
    expect(createdPerKey.size).toBe(145);
    expect([...createdPerKey.values()].every((count) => count === 1)).toBe(true);
    expect(await store.batchStates('b_race')).toStrictEqual({ queued: 145 });
  });

  it('keeps batch state counts current through transitions, for created and linked members', async () => {
    const mine = (orderId: string): NewOrder => ({
      ...newOrder('shop-1', orderId, 1),
      batchId: 'b_states',
    });
    await store.createOrders([mine('m-1'), mine('m-2'), mine('m-3')]);
    // createOrder with a batchId makes a member too.
    await store.createOrder(mine('m-4'));
    expect(await store.batchStates('b_states')).toStrictEqual({ queued: 4 });

    const m1 = { clientId: 'shop-1', orderId: 'm-1' };
    const m2 = { clientId: 'shop-1', orderId: 'm-2' };
    await applied(store, m1, move('queued', 'processing', 2));
    await applied(store, m2, move('queued', 'processing', 2));
    expect(await store.batchStates('b_states')).toStrictEqual({ queued: 2, processing: 2 });
    await applied(store, m1, move('processing', 'success', 3));
    // A same-state event (an attempt) moves nothing; a refused transition neither.
    await applied(store, m2, move('processing', 'processing', 3, { patch: { incrementAttempts: true } }));
    expect((await store.transition(m1, move('queued', 'processing', 4))).applied).toBe(false);
    expect(await store.batchStates('b_states')).toStrictEqual({ queued: 2, processing: 1, success: 1 });

    // Orders from elsewhere (another batch, or none) linked to this batch count from now on, once.
    await orderIn(store, { clientId: 'shop-1', orderId: 'elsewhere' }, 'pending', 1);
    const other = { ...newOrder('shop-1', 'other-batch', 1), batchId: 'b_other' };
    await store.createOrders([other]);
    const linked = [
      { clientId: 'shop-1', orderId: 'elsewhere' },
      keyOf(other),
      { clientId: 'shop-1', orderId: 'unknown' },
    ];
    await store.linkOrders('b_states', linked);
    await store.linkOrders('b_states', linked);
    // Linking an order to the batch it came from changes nothing either.
    await store.linkOrders('b_states', [m1]);
    expect(await store.batchStates('b_states')).toStrictEqual({
      queued: 3,
      processing: 1,
      success: 1,
      pending: 1,
    });
    expect(await store.batchStates('b_other')).toStrictEqual({ queued: 1 });

    await applied(store, keyOf(other), move('queued', 'processing', 5));
    await applied(store, { clientId: 'shop-1', orderId: 'elsewhere' }, move('pending', 'success', 5));
    expect(await store.batchStates('b_states')).toStrictEqual({ queued: 2, processing: 2, success: 2 });
    // Both batches see the order move.
    expect(await store.batchStates('b_other')).toStrictEqual({ processing: 1 });
    // The order still names the batch it came from.
    expect((await store.getOrder(keyOf(other)))?.batchId).toBe('b_other');
    expect(await store.batchStates('b_none')).toStrictEqual({});
  });

  it('creates an import chunk (createBatchOrders) exactly as createOrders writes the same orders', async () => {
    await created(store, newOrder('shop-1', 'c-3', 1));
    await applied(store, { clientId: 'shop-1', orderId: 'c-3' }, move('queued', 'processing', 2));
    const existing = await store.getOrder({ clientId: 'shop-1', orderId: 'c-3' });
    const other: RechargeRequest = { ...REQUEST, amount: paise(2_000), value1: 'x' };
    const orders: BatchOrder[] = Array.from({ length: 300 }, (_, i) => {
      const request = i % 3 === 0 ? other : REQUEST;
      return {
        orderId: `c-${i}`,
        providerOrderId: providerOrderId({ clientId: 'shop-1', orderId: `c-${i}` }),
        route: i % 7 === 0 ? ['a1topup', 'telgoo5'] : ['a1topup'],
        request,
        fingerprint: requestFingerprint(request),
      };
    });
    const results = await store.createBatchOrders({
      clientId: 'shop-1',
      batchId: 'b_chunk',
      now: at(5),
      orders,
    });
    expect(results).toHaveLength(300);
    expect(results[3]).toStrictEqual({ kind: 'existing', order: existing });
    // The same orders through createOrders, under another client: each reads back the same.
    const twins = await store.createOrders(
      orders.map((order) => ({
        ...order,
        clientId: 'shop-2',
        providerOrderId: providerOrderId({ clientId: 'shop-2', orderId: order.orderId }),
        provider: order.route[0] as string,
        batchId: 'b_twin',
        now: at(5),
      })),
    );
    for (const [i, result] of results.entries()) {
      if (i === 3) continue;
      expect(result).toStrictEqual({ kind: 'created' });
      const key = { clientId: 'shop-1', orderId: `c-${i}` };
      const twin = twins[i]?.order as Order;
      expect(await store.getOrder(key)).toStrictEqual({
        ...twin,
        clientId: 'shop-1',
        providerOrderId: orders[i]?.providerOrderId,
        batchId: 'b_chunk',
      });
      expect((await store.getOrderByProviderOrderId(orders[i]?.providerOrderId ?? ''))?.orderId).toBe(
        `c-${i}`,
      );
    }
    // Indexed like createOrders' orders: by client and state, by last change, in the batch's counts.
    expect(await store.batchStates('b_chunk')).toStrictEqual({ queued: 299 });
    const listed = await store.listOrders('shop-1', { limit: 500, state: 'queued' });
    expect(listed.orders.map((order) => order.orderId).sort()).toEqual(
      orders
        .map((order) => order.orderId)
        .filter((id) => id !== 'c-3')
        .sort(),
    );
    expect(await store.findStale('queued', at(6), 1_000)).toHaveLength(599);
    expect((await store.countInState('queued')).count).toBe(599);
    // A second run of the same chunk (a retried import) creates nothing and answers every order.
    const again = await store.createBatchOrders({
      clientId: 'shop-1',
      batchId: 'b_chunk',
      now: at(9),
      orders,
    });
    expect(again.every((result) => result.kind === 'existing')).toBe(true);
    expect(await store.batchStates('b_chunk')).toStrictEqual({ queued: 299 });
    expect(
      await store.createBatchOrders({ clientId: 'shop-1', batchId: 'b_chunk', now: at(9), orders: [] }),
    ).toEqual([]);
  });

  it('refuses an import chunk the way createOrders would, and creates each key once when chunks race', async () => {
    const chunk = (orderIds: readonly string[], extra: Partial<BatchOrder> = {}) => ({
      clientId: 'shop-1',
      batchId: 'b_refuse',
      now: at(1),
      orders: orderIds.map((orderId) => ({
        orderId,
        providerOrderId: providerOrderId({ clientId: 'shop-1', orderId }),
        route: ['a1topup'],
        request: REQUEST,
        fingerprint: requestFingerprint(REQUEST),
        ...extra,
      })),
    });
    await expect(store.createBatchOrders(chunk(['fine', 'bad'], { route: [] }))).rejects.toBeInstanceOf(
      RangeError,
    );
    expect(await store.getOrder({ clientId: 'shop-1', orderId: 'fine' })).toBeNull();
    await created(store, newOrder('shop-1', 'holder', 1));
    const thief = chunk(['thief'], {
      providerOrderId: providerOrderId({ clientId: 'shop-1', orderId: 'holder' }),
    });
    await expect(store.createBatchOrders(thief)).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
    expect(await store.getOrder({ clientId: 'shop-1', orderId: 'thief' })).toBeNull();

    const keys = (call: number) => Array.from({ length: 50 }, (_, i) => `r-${call * 5 + i}`);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, call) =>
        call % 2 === 0
          ? store.createBatchOrders({ ...chunk(keys(call)), batchId: 'b_race' })
          : store.createOrders(
              chunk(keys(call)).orders.map((order) => ({
                ...order,
                clientId: 'shop-1',
                provider: 'a1topup',
                batchId: 'b_race',
                now: at(1),
              })),
            ),
      ),
    );
    const createdPerKey = new Map<string, number>();
    for (const [call, results] of answers.entries()) {
      for (const [i, result] of results.entries()) {
        const made = 'kind' in result ? result.kind === 'created' : result.created;
        const key = keys(call)[i] as string;
        createdPerKey.set(key, (createdPerKey.get(key) ?? 0) + (made ? 1 : 0));
      }
    }
    expect(createdPerKey.size).toBe(145);
    expect([...createdPerKey.values()].every((count) => count === 1)).toBe(true);
    expect(await store.batchStates('b_race')).toStrictEqual({ queued: 145 });
  });

  it('answers the provider of each order still queued, null for one moved on or missing', async () => {
    await created(store, newOrder('shop-1', 'qp-1', 1));
    await created(store, { ...newOrder('shop-1', 'qp-2', 1), provider: 'telgoo5', route: ['telgoo5'] });
    await created(store, newOrder('shop-1', 'qp-3', 1));
    await applied(store, { clientId: 'shop-1', orderId: 'qp-3' }, move('queued', 'processing', 2));
    await created(store, newOrder('shop-2', 'qp-1', 1));
    await applied(store, { clientId: 'shop-2', orderId: 'qp-1' }, move('queued', 'processing', 2));
    const keys = ['qp-1', 'qp-2', 'qp-3', 'qp-missing'].map((orderId) => ({ clientId: 'shop-1', orderId }));
    expect(await store.queuedProviders(keys)).toStrictEqual(['a1topup', 'telgoo5', null, null]);
    expect(await store.queuedProviders([{ clientId: 'shop-2', orderId: 'qp-1' }])).toStrictEqual([null]);
    expect(await store.queuedProviders([])).toStrictEqual([]);
  });
}
