import type { RechargeRequest } from '@rechargeflow/domain';
import { RechargeflowError } from '@rechargeflow/domain';

/**
 * How a failed provider call must be treated (PRODUCT.md rule 2):
 * - `not_sent`: provably never reached the provider (connection refused, DNS failure, our own
 *   validation before sending). Safe to retry with the same orderid.
 * - `failed`: the provider definitely did not and will not carry it out.
 * - `ambiguous`: the request may have reached the provider (timeout after sending, reset, 5xx,
 *   an answer that cannot be parsed). Never retried; only a status check or callback settles it.
 */
export type FailureClass = 'not_sent' | 'failed' | 'ambiguous';

export class ProviderError extends RechargeflowError {
  readonly failureClass: FailureClass;
  readonly provider: string;

  constructor(
    provider: string,
    failureClass: FailureClass,
    message: string,
    options: { context?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, {
      retryable: failureClass === 'not_sent',
      context: { provider, failureClass, ...(options.context ?? {}) },
      cause: options.cause,
    });
    this.failureClass = failureClass;
    this.provider = provider;
  }
}

/** What a provider said about an order, parsed from an answer it gave. */
export interface ProviderAnswer {
  /**
   * `success`/`failed`: final. `pending`: accepted, outcome later. `not_found` (status calls only):
   * the provider has no record of the orderid (not proof of failure right after an ambiguous send).
   */
  readonly status: 'success' | 'failed' | 'pending' | 'not_found';
  /** The provider's own status text, as received (for history). */
  readonly rawStatus: string;
  /** Provider transaction id (A1Topup `txid`). */
  readonly providerTxId?: string | undefined;
  /** Operator reference (A1Topup `opid`). */
  readonly providerRef?: string | undefined;
  /** Any message the provider gave (e.g. a failure reason). */
  readonly message?: string | undefined;
}

export interface RechargeCall {
  /** The unique orderid to send: the idempotency key at the provider. */
  readonly providerOrderId: string;
  readonly request: RechargeRequest;
}

export interface ProviderBalance {
  /** Balance in paise. */
  readonly balance: number;
  readonly rawBalance: string;
}

/**
 * One recharge provider. Methods either return a parsed answer or throw a `ProviderError`
 * carrying its `failureClass`; they never throw anything else.
 */
export interface RechargeProvider {
  readonly name: string;
  /**
   * What the provider's API offers besides recharging. Without `status` an ambiguous recharge
   * cannot be settled automatically and goes to manual review; without `balance` the provider is
   * never skipped for a low balance.
   */
  readonly supports: { readonly status: boolean; readonly balance: boolean };
  recharge(call: RechargeCall): Promise<ProviderAnswer>;
  /** Only when `supports.status`; otherwise throws a `ProviderError` of class `failed`. */
  checkStatus(providerOrderId: string): Promise<ProviderAnswer>;
  /** Only when `supports.balance`; otherwise throws a `ProviderError` of class `failed`. */
  getBalance(): Promise<ProviderBalance>;
  close(): Promise<void>;
}
