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
import type { NewBatch, RowResult } from '../src/batch-store.ts';
import {
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
  UploadLeaseExpiredError,
  UploadQuotaError,
} from '../src/ledger-errors.ts';
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
  /**
   * Rewrites a stored order as the code before routes and failover wrote it: without `route`
   * (and whatever else that code did not store, such as MongoDB's `providerOrderIds`).
   */
  makeLegacy(key: OrderKey): Promise<void>;
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
  overrides: Partial<Pick<NewOrder, 'provider' | 'request' | 'route'>> = {},
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

/** A Telgoo5 top-up with every field set (amount in cents). */
const TELGOO5_REQUEST: RechargeRequest = {
  operator: 'TELGOO5',
  number: '2065550123',
  amount: paise(2_550),
  telgoo5: {
    enrollmentId: 'AGKN4441',
    planCode: 'PLAN10',
    planId: '1234',
    topupType: 'DATA',
    paymentToken: 'tok_9f8e7d6c',
    customerToken: 'cus_12ab34cd',
    billingState: 'WA',
    billingCity: 'Seattle',
    billingZip: '98104-1234',
    billingAddress1: '1 Main St',
    billingAddress2: 'Apt 2',
  },
};

const ROUTE = ['a1topup', 'telgoo5', 'another'] as const;

/** The failover event: a same-state processing event with no call in flight. */
function failover(
  seconds: number,
  provider: string,
  providerOrderId: string,
  patch: Omit<NonNullable<TransitionCommand['patch']>, 'switchProvider'> = {},
): TransitionCommand {
  return move('processing', 'processing', seconds, {
    inFlight: false,
    patch: { ...patch, switchProvider: { provider, providerOrderId } },
    note: `failover to ${provider}`,
  });
}

/** Zero orders, in a summary. */
const none = { count: 0, amount: paise(0) };

