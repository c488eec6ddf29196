import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { type Order, parseRupees } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { submitOrder } from '@rechargeflow/orders';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Graceful shutdown of the real processes (simulator, worker, API, poller) on real signals. Each
// scenario has its own queue and ledger prefix; the simulator is shared (order ids differ).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const base = `rf-test-shutdown-${run}`;
const API_KEY = `shutdown-key-${randomUUID()}`;
const credentials = { A1TOPUP_USERNAME: 'shutdown-user', A1TOPUP_PASSWORD: `pw-${randomUUID()}` };
/** Every provider answer takes this long: calls are in flight when a signal comes. */
const LATENCY_MS = 1_000;
const SHUTDOWN_TIMEOUT_MS = 15_000;

const parts: RunningPart[] = [];
const producers: JobProducer[] = [];
let sim = '';
let redis: Redis;
let queueRedis: Redis;

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

function scenario(name: string) {
  const env = {
    REDIS_URL,
    QUEUE_PREFIX: `${base}-${name}`,
    LEDGER_PREFIX: `${base}-${name}:ledger`,
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    ...credentials,
  };
  const ledger = createRedisLedgerStore({ redis, prefix: env.LEDGER_PREFIX });
  const producer = new JobProducer(queueRedis, { prefix: env.QUEUE_PREFIX });
  producers.push(producer);
  return { env, ledger, producer };
}

function start(app: 'worker' | 'api' | 'poller', env: Record<string, string>, label: string): RunningPart {
  const part = startApp(app, env, label);
  parts.push(part);
  return part;
}

async function submit(
  deps: { ledger: LedgerStore; producer: JobProducer },
  orderId: string,
  number = '9811122233',
): Promise<Order> {
  const outcome = await submitOrder(
    { ...deps, log },
    {
      clientId: 'shop',
      orderId,
      request: { operator: 'A', circle: '5', number, amount: parseRupees(10)! },
    },
  );
  return outcome.order;
}

async function simOrder(providerOrderId: string) {
  const res = await fetch(`${sim}/_sim/orders/${providerOrderId}`);
  return res.status === 200 ? ((await res.json()) as { submissions: number }) : undefined;
}

/** Orders in `state` now, of every client. */
function inState(ledger: LedgerStore, state: Order['state']): Promise<readonly Order[]> {
  return ledger.findStale(state, new Date(Date.now() + 60_000).toISOString(), 1_000);
}

/** Exit code, and ms from now until the process exited. */
async function timedExit(part: RunningPart): Promise<{ code: number | null; ms: number }> {
  const from = Date.now();
  const code = await part.exited;
  return { code, ms: Date.now() - from };
}

