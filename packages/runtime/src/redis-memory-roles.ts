import type { RedisMemorySample } from '@rechargeflow/observability';
import { type RedisMemory, readRedisMemory } from '@rechargeflow/queue';
import type { Storage } from './storage.ts';

const sample = (role: string, memory: RedisMemory): RedisMemorySample => ({
  role,
  usedBytes: memory.usedBytes,
  maxBytes: memory.maxBytes,
  systemBytes: memory.systemBytes,
});

/**
 * The memory of each Redis a part writes to, by role, for the system gauges: the queue side (a
 * cluster: its fullest master) and the Redis ledger (none with MONGO_URL). One server holding both,
 * the default (REDIS_URL alone), is one sample, `ledger+queue`, told apart by its run_id: its
 * alerts fire once. Roles, never URLs, name them.
 */
export async function readRedisMemoryByRole(
  storage: Pick<Storage, 'redis' | 'ledger'>,
): Promise<RedisMemorySample[]> {
  const ledgerRedis = storage.ledger.redis;
  const [queue, ledger] = await Promise.all([
    readRedisMemory(storage.redis),
    ledgerRedis ? readRedisMemory(ledgerRedis) : undefined,
  ]);
  if (ledger === undefined) return [sample('queue', queue)];
  if (queue.serverId !== '' && queue.serverId === ledger.serverId) return [sample('ledger+queue', queue)];
  return [sample('ledger', ledger), sample('queue', queue)];
}
