import { randomUUID } from 'node:crypto';
import { type Order, type OrderKey, orderKeyId, providerOrderId } from '@rechargeflow/domain';
import { deleteByPrefix } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerStore } from '../src/ledger-store.ts';
import { createMongoOrderRetention } from '../src/orders/mongo-order-retention.ts';
import { OrderArchivedError } from '../src/orders/order-archived-error.ts';
import { ARCHIVABLE_STATES, isArchivableState } from '../src/orders/order-retention.ts';
import { createRedisLedgerStore } from '../src/redis-ledger-store.ts';
import { applied, at, move, newOrder, orderIn } from './contract/fixtures.ts';

/**
 * The retention's removal script (orders/retention-scripts.ts) against the real Redis: an archived
 * order goes completely, only while it is exactly as archived; its claims stay as its tombstone;
 * batch counts stay right.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN_PREFIX = `rf-test:retention-script:${randomUUID()}`;
/** After every order these tests write (they are written at the fixtures' times, 2026-01-01 on). */
const CUTOFF = at(10_000);
const DAY_MS = 86_400_000;

let redis: Redis;
let store: LedgerStore;
let prefix: string;
let run = 0;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  await deleteByPrefix(redis, RUN_PREFIX);
  await redis.quit();
});

beforeEach(async () => {
  run += 1;
  prefix = `${RUN_PREFIX}:${run}`;
  store = createRedisLedgerStore({ redis, prefix });
  await store.init();
});

afterEach(async () => {
  await deleteByPrefix(redis, `${prefix}:`);
});

const key = (orderId: string): OrderKey => ({ clientId: 'shop-1', orderId });

/** Every key of the order (by its key id or its first provider orderid) and every index entry. */
async function keysOf(order: OrderKey): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  const keyId = orderKeyId(order);
  const members: string[] = [];
  for (const each of found) {
    const type = await redis.type(each);
    if (each.includes(keyId) || each.includes(providerOrderId(order))) members.push(each);
    else if (type === 'zset' && (await redis.zscan(each, '0', 'MATCH', `*${keyId}*`))[1].length > 0) {
      members.push(`${each} (member)`);
    }
  }
  return members.sort();
}

function remove(order: Order, tombstoneMs = DAY_MS, updatedBefore = CUTOFF) {
  return store.removeArchivedOrder({ order, updatedBefore, tombstoneMs });
}

