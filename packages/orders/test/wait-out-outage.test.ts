import { randomUUID } from 'node:crypto';
import { type Order, parseRupees, type RechargeRequest } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createA1TopupProvider, type RechargeProvider } from '@rechargeflow/providers';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { freePort } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NotSentRetryError,
  type ProviderGate,
  processRecharge,
  submitOrder,
  type WorkerDeps,
} from '../src/index.ts';

// Orders wait out an outage (ORDER_MAX_WAIT): real Redis ledger, the simulator as A1Topup, and a
// clock the test moves, so a 15-minute wait takes no time.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-wait-${randomUUID().slice(0, 8)}`;
const PASSWORD = `sim-pw-${randomUUID()}`;
const MAX_WAIT = 15 * 60_000;
const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
const run = { attempt: 1, isFinalAttempt: false };

let simulator: Simulator;
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let up: RechargeProvider;
let down: RechargeProvider;
let now = Date.parse('2026-12-02T10:00:00.000Z');

/** Says no provider may take anything while `closed` (an open circuit breaker). */
let closed = true;
const gate: ProviderGate = {
  select: async (route, fromIndex) =>
    closed
      ? { provider: null, reason: 'a1topup circuit open' }
      : { provider: route[fromIndex] ?? 'a1topup', index: fromIndex },
  record: async () => undefined,
};

function depsWith(provider: RechargeProvider, maxWaitMs = MAX_WAIT): WorkerDeps {
  return {
    ledger,
    producer,
    log,
    gate,
    now: () => new Date(now),
    providers: new Map([[provider.name, provider]]),
    firstCheckAfterMs: 30_000,
    orderMaxWaitMs: maxWaitMs,
  };
}

function request(): RechargeRequest {
  return { operator: 'A', circle: '5', number: '9812345678', amount: parseRupees(10)! };
}

async function submit(orderId: string): Promise<Order> {
  const outcome = await submitOrder(depsWith(up), { clientId: 'shop', orderId, request: request() });
  expect(outcome.kind).toBe('created');
  return outcome.order;
}

/** Runs the job once and answers the wait it asked for (ms), or the outcome when it did not wait. */
async function runOnce(deps: WorkerDeps, order: Order) {
  try {
    return { outcome: await processRecharge(deps, order, run) };
  } catch (error) {
    expect(error).toBeInstanceOf(NotSentRetryError);
    const waitMs = (error as NotSentRetryError).retryAfterMs;
    expect(waitMs).toBeTypeOf('number');
    return { waitMs: waitMs as number };
  }
}

const waitNotes = (order: Order | null) =>
  (order?.history ?? []).filter((h) => h.note?.startsWith('waiting for a provider'));

beforeAll(async () => {
  simulator = createSimulator({ username: 'u', password: PASSWORD, seed: 3, holdMs: 5_000, slowMs: 1_500 });
  const { url } = await simulator.listen(0);
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'wait-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  const settings = { username: 'u', password: PASSWORD, format: 'json' as const, maxResponseBytes: 65_536 };
  up = createA1TopupProvider({ ...settings, baseUrl: url, timeoutMs: 800, connectTimeoutMs: 500 });
  // Nothing listens on a port that was just free: every connection is refused (provably unsent).
  const closedPort = await freePort();
  down = createA1TopupProvider({
    ...settings,
    baseUrl: `http://127.0.0.1:${closedPort}`,
    timeoutMs: 800,
    connectTimeoutMs: 300,
  });
});

