import { RechargeflowError } from '@rechargeflow/domain';
import { Redis } from 'ioredis';
import { RedisEvictionPolicyError } from './redis-eviction-policy-error.ts';

/**
 * - `worker`: BullMQ workers block on Redis; they must retry forever (`maxRetriesPerRequest: null`).
 * - `producer`: the API adds jobs; when Redis is away it must fail fast so the caller can answer
 *   (the order is already in the ledger and the recovery sweep enqueues it later).
 */
export type ConnectionRole = 'worker' | 'producer';

export function createRedisConnection(url: string, role: ConnectionRole, name: string): Redis {
  const common = { connectionName: `rechargeflow:${name}`, lazyConnect: false };
  return role === 'worker'
    ? new Redis(url, { ...common, maxRetriesPerRequest: null, enableReadyCheck: true })
    : new Redis(url, {
        ...common,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        connectTimeout: 2_000,
        retryStrategy: (times) => Math.min(times * 200, 2_000),
      });
}

/** Redis's answer to a CONFIG it refuses or does not have (an ACL, a managed or renamed CONFIG). */
const CONFIG_REFUSED = /unknown command|NOPERM|disabled|\bERR\b/i;

/**
 * BullMQ and the Redis ledger lose data silently if Redis evicts keys: refuse to start unless the
 * policy is `noeviction` (RedisEvictionPolicyError). The one check of it, for the queues' Redis and
 * the Redis ledger alike. Asks CONFIG GET (a RESP2 list or a RESP3 map); where CONFIG is refused or
 * says nothing, INFO memory.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  if (typeof redis.status === 'string') await waitForRedis(redis);
  let policy: string | undefined;
  try {
    const reply: unknown = await redis.config('GET', 'maxmemory-policy');
    policy = Array.isArray(reply)
      ? String(reply[1] ?? '')
      : typeof reply === 'object' && reply !== null
        ? String((reply as Record<string, unknown>)['maxmemory-policy'] ?? '')
        : undefined;
  } catch (error) {
    if (!CONFIG_REFUSED.test(String(error))) throw error;
  }
  if (!policy) {
    const info = await redis.info('memory');
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  }
  if (policy !== 'noeviction') {
    throw new RedisEvictionPolicyError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; Rechargeflow needs "noeviction" (set maxmemory-policy noeviction in redis.conf or run CONFIG SET maxmemory-policy noeviction), otherwise Redis may silently delete queued jobs and ledger entries (orders)`,
      { context: { policy: policy ?? null } },
    );
  }
}

/**
 * Whether Redis keeps an append-only file (INFO persistence, so it works where CONFIG is disabled);
 * null when INFO does not say. Without one, a Redis restart loses everything since the last
 * snapshot: for the Redis ledger, orders already answered 202 and claims made before a send.
 */
export async function readAofEnabled(redis: Redis): Promise<boolean | null> {
  const info = await redis.info('persistence');
  const flag = /^aof_enabled:(\d)/m.exec(info)?.[1];
  return flag === undefined ? null : flag === '1';
}

export type AppendFsync = 'always' | 'everysec' | 'no';

/**
 * How often Redis flushes its append-only file to disk (CONFIG GET appendfsync); null where CONFIG
 * is refused (ACL, managed Redis), since INFO does not report it.
 */
export async function readAppendFsync(redis: Redis): Promise<AppendFsync | null> {
  try {
    const [, value] = (await redis.config('GET', 'appendfsync')) as string[];
    return value === 'always' || value === 'everysec' || value === 'no' ? value : null;
  } catch (error) {
    if (CONFIG_REFUSED.test(String(error))) return null;
    throw error;
  }
}

/** Waits until the connection is ready or fails with the reason (bounded). */
export async function waitForRedis(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new RechargeflowError(`Redis did not answer within ${timeoutMs} ms`, { retryable: true }));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
