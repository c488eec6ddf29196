import { type OrderKey, providerOrderId } from '@rechargeflow/domain';
import { beforeEach, describe, expect, it } from 'vitest';
import { ProviderOrderIdConflictError } from '../../../src/ledger-errors.ts';
import type { NewOrder, OrderStore, TransitionCommand } from '../../../src/orders/order-store.ts';
import {
  applied,
  at,
  created,
  failover,
  ids,
  keyOf,
  type LiveFixture,
  move,
  newOrder,
  orderIn,
  ROUTE,
} from '../fixtures.ts';

/** Routes, failover and writes pinned to an attempt. */
export function orderFailoverContract(live: LiveFixture): void {
  let store: OrderStore;
  const makeLegacy = (key: OrderKey) => live.makeLegacy(key);

  beforeEach(() => {
    store = live.store;
  });

  describe('routes and failover', () => {
    it('creates an order with its route and reads it back; without one the route is [provider]', async () => {
      const routed: NewOrder = { ...newOrder('shop-1', 'routed', 1), route: ROUTE };
      const order = await created(store, routed);
      expect(order.route).toStrictEqual(['a1topup', 'telgoo5', 'another']);
      expect(order.provider).toBe('a1topup');
      expect(await store.getOrder(keyOf(routed))).toStrictEqual(order);
      expect(await store.getOrderByProviderOrderId(routed.providerOrderId)).toStrictEqual(order);

      const plain = await created(store, newOrder('shop-1', 'plain', 2));
      expect(plain.route).toStrictEqual(['a1topup']);
      const single = await created(store, { ...newOrder('shop-1', 'single', 3), route: ['a1topup'] });
      expect(single.route).toStrictEqual(['a1topup']);
    });

    it('refuses a route not led by the provider, or an empty one, and stores nothing', async () => {
      for (const [orderId, route] of [
        ['wrong-first', ['telgoo5', 'a1topup']],
        ['empty', []],
        ['blank', ['a1topup', '']],
      ] as const) {
        const order: NewOrder = { ...newOrder('shop-1', orderId, 1), route };
        await expect(store.createOrder(order), orderId).rejects.toThrow(RangeError);
        expect(await store.getOrder(keyOf(order))).toBeNull();
        expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toBeNull();
      }
      expect((await store.listOrders('shop-1', { limit: 10 })).orders).toEqual([]);
    });

    it('reads an order stored before routes as routed to its provider alone, and fails it over safely', async () => {
      const key = { clientId: 'shop-1', orderId: 'legacy' };
      const order = await orderIn(store, key, 'processing');
      await makeLegacy(key);
      expect(await store.getOrder(key)).toStrictEqual(order);
      expect(order.route).toStrictEqual(['a1topup']);
      expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(order);

      await expect(store.transition(key, failover(10, 'telgoo5', providerOrderId(key, 2)))).rejects.toThrow(
        RangeError,
      );
      expect(await store.getOrder(key)).toStrictEqual(order);

      // Its route is its provider: a fresh id there is a legal switch, and the old id stays claimed.
      const second = providerOrderId(key, 2);
      const switched = await applied(store, key, failover(11, 'a1topup', second));
      expect(switched).toMatchObject({ provider: 'a1topup', providerOrderId: second, route: ['a1topup'] });
      expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(switched);
      expect(await store.getOrderByProviderOrderId(second)).toStrictEqual(switched);
      await expect(
        store.createOrder({ ...newOrder('shop-2', 'thief', 12), providerOrderId: order.providerOrderId }),
      ).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
    });

    it('fails over: provider and providerOrderId change in one event, and both ids lead to the order', async () => {
      const key = { clientId: 'shop-1', orderId: 'failover' };
      await orderIn(store, key, 'processing', 0, { route: ROUTE });
      await applied(
        store,
        key,
        move('processing', 'processing', 5, {
          inFlight: false,
          patch: { inFlight: true, incrementAttempts: true },
          note: 'sent to a1topup',
        }),
      );
      const before = await applied(
        store,
        key,
        move('processing', 'processing', 6, {
          inFlight: true,
          patch: { inFlight: false, providerStatus: 'Failure' },
          providerStatus: 'Failure',
          note: 'a1topup refused the order',
        }),
      );
      const first = before.providerOrderId;
      const second = providerOrderId(key, 2);

      const switched = await applied(store, key, failover(10, 'telgoo5', second));
      expect(switched).toStrictEqual({
        ...before,
        provider: 'telgoo5',
        providerOrderId: second,
        updatedAt: at(10),
        version: before.version + 1,
        history: [
          ...before.history,
          {
            at: at(10),
            from: 'processing',
            to: 'processing',
            source: 'worker',
            note: 'failover to telgoo5',
          },
        ],
      });
      expect(switched.route).toStrictEqual([...ROUTE]);
      expect(await store.getOrder(key)).toStrictEqual(switched);
      expect(await store.getOrderByProviderOrderId(first)).toStrictEqual(switched);
      expect(await store.getOrderByProviderOrderId(second)).toStrictEqual(switched);
      // Listed once, under its state; summed under the provider it is with now.
      expect(ids((await store.listOrders('shop-1', { state: 'processing', limit: 10 })).orders)).toEqual([
        'failover',
      ]);
      expect(ids(await store.findStale('processing', at(11), 10))).toEqual(['failover']);
      expect((await store.summarize(at(0), at(1))).map((each) => each.provider)).toEqual(['telgoo5']);

      // A switch may start the new provider's call in the same write; the route need not be walked in order.
      const third = providerOrderId(key, 3);
      const calling = await applied(
        store,
        key,
        failover(12, 'another', third, { inFlight: true, incrementAttempts: true }),
      );
      expect(calling).toMatchObject({
        provider: 'another',
        providerOrderId: third,
        inFlight: true,
        attempts: before.attempts + 1,
        version: switched.version + 1,
      });
      for (const id of [first, second, third]) {
        expect(await store.getOrderByProviderOrderId(id)).toStrictEqual(calling);
      }
      // Switched away from, an id stays claimed: no new order may take it.
      await expect(
        store.createOrder({ ...newOrder('shop-2', 'late', 13), providerOrderId: second }),
      ).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
      expect(await store.getOrder({ clientId: 'shop-2', orderId: 'late' })).toBeNull();
    });

    it('refuses a switch to a providerOrderId another order holds or held, and changes nothing', async () => {
      const key = { clientId: 'shop-1', orderId: 'switcher' };
      const before = await orderIn(store, key, 'processing', 0, { route: ROUTE });
      const owner = await created(store, newOrder('shop-2', 'owner', 1));
      // `moved` held its first id before failing over: that id is still its own.
      const movedKey = { clientId: 'shop-3', orderId: 'moved' };
      const moved = await orderIn(store, movedKey, 'processing', 2, { route: ROUTE });
      const movedNow = await applied(store, movedKey, failover(5, 'telgoo5', providerOrderId(movedKey, 2)));

      for (const [taken, holder] of [
        [owner.providerOrderId, owner],
        [moved.providerOrderId, movedNow],
        [movedNow.providerOrderId, movedNow],
      ] as const) {
        await expect(store.transition(key, failover(10, 'telgoo5', taken))).rejects.toBeInstanceOf(
          ProviderOrderIdConflictError,
        );
        expect(await store.getOrderByProviderOrderId(taken)).toStrictEqual(holder);
      }
      const after = await store.getOrder(key);
      expect(after).toStrictEqual(before);
      expect(after).toMatchObject({ state: 'processing', provider: 'a1topup', version: before.version });
      expect(await store.getOrder(keyOf(owner))).toStrictEqual(owner);
      expect(await store.getOrder(movedKey)).toStrictEqual(movedNow);

      // Its own id (now or before): that switch has been made, so it is a conflict, not a second one.
      const own = await store.transition(key, failover(11, 'telgoo5', before.providerOrderId));
      expect(own).toStrictEqual({ applied: false, reason: 'conflict', order: before });
      const second = await applied(store, key, failover(12, 'telgoo5', providerOrderId(key, 2)));
      for (const id of [before.providerOrderId, second.providerOrderId]) {
        expect(await store.transition(key, failover(13, 'another', id))).toStrictEqual({
          applied: false,
          reason: 'conflict',
          order: second,
        });
      }
      expect(await store.getOrder(key)).toStrictEqual(second);
    });

    it('refuses a switch to a provider outside the stored route, claiming nothing', async () => {
      const key = { clientId: 'shop-1', orderId: 'off-route' };
      const before = await orderIn(store, key, 'processing', 0, { route: ['a1topup', 'telgoo5'] });
      const fresh = providerOrderId(key, 2);
      await expect(store.transition(key, failover(10, 'another', fresh))).rejects.toThrow(RangeError);
      expect(await store.getOrder(key)).toStrictEqual(before);
      expect(await store.getOrderByProviderOrderId(fresh)).toBeNull();
      // The id is still free for a proper switch.
      expect((await applied(store, key, failover(11, 'telgoo5', fresh))).providerOrderId).toBe(fresh);

      // The expectation is checked first: an order not in it is a conflict, whatever the provider.
      const calling = await applied(
        store,
        key,
        move('processing', 'processing', 12, { inFlight: false, patch: { inFlight: true } }),
      );
      expect(await store.transition(key, failover(13, 'another', providerOrderId(key, 3)))).toStrictEqual({
        applied: false,
        reason: 'conflict',
        order: calling,
      });
    });

    it('switches in the same write that records the end of a refused call (inFlight true -> false)', async () => {
      const key = { clientId: 'shop-1', orderId: 'refused-then-switch' };
      await orderIn(store, key, 'processing', 0, { route: ROUTE });
      await store.transition(
        key,
        move('processing', 'processing', 11, { inFlight: false, patch: { inFlight: true } }),
      );
      const next = providerOrderId(key, 2);
      const result = await store.transition(
        key,
        move('processing', 'processing', 12, {
          inFlight: true,
          patch: { inFlight: false, switchProvider: { provider: 'telgoo5', providerOrderId: next } },
        }),
      );
      expect(result.applied).toBe(true);
      expect(result.applied && result.order).toMatchObject({
        provider: 'telgoo5',
        providerOrderId: next,
        inFlight: false,
      });
    });

    it('refuses a switch outside a processing -> processing event that expects inFlight: false', async () => {
      const key = { clientId: 'shop-1', orderId: 'misplaced' };
      const before = await orderIn(store, key, 'processing', 0, { route: ROUTE });
      const switchProvider = { provider: 'telgoo5', providerOrderId: providerOrderId(key, 2) };
      const commands: TransitionCommand[] = [
        // No inFlight expectation: the old provider's call might still be running.
        move('processing', 'processing', 10, { patch: { switchProvider } }),
        move('processing', 'processing', 10, { inFlight: true, patch: { switchProvider } }),
        move('processing', 'failed', 10, { inFlight: false, patch: { switchProvider } }),
        move('processing', 'pending', 10, { inFlight: false, patch: { switchProvider } }),
        move('queued', 'processing', 10, { inFlight: false, patch: { switchProvider } }),
        move('processing', 'processing', 10, {
          inFlight: false,
          patch: { switchProvider: { provider: 'telgoo5', providerOrderId: '' } },
        }),
        move('processing', 'processing', 10, {
          inFlight: false,
          patch: { switchProvider: { provider: '', providerOrderId: providerOrderId(key, 2) } },
        }),
      ];
      for (const [i, command] of commands.entries()) {
        await expect(store.transition(key, command), `command ${i}`).rejects.toThrow(RangeError);
      }
      expect(await store.getOrder(key)).toStrictEqual(before);
      expect(await store.getOrderByProviderOrderId(switchProvider.providerOrderId)).toBeNull();
    });

    it('applies exactly one of 10 concurrent switches from the same expected condition', async () => {
      const key = { clientId: 'shop-1', orderId: 'racing' };
      const before = await orderIn(store, key, 'processing', 0, { route: ROUTE });
      // Every worker derives the same next id: one switch, nine conflicts.
      const next = providerOrderId(key, 2);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.transition(key, failover(10, 'telgoo5', next))),
      );
      expect(results.filter((result) => result.applied)).toHaveLength(1);
      for (const result of results) {
        if (!result.applied) expect(result.reason).toBe('conflict');
      }
      const stored = await store.getOrder(key);
      expect(stored).toMatchObject({
        provider: 'telgoo5',
        providerOrderId: next,
        version: before.version + 1,
      });
      expect(stored?.history).toHaveLength(before.history.length + 1);

      // Ten different switches that each start the call: the first wins, the others claim nothing.
      const targets = Array.from({ length: 10 }, (_, i) => providerOrderId(key, 10 + i));
      const starts = await Promise.all(
        targets.map((id, i) =>
          store.transition(
            key,
            failover(20, i % 2 === 0 ? 'another' : 'a1topup', id, {
              inFlight: true,
              incrementAttempts: true,
            }),
          ),
        ),
      );
      const winners = starts.filter((result) => result.applied);
      expect(winners).toHaveLength(1);
      const final = await store.getOrder(key);
      expect(final).toMatchObject({ inFlight: true, attempts: 1, version: before.version + 2 });
      expect(final?.history).toHaveLength(before.history.length + 2);
      for (const id of targets) {
        const owner = await store.getOrderByProviderOrderId(id);
        if (id === final?.providerOrderId) expect(owner).toStrictEqual(final);
        else expect(owner, id).toBeNull();
      }
    });
  });

  describe('attempt-pinned writes', () => {
    it('applies a write pinned to the current attempt and refuses one pinned to an attempt the order left', async () => {
      const key = { clientId: 'shop-1', orderId: 'pinned' };
      const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
      const first = order.providerOrderId;
      const pinned = (pin: string, seconds: number): TransitionCommand => ({
        ...move('processing', 'success', seconds, { providerStatus: 'Success' }),
        expect: { state: 'processing', providerOrderId: pin },
      });
      const second = providerOrderId(key, 2);
      const switched = await applied(store, key, failover(5, 'telgoo5', second));

      // The answer about attempt 1 arrives after the failover: refused, nothing changed.
      const stale = await store.transition(key, pinned(first, 6));
      expect(stale).toStrictEqual({ applied: false, reason: 'conflict', order: switched });
      expect(await store.getOrder(key)).toStrictEqual(switched);

      const current = await store.transition(key, pinned(second, 7));
      expect(current.applied).toBe(true);
      if (current.applied) expect(current.order).toMatchObject({ state: 'success', providerOrderId: second });
      await expect(store.transition(key, { ...pinned('', 8) })).rejects.toThrow(RangeError);
    });

    it('pins a switch too: a failover named after an attempt the order left is a conflict', async () => {
      const key = { clientId: 'shop-1', orderId: 'pinned-switch' };
      const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
      const moved = await applied(store, key, failover(5, 'telgoo5', providerOrderId(key, 2)));
      const late: TransitionCommand = {
        ...failover(6, 'another', providerOrderId(key, 3)),
        expect: { state: 'processing', inFlight: false, providerOrderId: order.providerOrderId },
      };
      expect(await store.transition(key, late)).toStrictEqual({
        applied: false,
        reason: 'conflict',
        order: moved,
      });
      expect(await store.getOrderByProviderOrderId(providerOrderId(key, 3))).toBeNull();
    });

    it('fails a pending order over only with a switch, with nothing in flight', async () => {
      const key = { clientId: 'shop-1', orderId: 'pending-failover' };
      const pending = await orderIn(store, key, 'pending', 0, { route: ROUTE });
      await expect(store.transition(key, move('pending', 'processing', 10))).rejects.toThrow(RangeError);
      const second = providerOrderId(key, 2);
      const switching = (inFlight: boolean | undefined): TransitionCommand => ({
        expect: { state: 'pending', providerOrderId: pending.providerOrderId },
        to: 'processing',
        patch: { switchProvider: { provider: 'telgoo5', providerOrderId: second }, inFlight },
        entry: { at: at(11), source: 'poller', note: 'status check: refused; failing over' },
      });
      await expect(store.transition(key, switching(true))).rejects.toThrow(RangeError);
      expect(await store.getOrder(key)).toStrictEqual(pending);
      const moved = await applied(store, key, switching(false));
      expect(moved).toMatchObject({
        state: 'processing',
        inFlight: false,
        provider: 'telgoo5',
        providerOrderId: second,
      });
      expect(moved.nextCheckAt).toBeUndefined();
      expect(await store.getOrderByProviderOrderId(pending.providerOrderId)).toStrictEqual(moved);
      expect(ids(await store.findStale('pending', at(1_000), 10))).toEqual([]);
      expect(await store.claimDueChecks({ limit: 10, intervalsMs: [1] })).toEqual([]);
    });

    it('books a charge proven after the order failed: failed -> success and failed -> manual_review', async () => {
      const proven = await orderIn(store, { clientId: 'shop-1', orderId: 'late-charge' }, 'failed');
      const booked = await applied(store, proven, {
        expect: { state: 'failed', providerOrderId: proven.providerOrderId },
        to: 'success',
        patch: { providerStatus: 'Success', providerRef: 'OP9' },
        entry: {
          at: at(50),
          source: 'poller',
          note: 'charge proven by the status API',
          providerStatus: 'Success',
        },
      });
      expect(booked).toMatchObject({ state: 'success', providerRef: 'OP9' });
      const reported = await orderIn(store, { clientId: 'shop-1', orderId: 'late-report' }, 'failed');
      const review = await applied(
        store,
        reported,
        move('failed', 'manual_review', 51, { source: 'callback' }),
      );
      expect(review.state).toBe('manual_review');
    });
  });
}
