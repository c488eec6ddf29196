import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Order, type OrderKey, type OrderState, orderKeyId, paise } from '@rechargeflow/domain';
import { deleteByPrefix, freePort } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { findArchived, listDataFiles, readArchiveFile } from '../src/archive/archive-reader.ts';
import { verifyArchive } from '../src/archive/archive-verify.ts';
import { runRetention } from '../src/archive/retention-run.ts';
import type { LedgerStore } from '../src/ledger-store.ts';
import { OrderArchivedError } from '../src/orders/order-archived-error.ts';
import type { NewOrder, OrderPatch } from '../src/orders/order-store.ts';
import { createRedisLedgerStore } from '../src/redis-ledger-store.ts';
import { newOrder } from './contract/fixtures.ts';

/**
 * Retention end to end against a private redis-server (its memory is this test's alone): final
 * orders past the window are archived and removed while orders keep being created and moved; every
 * one reads back from the archive field by field; live orders are untouched; Redis memory returns
 * to the live level (plus the tombstones); a rerun does nothing; a run that dies between writing
 * and removing is resumed without loss or a second live copy.
 */

const DAY_MS = 86_400_000;
const RETENTION_MS = 90 * DAY_MS;
const OLD = 3_000;

let server: ChildProcess | undefined;
let redis: Redis;
let dir: string;

beforeAll(async () => {
  const port = await freePort();
  server = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitForPort(port, 10_000);
  redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  dir = await mkdtemp(join(tmpdir(), 'rf-retention-'));
});

