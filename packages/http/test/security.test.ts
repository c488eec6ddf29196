import { randomUUID } from 'node:crypto';
import { apiKeys } from '@rechargeflow/config';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { createLogger, createMetrics } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApi } from '../src/index.ts';

// Two API replicas on one Redis, as in production: limits are shared, keys are configured hashed.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-sec-${randomUUID().slice(0, 8)}`;
const SHOP_KEY = `shop-${randomUUID()}`;
const OTHER_KEY = `other-${randomUUID()}`;
const OPERATOR_KEY = `ops-${randomUUID()}`;
const OPS2_KEY = `ops2-${randomUUID()}`;
const TOKEN = `cb-${randomUUID()}`;
const PER_MINUTE = 5;
const CALLBACKS_PER_MINUTE = 3;

let replicas: FastifyInstance[] = [];
let behindProxy: FastifyInstance;
let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let configuredKeys = '';

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'security-test');
  const ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  // API_KEYS as an operator writes it: one entry hashed (npm run api-key), the others plain.
  const { createHash } = await import('node:crypto');
  const hashed = createHash('sha256').update(SHOP_KEY).digest('hex');
  configuredKeys = `shop:sha256-${hashed},other:${OTHER_KEY},ops:${OPERATOR_KEY}:operator,ops2:${OPS2_KEY}:operator`;
  const keys = z.object({ API_KEYS: apiKeys() }).parse({ API_KEYS: configuredKeys }).API_KEYS;
  const build = (trustProxy?: readonly string[]) =>
    buildApi({
      trustProxy,
      ledger,
      producer,
      logger: createLogger({ name: 'security-test', level: 'silent' }),
      metrics: createMetrics('api'),
      keys,
      rateLimitPerMinute: PER_MINUTE,
      callbackRateLimitPerMinute: CALLBACKS_PER_MINUTE,
      rateLimitRedis: queueRedis,
      rateLimitPrefix: prefix,
      bodyLimitBytes: 2_048,
      callbackTokens: [TOKEN],
      readiness: async () => {},
    });
  replicas = [await build(), await build()];
  behindProxy = await build(['10.0.0.1']);
  await behindProxy.ready();
  await Promise.all(replicas.map((app) => app.ready()));
});

