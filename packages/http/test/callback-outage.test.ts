import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { applyCallback } from '@rechargeflow/orders';
import { providerRegistry } from '@rechargeflow/providers';
import {
  callbackJobId,
  createJobConsumer,
  createRedisConnection,
  JobProducer,
  waitForRedis,
} from '@rechargeflow/queue';
import { deleteByPrefix, freePort, waitFor } from '@rechargeflow/testkit';
import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

// The ledger on one Redis (the machine's, standing in for MongoDB or a ledger Redis of its own), the
// queues and rate-limit counters on another, private one that this test stops and starts again.
const LEDGER_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-cboutage-${randomUUID().slice(0, 8)}`;
const TOKEN = `cb-${randomUUID()}`;
const KEY = `shop-${randomUUID()}`;
const CALLBACKS_PER_MINUTE = 3;

let queuePort: number;
let queueServer: ChildProcess | undefined;
let ledgerRedis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let app: FastifyInstance;
const logLines: { msg: string }[] = [];
const closers: (() => Promise<unknown>)[] = [];

/** The queue Redis, without persistence: a restart comes back empty (its jobs are lost). */
async function startQueueRedis(): Promise<void> {
  queueServer = spawn(
    'redis-server',
    ['--port', String(queuePort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = new Redis({ port: queuePort, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50 });
  probe.on('error', () => undefined); // refused until the server listens
  await waitFor('the queue redis-server', async () => ((await probe.ping()) === 'PONG' ? true : undefined));
  probe.disconnect();
}

async function stopQueueRedis(): Promise<void> {
  const server = queueServer;
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = once(server, 'exit');
  server.kill('SIGKILL');
  await exited;
}

const callback = (txid: string, remoteAddress: string) =>
  app.inject({
    method: 'GET',
    url: `/callbacks/a1topup/${TOKEN}?txid=${txid}&status=Success&opid=OP-${txid}`,
    remoteAddress,
  });

async function storedCallback(txid: string) {
  const all = await ledger.findCallbacks('received', new Date(Date.now() + 60_000).toISOString(), 1_000);
  return all.find((c) => c.providerOrderId === txid);
}

beforeAll(async () => {
  expect(spawnSync('redis-server', ['--version']).error, 'redis-server must be installed').toBeUndefined();
  queuePort = await freePort();
  await startQueueRedis();
  ledgerRedis = new Redis(LEDGER_URL);
  ledger = createRedisLedgerStore({ redis: ledgerRedis, prefix: `${prefix}:ledger` });
  await ledger.init();
  // The API's own connection kind: commands fail at once while Redis is away (no offline queue).
  queueRedis = createRedisConnection(`redis://127.0.0.1:${queuePort}`, 'producer', 'cb-outage-test');
  queueRedis.on('error', () => undefined);
  await waitForRedis(queueRedis);
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  app = await buildApi({
    ledger,
    producer,
    logger: createLogger({
      name: 'cb-outage-test',
      level: 'info',
      destination: { write: (line: string) => logLines.push(JSON.parse(line)) },
    }),
    keys: [{ clientId: 'shop', secret: KEY, role: 'client' }],
    rateLimitPerMinute: 1_000,
    callbackRateLimitPerMinute: CALLBACKS_PER_MINUTE,
    rateLimitRedis: queueRedis,
    rateLimitPrefix: prefix,
    bodyLimitBytes: 4_096,
    readiness: async () => undefined,
    callbackTokens: [TOKEN],
  });
  await app.ready();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await app?.close();
  await producer?.close().catch(() => undefined);
  queueRedis?.disconnect();
  await stopQueueRedis();
  if (ledgerRedis) {
    await deleteByPrefix(ledgerRedis, prefix);
    await ledgerRedis.quit();
  }
});

