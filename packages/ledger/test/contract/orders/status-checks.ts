import { beforeEach, describe, expect, it } from 'vitest';
import type { OrderStore } from '../../../src/orders/order-store.ts';
import { applied, ids, keyOf, type LiveFixture, move, ms, orderIn, sleep, toPending } from '../fixtures.ts';

/** The status-check schedule of pending orders. */
export function orderStatusCheckContract(live: LiveFixture): void {
  let store: OrderStore;

  beforeEach(() => {
    store = live.store;
  });

  describe('status checks of pending orders', () => {
    it('entering pending sets pendingSince and nextCheckAt by the store clock; leaving clears the schedule', async () => {
      const before = Date.now();
      const pending = await toPending(store, 'p1', 60_000);
      // The store's clock, not the entry's time (which is in 2026-01-01): near this machine's clock.
      expect(Math.abs(ms(pending.pendingSince) - before)).toBeLessThan(60_000);
      expect(ms(pending.nextCheckAt) - ms(pending.pendingSince)).toBe(60_000);
      expect(pending.statusChecks).toBe(0);
      expect(await store.getOrder(keyOf(pending))).toStrictEqual(pending);

      // An event while pending keeps the schedule; one with checkAfterMs moves only the next check.
      const noted = await applied(
        store,
        keyOf(pending),
        move('pending', 'pending', 11, { note: 'still pending' }),
      );
      expect(noted).toMatchObject({ pendingSince: pending.pendingSince, nextCheckAt: pending.nextCheckAt });
      const moved = await applied(
        store,
        keyOf(pending),
        move('pending', 'pending', 12, { patch: { checkAfterMs: 120_000 } }),
      );
      expect(moved.pendingSince).toBe(pending.pendingSince);
      expect(ms(moved.nextCheckAt) - ms(pending.pendingSince)).toBeGreaterThanOrEqual(120_000);

      const settled = await applied(store, keyOf(pending), move('pending', 'success', 13));
      expect(settled).not.toHaveProperty('nextCheckAt');
      expect(settled.pendingSince).toBe(pending.pendingSince);
      expect(await store.getOrder(keyOf(pending))).toStrictEqual(settled);

      // Without checkAfterMs the first check is due at once.
      const now = await toPending(store, 'p2');
      expect(now.nextCheckAt).toBe(now.pendingSince);
      const review = await applied(store, keyOf(now), move('pending', 'manual_review', 14));
      expect(review).not.toHaveProperty('nextCheckAt');
      expect(await store.claimDueChecks({ limit: 10, intervalsMs: [50] })).toEqual([]);
    });

    it('refuses checkAfterMs outside a move to pending, and a negative one', async () => {
      const key = { clientId: 'shop-1', orderId: 'bad-schedule' };
      const before = await orderIn(store, key, 'processing');
      await expect(
        store.transition(key, move('processing', 'success', 5, { patch: { checkAfterMs: 10 } })),
      ).rejects.toThrow(RangeError);
      await expect(
        store.transition(key, move('processing', 'pending', 5, { patch: { checkAfterMs: -1 } })),
      ).rejects.toThrow(RangeError);
      expect(await store.getOrder(key)).toStrictEqual(before);
    });

    it('claims only due pending orders, up to the limit, counting each check', async () => {
      const a = await toPending(store, 'due-a', 0);
      const b = await toPending(store, 'due-b', 0);
      const later = await toPending(store, 'later', 60_000);
      await orderIn(store, { clientId: 'shop-1', orderId: 'busy' }, 'processing');
      await orderIn(store, { clientId: 'shop-1', orderId: 'done' }, 'success');
      await orderIn(store, { clientId: 'shop-1', orderId: 'review' }, 'manual_review');

      const first = await store.claimDueChecks({ limit: 1, intervalsMs: [50, 60_000] });
      expect(first).toHaveLength(1);
      const rest = await store.claimDueChecks({ limit: 10, intervalsMs: [50, 60_000] });
      expect(ids([...first, ...rest]).sort()).toEqual(['due-a', 'due-b']);
      for (const order of [...first, ...rest]) {
        expect(order.state).toBe('pending');
        expect(order.statusChecks).toBe(1);
        // Counted and moved, nothing else: no history entry, same version.
        const original = order.orderId === 'due-a' ? a : b;
        expect(order.version).toBe(original.version);
        expect(order.history).toStrictEqual(original.history);
        expect(order.pendingSince).toBe(original.pendingSince);
        expect(await store.getOrder(keyOf(order))).toStrictEqual(order);
      }
      // Not due again until its next interval; `later` is not due yet at all.
      expect(await store.claimDueChecks({ limit: 10, intervalsMs: [50, 60_000] })).toEqual([]);
      expect(await store.getOrder(keyOf(later))).toStrictEqual(later);

      await expect(store.claimDueChecks({ limit: 0, intervalsMs: [50] })).rejects.toThrow(RangeError);
      await expect(store.claimDueChecks({ limit: 1_001, intervalsMs: [50] })).rejects.toThrow(RangeError);
      await expect(store.claimDueChecks({ limit: 5, intervalsMs: [] })).rejects.toThrow(RangeError);
      await expect(store.claimDueChecks({ limit: 5, intervalsMs: [0] })).rejects.toThrow(RangeError);
    });

    it('moves the next check out by the schedule: after check n, intervalsMs[min(n, len - 1)]', async () => {
      // Distinct intervals, so a wrong index shows; margins of 100+ ms for a slow machine.
      const intervalsMs = [50, 300, 100];
      const pending = await toPending(store, 'schedule', 0);
      const claim = async () => store.claimDueChecks({ limit: 10, intervalsMs });

      const [first] = await claim();
      expect(first?.statusChecks).toBe(1);
      // Claimed at or after it was due (pendingSince): the next is 300 ms (intervalsMs[1]) after that.
      const gap1 = ms(first?.nextCheckAt) - ms(pending.pendingSince);
      expect(gap1).toBeGreaterThanOrEqual(300);
      expect(gap1).toBeLessThan(300 + 1_000);
      expect(await claim()).toEqual([]);

      await sleep(150);
      expect(await claim()).toEqual([]);
      await sleep(170);
      const [second] = await claim();
      expect(second?.statusChecks).toBe(2);
      // Claimed at or after first.nextCheckAt: the next is 100 ms (intervalsMs[2]) after that.
      const gap2 = ms(second?.nextCheckAt) - ms(first?.nextCheckAt);
      expect(gap2).toBeGreaterThanOrEqual(100);
      expect(gap2).toBeLessThan(300);

      await sleep(120);
      const [third] = await claim();
      expect(third?.statusChecks).toBe(3);
      // The last interval repeats.
      expect(ms(third?.nextCheckAt) - ms(second?.nextCheckAt)).toBeGreaterThanOrEqual(100);
      expect(await store.getOrder(keyOf(pending))).toStrictEqual(third);
    });

    it('hands each of 10 due orders to exactly one of 5 concurrent claimers', async () => {
      for (let i = 0; i < 10; i += 1) await toPending(store, `race-${i}`, 0);
      const claims = await Promise.all(
        Array.from({ length: 5 }, () => store.claimDueChecks({ limit: 4, intervalsMs: [60_000] })),
      );
      const all = claims.flat();
      expect(all).toHaveLength(10);
      expect(new Set(ids(all)).size).toBe(10);
      for (const order of all) expect(order.statusChecks).toBe(1);
      expect(await store.claimDueChecks({ limit: 10, intervalsMs: [60_000] })).toEqual([]);
    });
  });
}
