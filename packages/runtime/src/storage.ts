import { type OpenLedger, openLedger } from '@rechargeflow/ledger';
import type { Logger } from '@rechargeflow/observability';
import {
  assertNoEviction,
  type ConnectionRole,
  createRedisConnection,
  JobProducer,
  readAofEnabled,
  readAppendFsync,
  waitForRedis,
} from '@rechargeflow/queue';
import type { Redis } from 'ioredis';
import { LedgerDurabilityError } from './ledger-durability-error.ts';

export interface StorageSettings {
  readonly REDIS_URL: string;
  readonly MONGO_URL?: string | undefined;
  readonly QUEUE_PREFIX: string;
  readonly LEDGER_PREFIX: string;
  /** Start even when the Redis ledger has no append-only file (tests, benchmarks, demos). */
  readonly ALLOW_LEDGER_WITHOUT_AOF: boolean;
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
 * verified), refuse a Redis ledger without an append-only file unless allowed, and make the typed
 * job producer.
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
  if (ledger.kind === 'redis') {
    try {
      await checkLedgerDurability(redis, config.ALLOW_LEDGER_WITHOUT_AOF, logger);
    } catch (error) {
      await ledger.close().catch(() => undefined);
      redis.disconnect();
      throw error;
    }
  }
  const producer = new JobProducer(redis, { prefix: config.QUEUE_PREFIX });
  return { redis, ledger, producer };
}

/**
 * The Redis ledger (on the queues' Redis: same REDIS_URL) must survive a Redis restart: without an
 * append-only file, one loses every order already answered 202 and every claim made before a send
 * since the last snapshot. How much a host crash loses then depends on appendfsync, logged here.
 */
async function checkLedgerDurability(redis: Redis, allowWithoutAof: boolean, logger: Logger): Promise<void> {
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
