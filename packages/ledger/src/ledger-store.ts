import type { BalanceStore } from './balances/balance-store.ts';
import type { BatchStore } from './batches/batch-store.ts';
import type { CallbackStore } from './callbacks/callback-store.ts';
import type { OrderRetentionStore } from './orders/order-retention.ts';
import type { OrderStore } from './orders/order-store.ts';
import type { WebhookStore } from './webhooks/webhook-store.ts';

/**
 * The system of record for orders and their full history, with the provider callbacks, balance
 * samples and batches around them, and the webhooks their transitions cause: the aggregates'
 * stores over one backing store, plus its lifecycle and clock. Two implementations (Redis, MongoDB) pass the same contract suite. Every
 * write is atomic and conditional: there is no read-modify-write across processes.
 *
 * A caller that needs one aggregate depends on its narrow interface (`OrderStore`,
 * `CallbackStore`, `BalanceStore`, `BatchStore`, `WebhookStore`); a LedgerStore is each of them.
 */
export interface LedgerStore
  extends OrderStore,
    OrderRetentionStore,
    CallbackStore,
    BalanceStore,
    BatchStore,
    WebhookStore {
  /** Prepares the store (indexes, scripts) and verifies it; call once at start-up. */
  init(): Promise<void>;
  /** The store's clock: every age comparison uses it, never the caller's (hosts' clocks drift). */
  clock(): Promise<Date>;
  /** Round-trip check for readiness probes. */
  ping(): Promise<void>;
  /** Releases what the store holds; the caller-owned connection stays open. */
  close(): Promise<void>;
}
