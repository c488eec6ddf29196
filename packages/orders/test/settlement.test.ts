import { randomUUID } from 'node:crypto';
import { type Order, parseRupees } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore, type TransitionResult } from '@rechargeflow/ledger';
import {
  createA1TopupProvider,
  createRedisTokenLease,
  createTelgoo5Provider,
  providerRegistry,
  type RechargeProvider,
} from '@rechargeflow/providers';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { freePort } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCallback,
  type CallbackDeps,
  CallbackRetryError,
  checkPendingOrder,
  processRecharge,
  reconcile,
  resolveOrder,
  reverseOrder,
  runStatusChecks,
  submitOrder,
  sweepStuckProcessing,
} from '../src/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-settle-unit-${randomUUID().slice(0, 8)}`;
const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
const settings = {
  notFoundGraceMs: 60_000,
  notFoundAfterGrace: 'failed' as const,
  maxPendingAgeMs: 3_600_000,
};

let simulator: Simulator;
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let provider: RechargeProvider;
let deps: CallbackDeps;
let simUrl: string;

beforeAll(async () => {
  simulator = createSimulator({
    username: 'u',
    password: 'p',
    seed: 3,
    settleAfterMs: 3_600_000,
    holdMs: 2_000,
  });
  const { url } = await simulator.listen(0);
  simUrl = url;
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'settle-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  provider = createA1TopupProvider({
    baseUrl: url,
    username: 'u',
    password: 'p',
    timeoutMs: 600,
    connectTimeoutMs: 300,
  });
  deps = {
    ledger,
    producer,
    log,
    providers: new Map([[provider.name, provider]]),
    providerCatalog: providerRegistry,
    firstCheckAfterMs: 0,
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

/** An A1Topup client for a port nobody listens on: every call is refused before it is sent. */
async function unreachableProvider(): Promise<RechargeProvider> {
  return createA1TopupProvider({
    baseUrl: `http://127.0.0.1:${await freePort()}`,
    username: 'u',
    password: 'p',
    timeoutMs: 300,
    connectTimeoutMs: 200,
  });
}

/** Submits and processes an order through the real worker path; returns it as stored. */
async function processed(orderId: string, rupees: number) {
  const created = await submitOrder(deps, {
    clientId: 'shop',
    orderId,
    request: { operator: 'A', number: '9812345678', amount: parseRupees(rupees)! },
  });
  await processRecharge(deps, created.order, { attempt: 1, isFinalAttempt: false });
  return (await ledger.getOrder(created.order))!;
}

async function storedCallback(providerOrderId: string, status: string, providerRef = 'OP1') {
  const { record, isNew } = await ledger.recordCallback({
    provider: 'a1topup',
    providerOrderId,
    status,
    providerRef,
    receivedAt: new Date().toISOString(),
    raw: `txid=${providerOrderId}&status=${status}`,
  });
  return { id: record.id, isNew };
}

describe('runStatusChecks', () => {
  it('works through a backlog in full batches within its time budget, one batch without one', async () => {
    // A ledger of its own: only this backlog is due in it.
    const own = createRedisLedgerStore({ redis, prefix: `${prefix}:backlog` });
    await own.init();
    const ownDeps: CallbackDeps = { ...deps, ledger: own };
    await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const created = await submitOrder(ownDeps, {
          clientId: 'shop',
          orderId: `backlog-${i}`,
          request: { operator: 'A', number: '9812345678', amount: parseRupees(31)! },
        });
        await processRecharge(ownDeps, created.order, { attempt: 1, isFinalAttempt: false });
      }),
    );
    expect((await own.countInState('pending')).count).toBe(25);
    const base = { ...settings, intervalsMs: [3_600_000], batch: 10, concurrency: 5 };
    // Without a budget: one batch per sweep, as before.
    expect(await runStatusChecks(ownDeps, base)).toMatchObject({ checked: 10, batches: 1 });
    // With one: full batches until one comes back short (10, then the last 5).
    expect(await runStatusChecks(ownDeps, { ...base, budgetMs: 60_000 })).toMatchObject({
      checked: 15,
      batches: 2,
    });
    expect(await runStatusChecks(ownDeps, { ...base, budgetMs: 60_000 })).toMatchObject({
      checked: 0,
      batches: 1,
    });
    // Shutting down: no claim after the batch in hand, whatever the budget.
    await Promise.all(
      ['stop-1', 'stop-2', 'stop-3'].map(async (orderId) => {
        const created = await submitOrder(ownDeps, {
          clientId: 'shop',
          orderId,
          request: { operator: 'A', number: '9812345678', amount: parseRupees(31)! },
        });
        await processRecharge(ownDeps, created.order, { attempt: 1, isFinalAttempt: false });
      }),
    );
    const stopping = { ...base, batch: 1, budgetMs: 60_000, shouldStop: () => true };
    expect(await runStatusChecks(ownDeps, stopping)).toMatchObject({ checked: 1, batches: 1 });
    expect(await runStatusChecks(ownDeps, { ...stopping, shouldStop: () => false })).toMatchObject({
      checked: 2,
      batches: 3,
    });
    // The simulator recorded every one as success: all settled, each checked once.
    expect((await own.countInState('success')).count).toBe(28);
    expect((await own.countInState('pending')).count).toBe(0);
  });
});

