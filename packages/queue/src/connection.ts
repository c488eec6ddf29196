import { RechargeflowError } from '@rechargeflow/domain';
import { Redis } from 'ioredis';

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

export class RedisEvictionPolicyError extends RechargeflowError {}

/**
 * BullMQ and the Redis ledger lose data silently if Redis evicts keys: refuse to start unless the
 * policy is `noeviction`. Falls back to INFO where CONFIG is disabled (managed Redis).
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  if (typeof redis.status === 'string') await waitForRedis(redis);
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch (error) {
    if (!/unknown command|NOPERM|disabled/i.test(String(error))) throw error;
    const info = await redis.info('memory');
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  }
  if (policy !== 'noeviction') {
    throw new RedisEvictionPolicyError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; Rechargeflow needs "noeviction" (set maxmemory-policy noeviction in redis.conf or CONFIG SET), otherwise queued jobs and ledger entries can be evicted`,
      { context: { policy } },
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
    if (/unknown command|NOPERM|disabled/i.test(String(error))) return null;
    throw error;
  }
}

/** Waits until the connection is ready or fails with the reason (bounded). */
export async function waitForRedis(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
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
