import { randomUUID } from 'node:crypto';
import { deleteByPrefix } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientRegistry } from '../src/orders/client-registry.ts';
import { redisKeys } from '../src/redis/redis-keys.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `rf-test:registry:${randomUUID()}`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await deleteByPrefix(redis, PREFIX);
  await redis.quit();
});

describe('the client registry', () => {
  it('adds each client once per renewal period, and again after it (a Redis that lost its data)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const ctx = { redis, prefix: PREFIX, keys: redisKeys(PREFIX) };
      const register = clientRegistry(ctx, 60_000);
      const sadd = vi.spyOn(redis, 'sadd');
      await register(['shop-1', 'shop-2', 'shop-1']);
      expect(sadd).toHaveBeenCalledTimes(1);
      expect((await redis.smembers(ctx.keys.clients)).sort()).toEqual(['shop-1', 'shop-2']);

      // Within the period: no command at all, even after the set is gone.
      await redis.del(ctx.keys.clients);
      vi.advanceTimersByTime(59_999);
      await register(['shop-1', 'shop-2']);
      expect(sadd).toHaveBeenCalledTimes(1);
      // A new client is added at once, alone.
      await register(['shop-1', 'shop:3']);
      expect(sadd).toHaveBeenCalledTimes(2);
      expect(await redis.smembers(ctx.keys.clients)).toEqual(['shop:3']);

      // After the period every client is added again.
      vi.advanceTimersByTime(1);
      await register(['shop-1', 'shop-2']);
      expect(sadd).toHaveBeenCalledTimes(3);
      expect((await redis.smembers(ctx.keys.clients)).sort()).toEqual(['shop-1', 'shop-2', 'shop:3']);
      sadd.mockRestore();
    } finally {
      vi.useRealTimers();
    }
  });
});
