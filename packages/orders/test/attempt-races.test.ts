import { randomUUID } from 'node:crypto';
import { type Order, parseRupees, providerOrderId } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore, type NewOrder } from '@rechargeflow/ledger';
import { createA1TopupProvider, providerRegistry, type RechargeProvider } from '@rechargeflow/providers';
import { createRedisConnection, JobProducer, rechargeJobId } from '@rechargeflow/queue';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { deleteByPrefix } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCallback,
  type CallbackDeps,
  checkPendingOrder,
  processRecharge,
  requeueStranded,
  resolveOrder,
  submitOrder,
  sweepStuckProcessing,
} from '../src/index.ts';

/**
 * Issue 12's findings, one regression test each where the fix lives in this package: interleavings
 * of answers, callbacks, failover, sweeps and clocks that moved the wrong attempt, dropped a fact or
 * missed an order. Each interleaving is forced by a hook at the exact point where the race was.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-races-${randomUUID().slice(0, 8)}`;
const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
const checks = { notFoundGraceMs: 60_000, notFoundAfterGrace: 'failed' as const, maxPendingAgeMs: 3_600_000 };
const ROUTE = ['a1topup', 'a1topup_backup'];

let simulator: Simulator;
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let primary: RechargeProvider;
let backup: RechargeProvider;
let deps: CallbackDeps;

beforeAll(async () => {
  simulator = createSimulator({
    username: 'u',
    password: 'p',
    seed: 12,
    settleAfterMs: 3_600_000,
    holdMs: 2_000,
  });
  const { url } = await simulator.listen(0);
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'races-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  const client = (name: string) =>
    createA1TopupProvider({
      name,
      baseUrl: url,
      username: 'u',
      password: 'p',
      timeoutMs: 600,
      connectTimeoutMs: 300,
    });
  primary = client('a1topup');
  backup = client('a1topup_backup');
  deps = {
    ledger,
    producer,
    log,
    providers: new Map([
      [primary.name, primary],
      [backup.name, backup],
    ]),
    routeFor: () => ROUTE,
    providerCatalog: providerRegistry,
    firstCheckAfterMs: 0,
  };
});

afterAll(async () => {
  await primary.close();
  await backup.close();
  await producer.close();
  await simulator.close();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
  await queueRedis.quit();
});

async function submitted(orderId: string, rupees = 10): Promise<Order> {
  const created = await submitOrder(deps, {
    clientId: 'shop',
    orderId,
    request: { operator: 'A', number: '9812345678', amount: parseRupees(rupees)! },
  });
  return created.order;
}

async function storedCallback(providerOrderId: string, status: string, providerRef = 'OP1') {
  const { record } = await ledger.recordCallback({
    provider: 'a1topup',
    providerOrderId,
    status,
    providerRef,
    receivedAt: new Date().toISOString(),
    raw: `txid=${providerOrderId}&status=${status}`,
  });
  return record.id;
}

const run = { attempt: 1, isFinalAttempt: false };

/** A provider that runs `during` after the real call was answered, before the worker sees the answer. */
function answeredThen(provider: RechargeProvider, during: () => Promise<void>): RechargeProvider {
  return {
    ...provider,
    name: provider.name,
    supports: provider.supports,
    recharge: async (call) => {
      const answer = await provider.recharge(call);
      await during();
      return answer;
    },
    checkStatus: (id) => provider.checkStatus(id),
    getBalance: () => provider.getBalance(),
    close: async () => undefined,
  };
}

