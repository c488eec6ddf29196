import { randomUUID } from 'node:crypto';
import { type Order, parseRupees, providerOrderId } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createA1TopupProvider, type RechargeProvider } from '@rechargeflow/providers';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { checkBooks } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPendingOrder,
  NotSentRetryError,
  type ProviderGate,
  processRecharge,
  submitOrder,
  type WorkerDeps,
} from '../src/index.ts';

// The ORDER_MAX_WAIT clock across attempts: a wait before an attempt that was sent does not count
// against the provider it fails over to, while a reroute before anything was sent keeps the clock.
// Real Redis ledger, one simulator per provider (separate books), and a clock the test moves.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-wait-fo-${randomUUID().slice(0, 8)}`;
const PASSWORD = `sim-pw-${randomUUID()}`;
const MAX_WAIT = 15 * 60_000;
const ROUTE = ['a1topup', 'a1topup_backup'] as const;
const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
const run = { attempt: 1, isFinalAttempt: false };
const statusSettings = {
  notFoundGraceMs: 1,
  notFoundAfterGrace: 'failed',
  maxPendingAgeMs: 48 * 3_600_000,
} as const;

let primarySim: Simulator;
let backupSim: Simulator;
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let primary: RechargeProvider;
let backup: RechargeProvider;
let now = Date.parse('2026-12-02T10:00:00.000Z');

/** The providers whose circuit is closed now (the gate passes over the others, like the breakers). */
let up = new Set<string>();
const gate: ProviderGate = {
  select: async (route, fromIndex) => {
    for (let index = fromIndex; index < route.length; index++) {
      if (up.has(route[index]!)) return { provider: route[index]!, index };
    }
    return { provider: null, reason: `${route.slice(fromIndex).join(', ')} circuit open` };
  },
  record: async () => undefined,
};

function deps(): WorkerDeps {
  return {
    ledger,
    producer,
    log,
    gate,
    now: () => new Date(now),
    providers: new Map([
      [primary.name, primary],
      [backup.name, backup],
    ]),
    firstCheckAfterMs: 30_000,
    orderMaxWaitMs: MAX_WAIT,
    routeFor: () => ROUTE,
  };
}

async function submit(orderId: string): Promise<Order> {
  const request = { operator: 'A', circle: '5', number: '9812345678', amount: parseRupees(10)! };
  const outcome = await submitOrder(deps(), { clientId: 'shop', orderId, request });
  expect(outcome.kind).toBe('created');
  return outcome.order;
}

/** Runs the order's job once: its outcome, or the wait it asked for (ms). */
async function runOnce(order: Order) {
  try {
    return { outcome: await processRecharge(deps(), order, run) };
  } catch (error) {
    expect(error).toBeInstanceOf(NotSentRetryError);
    return { waitMs: (error as NotSentRetryError).retryAfterMs };
  }
}

async function stored(order: Order): Promise<Order> {
  const read = await ledger.getOrder(order);
  expect(read).not.toBeNull();
  return read as Order;
}

const waitNotes = (order: Order) => order.history.filter((h) => h.note?.startsWith('waiting for a provider'));

/** The first attempt answers Pending and its status later proves the refusal: a sent, refused attempt. */
async function sentAndRefused(order: Order): Promise<Order> {
  const firstId = providerOrderId(order, 1);
  primarySim.script({ orderid: firstId, behaviour: 'pending_then_failure', settleAfterMs: 3_600_000 });
  up = new Set(ROUTE);
  const sent = await runOnce(order);
  expect(sent.outcome).toMatchObject({ kind: 'pending', order: { state: 'pending', provider: 'a1topup' } });
  now += 20 * 60_000;
  primarySim.settle(firstId);
  const refused = await checkPendingOrder(deps(), await stored(order), statusSettings);
  expect(refused.kind).toBe('settled');
  const atBackup = await stored(order);
  expect(atBackup).toMatchObject({ state: 'processing', provider: 'a1topup_backup', inFlight: false });
  expect(atBackup.history.at(-1)?.note).toMatch(
    new RegExp(
      `failing over to a1topup_backup as ${atBackup.providerOrderId} \\(a1topup refused ${firstId}\\)$`,
    ),
  );
  return atBackup;
}

beforeAll(async () => {
  primarySim = createSimulator({ username: 'u', password: PASSWORD, seed: 5 });
  backupSim = createSimulator({ username: 'u', password: PASSWORD, seed: 6 });
  const settings = { username: 'u', password: PASSWORD, format: 'json' as const, maxResponseBytes: 65_536 };
  const timeouts = { timeoutMs: 2_000, connectTimeoutMs: 1_000 };
  primary = createA1TopupProvider({ ...settings, ...timeouts, baseUrl: (await primarySim.listen(0)).url });
  backup = createA1TopupProvider({
    ...settings,
    ...timeouts,
    name: 'a1topup_backup',
    baseUrl: (await backupSim.listen(0)).url,
  });
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'wait-failover-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
});

