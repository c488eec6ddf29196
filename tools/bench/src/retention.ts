/**
 * `retention`: N (default 200,000; BENCH_RETENTION_ORDERS) final orders aged past LEDGER_RETENTION
 * archived and removed by the ledger's retention run (packages/ledger, archive/) while orders keep
 * being created and settled, on a private redis-server (so used_memory is the ledger's alone).
 *
 * Setup (not timed): L live orders (BENCH_RETENTION_LIVE, default 20,000; recent, every state) and
 * the N old ones (success, failed, reversed, last changed 100 days ago), written through the
 * ledger's own createOrders and transitions; a digest of every old order as the ledger hands it out.
 * Timed: runs of the retention (the poller's job, at its defaults: 100,000 orders per run, files of
 * 20,000) until nothing is due, while traffic creates and settles BENCH_RETENTION_FLOW orders/s
 * (default 200) at the ledger's time.
 * Then: used_memory against the live level (the live orders, plus what the traffic added at the
 * live orders' bytes per order, plus the tombstones: the archived orders' provider-order claims,
 * kept LEDGER_RETENTION longer), and the read-back check: every archive file read to its end, each
 * order's digest equal to the one taken before, none missing, none left in the ledger's indexes.
 * Run alone: `node tools/bench/src/retention.ts [--quick]` (20,000 orders with --quick).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Order,
  type OrderKey,
  type OrderState,
  orderKeyId,
  paise,
  providerOrderId,
  requestFingerprint,
} from '@rechargeflow/domain';
import {
  createRedisLedgerStore,
  type LedgerStore,
  listDataFiles,
  type NewOrder,
  type OrderPatch,
  readArchiveFile,
  runRetention,
  verifyArchive,
} from '@rechargeflow/ledger';
import { startProcess } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { env, fmt, freePort, load1, mb, printTable, say, type Table } from './lib.ts';

const DAY_MS = 86_400_000;
const RETENTION_MS = 90 * DAY_MS;
const REQUEST = { operator: 'A', circle: 'DL', number: '9876543210', amount: paise(1000) };
const FINALS: readonly OrderState[] = ['success', 'failed', 'success', 'reversed'];
const LIVE_STATES: readonly OrderState[] = ['success', 'failed', 'pending', 'queued', 'processing'];

export interface RetentionBenchOptions {
  readonly orders: number;
  readonly live: number;
  /** Orders per second the traffic creates and settles during the runs. */
  readonly flowPerSecond: number;
}

export interface RetentionBenchResult {
  readonly table: Table;
  /** Every archived order read back and equal to what the ledger held; none left in the ledger. */
  readonly readBackOk: boolean;
}

const digest = (order: Order) => createHash('sha256').update(JSON.stringify(order)).digest('base64');

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
}

/** Orders created at `atMs` and walked to the states given in turn, 1,000 per createOrders call. */
async function makeOrders(
  store: LedgerStore,
  clientId: string,
  name: string,
  count: number,
  atMs: number,
  states: readonly OrderState[],
): Promise<void> {
  const at = new Date(atMs).toISOString();
  for (let start = 0; start < count; start += 1_000) {
    const orders: NewOrder[] = [];
    for (let i = start; i < Math.min(count, start + 1_000); i += 1) {
      const key = { clientId, orderId: `${name}-${i}` };
      orders.push({
        ...key,
        providerOrderId: providerOrderId(key),
        provider: 'a1topup',
        request: REQUEST,
        fingerprint: requestFingerprint(REQUEST),
        now: at,
      });
    }
    await store.createOrders(orders);
    // Each order's steps 1 ms after the previous order's, as orders settle one by one: the stale
    // scan pages by (last change, key), and a crowd in one millisecond makes it re-read the crowd.
    await Promise.all(
      orders.map((order, i) =>
        walk(store, order, states[(start + i) % states.length]!, new Date(atMs + start + i).toISOString()),
      ),
    );
  }
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
  if (target === 'processing') return;
  if (target === 'pending') return step('processing', 'pending', { inFlight: false, checkAfterMs: 60_000 });
  if (target === 'failed')
    return step('processing', 'failed', { inFlight: false, providerStatus: 'Failure' });
  await step('processing', 'success', {
    inFlight: false,
    providerTxId: `T${key.orderId}`,
    providerStatus: 'Success',
  });
  if (target === 'reversed') await step('success', 'reversed', { reversal: { amount: REQUEST.amount, at } });
}

