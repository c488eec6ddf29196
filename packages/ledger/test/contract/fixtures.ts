import {
  type Order,
  type OrderKey,
  type OrderState,
  paise,
  providerOrderId,
  type RechargeRequest,
  requestFingerprint,
} from '@rechargeflow/domain';
import { expect } from 'vitest';
import type { CallbackInput } from '../../src/callbacks/callback-store.ts';
import type { LedgerStore } from '../../src/ledger-store.ts';
import type { NewOrder, OrderStore, TransitionCommand } from '../../src/orders/order-store.ts';

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

/**
 * The store of the test running now, for the slices: the contract's root `describe` sets up a
 * fresh fixture before each test (and cleans it up after), and every slice reads it from here.
 */
export interface LiveFixture {
  readonly store: LedgerStore;
  makeLegacy(key: OrderKey): Promise<void>;
}

export const BASE = Date.parse('2026-01-01T00:00:00.000Z');
/** A caller-supplied ISO time, `seconds` after a fixed base. */
export const at = (seconds: number): string => new Date(BASE + seconds * 1000).toISOString();

export const REQUEST: RechargeRequest = {
  operator: 'A',
  circle: 'DL',
  number: '9876543210',
  amount: paise(1000),
};

export function newOrder(
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

export function move(
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
export const PATH: Readonly<Record<OrderState, readonly OrderState[]>> = {
  queued: [],
  processing: ['processing'],
  success: ['processing', 'success'],
  failed: ['processing', 'failed'],
  pending: ['processing', 'pending'],
  manual_review: ['processing', 'pending', 'manual_review'],
  reversed: ['processing', 'success', 'reversed'],
};

export async function created(store: OrderStore, order: NewOrder): Promise<Order> {
  const result = await store.createOrder(order);
  expect(result.created).toBe(true);
  return result.order;
}

export async function applied(store: OrderStore, key: OrderKey, command: TransitionCommand): Promise<Order> {
  const result = await store.transition(key, command);
  if (!result.applied)
    throw new Error(`expected ${command.expect.state} -> ${command.to} to apply: ${result.reason}`);
  return result.order;
}

/** Creates an order and walks it to `target`, one second per step after `seconds`. */
export async function orderIn(
  store: OrderStore,
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

export const keyOf = (order: OrderKey): OrderKey => ({ clientId: order.clientId, orderId: order.orderId });
export const ids = (orders: readonly Order[]): string[] => orders.map((order) => order.orderId);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const ms = (iso: string | undefined): number => Date.parse(iso ?? 'missing');

/** processing -> pending, the first check due `checkAfterMs` after the store's clock. */
export async function toPending(store: OrderStore, orderId: string, checkAfterMs?: number): Promise<Order> {
  const key = { clientId: 'shop-1', orderId };
  await orderIn(store, key, 'processing');
  const patch = checkAfterMs === undefined ? undefined : { checkAfterMs };
  return applied(store, key, move('processing', 'pending', 10, { patch, note: 'timeout after sending' }));
}

export function callback(overrides: Partial<CallbackInput> = {}): CallbackInput {
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
export const TELGOO5_REQUEST: RechargeRequest = {
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

export const ROUTE = ['a1topup', 'telgoo5', 'another'] as const;

/** The failover event: a same-state processing event with no call in flight. */
export function failover(
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
export const none = { count: 0, amount: paise(0) };
