import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createMetrics, registerSystemGauges } from '@rechargeflow/observability';
import { freePort, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openStorage,
  readRedisMemoryByRole,
  type StorageSettings,
  storageShutdownSteps,
} from '../src/index.ts';

// Private redis-servers: their maxmemory is this test's to set, not the machine Redis's.
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startRedis(args: readonly string[]): Promise<{ url: string; admin: Redis }> {
  expect(spawnSync('redis-server', ['--version']).error, 'redis-server must be installed').toBeUndefined();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rf-redis-memory-'));
  const server: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...args],
    { stdio: 'ignore' },
  );
  const exited = once(server, 'exit');
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
  admin.on('error', () => undefined); // refused until the server listens
  cleanups.push(async () => {
    admin.disconnect();
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(`redis-server on ${port}`, async () => ((await admin.ping()) === 'PONG' ? true : undefined));
  return { url: `redis://127.0.0.1:${port}`, admin };
}

async function open(settings: Partial<StorageSettings> & { REDIS_URL: string }) {
  const logger = createLogger({ name: 'redis-memory-test', level: 'silent' });
  const storage = await openStorage(
    {
      QUEUE_PREFIX: 'rf-memory',
      LEDGER_PREFIX: 'rf-memory:ledger',
      ALLOW_LEDGER_WITHOUT_AOF: true,
      ...settings,
    },
    'memory-test',
    'producer',
    logger,
  );
  cleanups.push(async () => {
    for (const step of storageShutdownSteps(storage)) await step.run();
  });
  return storage;
}

const NOEVICTION = ['--maxmemory-policy', 'noeviction'];

describe('Redis memory by role, read from real servers', () => {
  it('reads the ledger and the queue side apart, with maxmemory (0: none) and the host memory', async () => {
    const ledger = await startRedis([...NOEVICTION, '--maxmemory', '64mb']);
    const queue = await startRedis(NOEVICTION);
    const storage = await open({
      REDIS_URL: queue.url,
      LEDGER_REDIS_URL: ledger.url,
      QUEUE_REDIS_URL: queue.url,
    });
    const before = await readRedisMemoryByRole(storage);
    expect(before.map((sample) => [sample.role, sample.maxBytes])).toEqual([
      ['ledger', 64 * 1024 * 1024],
      ['queue', 0],
    ]);
    for (const sample of before) {
      expect(sample.usedBytes).toBeGreaterThan(100_000);
      expect(sample.systemBytes).toBeGreaterThan(sample.usedBytes);
    }
    // 8 MB written to the ledger's Redis shows in its figure, not in the queue's.
    await ledger.admin.set('filler', 'x'.repeat(8 * 1024 * 1024));
    const after = await readRedisMemoryByRole(storage);
    const used = (role: string, samples: typeof before) =>
      samples.find((sample) => sample.role === role)?.usedBytes ?? 0;
    expect(used('ledger', after) - used('ledger', before)).toBeGreaterThan(8 * 1024 * 1024);
    expect(Math.abs(used('queue', after) - used('queue', before))).toBeLessThan(1024 * 1024);

    // The gauges the poller exports, by role (never a URL).
    const metrics = createMetrics('poller');
    registerSystemGauges(metrics, {
      queues: async () => [],
      ordersIn: async () => ({ count: 0, oldestChangeAt: null }),
      balances: async () => [],
      breakers: async () => [],
      redisMemory: () => readRedisMemoryByRole(storage),
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('rechargeflow_redis_memory_max_bytes{role="ledger",part="poller"} 67108864');
    expect(text).toContain('rechargeflow_redis_memory_max_bytes{role="queue",part="poller"} 0');
    expect(text).toMatch(/^rechargeflow_redis_memory_used_bytes\{role="ledger",part="poller"\} \d{7,}$/m);
    expect(text).not.toContain('127.0.0.1');
  });

  it('reports one server holding both roles once, as ledger+queue', async () => {
    const both = await startRedis([...NOEVICTION, '--maxmemory', '32mb']);
    const storage = await open({ REDIS_URL: both.url });
    const samples = await readRedisMemoryByRole(storage);
    expect(samples.map((sample) => [sample.role, sample.maxBytes])).toEqual([
      ['ledger+queue', 32 * 1024 * 1024],
    ]);
  });
});