/** Digests of every final order last changed before `cutoff`, by key id (what the runs will archive). */
async function finalDigests(store: LedgerStore, cutoff: string): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const state of ['success', 'failed', 'reversed'] as const) {
    let cursor: string | undefined;
    do {
      const page = await store.scanStale(state, cutoff, 1_000, cursor);
      for (const order of page.orders) digests.set(orderKeyId(order), digest(order));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  return digests;
}

export async function retentionBench(options: RetentionBenchOptions): Promise<RetentionBenchResult> {
  const port = await freePort();
  const server = startProcess({
    label: 'redis-retention',
    command: env.REDIS_SERVER ?? 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    keepLines: 50,
  });
  const dir = await mkdtemp(join(tmpdir(), 'rf-bench-archive-'));
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 3 });
  try {
    await server.waitForLine(/Ready to accept connections/, 10_000);
    await redis.connect();
    const store = createRedisLedgerStore({
      redis,
      prefix: `rfbench-retention-${randomBytes(4).toString('hex')}`,
    });
    await store.init();
    const now = (await store.clock()).getTime();

    const empty = await usedMemory(redis);
    say(`retention: writing ${fmt(options.live)} live orders and ${fmt(options.orders)} old final ones`);
    await makeOrders(store, 'shop-live', 'live', options.live, now - DAY_MS, LIVE_STATES);
    const live = await usedMemory(redis);
    const livePerOrder = (live - empty) / Math.max(options.live, 1);
    await makeOrders(store, 'shop-old', 'old', options.orders, now - RETENTION_MS - 10 * DAY_MS, FINALS);
    const full = await usedMemory(redis);
    const before = await finalDigests(store, new Date(now - RETENTION_MS).toISOString());
    if (before.size !== options.orders)
      throw new Error(`expected ${options.orders} due orders, found ${before.size}`);

    // Traffic beside the runs: orders created and settled at the ledger's time, at a steady rate.
    let stop = false;
    let flowed = 0;
    const flow = (async () => {
      const batch = Math.max(1, Math.round(options.flowPerSecond / 10));
      while (!stop) {
        const started = performance.now();
        await makeOrders(
          store,
          'shop-flow',
          `flow-${flowed}`,
          batch,
          (await store.clock()).getTime(),
          LIVE_STATES,
        );
        flowed += batch;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (performance.now() - started))));
      }
    })();

    say(`retention: archiving (load ${load1()})`);
    const started = performance.now();
    let runs = 0;
    let archived = 0;
    let changed = 0;
    for (;;) {
      const report = await runRetention(store, { dir, retentionMs: RETENTION_MS });
      runs += 1;
      archived += report.removed;
      changed += report.changed;
      if (!report.capped && report.changed === 0) break;
    }
    const seconds = (performance.now() - started) / 1000;
    stop = true;
    await flow;
    const after = await usedMemory(redis);

    // Read back: every archived copy decoded, the highest version per order compared with before.
    const found = new Map<string, { version: number; digest: string }>();
    for (const file of await listDataFiles(dir)) {
      for await (const { order } of readArchiveFile(join(dir, file))) {
        const keyId = orderKeyId(order);
        const seen = found.get(keyId);
        if (seen === undefined || order.version >= seen.version)
          found.set(keyId, { version: order.version, digest: digest(order) });
      }
    }
    let missing = 0;
    let differing = 0;
    for (const [keyId, expected] of before) {
      const copy = found.get(keyId);
      if (copy === undefined) missing += 1;
      else if (copy.digest !== expected) differing += 1;
    }
    const verified = await verifyArchive(dir);
    const leftDue = (await finalDigests(store, new Date(now - RETENTION_MS).toISOString())).size;
    const readBackOk =
      missing === 0 &&
      differing === 0 &&
      verified.problems.length === 0 &&
      leftDue === 0 &&
      archived === options.orders;

    const tombstones = after - live - flowed * livePerOrder;
    const table: Table = {
      head: ['measure', 'value'],
      rows: [
        ['final orders archived and removed', fmt(archived)],
        ['retention runs (100,000 orders each at most)', runs],
        ['orders refused at removal (changed after the read)', changed],
        ['seconds', fmt(seconds, 1)],
        ['orders/s archived', fmt(archived / seconds)],
        ['orders flowing meanwhile (created and settled)', fmt(flowed)],
        ['used_memory empty, MB', mb(empty)],
        ['used_memory live orders only, MB', mb(live)],
        ['used_memory with the old orders (before), MB', mb(full)],
        ['used_memory after, MB', mb(after)],
        ['live level now (live + traffic at the live bytes/order), MB', mb(live + flowed * livePerOrder)],
        ['left above the live level, bytes per archived order (tombstones)', fmt(tombstones / archived)],
        ['bytes per old order before archiving', fmt((full - live) / options.orders)],
        ['archive files / copies read back', `${verified.files} / ${fmt(verified.copies)}`],
        [
          'read-back check',
          readBackOk
            ? 'ok: every archived order read back equal'
            : `FAILED: ${missing} missing, ${differing} differ, ${leftDue} still due, ${verified.problems.length} problems`,
        ],
      ],
    };
    return { table, readBackOk };
  } finally {
    redis.disconnect();
    await server.stop(10_000);
    if (env.BENCH_RETENTION_KEEP === undefined) await rm(dir, { recursive: true, force: true });
    else say(`retention: archive kept in ${dir}`);
  }
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const num = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  const result = await retentionBench({
    orders: num('BENCH_RETENTION_ORDERS', quick ? 20_000 : 200_000),
    live: num('BENCH_RETENTION_LIVE', quick ? 2_000 : 20_000),
    flowPerSecond: num('BENCH_RETENTION_FLOW', 200),
  });
  printTable(`Retention (load ${load1()})`, result.table);
  if (!result.readBackOk) process.exitCode = 1;
}
