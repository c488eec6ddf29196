import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer, rechargeJobId } from '@rechargeflow/queue';
import { UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type QueueBoardMode } from '../src/index.ts';

// bull-board on the real API app (Fastify inject) over the real Redis, one key prefix per app.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const OPERATOR_KEY = 'ops-secret-0123456789abcdef';
const CLIENT_KEY = 'shop-secret-0123456789abcdef';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

interface Harness {
  readonly app: FastifyInstance;
  readonly producer: JobProducer;
  readonly prefix: string;
}

let redis: Redis;
let queueRedis: Redis;
const harnesses: Harness[] = [];

async function harness(mode: QueueBoardMode | undefined): Promise<Harness> {
  const prefix = `rf-test-board-${run}-${mode ?? 'default'}`;
  const ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  const producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  const app = await buildApi({
    ledger,
    producer,
    logger: createLogger({ name: 'board-test', level: 'silent' }),
    keys: [
      { clientId: 'ops', secret: OPERATOR_KEY, role: 'operator' },
      { clientId: 'shop', secret: CLIENT_KEY, role: 'client' },
    ],
    rateLimitPerMinute: 10_000,
    bodyLimitBytes: 4_096,
    readiness: async () => undefined,
    providerNames: ['a1topup', 'telgoo5'],
    ...(mode === undefined ? {} : { queueBoard: mode }),
  });
  await app.ready();
  const built = { app, producer, prefix };
  harnesses.push(built);
  return built;
}

let readonly: Harness;
let full: Harness;
const order = { clientId: 'shop', orderId: 'board-1' };

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'board-test');
  readonly = await harness('readonly');
  full = await harness('on');
  await readonly.producer.enqueue('recharge', order, rechargeJobId(order, 'a1topup'), 'a1topup');
});

