import { assertNoEviction } from '@rechargeflow/queue';
import type { Redis } from 'ioredis';
import { RECORD_BALANCE } from './balances/balance-scripts.ts';
import { createRedisBalanceStore } from './balances/redis-balance-store.ts';
import { CREATE_BATCH_ORDERS } from './batches/batch-order-scripts.ts';
import { COMMIT_ROWS, CREATE_BATCH, LINK_ORDERS, UPDATE_BATCH } from './batches/batch-scripts.ts';
import { createRedisBatchStore } from './batches/redis-batch-store.ts';
import {
  DISCARD_UPLOAD,
  PENDING_UPLOAD_BYTES,
  PUT_UPLOAD_CHUNK,
  SWEEP_UPLOADS,
} from './batches/upload-scripts.ts';
import { RECORD_CALLBACK, SET_CALLBACK_OUTCOME } from './callbacks/callback-scripts.ts';
import { createRedisCallbackStore } from './callbacks/redis-callback-store.ts';
import { LedgerConfigurationError } from './ledger-errors.ts';
import type { LedgerStore } from './ledger-store.ts';
import {
  APPEND_HISTORY,
  CLAIM_CHECKS,
  CREATE_ORDERS,
  READ_ORDERS,
  TRANSITION,
  TRANSITION_MANY,
  UPGRADE_ORDERS,
} from './orders/order-scripts.ts';
import { createRedisOrderRetention } from './orders/redis-order-retention.ts';
import { createRedisOrderStore, upgradeOrderLayout } from './orders/redis-order-store.ts';
import { REMOVE_ARCHIVED } from './orders/retention-scripts.ts';
import { ensureCompactHashes } from './redis/compact-hashes.ts';
import type { LuaScript } from './redis/lua.ts';
import { type RedisContext, redisKeys } from './redis/redis-keys.ts';
import { createRedisWebhookStore } from './webhooks/redis-webhook-store.ts';
import {
  CREATE_DELIVERY,
  CREATE_ENDPOINT,
  LIST_DELIVERIES,
  PENDING_MEMBERS,
  RECORD_ATTEMPT,
  REOPEN_DELIVERY,
} from './webhooks/webhook-scripts.ts';

export interface RedisLedgerStoreOptions {
  /** The caller owns the connection: the store never closes it. */
  readonly redis: Redis;
  /**
   * Every key starts with `${prefix}:`. On Redis Cluster, put a hash tag in it (e.g. `{rf}:ledger`)
   * so that all keys of one script live in one slot.
   */
  readonly prefix: string;
}

/** Every script of the Redis ledger: init() loads and verifies each one. */
export const ALL_SCRIPTS: readonly LuaScript[] = [
  CREATE_ORDERS,
  TRANSITION,
  TRANSITION_MANY,
  APPEND_HISTORY,
  READ_ORDERS,
  CLAIM_CHECKS,
  UPGRADE_ORDERS,
  REMOVE_ARCHIVED,
  RECORD_CALLBACK,
  SET_CALLBACK_OUTCOME,
  RECORD_BALANCE,
  CREATE_BATCH,
  UPDATE_BATCH,
  COMMIT_ROWS,
  LINK_ORDERS,
  CREATE_BATCH_ORDERS,
  PUT_UPLOAD_CHUNK,
  DISCARD_UPLOAD,
  SWEEP_UPLOADS,
  PENDING_UPLOAD_BYTES,
  CREATE_ENDPOINT,
  CREATE_DELIVERY,
  RECORD_ATTEMPT,
  REOPEN_DELIVERY,
  LIST_DELIVERIES,
  PENDING_MEMBERS,
];

/**
 * The Redis ledger: the aggregates' Redis stores (orders/, callbacks/, balances/, batches/,
 * webhooks/) over one connection and one key prefix (the key layout: redis/redis-keys.ts). Every
 * write is one Lua script (or one command), so it is atomic. Needs Redis >= 6.2 (ZRANGE BYLEX REV).
 */
export function createRedisLedgerStore(options: RedisLedgerStoreOptions): LedgerStore {
  const { redis } = options;
  const ctx: RedisContext = { redis, prefix: options.prefix, keys: redisKeys(options.prefix) };
  const orders = createRedisOrderStore(ctx);
  return {
    ...orders,
    ...createRedisOrderRetention(ctx),
    ...createRedisCallbackStore(ctx),
    ...createRedisBalanceStore(ctx),
    ...createRedisBatchStore(ctx, orders),
    ...createRedisWebhookStore(ctx),

    async init() {
      await assertNoEviction(redis);
      // Orders' hashes in Redis's compact encoding: a third less memory per order.
      await ensureCompactHashes(redis);
      // Loading up front surfaces a script error at start-up rather than on the first order.
      for (const lua of ALL_SCRIPTS) {
        const sha = await redis.script('LOAD', lua.lua);
        if (sha !== lua.sha)
          throw new LedgerConfigurationError(`Redis loaded ${lua.name} under an unexpected sha`);
      }
      await upgradeOrderLayout(ctx);
    },

    async clock(): Promise<Date> {
      const [seconds, micros] = await redis.time();
      return new Date(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000));
    },

    async ping() {
      await redis.ping();
    },

    async close() {
      // The connection belongs to the caller.
    },
  };
}
