import { RechargeflowError } from './errors.ts';
import type { RechargeRequest } from './order.ts';

/*
 * The contract between the order logic and the provider adapters: what a provider call returns,
 * how it fails, and what the rest of the system may ask about a provider without calling it.
 *
 * Why here, in the domain: the contract belongs to the layer that uses it (orders), not to the
 * adapters. But it cannot live in `@rechargeflow/orders`: the adapters (`@rechargeflow/providers`)
 * would then depend on orders, while orders' integration tests run real provider clients (orders has
 * providers as a devDependency), a package cycle Turborepo refuses. The domain is below both, holds
 * only types and an error class extending RechargeflowError, and imports no infrastructure, so
 * orders depends on the contract and never on an adapter.
 */

/**
 * How a failed provider call must be treated (docs/product.md, rule 2):
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

/** What a provider's callback reports about an order. */
export type CallbackStatus = 'success' | 'failed' | 'pending';

/**
 * What the order logic may ask about any provider without a connection to it (the provider
 * registry of `@rechargeflow/providers` is one): it reads stored callbacks, whose provider may no
 * longer be configured.
 */
export interface ProviderCatalog {
  /**
   * What the status text of a callback from `provider` reports, or `undefined` when it is none of
   * that provider's callback statuses (or the provider takes no callbacks).
   */
  callbackStatus(provider: string, statusText: string): CallbackStatus | undefined;
  /** The status texts a callback from `provider` may carry, for notes: e.g. `Success, Failure or Pending`. */
  callbackStatusWords(provider: string): string;
}