describe('checkPendingOrder', () => {
  it('settles a pending order by what the status API says, and schedules nothing after', async () => {
    const order = await processed('chk-success', 31); // timeout: pending, provider recorded success
    expect(order.state).toBe('pending');
    expect(order.nextCheckAt).toBeTruthy();
    const outcome = await checkPendingOrder(deps, order, settings);
    expect(outcome).toMatchObject({ kind: 'settled', order: { state: 'success' } });
    const stored = await ledger.getOrder(order);
    expect(stored?.nextCheckAt).toBeUndefined();
    expect(stored?.history.at(-1)).toMatchObject({ from: 'pending', to: 'success', source: 'poller' });
    expect(simulator.order(order.providerOrderId)?.submissions).toBe(1);
  });

  it('keeps a still-pending order pending, and sends it to manual_review past the max age', async () => {
    const order = await processed('chk-pending', 17);
    expect(await checkPendingOrder(deps, order, settings)).toMatchObject({ kind: 'still_pending' });
    const old = await checkPendingOrder(deps, order, { ...settings, maxPendingAgeMs: 0 });
    expect(old).toMatchObject({ kind: 'settled', order: { state: 'manual_review' } });
  });

  it('treats "no record" as no answer within the grace period, and as failed (or manual review) after it', async () => {
    const a = await processed('chk-nf-a', 31);
    const b = await processed('chk-nf-b', 31);
    // Make the provider forget: an order it never recorded looks exactly like this.
    simulator.reset();
    expect(await checkPendingOrder(deps, a, settings)).toMatchObject({ kind: 'still_pending' });
    expect(await checkPendingOrder(deps, a, { ...settings, notFoundGraceMs: 0 })).toMatchObject({
      kind: 'settled',
      order: { state: 'failed' },
    });
    expect(
      await checkPendingOrder(deps, b, {
        ...settings,
        notFoundGraceMs: 0,
        notFoundAfterGrace: 'manual_review',
      }),
    ).toMatchObject({
      kind: 'settled',
      order: { state: 'manual_review' },
    });
    expect(simulator.order(a.providerOrderId)).toBeUndefined();
  });

  it('hands a pending order of a provider with no status API to a person at once', async () => {
    const telgoo5 = createTelgoo5Provider({
      baseUrl: `${simUrl}/telgoo5/`,
      vendorId: 'v',
      username: 'u',
      password: 'p',
      pin: '1234',
      agentId: 'a',
      tokens: createRedisTokenLease({ redis, key: `${prefix}:telgoo5-tokens` }),
    });
    const t5deps: CallbackDeps = {
      ...deps,
      providers: new Map([[telgoo5.name, telgoo5]]),
      routeFor: () => ['telgoo5'],
    };
    try {
      const created = await submitOrder(t5deps, {
        clientId: 'shop',
        orderId: 'chk-no-status-api',
        request: { operator: 'TELGOO5', number: '4524400101', amount: parseRupees(12)! },
      });
      // Pending without the worker's hand-over (as after a ledger error right after that write).
      const at = new Date().toISOString();
      const applied = async (result: Promise<TransitionResult>) => {
        const done = await result;
        if (!done.applied) throw new Error(`transition not applied: ${done.reason}`);
        return done.order;
      };
      const claimed = await applied(
        ledger.transition(created.order, {
          expect: { state: 'queued' },
          to: 'processing',
          patch: { inFlight: true },
          entry: { at, source: 'worker', note: 'sending' },
        }),
      );
      const pending = await applied(
        ledger.transition(claimed, {
          expect: { state: 'processing', inFlight: true },
          to: 'pending',
          patch: { inFlight: false, checkAfterMs: 0 },
          entry: { at, source: 'worker', note: 'outcome unknown' },
        }),
      );
      expect(pending).toMatchObject({ state: 'pending', provider: 'telgoo5' });
      const outcome = await checkPendingOrder(t5deps, pending, settings);
      expect(outcome).toMatchObject({ kind: 'settled', order: { state: 'manual_review' } });
      expect((await ledger.getOrder(created.order))?.history.at(-1)).toMatchObject({
        from: 'pending',
        to: 'manual_review',
        source: 'poller',
        note: expect.stringMatching(/^telgoo5 has no status API: .*MDN \(45\*{6}01\) got a top-up of ₹?12/),
      });
    } finally {
      await telgoo5.close();
    }
  });

  it('keeps the order pending when the status API cannot be reached', async () => {
    const order = await processed('chk-down', 31);
    const down = await unreachableProvider();
    const outcome = await checkPendingOrder(
      { ...deps, providers: new Map([[down.name, down]]) },
      order,
      settings,
    );
    expect(outcome).toMatchObject({ kind: 'still_pending' });
    expect((await ledger.getOrder(order))?.state).toBe('pending');
    await down.close();
  });
});