afterAll(async () => {
  await Promise.all([...replicas, behindProxy].map((app) => app.close()));
  await producer.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await queueRedis.quit();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const replica = (i: number) => replicas[i % 2] as FastifyInstance;
const order = (orderId: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  operator: 'A',
  circle: '5',
  number: '9800000000',
  amount: 10,
  ...extra,
});

describe('security of the ingest API', () => {
  it('API_KEYS may hold only the hash of a key; the hash itself is not a key', async () => {
    expect(configuredKeys).not.toContain(SHOP_KEY);
    const ok = await replica(0).inject({ method: 'GET', url: '/v1/recharges', headers: bearer(SHOP_KEY) });
    expect(ok.statusCode).toBe(200);
    const hash = /shop:(sha256-[0-9a-f]+)/.exec(configuredKeys)?.[1] ?? '';
    const withHash = await replica(0).inject({ method: 'GET', url: '/v1/recharges', headers: bearer(hash) });
    expect(withHash.statusCode).toBe(401);
  });

  it('limits each client per minute across replicas (Redis), with Retry-After; other clients go on', async () => {
    const statuses: number[] = [];
    // The shop already used one request in the test above.
    for (let i = 0; i < PER_MINUTE; i++) {
      const res = await replica(i).inject({ method: 'GET', url: '/v1/recharges', headers: bearer(SHOP_KEY) });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    const limited = await replica(1).inject({
      method: 'GET',
      url: '/v1/recharges',
      headers: bearer(SHOP_KEY),
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    const other = await replica(1).inject({
      method: 'GET',
      url: '/v1/recharges',
      headers: bearer(OTHER_KEY),
    });
    expect(other.statusCode).toBe(200);
    // The counter lives in Redis under the deployment's prefix.
    expect(await redis.keys(`${prefix}:rate-limit:client:shop`)).toHaveLength(1);
  });

  it('counts requests without a valid key per address, so guessing keys is slowed down too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE + 1; i++) {
      const res = await replica(i).inject({
        method: 'GET',
        url: '/v1/recharges',
        headers: bearer(`guess-${i}-0123456789abcdef`),
        remoteAddress: '198.51.100.7',
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    // Another address is not affected.
    const elsewhere = await replica(0).inject({
      method: 'GET',
      url: '/v1/recharges',
      headers: bearer('guess-x-0123456789abcdef'),
      remoteAddress: '198.51.100.8',
    });
    expect(elsewhere.statusCode).toBe(401);
  });

  it('behind a trusted proxy counts the forwarded client address; a forged header from elsewhere does not help', async () => {
    const guess = (i: number, remoteAddress: string, forwarded: string) =>
      behindProxy.inject({
        method: 'GET',
        url: '/v1/recharges',
        headers: { ...bearer(`proxy-guess-${i}-0123456789`), 'x-forwarded-for': forwarded },
        remoteAddress,
      });
    const viaProxy: number[] = [];
    for (let i = 0; i < PER_MINUTE + 1; i++)
      viaProxy.push((await guess(i, '10.0.0.1', '192.0.2.50')).statusCode);
    expect(viaProxy).toEqual([401, 401, 401, 401, 401, 429]);
    // Another client behind the same proxy has its own count.
    expect((await guess(99, '10.0.0.1', '192.0.2.51')).statusCode).toBe(401);
    // Not from the proxy: X-Forwarded-For is ignored, so changing it every time gains nothing.
    const forged: number[] = [];
    for (let i = 0; i < PER_MINUTE + 1; i++)
      forged.push((await guess(i, '192.0.2.99', `192.0.2.${i}`)).statusCode);
    expect(forged).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('limits the docs and unknown paths per address too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE + 1; i++) {
      const url = i % 2 === 0 ? '/docs/json' : `/no-such-path-${i}`;
      statuses.push(
        (await replica(i).inject({ method: 'GET', url, remoteAddress: '198.51.100.40' })).statusCode,
      );
    }
    expect(statuses).toEqual([200, 404, 200, 404, 200, 429]);
  });

  it('a wrong callback token looks exactly like an unknown path: same 404, no rate-limit headers', async () => {
    const wrong = await replica(0).inject({
      method: 'GET',
      url: '/callbacks/a1topup/not-the-token-0123456789?status=Success&txid=x',
      remoteAddress: '203.0.113.60',
    });
    const unknown = await replica(0).inject({
      method: 'GET',
      url: '/callbacks/elsewhere',
      remoteAddress: '203.0.113.61',
    });
    expect(wrong.statusCode).toBe(404);
    expect(wrong.body).toBe(unknown.body);
    expect(Object.keys(wrong.headers).filter((h) => h.includes('ratelimit'))).toEqual([]);
  });

  it('never limits the health probes', async () => {
    for (let i = 0; i < PER_MINUTE + 3; i++) {
      const res = await replica(i).inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.7' });
      expect(res.statusCode).toBe(200);
    }
  });

  it('limits callbacks per sending address with their own limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < CALLBACKS_PER_MINUTE + 1; i++) {
      const res = await replica(i).inject({
        method: 'GET',
        url: `/callbacks/a1topup/${TOKEN}?status=Success&txid=RF${'0'.repeat(22)}${i}${i}&opid=x`,
        remoteAddress: '203.0.113.5',
      });
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, CALLBACKS_PER_MINUTE).every((s) => s < 400)).toBe(true);
    expect(statuses[CALLBACKS_PER_MINUTE]).toBe(429);
  });

  it('serves /metrics on the public port to operator keys only', async () => {
    const app = replica(0);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect(
      (await app.inject({ method: 'GET', url: '/metrics', headers: bearer(OTHER_KEY) })).statusCode,
    ).toBe(403);
    const ok = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(OPERATOR_KEY) });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# HELP rechargeflow_http_requests_total');
  });

  it('refuses unknown fields and unknown query parameters, naming them', async () => {
    const app = replica(1);
    const body = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: bearer(OPERATOR_KEY),
      payload: order('sec-unknown', { isAdmin: true, status: 'success' }),
    });
    expect(body.statusCode).toBe(400);
    expect(body.json().issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'isAdmin', rule: 'unknown_field' }),
        expect.objectContaining({ field: 'status', rule: 'unknown_field' }),
      ]),
    );
    const query = await app.inject({
      method: 'GET',
      url: '/v1/manual-review?limt=5',
      headers: bearer(OPERATOR_KEY),
    });
    expect(query.statusCode).toBe(400);
    expect(query.json().issues).toEqual([
      { field: 'limt', rule: 'unknown_field', message: 'is not a known parameter' },
    ]);
    // Without a key the route's parameters are not discussed: 401 first.
    const stranger = await app.inject({
      method: 'GET',
      url: '/v1/manual-review?limt=5',
      remoteAddress: '198.51.100.77',
    });
    expect(stranger.statusCode).toBe(401);
  });

  it('refuses bodies over the limit on every body-taking route, JSON or form', async () => {
    const app = replica(0);
    const big = 'x'.repeat(3_000);
    const json = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: { ...bearer(OPS2_KEY), 'content-type': 'application/json' },
      payload: JSON.stringify(order('sec-big', { note: big })),
    });
    expect(json.statusCode).toBe(413);
    const resolve = await app.inject({
      method: 'POST',
      url: '/v1/recharges/any/resolve?clientId=shop',
      headers: { ...bearer(OPS2_KEY), 'content-type': 'application/json' },
      payload: JSON.stringify({ outcome: 'failed', note: big }),
    });
    expect(resolve.statusCode).toBe(413);
    const form = await app.inject({
      method: 'POST',
      url: `/callbacks/a1topup/${TOKEN}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `status=Success&txid=x&opid=${big}`,
      remoteAddress: '203.0.113.99',
    });
    expect(form.statusCode).toBe(413);
  });

  it("answers with no-store and nosniff; a client never reaches another client's order", async () => {
    const app = replica(1);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: bearer(OPS2_KEY),
      payload: order('sec-ops-order'),
    });
    expect(created.statusCode).toBe(202);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.headers['x-content-type-options']).toBe('nosniff');
    // A client key naming another client reads only its own orders: not found.
    const foreign = await app.inject({
      method: 'GET',
      url: '/v1/recharges/sec-ops-order?clientId=ops2',
      headers: bearer(OTHER_KEY),
    });
    expect(foreign.statusCode).toBe(404);
    // An operator may read it by naming the client.
    const asOperator = await app.inject({
      method: 'GET',
      url: '/v1/recharges/sec-ops-order?clientId=ops2',
      headers: bearer(OPS2_KEY),
    });
    expect(asOperator.statusCode).toBe(200);
  });
});
