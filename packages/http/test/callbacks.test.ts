import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { callbackJobId, createRedisConnection, JobProducer } from '@rechargeflow/queue';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-cbroute-${randomUUID().slice(0, 8)}`;
const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-0123456789abcdef';
let app: FastifyInstance;
let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let ledger: LedgerStore;
const logLines: string[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'cb-route-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  app = await buildApi({
    ledger,
    producer,
    logger: createLogger({
      name: 'cb-test',
      level: 'info',
      destination: { write: (line: string) => logLines.push(line) },
    }),
    keys: [{ clientId: 'shop', secret: 'shop-secret-0123456789', role: 'client' }],
    rateLimitPerMinute: 1_000,
    bodyLimitBytes: 4_096,
    readiness: async () => undefined,
    callbackTokens: [OLD, NEW],
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await producer.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

describe('callback route', () => {
  it('accepts both tokens while rotating, as GET query or POST form, stores once and queues one apply job', async () => {
    const get = await app.inject({
      method: 'GET',
      url: `/callbacks/a1topup/${OLD}?txid=RFX1&status=Success&opid=OP9`,
    });
    expect(get.statusCode).toBe(200);
    expect(get.body).toBe('OK');
    const post = await app.inject({
      method: 'POST',
      url: `/callbacks/a1topup/${NEW}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'txid=RFX1&status=Success&opid=OP9',
    });
    expect(post.statusCode).toBe(200);
    const first = await ledger.recordCallback({
      provider: 'a1topup',
      providerOrderId: 'RFX1',
      status: 'success',
      providerRef: 'OP9',
      receivedAt: new Date().toISOString(),
      raw: '',
    });
    expect(first.isNew).toBe(false);
    expect(first.record.copies).toBe(3);
    expect(first.record.raw).toBe('txid=RFX1&status=Success&opid=OP9');
    const jobs = await producer.queue('callbacks').getJobs(['waiting']);
    expect(jobs.map((j) => j.id)).toEqual([callbackJobId(first.record.id)]);
  });

  it('answers a wrong token exactly like an unknown path, and stores nothing', async () => {
    const forged = await app.inject({
      method: 'GET',
      url: '/callbacks/a1topup/not-the-token-at-all?txid=RFX2&status=Failure',
    });
    const unknown = await app.inject({ method: 'GET', url: '/no/such/path' });
    expect(forged.statusCode).toBe(404);
    expect(forged.json()).toEqual(unknown.json());
    const stored = await ledger.findCallbacks('received', new Date(Date.now() + 1_000).toISOString(), 100);
    expect(stored.map((c) => c.providerOrderId)).not.toContain('RFX2');
  });

  it('takes each callback provider of the registry at /callbacks/<provider>/<token>, stored under its name', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/callbacks/a1topup_backup/${NEW}?txid=RFX3&status=Failure&opid=OPB&extra=dropped`,
    });
    expect(res.statusCode).toBe(200);
    const stored = await ledger.findCallbacks('received', new Date(Date.now() + 1_000).toISOString(), 100);
    expect(stored.find((c) => c.providerOrderId === 'RFX3')).toMatchObject({
      provider: 'a1topup_backup',
      status: 'Failure',
      providerRef: 'OPB',
      raw: 'txid=RFX3&status=Failure&opid=OPB',
    });
  });

  it('answers an unknown provider, or one that takes no callbacks, exactly like an unknown path', async () => {
    const unknown = await app.inject({ method: 'GET', url: '/no/such/path' });
    for (const provider of ['nobody', 'telgoo5', 'A1TOPUP']) {
      const res = await app.inject({
        method: 'GET',
        url: `/callbacks/${provider}/${NEW}?txid=RFX4&status=Success`,
      });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual(unknown.json());
    }
    const stored = await ledger.findCallbacks('received', new Date(Date.now() + 1_000).toISOString(), 100);
    expect(stored.map((c) => c.providerOrderId)).not.toContain('RFX4');
  });

  it('names missing parameters, and never logs the token', async () => {
    const res = await app.inject({ method: 'GET', url: `/callbacks/a1topup/${NEW}?opid=1` });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues.map((i: { field: string }) => i.field)).toEqual(['txid', 'status']);
    const text = logLines.join('\n');
    expect(text).toContain('/callbacks/a1topup/[redacted]');
    expect(text).not.toContain(NEW);
    expect(text).not.toContain(OLD);
  });
});