describe('applyCallback', () => {
  it('settles a pending order once, however many copies arrive', async () => {
    const order = await processed('cb-pending', 17);
    const copies = await Promise.all(
      Array.from({ length: 5 }, () => storedCallback(order.providerOrderId, 'Success')),
    );
    expect(copies.filter((c) => c.isNew)).toHaveLength(1);
    const id = copies[0]!.id;
    // Trusted here (verification off), so only the deduplication is tested; verification below.
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        applyCallback(deps, id, { verifyReversals: true, verifyCallbacks: false }),
      ),
    );
    expect(results.filter((r) => r.outcome === 'applied').length).toBeLessThanOrEqual(1);
    const stored = await ledger.getOrder(order);
    expect(stored?.state).toBe('success');
    expect(stored?.history.filter((h) => h.from === 'pending')).toHaveLength(1);
    expect((await ledger.getCallback(id))?.copies).toBe(5);
  });

  it('applies a reversal only once the status API confirms it, with the amount on the order', async () => {
    const order = await processed('cb-rev', 10);
    expect(order.state).toBe('success');
    const early = await storedCallback(order.providerOrderId, 'Failure', 'REV-EARLY');
    // Not confirmed yet: within the window the job asks again later (the status API may lag).
    await expect(applyCallback(deps, early.id, { verifyReversals: true })).rejects.toBeInstanceOf(
      CallbackRetryError,
    );
    expect((await ledger.getCallback(early.id))?.outcome).toBe('received');
    // Past the window: kept for an operator, the order untouched.
    const kept = await applyCallback(deps, early.id, { verifyReversals: true, confirmWindowMs: 0 });
    expect(kept).toMatchObject({ outcome: 'reversal_not_confirmed' });
    expect(kept.note).toMatch(/still reports success/);
    expect((await ledger.getOrder(order))?.state).toBe('success');

    await simulator.reverse(order.providerOrderId, { callback: false });
    const confirmed = await storedCallback(order.providerOrderId, 'Failure', 'REV-1');
    expect(await applyCallback(deps, confirmed.id, { verifyReversals: true })).toMatchObject({
      outcome: 'applied',
    });
    const reversed = await ledger.getOrder(order);
    expect(reversed).toMatchObject({
      state: 'reversed',
      reversal: { amount: 1000, providerRef: 'REV-1', callbackId: confirmed.id },
    });
    const late = await storedCallback(order.providerOrderId, 'Success', 'LATE');
    expect(await applyCallback(deps, late.id, { verifyReversals: true })).toMatchObject({
      outcome: 'no_change',
    });
  });

  it('keeps asking while the status API does not answer, then leaves the reversal to an operator', async () => {
    const order = await processed('cb-rev-down', 10);
    const down = await unreachableProvider();
    const downDeps: CallbackDeps = { ...deps, providers: new Map([[down.name, down]]) };
    try {
      const cb = await storedCallback(order.providerOrderId, 'Failure', 'REV-DOWN');
      await expect(applyCallback(downDeps, cb.id, { verifyReversals: true })).rejects.toBeInstanceOf(
        CallbackRetryError,
      );
      const kept = await applyCallback(downDeps, cb.id, { verifyReversals: true, confirmWindowMs: 0 });
      expect(kept.outcome).toBe('reversal_not_confirmed');
      // The note says which order it is and how to record the reversal.
      expect(kept.note).toContain(
        'order cb-rev-down of client shop not confirmed: the status API still did not answer',
      );
      expect(kept.note).toContain(`"callbackId": "${cb.id}"`);
      expect((await ledger.getOrder(order))?.state).toBe('success');
    } finally {
      await down.close();
    }
  });

  it('an operator reversal and the callback job agree on the callback, whichever writes last', async () => {
    const order = await processed('cb-rev-race', 10);
    const cb = await storedCallback(order.providerOrderId, 'Failure', 'REV-RACE');
    // The reversal is in the ledger with this callback, the link not yet written (an operator's
    // request cut off between the two writes, or the callback job running meanwhile).
    const at = new Date().toISOString();
    const written = await ledger.transition(order, {
      expect: { state: 'success' },
      to: 'reversed',
      patch: { reversal: { amount: order.request.amount, at, callbackId: cb.id } },
      entry: { at, source: 'operator', actor: 'ops (operator)', note: 'recorded' },
    });
    expect(written.applied).toBe(true);
    expect(await applyCallback(deps, cb.id, { verifyReversals: true })).toMatchObject({
      outcome: 'applied',
      note: 'the order was reversed with this callback',
    });
    // The operator's retry finishes without a second reversal.
    const retried = await reverseOrder(deps, order, {
      reason: 'retry',
      actor: 'ops (operator)',
      callbackId: cb.id,
    });
    expect(retried).toMatchObject({ kind: 'reversed', order: { state: 'reversed' } });
    expect((await ledger.getOrder(order))?.history.filter((h) => h.to === 'reversed')).toHaveLength(1);
    expect((await ledger.getCallback(cb.id))?.outcome).toBe('applied');
    // Another Failure callback cannot reverse it again.
    const other = await storedCallback(order.providerOrderId, 'Failure', 'REV-OTHER');
    expect(
      await reverseOrder(deps, order, { reason: 'again', actor: 'ops (operator)', callbackId: other.id }),
    ).toMatchObject({ kind: 'not_success' });
  });

  it('confirms a callback that would settle a pending order with the status API first (finding 3)', async () => {
    // A stale or forged Failure for a pending order that may have been charged: not applied.
    const order = await processed('cb-verify', 17);
    expect(order.state).toBe('pending');
    const forged = await storedCallback(order.providerOrderId, 'Failure', 'FORGED');
    await expect(applyCallback(deps, forged.id, { verifyReversals: true })).rejects.toBeInstanceOf(
      CallbackRetryError,
    );
    expect((await ledger.getOrder(order))?.state).toBe('pending');
    // Past the confirm window the callback is kept, in the order's history; the order waits for its checks.
    const kept = await applyCallback(deps, forged.id, { verifyReversals: true, confirmWindowMs: 0 });
    expect(kept).toMatchObject({ outcome: 'not_confirmed', order: { state: 'pending' } });
    expect((await ledger.getOrder(order))?.history.at(-1)).toMatchObject({
      from: 'pending',
      to: 'pending',
      source: 'callback',
      providerStatus: 'Failure',
    });
    // The provider did charge it: a Success callback is confirmed and settles the order.
    simulator.settle(order.providerOrderId);
    const real = await storedCallback(order.providerOrderId, 'Success', 'REAL');
    const applied = await applyCallback(deps, real.id, { verifyReversals: true });
    expect(applied).toMatchObject({ outcome: 'applied', order: { state: 'success' } });
    expect((await ledger.getOrder(order))?.history.at(-1)?.note).toMatch(/confirmed by the status API/);
  });

  it('books a charge the status API proves for a failed order, and records one it does not (finding 5)', async () => {
    const failed = await processed('cb-conflict', 13);
    expect(failed.state).toBe('failed');
    const c = await storedCallback(failed.providerOrderId, 'Success');
    // The status API says it was refused: the callback's claim is contradicted, the order stays failed.
    const result = await applyCallback(deps, c.id, { verifyReversals: true });
    expect(result).toMatchObject({ outcome: 'not_confirmed', order: { state: 'failed' } });
    expect(result.note).toMatch(/contradicted by the status API/);
    expect((await ledger.getOrder(failed))?.history.at(-1)?.note).toMatch(
      new RegExp(`^callback Success \\(${c.id}\\) contradicted by the status API`),
    );
    // The provider's books say it was charged after all: failed -> success, proven.
    simulator.forceStatus(failed.providerOrderId, 'Success');
    const late = await storedCallback(failed.providerOrderId, 'Success', 'LATE-OP');
    const booked = await applyCallback(deps, late.id, { verifyReversals: true });
    expect(booked).toMatchObject({ outcome: 'applied', order: { state: 'success' } });
    expect((await ledger.getOrder(failed))?.history.at(-1)).toMatchObject({
      from: 'failed',
      to: 'success',
      source: 'callback',
    });
    const unknown = await storedCallback('RFNOSUCHORDER', 'Success');
    expect(await applyCallback(deps, unknown.id, { verifyReversals: true })).toMatchObject({
      outcome: 'unknown_order',
    });
    expect((await ledger.getCallback(unknown.id))?.outcome).toBe('unknown_order');
  });
});

