import { randomUUID } from 'node:crypto';
import { parseRupees, type RechargeRequest } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createA1TopupProvider, type RechargeProvider } from '@rechargeflow/providers';
import { batchReleaseJobId, createRedisConnection, JobProducer, rechargeJobId } from '@rechargeflow/queue';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { freePort } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRecharge, requeueStranded, submitOrder, type WorkerDeps } from '../src/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-orders-${randomUUID().slice(0, 8)}`;
const PASSWORD = `sim-pw-${randomUUID()}`;
const logged: string[] = [];
const log = {
  info: (f: Record<string, unknown>, m: string) => logged.push(JSON.stringify({ ...f, m })),
  warn: (f: Record<string, unknown>, m: string) => logged.push(JSON.stringify({ ...f, m })),
  error: (f: Record<string, unknown>, m: string) => logged.push(JSON.stringify({ ...f, m })),
};

let simulator: Simulator;
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let provider: RechargeProvider;
let deps: WorkerDeps;
let simUrl: string;

function request(amountRupees: number, number = '9812345678'): RechargeRequest {
  return { operator: 'A', circle: '5', number, amount: parseRupees(amountRupees)! };
}

async function submit(orderId: string, amountRupees: number) {
  const outcome = await submitOrder(deps, { clientId: 'shop', orderId, request: request(amountRupees) });
  expect(outcome.kind).toBe('created');
  return outcome.order;
}

beforeAll(async () => {
  simulator = createSimulator({
    username: 'shop-user',
    password: PASSWORD,
    seed: 7,
    holdMs: 5_000,
    slowMs: 1_500,
  });
  const { url } = await simulator.listen(0);
  simUrl = url;
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'orders-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  provider = createA1TopupProvider({
    baseUrl: url,
    username: 'shop-user',
    password: PASSWORD,
    format: 'json',
    timeoutMs: 800,
    connectTimeoutMs: 500,
    maxResponseBytes: 65_536,
  });
  // A pending order's first status check after 30 s, as with the default STATUS_POLL_SCHEDULE.
  deps = {
    ledger,
    producer,
    log,
    providers: new Map([[provider.name, provider]]),
    firstCheckAfterMs: 30_000,
  };
});

