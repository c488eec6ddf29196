import { RechargeflowError } from '@rechargeflow/domain';

/** Start-up refused: the Redis ledger would not survive a Redis restart (no append-only file). */
export class LedgerDurabilityError extends RechargeflowError {}