afterAll(async () => {
  redis?.disconnect();
  if (server) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function usedMemory(): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** `count` orders created at `atMs` and walked to the states given in turn, all steps at `atMs`. */
async function makeOrders(
  store: LedgerStore,
  clientId: string,
  name: string,
  count: number,
  atMs: number,
  states: readonly OrderState[],
  batchId?: string,
): Promise<OrderKey[]> {
  const at = new Date(atMs).toISOString();
  const orders: NewOrder[] = Array.from({ length: count }, (_, i) => ({
    ...newOrder(clientId, `${name}-${i}`),
    now: at,
    ...(batchId === undefined ? {} : { batchId }),
  }));
  await store.createOrders(orders);
  const keys = orders.map(({ clientId: c, orderId }) => ({ clientId: c, orderId }));
  for (let start = 0; start < keys.length; start += 200) {
    await Promise.all(
      keys
        .slice(start, start + 200)
        .map((key, j) => walk(store, key, states[(start + j) % states.length]!, at)),
    );
  }
  return keys;
}

async function walk(store: LedgerStore, key: OrderKey, target: OrderState, at: string): Promise<void> {
  const step = async (from: OrderState, to: OrderState, patch: OrderPatch = {}) => {
    const result = await store.transition(key, {
      expect: { state: from },
      to,
      patch,
      entry: { at, source: 'worker' },
    });
    if (!result.applied) throw new Error(`${from} -> ${to} not applied to ${key.orderId}`);
  };
  if (target === 'queued') return;
  await step('queued', 'processing', { inFlight: true, incrementAttempts: true });
  switch (target) {
    case 'processing':
      return;
    case 'success':
    case 'failed':
      return step('processing', target, { inFlight: false, providerTxId: `T-${key.orderId}` });
    case 'reversed':
      await step('processing', 'success', { inFlight: false });
      return step('success', 'reversed', { reversal: { amount: paise(1000), at } });
    case 'pending':
      return step('processing', 'pending', { inFlight: false, checkAfterMs: 60_000 });
    case 'manual_review':
      await step('processing', 'pending', { inFlight: false });
      return step('pending', 'manual_review');
  }
}

async function snapshot(store: LedgerStore, keys: readonly OrderKey[]): Promise<Map<string, Order>> {
  const orders = new Map<string, Order>();
  for (const key of keys) {
    const order = await store.getOrder(key);
    if (order === null) throw new Error(`order ${key.orderId} missing`);
    orders.set(orderKeyId(key), order);
  }
  return orders;
}

/**
 * Creates and settles orders at the store's time until stopped (at most `max`, 20 every 50 ms):
 * the traffic retention runs beside.
 */
function traffic(store: LedgerStore, clientId: string, max: number) {
  let stop = false;
  let made = 0;
  const done = (async () => {
    while (!stop && made < max) {
      const now = (await store.clock()).getTime();
      await makeOrders(store, clientId, `live-${made}`, 20, now, [
        'success',
        'processing',
        'failed',
        'queued',
      ]);
      made += 20;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async end() {
      stop = true;
      await done;
      return made;
    },
  };
}

// A few thousand orders written, archived, read back and checked: minutes on a busy 2-core host.
describe('retention with a real Redis', { timeout: 180_000 }, () => {
  it('archives and removes old final orders while orders flow; memory goes back to the live level', async () => {
    const prefix = `rf-test:retention:${randomUUID()}`;
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const now = (await store.clock()).getTime();
    const old = now - RETENTION_MS - 10 * DAY_MS;
    const finals: OrderState[] = ['success', 'failed', 'reversed', 'success'];

    // The live ledger: recent orders in every state, and old ones that are not final.
    const baseline = await usedMemory();
    const liveKeys = [
      ...(await makeOrders(store, 'shop-1', 'recent', 400, now - DAY_MS, [...finals, 'pending', 'queued'])),
      ...(await makeOrders(store, 'shop-1', 'old-open', 100, old, [
        'pending',
        'manual_review',
        'processing',
      ])),
    ];
    const live = await snapshot(store, liveKeys);
    const liveMemory = await usedMemory();
    const oldKeys = [
      ...(await makeOrders(store, 'shop-1', 'old', OLD - 300, old, finals)),
      ...(await makeOrders(store, 'shop-2', 'old-batch', 300, old, finals, 'b_retention_old')),
    ];
    const archivedBefore = await snapshot(store, oldKeys);
    const batchBefore = await store.batchStates('b_retention_old');
    const fullMemory = await usedMemory();
    const perOrder = (fullMemory - liveMemory) / OLD;

    // Two orders the archiver has read get a late note before they are removed: they must stay.
    const noted: OrderKey[] = [];
    const flow = traffic(store, 'shop-3', 600);
    const report = await runRetention(store, {
      dir,
      retentionMs: RETENTION_MS,
      fileOrders: 1_000,
      afterWrite: async (file) => {
        if (noted.length > 0) return;
        for await (const { order } of readArchiveFile(join(dir, file))) {
          if (noted.length === 2) break;
          await store.appendHistory(order, {
            at: new Date().toISOString(),
            source: 'callback',
            note: 'late',
          });
          noted.push(order);
        }
      },
    });
    const flowed = await flow.end();
    expect(flowed).toBeGreaterThan(0);
    expect(report).toMatchObject({ written: OLD, removed: OLD - 2, changed: 2, notFound: 0, capped: false });
    expect(report.files).toHaveLength(3);
    for (const key of noted) expect((await store.getOrder(key))?.history.at(-1)?.note).toBe('late');

    // The noted ones go in the next run, with their note; nothing else is due.
    const second = await runRetention(store, { dir, retentionMs: RETENTION_MS });
    expect(second).toMatchObject({ written: 2, removed: 2, changed: 0 });

    // Gone from Redis, each read back from the archive as it was, field by field.
    for (const key of oldKeys) {
      expect(await store.getOrder(key)).toBeNull();
      expect(await store.isArchived(key)).toBe(true);
      const found = await findArchived(dir, key);
      const before = archivedBefore.get(orderKeyId(key));
      if (noted.some((n) => n.orderId === key.orderId && n.clientId === key.clientId)) {
        expect(found?.order).toStrictEqual({
          ...before,
          version: (before?.version ?? 0) + 1,
          history: [...(before?.history ?? []), expect.objectContaining({ note: 'late' })],
        });
      } else {
        expect(found?.order).toStrictEqual(before);
      }
    }
    await expect(
      store.createOrder({ ...newOrder('shop-1', 'old-0'), now: new Date().toISOString() }),
    ).rejects.toBeInstanceOf(OrderArchivedError);
    // Live orders untouched; the flow's orders all there; a batch's counts as they were.
    expect(await snapshot(store, liveKeys)).toStrictEqual(live);
    expect((await store.listOrders('shop-3', { limit: 500 })).orders.length).toBe(Math.min(flowed, 500));
    expect(await store.batchStates('b_retention_old')).toStrictEqual(batchBefore);
    const verified = await verifyArchive(dir);
    expect(verified).toMatchObject({
      files: 4,
      copies: OLD + 2,
      orders: OLD,
      duplicateCopies: 0,
      problems: [],
    });

    // Memory: back to the live level, plus the orders that flowed meanwhile and the tombstones.
    const after = await usedMemory();
    // What the archived orders left: above the live level (the live orders plus the traffic's, at
    // the old orders' bytes each). Their tombstones (~260 bytes each) and hash-table slack stay; an
    // order hash or a history left behind would take far more than 600 bytes.
    const liveLevel = liveMemory + flowed * perOrder;
    const leftPerOrder = (after - liveLevel) / OLD;
    console.log(
      `retention: ${OLD} orders of ~${Math.round(perOrder)} B; used_memory baseline ${baseline}, live ${liveMemory}, ` +
        `full ${fullMemory}, after ${after}, live level now ${Math.round(liveLevel)}: ${Math.round(leftPerOrder)} B left per archived order; ${flowed} orders flowed`,
    );
    expect(leftPerOrder).toBeLessThan(600);
    // Most of it came back: an order is ~1.6 KB and its tombstone and slack ~0.4 KB.
    expect(fullMemory + flowed * perOrder - after).toBeGreaterThan(0.65 * (fullMemory - liveMemory));

    // A rerun is a no-op: no file, nothing removed.
    const filesBefore = await listDataFiles(dir);
    expect(await runRetention(store, { dir, retentionMs: RETENTION_MS })).toMatchObject({
      written: 0,
      removed: 0,
      files: [],
    });
    expect(await listDataFiles(dir)).toEqual(filesBefore);
    await deleteByPrefix(redis, `${prefix}:`);
  });

  it('resumes a run that died between writing and removing: nothing lost, no second live copy', async () => {
    const prefix = `rf-test:retention:${randomUUID()}`;
    const own = await mkdtemp(join(tmpdir(), 'rf-retention-crash-'));
    onTestFinished(() => rm(own, { recursive: true, force: true }));
    const store = createRedisLedgerStore({ redis, prefix });
    await store.init();
    const now = (await store.clock()).getTime();
    const keys = await makeOrders(store, 'shop-1', 'old', 1_000, now - RETENTION_MS - DAY_MS, [
      'success',
      'failed',
    ]);
    const before = await snapshot(store, keys);

    const crash = runRetention(store, {
      dir: own,
      retentionMs: RETENTION_MS,
      fileOrders: 400,
      afterWrite: () => {
        throw new Error('killed after the write');
      },
    });
    await expect(crash).rejects.toThrow('killed after the write');
    // Written and durable, but every order is still live (nothing removed), once each.
    expect(await listDataFiles(own)).toHaveLength(1);
    expect((await store.countInState('success')).count + (await store.countInState('failed')).count).toBe(
      1_000,
    );
    expect(await readdir(own)).not.toContain('retention.lock');

    // A capped run, then the rest.
    const capped = await runRetention(store, {
      dir: own,
      retentionMs: RETENTION_MS,
      fileOrders: 400,
      maxPerRun: 600,
    });
    expect(capped).toMatchObject({ written: 600, removed: 600, capped: true });
    const rest = await runRetention(store, { dir: own, retentionMs: RETENTION_MS, fileOrders: 400 });
    expect(rest).toMatchObject({ written: 400, removed: 400, capped: false });
    expect((await store.countInState('success')).count + (await store.countInState('failed')).count).toBe(0);

    for (const key of keys) {
      expect((await findArchived(own, key))?.order).toStrictEqual(before.get(orderKeyId(key)));
    }
    // The crashed file's 400 copies are identical duplicates of later ones.
    expect(await verifyArchive(own)).toMatchObject({
      copies: 1_400,
      orders: 1_000,
      duplicateCopies: 400,
      notIndexed: 0,
      problems: [],
    });
    await deleteByPrefix(redis, `${prefix}:`);
  });
});

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
