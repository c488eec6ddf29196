import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { JobProducer } from '@rechargeflow/queue';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeBatchFlow } from './batch-flow.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Everything this file writes (ledger and queues) lives under this prefix, removed at the end. */
const RUN_PREFIX = `rf-test:batches:${randomUUID()}`;

let redis: Redis;
let runs = 0;

async function deleteByPrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    if (found.length > 0) await client.unlink(...found);
  } while (cursor !== '0');
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  if (redis === undefined) return;
  await deleteByPrefix(redis, RUN_PREFIX);
  await redis.quit();
});

// The same scenarios on the Redis ledger, with the recharge jobs on a real BullMQ queue.
describeBatchFlow('the Redis ledger and BullMQ', async () => {
  runs += 1;
  const prefix = `${RUN_PREFIX}:${runs}`;
  const ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  const producer = new JobProducer(redis, { prefix: `${prefix}:queue` });
  return {
    ledger,
    producer,
    async jobCount(provider) {
      const counts = await producer
        .queue('recharges', provider)
        .getJobCounts('waiting', 'prioritized', 'delayed');
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    async takeJobs(provider, count) {
      const jobs = await producer
        .queue('recharges', provider)
        .getJobs(['waiting', 'prioritized'], 0, count - 1);
      await Promise.all(jobs.map((job) => job.remove()));
      return jobs.map((job) => job.id ?? '');
    },
    async settle(key, state, providerRef, note) {
      const at = new Date().toISOString();
      const order = await ledger.getOrder(key);
      if (order?.state === 'queued') {
        await ledger.transition(key, {
          expect: { state: 'queued' },
          to: 'processing',
          entry: { at, source: 'worker' },
        });
      }
      const from = order?.state === 'pending' ? 'pending' : 'processing';
      const result = await ledger.transition(key, {
        expect: { state: from },
        to: state,
        patch: providerRef === undefined ? undefined : { providerRef },
        entry: { at, source: 'worker', note },
      });
      if (!result.applied) throw new Error(`could not move ${key.orderId} to ${state}`);
    },
    async cleanup() {
      await producer.close();
      await ledger.close();
      await deleteByPrefix(redis, `${prefix}:`);
    },
  };
});
