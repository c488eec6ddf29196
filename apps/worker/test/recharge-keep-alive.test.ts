import { randomUUID } from 'node:crypto';
import { type Order, parseRupees } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { submitOrder } from '@rechargeflow/orders';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { checkSimulatorBooks, freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A1TOPUP_RECHARGE_KEEP_ALIVE_MS reaches the worker's provider client: the simulator counts the
// connections the real worker process opens for the same number of recharges, at 0 and by default (1 s).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const base = `rf-test-keepalive-${randomUUID().slice(0, 8)}`;
const credentials = { A1TOPUP_USERNAME: 'ka-user', A1TOPUP_PASSWORD: `pw-${randomUUID()}` };
const ORDERS = 30;
const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

const parts: RunningPart[] = [];
const producers: JobProducer[] = [];
let redis: Redis;
let queueRedis: Redis;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'keepalive-test');
});

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  await Promise.all(producers.map((p) => p.close()));
  const keys = await redis.keys(`${base}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

/** Runs ORDERS recharges through one worker (concurrency 2) against a fresh simulator: its stats. */
async function connectionsFor(name: string, extra: Record<string, string>) {
  const simPort = await freePort();
  const sim = `http://127.0.0.1:${simPort}`;
  const simulator = startApp('simulator', { ...credentials, SIMULATOR_PORT: String(simPort) }, `sim-${name}`);
  parts.push(simulator);
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  const env = { REDIS_URL, QUEUE_PREFIX: `${base}-${name}`, LEDGER_PREFIX: `${base}-${name}:ledger` };
  const ledger: LedgerStore = createRedisLedgerStore({ redis, prefix: env.LEDGER_PREFIX });
  await ledger.init();
  const producer = new JobProducer(queueRedis, { prefix: env.QUEUE_PREFIX });
  producers.push(producer);
  const worker = startApp(
    'worker',
    { ...env, ...credentials, ...extra, A1TOPUP_BASE_URL: sim, A1TOPUP_CONCURRENCY: '2' },
    `worker-${name}`,
  );
  parts.push(worker);
  await worker.waitForLine(/recharge worker running/);
  const orders: Order[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const outcome = await submitOrder(
      { ledger, producer, log },
      {
        clientId: 'shop',
        orderId: `${name}-${i}`,
        request: { operator: 'A', circle: '5', number: '9811122233', amount: parseRupees(10)! },
      },
    );
    orders.push(outcome.order);
  }
  await waitFor(
    `${ORDERS} orders in success`,
    async () => {
      const states = await Promise.all(orders.map((o) => ledger.getOrder(o)));
      return states.every((o) => o?.state === 'success') ? true : undefined;
    },
    30_000,
  );
  const stats = (await (await fetch(`${sim}/_sim/stats`)).json()) as {
    rechargeConnections: number;
    submissions: number;
    requests: { recharge: number };
  };
  // The books check: the simulator's charges against the ledger (each once, on its order's success).
  const final = await Promise.all(orders.map((o) => ledger.getOrder(o)));
  const { verdict: books } = await checkSimulatorBooks({
    simulators: { a1topup: sim },
    orders: final.filter((o): o is Order => o !== null),
    ledger,
  });
  await worker.stop();
  await simulator.stop();
  return { ...stats, books };
}

describe('provider connections of a real worker', () => {
  it('reuses a connection idle under 1 s by default; a fresh connection per recharge with A1TOPUP_RECHARGE_KEEP_ALIVE_MS=0', async () => {
    const fresh = await connectionsFor('fresh', { A1TOPUP_RECHARGE_KEEP_ALIVE_MS: '0' });
    expect(fresh.submissions).toBe(ORDERS);
    expect(fresh.requests.recharge).toBe(ORDERS);
    // Every recharge on a connection of its own.
    expect(fresh.rechargeConnections).toBe(ORDERS);
    expect(fresh.books.problems).toEqual([]);
    expect(fresh.books.charges).toBe(ORDERS);

    // The default: orders arrive back to back, so the connections never sit idle for 1 s.
    const reused = await connectionsFor('reused', {});
    expect(reused.submissions).toBe(ORDERS);
    expect(reused.requests.recharge).toBe(ORDERS);
    // Concurrency 2: two recharge connections, and a little slack for the pool.
    expect(reused.rechargeConnections).toBeGreaterThanOrEqual(1);
    expect(reused.rechargeConnections).toBeLessThanOrEqual(4);
    expect(reused.books.problems).toEqual([]);
    expect(reused.books.charges).toBe(ORDERS);
  }, 90_000);
});