describe('callbacks while the queue Redis is down (ledger elsewhere)', () => {
  it('stores and answers 200 through the outage; the sweep queues them once Redis is back and they are applied', async () => {
    // Before: the callback is stored and its job queued on the queue Redis.
    const before = await callback('RFOUT1', '203.0.113.10');
    expect(before.statusCode).toBe(200);
    expect(await queueRedis.keys(`${prefix}:rate-limit:*callback-ip:203.0.113.10`)).toHaveLength(1);

    await stopQueueRedis();
    await waitFor('the queue connection to notice', async () =>
      queueRedis.status !== 'ready' ? true : undefined,
    );

    // During: stored and answered 200 OK, its job left for later.
    const during = await callback('RFOUT2', '203.0.113.20');
    expect(during.statusCode).toBe(200);
    expect(during.body).toBe('OK');
    expect(await storedCallback('RFOUT2')).toMatchObject({ outcome: 'received', status: 'Success' });
    expect(logLines.map((l) => l.msg)).toContain('callback stored; its job could not be added yet');
    // Still limited per address, in this process: not an open door while Redis is away.
    const more: number[] = [];
    for (let i = 0; i < CALLBACKS_PER_MINUTE; i++)
      more.push((await callback(`RFOUT3-${i}`, '203.0.113.30')).statusCode);
    expect(more).toEqual([200, 200, 200]);
    expect((await callback('RFOUT3-x', '203.0.113.30')).statusCode).toBe(429);
    expect(logLines.filter((l) => /counting in this process/.test(l.msg))).toHaveLength(1);
    // The other routes keep failing closed without their counters.
    const orders = await app.inject({
      method: 'GET',
      url: '/v1/recharges',
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(orders.statusCode).toBe(503);

    // After: Redis is back, empty (RFOUT1's job went with it). What the poller's sweep does —
    // queue every stored callback still `received` — gets both applied.
    await startQueueRedis();
    await waitFor('the queue connection to reconnect', async () =>
      queueRedis.status === 'ready' ? true : undefined,
    );
    expect((await callback('RFOUT4', '203.0.113.40')).statusCode).toBe(200);
    expect(await queueRedis.keys(`${prefix}:rate-limit:*callback-ip:203.0.113.40`)).toHaveLength(1);

    const pollerRedis = createRedisConnection(`redis://127.0.0.1:${queuePort}`, 'worker', 'cb-outage-poller');
    closers.push(() => pollerRedis.quit());
    const pollerProducer = new JobProducer(pollerRedis, { prefix: `${prefix}:q` });
    closers.push(() => pollerProducer.close());
    const received = await ledger.findCallbacks(
      'received',
      new Date(Date.now() + 60_000).toISOString(),
      1_000,
    );
    const ids = ['RFOUT1', 'RFOUT2'].map((txid) => received.find((c) => c.providerOrderId === txid)?.id);
    expect(ids.every(Boolean)).toBe(true);
    for (const callbackId of ids as string[])
      await pollerProducer.ensureQueued('callback.apply', { callbackId }, callbackJobId(callbackId));
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const consumer: Worker = createJobConsumer(
      'callbacks',
      {
        'callback.apply': async ({ callbackId }) => {
          await applyCallback(
            {
              ledger,
              producer: pollerProducer,
              providers: new Map(),
              providerCatalog: providerRegistry,
              log,
              firstCheckAfterMs: 30_000,
            },
            callbackId,
            {
              verifyReversals: true,
            },
          );
        },
      },
      pollerRedis,
      { prefix: `${prefix}:q`, concurrency: 1 },
    );
    closers.push(() => consumer.close());
    // No order has these orderids: applying them records `unknown_order` (kept for an operator).
    for (const callbackId of ids as string[]) {
      const handled = await waitFor(`callback ${callbackId} applied`, async () => {
        const record = await ledger.getCallback(callbackId);
        return record && record.outcome !== 'received' ? record : undefined;
      });
      expect(handled.outcome).toBe('unknown_order');
    }
  }, 60_000);
});
