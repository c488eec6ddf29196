import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { orderKeyId, paise, providerOrderId, requestFingerprint } from '@rechargeflow/domain';
import { RedisEvictionPolicyError } from '@rechargeflow/queue';
import { deleteByPrefix, freePort } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProviderOrderIdConflictError } from '../src/ledger-errors.ts';
import { OrderArchivedError } from '../src/orders/order-archived-error.ts';
import { FILTER_SCAN_BUDGET } from '../src/orders/redis-order-queries.ts';
import { ensureCompactHashes } from '../src/redis/compact-hashes.ts';
import { createRedisLedgerStore } from '../src/redis-ledger-store.ts';
import { describeLedgerContract } from './contract/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Everything this file writes lives under this prefix, removed at the end. */
const RUN_PREFIX = `rf-test:ledger:${randomUUID()}`;

let redis: Redis;
let stores = 0;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  if (redis === undefined) return;
  await deleteByPrefix(redis, RUN_PREFIX);
  await redis.quit();
});

describeLedgerContract('Redis', async () => {
  stores += 1;
  const prefix = `${RUN_PREFIX}:${stores}`;
  const store = createRedisLedgerStore({ redis, prefix });
  await store.init();
  return {
    store,
    async makeLegacy(key) {
      await redis.hdel(`${prefix}:order:${orderKeyId(key)}`, 'route');
    },
    async cleanup() {
      await store.close();
      await deleteByPrefix(redis, `${prefix}:`);
    },
  };
});

