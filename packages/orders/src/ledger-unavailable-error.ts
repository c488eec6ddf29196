import { RechargeflowError } from '@rechargeflow/domain';

/** A ledger failure mid-job: retrying is safe because every write is conditional. */
export class LedgerUnavailableError extends RechargeflowError {
  constructor(cause: unknown) {
    super('ledger unavailable', { retryable: true, cause });
  }
}