describe('removing an archived order', () => {
  it('takes the order, its history and every index entry in one write, and keeps its claim as a tombstone', async () => {
    const order = await orderIn(store, key('gone'), 'success');
    const other = await orderIn(store, key('stays'), 'success');
    expect(await keysOf(order)).not.toEqual([]);

    expect(await remove(order)).toBe('removed');

    const claim = `${prefix}:provider-order:${providerOrderId(order)}`;
    // Nothing of the order is left but its provider-order claim, which now expires.
    expect(await keysOf(order)).toEqual([claim]);
    const ttl = await redis.pttl(claim);
    expect(ttl).toBeGreaterThan(DAY_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(DAY_MS);
    expect(await store.getOrder(order)).toBeNull();
    expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toBeNull();
    expect(await store.isArchived(order)).toBe(true);
    expect(await store.isArchived(other)).toBe(false);
    expect(await store.isArchived(key('never-was'))).toBe(false);
    // The other order is untouched, and the lists page without the removed one.
    expect(await store.getOrder(other)).toStrictEqual(other);
    expect((await store.listOrders('shop-1', { limit: 10 })).orders).toStrictEqual([other]);
    expect((await store.countInState('success')).count).toBe(1);
    // The id cannot make a new order while the tombstone stands: it would be sent as the same RF id.
    await expect(store.createOrder(newOrder('shop-1', 'gone', 20_000))).rejects.toBeInstanceOf(
      OrderArchivedError,
    );
    await expect(store.createOrders([newOrder('shop-1', 'gone', 20_000)])).rejects.toBeInstanceOf(
      OrderArchivedError,
    );
    // Removing it again finds nothing.
    expect(await remove(order)).toBe('not_found');
  });

  it('refuses when the order changed after it was read: a callback note, a reversal, a newer change', async () => {
    const noted = await orderIn(store, key('noted'), 'success');
    await store.appendHistory(noted, { at: at(100), source: 'callback', note: 'late callback' });
    expect(await remove(noted)).toBe('changed');
    expect((await store.getOrder(noted))?.history.at(-1)?.note).toBe('late callback');

    const reversed = await orderIn(store, key('reversed'), 'success');
    await applied(store, reversed, move('success', 'reversed', 100));
    expect(await remove(reversed)).toBe('changed');
    expect((await store.getOrder(reversed))?.state).toBe('reversed');

    // Read while failed, then corrected to success by an operator: the stale copy must not win.
    const corrected = await orderIn(store, key('corrected'), 'failed');
    await applied(store, corrected, move('failed', 'success', 100, { source: 'operator' }));
    expect(await remove(corrected)).toBe('changed');

    // Not past the cutoff by its own index entry (the caller's cutoff is the only age asked).
    const young = await orderIn(store, key('young'), 'failed');
    expect(await remove(young, DAY_MS, young.updatedAt)).toBe('changed');
    for (const order of [noted, reversed, corrected, young])
      expect(await store.getOrder(order)).not.toBeNull();
  });

  it('refuses an order that is not final, before writing anything', async () => {
    const pending = await orderIn(store, key('pending'), 'pending');
    await expect(remove(pending)).rejects.toBeInstanceOf(RangeError);
    const review = await orderIn(store, key('review'), 'manual_review');
    await expect(remove(review)).rejects.toBeInstanceOf(RangeError);
    expect(await store.getOrder(pending)).toStrictEqual(pending);
    expect(await store.getOrder(review)).toStrictEqual(review);
  });

  it('keeps every claim of a failed-over order, and none without expiry when asked to keep them for good', async () => {
    const route = ['a1topup', 'a1topup_backup'];
    const k = key('failover');
    await orderIn(store, k, 'processing', 0, { route });
    const second = providerOrderId(k, 2);
    await applied(
      store,
      k,
      move('processing', 'processing', 5, {
        inFlight: false,
        patch: { switchProvider: { provider: 'a1topup_backup', providerOrderId: second } },
      }),
    );
    const order = await applied(store, k, move('processing', 'success', 6));
    expect(await remove(order, 0)).toBe('removed');
    for (const id of [providerOrderId(k, 1), second]) {
      expect(await redis.get(`${prefix}:provider-order:${id}`)).toBe(orderKeyId(k));
      expect(await redis.pttl(`${prefix}:provider-order:${id}`)).toBe(-1);
    }
    expect(await store.isArchived(k)).toBe(true);
  });

  it("leaves a batch's counts right: an archived member keeps counting under its final state", async () => {
    const batchId = 'b_retention1';
    const created = await store.createOrders(
      ['m1', 'm2', 'm3'].map((orderId) => ({ ...newOrder('shop-1', orderId, 1), batchId })),
    );
    expect(created.every((result) => result.created)).toBe(true);
    for (const orderId of ['m1', 'm2']) {
      await applied(store, key(orderId), move('queued', 'processing', 2));
      await applied(store, key(orderId), move('processing', orderId === 'm1' ? 'success' : 'failed', 3));
    }
    expect(await store.batchStates(batchId)).toStrictEqual({ success: 1, failed: 1, queued: 1 });
    const m1 = await store.getOrder(key('m1'));
    expect(m1 && (await remove(m1))).toBe('removed');
    expect(await store.batchStates(batchId)).toStrictEqual({ success: 1, failed: 1, queued: 1 });
    // The live members go on moving the counts as before.
    await applied(store, key('m3'), move('queued', 'processing', 4));
    await applied(store, key('m3'), move('processing', 'success', 5));
    expect(await store.batchStates(batchId)).toStrictEqual({ success: 2, failed: 1 });
  });

  it('archives exactly the settled states, and the MongoDB ledger refuses to remove', async () => {
    expect([...ARCHIVABLE_STATES].sort()).toEqual(['failed', 'reversed', 'success']);
    expect(isArchivableState('manual_review')).toBe(false);
    const order = await orderIn(store, key('x'), 'success');
    await expect(
      createMongoOrderRetention().removeArchivedOrder({ order, updatedBefore: CUTOFF, tombstoneMs: 0 }),
    ).rejects.toThrow(/MongoDB ledger keeps every order/);
    expect(await createMongoOrderRetention().isArchived(order)).toBe(false);
  });
});
