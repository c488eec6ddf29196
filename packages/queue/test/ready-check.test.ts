import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisConnection, REDIS_READY_CHECK, waitForRedis } from '../src/index.ts';

const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

/**
 * A TCP proxy in front of the test Redis that cuts its first `drops` connections as soon as the
 * client sends `trigger` (the command is not passed on): what a proxy or a restarting Redis does to a
 * client in the middle of its connection setup. Every later connection is passed through whole.
 */
async function droppingProxy(trigger: RegExp, drops: number) {
  let connections = 0;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections += 1;
    const cut = dropped < drops;
    const upstream = connect(Number(REDIS_URL.port || 6379), REDIS_URL.hostname);
    sockets.add(client);
    sockets.add(upstream);
    let seen = '';
    client.on('data', (chunk: Buffer) => {
      if (cut) {
        seen += chunk.toString('latin1');
        if (trigger.test(seen)) {
          dropped += 1;
          client.destroy();
          upstream.destroy();
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        sockets.delete(a);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    url: `redis://127.0.0.1:${address.port}`,
    connections: () => connections,
    dropped: () => dropped,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function answersWithin(redis: Redis, ms: number): Promise<boolean> {
  return Promise.race([
    redis.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);
}

describe('a Redis connection cut during its setup (ioredis 5, issue 2099)', () => {
  for (const [what, trigger] of [
    ['CLIENT SETNAME', /setname/i],
    ['ready check (INFO)', /\binfo\b/i],
  ] as const) {
    // The producer is the connection the bug can stop (one retry, no offline queue); a worker one
    // (no retry limit) reconnects either way, and is checked for the option alone below.
    for (const role of ['producer'] as const) {
      it(`a ${role} connection whose ${what} is cut twice reconnects and answers`, async () => {
        const proxy = await droppingProxy(trigger, 2);
        cleanups.push(proxy.close);
        const redis = createRedisConnection(proxy.url, role, 'ready-check-test');
        redis.on('error', () => undefined);
        cleanups.push(() => redis.disconnect());
        expect(redis.options.enableReadyCheck).toBe(true);
        await waitForRedis(redis, 10_000);
        expect(await answersWithin(redis, 5_000)).toBe(true);
        expect(proxy.dropped()).toBe(2);
        expect(proxy.connections()).toBeGreaterThanOrEqual(3);
      });
    }
  }

  it('every standalone connection keeps the ready check on', async () => {
    expect(REDIS_READY_CHECK).toBe(true);
    for (const role of ['worker', 'producer'] as const) {
      const redis = createRedisConnection(REDIS_URL.href, role, 'ready-check-option');
      redis.on('error', () => undefined);
      cleanups.push(() => redis.disconnect());
      expect(redis.options.enableReadyCheck).toBe(true);
    }
  });

  it('the same cut with the ready check off leaves a client "ready" on a dead socket (why it stays on)', async () => {
    // Shows what the test above guards against, so that it cannot pass without seeing the bug. On an
    // ioredis that has the fix (6.x) this client recovers too: then this expectation is the one to flip.
    const proxy = await droppingProxy(/setname/i, 2);
    cleanups.push(proxy.close);
    const redis = new Redis(proxy.url, {
      enableReadyCheck: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
      connectionName: 'ready-check-control',
    });
    redis.on('error', () => undefined);
    cleanups.push(() => redis.disconnect());
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(proxy.dropped()).toBeGreaterThanOrEqual(1);
    expect(await answersWithin(redis, 2_000)).toBe(false);
    // Stuck, not merely slow: it says it is ready and has stopped connecting.
    expect(redis.status).toBe('ready');
    expect(proxy.connections()).toBe(proxy.dropped());
  });
});
