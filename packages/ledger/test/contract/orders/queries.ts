import { type OrderState, paise, ValidationError } from '@rechargeflow/domain';
import { beforeEach, expect, it } from 'vitest';
import type { BatchStore } from '../../../src/batches/batch-store.ts';
import type { OrderStore, ProviderSummary } from '../../../src/orders/order-store.ts';
import {
  applied,
  at,
  BASE,
  created,
  ids,
  type LiveFixture,
  move,
  newOrder,
  none,
  orderIn,
  PATH,
  REQUEST,
} from '../fixtures.ts';

/** Lists, stale scans, counts and the per-provider summary. */
export function orderQueryContract(live: LiveFixture): void {
  // Bulk creation (a batch store's) makes the many orders of one millisecond.
  let store: OrderStore & Pick<BatchStore, 'createOrders'>;

  beforeEach(() => {
    store = live.store;
  });

  it('scans past hundreds of orders changed in one millisecond (a batch import)', async () => {
    const batch = Array.from({ length: 230 }, (_, i) =>
      newOrder(`shop-${i % 4}`, `tie-${String(i).padStart(3, '0')}`, 3),
    );
    await store.createOrders(batch);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.scanStale('queued', at(100), 10, cursor);
      seen.push(...ids(page.orders));
      cursor = page.nextCursor;
      pages += 1;
      expect(pages).toBeLessThan(40);
    } while (cursor !== undefined);
    expect(seen.sort()).toEqual(batch.map((o) => o.orderId).sort());
  });

  it('scans every stale order page by page, however long the backlog, each once', async () => {
    // 25 orders, several sharing one millisecond, read 4 at a time.
    const wanted: string[] = [];
    for (let i = 0; i < 25; i++) {
      const orderId = `stale-${String(i).padStart(2, '0')}`;
      await created(store, newOrder(`shop-${i % 3}`, orderId, Math.floor(i / 5)));
      wanted.push(orderId);
    }
    await created(store, newOrder('shop-1', 'fresh', 900));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.scanStale('queued', at(100), 4, cursor);
      seen.push(...ids(page.orders));
      cursor = page.nextCursor;
      pages += 1;
      expect(pages).toBeLessThan(20);
    } while (cursor !== undefined);
    expect(seen.sort()).toEqual(wanted.sort());
    expect(new Set(seen).size).toBe(seen.length);
    const first = await store.scanStale('queued', at(100), 4);
    expect(first.orders).toHaveLength(4);
    await expect(store.scanStale('queued', at(100), 4, 'not-a-cursor')).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(store.scanStale('queued', at(100), 0)).rejects.toThrow(RangeError);
  });

  it("lists a client's orders newest first, paging by cursor without duplicates or gaps while orders arrive", async () => {
    for (let i = 0; i < 7; i += 1) {
      await created(store, newOrder('shop-1', `o${i}`, 10 + i));
      await created(store, newOrder('shop-2', `other${i}`, 10 + i));
    }
    // Two orders created in the same millisecond, split by a page boundary: each shown exactly once.
    await created(store, newOrder('shop-1', 'twin', 14));

    const page1 = await store.listOrders('shop-1', { limit: 3 });
    expect(ids(page1.orders).slice(0, 2)).toEqual(['o6', 'o5']);
    expect(['o4', 'twin']).toContain(ids(page1.orders)[2]);
    expect(page1.nextCursor).toBeTypeOf('string');

    await created(store, newOrder('shop-1', 'late-1', 100));
    const page2 = await store.listOrders('shop-1', { limit: 3, cursor: page1.nextCursor });
    expect([ids(page1.orders)[2], ids(page2.orders)[0]].sort()).toEqual(['o4', 'twin']);
    expect(ids(page2.orders).slice(1)).toEqual(['o3', 'o2']);
    expect(page2.nextCursor).toBeTypeOf('string');

    await created(store, newOrder('shop-1', 'late-2', 101));
    const page3 = await store.listOrders('shop-1', { limit: 3, cursor: page2.nextCursor });
    expect(ids(page3.orders)).toEqual(['o1', 'o0']);
    expect(page3.nextCursor).toBeUndefined();

    const seen = [...page1.orders, ...page2.orders, ...page3.orders];
    expect(new Set(ids(seen)).size).toBe(8);
    const times = seen.map((order) => order.createdAt);
    expect(times).toEqual([...times].sort().reverse());

    const all = await store.listOrders('shop-1', { limit: 10 });
    expect(ids(all.orders).slice(0, 2)).toEqual(['late-2', 'late-1']);
    expect(all.orders).toHaveLength(10);
    // Exactly `limit` left: no cursor to an empty page.
    expect(all.nextCursor).toBeUndefined();
    expect(ids((await store.listOrders('shop-2', { limit: 500 })).orders)).toEqual([
      'other6',
      'other5',
      'other4',
      'other3',
      'other2',
      'other1',
      'other0',
    ]);
    expect((await store.listOrders('shop-3', { limit: 5 })).orders).toEqual([]);
  });

  it('lists only orders in the requested state, newest first, with paging', async () => {
    for (let i = 1; i <= 5; i += 1) await created(store, newOrder('shop-1', `s${i}`, i));
    for (const orderId of ['s1', 's3', 's5']) {
      await applied(store, { clientId: 'shop-1', orderId }, move('queued', 'processing', 50));
    }
    const first = await store.listOrders('shop-1', { state: 'processing', limit: 2 });
    expect(ids(first.orders)).toEqual(['s5', 's3']);
    const second = await store.listOrders('shop-1', {
      state: 'processing',
      limit: 2,
      cursor: first.nextCursor,
    });
    expect(ids(second.orders)).toEqual(['s1']);
    expect(second.nextCursor).toBeUndefined();
    expect(ids((await store.listOrders('shop-1', { state: 'queued', limit: 10 })).orders)).toEqual([
      's4',
      's2',
    ]);
    expect((await store.listOrders('shop-1', { state: 'success', limit: 10 })).orders).toEqual([]);

    await applied(store, { clientId: 'shop-1', orderId: 's3' }, move('processing', 'failed', 60));
    // A full page of what is in the state now: the order that left is gone from its old state's index.
    const now = await store.listOrders('shop-1', { state: 'processing', limit: 2 });
    expect(ids(now.orders)).toEqual(['s5', 's1']);
    expect(now.nextCursor).toBeUndefined();
    expect(ids((await store.listOrders('shop-1', { state: 'failed', limit: 10 })).orders)).toEqual(['s3']);
  });

  it('refuses a limit outside 1..500 or a cursor it did not make', async () => {
    await created(store, newOrder('shop-1', 'x', 1));
    for (const limit of [0, -1, 501, 1.5, Number.NaN]) {
      await expect(store.listOrders('shop-1', { limit }), `limit ${limit}`).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    await expect(store.listOrders('shop-1', { limit: 5, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('finds stale orders of one state across clients, oldest change first, up to the limit', async () => {
    const stale = async (clientId: string, orderId: string, state: OrderState, lastChange: number) => {
      const order = await orderIn(store, { clientId, orderId }, state, lastChange - PATH[state].length);
      expect(order.updatedAt).toBe(at(lastChange));
    };
    await stale('shop-1', 'p50', 'processing', 50);
    await stale('shop-2', 'p20', 'processing', 20);
    await stale('shop-3', 'p40', 'processing', 40);
    await stale('shop-1', 'p30', 'processing', 30);
    await stale('shop-2', 'fresh', 'processing', 200);
    await stale('shop-3', 'q10', 'pending', 10);

    expect(ids(await store.findStale('processing', at(100), 10))).toEqual(['p20', 'p30', 'p40', 'p50']);
    expect(ids(await store.findStale('processing', at(100), 2))).toEqual(['p20', 'p30']);
    // `updatedBefore` is exclusive.
    expect(ids(await store.findStale('processing', at(40), 10))).toEqual(['p20', 'p30']);
    expect(await store.findStale('queued', at(1_000), 10)).toEqual([]);

    // A change moves the order: out of its old state, and to the back by its new time.
    await applied(store, { clientId: 'shop-2', orderId: 'p20' }, move('processing', 'pending', 60));
    await applied(
      store,
      { clientId: 'shop-1', orderId: 'p30' },
      move('processing', 'processing', 70, { patch: { incrementAttempts: true } }),
    );
    expect(ids(await store.findStale('processing', at(100), 10))).toEqual(['p40', 'p50', 'p30']);
    expect(ids(await store.findStale('pending', at(100), 10))).toEqual(['q10', 'p20']);
    await expect(store.findStale('pending', at(100), 0)).rejects.toThrow(RangeError);
  });

  it('counts the orders in a state and tells the oldest last change among them', async () => {
    expect(await store.countInState('pending')).toEqual({ count: 0, oldestChangeAt: null });
    await orderIn(store, { clientId: 'shop-1', orderId: 'a' }, 'pending', 30);
    await orderIn(store, { clientId: 'shop-2', orderId: 'b' }, 'pending', 10);
    await orderIn(store, { clientId: 'shop-3', orderId: 'c' }, 'processing', 5);
    const b = await store.getOrder({ clientId: 'shop-2', orderId: 'b' });
    expect(await store.countInState('pending')).toEqual({ count: 2, oldestChangeAt: b?.updatedAt });
    expect((await store.countInState('processing')).count).toBe(1);
    expect(await store.countInState('failed')).toEqual({ count: 0, oldestChangeAt: null });

    // Leaving the state takes the order out of the count and out of the age.
    await applied(store, { clientId: 'shop-2', orderId: 'b' }, move('pending', 'success', 200));
    const a = await store.getOrder({ clientId: 'shop-1', orderId: 'a' });
    expect(await store.countInState('pending')).toEqual({ count: 1, oldestChangeAt: a?.updatedAt });
    expect(await store.countInState('success')).toEqual({ count: 1, oldestChangeAt: at(200) });
  });

  it('summarizes orders created in [from, to) per provider by their state now', async () => {
    const make = (
      orderId: string,
      state: OrderState,
      seconds: number,
      provider: string,
      amount: number,
      clientId = 'shop-1',
    ) =>
      orderIn(store, { clientId, orderId }, state, seconds, {
        provider,
        request: { ...REQUEST, amount: paise(amount) },
      });
    const sum = (count: number, amount: number) => ({ count, amount: paise(amount) });
    // The window is [100 s, 200 s): `before` and `at-to` fall outside by one millisecond and exactly.
    await created(store, {
      ...newOrder('shop-1', 'before', 0),
      now: new Date(BASE + 99_999).toISOString(),
    });
    await make('at-from', 'success', 100, 'a1topup', 1_000);
    await make('ok-2', 'success', 110, 'a1topup', 2_000);
    await make('failed', 'failed', 120, 'a1topup', 3_000);
    await make('pending', 'pending', 130, 'a1topup', 4_000);
    await make('review', 'manual_review', 140, 'a1topup', 5_000);
    await make('queued', 'queued', 150, 'a1topup', 6_000);
    await make('processing', 'processing', 160, 'a1topup', 7_000);
    await make('reversed', 'reversed', 170, 'a1topup', 8_000);
    await make('t-ok', 'success', 180, 'telgoo5', 500);
    // Every client's orders count (a ':' in a client id included).
    await make('t-rev', 'reversed', 199, 'telgoo5', 700, 'shop:3');
    await make('at-to', 'success', 200, 'telgoo5', 100_000);
    await make('other', 'failed', 150, 'another', 100, 'shop-2');

    const a1topup: ProviderSummary = {
      provider: 'a1topup',
      submitted: sum(8, 36_000),
      success: sum(2, 3_000),
      failed: sum(1, 3_000),
      reversed: sum(1, 8_000),
      pending: sum(2, 9_000),
      inProgress: sum(2, 13_000),
    };
    expect(await store.summarize(at(100), at(200))).toStrictEqual([
      a1topup,
      {
        provider: 'another',
        submitted: sum(1, 100),
        success: none,
        failed: sum(1, 100),
        reversed: none,
        pending: none,
        inProgress: none,
      },
      {
        provider: 'telgoo5',
        submitted: sum(2, 1_200),
        success: sum(1, 500),
        failed: none,
        reversed: sum(1, 700),
        pending: none,
        inProgress: none,
      },
    ]);

    // By the state now: a settled order moves between buckets, never in or out of the window.
    await applied(store, { clientId: 'shop-1', orderId: 'pending' }, move('pending', 'success', 300));
    const [now] = await store.summarize(at(100), at(200));
    expect(now).toStrictEqual({ ...a1topup, success: sum(3, 7_000), pending: sum(1, 5_000) });

    expect(await store.summarize(at(200), at(201))).toStrictEqual([
      {
        provider: 'telgoo5',
        submitted: sum(1, 100_000),
        success: sum(1, 100_000),
        failed: none,
        reversed: none,
        pending: none,
        inProgress: none,
      },
    ]);
    expect(await store.summarize(at(99), at(100))).toStrictEqual([
      {
        provider: 'a1topup',
        submitted: sum(1, 1_000),
        success: none,
        failed: none,
        reversed: none,
        pending: none,
        inProgress: sum(1, 1_000),
      },
    ]);
    expect(await store.summarize(at(300), at(400))).toEqual([]);
    expect(await store.summarize(at(200), at(100))).toEqual([]);
  });
}
