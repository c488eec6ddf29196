import { paise, type RechargeRequest, requestFingerprint } from '@rechargeflow/domain';
import { beforeEach, describe, expect, it } from 'vitest';
import { ProviderOrderIdConflictError } from '../../../src/ledger-errors.ts';
import type { NewOrder, OrderStore } from '../../../src/orders/order-store.ts';
import {
  applied,
  at,
  created,
  ids,
  keyOf,
  type LiveFixture,
  move,
  newOrder,
  REQUEST,
  TELGOO5_REQUEST,
} from '../fixtures.ts';

/** Creating and reading orders, Telgoo5 requests included. */
export function orderCreationContract(live: LiveFixture): void {
  let store: OrderStore;

  beforeEach(() => {
    store = live.store;
  });

  it('creates an order as queued, version 1, with one history entry, keeping every field', async () => {
    const full: NewOrder = {
      ...newOrder('shop-1', 'full', 5, { ...REQUEST, value1: 'v1', value2: 'v2' }),
      batchId: 'batch-7',
    };
    const bare = newOrder('shop-1', 'bare', 6, {
      operator: 'ATV',
      number: '30123456789',
      amount: paise(19_950),
    });
    const first = await store.createOrder(full);
    const second = await store.createOrder(bare);

    expect(first).toStrictEqual({
      created: true,
      order: {
        clientId: 'shop-1',
        orderId: 'full',
        providerOrderId: full.providerOrderId,
        provider: 'a1topup',
        route: ['a1topup'],
        request: {
          operator: 'A',
          circle: 'DL',
          number: '9876543210',
          amount: 1000,
          value1: 'v1',
          value2: 'v2',
        },
        fingerprint: full.fingerprint,
        state: 'queued',
        inFlight: false,
        attempts: 0,
        statusChecks: 0,
        batchId: 'batch-7',
        createdAt: at(5),
        updatedAt: at(5),
        version: 1,
        history: [{ at: at(5), from: null, to: 'queued', source: 'api', note: 'order accepted' }],
      },
    });
    expect(second.created).toBe(true);
    expect(second.order.request).toStrictEqual({ operator: 'ATV', number: '30123456789', amount: 19_950 });
    expect(second.order).not.toHaveProperty('batchId');
    expect(second.order).not.toHaveProperty('providerTxId');
    expect(await store.getOrder(keyOf(full))).toStrictEqual(first.order);
    expect(await store.getOrder(keyOf(bare))).toStrictEqual(second.order);
  });

  it('returns the stored order unchanged for a duplicate key (created: false), so fingerprints can be compared', async () => {
    const original = newOrder('shop-1', 'dup', 1);
    await created(store, original);
    const moved = await applied(store, keyOf(original), move('queued', 'processing', 2));

    const other: RechargeRequest = { ...REQUEST, amount: paise(5000) };
    const again = await store.createOrder({ ...newOrder('shop-1', 'dup', 9, other) });

    expect(again.created).toBe(false);
    expect(again.order).toStrictEqual(moved);
    expect(again.order.fingerprint).toBe(original.fingerprint);
    expect(again.order.fingerprint).not.toBe(requestFingerprint(other));
    expect(await store.getOrder(keyOf(original))).toStrictEqual(moved);
  });

  it('creates exactly one order when the same key is submitted 10 times at once', async () => {
    const order = newOrder('shop-1', 'race', 1);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.createOrder(order)));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    for (const result of results) {
      expect(result.order.history).toHaveLength(1);
      expect(result.order.version).toBe(1);
    }
    const page = await store.listOrders('shop-1', { limit: 10 });
    expect(ids(page.orders)).toEqual(['race']);
  });

  it('refuses a second order with the same providerOrderId and never overwrites the first', async () => {
    const first = await created(store, newOrder('shop-1', 'one', 1));
    const thief: NewOrder = { ...newOrder('shop-2', 'two', 2), providerOrderId: first.providerOrderId };

    await expect(store.createOrder(thief)).rejects.toBeInstanceOf(ProviderOrderIdConflictError);

    expect(await store.getOrder(keyOf(thief))).toBeNull();
    expect(await store.getOrderByProviderOrderId(first.providerOrderId)).toStrictEqual(first);
    expect((await store.listOrders('shop-2', { limit: 10 })).orders).toEqual([]);
    // The refused order claimed nothing: its own key can still be created properly.
    await created(store, newOrder('shop-2', 'two', 3));
  });

  it('reads an order by key and by providerOrderId; unknown ones are null', async () => {
    const order = await created(store, newOrder('shop-1', 'read', 1));
    expect(await store.getOrder({ clientId: 'shop-1', orderId: 'read' })).toStrictEqual(order);
    expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(order);
    // An order id is unique per client only.
    expect(await store.getOrder({ clientId: 'shop-2', orderId: 'read' })).toBeNull();
    expect(await store.getOrder({ clientId: 'shop-1', orderId: 'nope' })).toBeNull();
    expect(await store.getOrderByProviderOrderId('RFNOTANORDER')).toBeNull();
  });

  describe('Telgoo5 requests', () => {
    it('stores and returns a Telgoo5 request exactly, fingerprint untouched', async () => {
      const order: NewOrder = {
        ...newOrder('shop-1', 't5-full', 1, TELGOO5_REQUEST),
        provider: 'telgoo5',
        route: ['telgoo5'],
      };
      const stored = await created(store, order);
      expect(stored.request).toStrictEqual(TELGOO5_REQUEST);
      expect(stored.request.amount).toBe(2_550);
      expect(stored.fingerprint).toBe(order.fingerprint);
      expect(requestFingerprint(stored.request)).toBe(order.fingerprint);
      expect(await store.getOrder(keyOf(order))).toStrictEqual(stored);
      expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(stored);
      // Transitions leave the request alone.
      const moved = await applied(store, keyOf(order), move('queued', 'processing', 2));
      expect(moved.request).toStrictEqual(TELGOO5_REQUEST);

      // Only what is required, and a repeat with another Telgoo5 body: refused by fingerprint.
      const bare: RechargeRequest = {
        operator: 'TELGOO5',
        number: '2065550199',
        amount: paise(100),
        telgoo5: {
          enrollmentId: 'E1',
          planId: '77',
          topupType: 'TOPUP',
          customerToken: 'cus_0001',
          billingState: 'NY',
          billingCity: 'Albany',
        },
      };
      const small = await created(store, {
        ...newOrder('shop-1', 't5-bare', 3, bare),
        provider: 'telgoo5',
      });
      expect(small.request).toStrictEqual(bare);
      expect(requestFingerprint(small.request)).toBe(small.fingerprint);
      const other = { ...TELGOO5_REQUEST, telgoo5: { ...TELGOO5_REQUEST.telgoo5, planCode: 'PLAN20' } };
      const again = await store.createOrder(newOrder('shop-1', 't5-full', 4, other as RechargeRequest));
      expect(again).toStrictEqual({ created: false, order: moved });
      expect(again.order.fingerprint).not.toBe(requestFingerprint(other as RechargeRequest));
    });

    it('refuses a malformed request, Telgoo5 or not, and stores nothing', async () => {
      const t5 = TELGOO5_REQUEST.telgoo5 as unknown as Record<string, unknown>;
      const garbage: Record<string, unknown>[] = [
        { ...TELGOO5_REQUEST, telgoo5: 'AGKN4441' },
        { ...TELGOO5_REQUEST, telgoo5: [t5] },
        { ...TELGOO5_REQUEST, telgoo5: { ...t5, topupType: 'BOGUS' } },
        { ...TELGOO5_REQUEST, telgoo5: { ...t5, enrollmentId: 4441 } },
        { ...TELGOO5_REQUEST, telgoo5: { ...t5, billingCity: undefined } },
        { ...TELGOO5_REQUEST, telgoo5: { ...t5, planCode: null } },
        // Raw card data is never stored, whatever let it through.
        { ...TELGOO5_REQUEST, telgoo5: { ...t5, cardNumber: '4111111111111111' } },
        { ...TELGOO5_REQUEST, cvv: '123' },
        { ...REQUEST, amount: 10.5 },
        { ...REQUEST, amount: -1 },
        { ...REQUEST, number: 9876543210 },
      ];
      for (const [i, request] of garbage.entries()) {
        const order: NewOrder = {
          ...newOrder('shop-1', `bad-${i}`, 1),
          request: request as unknown as RechargeRequest,
        };
        await expect(store.createOrder(order), `request ${i}`).rejects.toThrow(RangeError);
        expect(await store.getOrder(keyOf(order))).toBeNull();
        expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toBeNull();
      }
      expect((await store.listOrders('shop-1', { limit: 20 })).orders).toEqual([]);
    });
  });
}
