import { RechargeflowError } from '@rechargeflow/domain';

/**
 * Start-up refused: Redis may evict keys (its maxmemory-policy is not `noeviction`), so queued jobs
 * and Redis ledger entries could silently disappear. `context.policy`: the policy found.
 */
export class RedisEvictionPolicyError extends RechargeflowError {}
