import { createHash } from 'node:crypto';
import {
  IllegalTransitionError,
  nextStates,
  ORDER_STATES,
  type Order,
  type OrderKey,
  type OrderState,
  paise,
  providerOrderId,
  type RechargeRequest,
  requestFingerprint,
  type TransitionSource,
  ValidationError,
} from '@rechargeflow/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderOrderIdConflictError } from '../src/ledger-errors.ts';
import type {
  CallbackInput,
  LedgerStore,
  NewOrder,
  ProviderSummary,
  TransitionCommand,
} from '../src/ledger-store.ts';

/**
 * The behaviour every LedgerStore must show. `setup` is called before each test and must return
 * an empty, initialised store; `cleanup` removes everything it wrote.
 */
export interface LedgerFixture {
  readonly store: LedgerStore;
  cleanup(): Promise<void>;
}

const BASE = Date.parse('2026-01-01T00:00:00.000Z');
/** A caller-supplied ISO time, `seconds` after a fixed base. */
const at = (seconds: number): string => new Date(BASE + seconds * 1000).toISOString();

const REQUEST: RechargeRequest = { operator: 'A', circle: 'DL', number: '9876543210', amount: paise(1000) };

function newOrder(
  clientId: string,
  orderId: string,
  seconds = 0,
  request: RechargeRequest = REQUEST,
): NewOrder {
  return {
    clientId,
    orderId,
    providerOrderId: providerOrderId({ clientId, orderId }),
    provider: 'a1topup',
    request,
    fingerprint: requestFingerprint(request),
    now: at(seconds),
  };
}

function move(
  from: OrderState,
  to: OrderState,
  seconds: number,
  extra: Partial<TransitionCommand['entry']> & Pick<TransitionCommand, 'patch'> & { inFlight?: boolean } = {},
): TransitionCommand {
  const { patch, inFlight, ...entry } = extra;
  return {
    expect: inFlight === undefined ? { state: from } : { state: from, inFlight },
    to,
    patch,
    entry: { at: at(seconds), source: 'worker', ...entry },
  };
}

/** The shortest legal path from `queued` to each state. */
const PATH: Readonly<Record<OrderState, readonly OrderState[]>> = {
  queued: [],
  processing: ['processing'],
  success: ['processing', 'success'],
  failed: ['processing', 'failed'],
  pending: ['processing', 'pending'],
  manual_review: ['processing', 'pending', 'manual_review'],
  reversed: ['processing', 'success', 'reversed'],
};

async function created(store: LedgerStore, order: NewOrder): Promise<Order> {
  const result = await store.createOrder(order);
  expect(result.created).toBe(true);
  return result.order;
}

async function applied(store: LedgerStore, key: OrderKey, command: TransitionCommand): Promise<Order> {
  const result = await store.transition(key, command);
  if (!result.applied)
    throw new Error(`expected ${command.expect.state} -> ${command.to} to apply: ${result.reason}`);
  return result.order;
}

/** Creates an order and walks it to `target`, one second per step after `seconds`. */
async function orderIn(
  store: LedgerStore,
  key: OrderKey,
  target: OrderState,
  seconds = 0,
  overrides: Partial<Pick<NewOrder, 'provider' | 'request'>> = {},
): Promise<Order> {
  const base = newOrder(key.clientId, key.orderId, seconds, overrides.request);
  let order = await created(store, { ...base, ...overrides });
  for (const [i, to] of PATH[target].entries()) {
    order = await applied(store, key, move(order.state, to, seconds + i + 1));
  }
  expect(order.state).toBe(target);
  return order;
}

const keyOf = (order: OrderKey): OrderKey => ({ clientId: order.clientId, orderId: order.orderId });
const ids = (orders: readonly Order[]): string[] => orders.map((order) => order.orderId);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (iso: string | undefined): number => Date.parse(iso ?? 'missing');

/** processing -> pending, the first check due `checkAfterMs` after the store's clock. */
async function toPending(store: LedgerStore, orderId: string, checkAfterMs?: number): Promise<Order> {
  const key = { clientId: 'shop-1', orderId };
  await orderIn(store, key, 'processing');
  const patch = checkAfterMs === undefined ? undefined : { checkAfterMs };
  return applied(store, key, move('processing', 'pending', 10, { patch, note: 'timeout after sending' }));
}

function callback(overrides: Partial<CallbackInput> = {}): CallbackInput {
  return {
    provider: 'a1topup',
    providerOrderId: 'RF0123456789ABCDEF01234567',
    status: 'Success',
    providerRef: 'OP77',
    receivedAt: at(100),
    raw: 'txid=RF0123456789ABCDEF01234567&status=Success&opid=OP77',
    ...overrides,
  };
}

