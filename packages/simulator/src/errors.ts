import { RechargeflowError } from '@rechargeflow/domain';

/** A control request the simulator refuses; `statusCode` is what `/_sim/*` answers with. */
export class SimulatorError extends RechargeflowError {
  readonly statusCode: 400 | 404 | 409;
  constructor(statusCode: 400 | 404 | 409, message: string) {
    super(message, { context: { statusCode } });
    this.statusCode = statusCode;
  }
}