beforeAll(async () => {
  const simPort = await freePort();
  sim = `http://127.0.0.1:${simPort}`;
  parts.push(
    startApp('simulator', {
      ...credentials,
      SIMULATOR_PORT: String(simPort),
      SIM_LATENCY_MS: String(LATENCY_MS),
    }),
  );
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'shutdown-test');
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
}, 60_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  await Promise.all(producers.map((p) => p.close()));
  const keys = await redis.keys(`${base}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

describe('worker shutdown', () => {
  it('SIGTERM under load: calls in flight finish and are recorded, exit 0; a second worker does the rest, each order sent once', async () => {
    const { env, ledger, producer } = scenario('drain');
    await ledger.init();
    const workerEnv = {
      ...env,
      A1TOPUP_BASE_URL: sim,
      A1TOPUP_CONCURRENCY: '6',
      // Short locks: a job a worker left active would be found stalled within seconds by the next.
      WORKER_LOCK_MS: '3000',
    };
    const first = start('worker', workerEnv, 'worker-1');
    await first.waitForLine(/recharge worker running/);
    const orders: Order[] = [];
    for (let i = 0; i < 60; i++) orders.push(await submit({ ledger, producer }, `drain-${i}`));

    // Signal once a few provider calls are out: marked in flight and received by the simulator.
    const inFlight = await waitFor(
      'several provider calls in flight',
      async () => {
        const claimed = (await inState(ledger, 'processing')).filter((o) => o.inFlight);
        const sent = await Promise.all(claimed.map((o) => simOrder(o.providerOrderId)));
        return sent.filter(Boolean).length >= 3 ? claimed : undefined;
      },
      20_000,
      25,
    );
    first.kill('SIGTERM');
    const { code, ms } = await timedExit(first);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    // (Output can arrive just after the exit event.)
    await first.waitForLine(/"msg":"shutdown complete"/, 5_000);

    // Nothing was left half done: every call that left was answered and recorded.
    expect(await inState(ledger, 'processing')).toEqual([]);
    for (const order of inFlight) {
      const stored = await ledger.getOrder(order);
      expect(stored?.state, order.orderId).toBe('success');
      expect(stored?.inFlight).toBe(false);
    }
    const succeeded = await inState(ledger, 'success');
    const queued = await inState(ledger, 'queued');
    expect(succeeded.length + queued.length).toBe(60);
    expect(queued.length).toBeGreaterThan(0);
    for (const order of queued) expect(await simOrder(order.providerOrderId)).toBeUndefined();
    const queue = producer.queue('recharges', 'a1topup');
    expect(await queue.getJobCounts('active', 'failed')).toEqual({ active: 0, failed: 0 });

    const second = start('worker', workerEnv, 'worker-2');
    await second.waitForLine(/recharge worker running/);
    await waitFor(
      'every order to succeed',
      async () => ((await inState(ledger, 'success')).length === 60 ? true : undefined),
      45_000,
      250,
    );
    for (const order of orders) {
      const stored = await ledger.getOrder(order);
      expect(stored?.state, order.orderId).toBe('success');
      expect(stored?.history.map((h) => h.to)).toEqual(['queued', 'processing', 'success']);
      expect((await simOrder(order.providerOrderId))?.submissions, order.orderId).toBe(1);
    }
    expect(await queue.getJobCounts('active', 'waiting', 'delayed', 'failed', 'completed')).toEqual({
      active: 0,
      waiting: 0,
      delayed: 0,
      failed: 0,
      // Completed jobs are removed at once (the ledger is the record): the 60 are in the events.
      completed: 0,
    });
    expect(await second.stop()).toBe(0);
    await second.waitForLine(/"msg":"shutdown complete"/, 5_000);
    // BullMQ's event stream of the queue holds every event of the run: no job ever stalled.
    const events = (await redis.xrange(`${env.QUEUE_PREFIX}:recharges-a1topup:events`, '-', '+')).map(
      ([, fields]) => fields[fields.indexOf('event') + 1],
    );
    expect(events.filter((e) => e === 'completed')).toHaveLength(60);
    expect(events.filter((e) => e === 'stalled' || e === 'failed')).toEqual([]);
    expect([...first.lines, ...second.lines].filter((l) => /stalled/i.test(l))).toEqual([]);
  }, 90_000);

  it('a second SIGTERM while a slow call drains forces exit 1 at once', async () => {
    const { env, ledger, producer } = scenario('force');
    await ledger.init();
    const number = '9811100002';
    const script = await fetch(`${sim}/_sim/script`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ number, behaviour: 'slow', delayMs: 20_000 }),
    });
    expect(script.status).toBe(201);
    const part = start('worker', { ...env, A1TOPUP_BASE_URL: sim }, 'worker-forced');
    await part.waitForLine(/recharge worker running/);
    const order = await submit({ ledger, producer }, 'force-1', number);
    await waitFor('the simulator to receive the slow call', async () =>
      (await simOrder(order.providerOrderId)) ? true : undefined,
    );
    part.kill('SIGTERM');
    await part.waitForLine(/"msg":"shutting down"/);
    part.kill('SIGTERM');
    const { code, ms } = await timedExit(part);
    expect(code).toBe(1);
    expect(ms).toBeLessThan(3_000);
    await part.waitForLine(/second signal: forcing exit/, 5_000);
    // The call was cut off: the order stays processing + inFlight, so whoever runs its job next
    // moves it to pending (status check) instead of sending it again.
    expect(await ledger.getOrder(order)).toMatchObject({ state: 'processing', inFlight: true });
  }, 60_000);
});

describe('API and poller shutdown', () => {
  it('the API stops intake on SIGTERM, finishes the request in progress and exits 0; the poller exits 0', async () => {
    const { env, ledger } = scenario('api');
    const port = await freePort();
    const api = start('api', { ...env, PORT: String(port), API_KEYS: `shop:${API_KEY}` }, 'api');
    const poller = start(
      'poller',
      { ...env, A1TOPUP_BASE_URL: sim, SWEEP_INTERVAL_MS: '500', STRANDED_AFTER_MS: '1000' },
      'poller',
    );
    await api.waitForLine(/ingest API listening/);
    await poller.waitForLine(/poller running/);

    // A request the server is reading: with `Expect: 100-continue` the server answers 100 once it
    // has taken the request (headers parsed, handler started), and the body follows after the signal.
    const body = JSON.stringify({
      orderId: 'api-1',
      operator: 'A',
      circle: '5',
      number: '9811100003',
      amount: 10,
    });
    const inProgress = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/recharges',
      agent: false,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
      },
    });
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      inProgress.on('response', (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      inProgress.on('error', reject);
    });
    await new Promise<void>((resolve) => {
      inProgress.once('continue', () => resolve());
      inProgress.flushHeaders();
    });

    api.kill('SIGTERM');
    await api.waitForLine(/"msg":"shutting down"/);
    // Intake is closed: a new connection is refused (or, on a kept-alive one, 503).
    const fresh = await waitFor('new requests to be refused', async () => {
      const outcome = await probe(port);
      return outcome === 'refused' || outcome === 503 ? outcome : undefined;
    });
    expect(['refused', 503]).toContain(fresh);
    expect(api.child.exitCode).toBeNull();

    inProgress.end(body);
    const reply = await answered;
    expect(reply.status).toBe(202);
    expect(JSON.parse(reply.body)).toMatchObject({ orderId: 'api-1', status: 'queued' });
    const { code } = await timedExit(api);
    expect(code).toBe(0);
    expect(await ledger.getOrder({ clientId: 'shop', orderId: 'api-1' })).toMatchObject({ state: 'queued' });

    poller.kill('SIGTERM');
    const stopped = await timedExit(poller);
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    await poller.waitForLine(/"msg":"shutdown complete"/, 5_000);
  }, 60_000);
});

/** One GET /healthz on a new connection: its status, or `refused` when no connection could be made. */
function probe(port: number): Promise<number | 'refused' | 'error'> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'error'),
    );
    req.end();
  });
}
