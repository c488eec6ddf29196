import { RechargeflowError } from '@rechargeflow/domain';

/**
 * Thrown to ask the queue for another run later: only when nothing was sent. With `retryAfterMs`
 * it is a wait (an order waiting out an outage), which spends none of the job's attempts.
 */
export class NotSentRetryError extends RechargeflowError {
  constructor(message: string, context: Record<string, unknown>, retryAfterMs?: number) {
    super(message, { retryable: true, context, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
}
