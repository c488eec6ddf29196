import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRateLimitStore } from '../src/redis-rate-limit-store.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const nameSpace = `rf-test-rls-${randomUUID().slice(0, 8)}:rate-limit:`;
const MINUTE = 60_000;

let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  const keys = await redis.keys(`${nameSpace}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** A store as the plugin builds one (one per API replica). */
const replica = (connection: Redis = redis) => new (redisRateLimitStore(connection, nameSpace))({});

const incr = (store: FastifyRateLimitStore, key: string, max: number, timeWindow = MINUTE) =>
  new Promise<{ current: number; ttl: number }>((resolve, reject) =>
    store.incr(
      key,
      (error, result) => (error || !result ? reject(error ?? new Error('no result')) : resolve(result)),
      timeWindow,
      max,
    ),
  );

/** Every command the server receives for keys under `prefix` while `run` runs (MONITOR). */
async function commandsOn(prefix: string, run: () => Promise<void>): Promise<string[][]> {
  const monitor = await redis.monitor();
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((arg) => arg.startsWith(prefix))) seen.push(args);
  });
  try {
    await run();
    // MONITOR's feed trails the replies a little: a marker command closes it.
    await redis.exists(`${prefix}end-marker`);
    for (let i = 0; i < 100 && !seen.some((args) => args[1]?.endsWith('end-marker')); i++) await sleep(10);
  } finally {
    monitor.disconnect();
  }
  return seen.filter((args) => !args[1]?.endsWith('end-marker'));
}

describe('redisRateLimitStore', () => {
  it('counts up to the limit and past it; the counter key has an expiry within the window', async () => {
    const store = replica();
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) counts.push((await incr(store, 'client:a', 5)).current);
    expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
    // Same key as the plugin's own Redis store: `<nameSpace><key>`.
    const pttl = await redis.pttl(`${nameSpace}client:a`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(MINUTE);
    const { ttl } = await incr(store, 'client:a', 5);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(MINUTE);
    expect(ttl).toBeGreaterThan(MINUTE - 5_000);
  });

  it("counts a client's requests of one turn of the event loop with one INCRBY, each its own count", async () => {
    const store = replica();
    await incr(store, 'client:burst', 20);
    const seen = await commandsOn(`${nameSpace}client:burst`, async () => {
      const counts = await Promise.all(Array.from({ length: 12 }, () => incr(store, 'client:burst', 10)));
      expect(counts.map((count) => count.current).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 12 }, (_, i) => i + 2),
      );
    });
    expect(seen.map((args) => args.slice(0, 1).concat(args.slice(2)))).toEqual([['incrby', '12']]);
    // Past the limit (10) from the 11th on: the next request is answered here, without Redis.
    const quiet = await commandsOn(`${nameSpace}client:burst`, async () => {
      expect((await incr(store, 'client:burst', 10)).current).toBe(14);
    });
    expect(quiet).toEqual([]);
  });

  it('two replicas share one count', async () => {
    const [a, b] = [replica(), replica()];
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) counts.push((await incr(i % 2 === 0 ? a : b, 'client:shared', 5)).current);
    expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await redis.get(`${nameSpace}client:shared`)).toBe('6');
  });

  it('starts again in the next window, on every replica', async () => {
    const [a, b] = [replica(), replica()];
    const window = 300;
    expect((await incr(a, 'client:short', 2, window)).current).toBe(1);
    expect((await incr(b, 'client:short', 2, window)).current).toBe(2);
    const over = await incr(a, 'client:short', 2, window);
    expect(over.current).toBe(3);
    expect(over.ttl).toBeLessThanOrEqual(window);
    await sleep(window + 50);
    expect((await incr(b, 'client:short', 2, window)).current).toBe(1);
    expect((await incr(a, 'client:short', 2, window)).current).toBe(2);
    expect(await redis.pttl(`${nameSpace}client:short`)).toBeGreaterThan(0);
  });

  it('costs one INCR per request once a replica knows the window, none once over the limit', async () => {
    const store = replica();
    const key = 'client:cost';
    const commands = await commandsOn(`${nameSpace}${key}`, async () => {
      for (let i = 0; i < 8; i++) await incr(store, key, 5);
    });
    const names = commands.map((args) => args[0]?.toLowerCase());
    // First touch: SET NX PX + INCR + PTTL in one round trip; then INCR alone up to 6 (the first
    // over the limit); requests 7 and 8 are refused without asking Redis.
    expect(names).toEqual(['set', 'incr', 'pttl', 'incr', 'incr', 'incr', 'incr', 'incr']);
    expect(await redis.get(`${nameSpace}${key}`)).toBe('6');
    expect((await incr(store, key, 5)).current).toBe(9);
  });

  it('a counter Redis lost mid-window is made again with an expiry', async () => {
    const store = replica();
    const key = `${nameSpace}client:lost`;
    await incr(store, 'client:lost', 5);
    await incr(store, 'client:lost', 5);
    await redis.del(key);
    expect((await incr(store, 'client:lost', 5)).current).toBe(1);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    // A key left without expiry anyway (e.g. a process died mid-repair) gets one at the next
    // replica's first touch.
    await redis.persist(key);
    expect(await redis.pttl(key)).toBe(-1);
    expect((await incr(replica(), 'client:lost', 5)).current).toBe(2);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('passes Redis errors to the plugin (which then answers 503: it fails closed)', async () => {
    const away = new Redis({
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    try {
      await expect(incr(replica(away), 'client:away', 5)).rejects.toThrow();
    } finally {
      away.disconnect();
    }
  });

  it('refuses plugin options it does not implement', () => {
    const Store = redisRateLimitStore(redis, nameSpace);
    expect(() => new Store({ continueExceeding: true } as object)).toThrow(/not supported/);
  });
});