describe('issue 12 findings', () => {
  it('1: a callback about attempt 1 read before a failover never moves attempt 2', async () => {
    const order = await submitted('race-1');
    simulator.script({ orderid: order.providerOrderId, behaviour: 'failure' });
    const secondId = providerOrderId(order, 2);
    simulator.script({ orderid: secondId, behaviour: 'success' });
    const id = await storedCallback(order.providerOrderId, 'Failure');
    // The callback job reads the order while attempt 1 is in flight, then waits; meanwhile the
    // worker's refusal, the failover and the backup's claim all land before its write.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let readDone: () => void = () => undefined;
    const didRead = new Promise<void>((resolve) => {
      readDone = resolve;
    });
    const racing: CallbackDeps = {
      ...deps,
      ledger: {
        ...ledger,
        getOrderByProviderOrderId: async (pid) => {
          const read = await ledger.getOrderByProviderOrderId(pid);
          readDone();
          await gate;
          return read;
        },
      },
    };
    let callback: ReturnType<typeof applyCallback> | undefined;
    const worker: CallbackDeps = {
      ...deps,
      providers: new Map([
        [
          'a1topup',
          answeredThen(primary, async () => {
            // Trusted callbacks: the attempt pin alone must keep attempt 2 safe.
            callback = applyCallback(racing, id, { verifyReversals: true, verifyCallbacks: false });
            await didRead;
            const read = await ledger.getOrder(order);
            expect(read).toMatchObject({
              state: 'processing',
              inFlight: true,
              providerOrderId: order.providerOrderId,
            });
          }),
        ],
        ['a1topup_backup', backup],
      ]),
    };
    expect(await processRecharge(worker, order, run)).toMatchObject({ kind: 'rerouted' });
    const claimed = await ledger.transition(order, {
      expect: { state: 'processing', inFlight: false, providerOrderId: secondId },
      to: 'processing',
      patch: { inFlight: true, incrementAttempts: true },
      entry: { at: new Date().toISOString(), source: 'worker', note: 'sending to a1topup_backup' },
    });
    expect(claimed.applied).toBe(true);
    release();
    const result = await callback!;
    expect(result.outcome).toBe('no_change');
    const now = await ledger.getOrder(order);
    expect(now).toMatchObject({ state: 'processing', inFlight: true, provider: 'a1topup_backup' });
    expect(now?.history.at(-1)).toMatchObject({ source: 'callback', providerStatus: 'Failure' });
    expect(now?.history.at(-1)?.note).toMatch(/earlier attempt/);
  });

  it('2: a refusal fails over the same whether its callback or its answer comes first', async () => {
    const order = await submitted('race-2');
    simulator.script({ orderid: order.providerOrderId, behaviour: 'failure' });
    simulator.script({ orderid: providerOrderId(order, 2), behaviour: 'success' });
    // The provider's Failure callback is applied after it answered, before the worker reads the answer.
    const racing: CallbackDeps = {
      ...deps,
      providers: new Map([
        [
          'a1topup',
          answeredThen(primary, async () => {
            const id = await storedCallback(order.providerOrderId, 'Failure');
            expect(await applyCallback(deps, id, { verifyReversals: true })).toMatchObject({
              outcome: 'applied',
            });
          }),
        ],
        ['a1topup_backup', backup],
      ]),
    };
    await processRecharge(racing, order, run);
    const moved = await ledger.getOrder(order);
    expect(moved).toMatchObject({ state: 'processing', provider: 'a1topup_backup', inFlight: false });
    // The backup charges it; the worker's own refusal is in the history, not lost.
    expect(await processRecharge(deps, order, run)).toMatchObject({
      kind: 'settled',
      order: { state: 'success' },
    });
    const done = await ledger.getOrder(order);
    expect(done?.history.some((h) => h.source === 'worker' && /earlier attempt/.test(h.note ?? ''))).toBe(
      true,
    );
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
    expect(simulator.order(providerOrderId(order, 2))?.submissions).toBe(1);
  });

  it("4: the worker's answer lands after a sweep moved its order on (never dropped)", async () => {
    const order = await submitted('race-4');
    simulator.script({ orderid: order.providerOrderId, behaviour: 'success' });
    // While the call runs, the stuck sweep sends the order to pending and a check to manual review.
    const sweepAhead: CallbackDeps = { ...deps, now: () => new Date(Date.now() + 3_600_000) };
    const racing: CallbackDeps = {
      ...deps,
      providers: new Map([
        [
          'a1topup',
          answeredThen(primary, async () => {
            await sweepStuckProcessing(sweepAhead, { olderThanMs: 1_000, limit: 100 });
            const pending = (await ledger.getOrder(order))!;
            expect(pending.state).toBe('pending');
            const review = await ledger.transition(order, {
              expect: { state: 'pending', providerOrderId: pending.providerOrderId },
              to: 'manual_review',
              entry: { at: new Date().toISOString(), source: 'poller', note: 'max age' },
            });
            expect(review.applied).toBe(true);
          }),
        ],
        ['a1topup_backup', backup],
      ]),
    };
    const outcome = await processRecharge(racing, order, run);
    expect(outcome).toMatchObject({ kind: 'skipped', state: 'manual_review' });
    const now = await ledger.getOrder(order);
    expect(now?.history.at(-1)).toMatchObject({
      from: 'manual_review',
      to: 'manual_review',
      source: 'worker',
      providerStatus: 'Success',
    });
  });

  it('5: an operator books a charge the provider made for a failed order (failed -> success)', async () => {
    const order = await submitted('race-5');
    simulator.script({ orderid: order.providerOrderId, behaviour: 'failure' });
    simulator.script({ orderid: providerOrderId(order, 2), behaviour: 'failure' });
    await processRecharge(deps, order, run);
    await processRecharge(deps, order, run);
    expect((await ledger.getOrder(order))?.state).toBe('failed');
    const decision = {
      status: 'success' as const,
      reason: 'backup portal shows the top-up',
      actor: 'asha (operator)',
    };
    // Tried at two providers: the operator names the attempt that was charged.
    expect(await resolveOrder(deps, order, decision)).toMatchObject({
      kind: 'attempt_needed',
      attempts: [order.providerOrderId, providerOrderId(order, 2)],
    });
    const outcome = await resolveOrder(deps, order, {
      ...decision,
      providerOrderId: providerOrderId(order, 2),
    });
    expect(outcome).toMatchObject({
      kind: 'resolved',
      order: { state: 'success', provider: 'a1topup_backup', providerOrderId: providerOrderId(order, 2) },
    });
    expect((await ledger.getOrder(order))?.history.at(-1)).toMatchObject({
      from: 'failed',
      to: 'success',
      source: 'operator',
      actor: 'asha (operator)',
    });
    // Not the other way: a success is never turned failed by a resolve.
    expect(await resolveOrder(deps, order, { status: 'failed', reason: 'x', actor: 'a' })).toMatchObject({
      kind: 'not_in_review',
    });
  });

  it('review: a charge reported for an earlier attempt while the next one is in flight waits for its answer, then is booked where it was made', async () => {
    const order = await submitted('race-review');
    const secondId = providerOrderId(order, 2);
    simulator.script({ orderid: order.providerOrderId, behaviour: 'failure' });
    simulator.script({ orderid: secondId, behaviour: 'failure' });
    await processRecharge(deps, order, run); // refused by a1topup: failed over
    const decide = (providerOrderIdCharged?: string) =>
      resolveOrder(deps, order, {
        status: 'success',
        reason: 'a1topup portal shows the first attempt charged',
        actor: 'ops (operator)',
        providerOrderId: providerOrderIdCharged,
      });
    // While the backup's call is in flight, a1topup reports the refused attempt charged after all.
    const racing: CallbackDeps = {
      ...deps,
      providers: new Map([
        ['a1topup', primary],
        [
          'a1topup_backup',
          answeredThen(backup, async () => {
            const id = await storedCallback(order.providerOrderId, 'Success', 'LATE');
            expect(await applyCallback(deps, id, { verifyReversals: true })).toMatchObject({
              outcome: 'applied',
              order: { state: 'manual_review', inFlight: true },
            });
            // The operator cannot decide while the backup's answer is outstanding.
            expect(await decide(order.providerOrderId)).toMatchObject({ kind: 'call_in_flight' });
          }),
        ],
      ]),
    };
    expect(await processRecharge(racing, order, run)).toMatchObject({
      kind: 'settled',
      order: { state: 'manual_review' },
    });
    const review = (await ledger.getOrder(order))!;
    expect(review.inFlight).toBe(false);
    expect(review.history.at(-1)).toMatchObject({ source: 'worker', providerStatus: 'Failure' });
    // Booked on the attempt a1topup charged, at a1topup: the books show the spend where it was made.
    expect(await decide(providerOrderId(order, 3))).toMatchObject({ kind: 'attempt_needed' });
    expect(await decide(order.providerOrderId)).toMatchObject({
      kind: 'resolved',
      order: { state: 'success', provider: 'a1topup', providerOrderId: order.providerOrderId },
    });
    expect(simulator.order(secondId)?.submissions).toBe(1);
  });

  it('6: the stranded sweep reaches an order behind more than 1,000 older queued orders with jobs', async () => {
    const own = createRedisLedgerStore({ redis, prefix: `${prefix}:backlog` });
    await own.init();
    const ownProducer = new JobProducer(queueRedis, { prefix: `${prefix}:bq` });
    const ownDeps: CallbackDeps = { ...deps, ledger: own, producer: ownProducer };
    const base = Date.now() - 600_000;
    const make = (i: number): NewOrder => {
      const key = { clientId: 'shop', orderId: `backlog-${String(i).padStart(5, '0')}` };
      return {
        ...key,
        providerOrderId: providerOrderId(key),
        provider: 'a1topup',
        request: { operator: 'A', number: '9812345678', amount: parseRupees(10)! },
        fingerprint: `f${i}`,
        now: new Date(base + i).toISOString(),
      };
    };
    const older = Array.from({ length: 1_100 }, (_, i) => make(i));
    for (let i = 0; i < older.length; i += 500) await own.createOrders(older.slice(i, i + 500));
    await ownProducer.enqueueBulk(
      'recharge',
      older.map((o) => ({
        payload: { clientId: o.clientId, orderId: o.orderId },
        jobId: rechargeJobId(o, 'a1topup'),
      })),
      'a1topup',
    );
    const stranded = make(5_000);
    await own.createOrders([stranded]);
    try {
      const summary = await requeueStranded(ownDeps, { olderThanMs: 60_000, limit: 1_000 });
      expect(summary).toMatchObject({ examined: 1_101, added: 1 });
      expect(
        await ownProducer.ensureQueued('recharge', stranded, rechargeJobId(stranded, 'a1topup'), 'a1topup'),
      ).toBe('present');
    } finally {
      await ownProducer.close();
    }
  });

  it('7: a callback for a queued order (proof it was sent) holds it: never sent again', async () => {
    const order = await submitted('race-7');
    // The claim was lost (a Redis restart without AOF): the provider has the order, the ledger says queued.
    simulator.script({ orderid: order.providerOrderId, behaviour: 'success' });
    await primary.recharge({ providerOrderId: order.providerOrderId, request: order.request });
    const id = await storedCallback(order.providerOrderId, 'Success');
    const result = await applyCallback(deps, id, { verifyReversals: true });
    expect(result).toMatchObject({ outcome: 'applied', order: { state: 'success' } });
    const states = (await ledger.getOrder(order))?.history.map((h) => h.to);
    expect(states).toEqual(['queued', 'processing', 'pending', 'success']);
    expect(await processRecharge(deps, order, run)).toMatchObject({ kind: 'skipped' });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
  });

  it("9: sweeps and the not-found grace go by the ledger's clock, not this host's", async () => {
    // The ledger's clock is an hour ahead of this host's (as if this host's were an hour behind).
    const ahead: CallbackDeps = {
      ...deps,
      ledger: { ...ledger, clock: async () => new Date(Date.now() + 3_600_000) },
    };
    const order = await submitted('race-9');
    await ledger.transition(order, {
      expect: { state: 'queued', providerOrderId: order.providerOrderId },
      to: 'processing',
      patch: { inFlight: true },
      entry: { at: new Date().toISOString(), source: 'worker', note: 'sending (then the worker died)' },
    });
    expect(await sweepStuckProcessing(ahead, { olderThanMs: 120_000, limit: 100 })).toMatchObject({
      toPending: 1,
    });
    const pending = (await ledger.getOrder(order))!;
    expect(pending.state).toBe('pending');
    // Never received by the provider: "no record" is final once the grace is over by the ledger's clock.
    const checked = await checkPendingOrder(ahead, pending, checks);
    expect(checked).toMatchObject({ kind: 'settled', order: { state: 'failed' } });
  });
});