/**
 * Runs `use` with a route of A1Topup then a backup (the same simulator under another name), with
 * an order of 13 rupees already refused by A1Topup and failed over: `firstId` is the refused
 * attempt's orderid, `secondId` the backup's, not sent yet.
 */
async function withFailedOver(
  orderId: string,
  use: (ctx: {
    routed: CallbackDeps;
    order: Order;
    firstId: string;
    secondId: string;
    errors: unknown[];
  }) => Promise<void>,
): Promise<void> {
  const backup = createA1TopupProvider({
    name: 'a1topup_backup',
    baseUrl: simUrl,
    username: 'u',
    password: 'p',
    timeoutMs: 600,
    connectTimeoutMs: 300,
  });
  const errors: unknown[] = [];
  const routed: CallbackDeps = {
    ...deps,
    log: { ...log, error: (fields: unknown) => errors.push(fields) },
    providers: new Map([
      [provider.name, provider],
      [backup.name, backup],
    ]),
    routeFor: () => ['a1topup', 'a1topup_backup'],
  };
  try {
    const created = await submitOrder(routed, {
      clientId: 'shop',
      orderId,
      request: { operator: 'A', number: '9812345678', amount: parseRupees(13)! },
    });
    const first = await processRecharge(routed, created.order, { attempt: 1, isFinalAttempt: false });
    expect(first).toMatchObject({
      kind: 'rerouted',
      order: { provider: 'a1topup_backup', state: 'processing', inFlight: false },
    });
    const secondId = (await ledger.getOrder(created.order))!.providerOrderId;
    expect(secondId).not.toBe(created.order.providerOrderId);
    await use({ routed, order: created.order, firstId: created.order.providerOrderId, secondId, errors });
  } finally {
    await backup.close();
  }
}

