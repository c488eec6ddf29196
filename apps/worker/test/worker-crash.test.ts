import { randomUUID } from 'node:crypto';
import { parseRupees } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { submitOrder } from '@rechargeflow/orders';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real processes: the simulator and worker apps. The test submits orders through the same code
// the API uses (ledger first, then the queue) and kills workers with real signals.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const env = {
  REDIS_URL,
  QUEUE_PREFIX: `rf-test-crash-${run}`,
  LEDGER_PREFIX: `rf-test-crash-${run}:ledger`,
  A1TOPUP_USERNAME: 'crash-user',
  A1TOPUP_PASSWORD: `pw-${randomUUID()}`,
  WORKER_LOCK_MS: '1000',
  PROVIDER_TIMEOUT_MS: '8000',
};
const parts: RunningPart[] = [];
let sim = '';
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function simOrder(providerOrderId: string) {
  const res = await fetch(`${sim}/_sim/orders/${providerOrderId}`);
  return res.status === 200 ? ((await res.json()) as { submissions: number }) : undefined;
}

async function submit(orderId: string, rupees: number) {
  const outcome = await submitOrder(
    { ledger, producer, log },
    {
      clientId: 'shop',
      orderId,
      request: { operator: 'A', circle: '5', number: '9811122233', amount: parseRupees(rupees)! },
    },
  );
  return outcome.order;
}

function worker(label: string): RunningPart {
  const part = startApp('worker', { ...env, A1TOPUP_BASE_URL: sim }, label);
  parts.push(part);
  return part;
}

beforeAll(async () => {
  const simPort = await freePort();
  sim = `http://127.0.0.1:${simPort}`;
  // `slow` answers (magic amount 29) take 4 s: long enough to kill a worker mid-call.
  parts.push(startApp('simulator', { ...env, SIMULATOR_PORT: String(simPort), SIM_SLOW_MS: '4000' }));
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'crash-test');
  ledger = createRedisLedgerStore({ redis, prefix: env.LEDGER_PREFIX });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: env.QUEUE_PREFIX });
}, 30_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  await producer.close();
  const keys = await redis.keys(`rf-test-crash-${run}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

describe('worker crash and shutdown', () => {
  it('a worker SIGKILLed while its provider call is in flight: the order is submitted exactly once and ends pending', async () => {
    const first = worker('worker-a');
    await first.waitForLine(/recharge worker running/);
    const order = await submit('kill-1', 29);
    await waitFor('the simulator to record the submission', async () =>
      (await simOrder(order.providerOrderId)) ? true : undefined,
    );
    first.kill('SIGKILL');
    await first.exited;

    const second = worker('worker-b');
    await second.waitForLine(/recharge worker running/);
    const pending = await waitFor(
      'the redelivered job to settle the order',
      async () => {
        const current = await ledger.getOrder(order);
        return current && current.state !== 'processing' ? current : undefined;
      },
      20_000,
    );
    expect(pending.state).toBe('pending');
    expect(pending.history.at(-1)?.note).toMatch(/interrupted/);
    // Wait past the slow answer, then count: the provider saw this orderid once.
    await new Promise((r) => setTimeout(r, 4_500));
    expect((await simOrder(order.providerOrderId))?.submissions).toBe(1);
    expect(await second.stop()).toBe(0);
  }, 60_000);

  it('SIGTERM drains the call in flight: the order is recorded and the worker exits 0', async () => {
    const part = worker('worker-c');
    await part.waitForLine(/recharge worker running/);
    const order = await submit('drain-1', 29);
    await waitFor('the simulator to record the submission', async () =>
      (await simOrder(order.providerOrderId)) ? true : undefined,
    );
    const code = await part.stop();
    expect(code).toBe(0);
    const stored = await ledger.getOrder(order);
    expect(stored?.state).toBe('success');
    expect((await simOrder(order.providerOrderId))?.submissions).toBe(1);
  }, 60_000);
});
