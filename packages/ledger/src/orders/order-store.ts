import type { HistoryEntry, Order, OrderKey, OrderState, Paise, Reversal } from '@rechargeflow/domain';
import type { CreateResult, NewOrder } from './new-order.ts';

export type { CreateResult, NewOrder };

/** Fields a transition may set besides the state. `undefined` leaves a field as it was. */
export interface OrderPatch {
  readonly inFlight?: boolean | undefined;
  readonly providerTxId?: string | undefined;
  readonly providerRef?: string | undefined;
  readonly providerStatus?: string | undefined;
  /**
   * Failover (with `expect.state` and `to` both `processing`, and either `expect.inFlight: false`
   * or `expect.inFlight: true` together with `patch.inFlight: false` — the refused call ended; else
   * `RangeError`, nothing written): the order moves to the next provider of its route with a new providerOrderId,
   * claimed as unique exactly like at creation. The old providerOrderId keeps pointing at the
   * order, so a late callback for the earlier attempt still finds it. In one atomic write, after
   * the expectation (a mismatch is a `conflict` as usual):
   * - a provider not in the stored route: `RangeError`, nothing written;
   * - a providerOrderId this order holds already (now or earlier): `conflict`, nothing written, so
   *   a repeated or concurrent identical switch applies once;
   * - a providerOrderId another order holds: `ProviderOrderIdConflictError`, nothing written.
   * Other patch fields may go with it (e.g. `inFlight: true` to start the new call at once);
   * `providerTxId`, `providerRef` and `providerStatus` stay as they are unless patched.
   */
  readonly switchProvider?: { readonly provider: string; readonly providerOrderId: string } | undefined;
  /** Sets the order's dispute reversal; only with `to: 'reversed'` (else `RangeError`). */
  readonly reversal?: Reversal | undefined;
  /**
   * Only with `to: 'pending'` (else `RangeError`); milliseconds >= 0, rounded to whole ones.
   * - Entering pending from another state: `pendingSince` = the store's clock now, and the first
   *   status check is due `checkAfterMs` after it (absent: 0, due at once).
   * - A `pending -> pending` event: absent leaves the schedule as it is; given, the next check moves
   *   to `checkAfterMs` after the store's clock (`pendingSince` stays).
   * Leaving `pending` for any state clears `nextCheckAt` (`pendingSince` stays, as a record).
   * Transitions never change `statusChecks`: only claimDueChecks counts checks.
   */
  readonly checkAfterMs?: number | undefined;
  /** Adds one to `attempts` (a provider call is about to start). */
  readonly incrementAttempts?: boolean | undefined;
  /**
   * Only with `to: 'success'` from `manual_review` or `failed` (else `RangeError`), never with
   * `switchProvider`: books the order on an earlier attempt it holds, the one the provider charged
   * (an operator found the charge there), so `provider` and `providerOrderId` name the attempt that
   * cost money. An id the order does not hold, or a provider not in its route: `RangeError`,
   * nothing written.
   */
  readonly bookAttempt?: { readonly provider: string; readonly providerOrderId: string } | undefined;
}

/**
 * A conditional change: applied only when the stored order is in `expect.state` (and, when given,
 * has `inFlight === expect.inFlight` and is at the attempt `expect.providerOrderId`). `to` equal to
 * `expect.state` records an event without a state change (e.g. a send attempt); otherwise `to` must
 * be a legal transition from it.
 */
