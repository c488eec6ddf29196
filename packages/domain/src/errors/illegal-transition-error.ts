import { RechargeflowError } from './rechargeflow-error.ts';

/** A state change the order state machine forbids. */
export class IllegalTransitionError extends RechargeflowError {
  constructor(from: string, to: string) {
    super(`illegal order transition ${from} -> ${to}`, { retryable: false, context: { from, to } });
  }
}
