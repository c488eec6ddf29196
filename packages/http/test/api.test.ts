import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer, rechargeJobId } from '@rechargeflow/queue';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-api-${randomUUID().slice(0, 8)}`;
const SHOP_KEY = 'shop-secret-0123456789';
const OTHER_KEY = 'other-secret-0123456789';
const auth = { authorization: `Bearer ${SHOP_KEY}` };

let app: FastifyInstance;
let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'api-test');
  const ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  app = await buildApi({
    ledger,
    producer,
    logger: createLogger({ name: 'api-test', level: 'silent' }),
    keys: [
      { clientId: 'shop', secret: SHOP_KEY, role: 'client' },
      { clientId: 'other', secret: OTHER_KEY, role: 'client' },
    ],
    rateLimitPerMinute: 1_000,
    bodyLimitBytes: 4_096,
    readiness: async () => {
      await ledger.ping();
    },
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

const body = (orderId: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  operator: 'A',
  circle: '5',
  number: '9800000000',
  amount: 10,
  ...extra,
});

describe('POST /v1/recharges', () => {
  it('answers 202 for a new order, written to the ledger and queued once', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('new-1'),
    });
    expect(res.statusCode).toBe(202);
    const order = res.json();
    expect(order).toMatchObject({
      orderId: 'new-1',
      status: 'queued',
      operator: 'A',
      amount: 10,
      attempts: 0,
    });
    expect(order.history).toHaveLength(1);
    expect(order.history[0]).toMatchObject({ from: null, to: 'queued', source: 'api' });
    const job = await producer
      .queue('recharges', 'a1topup')
      .getJob(rechargeJobId({ clientId: 'shop', orderId: 'new-1' }, 'a1topup'));
    expect(job?.data).toEqual({ clientId: 'shop', orderId: 'new-1' });
  });

  it('answers 200 with the same order for the same request, and 409 for the same id with another amount', async () => {
    const first = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('rep-1'),
    });
    const again = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('rep-1'),
    });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(200);
    expect(again.json().providerOrderId).toBe(first.json().providerOrderId);
    expect(again.json().createdAt).toBe(first.json().createdAt);
    const conflict = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('rep-1', { amount: 20 }),
    });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({ error: 'order_id_conflict' });
    const stored = await app.inject({ method: 'GET', url: '/v1/recharges/rep-1', headers: auth });
    expect(stored.json().amount).toBe(10);
  });

  it('keeps order ids per client: the same id from another client is another order', async () => {
    await app.inject({ method: 'POST', url: '/v1/recharges', headers: auth, payload: body('shared-1') });
    const other = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: { authorization: `Bearer ${OTHER_KEY}` },
      payload: body('shared-1', { amount: 50 }),
    });
    expect(other.statusCode).toBe(202);
    const mine = await app.inject({ method: 'GET', url: '/v1/recharges/shared-1', headers: auth });
    expect(mine.json().amount).toBe(10);
    expect(mine.json().providerOrderId).not.toBe(other.json().providerOrderId);
  });

  it('answers 400 naming every bad field at once: operator, number and amount', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: { orderId: 'bad-1', operator: 'NOPE', number: 'x!', amount: -5 },
    });
    expect(res.statusCode).toBe(400);
    const fields = res.json().issues.map((i: { field: string }) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['operator', 'number', 'amount']));
    expect(res.json().message).toMatch(/operator/);
    const stored = await app.inject({ method: 'GET', url: '/v1/recharges/bad-1', headers: auth });
    expect(stored.statusCode).toBe(404);
  });

  it('refuses unknown fields, a missing orderId and a non-object body', async () => {
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('u-1', { colour: 'red' }),
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().issues).toContainEqual(
      expect.objectContaining({ field: 'colour', rule: 'unknown_field' }),
    );
    const card = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('u-2', { cvv: '123' }),
    });
    expect(card.statusCode).toBe(400);
    expect(card.json().issues).toContainEqual(
      expect.objectContaining({ field: 'cvv', rule: 'card_data_refused' }),
    );
    const noId = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: { operator: 'A', number: '9800000000', amount: 10 },
    });
    expect(noId.json().issues).toContainEqual(
      expect.objectContaining({ field: 'orderId', rule: 'required' }),
    );
    const list = await app.inject({ method: 'POST', url: '/v1/recharges', headers: auth, payload: [1, 2] });
    expect(list.statusCode).toBe(400);
  });

  it('answers 401 without a valid key and 413 for an oversized body', async () => {
    const none = await app.inject({ method: 'POST', url: '/v1/recharges', payload: body('x-1') });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const wrong = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: { authorization: 'Bearer nope-nope-nope-nope' },
      payload: body('x-1'),
    });
    expect(wrong.statusCode).toBe(401);
    const big = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: body('x-2', { value1: 'x'.repeat(5_000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().message).toMatch(/4096 bytes/);
  });
});

describe('GET /v1/recharges', () => {
  it('reads one order of this client only (404 for unknown or another client’s)', async () => {
    await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: { authorization: `Bearer ${OTHER_KEY}` },
      payload: body('theirs-1'),
    });
    const res = await app.inject({ method: 'GET', url: '/v1/recharges/theirs-1', headers: auth });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toBe('order_not_found');
  });

  it('pages through a client’s orders newest first with a cursor and filters by status', async () => {
    for (let i = 0; i < 5; i++) {
      await app.inject({
        method: 'POST',
        url: '/v1/recharges',
        headers: { authorization: `Bearer ${OTHER_KEY}` },
        payload: body(`page-${i}`),
      });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/recharges?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${OTHER_KEY}` } });
      expect(res.statusCode).toBe(200);
      seen.push(...res.json().orders.map((o: { orderId: string }) => o.orderId));
      cursor = res.json().nextCursor;
    } while (cursor);
    const pages = seen.filter((id) => id.startsWith('page-'));
    expect(pages).toEqual(['page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
    expect(new Set(seen).size).toBe(seen.length);

    const queued = await app.inject({
      method: 'GET',
      url: '/v1/recharges?status=queued&limit=100',
      headers: { authorization: `Bearer ${OTHER_KEY}` },
    });
    expect(queued.json().orders.every((o: { status: string }) => o.status === 'queued')).toBe(true);
    const none = await app.inject({
      method: 'GET',
      url: '/v1/recharges?status=success',
      headers: { authorization: `Bearer ${OTHER_KEY}` },
    });
    expect(none.json().orders).toEqual([]);
    const bad = await app.inject({ method: 'GET', url: '/v1/recharges?status=done&limit=0', headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .issues.map((i: { field: string }) => i.field)
        .sort(),
    ).toEqual(['limit', 'status']);
  });
});

describe('operations endpoints', () => {
  it('serves health, readiness and the OpenAPI document', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
    const doc = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json().paths)).toEqual(
      expect.arrayContaining(['/v1/recharges', '/v1/recharges/{orderId}']),
    );
    const ui = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });
});