afterAll(async () => {
  await up.close();
  await down.close();
  await producer.close();
  await simulator.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

describe('an order no provider can take waits, then is sent once', () => {
  it('stays queued with one note while the breaker is open, and goes out when it closes', async () => {
    closed = true;
    const order = await submit('wait-open-1');
    const first = await runOnce(depsWith(up), order);
    // Soon after a short outage: the first look again is 5 s away (±10 %).
    expect(first.waitMs).toBeGreaterThanOrEqual(4_500);
    expect(first.waitMs).toBeLessThanOrEqual(5_500);
    let stored = await ledger.getOrder(order);
    expect(stored).toMatchObject({ state: 'queued', inFlight: false, attempts: 0 });
    expect(waitNotes(stored)).toHaveLength(1);
    expect(waitNotes(stored)[0]?.note).toContain('a1topup circuit open');
    expect(waitNotes(stored)[0]?.note).toContain('2026-12-02T10:15:00.000Z');

    // Two minutes on, still closed: it looks again within a minute, and writes no second note.
    now += 2 * 60_000;
    const second = await runOnce(depsWith(up), order);
    expect(second.waitMs).toBeGreaterThanOrEqual(54_000);
    expect(second.waitMs).toBeLessThanOrEqual(66_000);
    stored = await ledger.getOrder(order);
    expect(waitNotes(stored)).toHaveLength(1);

    closed = false;
    now += 60_000;
    const third = await runOnce(depsWith(up), order);
    expect(third.outcome).toMatchObject({ kind: 'settled', order: { state: 'success', attempts: 1 } });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
  });

  it('fails as never sent, with the reason and since when, once ORDER_MAX_WAIT has passed', async () => {
    closed = true;
    const order = await submit('wait-open-2');
    expect((await runOnce(depsWith(up), order)).waitMs).toBeGreaterThan(0);
    now += MAX_WAIT - 1_000;
    const before = await runOnce(depsWith(up), order);
    // The last look lands just after the deadline, not a minute later.
    expect(before.waitMs).toBeLessThanOrEqual(1_100);
    now += 1_000;
    const last = await runOnce(depsWith(up), order);
    expect(last.outcome).toMatchObject({ kind: 'settled', order: { state: 'failed', attempts: 0 } });
    const stored = await ledger.getOrder(order);
    expect(stored?.history.at(-1)?.note).toMatch(
      /^never sent: no provider could take it within ORDER_MAX_WAIT \(15 min, waiting since 2026-12-02T10:\d\d:00\.000Z\): a1topup circuit open$/,
    );
    expect(simulator.order(order.providerOrderId)).toBeUndefined();
  });

  it('does not send an order whose run comes after its wait was over, even with the provider back', async () => {
    closed = true;
    const order = await submit('wait-late-1');
    expect((await runOnce(depsWith(up), order)).waitMs).toBeGreaterThan(0);
    closed = false;
    now += 2 * MAX_WAIT;
    const late = await runOnce(depsWith(up), order);
    expect(late.outcome).toMatchObject({ kind: 'settled', order: { state: 'failed', attempts: 0 } });
    const stored = await ledger.getOrder(order);
    expect(stored?.history.at(-1)?.note).toMatch(
      /^never sent: .*the wait was over before a1topup could be tried again$/,
    );
    expect(simulator.order(order.providerOrderId)).toBeUndefined();
  });

  it('waits after a call that never left, and sends it with the same orderid once the provider is back', async () => {
    closed = false;
    const order = await submit('wait-down-1');
    const first = await runOnce(depsWith(down), order);
    expect(first.waitMs).toBeGreaterThan(0);
    let stored = await ledger.getOrder(order);
    expect(stored).toMatchObject({ state: 'processing', inFlight: false, attempts: 1 });
    expect(waitNotes(stored)).toHaveLength(1);
    expect(waitNotes(stored)[0]?.note).toMatch(/a1topup unreachable/);

    now += 30_000;
    expect((await runOnce(depsWith(down), order)).waitMs).toBeGreaterThan(0);
    stored = await ledger.getOrder(order);
    expect(waitNotes(stored)).toHaveLength(1);

    now += 30_000;
    const back = await runOnce(depsWith(up), order);
    expect(back.outcome).toMatchObject({ kind: 'settled', order: { state: 'success', attempts: 3 } });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
  });

  it('fails a call that never left as never sent once ORDER_MAX_WAIT has passed', async () => {
    closed = false;
    const order = await submit('wait-down-2');
    expect((await runOnce(depsWith(down, 60_000), order)).waitMs).toBeGreaterThan(0);
    now += 60_000;
    const last = await runOnce(depsWith(down, 60_000), order);
    expect(last.outcome).toMatchObject({ kind: 'settled', order: { state: 'failed' } });
    const stored = await ledger.getOrder(order);
    expect(stored?.history.at(-1)?.note).toMatch(
      /^never sent: no provider could take it within ORDER_MAX_WAIT \(1 min, waiting since .*\): (a1topup unreachable|the wait was over before a1topup could be tried again)/,
    );
    expect(stored?.inFlight).toBe(false);
    expect(simulator.order(order.providerOrderId)).toBeUndefined();
  });
});
