import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { COALESCE_MAX_BYTES, coalesceWrites } from '../src/coalesce-writes.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-coalesce-${randomUUID().slice(0, 8)}`;
const clients: Redis[] = [];

/** Counts what reaches the socket's own write functions: one per system call Node makes. */
function countSocketWrites(redis: Redis): { calls: number } {
  const counter = { calls: 0 };
  const socket = redis.stream as Socket & {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  for (const name of ['_write', '_writev'] as const) {
    const original = socket[name];
    socket[name] = function (this: unknown, ...args: unknown[]) {
      counter.calls += 1;
      return original.apply(this, args);
    };
  }
  return counter;
}

async function connected(coalesce: boolean): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  clients.push(redis);
  if (coalesce) coalesceWrites(redis);
  await redis.ping();
  return redis;
}

afterAll(async () => {
  const cleaner = new Redis(REDIS_URL);
  const keys = await cleaner.keys(`${prefix}:*`);
  if (keys.length > 0) await cleaner.del(...keys);
  cleaner.disconnect();
  for (const client of clients) client.disconnect();
});

describe('coalesceWrites', () => {
  it('sends the commands of one turn in one socket write, each answered with its own reply, in order', async () => {
    const plain = await connected(false);
    const plainWrites = countSocketWrites(plain);
    await Promise.all(Array.from({ length: 50 }, (_, i) => plain.set(`${prefix}:plain:${i}`, String(i))));
    // Without it, each command is a write of its own (the yardstick this test would otherwise lack).
    expect(plainWrites.calls).toBeGreaterThanOrEqual(25);

    const redis = await connected(true);
    const writes = countSocketWrites(redis);
    const key = `${prefix}:list`;
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => redis.rpush(key, String(i))));
    expect(writes.calls).toBe(1);
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await redis.lrange(key, 0, -1)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('still sends a lone command, and commands of later turns, in later writes', async () => {
    const redis = await connected(true);
    const writes = countSocketWrites(redis);
    expect(await redis.incr(`${prefix}:n`)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await redis.incr(`${prefix}:n`)).toBe(2);
    expect(writes.calls).toBe(2);
  });

  it('coalesces again on the socket of a reconnection', async () => {
    const redis = await connected(true);
    const killer = await connected(false);
    const id = await redis.client('ID');
    const reconnected = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    await killer.client('KILL', 'ID', String(id));
    await reconnected;
    const writes = countSocketWrites(redis);
    const values = await Promise.all(Array.from({ length: 20 }, (_, i) => redis.echo(`v${i}`)));
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(writes.calls).toBe(1);
  });

  it('sends a turn that holds a bulk write at once, not at the end of the turn', async () => {
    const redis = await connected(true);
    const writes = countSocketWrites(redis);
    const small = redis.set(`${prefix}:small`, 'a');
    expect(writes.calls).toBe(0);
    const big = redis.set(`${prefix}:big`, 'x'.repeat(COALESCE_MAX_BYTES));
    // Both left in one write before this turn ended.
    expect(writes.calls).toBe(1);
    expect(await Promise.all([small, big])).toEqual(['OK', 'OK']);
    expect(await redis.strlen(`${prefix}:big`)).toBe(COALESCE_MAX_BYTES);
  });
});