export function describeLedgerContract(name: string, setup: () => Promise<LedgerFixture>): void {
  describe(`LedgerStore contract: ${name}`, () => {
    let store: LedgerStore;
    let cleanup: () => Promise<void>;
    let makeLegacy: (key: OrderKey) => Promise<void>;

    beforeEach(async () => {
      const fixture = await setup();
      store = fixture.store;
      cleanup = () => fixture.cleanup();
      makeLegacy = (key) => fixture.makeLegacy(key);
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
          route: ['a1topup'],
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

    describe('routes and failover', () => {
      it('creates an order with its route and reads it back; without one the route is [provider]', async () => {
        const routed: NewOrder = { ...newOrder('shop-1', 'routed', 1), route: ROUTE };
        const order = await created(store, routed);
        expect(order.route).toStrictEqual(['a1topup', 'telgoo5', 'another']);
        expect(order.provider).toBe('a1topup');
        expect(await store.getOrder(keyOf(routed))).toStrictEqual(order);
        expect(await store.getOrderByProviderOrderId(routed.providerOrderId)).toStrictEqual(order);

        const plain = await created(store, newOrder('shop-1', 'plain', 2));
        expect(plain.route).toStrictEqual(['a1topup']);
        const single = await created(store, { ...newOrder('shop-1', 'single', 3), route: ['a1topup'] });
        expect(single.route).toStrictEqual(['a1topup']);
      });

      it('refuses a route not led by the provider, or an empty one, and stores nothing', async () => {
        for (const [orderId, route] of [
          ['wrong-first', ['telgoo5', 'a1topup']],
          ['empty', []],
          ['blank', ['a1topup', '']],
        ] as const) {
          const order: NewOrder = { ...newOrder('shop-1', orderId, 1), route };
          await expect(store.createOrder(order), orderId).rejects.toThrow(RangeError);
          expect(await store.getOrder(keyOf(order))).toBeNull();
          expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toBeNull();
        }
        expect((await store.listOrders('shop-1', { limit: 10 })).orders).toEqual([]);
      });

      it('reads an order stored before routes as routed to its provider alone, and fails it over safely', async () => {
        const key = { clientId: 'shop-1', orderId: 'legacy' };
        const order = await orderIn(store, key, 'processing');
        await makeLegacy(key);
        expect(await store.getOrder(key)).toStrictEqual(order);
        expect(order.route).toStrictEqual(['a1topup']);
        expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(order);

        await expect(store.transition(key, failover(10, 'telgoo5', providerOrderId(key, 2)))).rejects.toThrow(
          RangeError,
        );
        expect(await store.getOrder(key)).toStrictEqual(order);

        // Its route is its provider: a fresh id there is a legal switch, and the old id stays claimed.
        const second = providerOrderId(key, 2);
        const switched = await applied(store, key, failover(11, 'a1topup', second));
        expect(switched).toMatchObject({ provider: 'a1topup', providerOrderId: second, route: ['a1topup'] });
        expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(switched);
        expect(await store.getOrderByProviderOrderId(second)).toStrictEqual(switched);
        await expect(
          store.createOrder({ ...newOrder('shop-2', 'thief', 12), providerOrderId: order.providerOrderId }),
        ).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
      });

      it('fails over: provider and providerOrderId change in one event, and both ids lead to the order', async () => {
        const key = { clientId: 'shop-1', orderId: 'failover' };
        await orderIn(store, key, 'processing', 0, { route: ROUTE });
        await applied(
          store,
          key,
          move('processing', 'processing', 5, {
            inFlight: false,
            patch: { inFlight: true, incrementAttempts: true },
            note: 'sent to a1topup',
          }),
        );
        const before = await applied(
          store,
          key,
          move('processing', 'processing', 6, {
            inFlight: true,
            patch: { inFlight: false, providerStatus: 'Failure' },
            providerStatus: 'Failure',
            note: 'a1topup refused the order',
          }),
        );
        const first = before.providerOrderId;
        const second = providerOrderId(key, 2);

        const switched = await applied(store, key, failover(10, 'telgoo5', second));
        expect(switched).toStrictEqual({
          ...before,
          provider: 'telgoo5',
          providerOrderId: second,
          updatedAt: at(10),
          version: before.version + 1,
          history: [
            ...before.history,
            {
              at: at(10),
              from: 'processing',
              to: 'processing',
              source: 'worker',
              note: 'failover to telgoo5',
            },
          ],
        });
        expect(switched.route).toStrictEqual([...ROUTE]);
        expect(await store.getOrder(key)).toStrictEqual(switched);
        expect(await store.getOrderByProviderOrderId(first)).toStrictEqual(switched);
        expect(await store.getOrderByProviderOrderId(second)).toStrictEqual(switched);
        // Listed once, under its state; summed under the provider it is with now.
        expect(ids((await store.listOrders('shop-1', { state: 'processing', limit: 10 })).orders)).toEqual([
          'failover',
        ]);
        expect(ids(await store.findStale('processing', at(11), 10))).toEqual(['failover']);
        expect((await store.summarize(at(0), at(1))).map((each) => each.provider)).toEqual(['telgoo5']);

        // A switch may start the new provider's call in the same write; the route need not be walked in order.
        const third = providerOrderId(key, 3);
        const calling = await applied(
          store,
          key,
          failover(12, 'another', third, { inFlight: true, incrementAttempts: true }),
        );
        expect(calling).toMatchObject({
          provider: 'another',
          providerOrderId: third,
          inFlight: true,
          attempts: before.attempts + 1,
          version: switched.version + 1,
        });
        for (const id of [first, second, third]) {
          expect(await store.getOrderByProviderOrderId(id)).toStrictEqual(calling);
        }
        // Switched away from, an id stays claimed: no new order may take it.
        await expect(
          store.createOrder({ ...newOrder('shop-2', 'late', 13), providerOrderId: second }),
        ).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
        expect(await store.getOrder({ clientId: 'shop-2', orderId: 'late' })).toBeNull();
      });

      it('refuses a switch to a providerOrderId another order holds or held, and changes nothing', async () => {
        const key = { clientId: 'shop-1', orderId: 'switcher' };
        const before = await orderIn(store, key, 'processing', 0, { route: ROUTE });
        const owner = await created(store, newOrder('shop-2', 'owner', 1));
        // `moved` held its first id before failing over: that id is still its own.
        const movedKey = { clientId: 'shop-3', orderId: 'moved' };
        const moved = await orderIn(store, movedKey, 'processing', 2, { route: ROUTE });
        const movedNow = await applied(store, movedKey, failover(5, 'telgoo5', providerOrderId(movedKey, 2)));

        for (const [taken, holder] of [
          [owner.providerOrderId, owner],
          [moved.providerOrderId, movedNow],
          [movedNow.providerOrderId, movedNow],
        ] as const) {
          await expect(store.transition(key, failover(10, 'telgoo5', taken))).rejects.toBeInstanceOf(
            ProviderOrderIdConflictError,
          );
          expect(await store.getOrderByProviderOrderId(taken)).toStrictEqual(holder);
        }
        const after = await store.getOrder(key);
        expect(after).toStrictEqual(before);
        expect(after).toMatchObject({ state: 'processing', provider: 'a1topup', version: before.version });
        expect(await store.getOrder(keyOf(owner))).toStrictEqual(owner);
        expect(await store.getOrder(movedKey)).toStrictEqual(movedNow);

        // Its own id (now or before): that switch has been made, so it is a conflict, not a second one.
        const own = await store.transition(key, failover(11, 'telgoo5', before.providerOrderId));
        expect(own).toStrictEqual({ applied: false, reason: 'conflict', order: before });
        const second = await applied(store, key, failover(12, 'telgoo5', providerOrderId(key, 2)));
        for (const id of [before.providerOrderId, second.providerOrderId]) {
          expect(await store.transition(key, failover(13, 'another', id))).toStrictEqual({
            applied: false,
            reason: 'conflict',
            order: second,
          });
        }
        expect(await store.getOrder(key)).toStrictEqual(second);
      });

      it('refuses a switch to a provider outside the stored route, claiming nothing', async () => {
        const key = { clientId: 'shop-1', orderId: 'off-route' };
        const before = await orderIn(store, key, 'processing', 0, { route: ['a1topup', 'telgoo5'] });
        const fresh = providerOrderId(key, 2);
        await expect(store.transition(key, failover(10, 'another', fresh))).rejects.toThrow(RangeError);
        expect(await store.getOrder(key)).toStrictEqual(before);
        expect(await store.getOrderByProviderOrderId(fresh)).toBeNull();
        // The id is still free for a proper switch.
        expect((await applied(store, key, failover(11, 'telgoo5', fresh))).providerOrderId).toBe(fresh);

        // The expectation is checked first: an order not in it is a conflict, whatever the provider.
        const calling = await applied(
          store,
          key,
          move('processing', 'processing', 12, { inFlight: false, patch: { inFlight: true } }),
        );
        expect(await store.transition(key, failover(13, 'another', providerOrderId(key, 3)))).toStrictEqual({
          applied: false,
          reason: 'conflict',
          order: calling,
        });
      });

      it('switches in the same write that records the end of a refused call (inFlight true -> false)', async () => {
        const key = { clientId: 'shop-1', orderId: 'refused-then-switch' };
        await orderIn(store, key, 'processing', 0, { route: ROUTE });
        await store.transition(
          key,
          move('processing', 'processing', 11, { inFlight: false, patch: { inFlight: true } }),
        );
        const next = providerOrderId(key, 2);
        const result = await store.transition(
          key,
          move('processing', 'processing', 12, {
            inFlight: true,
            patch: { inFlight: false, switchProvider: { provider: 'telgoo5', providerOrderId: next } },
          }),
        );
        expect(result.applied).toBe(true);
        expect(result.applied && result.order).toMatchObject({
          provider: 'telgoo5',
          providerOrderId: next,
          inFlight: false,
        });
      });

      it('refuses a switch outside a processing -> processing event that expects inFlight: false', async () => {
        const key = { clientId: 'shop-1', orderId: 'misplaced' };
        const before = await orderIn(store, key, 'processing', 0, { route: ROUTE });
        const switchProvider = { provider: 'telgoo5', providerOrderId: providerOrderId(key, 2) };
        const commands: TransitionCommand[] = [
          // No inFlight expectation: the old provider's call might still be running.
          move('processing', 'processing', 10, { patch: { switchProvider } }),
          move('processing', 'processing', 10, { inFlight: true, patch: { switchProvider } }),
          move('processing', 'failed', 10, { inFlight: false, patch: { switchProvider } }),
          move('processing', 'pending', 10, { inFlight: false, patch: { switchProvider } }),
          move('queued', 'processing', 10, { inFlight: false, patch: { switchProvider } }),
          move('processing', 'processing', 10, {
            inFlight: false,
            patch: { switchProvider: { provider: 'telgoo5', providerOrderId: '' } },
          }),
          move('processing', 'processing', 10, {
            inFlight: false,
            patch: { switchProvider: { provider: '', providerOrderId: providerOrderId(key, 2) } },
          }),
        ];
        for (const [i, command] of commands.entries()) {
          await expect(store.transition(key, command), `command ${i}`).rejects.toThrow(RangeError);
        }
        expect(await store.getOrder(key)).toStrictEqual(before);
        expect(await store.getOrderByProviderOrderId(switchProvider.providerOrderId)).toBeNull();
      });

      it('applies exactly one of 10 concurrent switches from the same expected condition', async () => {
        const key = { clientId: 'shop-1', orderId: 'racing' };
        const before = await orderIn(store, key, 'processing', 0, { route: ROUTE });
        // Every worker derives the same next id: one switch, nine conflicts.
        const next = providerOrderId(key, 2);
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.transition(key, failover(10, 'telgoo5', next))),
        );
        expect(results.filter((result) => result.applied)).toHaveLength(1);
        for (const result of results) {
          if (!result.applied) expect(result.reason).toBe('conflict');
        }
        const stored = await store.getOrder(key);
        expect(stored).toMatchObject({
          provider: 'telgoo5',
          providerOrderId: next,
          version: before.version + 1,
        });
        expect(stored?.history).toHaveLength(before.history.length + 1);

        // Ten different switches that each start the call: the first wins, the others claim nothing.
        const targets = Array.from({ length: 10 }, (_, i) => providerOrderId(key, 10 + i));
        const starts = await Promise.all(
          targets.map((id, i) =>
            store.transition(
              key,
              failover(20, i % 2 === 0 ? 'another' : 'a1topup', id, {
                inFlight: true,
                incrementAttempts: true,
              }),
            ),
          ),
        );
        const winners = starts.filter((result) => result.applied);
        expect(winners).toHaveLength(1);
        const final = await store.getOrder(key);
        expect(final).toMatchObject({ inFlight: true, attempts: 1, version: before.version + 2 });
        expect(final?.history).toHaveLength(before.history.length + 2);
        for (const id of targets) {
          const owner = await store.getOrderByProviderOrderId(id);
          if (id === final?.providerOrderId) expect(owner).toStrictEqual(final);
          else expect(owner, id).toBeNull();
        }
      });
    });

    describe('Telgoo5 requests', () => {
      it('stores and returns a Telgoo5 request exactly, fingerprint untouched', async () => {
        const order: NewOrder = {
          ...newOrder('shop-1', 't5-full', 1, TELGOO5_REQUEST),
          provider: 'telgoo5',
          route: ['telgoo5'],
        };
        const stored = await created(store, order);
        expect(stored.request).toStrictEqual(TELGOO5_REQUEST);
        expect(stored.request.amount).toBe(2_550);
        expect(stored.fingerprint).toBe(order.fingerprint);
        expect(requestFingerprint(stored.request)).toBe(order.fingerprint);
        expect(await store.getOrder(keyOf(order))).toStrictEqual(stored);
        expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toStrictEqual(stored);
        // Transitions leave the request alone.
        const moved = await applied(store, keyOf(order), move('queued', 'processing', 2));
        expect(moved.request).toStrictEqual(TELGOO5_REQUEST);

        // Only what is required, and a repeat with another Telgoo5 body: refused by fingerprint.
        const bare: RechargeRequest = {
          operator: 'TELGOO5',
          number: '2065550199',
          amount: paise(100),
          telgoo5: {
            enrollmentId: 'E1',
            planId: '77',
            topupType: 'TOPUP',
            customerToken: 'cus_0001',
            billingState: 'NY',
            billingCity: 'Albany',
          },
        };
        const small = await created(store, {
          ...newOrder('shop-1', 't5-bare', 3, bare),
          provider: 'telgoo5',
        });
        expect(small.request).toStrictEqual(bare);
        expect(requestFingerprint(small.request)).toBe(small.fingerprint);
        const other = { ...TELGOO5_REQUEST, telgoo5: { ...TELGOO5_REQUEST.telgoo5, planCode: 'PLAN20' } };
        const again = await store.createOrder(newOrder('shop-1', 't5-full', 4, other as RechargeRequest));
        expect(again).toStrictEqual({ created: false, order: moved });
        expect(again.order.fingerprint).not.toBe(requestFingerprint(other as RechargeRequest));
      });

      it('refuses a malformed request, Telgoo5 or not, and stores nothing', async () => {
        const t5 = TELGOO5_REQUEST.telgoo5 as unknown as Record<string, unknown>;
        const garbage: Record<string, unknown>[] = [
          { ...TELGOO5_REQUEST, telgoo5: 'AGKN4441' },
          { ...TELGOO5_REQUEST, telgoo5: [t5] },
          { ...TELGOO5_REQUEST, telgoo5: { ...t5, topupType: 'BOGUS' } },
          { ...TELGOO5_REQUEST, telgoo5: { ...t5, enrollmentId: 4441 } },
          { ...TELGOO5_REQUEST, telgoo5: { ...t5, billingCity: undefined } },
          { ...TELGOO5_REQUEST, telgoo5: { ...t5, planCode: null } },
          // Raw card data is never stored, whatever let it through.
          { ...TELGOO5_REQUEST, telgoo5: { ...t5, cardNumber: '4111111111111111' } },
          { ...TELGOO5_REQUEST, cvv: '123' },
          { ...REQUEST, amount: 10.5 },
          { ...REQUEST, amount: -1 },
          { ...REQUEST, number: 9876543210 },
        ];
        for (const [i, request] of garbage.entries()) {
          const order: NewOrder = {
            ...newOrder('shop-1', `bad-${i}`, 1),
            request: request as unknown as RechargeRequest,
          };
          await expect(store.createOrder(order), `request ${i}`).rejects.toThrow(RangeError);
          expect(await store.getOrder(keyOf(order))).toBeNull();
          expect(await store.getOrderByProviderOrderId(order.providerOrderId)).toBeNull();
        }
        expect((await store.listOrders('shop-1', { limit: 20 })).orders).toEqual([]);
      });
    });

    it('applies every legal transition, bumping version and appending from/to/source/providerStatus', async () => {
      let pairs = 0;
      for (const from of ORDER_STATES) {
        for (const to of nextStates(from)) {
          // A failover, tested with its switch in 'attempt-pinned writes'.
          if (from === 'pending' && to === 'processing') continue;
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
      expect(pairs).toBe(13);
    });

    describe('attempt-pinned writes', () => {
      it('applies a write pinned to the current attempt and refuses one pinned to an attempt the order left', async () => {
        const key = { clientId: 'shop-1', orderId: 'pinned' };
        const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
        const first = order.providerOrderId;
        const pinned = (pin: string, seconds: number): TransitionCommand => ({
          ...move('processing', 'success', seconds, { providerStatus: 'Success' }),
          expect: { state: 'processing', providerOrderId: pin },
        });
        const second = providerOrderId(key, 2);
        const switched = await applied(store, key, failover(5, 'telgoo5', second));

        // The answer about attempt 1 arrives after the failover: refused, nothing changed.
        const stale = await store.transition(key, pinned(first, 6));
        expect(stale).toStrictEqual({ applied: false, reason: 'conflict', order: switched });
        expect(await store.getOrder(key)).toStrictEqual(switched);

        const current = await store.transition(key, pinned(second, 7));
        expect(current.applied).toBe(true);
        if (current.applied)
          expect(current.order).toMatchObject({ state: 'success', providerOrderId: second });
        await expect(store.transition(key, { ...pinned('', 8) })).rejects.toThrow(RangeError);
      });

      it('pins a switch too: a failover named after an attempt the order left is a conflict', async () => {
        const key = { clientId: 'shop-1', orderId: 'pinned-switch' };
        const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
        const moved = await applied(store, key, failover(5, 'telgoo5', providerOrderId(key, 2)));
        const late: TransitionCommand = {
          ...failover(6, 'another', providerOrderId(key, 3)),
          expect: { state: 'processing', inFlight: false, providerOrderId: order.providerOrderId },
        };
        expect(await store.transition(key, late)).toStrictEqual({
          applied: false,
          reason: 'conflict',
          order: moved,
        });
        expect(await store.getOrderByProviderOrderId(providerOrderId(key, 3))).toBeNull();
      });

      it('fails a pending order over only with a switch, with nothing in flight', async () => {
        const key = { clientId: 'shop-1', orderId: 'pending-failover' };
        const pending = await orderIn(store, key, 'pending', 0, { route: ROUTE });
        await expect(store.transition(key, move('pending', 'processing', 10))).rejects.toThrow(RangeError);
        const second = providerOrderId(key, 2);
        const switching = (inFlight: boolean | undefined): TransitionCommand => ({
          expect: { state: 'pending', providerOrderId: pending.providerOrderId },
          to: 'processing',
          patch: { switchProvider: { provider: 'telgoo5', providerOrderId: second }, inFlight },
          entry: { at: at(11), source: 'poller', note: 'status check: refused; failing over' },
        });
        await expect(store.transition(key, switching(true))).rejects.toThrow(RangeError);
        expect(await store.getOrder(key)).toStrictEqual(pending);
        const moved = await applied(store, key, switching(false));
        expect(moved).toMatchObject({
          state: 'processing',
          inFlight: false,
          provider: 'telgoo5',
          providerOrderId: second,
        });
        expect(moved.nextCheckAt).toBeUndefined();
        expect(await store.getOrderByProviderOrderId(pending.providerOrderId)).toStrictEqual(moved);
        expect(ids(await store.findStale('pending', at(1_000), 10))).toEqual([]);
        expect(await store.claimDueChecks({ limit: 10, intervalsMs: [1] })).toEqual([]);
      });

      it('books a charge proven after the order failed: failed -> success and failed -> manual_review', async () => {
        const proven = await orderIn(store, { clientId: 'shop-1', orderId: 'late-charge' }, 'failed');
        const booked = await applied(store, proven, {
          expect: { state: 'failed', providerOrderId: proven.providerOrderId },
          to: 'success',
          patch: { providerStatus: 'Success', providerRef: 'OP9' },
          entry: {
            at: at(50),
            source: 'poller',
            note: 'charge proven by the status API',
            providerStatus: 'Success',
          },
        });
        expect(booked).toMatchObject({ state: 'success', providerRef: 'OP9' });
        const reported = await orderIn(store, { clientId: 'shop-1', orderId: 'late-report' }, 'failed');
        const review = await applied(
          store,
          reported,
          move('failed', 'manual_review', 51, { source: 'callback' }),
        );
        expect(review.state).toBe('manual_review');
      });
    });

    describe('appendHistory', () => {
      it('records a fact whatever the state, without changing state, updatedAt or the stale index', async () => {
        for (const state of ORDER_STATES) {
          const key = { clientId: 'shop-1', orderId: `fact-${state}` };
          const before = await orderIn(store, key, state);
          const appended = await store.appendHistory(key, {
            at: at(500),
            source: 'callback',
            note: `fact about an earlier attempt of a ${state} order`,
            providerStatus: 'Failure',
          });
          if (!appended.applied) throw new Error(`not appended: ${appended.reason}`);
          const after = appended.order;
          expect(after).toStrictEqual({
            ...before,
            version: before.version + 1,
            history: [
              ...before.history,
              {
                at: at(500),
                from: state,
                to: state,
                source: 'callback',
                note: `fact about an earlier attempt of a ${state} order`,
                providerStatus: 'Failure',
              },
            ],
          });
          expect(await store.getOrder(key)).toStrictEqual(after);
          expect(ids(await store.findStale(state, before.updatedAt, 1_000))).not.toContain(key.orderId);
          expect(ids(await store.findStale(state, at(1_000), 1_000))).toContain(key.orderId);
        }
        expect(
          await store.appendHistory(
            { clientId: 'shop-1', orderId: 'nobody' },
            { at: at(1), source: 'poller' },
          ),
        ).toStrictEqual({ applied: false, reason: 'not_found' });
        expect(await store.getOrder({ clientId: 'shop-1', orderId: 'nobody' })).toBeNull();
      });

      it('appends only while the order is in the expected state and attempt, if one is given', async () => {
        const key = { clientId: 'shop-1', orderId: 'fact-expect' };
        const order = await orderIn(store, key, 'manual_review', 0, { route: ROUTE });
        const note = { at: at(600), source: 'worker' as const, note: 'the answer arrived' };
        expect(await store.appendHistory(key, note, { state: 'failed' })).toStrictEqual({
          applied: false,
          reason: 'conflict',
          order,
        });
        expect(
          await store.appendHistory(key, note, { state: 'manual_review', providerOrderId: 'RF-another' }),
        ).toStrictEqual({ applied: false, reason: 'conflict', order });
        const ok = await store.appendHistory(key, note, {
          state: 'manual_review',
          providerOrderId: order.providerOrderId,
        });
        expect(ok.applied && ok.order.history.at(-1)).toStrictEqual({
          at: note.at,
          from: 'manual_review',
          to: 'manual_review',
          source: note.source,
          note: note.note,
        });
        expect(
          await store.appendHistory({ clientId: 'shop-1', orderId: 'nobody' }, note, { state: 'queued' }),
        ).toStrictEqual({ applied: false, reason: 'not_found' });
      });

      it('keeps every one of 20 concurrent facts', async () => {
        const key = { clientId: 'shop-1', orderId: 'many-facts' };
        const before = await orderIn(store, key, 'processing');
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.appendHistory(key, { at: at(100 + i), source: 'callback', note: `fact ${i}` }),
          ),
        );
        const after = await store.getOrder(key);
        expect(after?.version).toBe(before.version + 20);
        expect(
          after?.history
            .slice(before.history.length)
            .map((h) => h.note)
            .sort(),
        ).toEqual(Array.from({ length: 20 }, (_, i) => `fact ${i}`).sort());
      });
    });

    it("answers the store's clock", async () => {
      const before = Date.now();
      const clock = await store.clock();
      expect(clock).toBeInstanceOf(Date);
      // Same machine in the tests: within a few seconds of ours.
      expect(Math.abs(clock.getTime() - before)).toBeLessThan(5_000);
    });

    it('applies a write only at the expected version, when one is given', async () => {
      const key = { clientId: 'shop-1', orderId: 'versioned' };
      const order = await orderIn(store, key, 'processing');
      const command = (version: number): TransitionCommand => ({
        ...move('processing', 'pending', 50),
        expect: { state: 'processing', version },
      });
      expect(await store.transition(key, command(order.version + 1))).toStrictEqual({
        applied: false,
        reason: 'conflict',
        order,
      });
      expect((await store.transition(key, command(order.version))).applied).toBe(true);
      await expect(store.transition(key, command(0))).rejects.toThrow(RangeError);
    });

    it("books an order on an earlier attempt it holds (an operator's success), refusing any other", async () => {
      const key = { clientId: 'shop-1', orderId: 'booked' };
      const order = await orderIn(store, key, 'processing', 0, { route: ROUTE });
      await applied(store, key, failover(5, 'telgoo5', providerOrderId(key, 2)));
      const review = await applied(store, key, move('processing', 'manual_review', 6));
      const book = (
        provider: string,
        pid: string,
        from: OrderState = 'manual_review',
      ): TransitionCommand => ({
        expect: { state: from, providerOrderId: review.providerOrderId },
        to: 'success',
        patch: { bookAttempt: { provider, providerOrderId: pid } },
        entry: { at: at(7), source: 'operator', actor: 'ops', note: 'charged at a1topup' },
      });
      await expect(store.transition(key, book('a1topup', providerOrderId(key, 3)))).rejects.toThrow(
        RangeError,
      );
      const thief = await created(store, newOrder('shop-2', 'other', 1));
      await expect(store.transition(key, book('a1topup', thief.providerOrderId))).rejects.toThrow(RangeError);
      await expect(store.transition(key, book('nowhere', order.providerOrderId))).rejects.toThrow(RangeError);
      await expect(store.transition(key, book('a1topup', order.providerOrderId, 'pending'))).rejects.toThrow(
        RangeError,
      );
      expect(await store.getOrder(key)).toStrictEqual(review);
      const booked = await applied(store, key, book('a1topup', order.providerOrderId));
      expect(booked).toMatchObject({
        state: 'success',
        provider: 'a1topup',
        providerOrderId: order.providerOrderId,
      });
      expect(await store.getOrderByProviderOrderId(providerOrderId(key, 2))).toStrictEqual(booked);
      expect((await store.summarize(at(0), at(1))).map((each) => each.provider)).toEqual(['a1topup']);
    });

    it('scans past hundreds of orders changed in one millisecond (a batch import)', async () => {
      const batch = Array.from({ length: 230 }, (_, i) =>
        newOrder(`shop-${i % 4}`, `tie-${String(i).padStart(3, '0')}`, 3),
      );
      await store.createOrders(batch);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.scanStale('queued', at(100), 10, cursor);
        seen.push(...ids(page.orders));
        cursor = page.nextCursor;
        pages += 1;
        expect(pages).toBeLessThan(40);
      } while (cursor !== undefined);
      expect(seen.sort()).toEqual(batch.map((o) => o.orderId).sort());
    });

    it('scans every stale order page by page, however long the backlog, each once', async () => {
      // 25 orders, several sharing one millisecond, read 4 at a time.
      const wanted: string[] = [];
      for (let i = 0; i < 25; i++) {
        const orderId = `stale-${String(i).padStart(2, '0')}`;
        await created(store, newOrder(`shop-${i % 3}`, orderId, Math.floor(i / 5)));
        wanted.push(orderId);
      }
      await created(store, newOrder('shop-1', 'fresh', 900));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.scanStale('queued', at(100), 4, cursor);
        seen.push(...ids(page.orders));
        cursor = page.nextCursor;
        pages += 1;
        expect(pages).toBeLessThan(20);
      } while (cursor !== undefined);
      expect(seen.sort()).toEqual(wanted.sort());
      expect(new Set(seen).size).toBe(seen.length);
      const first = await store.scanStale('queued', at(100), 4);
      expect(first.orders).toHaveLength(4);
      await expect(store.scanStale('queued', at(100), 4, 'not-a-cursor')).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(store.scanStale('queued', at(100), 0)).rejects.toThrow(RangeError);
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
      // 7 states x 6 other states, less the 14 legal pairs.
      expect(refused).toBe(28);
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

    it('counts the orders in a state and tells the oldest last change among them', async () => {
      expect(await store.countInState('pending')).toEqual({ count: 0, oldestChangeAt: null });
      await orderIn(store, { clientId: 'shop-1', orderId: 'a' }, 'pending', 30);
      await orderIn(store, { clientId: 'shop-2', orderId: 'b' }, 'pending', 10);
      await orderIn(store, { clientId: 'shop-3', orderId: 'c' }, 'processing', 5);
      const b = await store.getOrder({ clientId: 'shop-2', orderId: 'b' });
      expect(await store.countInState('pending')).toEqual({ count: 2, oldestChangeAt: b?.updatedAt });
      expect((await store.countInState('processing')).count).toBe(1);
      expect(await store.countInState('failed')).toEqual({ count: 0, oldestChangeAt: null });

      // Leaving the state takes the order out of the count and out of the age.
      await applied(store, { clientId: 'shop-2', orderId: 'b' }, move('pending', 'success', 200));
      const a = await store.getOrder({ clientId: 'shop-1', orderId: 'a' });
      expect(await store.countInState('pending')).toEqual({ count: 1, oldestChangeAt: a?.updatedAt });
      expect(await store.countInState('success')).toEqual({ count: 1, oldestChangeAt: at(200) });
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

    describe('batches', () => {
      const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

      function newBatch(clientId: string, batchId: string, content: string, seconds = 0): NewBatch {
        return {
          clientId,
          batchId,
          contentHash: sha(content),
          bytes: Buffer.byteLength(content),
          filename: `${batchId}.csv`,
          createdAt: at(seconds),
        };
      }

      async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
        const all: T[] = [];
        for await (const item of items) all.push(item);
        return all;
      }

      /** An upload's bytes as stored now, as text. */
      async function uploadText(batchId: string): Promise<string> {
        return Buffer.concat(await collect(store.readUpload(batchId))).toString();
      }

      const LEASE = { clientId: 'shop-1', leaseMs: 60_000 } as const;

      function rows(first: number, count: number, rejectEvery = 0): RowResult[] {
        return Array.from({ length: count }, (_, i) => {
          const row = first + i;
          const cells = { orderId: `o-${row}`, operator: 'A', number: '9876543210', amount: '10' };
          return rejectEvery > 0 && row % rejectEvery === 0
            ? { row, cells, error: `row ${row}: amount is not allowed` }
            : { row, cells, orderId: `o-${row}` };
        });
      }

      it('creates a batch once per client and content: the same file again is the same batch', async () => {
        const first = await store.createBatch(newBatch('shop-1', 'b_1', 'a,b\n1,2\n', 1));
        expect(first).toStrictEqual({
          created: true,
          batch: {
            clientId: 'shop-1',
            batchId: 'b_1',
            contentHash: sha('a,b\n1,2\n'),
            bytes: 8,
            filename: 'b_1.csv',
            createdAt: at(1),
            state: 'stored',
            rowsRead: 0,
            accepted: 0,
            rejected: 0,
            rowsCommitted: 0,
            updatedAt: at(1),
          },
        });
        const again = await store.createBatch(newBatch('shop-1', 'b_2', 'a,b\n1,2\n', 2));
        expect(again).toStrictEqual({ created: false, batch: first.batch });
        expect(await store.getBatch('shop-1', 'b_2')).toBeNull();

        const other = await store.createBatch(newBatch('shop-2', 'b_3', 'a,b\n1,2\n', 3));
        expect(other.created).toBe(true);
        expect(other.batch.clientId).toBe('shop-2');

        const { filename: _, ...bare } = newBatch('shop-1', 'b_4', 'other', 4);
        const unnamed = await store.createBatch(bare);
        expect(unnamed.batch).not.toHaveProperty('filename');
        expect(unnamed.batch).not.toHaveProperty('error');

        expect(await store.getBatch('shop-1', 'b_1')).toStrictEqual(first.batch);
        // Another client cannot see it.
        expect(await store.getBatch('shop-2', 'b_1')).toBeNull();
        expect(await store.getBatch('shop-1', 'b_missing')).toBeNull();
        await expect(store.createBatch(newBatch('shop-1', 'b_1', 'third', 5))).rejects.toBeInstanceOf(
          RangeError,
        );
        await expect(
          store.createBatch({ ...newBatch('shop-1', 'b_5', 'x'), bytes: -1 }),
        ).rejects.toBeInstanceOf(RangeError);
      });

      it('creates one batch when the same file is uploaded 10 times at once', async () => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.createBatch(newBatch('shop-1', `b_race_${i}`, 'same'))),
        );
        expect(results.filter((result) => result.created)).toHaveLength(1);
        expect(new Set(results.map((result) => result.batch.batchId)).size).toBe(1);
        expect((await store.listBatches('shop-1', { limit: 20 })).batches).toHaveLength(1);
      });

      it('stores the upload in chunks and reads it back byte for byte, binary included', async () => {
        const big = Buffer.alloc(1024 * 1024, 0xab);
        const binary = Buffer.from([0, 255, 13, 10, 0xc3, 0x28, 0, 1, 2]);
        const tail = Buffer.from('last,row\n');
        const whole = Buffer.concat([big, binary, tail]);
        await store.putUploadChunk('b_up', 0, big, LEASE);
        // A first try of chunk 1, rewritten: the last write wins.
        await store.putUploadChunk('b_up', 1, Buffer.from('stale'), LEASE);
        await store.putUploadChunk('b_up', 1, binary, LEASE);
        await store.putUploadChunk('b_up', 2, tail, LEASE);
        await store.createBatch({
          clientId: 'shop-1',
          batchId: 'b_up',
          contentHash: createHash('sha256').update(whole).digest('hex'),
          bytes: whole.length,
          createdAt: at(0),
        });
        const chunks = await collect(store.readUpload('b_up'));
        expect(chunks.map((chunk) => chunk.length)).toEqual([big.length, binary.length, tail.length]);
        expect(Buffer.concat(chunks).equals(whole)).toBe(true);
        expect(await collect(store.readUpload('b_none'))).toEqual([]);

        await expect(
          store.putUploadChunk('b_new', 0, Buffer.alloc(1024 * 1024 + 1), LEASE),
        ).rejects.toBeInstanceOf(RangeError);
        await expect(store.putUploadChunk('b_new', -1, tail, LEASE)).rejects.toBeInstanceOf(RangeError);
        await expect(store.putUploadChunk('b_new', 0, tail, { ...LEASE, leaseMs: 0 })).rejects.toBeInstanceOf(
          RangeError,
        );
        // A stored upload never changes.
        await expect(store.putUploadChunk('b_up', 3, tail, LEASE)).rejects.toBeInstanceOf(RangeError);
        expect(Buffer.concat(await collect(store.readUpload('b_up'))).equals(whole)).toBe(true);
      });

      it('keeps an upload only under its lease until createBatch commits it; the sweep removes what ran out', async () => {
        const short = { clientId: 'shop-1', leaseMs: 1_000 };
        await store.putUploadChunk('b_kept', 0, Buffer.from('a,b\n'), short);
        await store.putUploadChunk('b_lost', 0, Buffer.from('a,b\n'), short);
        await store.putUploadChunk('b_lost', 1, Buffer.from('3,4\n'), short);
        await sleep(600);
        // Every chunk renews the lease of the whole upload: chunk 0 outlives its own first lease.
        await store.putUploadChunk('b_kept', 1, Buffer.from('1,2\n'), short);
        expect(await store.sweepUploads(10)).toBe(0);
        expect(await store.pendingUploadBytes('shop-1')).toBe(16);
        await sleep(600);
        // b_lost ran out; both chunks of b_kept still count.
        expect(await store.pendingUploadBytes('shop-1')).toBe(8);
        expect(await uploadText('b_kept')).toBe('a,b\n1,2\n');
        await store.createBatch(newBatch('shop-1', 'b_kept', 'a,b\n1,2\n'));
        await sleep(1_100);

        // Run out: no longer counted, even before the sweep; then removed by it.
        expect(await store.pendingUploadBytes('shop-1')).toBe(8);
        expect(await store.sweepUploads(10)).toBe(1);
        expect(await collect(store.readUpload('b_lost'))).toEqual([]);
        expect(await store.sweepUploads(10)).toBe(0);
        // The committed upload has no lease any more: it stays with its batch.
        expect(await uploadText('b_kept')).toBe('a,b\n1,2\n');
        expect(await store.pendingUploadBytes('shop-1')).toBe(8);
        // A later chunk cannot bring a run-out upload back half-way.
        await expect(store.putUploadChunk('b_lost', 2, Buffer.from('5,6\n'), short)).rejects.toBeInstanceOf(
          UploadLeaseExpiredError,
        );
        expect(await collect(store.readUpload('b_lost'))).toEqual([]);
        await expect(store.sweepUploads(0)).rejects.toBeInstanceOf(RangeError);
        await expect(store.sweepUploads(1001)).rejects.toBeInstanceOf(RangeError);
      });

      it('discards an upload at once, and never a committed one or one of another client', async () => {
        await store.putUploadChunk('b_gone', 0, Buffer.from('a,b\n'), LEASE);
        await store.putUploadChunk('b_gone', 1, Buffer.from('1,2\n'), LEASE);
        await store.putUploadChunk('b_stay', 0, Buffer.from('a,b\n1,2\n'), LEASE);
        await store.createBatch(newBatch('shop-1', 'b_stay', 'a,b\n1,2\n'));
        await expect(
          store.putUploadChunk('b_gone', 2, Buffer.from('x'), { ...LEASE, clientId: 'shop-2' }),
        ).rejects.toBeInstanceOf(RangeError);
        await store.discardUpload('shop-2', 'b_gone');
        expect(await uploadText('b_gone')).toBe('a,b\n1,2\n');

        await store.discardUpload('shop-1', 'b_gone');
        await store.discardUpload('shop-1', 'b_stay');
        await store.discardUpload('shop-1', 'b_never');
        expect(await collect(store.readUpload('b_gone'))).toEqual([]);
        expect(await uploadText('b_stay')).toBe('a,b\n1,2\n');
        expect(await store.pendingUploadBytes('shop-1')).toBe(8);
        expect(await store.sweepUploads(10)).toBe(0);
      });

      it('removes a second upload of a known file when creating its batch; a retried create keeps the upload', async () => {
        await store.putUploadChunk('b_first', 0, Buffer.from('same\n'), LEASE);
        const first = await store.createBatch(newBatch('shop-1', 'b_first', 'same\n'));
        await store.putUploadChunk('b_again', 0, Buffer.from('same\n'), LEASE);
        expect(await store.pendingUploadBytes('shop-1')).toBe(10);
        const again = await store.createBatch(newBatch('shop-1', 'b_again', 'same\n', 1));
        expect(again).toStrictEqual({ created: false, batch: first.batch });
        expect(await collect(store.readUpload('b_again'))).toEqual([]);
        expect(await store.pendingUploadBytes('shop-1')).toBe(5);

        const retry = await store.createBatch(newBatch('shop-1', 'b_first', 'same\n'));
        expect(retry).toStrictEqual({ created: false, batch: first.batch });
        expect(await uploadText('b_first')).toBe('same\n');
        expect(await store.pendingUploadBytes('shop-1')).toBe(5);
      });

      it("caps a client's bytes not yet imported: uploads in progress and batches stored or importing count", async () => {
        const capped = { clientId: 'shop-1', leaseMs: 60_000, maxPendingBytes: 10 };
        await store.putUploadChunk('b_q1', 0, Buffer.from('123456'), capped);
        await store.createBatch(newBatch('shop-1', 'b_q1', '123456'));
        await store.putUploadChunk('b_q2', 0, Buffer.from('1234'), capped);
        expect(await store.pendingUploadBytes('shop-1')).toBe(10);
        const refused = store.putUploadChunk('b_q2', 1, Buffer.from('5'), capped);
        await expect(refused).rejects.toBeInstanceOf(UploadQuotaError);
        await expect(refused).rejects.toMatchObject({ maxPendingBytes: 10, pendingBytes: 10 });
        // Nothing written: the upload still ends after chunk 0.
        expect(await uploadText('b_q2')).toBe('1234');
        // Another client counts its own.
        await store.putUploadChunk('b_other', 0, Buffer.from('1234567890'), {
          ...capped,
          clientId: 'shop-2',
        });
        expect(await store.pendingUploadBytes('shop-2')).toBe(10);

        await store.updateBatch('b_q1', { state: 'importing' }, at(1));
        await expect(store.putUploadChunk('b_q2', 1, Buffer.from('5'), capped)).rejects.toBeInstanceOf(
          UploadQuotaError,
        );
        await store.updateBatch('b_q1', { state: 'imported' }, at(2));
        expect(await store.pendingUploadBytes('shop-1')).toBe(4);
        await store.putUploadChunk('b_q2', 1, Buffer.from('567890'), capped);
        expect(await store.pendingUploadBytes('shop-1')).toBe(10);
        // Without a limit nothing is refused (and the count goes on).
        await store.putUploadChunk('b_q4', 0, Buffer.from('x'), LEASE);
        expect(await store.pendingUploadBytes('shop-1')).toBe(11);
        await store.discardUpload('shop-1', 'b_q4');
        await store.discardUpload('shop-1', 'b_q2');
        expect(await store.pendingUploadBytes('shop-1')).toBe(0);

        // A rewritten chunk counts once, at its new size.
        await store.putUploadChunk('b_q3', 0, Buffer.from('1234567890'), capped);
        await store.putUploadChunk('b_q3', 0, Buffer.from('0987654321'), capped);
        expect(await store.pendingUploadBytes('shop-1')).toBe(10);
        expect(await uploadText('b_q3')).toBe('0987654321');
      });

      it('refuses to hand out an upload whose chunks do not add up to its bytes', async () => {
        await store.putUploadChunk('b_gap', 0, Buffer.from('a,b\n'), LEASE);
        await store.putUploadChunk('b_gap', 2, Buffer.from('3,4\n'), LEASE);
        await store.createBatch({ ...newBatch('shop-1', 'b_gap', 'a,b\n1,2\n3,4\n'), bytes: 12 });
        await expect(collect(store.readUpload('b_gap'))).rejects.toBeInstanceOf(LedgerCorruptionError);
      });

      it("lists a client's batches newest first with cursor paging", async () => {
        for (let i = 0; i < 5; i += 1) await store.createBatch(newBatch('shop-1', `b_${i}`, `file ${i}`, i));
        await store.createBatch(newBatch('shop-2', 'b_other', 'file 0', 9));
        const first = await store.listBatches('shop-1', { limit: 2 });
        expect(first.batches.map((batch) => batch.batchId)).toEqual(['b_4', 'b_3']);
        expect(first.nextCursor).toBeDefined();
        const second = await store.listBatches('shop-1', { limit: 2, cursor: first.nextCursor });
        expect(second.batches.map((batch) => batch.batchId)).toEqual(['b_2', 'b_1']);
        const third = await store.listBatches('shop-1', { limit: 2, cursor: second.nextCursor });
        expect(third.batches.map((batch) => batch.batchId)).toEqual(['b_0']);
        expect(third.nextCursor).toBeUndefined();
        expect((await store.listBatches('shop-3', { limit: 10 })).batches).toEqual([]);
        await expect(store.listBatches('shop-1', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.listBatches('shop-1', { limit: 501 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.listBatches('shop-1', { limit: 5, cursor: 'bm9wZQ' })).rejects.toBeInstanceOf(
          ValidationError,
        );
      });

      it('updates a batch and finds batches by state, oldest change first, before a time', async () => {
        await store.createBatch(newBatch('shop-1', 'b_a', 'a', 1));
        await store.createBatch(newBatch('shop-2', 'b_b', 'b', 2));
        await store.createBatch(newBatch('shop-1', 'b_c', 'c', 3));
        const importing = await store.updateBatch('b_a', { state: 'importing', rowsRead: 10 }, at(20));
        expect(importing).toMatchObject({ state: 'importing', rowsRead: 10, updatedAt: at(20) });
        expect(importing).not.toHaveProperty('error');
        await store.updateBatch('b_b', { state: 'importing' }, at(10));
        const stopped = await store.updateBatch('b_c', { error: 'extra column "colour"' }, at(30));
        // A patch without a state leaves the state; one without an error leaves the error.
        expect(stopped).toMatchObject({ state: 'stored', error: 'extra column "colour"', updatedAt: at(30) });
        expect(await store.updateBatch('b_c', { rowsRead: 0 }, at(31))).toMatchObject({
          error: 'extra column "colour"',
        });
        expect(await store.getBatch('shop-1', 'b_a')).toStrictEqual(importing);

        const found = await store.findBatches('importing', at(100), 10);
        expect(found.map((batch) => batch.batchId)).toEqual(['b_b', 'b_a']);
        expect((await store.findBatches('importing', at(20), 10)).map((batch) => batch.batchId)).toEqual([
          'b_b',
        ]);
        expect((await store.findBatches('importing', at(100), 1)).map((batch) => batch.batchId)).toEqual([
          'b_b',
        ]);
        expect((await store.findBatches('stored', at(100), 10)).map((batch) => batch.batchId)).toEqual([
          'b_c',
        ]);
        expect(await store.findBatches('done', at(100), 10)).toEqual([]);
        await expect(store.findBatches('stored', at(100), 0)).rejects.toBeInstanceOf(RangeError);
        await expect(store.updateBatch('b_missing', { state: 'done' }, at(40))).rejects.toBeInstanceOf(
          RangeError,
        );
      });

      it('commits row results in sequence only, counting each row once, and reads them back in order', async () => {
        await store.createBatch(newBatch('shop-1', 'b_rows', 'rows'));
        expect(await store.commitRows('b_rows', rows(1, 10, 4), at(1))).toBe(true);
        // A repeat (a restarted import) and a gap are refused and change nothing.
        expect(await store.commitRows('b_rows', rows(1, 10, 4), at(2))).toBe(false);
        expect(await store.commitRows('b_rows', rows(5, 10), at(2))).toBe(false);
        expect(await store.commitRows('b_rows', rows(21, 5), at(2))).toBe(false);
        expect(await store.getBatch('shop-1', 'b_rows')).toMatchObject({
          rowsCommitted: 10,
          accepted: 8,
          rejected: 2,
          updatedAt: at(1),
        });
        expect(await store.commitRows('b_rows', rows(11, 10, 4), at(3))).toBe(true);
        expect(await store.commitRows('b_rows', rows(21, 1), at(4))).toBe(true);
        expect(await store.getBatch('shop-1', 'b_rows')).toMatchObject({
          rowsCommitted: 21,
          accepted: 16,
          rejected: 5,
          updatedAt: at(4),
        });
        const chunks = await collect(store.readRows('b_rows'));
        expect(chunks.map((chunk) => chunk.length)).toEqual([10, 10, 1]);
        expect(chunks.flat()).toStrictEqual(rows(1, 21, 4));

        await expect(store.commitRows('b_rows', [], at(5))).rejects.toBeInstanceOf(RangeError);
        const [row22, , row24] = rows(22, 3);
        await expect(store.commitRows('b_rows', [row22!, row24!], at(5))).rejects.toBeInstanceOf(RangeError);
        await expect(store.commitRows('b_rows', [{ row: 22, cells: {} }], at(5))).rejects.toBeInstanceOf(
          RangeError,
        );
        await expect(store.commitRows('b_missing', rows(1, 1), at(5))).rejects.toBeInstanceOf(RangeError);
        expect((await store.getBatch('shop-1', 'b_rows'))?.rowsCommitted).toBe(21);
        expect(await collect(store.readRows('b_none'))).toEqual([]);
      });

      it('commits each chunk exactly once when 10 importers race with the same rows', async () => {
        await store.createBatch(newBatch('shop-1', 'b_race', 'race'));
        const outcomes = await Promise.all(
          Array.from({ length: 10 }, () => store.commitRows('b_race', rows(1, 5, 2), at(1))),
        );
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        expect(await store.getBatch('shop-1', 'b_race')).toMatchObject({
          rowsCommitted: 5,
          accepted: 3,
          rejected: 2,
        });
        expect((await collect(store.readRows('b_race'))).flat()).toStrictEqual(rows(1, 5, 2));
      });

      it('creates 1000 orders in one call exactly as createOrder would, one by one', async () => {
        // Existing orders: some moved on, one under another client with the same order id.
        for (let i = 0; i < 1000; i += 10) await created(store, newOrder('shop-1', `o-${i}`, 1));
        await applied(store, { clientId: 'shop-1', orderId: 'o-10' }, move('queued', 'processing', 2));
        await created(store, newOrder('shop-2', 'o-1', 1));
        const before = new Map<string, Order>();
        for (let i = 0; i < 1000; i += 10) {
          const order = await store.getOrder({ clientId: 'shop-1', orderId: `o-${i}` });
          if (order !== null) before.set(order.orderId, order);
        }
        const other: RechargeRequest = { ...REQUEST, amount: paise(2_000), value1: 'x' };
        const orders: NewOrder[] = Array.from({ length: 1000 }, (_, i) => ({
          ...newOrder('shop-1', `o-${i}`, 5, i % 3 === 0 ? other : REQUEST),
          batchId: 'b_bulk',
          ...(i % 7 === 0 ? { route: ['a1topup', 'telgoo5'] } : {}),
        }));
        // The same key twice in one call: created once, the second answers it unchanged.
        orders.push({ ...newOrder('shop-1', 'o-1', 6), batchId: 'b_bulk' });

        const results = await store.createOrders(orders);
        expect(results).toHaveLength(1001);
        for (const [i, result] of results.entries()) {
          const order = orders[i]!;
          const existing = before.get(order.orderId);
          if (existing !== undefined) {
            expect(result).toStrictEqual({ created: false, order: existing });
            continue;
          }
          if (i === 1000) {
            expect(result).toStrictEqual({ created: false, order: results[1]?.order });
            continue;
          }
          expect(result.created).toBe(true);
          // What createOrder answers for the key now is what createOrders answered when it created it.
          expect(await store.createOrder(order)).toStrictEqual({ created: false, order: result.order });
          expect(result.order).toMatchObject({
            state: 'queued',
            version: 1,
            batchId: 'b_bulk',
            route: order.route ?? ['a1topup'],
            request: order.request,
            createdAt: at(5),
          });
        }
        // Orders that existed are returned unchanged and are not made members (see linkOrders).
        expect(await store.batchStates('b_bulk')).toStrictEqual({ queued: 900 });
        const page = await store.listOrders('shop-1', { limit: 500, state: 'queued' });
        expect(page.nextCursor).toBeDefined();
        expect(
          await store.getOrderByProviderOrderId(providerOrderId({ clientId: 'shop-1', orderId: 'o-999' })),
        ).toMatchObject({ orderId: 'o-999' });
        expect(await store.createOrders([])).toEqual([]);
      });

      it('refuses a bulk order the way createOrder would: a bad route writes nothing, a held providerOrderId throws', async () => {
        const good = newOrder('shop-1', 'fine', 1);
        await expect(
          store.createOrders([good, { ...newOrder('shop-1', 'bad', 1), route: ['telgoo5'] }]),
        ).rejects.toBeInstanceOf(RangeError);
        expect(await store.getOrder(keyOf(good))).toBeNull();

        await created(store, newOrder('shop-1', 'holder', 1));
        const thief = {
          ...newOrder('shop-1', 'thief', 1),
          providerOrderId: providerOrderId({ clientId: 'shop-1', orderId: 'holder' }),
        };
        await expect(store.createOrders([good, thief])).rejects.toBeInstanceOf(ProviderOrderIdConflictError);
        expect(await store.getOrder(keyOf(thief))).toBeNull();
        expect((await store.getOrderByProviderOrderId(thief.providerOrderId))?.orderId).toBe('holder');
      });

      it('creates each key exactly once when 20 bulk calls with overlapping keys race', async () => {
        const calls = Array.from({ length: 20 }, (_, call) =>
          Array.from({ length: 50 }, (_, i) => ({
            ...newOrder('shop-1', `k-${call * 5 + i}`, 1),
            batchId: 'b_race',
          })),
        );
        const answers = await Promise.all(calls.map((orders) => store.createOrders(orders)));
        const createdPerKey = new Map<string, number>();
        for (const result of answers.flat()) {
          createdPerKey.set(
            result.order.orderId,
            (createdPerKey.get(result.order.orderId) ?? 0) + (result.created ? 1 : 0),
          );
          expect(result.order.version).toBe(1);
        }
        expect(createdPerKey.size).toBe(145);
        expect([...createdPerKey.values()].every((count) => count === 1)).toBe(true);
        expect(await store.batchStates('b_race')).toStrictEqual({ queued: 145 });
      });

      it('keeps batch state counts current through transitions, for created and linked members', async () => {
        const mine = (orderId: string): NewOrder => ({
          ...newOrder('shop-1', orderId, 1),
          batchId: 'b_states',
        });
        await store.createOrders([mine('m-1'), mine('m-2'), mine('m-3')]);
        // createOrder with a batchId makes a member too.
        await store.createOrder(mine('m-4'));
        expect(await store.batchStates('b_states')).toStrictEqual({ queued: 4 });

        const m1 = { clientId: 'shop-1', orderId: 'm-1' };
        const m2 = { clientId: 'shop-1', orderId: 'm-2' };
        await applied(store, m1, move('queued', 'processing', 2));
        await applied(store, m2, move('queued', 'processing', 2));
        expect(await store.batchStates('b_states')).toStrictEqual({ queued: 2, processing: 2 });
        await applied(store, m1, move('processing', 'success', 3));
        // A same-state event (an attempt) moves nothing; a refused transition neither.
        await applied(store, m2, move('processing', 'processing', 3, { patch: { incrementAttempts: true } }));
        expect((await store.transition(m1, move('queued', 'processing', 4))).applied).toBe(false);
        expect(await store.batchStates('b_states')).toStrictEqual({ queued: 2, processing: 1, success: 1 });

        // Orders from elsewhere (another batch, or none) linked to this batch count from now on, once.
        await orderIn(store, { clientId: 'shop-1', orderId: 'elsewhere' }, 'pending', 1);
        const other = { ...newOrder('shop-1', 'other-batch', 1), batchId: 'b_other' };
        await store.createOrders([other]);
        const linked = [
          { clientId: 'shop-1', orderId: 'elsewhere' },
          keyOf(other),
          { clientId: 'shop-1', orderId: 'unknown' },
        ];
        await store.linkOrders('b_states', linked);
        await store.linkOrders('b_states', linked);
        // Linking an order to the batch it came from changes nothing either.
        await store.linkOrders('b_states', [m1]);
        expect(await store.batchStates('b_states')).toStrictEqual({
          queued: 3,
          processing: 1,
          success: 1,
          pending: 1,
        });
        expect(await store.batchStates('b_other')).toStrictEqual({ queued: 1 });

        await applied(store, keyOf(other), move('queued', 'processing', 5));
        await applied(store, { clientId: 'shop-1', orderId: 'elsewhere' }, move('pending', 'success', 5));
        expect(await store.batchStates('b_states')).toStrictEqual({ queued: 2, processing: 2, success: 2 });
        // Both batches see the order move.
        expect(await store.batchStates('b_other')).toStrictEqual({ processing: 1 });
        // The order still names the batch it came from.
        expect((await store.getOrder(keyOf(other)))?.batchId).toBe('b_other');
        expect(await store.batchStates('b_none')).toStrictEqual({});
      });
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
