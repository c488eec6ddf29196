import type { Order, OrderKey, RechargeRequest } from '@rechargeflow/domain';

/**
 * What the API hands the ledger to create an order: state `queued`, version 1, attempts 0, and one
 * history entry `{ at: now, from: null, to: 'queued', source: 'api', note: 'order accepted' }`.
 */
export interface NewOrder extends OrderKey {
  readonly providerOrderId: string;
  readonly provider: string;
  readonly request: RechargeRequest;
  readonly fingerprint: string;
  /** Providers to try in order; `provider` must be its first element. Default: `[provider]`. */
  readonly route?: readonly string[] | undefined;
  readonly batchId?: string | undefined;
  /** ISO time; also the first history entry's time. */
  readonly now: string;
}

export type CreateResult =
  /** The order did not exist and has been written. */
  | { readonly created: true; readonly order: Order }
  /** An order with this key already existed; it is returned unchanged (compare fingerprints). */
  | { readonly created: false; readonly order: Order };