describe('Redis ledger store specifics', () => {
  it('keeps every key under its prefix, history as JSON strings in the order hash, and cleans up by prefix', async () => {
    const prefix = `${RUN_PREFIX}:layout`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const key = { clientId: 'shop:1', orderId: 'a' };
    const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
    await store.createOrder({
      ...key,
      providerOrderId: providerOrderId(key),
      provider: 'a1topup',
      request,
      fingerprint: requestFingerprint(request),
      now: '2026-01-01T00:00:00.000Z',
    });

    const keyId = orderKeyId(key);
    // Since layout 3 the history is in the order's hash (h1..hN, hn = N), not in a list of its own.
    expect(await redis.exists(`${prefix}:history:${keyId}`)).toBe(0);
    expect(await redis.type(`${prefix}:order:${keyId}`)).toBe('hash');
    // A ':' in a client id cannot reach into another client's keys.
    expect(await redis.exists(`${prefix}:client:shop%3A1:orders`)).toBe(1);
    expect(await redis.hget(`${prefix}:order:${keyId}`, 'hn')).toBe('1');
    const entry = await redis.hget(`${prefix}:order:${keyId}`, 'h1');
    // Compact: [at, from, to, source, note] (history-encoding.ts).
    expect(JSON.parse(entry ?? 'null')).toEqual([
      '2026-01-01T00:00:00.000Z',
      null,
      'queued',
      'api',
      'order accepted',
    ]);
    // Small enough for Redis's compact hash encoding (see ensureCompactHashes).
    expect(await redis.object('ENCODING', `${prefix}:order:${keyId}`)).toBe('listpack');
    const moved = await store.transition(key, {
      expect: { state: 'queued' },
      to: 'processing',
      entry: { at: '2026-01-01T00:00:01.000Z', source: 'worker', note: 'sending' },
    });
    expect(moved.applied && moved.order.history.map((h) => h.to)).toEqual(['queued', 'processing']);
    expect(await redis.hmget(`${prefix}:order:${keyId}`, 'hn', 'h2')).toEqual([
      '2',
      expect.stringContaining('"sending"'),
    ]);
    expect((await store.getOrder(key))?.history).toEqual(moved.applied ? moved.order.history : null);

    // Besides the order's own keys: the client registry (no list of every order since layout 4),
    // and the layout version set by init().
    expect(await redis.smembers(`${prefix}:clients`)).toEqual(['shop:1']);
    expect(await redis.exists(`${prefix}:orders:created`)).toBe(0);
    expect(await redis.get(`${prefix}:meta:layout`)).toBe('4');
    // Nothing stored that reads back computed: the fingerprint is the request's, createdAt is h1's.
    expect(await redis.hmget(`${prefix}:order:${keyId}`, 'fingerprint', 'createdAt')).toEqual([null, null]);
    expect(await store.getOrder(key)).toMatchObject({
      fingerprint: requestFingerprint(request),
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    // A ledger a later release brought to a newer layout is refused, not misread.
    await redis.set(`${prefix}:meta:layout`, '5');
    await expect(createRedisLedgerStore({ redis, prefix }).init()).rejects.toThrow(/layout 5/);
    await redis.set(`${prefix}:meta:layout`, '4');
    // order, claim, client list, client registry, processing-by-updatedAt set, layout.
    expect(await deleteByPrefix(redis, `${prefix}:`)).toBe(6);
    expect(await store.getOrder(key)).toBeNull();
  });

  it('keeps batches under the prefix: binary upload chunks, row chunks, membership on the order hash', async () => {
    const prefix = `${RUN_PREFIX}:batch-layout`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const bytes = Buffer.from([0, 0xff, 0x80, 10]);
    await store.putUploadChunk('b_1', 0, bytes, { clientId: 'shop-1', leaseMs: 60_000 });
    expect(await redis.getBuffer(`${prefix}:batch:b_1:upload:0`)).toEqual(bytes);
    // Until the batch exists, the chunk and its lease record expire with the lease.
    for (const key of [`${prefix}:batch:b_1:upload:0`, `${prefix}:batch:b_1:upload-lease`]) {
      expect(await redis.pttl(key)).toBeGreaterThan(55_000);
    }
    expect(await redis.zscore(`${prefix}:uploads:leases`, 'shop-1 b_1')).not.toBeNull();
    await store.createBatch({
      clientId: 'shop-1',
      batchId: 'b_1',
      contentHash: 'h',
      bytes: 4,
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    // Committed: the chunk lives as long as its batch; the lease record and entries are gone.
    expect(await redis.pttl(`${prefix}:batch:b_1:upload:0`)).toBe(-1);
    expect(await redis.exists(`${prefix}:batch:b_1:upload-lease`)).toBe(0);
    expect(await redis.zcard(`${prefix}:uploads:leases`)).toBe(0);
    expect(await redis.hgetall(`${prefix}:client:shop-1:pending-uploads`)).toEqual({ b_1: '4' });
    await store.commitRows(
      'b_1',
      [{ row: 1, cells: { orderId: 'a' }, orderId: 'a' }],
      '2026-01-01T00:00:01.000Z',
    );
    expect(JSON.parse((await redis.get(`${prefix}:batch:b_1:rows:1`)) ?? 'null')).toEqual([
      { row: 1, cells: { orderId: 'a' }, orderId: 'a' },
    ]);
    const order = (orderId: string, batchId: string) =>
      shopOrder(orderId, '2026-01-01T00:00:00.000Z', { batchId });
    await store.createOrders([order('a', 'b 1:x')]);
    await store.linkOrders('b_1', [{ clientId: 'shop-1', orderId: 'a' }]);
    // Ids are URI-encoded: a space or ':' in a batch id can neither split the list nor forge a key.
    expect(
      await redis.hget(`${prefix}:order:${orderKeyId({ clientId: 'shop-1', orderId: 'a' })}`, 'batches'),
    ).toBe('b%201%3Ax b_1');
    expect(await redis.hgetall(`${prefix}:batch:b%201%3Ax:states`)).toEqual({ queued: '1' });
    expect(await store.batchStates('b 1:x')).toEqual({ queued: 1 });
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('keeps webhooks under the prefix: an outbox stream of keys only, deliveries that expire', async () => {
    const prefix = `${RUN_PREFIX}:webhooks`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const key = { clientId: 'shop-1', orderId: 'a' };
    const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
    await store.createOrder({
      ...key,
      providerOrderId: providerOrderId(key),
      provider: 'a1topup',
      request,
      fingerprint: requestFingerprint(request),
      now: '2026-01-01T00:00:00.000Z',
    });
    for (const [from, to] of [
      ['queued', 'processing'],
      ['processing', 'success'],
    ] as const) {
      await store.transition(key, {
        expect: { state: from },
        to,
        entry: { at: '2026-01-01T00:00:01.000Z', source: 'worker' },
      });
    }
    // The transition script wrote the entry: the order's key, version and state (the entry id is the time), nothing else.
    const stream = await redis.xrange(`${prefix}:webhook:outbox`, '-', '+');
    expect(stream).toHaveLength(1);
    const fields = stream[0]?.[1] ?? [];
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['clientId', 'orderId', 'version', 'state']);
    expect(fields.join(' ')).not.toContain('9876543210');
    await store.ackOutbox([stream[0]?.[0] ?? '']);
    expect(await redis.xlen(`${prefix}:webhook:outbox`)).toBe(0);

    const delivery = (id: string, second: number) => ({
      id,
      endpointId: 'we:1',
      clientId: 'shop-1',
      eventId: `evt_${id}`,
      type: 'order.succeeded' as const,
      subject: { kind: 'order' as const, orderId: 'a', version: 3 },
      createdAt: `2026-01-01T00:00:0${second}.000Z`,
      state: 'pending' as const,
      attempts: [],
      updatedAt: `2026-01-01T00:00:0${second}.000Z`,
    });
    for (const [i, id] of ['wd_1', 'wd_2', 'wd_3', 'wd_4'].entries())
      await store.createDelivery(delivery(id, i));
    await store.recordAttempt(
      'wd_1',
      { at: '2026-01-01T00:00:05.000Z', durationMs: 1, status: 500 },
      'pending',
    );
    const day = 24 * 60 * 60 * 1000;
    const ttl = await redis.pttl(`${prefix}:webhook:delivery:wd_1`);
    expect(ttl).toBeGreaterThan(30 * day - 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * day);
    const attemptsTtl = await redis.pttl(`${prefix}:webhook:delivery:wd_1:attempts`);
    expect(attemptsTtl).toBeGreaterThan(0);
    expect(attemptsTtl).toBeLessThanOrEqual(ttl);
    // The endpoint id is URI-encoded in its index key, which expires with its deliveries.
    const index = `${prefix}:webhook:endpoint:we%3A1:deliveries`;
    expect(await redis.pttl(index)).toBeGreaterThan(30 * day - 60_000);

    // Deliveries that expired leave the index: listed past, or the two oldest at the next create.
    await redis.del(`${prefix}:webhook:delivery:wd_3`);
    expect((await store.listDeliveries('we:1', { limit: 10 })).deliveries.map((each) => each.id)).toEqual([
      'wd_4',
      'wd_2',
      'wd_1',
    ]);
    expect(await redis.zcard(index)).toBe(3);
    await redis.del(`${prefix}:webhook:delivery:wd_1`, `${prefix}:webhook:delivery:wd_2`);
    await store.createDelivery(delivery('wd_5', 6));
    expect(await redis.zrange(index, '0', '-1')).toEqual([
      expect.stringMatching(/:wd_4$/),
      expect.stringMatching(/:wd_5$/),
    ]);
    // The pending index holds every pending delivery; those that expired leave it at the next scan.
    const pending = `${prefix}:webhook:pending`;
    expect(await redis.zcard(pending)).toBe(5);
    expect((await store.scanPendingDeliveries('2027-01-01T00:00:00.000Z', 10)).ids).toEqual(['wd_4', 'wd_5']);
    expect(await redis.zrange(pending, '0', '-1')).toEqual(['wd_4', 'wd_5']);
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('runs the creations and transitions started together as one script each, every caller answered alone', async () => {
    const prefix = `${RUN_PREFIX}:batched`;
    const client = redis.duplicate();
    await client.connect();
    const store = createRedisLedgerStore({ redis: client, prefix });
    await store.init();
    const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
    const order = (orderId: string, poid = providerOrderId({ clientId: 'shop-1', orderId })) => ({
      clientId: 'shop-1',
      orderId,
      providerOrderId: poid,
      provider: 'a1topup',
      route: ['a1topup', 'telgoo5'],
      request,
      fingerprint: requestFingerprint(request),
      now: '2026-01-01T00:00:00.000Z',
    });
    const scripts = vi.spyOn(client, 'evalsha');
    const made = await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.createOrder(order(id))));
    expect(made.map((result) => result.created)).toEqual([true, true, true, true]);
    expect(scripts).toHaveBeenCalledTimes(1);

    // One order's providerOrderId is held by another: it alone is refused, the others are made.
    scripts.mockClear();
    const [e, taken, f] = await Promise.allSettled([
      store.createOrder(order('e')),
      store.createOrder(order('taken', order('a').providerOrderId)),
      store.createOrder(order('f')),
    ]);
    expect(taken?.status === 'rejected' && taken.reason).toBeInstanceOf(ProviderOrderIdConflictError);
    expect([e?.status, f?.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(await store.getOrder({ clientId: 'shop-1', orderId: 'taken' })).toBeNull();

    // An archived key is refused alone; the order made beside it in the same run is answered made.
    const gone = await store.transition(
      { clientId: 'shop-1', orderId: 'e' },
      {
        expect: { state: 'queued' },
        to: 'processing',
        entry: { at: '2026-01-01T00:00:01.000Z', source: 'worker' },
      },
    );
    const failed = await store.transition(
      { clientId: 'shop-1', orderId: 'e' },
      {
        expect: { state: 'processing' },
        to: 'failed',
        entry: { at: '2026-01-01T00:00:02.000Z', source: 'worker' },
      },
    );
    expect(gone.applied && failed.applied).toBe(true);
    if (!failed.applied) return;
    expect(
      await store.removeArchivedOrder({
        order: failed.order,
        updatedBefore: '2026-02-01T00:00:00.000Z',
        tombstoneMs: 0,
      }),
    ).toBe('removed');
    const [archived, beside] = await Promise.allSettled([
      store.createOrder(order('e')),
      store.createOrder(order('beside')),
    ]);
    expect(archived?.status === 'rejected' && archived.reason).toBeInstanceOf(OrderArchivedError);
    expect(beside?.status === 'fulfilled' && beside.value.created).toBe(true);

    // Transitions: one script for all; a conflict and a failing order are theirs alone.
    const keyOf = (orderId: string) => ({ clientId: 'shop-1', orderId });
    await store.transition(keyOf('c'), {
      expect: { state: 'queued' },
      to: 'processing',
      entry: { at: '2026-01-01T00:00:01.000Z', source: 'worker' },
    });
    // Its route cannot be read any more (the failover below decodes it in the script).
    await client.hset(`${prefix}:order:${orderKeyId(keyOf('c'))}`, 'route', 'not json');
    scripts.mockClear();
    const at = '2026-01-01T00:00:02.000Z';
    const [a, b, c, d] = await Promise.allSettled([
      store.transition(keyOf('a'), {
        expect: { state: 'queued' },
        to: 'processing',
        entry: { at, source: 'worker' },
      }),
      store.transition(keyOf('b'), {
        expect: { state: 'pending' },
        to: 'failed',
        entry: { at, source: 'worker' },
      }),
      // A failover reads the route: this order's cannot be read, so its part fails.
      store.transition(keyOf('c'), {
        expect: { state: 'processing', inFlight: false },
        to: 'processing',
        patch: { switchProvider: { provider: 'telgoo5', providerOrderId: providerOrderId(keyOf('c'), 2) } },
        entry: { at, source: 'worker' },
      }),
      store.transition(keyOf('d'), {
        expect: { state: 'queued' },
        to: 'processing',
        entry: { at, source: 'worker' },
      }),
    ]);
    expect(scripts).toHaveBeenCalledTimes(1);
    expect(a?.status === 'fulfilled' && a.value.applied).toBe(true);
    expect(b?.status === 'fulfilled' && !b.value.applied && b.value.reason).toBe('conflict');
    expect(c?.status).toBe('rejected');
    expect(d?.status === 'fulfilled' && d.value.applied).toBe(true);
    for (const [id, state] of [
      ['a', 'processing'],
      ['b', 'queued'],
      ['d', 'processing'],
    ] as const) {
      expect((await store.getOrder(keyOf(id)))?.state).toBe(state);
    }
    expect(await client.hmget(`${prefix}:order:${orderKeyId(keyOf('c'))}`, 'state', 'version')).toEqual([
      'processing',
      '2',
    ]);
    // The index moves were made for every applied part: c (before), a and d now.
    expect((await client.zrange(`${prefix}:state:processing:updated`, '0', '-1')).sort()).toEqual(
      ['a', 'c', 'd'].map((id) => orderKeyId(keyOf(id))).sort(),
    );
    expect((await client.zrange(`${prefix}:state:queued:updated`, '0', '-1')).sort()).toEqual(
      ['b', 'beside', 'f'].map((id) => orderKeyId(keyOf(id))).sort(),
    );
    scripts.mockRestore();
    await client.quit();
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('summarizes every order of a client with more orders in the window than one page, and of every client', async () => {
    const prefix = `${RUN_PREFIX}:summary-pages`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const now = '2026-01-01T00:00:00.000Z';
    await store.createOrders(Array.from({ length: 1_201 }, (_, i) => shopOrder(`many-${i}`, now)));
    await store.createOrders(
      [{ ...shopOrder('other', now), clientId: 'shop-2' }].map((order) => ({
        ...order,
        providerOrderId: providerOrderId({ clientId: 'shop-2', orderId: 'other' }),
      })),
    );
    const [summary] = await store.summarize(now, '2026-01-02T00:00:00.000Z');
    expect(summary?.submitted).toEqual({ count: 1_202, amount: 1_202_000 });
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('never answers a transition from an earlier order under the same key (archived, key used again)', async () => {
    const prefix = `${RUN_PREFIX}:incarnations`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const key = { clientId: 'shop-1', orderId: 'reused' };
    const create = async (number: string, now: string) => {
      const request = { operator: 'A', number, amount: paise(1000) };
      const result = await store.createOrder({
        ...shopOrder(key.orderId, now),
        request,
        fingerprint: requestFingerprint(request),
      });
      expect(result.created).toBe(true);
      return result.order;
    };
    const earlier = await create('9876543210', '2026-01-01T00:00:00.000Z');
    // Archived, and its tombstone expired: the order and its claim are gone, the key is free.
    await redis.del(
      `${prefix}:order:${orderKeyId(key)}`,
      `${prefix}:provider-order:${earlier.providerOrderId}`,
    );
    const later = await create('9123456789', '2026-04-01T00:00:00.000Z');
    // Same state, same history length, same providerOrderId: only the creation entry differs.
    const moved = await store.transition(key, {
      expect: { state: 'queued', providerOrderId: earlier.providerOrderId },
      to: 'processing',
      patch: { inFlight: true, incrementAttempts: true },
      entry: { at: '2026-04-01T00:00:01.000Z', source: 'worker' },
      known: earlier,
    });
    expect(moved.applied && moved.order.request.number).toBe('9123456789');
    expect(moved.applied && moved.order).toStrictEqual(await store.getOrder(key));
    expect(later.request.number).toBe('9123456789');
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('writes nothing of a bulk create when one providerOrderId is held by another order', async () => {
    const prefix = `${RUN_PREFIX}:bulk-conflict`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
    const order = (orderId: string, poid = providerOrderId({ clientId: 'shop-1', orderId })) => ({
      clientId: 'shop-1',
      orderId,
      providerOrderId: poid,
      provider: 'a1topup',
      request,
      fingerprint: requestFingerprint(request),
      batchId: 'b_1',
      now: '2026-01-01T00:00:00.000Z',
    });
    // Held by an order of the same call, too.
    await expect(
      store.createOrders([order('a'), order('b'), order('c', order('a').providerOrderId)]),
    ).rejects.toThrow(/already belongs to another order/);
    for (const orderId of ['a', 'b', 'c'])
      expect(await store.getOrder({ clientId: 'shop-1', orderId })).toBeNull();
    expect(await store.batchStates('b_1')).toEqual({});
    expect(await deleteByPrefix(redis, `${prefix}:`)).toBe(1);
  });

  it('answers an import chunk row whose order retention archived as archived, and makes the rest', async () => {
    const prefix = `${RUN_PREFIX}:chunk-archived`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
    const chunk = (orderIds: readonly string[], now: string) => ({
      clientId: 'shop-1',
      batchId: 'b_1',
      now,
      orders: orderIds.map((orderId) => ({
        orderId,
        providerOrderId: providerOrderId({ clientId: 'shop-1', orderId }),
        route: ['a1topup'],
        request,
        fingerprint: requestFingerprint(request),
      })),
    });
    expect(await store.createBatchOrders(chunk(['old'], '2026-01-01T00:00:00.000Z'))).toEqual([
      { kind: 'created' },
    ]);
    const key = { clientId: 'shop-1', orderId: 'old' };
    for (const [from, to] of [
      ['queued', 'processing'],
      ['processing', 'success'],
    ] as const) {
      const moved = await store.transition(key, {
        expect: { state: from },
        to,
        entry: { at: '2026-01-01T00:00:01.000Z', source: 'worker' },
      });
      expect(moved.applied).toBe(true);
    }
    const order = await store.getOrder(key);
    if (order === null) throw new Error('the order is missing');
    expect(
      await store.removeArchivedOrder({ order, updatedBefore: '2026-02-01T00:00:00.000Z', tombstoneMs: 0 }),
    ).toBe('removed');
    const answers = await store.createBatchOrders(chunk(['old', 'new'], '2026-03-01T00:00:00.000Z'));
    expect(answers).toEqual([{ kind: 'archived' }, { kind: 'created' }]);
    expect(await store.getOrder(key)).toBeNull();
    expect((await store.getOrder({ clientId: 'shop-1', orderId: 'new' }))?.state).toBe('queued');
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('lists by state by walking the client list: a page stops after FILTER_SCAN_BUDGET orders read, with a cursor', async () => {
    const prefix = `${RUN_PREFIX}:walk`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const order = (orderId: string, ms: number) =>
      shopOrder(orderId, new Date(Date.UTC(2026, 0, 1) + ms).toISOString());
    // Three old orders moved to processing, then more queued orders than one page may read.
    const rare = ['r0', 'r1', 'r2'];
    await store.createOrders(rare.map((id, i) => order(id, i)));
    for (const orderId of rare) {
      await store.transition(
        { clientId: 'shop-1', orderId },
        {
          expect: { state: 'queued' },
          to: 'processing',
          entry: { at: '2026-01-02T00:00:00.000Z', source: 'worker' },
        },
      );
    }
    const many = FILTER_SCAN_BUDGET + 300;
    await store.createOrders(Array.from({ length: many }, (_, i) => order(`q${i}`, 1_000 + i)));
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listOrders('shop-1', { state: 'processing', limit: 2, cursor });
      expect(page.orders.every((o) => o.state === 'processing')).toBe(true);
      seen.push(...page.orders.map((o) => o.orderId));
      sizes.push(page.orders.length);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    // The first page read its budget of queued orders and found none: empty, with a cursor.
    expect(sizes[0]).toBe(0);
    expect(seen).toEqual(['r2', 'r1', 'r0']);
    expect(cursor).toBeUndefined();
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('reads orders written before status checks existed, and indexes them at init()', async () => {
    const prefix = `${RUN_PREFIX}:legacy`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
    const create = async (orderId: string) => {
      const key = { clientId: 'shop-1', orderId };
      await store.createOrder({
        ...key,
        providerOrderId: providerOrderId(key),
        provider: 'a1topup',
        request,
        fingerprint: requestFingerprint(request),
        now: '2026-01-01T00:00:00.000Z',
      });
      return key;
    };
    const queued = await create('old-queued');
    const pending = await create('old-pending');
    const at = '2026-01-01T00:00:01.000Z';
    await store.transition(pending, {
      expect: { state: 'queued' },
      to: 'processing',
      entry: { at, source: 'worker' },
    });
    await store.transition(pending, {
      expect: { state: 'processing' },
      to: 'pending',
      entry: { at, source: 'worker' },
    });
    // What the earlier code wrote: no check fields, no due-check set, no creation list, no layout;
    // the history in a list, a listKey field, and a list per client and state.
    for (const key of [queued, pending]) {
      await toLayout1(prefix, key, '2026-01-01T00:00:00.000Z');
      await redis.hdel(
        `${prefix}:order:${orderKeyId(key)}`,
        'statusChecks',
        'pendingSinceMs',
        'nextCheckAtMs',
      );
    }
    // Nor a client registry: summaries read the creation list then.
    await redis.del(`${prefix}:checks:due`, `${prefix}:clients`, `${prefix}:meta:layout`);
    await redis.zadd(`${prefix}:orders:created`, 0, 'stale-member');
    const oldHistory = (await store.getOrder(pending))?.history;
    expect(oldHistory?.map((h) => h.to)).toEqual(['queued', 'processing', 'pending']);

    const old = await store.getOrder(queued);
    expect(old?.statusChecks).toBe(0);
    expect(old).not.toHaveProperty('nextCheckAt');
    expect(await store.claimDueChecks({ limit: 10, intervalsMs: [60_000] })).toEqual([]);
    expect(await store.summarize('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z')).toEqual([]);

    const upgraded = createRedisLedgerStore({ redis, prefix });
    await upgraded.init();
    const [summary] = await upgraded.summarize('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z');
    expect(summary).toMatchObject({
      submitted: { count: 2, amount: 2000 },
      pending: { count: 1, amount: 1000 },
    });
    const claimed = await upgraded.claimDueChecks({ limit: 10, intervalsMs: [60_000] });
    expect(claimed.map((order) => [order.orderId, order.statusChecks])).toEqual([['old-pending', 1]]);
    // A pending order from before has no known pendingSince: the poller falls back to updatedAt.
    expect(claimed[0]).not.toHaveProperty('pendingSince');

    // Layout 4: the creation list is gone, every client with a list registered.
    expect(await redis.exists(`${prefix}:orders:created`)).toBe(0);
    expect(await redis.smembers(`${prefix}:clients`)).toEqual(['shop-1']);
    // A layout 3 ledger (no registry) is brought to 4 the same way.
    await redis.del(`${prefix}:clients`);
    await redis.set(`${prefix}:meta:layout`, '3');
    await upgraded.transition(queued, {
      expect: { state: 'queued' },
      to: 'processing',
      entry: { at, source: 'worker' },
    });
    const [notYet] = await upgraded.summarize('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z');
    expect(notYet).toBeUndefined();
    await createRedisLedgerStore({ redis, prefix }).init();
    const [after] = await upgraded.summarize('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z');
    expect(after?.submitted.count).toBe(2);
    // Layout 3: the per-state lists are gone; an old order keeps appending to its history list.
    expect(await redis.keys(`${prefix}:client:*:state:*`)).toEqual([]);
    expect(await redis.get(`${prefix}:meta:layout`)).toBe('4');
    const moved = await upgraded.transition(queued, {
      expect: { state: 'processing' },
      to: 'failed',
      entry: { at, source: 'worker', note: 'refused' },
    });
    expect(moved.applied && moved.order.history.map((h) => h.to)).toEqual(['queued', 'processing', 'failed']);
    expect(await redis.llen(`${prefix}:history:${orderKeyId(queued)}`)).toBe(3);
    expect(await redis.hexists(`${prefix}:order:${orderKeyId(queued)}`, 'hn')).toBe(0);
    expect((await upgraded.getOrder(queued))?.history).toEqual(moved.applied ? moved.order.history : null);
    expect(await upgraded.appendHistory(pending, { at, source: 'operator', note: 'looked' })).toMatchObject({
      applied: true,
    });
    expect((await upgraded.getOrder(pending))?.history.map((h) => h.note ?? null)).toEqual([
      ...(oldHistory ?? []).map((h) => h.note ?? null),
      'looked',
    ]);
    const page = await upgraded.listOrders('shop-1', { limit: 10, state: 'failed' });
    expect(page.orders.map((o) => o.orderId)).toEqual(['old-queued']);
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('keeps order hashes compact: init raises hash-max-listpack-value to 512 where CONFIG allows', async () => {
    await withPrivateRedis('noeviction', async (privateRedis) => {
      await privateRedis.config('SET', 'hash-max-listpack-value', '64');
      const store = createRedisLedgerStore({ redis: privateRedis, prefix: 'ledger' });
      await store.init();
      expect(await privateRedis.config('GET', 'hash-max-listpack-value')).toEqual([
        'hash-max-listpack-value',
        '512',
      ]);
      const key = { clientId: 'shop-1', orderId: 'compact' };
      await store.createOrder({
        ...key,
        providerOrderId: providerOrderId(key, 1),
        provider: 'a1topup',
        request: { operator: 'A', circle: 'DL', number: '9876543210', amount: paise(1000) },
        fingerprint: 'f'.repeat(64),
        now: '2026-01-01T00:00:00.000Z',
      });
      const [orderKey] = await privateRedis.keys('ledger:order:*');
      expect(await privateRedis.object('ENCODING', orderKey ?? '')).toBe('listpack');
      // A fingerprint that is not the request's own is stored as sent, and read back as stored.
      expect(await privateRedis.hget(orderKey ?? '', 'fingerprint')).toBe('f'.repeat(64));
      expect((await store.getOrder(key))?.fingerprint).toBe('f'.repeat(64));
      // Already higher: left alone.
      await privateRedis.config('SET', 'hash-max-listpack-value', '1024');
      expect(await ensureCompactHashes(privateRedis)).toEqual({ was: 1024, raised: false });
    });
  });

  it('reloads its scripts when Redis has forgotten them (SCRIPT FLUSH on a private server)', async () => {
    await withPrivateRedis('noeviction', async (privateRedis) => {
      const store = createRedisLedgerStore({ redis: privateRedis, prefix: 'ledger' });
      await store.init();
      await privateRedis.script('FLUSH');
      const key = { clientId: 'shop-1', orderId: 'after-flush' };
      const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
      const result = await store.createOrder({
        ...key,
        providerOrderId: providerOrderId(key),
        provider: 'a1topup',
        request,
        fingerprint: requestFingerprint(request),
        now: '2026-01-01T00:00:00.000Z',
      });
      expect(result.created).toBe(true);
      expect((await store.getOrder(key))?.state).toBe('queued');
    });
  });

  it('refuses at init() a Redis whose maxmemory-policy is not noeviction', async () => {
    await withPrivateRedis('allkeys-lru', async (privateRedis) => {
      const store = createRedisLedgerStore({ redis: privateRedis, prefix: 'ledger' });
      const failure = store.init();
      await expect(failure).rejects.toBeInstanceOf(RedisEvictionPolicyError);
      await expect(failure).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
    });
  });
});

/** A throw-away redis-server on a free loopback port, killed (by its own pid) afterwards. */
/** A new order of client `shop-1` (any batch fields in `extra`), created at `now`. */
function shopOrder(orderId: string, now: string, extra: { readonly batchId?: string } = {}) {
  const key = { clientId: 'shop-1', orderId };
  const request = { operator: 'A', number: '9876543210', amount: paise(1000) };
  return {
    ...key,
    providerOrderId: providerOrderId(key),
    provider: 'a1topup',
    request,
    fingerprint: requestFingerprint(request),
    ...extra,
    now,
  };
}

/**
 * Rewrites an order as layouts 1 and 2 stored it: its history in a list of its own (`h1`..`hN`
 * and `hn` out of the hash), a `listKey` field, and its list key in a list per client and state.
 */
async function toLayout1(prefix: string, key: { clientId: string; orderId: string }, createdAt: string) {
  const keyId = orderKeyId(key);
  const orderKey = `${prefix}:order:${keyId}`;
  const [n, state] = await redis.hmget(orderKey, 'hn', 'state');
  const fields = Array.from({ length: Number(n) }, (_, i) => `h${i + 1}`);
  const entries = await redis.hmget(orderKey, ...fields);
  const listKey = `${String(Date.parse(createdAt)).padStart(15, '0')}:${keyId}`;
  await redis
    .multi()
    .hdel(orderKey, 'hn', ...fields)
    .hset(orderKey, 'listKey', listKey)
    .rpush(`${prefix}:history:${keyId}`, ...entries.map((entry) => entry ?? ''))
    .zadd(`${prefix}:client:${encodeURIComponent(key.clientId)}:state:${state}`, 0, listKey)
    .exec();
}

async function withPrivateRedis(policy: string, use: (client: Redis) => Promise<void>): Promise<void> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    '/usr/bin/redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      policy,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await waitForPort(port, 10_000);
    await client.connect();
    await use(client);
  } finally {
    client.disconnect();
    child.kill('SIGTERM');
    await exited;
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not start in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
