import { RechargeflowError } from '@rechargeflow/domain';

/**
 * A batch release that must wait: its providers' queues are full, or the import has not committed
 * the rows after the released ones yet. Retryable with `retryAfterMs`: the release job waits that
 * long without spending an attempt, then goes on from the batch's `rowsReleased`.
 */
export class ReleaseWaitError extends RechargeflowError {
  constructor(message: string, options: { retryAfterMs: number; batchId: string }) {
    super(message, {
      retryable: true,
      retryAfterMs: options.retryAfterMs,
      context: { batchId: options.batchId },
    });
  }
}
