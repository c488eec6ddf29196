import { RechargeflowError } from '@rechargeflow/domain';

/**
 * A new order's providerOrderId is already held by another order. Never overwritten: the orderid
 * sent to a provider must be unique across clients (PRODUCT.md rule 1).
 */
export class ProviderOrderIdConflictError extends RechargeflowError {
  constructor(providerOrderId: string) {
    super(`providerOrderId ${providerOrderId} already belongs to another order`, {
      retryable: false,
      context: { providerOrderId },
    });
  }
}

/** The backing store is set up in a way that cannot keep a ledger safely (eviction, missing index). */
export class LedgerConfigurationError extends RechargeflowError {}

/** A stored record that does not decode into an order: never guessed at, always surfaced. */
export class LedgerCorruptionError extends RechargeflowError {}
