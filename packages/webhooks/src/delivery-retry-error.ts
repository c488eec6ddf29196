import { RechargeflowError } from '@rechargeflow/domain';

/**
 * A delivery to run again. With `retryAfterMs` the endpoint failed (an answer other than 2xx, or
 * none) while the delivery is inside its retry window: the job waits that long without spending an
 * attempt (the queue's consumer moves it to the delayed set). Without it the ledger could not be
 * read or written: the job is retried on its catalogue back-off.
 */
export class DeliveryRetryError extends RechargeflowError {
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown; deliveryId: string }) {
    super(message, {
      retryable: true,
      ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
      cause: options.cause,
      context: { deliveryId: options.deliveryId },
    });
  }
}
