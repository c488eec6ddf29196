import { RechargeflowError } from '@rechargeflow/domain';
import { Cluster, Redis } from 'ioredis';
import { coalesceWrites } from './coalesce-writes.ts';
import { RedisEvictionPolicyError } from './redis-eviction-policy-error.ts';

/**
 * - `worker`: BullMQ workers block on Redis; they must retry forever (`maxRetriesPerRequest: null`).
 * - `producer`: the API adds jobs; when Redis is away it must fail fast so the caller can answer
 *   (the order is already in the ledger and the recovery sweep enqueues it later).
 */
export type ConnectionRole = 'worker' | 'producer';

/**
 * The queue side's connection: BullMQ, rate limits, circuit breakers, the Telgoo5 token lease. One
 * Redis, or a Redis Cluster (ioredis `Cluster`), on which every multi-key script keeps its keys in
 * one hash slot (see `bullPrefix` for the queues).
 */
export type QueueConnection = Redis | Cluster;

/** A Redis Cluster's seeds and the login of every node (QUEUE_REDIS_CLUSTER_NODES, parsed). */
export interface ClusterSeeds {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly tls: boolean;
}

/** Where the queue side lives: one Redis by URL, or a cluster by its seeds. */
export type QueueRedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly seeds: ClusterSeeds };

/**
 * What every standalone Redis connection of the project sets, whatever its role: its name as Redis
 * lists it (`rechargeflow:<name>`), TCP keepalive (a connection that died silently is found within
 * a minute or so, not after the kernel's default 2 h that ioredis 5 leaves when unset) and the ready
 * check (REDIS_READY_CHECK). The queue roles here, the ledger's and the durability check's connections.
 */
export function redisConnectionBasics(name: string) {
  return {
    connectionName: `rechargeflow:${name}`,
    keepAlive: REDIS_KEEP_ALIVE_MS,
    enableReadyCheck: REDIS_READY_CHECK,
  } as const;
}

export function createRedisConnection(url: string, role: ConnectionRole, name: string): Redis {
  const common = { ...redisConnectionBasics(name), lazyConnect: false };
  return coalesceWrites(
    role === 'worker'
      ? new Redis(url, { ...common, maxRetriesPerRequest: null })
      : new Redis(url, {
          ...common,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: 2_000,
          retryStrategy: (times) => Math.min(times * 200, 2_000),
        }),
  );
}

/** TCP keepalive's first probe on a Redis connection that has been idle this long. */
export const REDIS_KEEP_ALIVE_MS = 30_000;

/**
 * Every standalone Redis connection (and every node connection of a Cluster) waits for the server's
 * INFO before it counts as ready. Its default, said explicitly because ioredis 5 (ioredis issue 2099,
 * fixed in 6) without it can take a connection that closed during its setup (CLIENT SETNAME, a proxy
 * dropping it while Redis is down) for ready when a command limit flushed the setup: it then never
 * reconnects. That hits the connections with a small limit: the API's producer (the API would answer
 * 503 for good) and the durability check; packages/queue/test/ready-check.test.ts shows both cases.
 * (The Cluster-level `enableReadyCheck: false` below is another check, of the cluster's state.)
 */
export const REDIS_READY_CHECK = true;

/**
 * How long a `worker` connection keeps re-sending a command whose node went away, while the
 * cluster promotes a replica: MOVED and closed-connection retries every 500 ms, up to 120 times
 * (a minute: several cluster-node-timeouts at Redis's default 15 s). BullMQ's own loop retries after.
 */
const FAILOVER_RETRY_MS = 500;
const FAILOVER_RETRIES = 120;

/**
 * A Redis Cluster connection with the roles of `createRedisConnection`: a `worker` one waits out a
 * failover (commands queued while no node serves their slot, retried as above); a `producer` one
 * fails a command at once when its node is down (no offline queue, one retry, 2 s to connect) and
 * the default few redirections, so the API answers within seconds.
 */
