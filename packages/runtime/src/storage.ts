import { type RedisClusterSeeds, redisRoles } from '@rechargeflow/config';
import { type OpenLedger, openLedger } from '@rechargeflow/ledger';
import type { Logger } from '@rechargeflow/observability';
import {
  assertNoEviction,
  type ConnectionRole,
  createQueueConnection,
  JobProducer,
  type QueueConnection,
  readAofEnabled,
  readAppendFsync,
  redisConnectionBasics,
  waitForRedis,
} from '@rechargeflow/queue';
import { Redis } from 'ioredis';
import { LedgerDurabilityError } from './ledger-durability-error.ts';

export interface StorageSettings {
  readonly REDIS_URL: string;
  /** The Redis ledger's Redis; unset: REDIS_URL. */
  readonly LEDGER_REDIS_URL?: string | undefined;
  /** The queue side's Redis; unset: REDIS_URL. */
  readonly QUEUE_REDIS_URL?: string | undefined;
  /** The queue side on a Redis Cluster; replaces QUEUE_REDIS_URL. */
  readonly QUEUE_REDIS_CLUSTER_NODES?: RedisClusterSeeds | undefined;
  readonly MONGO_URL?: string | undefined;
  readonly QUEUE_PREFIX: string;
  readonly LEDGER_PREFIX: string;
  /** Start even when the Redis ledger has no append-only file (tests, benchmarks, demos). */
  readonly ALLOW_LEDGER_WITHOUT_AOF: boolean;
}

export interface Storage {
  /**
   * The queue side's connection (also the breaker's, the token lease's, the rate limit's): one
   * Redis, or a Redis Cluster with QUEUE_REDIS_CLUSTER_NODES.
   */
  readonly redis: QueueConnection;
  readonly ledger: OpenLedger;
  readonly producer: JobProducer;
}

/**
 * What every part does first: connect to the queue side's Redis or Redis Cluster (waiting up to
 * 10 s for it), refuse one that may evict keys (every node of a cluster), refuse a Redis ledger
 * whose Redis keeps no append-only file unless allowed, open the ledger the configuration names
 * (Redis, which checks its own eviction policy, or MongoDB, indexes verified), and make the typed
 * job producer. Which Redis serves which role: `redisRoles` of the configuration.
 */
export async function openStorage(
  config: StorageSettings,
  part: string,
  role: ConnectionRole,
  logger: Logger,
): Promise<Storage> {
  const roles = redisRoles(config);
  const redis = createQueueConnection(roles.queue, role, part);
  redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'queue Redis connection error'));
  try {
    await waitForRedis(redis, 10_000);
    await assertNoEviction(redis);
    if (!config.MONGO_URL)
      await checkLedgerDurability(roles.ledgerUrl, config.ALLOW_LEDGER_WITHOUT_AOF, logger);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const ledger = await openLedger({
    redisUrl: roles.ledgerUrl,
    mongoUrl: config.MONGO_URL,
    redisPrefix: config.LEDGER_PREFIX,
    appName: part,
  }).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  logger.info(
    {
      queueRedis:
        roles.queue.kind === 'cluster'
          ? `cluster (${roles.queue.seeds.nodes.map((n) => `${n.host}:${n.port}`).join(',')})`
          : hostOf(roles.queue.url),
      ledger: config.MONGO_URL ? 'mongo' : `redis (${hostOf(roles.ledgerUrl)})`,
    },
    'storage open',
  );
  const producer = new JobProducer(redis, { prefix: config.QUEUE_PREFIX });
  return { redis, ledger, producer };
}

/** host:port of a Redis URL, for logs: never its credentials. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'unknown';
  }
}

/**
 * The Redis ledger (on LEDGER_REDIS_URL, else REDIS_URL) must survive a Redis restart: without an
 * append-only file, one loses every order already answered 202 and every claim made before a send
 * since the last snapshot. How much a host crash loses then depends on appendfsync, logged here.
 * Asked on a connection of its own, closed before the ledger opens.
 */
async function checkLedgerDurability(url: string, allowWithoutAof: boolean, logger: Logger): Promise<void> {
  const redis = new Redis(url, { ...redisConnectionBasics('durability-check'), maxRetriesPerRequest: 1 });
  redis.on('error', (error) => logger.warn({ err: error.message }, 'ledger Redis connection error'));
  try {
    await waitForRedis(redis, 10_000);
    await readLedgerDurability(redis, allowWithoutAof, logger);
  } finally {
    redis.disconnect();
  }
}

async function readLedgerDurability(redis: Redis, allowWithoutAof: boolean, logger: Logger): Promise<void> {
  // INFO may be refused by an ACL that allows the rest: then nothing is known and nothing refused.
  const aof = await readAofEnabled(redis).catch(() => null);
  if (aof === null) {
    logger.warn(
      { ledger: 'redis' },
      'could not read whether the Redis ledger keeps an append-only file (INFO persistence refused); make sure it runs with appendonly yes',
    );
    return;
  }
  if (!aof) {
    if (!allowWithoutAof) {
      throw new LedgerDurabilityError(
        'the Redis ledger is on a Redis with appendonly no, so a Redis restart would lose accepted orders and claims: set appendonly yes on that Redis, put the ledger on MongoDB (MONGO_URL), or set ALLOW_LEDGER_WITHOUT_AOF=on for a throw-away run',
      );
    }
    logger.warn(
      { ledger: 'redis', appendonly: 'no', ALLOW_LEDGER_WITHOUT_AOF: true },
      'the Redis ledger has no append-only file (appendonly no): a Redis restart loses every order and job since the last snapshot; set appendonly yes (with appendfsync always a host crash loses nothing) or use MONGO_URL',
    );
    return;
  }
  const fsync = await readAppendFsync(redis);
  const fields = { ledger: 'redis', appendonly: 'yes', appendfsync: fsync ?? 'unknown' };
  switch (fsync) {
    case 'always':
      logger.info(
        fields,
        'ledger durability: every write reaches the disk before it is answered; a crash loses nothing',
      );
      return;
    case 'everysec':
      logger.info(
        fields,
        'ledger durability: a host crash can lose up to the last second of writes, a claim made just before a send included (the order may then be sent again under the same orderid)',
      );
      return;
    case 'no':
      logger.warn(
        fields,
        'ledger durability: appendfsync no leaves flushing to the operating system, so a host crash can lose many seconds of orders and claims; set appendfsync always or everysec',
      );
      return;
    case null:
      logger.info(fields, 'ledger durability: append-only file on; appendfsync unknown (CONFIG GET refused)');
  }
}

/** The last shutdown steps of every part, in order: producer, ledger, Redis. */
export function storageShutdownSteps(storage: Storage) {
  return [
    { name: 'close queue producer', run: () => storage.producer.close() },
    { name: 'close ledger', run: () => storage.ledger.close() },
    { name: 'close Redis', run: () => storage.redis.quit() },
  ];
}
