import { RechargeflowError } from '@rechargeflow/domain';
import { isCluster, type QueueConnection } from './connection.ts';

/** A Redis server's memory, as its INFO reports it. */
export interface RedisMemory {
  /** `used_memory`: bytes the server has allocated for its data and itself. */
  readonly usedBytes: number;
  /** `maxmemory`: where it starts refusing writes (noeviction); 0 when it has no limit. */
  readonly maxBytes: number;
  /** `total_system_memory`: the host's memory as the server sees it (not a container's limit); 0 unknown. */
  readonly systemBytes: number;
  /** `run_id`: tells two connections to one server apart from two servers ('' unknown). */
  readonly serverId: string;
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(\\S*)`, 'm').exec(info)?.[1];
}

/** INFO's text (default sections: server and memory among them) → RedisMemory. */
export function parseRedisMemory(info: string): RedisMemory {
  const used = Number(field(info, 'used_memory'));
  if (!Number.isFinite(used))
    throw new RechargeflowError('Redis INFO has no used_memory', { retryable: true });
  const count = (name: string) => {
    const value = Number(field(info, name) ?? 0);
    return Number.isFinite(value) ? value : 0;
  };
  return {
    usedBytes: used,
    maxBytes: count('maxmemory'),
    systemBytes: count('total_system_memory'),
    serverId: field(info, 'run_id') ?? '',
  };
}

/** How close a server is to refusing writes: its share of maxmemory, or -1 with no limit. */
const fill = (memory: RedisMemory): number => (memory.maxBytes > 0 ? memory.usedBytes / memory.maxBytes : -1);

/**
 * The memory of the Redis behind `connection` (one INFO round trip). On a Redis Cluster, of the
 * master closest to its maxmemory (with no limit anywhere, the one using the most): a master that is
 * full refuses the writes of its slots, whatever the others hold.
 */
export async function readRedisMemory(connection: QueueConnection): Promise<RedisMemory> {
  if (!isCluster(connection)) return parseRedisMemory(await connection.info());
  const masters = await Promise.all(
    connection.nodes('master').map(async (node) => parseRedisMemory(await node.info())),
  );
  const [first, ...rest] = masters;
  if (first === undefined)
    throw new RechargeflowError('the Redis Cluster has no master to read', { retryable: true });
  return rest.reduce(
    (worst, memory) =>
      fill(memory) > fill(worst) || (fill(memory) === fill(worst) && memory.usedBytes > worst.usedBytes)
        ? memory
        : worst,
    first,
  );
}