export function createClusterConnection(seeds: ClusterSeeds, role: ConnectionRole, name: string): Cluster {
  const login = {
    ...(seeds.username ? { username: seeds.username } : {}),
    ...(seeds.password ? { password: seeds.password } : {}),
    ...(seeds.tls ? { tls: {} } : {}),
  };
  const nodes = seeds.nodes.map((node) => ({ host: node.host, port: node.port }));
  const common = {
    // Off: when the check finds the cluster still failing over, ioredis reconnects but leaves the
    // pending connect() unsettled forever, and BullMQ's worker, which awaits that connect() to
    // renew its blocking connection, stops taking jobs for good. Without it, commands sent while
    // the cluster is down are retried on CLUSTERDOWN (worker) or fail fast (producer).
    enableReadyCheck: false,
    // Slots move on a failover: learn the new owner soon even with nothing to redirect us.
    slotsRefreshInterval: 2_000,
  };
  return role === 'worker'
    ? new Cluster(nodes, {
        ...common,
        retryDelayOnFailover: FAILOVER_RETRY_MS,
        retryDelayOnClusterDown: FAILOVER_RETRY_MS,
        retryDelayOnTryAgain: FAILOVER_RETRY_MS,
        maxRedirections: FAILOVER_RETRIES,
        clusterRetryStrategy: (times) => Math.min(100 + times * 100, 2_000),
        redisOptions: {
          ...login,
          connectionName: `rechargeflow:${name}`,
          keepAlive: REDIS_KEEP_ALIVE_MS,
          enableReadyCheck: REDIS_READY_CHECK,
          maxRetriesPerRequest: null,
        },
      })
    : new Cluster(nodes, {
        ...common,
        enableOfflineQueue: false,
        clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
        redisOptions: {
          ...login,
          connectionName: `rechargeflow:${name}`,
          keepAlive: REDIS_KEEP_ALIVE_MS,
          enableReadyCheck: REDIS_READY_CHECK,
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
        },
      });
}

/** The queue side's connection for `target` (QUEUE_REDIS_CLUSTER_NODES, else QUEUE_REDIS_URL). */
export function createQueueConnection(
  target: QueueRedisTarget,
  role: ConnectionRole,
  name: string,
): QueueConnection {
  return target.kind === 'cluster'
    ? createClusterConnection(target.seeds, role, name)
    : createRedisConnection(target.url, role, name);
}

/** Whether `connection` is a Redis Cluster (so keys must be placed by hash slot). */
export function isCluster(connection: QueueConnection): connection is Cluster {
  return connection.isCluster === true;
}

/** Redis's answer to a CONFIG it refuses or does not have (an ACL, a managed or renamed CONFIG). */
const CONFIG_REFUSED = /unknown command|NOPERM|disabled|\bERR\b/i;

/**
 * BullMQ and the Redis ledger lose data silently if Redis evicts keys: refuse to start unless the
 * policy is `noeviction` (RedisEvictionPolicyError). The one check of it, for the queues' Redis and
 * the Redis ledger alike; on a cluster, of every node, replicas included (each may be promoted).
 * Asks CONFIG GET (a flat list; a map where a client speaks RESP3); where CONFIG is refused or says nothing, INFO memory.
 */
export async function assertNoEviction(redis: QueueConnection): Promise<void> {
  if (typeof redis.status === 'string') await waitForRedis(redis);
  if (!isCluster(redis)) return assertNodeNoEviction(redis);
  // Node connections open on their first command. A replica that does not answer is skipped: a
  // down replica must not stop a part starting (it is checked at the next start).
  const masters = new Set(redis.nodes('master'));
  for (const node of redis.nodes('all')) {
    if (masters.has(node)) await assertNodeNoEviction(node);
    else await withTimeout(assertNodeNoEviction(node), 3_000);
  }
}

/** `work`, or nothing once `ms` have passed without an answer (its failure still counts). */
async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((done) => (timer = setTimeout(done, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

async function assertNodeNoEviction(redis: Redis): Promise<void> {
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
    // Named, for a cluster's nodes; `options` may be absent from a stand-in.
    const node = redis.options ? `${redis.options.host}:${redis.options.port}` : null;
    throw new RedisEvictionPolicyError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"${node ? ` (${node})` : ''}; Rechargeflow needs "noeviction" (set maxmemory-policy noeviction in redis.conf or run CONFIG SET maxmemory-policy noeviction), otherwise Redis may silently delete queued jobs and ledger entries (orders)`,
      { context: { policy: policy ?? null, node } },
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

/** Waits until the connection (a cluster: every slot served) is ready or fails (bounded). */
export async function waitForRedis(redis: QueueConnection, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new RechargeflowError(
          `${isCluster(redis) ? 'Redis Cluster' : 'Redis'} did not answer within ${timeoutMs} ms`,
          { retryable: true },
        ),
      );
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
