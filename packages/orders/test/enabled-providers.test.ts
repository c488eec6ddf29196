import { randomUUID } from 'node:crypto';
import { parseRupees, providerOrderId, type RechargeRequest } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createA1TopupProvider, type RechargeProvider } from '@rechargeflow/providers';
import { createRedisConnection, JobProducer, rechargeJobId } from '@rechargeflow/queue';
import { createSimulator, type Simulator } from '@rechargeflow/simulator';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRecharge, submitOrder, type WorkerDeps } from '../src/index.ts';

// A stored route may name a provider this part does not run (accepted before PROVIDERS changed, or by
// an API with other PROVIDERS): a refused order never fails over to it, whose queue nothing consumes.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-enabled-${randomUUID().slice(0, 8)}`;
const PASSWORD = `sim-pw-${randomUUID()}`;
const silent = { info: () => {}, warn: () => {}, error: () => {} };

let simulator: Simulator;
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
const providers: RechargeProvider[] = [];

/** ₹13: the simulator refuses it definitely (a failover case). */
const refused: RechargeRequest = {
  operator: 'A',
  circle: '5',
  number: '9812345678',
  amount: parseRupees(13)!,
};

function a1topup(name: string, url: string): RechargeProvider {
  const provider = createA1TopupProvider({
    name,
    baseUrl: url,
    username: 'shop-user',
    password: PASSWORD,
    format: 'json',
    timeoutMs: 800,
    connectTimeoutMs: 500,
  });
  providers.push(provider);
  return provider;
}

let primary: RechargeProvider;
let spare: RechargeProvider;

beforeAll(async () => {
  simulator = createSimulator({ username: 'shop-user', password: PASSWORD, seed: 11 });
  const { url } = await simulator.listen(0);
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'orders-enabled-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  primary = a1topup('a1topup', url);
  spare = a1topup('a1topup_spare', url);
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await producer.close();
  await simulator.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

const firstRun = { attempt: 1, isFinalAttempt: false };

/** Worker deps running `running`, over orders routed `route` (as the API stored them). */
function part(running: readonly RechargeProvider[], route: readonly string[], gate?: WorkerDeps['gate']) {
  const deps: WorkerDeps = {
    ledger,
    producer,
    log: silent,
    providers: new Map(running.map((p) => [p.name, p])),
    routeFor: () => route,
    firstCheckAfterMs: 30_000,
    gate,
  };
  return deps;
}

async function jobOn(provider: string, orderId: string) {
  return producer.queue('recharges', provider).getJob(rechargeJobId({ clientId: 'shop', orderId }, provider));
}

describe('failover keeps to the providers this part runs', () => {
  it('a refusal with only a provider not enabled left in the route fails the order, saying why', async () => {
    const deps = part([primary], ['a1topup', 'a1topup_backup']);
    const created = await submitOrder(deps, { clientId: 'shop', orderId: 'only-off', request: refused });
    const outcome = await processRecharge(deps, created.order, firstRun);
    expect(outcome).toMatchObject({ kind: 'settled', order: { state: 'failed', provider: 'a1topup' } });
    const stored = await ledger.getOrder(created.order);
    expect(stored?.history.at(-1)?.note).toMatch(/a1topup_backup not enabled here/);
    expect(await jobOn('a1topup_backup', 'only-off')).toBeUndefined();
  });

  it('passes over a provider not enabled to the next one that is, as attempt 3', async () => {
    const deps = part([primary, spare], ['a1topup', 'a1topup_backup', 'a1topup_spare']);
    const created = await submitOrder(deps, { clientId: 'shop', orderId: 'skip-off', request: refused });
    const outcome = await processRecharge(deps, created.order, firstRun);
    expect(outcome).toMatchObject({ kind: 'rerouted', order: { provider: 'a1topup_spare' } });
    if (outcome.kind !== 'rerouted') throw new Error('not rerouted');
    expect(outcome.order.providerOrderId).toBe(providerOrderId({ clientId: 'shop', orderId: 'skip-off' }, 3));
    expect(await jobOn('a1topup_spare', 'skip-off')).toBeDefined();
    expect(await jobOn('a1topup_backup', 'skip-off')).toBeUndefined();
  });

  it('with the gate unreadable, still never to a provider not enabled', async () => {
    const unreadable: WorkerDeps['gate'] = {
      select: async (route, fromIndex) => {
        if (fromIndex > 0) throw new Error('breakers unreadable');
        return { provider: route[fromIndex]!, index: fromIndex };
      },
      record: async () => undefined,
    };
    const deps = part([primary, spare], ['a1topup', 'a1topup_backup', 'a1topup_spare'], unreadable);
    const created = await submitOrder(deps, { clientId: 'shop', orderId: 'gate-off', request: refused });
    const outcome = await processRecharge(deps, created.order, firstRun);
    expect(outcome).toMatchObject({ kind: 'rerouted', order: { provider: 'a1topup_spare' } });
    expect(await jobOn('a1topup_backup', 'gate-off')).toBeUndefined();
  });
});
