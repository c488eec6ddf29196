import type { HistoryEntry, Order, OrderKey, OrderState, RechargeRequest } from '@rechargeflow/domain';

/**
 * What the API hands the ledger to create an order: state `queued`, version 1, attempts 0, and one
 * history entry `{ at: now, from: null, to: 'queued', source: 'api', note: 'order accepted' }`.
 */
export interface NewOrder extends OrderKey {
  readonly providerOrderId: string;
  readonly provider: string;
  readonly request: RechargeRequest;
  readonly fingerprint: string;
  readonly batchId?: string | undefined;
  /** ISO time; also the first history entry's time. */
  readonly now: string;
}

export type CreateResult =
  /** The order did not exist and has been written. */
  | { readonly created: true; readonly order: Order }
  /** An order with this key already existed; it is returned unchanged (compare fingerprints). */
  | { readonly created: false; readonly order: Order };

/** Fields a transition may set besides the state. `undefined` leaves a field as it was. */
export interface OrderPatch {
  readonly inFlight?: boolean | undefined;
  readonly providerTxId?: string | undefined;
  readonly providerRef?: string | undefined;
  readonly providerStatus?: string | undefined;
  /** Adds one to `attempts` (a provider call is about to start). */
  readonly incrementAttempts?: boolean | undefined;
}

/**
 * A conditional change: applied only when the stored order is in `expect.state` (and, when given,
 * has `inFlight === expect.inFlight`). `to` equal to `expect.state` records an event without a
 * state change (e.g. a send attempt); otherwise `to` must be a legal transition from it.
 */
export interface TransitionCommand {
  readonly expect: { readonly state: OrderState; readonly inFlight?: boolean | undefined };
  readonly to: OrderState;
  readonly patch?: OrderPatch | undefined;
  /** The history entry to append; `from` and `to` are filled in by the store. */
  readonly entry: Omit<HistoryEntry, 'from' | 'to'>;
}

export type TransitionResult =
  /** Applied: the order as it is now. */
  | { readonly applied: true; readonly order: Order }
  /** Not applied because the order was not in the expected condition: the order as it is. */
  | { readonly applied: false; readonly reason: 'conflict'; readonly order: Order }
  | { readonly applied: false; readonly reason: 'not_found' };

export interface ListOrdersQuery {
  readonly state?: OrderState | undefined;
  /** 1..500 */
  readonly limit: number;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string | undefined;
}

export interface OrderPage {
  /** Newest first. */
  readonly orders: readonly Order[];
  /** Present when there may be more. */
  readonly nextCursor?: string | undefined;
}

/**
 * The system of record for orders and their full history. Two implementations (Redis, MongoDB)
 * pass the same contract suite. Every write is atomic and conditional: there is no read-modify-
 * write across processes.
 */
export interface LedgerStore {
  /** Prepares the store (indexes, scripts) and verifies it; call once at start-up. */
  init(): Promise<void>;
  /**
   * Inserts the order unless its key exists (atomic on client + orderId). Rejects with
   * `ProviderOrderIdConflictError` when another order already holds `providerOrderId` (never
   * overwritten).
   */
  createOrder(order: NewOrder): Promise<CreateResult>;
  getOrder(key: OrderKey): Promise<Order | null>;
  getOrderByProviderOrderId(providerOrderId: string): Promise<Order | null>;
  /**
   * Applies the command atomically when the stored order matches `command.expect`. Rejects with
   * `IllegalTransitionError` (nothing written) when `expect.state -> to` is not a legal transition.
   */
  transition(key: OrderKey, command: TransitionCommand): Promise<TransitionResult>;
  /**
   * A client's orders, newest first (by `createdAt`), optionally in one state, with cursor paging.
   * A cursor stays valid while orders are added: the next page starts strictly after the last order
   * shown. Rejects with `ValidationError` for a limit outside 1..500 or a foreign cursor.
   */
  listOrders(clientId: string, query: ListOrdersQuery): Promise<OrderPage>;
  /**
   * Orders of any client in `state` whose last change is older than `updatedBefore` (ISO,
   * exclusive), oldest change first, at most `limit` (1..1000).
   */
  findStale(state: OrderState, updatedBefore: string, limit: number): Promise<readonly Order[]>;
  /** Round-trip check for readiness probes. */
  ping(): Promise<void>;
  /** Releases what the store holds; the caller-owned connection stays open. */
  close(): Promise<void>;
}