/** Zero orders, in a summary. */
const none = { count: 0, amount: paise(0) };

export function describeLedgerContract(name: string, setup: () => Promise<LedgerFixture>): void {
  describe(`LedgerStore contract: ${name}`, () => {
    let store: LedgerStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const fixture = await setup();
      store = fixture.store;
      cleanup = () => fixture.cleanup();
    });

    afterEach(async () => {
      await cleanup();
    });

    it('creates an order as queued, version 1, with one history entry, keeping every field', async () => {
      const full: NewOrder = {
        ...newOrder('shop-1', 'full', 5, { ...REQUEST, value1: 'v1', value2: 'v2' }),
        batchId: 'batch-7',
      };
      const bare = newOrder('shop-1', 'bare', 6, {
        operator: 'ATV',
        number: '30123456789',
        amount: paise(19_950),
      });
      const first = await store.createOrder(full);
      const second = await store.createOrder(bare);

      expect(first).toStrictEqual({
        created: true,
        order: {
          clientId: 'shop-1',
          orderId: 'full',
          providerOrderId: full.providerOrderId,
          provider: 'a1topup',
          request: {
            operator: 'A',
            circle: 'DL',
            number: '9876543210',
            amount: 1000,
            value1: 'v1',
            value2: 'v2',
          },
          fingerprint: full.fingerprint,
          state: 'queued',
          inFlight: false,
          attempts: 0,
          statusChecks: 0,
          batchId: 'batch-7',
          createdAt: at(5),
          updatedAt: at(5),
          version: 1,
          history: [{ at: at(5), from: null, to: 'queued', source: 'api', note: 'order accepted' }],
        },
      });
      expect(second.created).toBe(true);
      expect(second.order.request).toStrictEqual({ operator: 'ATV', number: '30123456789', amount: 19_950 });
      expect(second.order).not.toHaveProperty('batchId');
      expect(second.order).not.toHaveProperty('providerTxId');
      expect(await store.getOrder(keyOf(full))).toStrictEqual(first.order);
      expect(await store.getOrder(keyOf(bare))).toStrictEqual(second.order);
    });

    it('returns the stored order unchanged for a duplicate key (created: false), so fingerprints can be compared', async () => {
      const original = newOrder('shop-1', 'dup', 1);
      await created(store, original);
      const moved = await applied(store, keyOf(original), move('queued', 'processing', 2));

      const other: RechargeRequest = { ...REQUEST, amount: paise(5000) };
      const again = await store.createOrder({ ...newOrder('shop-1', 'dup', 9, other) });

      expect(again.created).toBe(false);
      expect(again.order).toStrictEqual(moved);
      expect(again.order.fingerprint).toBe(original.fingerprint);
      expect(again.order.fingerprint).not.toBe(requestFingerprint(other));
      expect(await store.getOrder(keyOf(original))).toStrictEqual(moved);
    });

    it('creates exactly one order when the same key is submitted 10 times at once', async () => {
      const order = newOrder('shop-1', 'race', 1);
      const results = await Promise.all(Array.from({ length: 10 }, () => store.createOrder(order)));
      expect(results.filter((result) => result.created)).toHaveLength(1);
      for (const result of results) {
        expect(result.order.history).toHaveLength(1);
        expect(result.order.version).toBe(1);
      }
      const page = await store.listOrders('shop-1', { limit: 10 });
      expect(ids(page.orders)).toEqual(['race']);
    });

    it('refuses a second order with the same providerOrderId and never overwrites the first', async () => {
      const first = await created(store, newOrder('shop-1', 'one', 1));
      const thief: NewOrder = { ...newOrder('shop-2', 'two', 2), providerOrderId: first.providerOrderId };

      await expect(store.createOrder(thief)).rejects.toBeInstanceOf(ProviderOrderIdConflictError);

      expect(await store.getOrder(keyOf(thief))).toBeNull();
      expect(await store.getOrderByProviderOrderId(first.providerOrderId)).toStrictEqual(first);
      expect((await store.listOrders('shop-2', { limit: 10 })).orders).toEqual([]);
      // The refused order claimed nothing: its own key can still be created properly.
      await created(store, newOrder('shop-2', 'two', 3));
    });

    it('reads an order by key and by providerOrderId; unknown ones are null', async () => {
      const order = await created(store, newOrder('shop-1', 'read', 1));
      expect(await store.getOrder({ clientId: 'shop-1', orderId: 'read' })).toStrictEqual(order);
      expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(order);
      // An order id is unique per client only.
      expect(await store.getOrder({ clientId: 'shop-2', orderId: 'read' })).toBeNull();
      expect(await store.getOrder({ clientId: 'shop-1', orderId: 'nope' })).toBeNull();
      expect(await store.getOrderByProviderOrderId('RFNOTANORDER')).toBeNull();
    });

    it('applies every legal transition, bumping version and appending from/to/source/providerStatus', async () => {
      let pairs = 0;
      for (const from of ORDER_STATES) {
        for (const to of nextStates(from)) {
          const key = { clientId: 'shop-1', orderId: `${from}-to-${to}` };
          const before = await orderIn(store, key, from);
          const source: TransitionSource = to === 'reversed' ? 'callback' : 'poller';
          const result = await store.transition(
            key,
            move(from, to, 100, { source, providerStatus: `RAW ${to}`, note: `${from} then ${to}` }),
          );

          expect(result.applied, `${from} -> ${to}`).toBe(true);
          if (!result.applied) continue;
          expect(result.order.state).toBe(to);
          expect(result.order.version).toBe(before.version + 1);
          expect(result.order.updatedAt).toBe(at(100));
          expect(result.order.createdAt).toBe(before.createdAt);
          expect(result.order.history).toHaveLength(before.history.length + 1);
          expect(result.order.history.slice(0, -1)).toStrictEqual(before.history);
          expect(result.order.history.at(-1)).toStrictEqual({
            at: at(100),
            from,
            to,
            source,
            note: `${from} then ${to}`,
            providerStatus: `RAW ${to}`,
          });
          expect(await store.getOrder(key)).toStrictEqual(result.order);
          pairs += 1;
        }
      }
      expect(pairs).toBe(10);
    });

    it('refuses every illegal transition with IllegalTransitionError and changes nothing', async () => {
      let refused = 0;
      for (const from of ORDER_STATES) {
        const key = { clientId: 'shop-1', orderId: `in-${from}` };
        const before = await orderIn(store, key, from);
        for (const to of ORDER_STATES) {
          if (to === from || nextStates(from).includes(to)) continue;
          await expect(store.transition(key, move(from, to, 100)), `${from} -> ${to}`).rejects.toBeInstanceOf(
            IllegalTransitionError,
          );
          refused += 1;
        }
        expect(await store.getOrder(key)).toStrictEqual(before);
      }
      // 7 states x 6 other states, less the 10 legal pairs.
      expect(refused).toBe(32);
    });

    it('does not apply a transition whose expected state is not the stored one (conflict, nothing changed)', async () => {
      const key = { clientId: 'shop-1', orderId: 'cond' };
      const before = await orderIn(store, key, 'processing');

      const stale = await store.transition(key, move('queued', 'processing', 50));
      expect(stale).toStrictEqual({ applied: false, reason: 'conflict', order: before });
      const wrong = await store.transition(
        key,
        move('pending', 'success', 51, { patch: { providerTxId: 'TX1' } }),
      );
      expect(wrong).toStrictEqual({ applied: false, reason: 'conflict', order: before });

      expect(await store.getOrder(key)).toStrictEqual(before);
      expect((await store.listOrders('shop-1', { state: 'success', limit: 10 })).orders).toEqual([]);
    });

    it('answers not_found for a transition of an unknown order and creates nothing', async () => {
      const key = { clientId: 'shop-1', orderId: 'ghost' };
      expect(await store.transition(key, move('queued', 'processing', 1))).toStrictEqual({
        applied: false,
        reason: 'not_found',
      });
      expect(await store.getOrder(key)).toBeNull();
      expect((await store.listOrders('shop-1', { limit: 10 })).orders).toEqual([]);
    });

    it('applies a transition only when inFlight is as expected', async () => {
      const key = { clientId: 'shop-1', orderId: 'flight' };
      const before = await orderIn(store, key, 'processing');
      expect(before.inFlight).toBe(false);

      const notYet = await store.transition(key, move('processing', 'success', 10, { inFlight: true }));
      expect(notYet).toStrictEqual({ applied: false, reason: 'conflict', order: before });

      const send = move('processing', 'processing', 11, {
        inFlight: false,
        patch: { inFlight: true, incrementAttempts: true },
        note: 'sent to a1topup',
      });
      const sending = await applied(store, key, send);
      expect(sending.inFlight).toBe(true);

      // An interrupted job finds the call may have left: the same "start a call" must not apply again.
      const again = await store.transition(key, send);
      expect(again).toStrictEqual({ applied: false, reason: 'conflict', order: sending });

      const done = await applied(
        store,
        key,
        move('processing', 'success', 12, {
          inFlight: true,
          patch: { inFlight: false, providerTxId: 'TX42', providerRef: 'OP9', providerStatus: 'Success' },
          providerStatus: 'Success',
        }),
      );
      expect(done).toMatchObject({
        state: 'success',
        inFlight: false,
        attempts: 1,
        providerTxId: 'TX42',
        providerRef: 'OP9',
        providerStatus: 'Success',
      });
    });

    it('records a same-state event (processing -> processing, attempt + inFlight) without a state change', async () => {
      const key = { clientId: 'shop-1', orderId: 'event' };
      const before = await orderIn(store, key, 'processing');
      const after = await applied(
        store,
        key,
        move('processing', 'processing', 20, {
          patch: { incrementAttempts: true, inFlight: true },
          note: 'sent to a1topup',
        }),
      );
      expect(after.state).toBe('processing');
      expect(after.attempts).toBe(before.attempts + 1);
      expect(after.inFlight).toBe(true);
      expect(after.version).toBe(before.version + 1);
      expect(after.updatedAt).toBe(at(20));
      expect(after.history).toHaveLength(before.history.length + 1);
      expect(after.history.at(-1)).toStrictEqual({
        at: at(20),
        from: 'processing',
        to: 'processing',
        source: 'worker',
        note: 'sent to a1topup',
      });
      // Still listed under its state, exactly once.
      expect(ids((await store.listOrders('shop-1', { state: 'processing', limit: 10 })).orders)).toEqual([
        'event',
      ]);
      expect(ids(await store.findStale('processing', at(21), 10))).toEqual(['event']);
    });

    it('applies exactly one of 20 concurrent transitions from the same state', async () => {
      const key = { clientId: 'shop-1', orderId: 'contended' };
      await created(store, newOrder(key.clientId, key.orderId, 1));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.transition(key, move('queued', 'processing', 2, { note: `job ${i}` })),
        ),
      );
      const winners = results.filter((result) => result.applied);
      expect(winners).toHaveLength(1);
      for (const result of results) {
        if (!result.applied) {
          expect(result.reason).toBe('conflict');
          if (result.reason === 'conflict') expect(result.order.state).toBe('processing');
        }
      }
      const stored = await store.getOrder(key);
      expect(stored?.version).toBe(2);
      expect(stored?.history).toHaveLength(2);
      const winner = winners[0];
      if (!winner?.applied) throw new Error('no winner');
      expect(stored).toStrictEqual(winner.order);

      // The same for 20 workers racing to start the provider call (same-state event on inFlight).
      const starts = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.transition(
            key,
            move('processing', 'processing', 3, {
              inFlight: false,
              patch: { inFlight: true, incrementAttempts: true },
            }),
          ),
        ),
      );
      expect(starts.filter((result) => result.applied)).toHaveLength(1);
      const final = await store.getOrder(key);
      expect(final).toMatchObject({ state: 'processing', inFlight: true, attempts: 1, version: 3 });
      expect(final?.history).toHaveLength(3);
    });

    it('increments version on every change and keeps patch fields that later changes leave out', async () => {
      const key = { clientId: 'shop-1', orderId: 'versions' };
      const versions = [(await created(store, newOrder(key.clientId, key.orderId, 1))).version];
      let order = await applied(store, key, move('queued', 'processing', 2));
      versions.push(order.version);
      order = await applied(
        store,
        key,
        move('processing', 'pending', 3, { patch: { providerTxId: 'TX1', providerStatus: 'Pending' } }),
      );
      versions.push(order.version);
      order = await applied(
        store,
        key,
        move('pending', 'pending', 4, { source: 'poller', note: 'still pending' }),
      );
      versions.push(order.version);
      order = await applied(store, key, move('pending', 'success', 5, { patch: { providerRef: 'OP1' } }));
      versions.push(order.version);

      expect(versions).toEqual([1, 2, 3, 4, 5]);
      expect(order).toMatchObject({ providerTxId: 'TX1', providerStatus: 'Pending', providerRef: 'OP1' });
    });

    it("lists a client's orders newest first, paging by cursor without duplicates or gaps while orders arrive", async () => {
      for (let i = 0; i < 7; i += 1) {
        await created(store, newOrder('shop-1', `o${i}`, 10 + i));
        await created(store, newOrder('shop-2', `other${i}`, 10 + i));
      }
      // Two orders created in the same millisecond, split by a page boundary: each shown exactly once.
      await created(store, newOrder('shop-1', 'twin', 14));

      const page1 = await store.listOrders('shop-1', { limit: 3 });
      expect(ids(page1.orders).slice(0, 2)).toEqual(['o6', 'o5']);
      expect(['o4', 'twin']).toContain(ids(page1.orders)[2]);
      expect(page1.nextCursor).toBeTypeOf('string');

      await created(store, newOrder('shop-1', 'late-1', 100));
      const page2 = await store.listOrders('shop-1', { limit: 3, cursor: page1.nextCursor });
      expect([ids(page1.orders)[2], ids(page2.orders)[0]].sort()).toEqual(['o4', 'twin']);
      expect(ids(page2.orders).slice(1)).toEqual(['o3', 'o2']);
      expect(page2.nextCursor).toBeTypeOf('string');

      await created(store, newOrder('shop-1', 'late-2', 101));
      const page3 = await store.listOrders('shop-1', { limit: 3, cursor: page2.nextCursor });
      expect(ids(page3.orders)).toEqual(['o1', 'o0']);
      expect(page3.nextCursor).toBeUndefined();

      const seen = [...page1.orders, ...page2.orders, ...page3.orders];
      expect(new Set(ids(seen)).size).toBe(8);
      const times = seen.map((order) => order.createdAt);
      expect(times).toEqual([...times].sort().reverse());

      const all = await store.listOrders('shop-1', { limit: 10 });
      expect(ids(all.orders).slice(0, 2)).toEqual(['late-2', 'late-1']);
      expect(all.orders).toHaveLength(10);
      // Exactly `limit` left: no cursor to an empty page.
      expect(all.nextCursor).toBeUndefined();
      expect(ids((await store.listOrders('shop-2', { limit: 500 })).orders)).toEqual([
        'other6',
        'other5',
        'other4',
        'other3',
        'other2',
        'other1',
        'other0',
      ]);
      expect((await store.listOrders('shop-3', { limit: 5 })).orders).toEqual([]);
    });

    it('lists only orders in the requested state, newest first, with paging', async () => {
      for (let i = 1; i <= 5; i += 1) await created(store, newOrder('shop-1', `s${i}`, i));
      for (const orderId of ['s1', 's3', 's5']) {
        await applied(store, { clientId: 'shop-1', orderId }, move('queued', 'processing', 50));
      }
      const first = await store.listOrders('shop-1', { state: 'processing', limit: 2 });
      expect(ids(first.orders)).toEqual(['s5', 's3']);
      const second = await store.listOrders('shop-1', {
        state: 'processing',
        limit: 2,
        cursor: first.nextCursor,
      });
      expect(ids(second.orders)).toEqual(['s1']);
      expect(second.nextCursor).toBeUndefined();
      expect(ids((await store.listOrders('shop-1', { state: 'queued', limit: 10 })).orders)).toEqual([
        's4',
        's2',
      ]);
      expect((await store.listOrders('shop-1', { state: 'success', limit: 10 })).orders).toEqual([]);

      await applied(store, { clientId: 'shop-1', orderId: 's3' }, move('processing', 'failed', 60));
      // A full page of what is in the state now: the order that left is gone from its old state's index.
      const now = await store.listOrders('shop-1', { state: 'processing', limit: 2 });
      expect(ids(now.orders)).toEqual(['s5', 's1']);
      expect(now.nextCursor).toBeUndefined();
      expect(ids((await store.listOrders('shop-1', { state: 'failed', limit: 10 })).orders)).toEqual(['s3']);
    });

    it('refuses a limit outside 1..500 or a cursor it did not make', async () => {
      await created(store, newOrder('shop-1', 'x', 1));
      for (const limit of [0, -1, 501, 1.5, Number.NaN]) {
        await expect(store.listOrders('shop-1', { limit }), `limit ${limit}`).rejects.toBeInstanceOf(
          ValidationError,
        );
      }
      await expect(store.listOrders('shop-1', { limit: 5, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it('finds stale orders of one state across clients, oldest change first, up to the limit', async () => {
      const stale = async (clientId: string, orderId: string, state: OrderState, lastChange: number) => {
        const order = await orderIn(store, { clientId, orderId }, state, lastChange - PATH[state].length);
        expect(order.updatedAt).toBe(at(lastChange));
      };
      await stale('shop-1', 'p50', 'processing', 50);
      await stale('shop-2', 'p20', 'processing', 20);
      await stale('shop-3', 'p40', 'processing', 40);
      await stale('shop-1', 'p30', 'processing', 30);
      await stale('shop-2', 'fresh', 'processing', 200);
      await stale('shop-3', 'q10', 'pending', 10);

      expect(ids(await store.findStale('processing', at(100), 10))).toEqual(['p20', 'p30', 'p40', 'p50']);
      expect(ids(await store.findStale('processing', at(100), 2))).toEqual(['p20', 'p30']);
      // `updatedBefore` is exclusive.
      expect(ids(await store.findStale('processing', at(40), 10))).toEqual(['p20', 'p30']);
      expect(await store.findStale('queued', at(1_000), 10)).toEqual([]);

      // A change moves the order: out of its old state, and to the back by its new time.
      await applied(store, { clientId: 'shop-2', orderId: 'p20' }, move('processing', 'pending', 60));
      await applied(
        store,
        { clientId: 'shop-1', orderId: 'p30' },
        move('processing', 'processing', 70, { patch: { incrementAttempts: true } }),
      );
      expect(ids(await store.findStale('processing', at(100), 10))).toEqual(['p40', 'p50', 'p30']);
      expect(ids(await store.findStale('pending', at(100), 10))).toEqual(['q10', 'p20']);
      await expect(store.findStale('pending', at(100), 0)).rejects.toThrow(RangeError);
    });

    it('keeps the full history, in order, with every field', async () => {
      const key = { clientId: 'shop-1', orderId: 'story' };
      await created(store, newOrder(key.clientId, key.orderId, 0));
      await applied(store, key, move('queued', 'processing', 1, { note: 'picked up' }));
      await applied(
        store,
        key,
        move('processing', 'processing', 2, {
          note: 'sent to a1topup',
          patch: { incrementAttempts: true, inFlight: true },
        }),
      );
      await applied(
        store,
        key,
        move('processing', 'pending', 3, { note: 'timeout after sending', patch: { inFlight: false } }),
      );
      await applied(
        store,
        key,
        move('pending', 'pending', 4, { source: 'poller', providerStatus: 'Pending' }),
      );
      await applied(
        store,
        key,
        move('pending', 'manual_review', 5, { source: 'poller', note: 'no answer for 2 days' }),
      );
      await applied(
        store,
        key,
        move('manual_review', 'success', 6, {
          source: 'operator',
          actor: 'asha',
          note: 'confirmed by phone',
        }),
      );
      await applied(
        store,
        key,
        move('success', 'reversed', 7, { source: 'callback', providerStatus: 'Reversal' }),
      );

      const order = await store.getOrder(key);
      expect(order?.version).toBe(8);
      expect(order?.history).toStrictEqual([
        { at: at(0), from: null, to: 'queued', source: 'api', note: 'order accepted' },
        { at: at(1), from: 'queued', to: 'processing', source: 'worker', note: 'picked up' },
        { at: at(2), from: 'processing', to: 'processing', source: 'worker', note: 'sent to a1topup' },
        { at: at(3), from: 'processing', to: 'pending', source: 'worker', note: 'timeout after sending' },
        { at: at(4), from: 'pending', to: 'pending', source: 'poller', providerStatus: 'Pending' },
        { at: at(5), from: 'pending', to: 'manual_review', source: 'poller', note: 'no answer for 2 days' },
        {
          at: at(6),
          from: 'manual_review',
          to: 'success',
          source: 'operator',
          note: 'confirmed by phone',
          actor: 'asha',
        },
        { at: at(7), from: 'success', to: 'reversed', source: 'callback', providerStatus: 'Reversal' },
      ]);
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

    it('stores a reversal with success -> reversed and returns it', async () => {
      const key = { clientId: 'shop-1', orderId: 'disputed' };
      await orderIn(store, key, 'success');
      const reversal = { amount: paise(1000), at: at(50), providerRef: 'OP9', callbackId: 'c'.repeat(64) };
      const reversed = await applied(
        store,
        key,
        move('success', 'reversed', 50, { source: 'callback', patch: { reversal } }),
      );
      expect(reversed.reversal).toStrictEqual(reversal);
      expect(await store.getOrder(key)).toStrictEqual(reversed);

      const bare = { clientId: 'shop-1', orderId: 'disputed-bare' };
      await orderIn(store, bare, 'success');
      const plain = await applied(
        store,
        bare,
        move('success', 'reversed', 51, { patch: { reversal: { amount: paise(250), at: at(51) } } }),
      );
      expect(plain.reversal).toStrictEqual({ amount: 250, at: at(51) });

      const other = { clientId: 'shop-1', orderId: 'not-reversed' };
      await orderIn(store, other, 'processing');
      await expect(
        store.transition(other, move('processing', 'success', 52, { patch: { reversal } })),
      ).rejects.toThrow(RangeError);
    });

    describe('callbacks', () => {
      it('records a callback once under its deterministic id; a copy only counts', async () => {
        const input = callback();
        const first = await store.recordCallback(input);
        const id = createHash('sha256')
          .update(['a1topup', input.providerOrderId, 'success', 'OP77'].join('\u0000'))
          .digest('hex');
        expect(first).toStrictEqual({
          isNew: true,
          record: { ...input, id, outcome: 'received', copies: 1, updatedAt: input.receivedAt },
        });

        // Status compared trimmed and lower-cased; the first copy's text and times are kept.
        const copy = await store.recordCallback(
          callback({ status: ' SUCCESS ', receivedAt: at(200), raw: 'again' }),
        );
        expect(copy).toStrictEqual({ isNew: false, record: { ...first.record, copies: 2 } });
        expect(await store.getCallback(id)).toStrictEqual(copy.record);

        // Another operator ref, or none, is another callback.
        const otherRef = await store.recordCallback(callback({ providerRef: 'OP78' }));
        const noRef = await store.recordCallback(callback({ providerRef: undefined }));
        expect(otherRef.isNew).toBe(true);
        expect(noRef.isNew).toBe(true);
        expect(noRef.record).not.toHaveProperty('providerRef');
        expect(new Set([id, otherRef.record.id, noRef.record.id]).size).toBe(3);
        expect(await store.getCallback('f'.repeat(64))).toBeNull();
      });

      it('stores exactly one of 5 concurrent copies as new and counts all 5', async () => {
        const results = await Promise.all(Array.from({ length: 5 }, () => store.recordCallback(callback())));
        expect(results.filter((result) => result.isNew)).toHaveLength(1);
        const id = results[0]?.record.id ?? '';
        expect(new Set(results.map((result) => result.record.id))).toEqual(new Set([id]));
        expect((await store.getCallback(id))?.copies).toBe(5);
      });

      it('sets outcomes and finds callbacks by outcome, oldest change first, before a time', async () => {
        const c1 = (await store.recordCallback(callback({ providerOrderId: 'RF1', receivedAt: at(10) })))
          .record;
        const c2 = (await store.recordCallback(callback({ providerOrderId: 'RF2', receivedAt: at(30) })))
          .record;
        const c3 = (await store.recordCallback(callback({ providerOrderId: 'RF3', receivedAt: at(20) })))
          .record;
        const found = async (
          outcome: Parameters<LedgerStore['findCallbacks']>[0],
          before: number,
          limit = 10,
        ) => (await store.findCallbacks(outcome, at(before), limit)).map((record) => record.providerOrderId);

        expect(await found('received', 100)).toEqual(['RF1', 'RF3', 'RF2']);
        expect(await found('received', 100, 2)).toEqual(['RF1', 'RF3']);
        // `updatedBefore` is exclusive.
        expect(await found('received', 20)).toEqual(['RF1']);

        await store.setCallbackOutcome(c3.id, 'applied', 'pending -> success', at(40));
        const applied3 = await store.getCallback(c3.id);
        expect(applied3).toStrictEqual({
          ...c3,
          outcome: 'applied',
          note: 'pending -> success',
          updatedAt: at(40),
        });
        expect(await found('received', 100)).toEqual(['RF1', 'RF2']);
        expect(await found('applied', 100)).toEqual(['RF3']);
        expect(await found('applied', 40)).toEqual([]);

        await store.setCallbackOutcome(c1.id, 'unknown_order', 'no such order', at(50));
        await store.setCallbackOutcome(c1.id, 'ignored', undefined, at(60));
        const ignored = await store.getCallback(c1.id);
        expect(ignored).toStrictEqual({ ...c1, outcome: 'ignored', updatedAt: at(60) });
        expect(await found('unknown_order', 100)).toEqual([]);
        expect(await found('ignored', 100)).toEqual(['RF1']);
        expect(await found('received', 100)).toEqual(['RF2']);
        expect((await store.getCallback(c2.id))?.outcome).toBe('received');

        await expect(store.setCallbackOutcome('f'.repeat(64), 'applied', undefined, at(70))).rejects.toThrow(
          RangeError,
        );
        await expect(store.findCallbacks('received', at(100), 0)).rejects.toThrow(RangeError);
        await expect(
          store.setCallbackOutcome(c2.id, 'bogus' as 'applied', undefined, at(70)),
        ).rejects.toThrow(RangeError);
        expect(await store.getCallback(c2.id)).toStrictEqual(c2);
      });
    });

    it('keeps balance samples per provider and answers the latest at or before a time', async () => {
      await store.recordBalance({ provider: 'a1topup', balance: 50_000, at: at(10) });
      await store.recordBalance({ provider: 'a1topup', balance: 40_000, at: at(20) });
      // Two samples of one millisecond: the one recorded last counts.
      await store.recordBalance({ provider: 'a1topup', balance: 45_000, at: at(20) });
      await store.recordBalance({ provider: 'telgoo5', balance: 7_000, at: at(15) });
      // Out of order is fine: it is placed by its time.
      await store.recordBalance({ provider: 'a1topup', balance: 60_000, at: at(5) });

      expect(await store.balanceAt('a1topup', at(4))).toBeNull();
      expect(await store.balanceAt('a1topup', at(5))).toStrictEqual({
        provider: 'a1topup',
        balance: 60_000,
        at: at(5),
      });
      expect(await store.balanceAt('a1topup', at(10))).toStrictEqual({
        provider: 'a1topup',
        balance: 50_000,
        at: at(10),
      });
      expect((await store.balanceAt('a1topup', at(19)))?.balance).toBe(50_000);
      expect(await store.balanceAt('a1topup', at(20))).toStrictEqual({
        provider: 'a1topup',
        balance: 45_000,
        at: at(20),
      });
      expect((await store.balanceAt('a1topup', at(1_000)))?.balance).toBe(45_000);
      expect(await store.balanceAt('telgoo5', at(14))).toBeNull();
      expect(await store.balanceAt('telgoo5', at(15))).toStrictEqual({
        provider: 'telgoo5',
        balance: 7_000,
        at: at(15),
      });
      expect(await store.balanceAt('nobody', at(1_000))).toBeNull();
      await expect(store.recordBalance({ provider: 'a1topup', balance: 1.5, at: at(30) })).rejects.toThrow(
        RangeError,
      );
    });

    it('summarizes orders created in [from, to) per provider by their state now', async () => {
      const make = (orderId: string, state: OrderState, seconds: number, provider: string, amount: number) =>
        orderIn(store, { clientId: 'shop-1', orderId }, state, seconds, {
          provider,
          request: { ...REQUEST, amount: paise(amount) },
        });
      const sum = (count: number, amount: number) => ({ count, amount: paise(amount) });
      // The window is [100 s, 200 s): `before` and `at-to` fall outside by one millisecond and exactly.
      await created(store, {
        ...newOrder('shop-1', 'before', 0),
        now: new Date(BASE + 99_999).toISOString(),
      });
      await make('at-from', 'success', 100, 'a1topup', 1_000);
      await make('ok-2', 'success', 110, 'a1topup', 2_000);
      await make('failed', 'failed', 120, 'a1topup', 3_000);
      await make('pending', 'pending', 130, 'a1topup', 4_000);
      await make('review', 'manual_review', 140, 'a1topup', 5_000);
      await make('queued', 'queued', 150, 'a1topup', 6_000);
      await make('processing', 'processing', 160, 'a1topup', 7_000);
      await make('reversed', 'reversed', 170, 'a1topup', 8_000);
      await make('t-ok', 'success', 180, 'telgoo5', 500);
      await make('t-rev', 'reversed', 199, 'telgoo5', 700);
      await make('at-to', 'success', 200, 'telgoo5', 100_000);
      await make('other', 'failed', 150, 'another', 100);

      const a1topup: ProviderSummary = {
        provider: 'a1topup',
        submitted: sum(8, 36_000),
        success: sum(2, 3_000),
        failed: sum(1, 3_000),
        reversed: sum(1, 8_000),
        pending: sum(2, 9_000),
        inProgress: sum(2, 13_000),
      };
      expect(await store.summarize(at(100), at(200))).toStrictEqual([
        a1topup,
        {
          provider: 'another',
          submitted: sum(1, 100),
          success: none,
          failed: sum(1, 100),
          reversed: none,
          pending: none,
          inProgress: none,
        },
        {
          provider: 'telgoo5',
          submitted: sum(2, 1_200),
          success: sum(1, 500),
          failed: none,
          reversed: sum(1, 700),
          pending: none,
          inProgress: none,
        },
      ]);

      // By the state now: a settled order moves between buckets, never in or out of the window.
      await applied(store, { clientId: 'shop-1', orderId: 'pending' }, move('pending', 'success', 300));
      const [now] = await store.summarize(at(100), at(200));
      expect(now).toStrictEqual({ ...a1topup, success: sum(3, 7_000), pending: sum(1, 5_000) });

      expect(await store.summarize(at(200), at(201))).toStrictEqual([
        {
          provider: 'telgoo5',
          submitted: sum(1, 100_000),
          success: sum(1, 100_000),
          failed: none,
          reversed: none,
          pending: none,
          inProgress: none,
        },
      ]);
      expect(await store.summarize(at(99), at(100))).toStrictEqual([
        {
          provider: 'a1topup',
          submitted: sum(1, 1_000),
          success: none,
          failed: none,
          reversed: none,
          pending: none,
          inProgress: sum(1, 1_000),
        },
      ]);
      expect(await store.summarize(at(300), at(400))).toEqual([]);
      expect(await store.summarize(at(200), at(100))).toEqual([]);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
