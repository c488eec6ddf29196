import { isSettled, type Order, type OrderKey, type OrderState } from '@rechargeflow/domain';

/**
 * The states an order may be archived in: settled (`isSettled` of the domain), so nothing more is
 * sent for it. Archival is driven by the last change: an order in one of these states whose
 * `updatedAt` is older than the retention window (`scanStale` pages them, one state at a time).
 */
export const ARCHIVABLE_STATES = ['success', 'failed', 'reversed'] as const satisfies readonly OrderState[];
export type ArchivableState = (typeof ARCHIVABLE_STATES)[number];

export function isArchivableState(state: OrderState): state is ArchivableState {
  return isSettled(state) && (ARCHIVABLE_STATES as readonly string[]).includes(state);
}

/** What removal needs of an archived order (a run keeps only this much per order in memory). */
export type ArchivedOrderRef = Pick<
  Order,
  'clientId' | 'orderId' | 'providerOrderId' | 'route' | 'state' | 'version' | 'createdAt'
>;

export interface RemoveArchivedCommand {
  /**
   * The order as it was read and written to the archive. Removed only while the stored order is
   * still at this `version` and `state`: a callback, reversal or note that landed after the read
   * makes the removal refuse (`changed`), so the archive never holds the only, stale, copy.
   */
  readonly order: ArchivedOrderRef;
  /** Removed only when its last change is before this (ISO, exclusive): the retention cutoff. */
  readonly updatedBefore: string;
  /**
   * How long (ms) the order's provider-order claims stay after the order is removed, as its
   * tombstone: while one stays, the order id cannot make a new order (`OrderArchivedError`), the
   * provider orderid cannot be given to another, and `isArchived` answers true. 0: they stay for
   * good. Whole milliseconds, >= 0 (else `RangeError`).
   */
  readonly tombstoneMs: number;
}

/** `removed`; `changed`: not removed, the stored order moved on since it was read; `not_found`: gone. */
export type RemoveArchivedResult = 'removed' | 'changed' | 'not_found';

/**
 * Retention of final orders (docs/operations.md, "Retention and the archive"): the archiver pages
 * final orders past the window with `scanStale`, writes them to the archive, and only then removes
 * them here, one atomic, conditional write per order.
 */
export interface OrderRetentionStore {
  /**
   * Removes an archived order from the ledger completely (the order, its history and its index
   * entries) in one atomic write, only if it is still exactly as archived (see the command). Its
   * provider-order claims stay as its tombstone for `tombstoneMs`. A batch the order belongs to
   * keeps counting it under the final state it was archived in (it can never change again).
   * `RangeError` for a state that is not archivable or a bad command, nothing written. The MongoDB
   * ledger keeps every order: it refuses with `LedgerConfigurationError`.
   */
  removeArchivedOrder(command: RemoveArchivedCommand): Promise<RemoveArchivedResult>;
  /**
   * Whether the order was removed by retention and its tombstone still stands (its first
   * provider-order claim is kept while the order is gone). Always false on the MongoDB ledger.
   */
  isArchived(key: OrderKey): Promise<boolean>;
}
