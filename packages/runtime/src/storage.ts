import { type OpenLedger, openLedger } from '@rechargeflow/ledger';
import type { Logger } from '@rechargeflow/observability';
import {
  assertNoEviction,
  type ConnectionRole,
  createRedisConnection,
  JobProducer,
  readAofEnabled,
  waitForRedis,
} from '@rechargeflow/queue';
import type { Redis } from 'ioredis';

export interface StorageSettings {
  readonly REDIS_URL: string;
  readonly MONGO_URL?: string | undefined;
  readonly QUEUE_PREFIX: string;
  readonly LEDGER_PREFIX: string;
}

export interface Storage {
  /** The queues' Redis connection (also the breaker's, the token lease's, the rate limit's). */
  readonly redis: Redis;
  readonly ledger: OpenLedger;
  readonly producer: JobProducer;
}

/**
 * What every part does first: connect to the queues' Redis (waiting up to 10 s for it), refuse a
 * Redis that may evict keys, open the ledger the configuration names (Redis or MongoDB, indexes
 * verified), and make the typed job producer.
 */
export async function openStorage(
  config: StorageSettings,
  part: string,
  role: ConnectionRole,
  logger: Logger,
): Promise<Storage> {
  const redis = createRedisConnection(config.REDIS_URL, role, part);
  redis.on('error', (error) => logger.warn({ err: error.message }, 'queue Redis connection error'));
  await waitForRedis(redis, 10_000);
  await assertNoEviction(redis);
  const ledger = await openLedger({
    redisUrl: config.REDIS_URL,
    mongoUrl: config.MONGO_URL,
    redisPrefix: config.LEDGER_PREFIX,
    appName: part,
  });
  // INFO may be refused by an ACL that allows the rest: then this warning is skipped, never fatal.
  const aof = ledger.kind === 'redis' ? await readAofEnabled(redis).catch(() => null) : null;
  if (aof === false) {
    // Not refused: tests, benchmarks and throw-away runs use a Redis without persistence.
    logger.warn(
      { ledger: 'redis' },
      'the Redis ledger has no append-only file (appendonly no): a Redis restart loses every order and job since the last snapshot; set appendonly yes (with appendfsync always a host crash loses nothing) or use MONGO_URL',
    );
  }
  const producer = new JobProducer(redis, { prefix: config.QUEUE_PREFIX });
  return { redis, ledger, producer };
}

/** The last shutdown steps of every part, in order: producer, ledger, Redis. */
export function storageShutdownSteps(storage: Storage) {
  return [
    { name: 'close queue producer', run: () => storage.producer.close() },
    { name: 'close ledger', run: () => storage.ledger.close() },
    { name: 'close Redis', run: () => storage.redis.quit() },
  ];
}
