import { RechargeflowError } from '@rechargeflow/domain';

/** Asked for another run later (the status API did not answer while verifying a reversal). */
export class CallbackRetryError extends RechargeflowError {
  constructor(message: string, context: Record<string, unknown>) {
    super(message, { retryable: true, context });
  }
}
