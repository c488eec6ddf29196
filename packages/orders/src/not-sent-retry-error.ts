import { RechargeflowError } from '@rechargeflow/domain';

/** Thrown to ask the queue for another run later: only when nothing was sent. */
export class NotSentRetryError extends RechargeflowError {
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { retryable: true, context });
  }
}