afterAll(async () => {
  for (const { app, producer, prefix } of harnesses) {
    await app.close();
    await producer.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  await queueRedis.quit();
});

interface BoardQueue {
  name: string;
  readOnlyMode: boolean;
  allowRetries: boolean;
  counts: Record<string, number>;
  jobs: { id: string; data: unknown }[];
}

async function boardQueues(app: FastifyInstance, activeQueue?: string): Promise<BoardQueue[]> {
  const res = await app.inject({
    method: 'GET',
    url: '/admin/queues/api/queues',
    query: activeQueue ? { activeQueue, status: 'latest', page: '1', jobsPerPage: '10' } : {},
    headers: bearer(OPERATOR_KEY),
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as { queues: BoardQueue[] }).queues;
}

describe('queue board access', () => {
  it('answers 401 with a Basic challenge without credentials, or with a wrong key either way', async () => {
    for (const headers of [
      {},
      bearer('not-a-key-0123456789'),
      basic('ops', 'wrong-0123456789abc'),
      basic('ops', ''),
    ]) {
      const res = await readonly.app.inject({ method: 'GET', url: '/admin/queues', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="rechargeflow operators"/);
      expect(res.json()).toMatchObject({ error: 'unauthorized' });
    }
    const api = await readonly.app.inject({ method: 'GET', url: '/admin/queues/api/queues' });
    expect(api.statusCode).toBe(401);
  });

  it('answers 403 to a client key, as Bearer or as Basic', async () => {
    for (const headers of [bearer(CLIENT_KEY), basic('shop', CLIENT_KEY)]) {
      const res = await readonly.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: 'forbidden' });
    }
  });

  it('serves the UI to an operator key as Bearer and as the password of Basic, assets included', async () => {
    let html = '';
    for (const headers of [bearer(OPERATOR_KEY), basic('anyone', OPERATOR_KEY)]) {
      const res = await readonly.app.inject({ method: 'GET', url: '/admin/queues', headers });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      html = res.body;
    }
    // Assets are relative to <base href="/admin/queues/">: the browser sends the same Basic header.
    expect(html).toContain('<base href="/admin/queues/"');
    const asset = /src="(static\/js\/main[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const url = `/admin/queues/${asset}`;
    const withBasic = await readonly.app.inject({ method: 'GET', url, headers: basic('ops', OPERATOR_KEY) });
    expect(withBasic.statusCode).toBe(200);
    expect(withBasic.headers['content-type']).toMatch(/javascript/);
    expect((await readonly.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });

  it('takes Basic only for the board: the /v1 routes still want a Bearer key', async () => {
    const res = await readonly.app.inject({
      method: 'GET',
      url: '/v1/manual-review',
      headers: basic('ops', OPERATOR_KEY),
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('is not mounted unless asked for', async () => {
    const plain = await harness(undefined);
    const res = await plain.app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: bearer(OPERATOR_KEY),
    });
    expect(res.statusCode).toBe(404);
    const off = await harness('off');
    expect(
      (
        await off.app.inject({
          method: 'GET',
          url: '/admin/queues/api/queues',
          headers: bearer(OPERATOR_KEY),
        })
      ).statusCode,
    ).toBe(404);
  });

  it('is mentioned in the OpenAPI document, and its routes are not listed there', async () => {
    const doc = (await readonly.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      info: { description: string };
      paths: Record<string, unknown>;
    };
    expect(doc.info.description).toMatch(/\/admin\/queues/);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
  });
});

describe('queue board contents', () => {
  it('lists every queue of the system, and the recharge job added', async () => {
    const queues = await boardQueues(readonly.app, 'recharges-a1topup');
    expect(queues.map((q) => q.name).sort()).toEqual(
      ['batches', 'callbacks', 'poller', 'recharges-a1topup', 'recharges-telgoo5', 'webhooks'].sort(),
    );
    const recharges = queues.find((q) => q.name === 'recharges-a1topup')!;
    expect(recharges.counts.waiting).toBe(1);
    expect(recharges.jobs.map((j) => j.id)).toEqual([rechargeJobId(order, 'a1topup')]);
    expect(recharges.jobs[0]?.data).toEqual(order);
    expect(recharges.readOnlyMode).toBe(true);
    expect(recharges.allowRetries).toBe(false);
  });
});

describe('QUEUE_BOARD=readonly', () => {
  it('refuses retry, clean and remove, and the job stays', async () => {
    const jobId = rechargeJobId(order, 'a1topup');
    const actions = [
      `/admin/queues/api/queues/recharges-a1topup/${jobId}/retry`,
      `/admin/queues/api/queues/recharges-a1topup/${jobId}/clean`,
      '/admin/queues/api/queues/recharges-a1topup/clean/wait',
      '/admin/queues/api/queues/recharges-a1topup/retry/failed',
      '/admin/queues/api/queues/recharges-a1topup/empty',
    ];
    for (const url of actions) {
      const res = await readonly.app.inject({ method: 'PUT', url, headers: bearer(OPERATOR_KEY) });
      expect(res.statusCode, url).toBe(405);
    }
    const added = await readonly.app.inject({
      method: 'POST',
      url: '/admin/queues/api/queues/recharges-a1topup/add',
      headers: basic('ops', OPERATOR_KEY),
      payload: { name: 'recharge', data: order, options: {} },
    });
    expect(added.statusCode).toBe(405);
    const queue = readonly.producer.queue('recharges', 'a1topup');
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect(await (await queue.getJob(jobId))?.getState()).toBe('waiting');
  });
});

describe('QUEUE_BOARD=on', () => {
  it('retries a failed job and cleans failed ones; refuses what bypasses the ledger or loses work', async () => {
    const queue = full.producer.queue('callbacks');
    const callbackId = 'a'.repeat(64);
    await full.producer.enqueue('callback.apply', { callbackId }, 'callback-one');
    await full.producer.enqueue('callback.apply', { callbackId: 'b'.repeat(64) }, 'callback-two');
    // A throwaway consumer fails both for good (no retry with the catalogue's back-off).
    const consumerRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const failing = new Worker(
      'callbacks',
      async () => {
        throw new UnrecoverableError('boom');
      },
      { connection: consumerRedis, prefix: `${full.prefix}:q` },
    );
    try {
      for (let i = 0; i < 100 && ((await queue.getJobCounts('failed')).failed ?? 0) < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await failing.close();
      await consumerRedis.quit();
    }
    expect(await queue.getJobCounts('failed')).toEqual({ failed: 2 });
    const listed = (await boardQueues(full.app)).find((q) => q.name === 'callbacks')!;
    expect(listed).toMatchObject({ readOnlyMode: false, allowRetries: true });

    const act = (method: 'PUT' | 'PATCH', url: string) =>
      full.app.inject({ method, url: `/admin/queues/api/queues/${url}`, headers: bearer(OPERATOR_KEY) });
    const put = (url: string) => act('PUT', url);
    expect((await put('callbacks/callback-one/retry')).statusCode).toBe(204);
    expect(await (await queue.getJob('callback-one'))?.getState()).toBe('waiting');

    for (const [method, refused] of [
      ['PUT', 'callbacks/clean/wait'],
      ['PUT', 'callbacks/empty'],
      ['PUT', 'callbacks/obliterate'],
      ['PATCH', 'callbacks/callback-one/update-data'],
      ['PUT', 'poller/job-schedulers/poller.sweep/remove'],
    ] as const) {
      const res = await act(method, refused);
      expect(res.statusCode, refused).toBe(403);
      expect(res.json()).toMatchObject({ error: 'queue_board_action_refused' });
    }
    const added = await full.app.inject({
      method: 'POST',
      url: '/admin/queues/api/queues/recharges-a1topup/add',
      headers: bearer(OPERATOR_KEY),
      payload: { name: 'recharge', data: order, options: {} },
    });
    expect(added.statusCode).toBe(403);
    expect(await queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 1, failed: 1 });
    expect(await full.producer.queue('recharges', 'a1topup').count()).toBe(0);

    // Removing one job is allowed; so is cleaning failed jobs (bull-board spares the last 5 s).
    expect((await put('callbacks/callback-two/clean')).statusCode).toBe(204);
    expect(await queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 1, failed: 0 });
    expect((await put('callbacks/clean/failed')).statusCode).toBe(200);
    // A client key can do none of it.
    const byClient = await full.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/callbacks/callback-one/clean',
      headers: bearer(CLIENT_KEY),
    });
    expect(byClient.statusCode).toBe(403);
    expect(await queue.getJob('callback-one')).toBeDefined();
  });
});