export interface TransitionCommand {
  readonly expect: {
    readonly state: OrderState;
    readonly inFlight?: boolean | undefined;
    /**
     * The attempt the write is about: applied only while this is the order's current
     * providerOrderId. Every write about a provider's answer, callback or status names it, so a
     * fact about an attempt the order has left (after a failover) can never move the current one.
     */
    readonly providerOrderId?: string | undefined;
    /** Applied only while the order is at this version (nothing changed it since it was read). */
    readonly version?: number | undefined;
  };
  readonly to: OrderState;
  readonly patch?: OrderPatch | undefined;
  /** The history entry to append; `from` and `to` are filled in by the store. */
  readonly entry: Omit<HistoryEntry, 'from' | 'to'>;
  /**
   * The order as the caller last read it (this order: same clientId and orderId). Only a hint (the
   * write is decided by `expect` alone): a store whose history is append-only answers with its
   * history plus this entry, and its fields that never change, when nothing else was appended
   * meanwhile, instead of reading the whole order back.
   */
  readonly known?: Order | undefined;
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

/** Status-check claims: the poller's schedule, enforced by the store's clock. */
export interface ClaimChecksOptions {
  /** At most this many orders per claim (1..1000, else `RangeError`). */
  readonly limit: number;
  /**
   * Milliseconds between checks: after check n (1-based) the next is due `intervalsMs[min(n, len-1)]`
   * after the store's clock (the first check was due `checkAfterMs` after entering pending, which
   * is `intervalsMs[0]`'s place in the schedule). At least one interval, each >= 1 ms after
   * rounding to whole milliseconds (else `RangeError`).
   */
  readonly intervalsMs: readonly number[];
}

export interface AmountCount {
  readonly count: number;
  readonly amount: Paise;
}

/** One provider's orders created in a window, by their state now. */
export interface ProviderSummary {
  readonly provider: string;
  readonly submitted: AmountCount;
  readonly success: AmountCount;
  readonly failed: AmountCount;
  readonly reversed: AmountCount;
  /** `pending` and `manual_review`: outcome not known yet. */
  readonly pending: AmountCount;
  /** `queued` and `processing`. */
  readonly inProgress: AmountCount;
}

export interface StateCount {
  readonly count: number;
  readonly oldestChangeAt: string | null;
}

/**
 * Orders and their full history: creation, conditional transitions, the facts appended to them,
 * the lists and scans over them, the status-check schedule and the per-provider summary. Every
 * write is atomic and conditional: there is no read-modify-write across processes.
 */
export interface OrderStore {
  /**
   * Inserts the order unless its key exists (atomic on client + orderId). Rejects with
   * `ProviderOrderIdConflictError` when another order already holds `providerOrderId` (now or
   * before a failover; never overwritten), and with `RangeError` (nothing written) for a route not
   * led by `provider` or a request the ledger could not hand back exactly (an unknown field, a
   * malformed `telgoo5`).
   */
  createOrder(order: NewOrder): Promise<CreateResult>;
  getOrder(key: OrderKey): Promise<Order | null>;
  /** The order that holds or held `providerOrderId` (one it had before a failover too). */
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
  /**
   * Every order in `state` last changed before `updatedBefore`, a page at a time, oldest change
   * first: pass the page's `nextCursor` back for the next one (absent: no more). A sweep reaches
   * every such order however long the backlog; an order that changes meanwhile may be left out of
   * this pass (it is no longer stale) but never makes the scan repeat itself.
   * Rejects with `ValidationError` for a limit outside 1..1000 or a foreign cursor.
   */
  scanStale(
    state: OrderState,
    updatedBefore: string,
    limit: number,
    cursor?: string | undefined,
  ): Promise<OrderPage>;
  /**
   * Appends a history entry to the order whatever its state (`from` and `to` are its state now):
   * a fact that cannot be applied (about an attempt the order has left, or contradicting it) is
   * recorded, never dropped. Bumps `version`; leaves the state, `updatedAt` and the indexes as they
   * are, so a note never makes a stuck order look fresh.
   */
  appendHistory(
    key: OrderKey,
    entry: Omit<HistoryEntry, 'from' | 'to'>,
    /**
     * When given, appended only while the order is in this state (and at this attempt): a note
     * decided on a read is not written on an order that moved meanwhile (`conflict`: decide again).
     */
    expect?: { readonly state: OrderState; readonly providerOrderId?: string | undefined } | undefined,
  ): Promise<TransitionResult>;
  /**
   * How many orders of any client are in `state` now, and the oldest last change among them (ISO,
   * null when there are none): the backlog gauges (pending orders and their age).
   */
  countInState(state: OrderState): Promise<StateCount>;
  /**
   * Atomically claims up to `limit` `pending` orders whose next check is due by the store's clock
   * (earliest due first), counts the check (`statusChecks` + 1) and moves their next check out by
   * the schedule, so several pollers never check one order twice in one interval, whatever their
   * own clocks say. Returns the orders as claimed. A claim is bookkeeping, not a change of the
   * order: `version`, `updatedAt` and the history stay as they are.
   */
  claimDueChecks(options: ClaimChecksOptions): Promise<readonly Order[]>;
  /**
   * Orders created in [from, to) (ISO, to the millisecond), per provider (the one the order is
   * with now, after any failover), by their state now,
   * sorted by provider; a provider without orders in the window is absent. Amounts are the
   * requests' amounts. Not a snapshot: orders may change state while they are counted.
   */
  summarize(from: string, to: string): Promise<readonly ProviderSummary[]>;
}