afterAll(async () => {
  await primary.close();
  await backup.close();
  await producer.close();
  await primarySim.close();
  await backupSim.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

describe('the ORDER_MAX_WAIT clock across attempts', () => {
  it('sends to the backup an order that waited 10 s before its first attempt was sent and refused 20 min later', async () => {
    up = new Set();
    const order = await submit('wait-fo-1');
    expect((await runOnce(order)).waitMs).toBeGreaterThan(0);
    now += 10_000;
    const atBackup = await sentAndRefused(order);

    const last = await runOnce(atBackup);
    expect(last.outcome).toMatchObject({
      kind: 'settled',
      order: { state: 'success', provider: 'a1topup_backup' },
    });
    // Books: the refused attempt charged nothing, the backup's once.
    expect(primarySim.order(order.providerOrderId)).toMatchObject({ submissions: 1, status: 'failed' });
    expect(backupSim.order(atBackup.providerOrderId)).toMatchObject({ submissions: 1, status: 'success' });
  });

  it('gives the backup a whole ORDER_MAX_WAIT of its own, then says the earlier attempt was refused, not "never sent"', async () => {
    up = new Set();
    const order = await submit('wait-fo-2');
    expect((await runOnce(order)).waitMs).toBeGreaterThan(0);
    now += 10_000;
    const atBackup = await sentAndRefused(order);
    const failedOverAt = now;

    // The backup's breaker is open: the order waits for it from now, with a note of its own.
    up = new Set(['a1topup']);
    expect((await runOnce(atBackup)).waitMs).toBeGreaterThan(0);
    let current = await stored(order);
    expect(waitNotes(current)).toHaveLength(2);
    expect(waitNotes(current)[1]).toMatchObject({ at: new Date(failedOverAt).toISOString() });
    expect(waitNotes(current)[1]?.note).toMatch(/then fails as not sent to a1topup_backup$/);

    now += MAX_WAIT - 1_000;
    expect((await runOnce(current)).waitMs).toBeGreaterThan(0);
    now += 1_000;
    const gaveUp = await runOnce(current);
    expect(gaveUp.outcome).toMatchObject({ kind: 'settled', order: { state: 'failed' } });
    current = await stored(order);
    expect(current.history.at(-1)?.note).toBe(
      `not sent to a1topup_backup: no provider could take it within ORDER_MAX_WAIT (15 min, waiting since ${new Date(failedOverAt).toISOString()}): a1topup_backup circuit open; the earlier attempt ${order.providerOrderId} was refused by a1topup`,
    );
    expect(backupSim.order(atBackup.providerOrderId)).toBeUndefined();
  });

  it('does not send a late run for the backup once its own wait is over', async () => {
    up = new Set();
    const order = await submit('wait-fo-3');
    expect((await runOnce(order)).waitMs).toBeGreaterThan(0);
    const atBackup = await sentAndRefused(order);
    up = new Set(['a1topup']);
    expect((await runOnce(atBackup)).waitMs).toBeGreaterThan(0);
    // Workers were down past the backup's deadline; it is up again when the run comes.
    up = new Set(ROUTE);
    now += 2 * MAX_WAIT;
    const late = await runOnce(await stored(order));
    expect(late.outcome).toMatchObject({ kind: 'settled', order: { state: 'failed' } });
    expect((await stored(order)).history.at(-1)?.note).toMatch(
      new RegExp(
        `^not sent to a1topup_backup: .*the wait was over before a1topup_backup could be tried again; the earlier attempt ${order.providerOrderId} was refused by a1topup$`,
      ),
    );
    expect(backupSim.order(atBackup.providerOrderId)).toBeUndefined();
  });

  it('keeps the clock across a reroute before anything was sent: the whole wait stays within ORDER_MAX_WAIT', async () => {
    up = new Set();
    const startedAt = now;
    const order = await submit('wait-fo-4');
    expect((await runOnce(order)).waitMs).toBeGreaterThan(0);
    // Five minutes on, only the backup takes orders: the order is rerouted there, nothing sent.
    now += 5 * 60_000;
    up = new Set(['a1topup_backup']);
    const rerouted = await runOnce(order);
    expect(rerouted.outcome).toMatchObject({ kind: 'rerouted', order: { provider: 'a1topup_backup' } });
    // Its breaker opens before the backup's job runs: the order goes on waiting since the start.
    up = new Set();
    expect((await runOnce(order)).waitMs).toBeGreaterThan(0);
    expect(waitNotes(await stored(order))).toHaveLength(1);
    now = startedAt + MAX_WAIT;
    const gaveUp = await runOnce(order);
    expect(gaveUp.outcome).toMatchObject({
      kind: 'settled',
      order: { state: 'failed', provider: 'a1topup_backup' },
    });
    expect((await stored(order)).history.at(-1)?.note).toBe(
      `never sent: no provider could take it within ORDER_MAX_WAIT (15 min, waiting since ${new Date(startedAt).toISOString()}): a1topup_backup circuit open`,
    );
    expect(primarySim.order(order.providerOrderId)).toBeUndefined();
    expect(backupSim.order(providerOrderId(order, 2))).toBeUndefined();
  });

  // Last: both providers' books against the ledger, over every order the tests above sent.
  it("ends with each provider's books agreeing with the ledger: each charge once, on its own attempt", async () => {
    const books = { a1topup: primarySim.books(), a1topup_backup: backupSim.books() };
    const lines = [...books.a1topup, ...books.a1topup_backup];
    const found = await Promise.all(lines.map((l) => ledger.getOrderByProviderOrderId(l.orderid)));
    const orders = new Map<string, Order>();
    for (const order of found) if (order) orders.set(`${order.clientId}/${order.orderId}`, order);
    const verdict = checkBooks({
      books,
      orders: [...orders.values()],
      byProviderOrderId: new Map(lines.map((l, i) => [l.orderid, found[i] ?? null])),
    });
    expect(verdict.received).toBeGreaterThan(0);
    expect(verdict.problems).toEqual([]);
    expect(verdict.sentTwice).toEqual([]);
  });
});