describe('callbacks about an earlier attempt', () => {
  it('never move the attempt now at the next provider; a success for the refused one is a conflict', async () => {
    await withFailedOver('cb-earlier', async ({ routed, order, firstId, secondId, errors }) => {
      // The refused attempt's Failure callback, while the backup has the order: nothing moves.
      const stale = await storedCallback(firstId, 'Failure', 'OLD');
      const result = await applyCallback(routed, stale.id, { verifyReversals: true });
      expect(result).toMatchObject({ outcome: 'no_change' });
      expect(result.note).toContain(`moved on to a1topup_backup as ${secondId}`);
      expect(await ledger.getOrder(order)).toMatchObject({ state: 'processing', provider: 'a1topup_backup' });

      // The backup's answer still settles it.
      simulator.script({ orderid: secondId, behaviour: 'success' });
      const second = await processRecharge(routed, order, { attempt: 1, isFinalAttempt: false });
      expect(second).toMatchObject({ kind: 'settled', order: { state: 'success' } });

      // A Success for the refused attempt: money may have left twice; flagged, logged, order unchanged.
      const odd = await storedCallback(firstId, 'Success', 'ODD');
      const conflict = await applyCallback(routed, odd.id, { verifyReversals: true });
      expect(conflict.outcome).toBe('conflict');
      expect(conflict.note).toMatch(/^CONFLICT: .*earlier attempt/);
      expect(errors).toHaveLength(1);
      // Recorded in the order's history, never dropped.
      expect((await ledger.getOrder(order))?.history.at(-1)).toMatchObject({
        from: 'success',
        to: 'success',
        source: 'callback',
        providerStatus: 'Success',
      });
      // And a stale Failure after success is no reversal of the backup's recharge.
      const late = await storedCallback(firstId, 'Failure', 'LATE');
      expect(await applyCallback(routed, late.id, { verifyReversals: true })).toMatchObject({
        outcome: 'no_change',
      });
      expect((await ledger.getOrder(order))?.state).toBe('success');
      expect(simulator.order(firstId)?.submissions).toBe(1);
      expect(simulator.order(secondId)?.submissions).toBe(1);
    });
  });
});