afterAll(async () => {
  await provider.close();
  await producer.close();
  await simulator.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

const firstRun = { attempt: 1, isFinalAttempt: false };

describe('processRecharge against the simulator', () => {
  it('carries a new order to success, sent once, with the provider references recorded', async () => {
    const order = await submit('ok-1', 10);
    const outcome = await processRecharge(deps, order, firstRun);
    expect(outcome).toMatchObject({
      kind: 'settled',
      order: { state: 'success', inFlight: false, attempts: 1 },
    });
    const stored = await ledger.getOrder(order);
    expect(stored?.history.map((h) => h.to)).toEqual(['queued', 'processing', 'success']);
    expect(stored?.providerTxId).toBeTruthy();
    expect(stored?.providerRef).toBeTruthy();
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
  });

  it('applies the answer even when the circuit breaker cannot be written', async () => {
    // A breaker on a Redis that is down (nothing listens on the port): every record() rejects.
    const down = new Redis(await freePort(), '127.0.0.1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    const records: string[] = [];
    const gate = {
      select: async (route: readonly string[], fromIndex: number) => ({
        provider: route[fromIndex] ?? 'a1topup',
        index: fromIndex,
      }),
      record: async (name: string, outcome: 'success' | 'failure') => {
        records.push(outcome);
        await down.incr(`${prefix}:breaker:${name}`);
      },
    };
    const ok = await submit('breaker-down-ok', 10);
    expect(await processRecharge({ ...deps, gate }, ok, firstRun)).toMatchObject({
      kind: 'settled',
      order: { state: 'success', inFlight: false },
    });
    const refused = await submit('breaker-down-fail', 13);
    expect(await processRecharge({ ...deps, gate }, refused, firstRun)).toMatchObject({
      kind: 'settled',
      order: { state: 'failed', inFlight: false },
    });
    expect(records).toEqual(['success', 'success']);
    expect(logged.filter((l) => l.includes('circuit breaker not updated'))).toHaveLength(2);
    expect(simulator.order(ok.providerOrderId)?.submissions).toBe(1);
    down.disconnect();
  });

  it('fails a refused order over even when the gate cannot be read at that moment', async () => {
    const backup = createA1TopupProvider({
      name: 'a1topup_backup',
      baseUrl: simUrl,
      username: 'shop-user',
      password: PASSWORD,
      format: 'json',
      timeoutMs: 800,
      connectTimeoutMs: 500,
    });
    // Breakers and balances on a Redis that is down once the first provider has answered.
    const down = new Redis(await freePort(), '127.0.0.1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    const gate = {
      select: async (route: readonly string[], fromIndex: number) => {
        if (fromIndex > 0) await down.get(`${prefix}:breaker:${route[fromIndex]}`);
        return { provider: route[fromIndex] ?? 'a1topup', index: fromIndex };
      },
      record: async () => undefined,
    };
    const routed: WorkerDeps = {
      ...deps,
      gate,
      providers: new Map([
        [provider.name, provider],
        [backup.name, backup],
      ]),
      routeFor: () => ['a1topup', 'a1topup_backup'],
    };
    try {
      const created = await submitOrder(routed, {
        clientId: 'shop',
        orderId: 'gate-down',
        request: request(13),
      });
      const outcome = await processRecharge(routed, created.order, firstRun);
      expect(outcome).toMatchObject({
        kind: 'rerouted',
        order: { provider: 'a1topup_backup', state: 'processing', inFlight: false },
      });
      expect(logged.filter((l) => l.includes('provider gate unreadable'))).toHaveLength(1);
      expect(simulator.order(created.order.providerOrderId)?.submissions).toBe(1);
    } finally {
      down.disconnect();
      await backup.close();
    }
  });

  it('records a definite failure as failed', async () => {
    const order = await submit('fail-1', 13);
    const outcome = await processRecharge(deps, order, firstRun);
    expect(outcome).toMatchObject({ kind: 'settled', order: { state: 'failed' } });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
  });

  it('turns a timeout after the provider recorded the order into pending, submitted exactly once', async () => {
    const order = await submit('timeout-1', 31);
    const outcome = await processRecharge(deps, order, firstRun);
    expect(outcome).toMatchObject({ kind: 'pending', order: { state: 'pending', inFlight: false } });
    // The job may run again (a retry or redelivery): it must not send again.
    const again = await processRecharge(deps, order, { attempt: 2, isFinalAttempt: false });
    expect(again).toMatchObject({ kind: 'skipped', state: 'pending' });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
    const stored = await ledger.getOrder(order);
    expect(stored?.history.at(-1)?.note).toMatch(/outcome unknown/);
  });

  it('turns a garbage answer, a 5xx and a reset into pending, each submitted once', async () => {
    for (const [id, amount] of [
      ['garbage-1', 37],
      ['5xx-1', 47],
      ['reset-1', 53],
      ['html-1', 41],
      ['empty-1', 43],
    ] as const) {
      const order = await submit(id, amount);
      const outcome = await processRecharge(deps, order, firstRun);
      expect(outcome, id).toMatchObject({ kind: 'pending' });
      expect(simulator.order(order.providerOrderId)?.submissions, id).toBe(1);
    }
  });

  it('never calls the provider again for an order interrupted mid-call (processing + inFlight)', async () => {
    const order = await submit('crash-1', 10);
    // Simulate a worker that claimed the order and died before recording the outcome.
    const claimed = await ledger.transition(order, {
      expect: { state: 'queued' },
      to: 'processing',
      patch: { inFlight: true, incrementAttempts: true },
      entry: { at: new Date().toISOString(), source: 'worker', note: 'sending to a1topup' },
    });
    expect(claimed.applied).toBe(true);
    const outcome = await processRecharge(deps, order, { attempt: 2, isFinalAttempt: false });
    expect(outcome).toMatchObject({ kind: 'pending', order: { state: 'pending' } });
    expect(simulator.order(order.providerOrderId)).toBeUndefined();
    const stored = await ledger.getOrder(order);
    expect(stored?.history.at(-1)?.note).toMatch(/interrupted/);
  });

  it('retries a provably unsent call with the same orderid, and fails it after the last attempt', async () => {
    // A port that was just free: nothing listens there, so connecting is refused.
    const closedPort = await freePort();
    const down = createA1TopupProvider({
      baseUrl: `http://127.0.0.1:${closedPort}`,
      username: 'shop-user',
      password: PASSWORD,
      format: 'json',
      timeoutMs: 800,
      connectTimeoutMs: 300,
      maxResponseBytes: 65_536,
    });
    const downDeps = { ...deps, providers: new Map([[down.name, down]]) };
    const order = await submit('down-1', 10);
    await expect(
      processRecharge(downDeps, order, { attempt: 1, isFinalAttempt: false }),
    ).rejects.toMatchObject({ retryable: true });
    let stored = await ledger.getOrder(order);
    expect(stored).toMatchObject({ state: 'processing', inFlight: false, attempts: 1 });
    // The provider is back: the next run sends, with the same orderid.
    const outcome = await processRecharge(deps, order, { attempt: 2, isFinalAttempt: false });
    expect(outcome).toMatchObject({ kind: 'settled', order: { state: 'success', attempts: 2 } });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);

    const never = await submit('down-2', 10);
    await expect(processRecharge(downDeps, never, { attempt: 1, isFinalAttempt: false })).rejects.toThrow(
      /not sent/,
    );
    const last = await processRecharge(downDeps, never, { attempt: 2, isFinalAttempt: true });
    expect(last).toMatchObject({ kind: 'settled', order: { state: 'failed' } });
    stored = await ledger.getOrder(never);
    expect(stored?.history.at(-1)?.note).toMatch(/never sent/);
    expect(simulator.order(never.providerOrderId)).toBeUndefined();
    await down.close();
  });

  it('keeps secrets and full numbers out of what it logs', () => {
    const text = logged.join('\n');
    expect(logged.length).toBeGreaterThan(0);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('9812345678');
  });
});

describe('requeueStranded', () => {
  it('adds the job of an order left queued without one, and leaves fresh ones alone', async () => {
    const key = { clientId: 'shop', orderId: 'stranded-1' };
    const created = await ledger.createOrder({
      ...key,
      providerOrderId: 'RF-STRANDED-1',
      provider: 'a1topup',
      request: request(10),
      fingerprint: 'f',
      now: new Date(Date.now() - 120_000).toISOString(),
    });
    expect(created.created).toBe(true);
    const queue = producer.queue('recharges', 'a1topup');
    const summary = await requeueStranded(deps, { olderThanMs: 60_000, limit: 100 });
    expect(summary.added).toBeGreaterThanOrEqual(1);
    const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
    expect(jobs.map((j) => j.data)).toContainEqual(key);
    const second = await requeueStranded(deps, { olderThanMs: 60_000, limit: 100 });
    expect(second.added).toBe(0);
  });

  it("leaves a batch's orders not released yet to its release job, and makes sure of that job", async () => {
    const batchId = `b_sweep${randomUUID().slice(0, 8)}`;
    const long = new Date(Date.now() - 120_000).toISOString();
    await ledger.createBatch({
      clientId: 'shop',
      batchId,
      contentHash: 'c'.repeat(64),
      bytes: 1,
      createdAt: long,
    });
    const keys = [1, 2, 3].map((n) => ({ clientId: 'shop', orderId: `${batchId}-${n}` }));
    const made = await ledger.createBatchOrders({
      clientId: 'shop',
      batchId,
      now: long,
      orders: keys.map((key, i) => ({
        orderId: key.orderId,
        providerOrderId: `RF-${batchId}-${i}`,
        route: ['a1topup'],
        request: request(10),
        fingerprint: 'f',
      })),
    });
    expect(made.map((result) => result.kind)).toEqual(['created', 'created', 'created']);
    // Committed a row at a time, none released: the import found the queue full.
    for (const [i, key] of keys.entries()) {
      expect(await ledger.commitRows(batchId, [{ row: i + 1, cells: {}, orderId: key.orderId }], long)).toBe(
        true,
      );
    }
    const recharges = producer.queue('recharges', 'a1topup');
    const jobOf = async (n: number) =>
      (await recharges.getJobs(['waiting', 'prioritized', 'delayed'])).filter(
        (job) => job.data.orderId === keys[n - 1]?.orderId,
      ).length;

    const summary = await requeueStranded(deps, { olderThanMs: 60_000, limit: 100 });
    expect(summary.awaitingRelease).toBe(3);
    expect([await jobOf(1), await jobOf(2), await jobOf(3)]).toEqual([0, 0, 0]);
    const release = await producer.queue('batches').getJob(batchReleaseJobId(batchId));
    expect(release?.data).toEqual({ clientId: 'shop', batchId });

    // Row 1 released with its job: that order's job is there (present); rows 2 and 3 still wait.
    expect(await ledger.releaseRows(batchId, 1, 1)).toBe(true);
    await producer.enqueue('recharge', keys[0]!, rechargeJobId(keys[0]!, 'a1topup'), 'a1topup');
    const during = await requeueStranded(deps, { olderThanMs: 60_000, limit: 100 });
    expect(during).toMatchObject({ awaitingRelease: 2, added: 0 });
    expect([await jobOf(1), await jobOf(2), await jobOf(3)]).toEqual([1, 0, 0]);

    // All released (row 3's job lost since): an order like any other again.
    expect(await ledger.releaseRows(batchId, 2, 2)).toBe(true);
    await producer.enqueue('recharge', keys[1]!, rechargeJobId(keys[1]!, 'a1topup'), 'a1topup');
    const after = await requeueStranded(deps, { olderThanMs: 60_000, limit: 100 });
    expect(after).toMatchObject({ awaitingRelease: 0, added: 1 });
    expect([await jobOf(1), await jobOf(2), await jobOf(3)]).toEqual([1, 1, 1]);
  });
});
