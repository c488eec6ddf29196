import { RechargeflowError } from '@rechargeflow/domain';

/**
 * A new order's providerOrderId is already held by another order. Never overwritten: the orderid
 * sent to a provider must be unique across clients (docs/product.md, rule 1).
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

/**
 * An upload chunk would take its client past the bytes it may hold stored but not yet imported
 * (uploads in progress plus batches `stored` or `importing`): nothing was written.
 */
export class UploadQuotaError extends RechargeflowError {
  /** The limit the chunk would pass. */
  readonly maxPendingBytes: number;
  /** What the client held before this chunk (this upload's earlier chunks included). */
  readonly pendingBytes: number;

  constructor(maxPendingBytes: number, pendingBytes: number) {
    super(
      `the client holds ${pendingBytes} bytes of uploads not yet imported; this chunk would pass its limit of ${maxPendingBytes}`,
      { retryable: false, context: { maxPendingBytes, pendingBytes } },
    );
    this.maxPendingBytes = maxPendingBytes;
    this.pendingBytes = pendingBytes;
  }
}

/**
 * A chunk after the first of an upload whose lease ran out (no chunk was written within the lease,
 * so the earlier ones are gone or going): nothing was written; the upload must start again.
 */
export class UploadLeaseExpiredError extends RechargeflowError {}