describe('a success reported for a refused attempt before the next provider is asked', () => {
  it('holds the order for a person instead of charging the next provider knowingly', async () => {
    await withFailedOver('cb-earlier-held', async ({ routed, order, firstId, secondId }) => {
      // The refused attempt is reported paid while the backup's job waits.
      const odd = await storedCallback(firstId, 'Success', 'PAID-AFTER-ALL');
      const result = await applyCallback(routed, odd.id, { verifyReversals: true });
      expect(result).toMatchObject({ outcome: 'applied', order: { state: 'manual_review' } });
      const held = await ledger.getOrder(order);
      expect(held?.history.at(-1)).toMatchObject({
        from: 'processing',
        to: 'manual_review',
        source: 'callback',
      });
      expect(held?.history.at(-1)?.note).toMatch(/^CONFLICT: .*earlier attempt/);
      // The backup's job finds it held: nothing is sent to the backup.
      expect(await processRecharge(routed, order, { attempt: 1, isFinalAttempt: false })).toMatchObject({
        kind: 'skipped',
        state: 'manual_review',
      });
      expect(simulator.order(secondId)).toBeUndefined();
      expect(simulator.order(firstId)?.submissions).toBe(1);
    });
  });
});

describe('operators and reports', () => {
  it('records a reversal only for a success order, linking only a Failure callback of its attempt', async () => {
    const order = await processed('op-rev', 10);
    const other = await processed('op-rev-other', 10);
    const actor = 'ops (operator)';
    const success = await storedCallback(order.providerOrderId, 'Success', 'S1');
    const foreign = await storedCallback(other.providerOrderId, 'Failure', 'F1');
    expect(await reverseOrder(deps, order, { reason: 'x', actor, callbackId: success.id })).toMatchObject({
      kind: 'callback_mismatch',
      reason: expect.stringMatching(/not a failure/),
    });
    expect(await reverseOrder(deps, order, { reason: 'x', actor, callbackId: foreign.id })).toMatchObject({
      kind: 'callback_mismatch',
      reason: expect.stringMatching(/not this order's/),
    });
    expect(await reverseOrder(deps, order, { reason: 'x', actor, callbackId: 'f'.repeat(64) })).toMatchObject(
      {
        kind: 'callback_not_found',
      },
    );
    expect(
      await reverseOrder(deps, { clientId: 'shop', orderId: 'op-none' }, { reason: 'x', actor }),
    ).toMatchObject({
      kind: 'not_found',
    });
    const reversals: number[] = [];
    const counted: CallbackDeps = { ...deps, events: { reversal: (_p, amount) => reversals.push(amount) } };
    const done = await reverseOrder(counted, order, { reason: 'provider portal shows a refund', actor });
    expect(done).toMatchObject({
      kind: 'reversed',
      order: { state: 'reversed', reversal: { amount: 1000 } },
    });
    expect((await ledger.getOrder(order))?.history.at(-1)).toMatchObject({
      from: 'success',
      to: 'reversed',
      source: 'operator',
      actor,
    });
    expect(reversals).toEqual([1000]);
    expect(await reverseOrder(deps, order, { reason: 'again', actor })).toMatchObject({
      kind: 'not_success',
    });
  });

  it('resolves only orders in manual_review, with who and why', async () => {
    const order = await processed('op-1', 17);
    expect(
      await resolveOrder(deps, order, { status: 'success', reason: 'seen on portal', actor: 'asha' }),
    ).toMatchObject({ kind: 'not_in_review' });
    await checkPendingOrder(deps, order, { ...settings, maxPendingAgeMs: 0 });
    const resolved = await resolveOrder(deps, order, {
      status: 'failed',
      reason: 'provider confirmed no debit',
      actor: 'asha',
    });
    expect(resolved).toMatchObject({ kind: 'resolved', order: { state: 'failed' } });
    if (resolved.kind === 'resolved') {
      expect(resolved.order.history.at(-1)).toMatchObject({
        source: 'operator',
        actor: 'asha',
        note: 'provider confirmed no debit',
      });
    }
  });

  it('reconciles orders by state with balances at both ends of the window', async () => {
    const from = new Date().toISOString();
    await ledger.recordBalance({
      provider: 'a1topup',
      balance: 500_000,
      at: new Date(Date.now() - 1_000).toISOString(),
    });
    await processed('rec-ok', 20);
    await processed('rec-fail', 13);
    await new Promise((r) => setTimeout(r, 5));
    await ledger.recordBalance({ provider: 'a1topup', balance: 498_000, at: new Date().toISOString() });
    const to = new Date(Date.now() + 5).toISOString();
    const report = await reconcile(ledger, from, to, ['a1topup', 'telgoo5']);
    const a1 = report.providers.find((p) => p.provider === 'a1topup');
    expect(a1).toMatchObject({
      submitted: { count: 2, amount: 3300 },
      success: { count: 1, amount: 2000 },
      failed: { count: 1, amount: 1300 },
    });
    expect(a1?.balanceAtStart?.balance).toBe(500_000);
    expect(a1?.balanceAtEnd?.balance).toBe(498_000);
    expect(report.providers.find((p) => p.provider === 'telgoo5')).toMatchObject({ submitted: { count: 0 } });
  });

  it('moves orders stuck in processing to pending, or back to the queue when their call never left', async () => {
    const inFlight = await submitOrder(deps, {
      clientId: 'shop',
      orderId: 'stuck-a',
      request: { operator: 'A', number: '9812345678', amount: parseRupees(10)! },
    });
    await ledger.transition(inFlight.order, {
      expect: { state: 'queued' },
      to: 'processing',
      patch: { inFlight: true, incrementAttempts: true },
      entry: { at: new Date().toISOString(), source: 'worker' },
    });
    const swept = await sweepStuckProcessing(
      { ...deps, now: () => new Date(Date.now() + 600_000) },
      { olderThanMs: 120_000, limit: 10 },
    );
    expect(swept.toPending).toBeGreaterThanOrEqual(1);
    expect((await ledger.getOrder(inFlight.order))?.state).toBe('pending');
  });
});
