import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';
import { BATCH_CSV_EXAMPLE, RECHARGE_EXAMPLE } from '../src/openapi.ts';

// The API describes itself (issue 15): tags, every error answer in the one shape, usable examples;
// the callback list and reconciliation defaults.

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-openapi-${randomUUID().slice(0, 8)}`;
const SHOP_KEY = 'shop-secret-0123456789';
const OPERATOR_KEY = 'operator-secret-0123456789';
const shop = { authorization: `Bearer ${SHOP_KEY}` };
const operator = { authorization: `Bearer ${OPERATOR_KEY}` };

let app: FastifyInstance;
let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let ledger: LedgerStore;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'openapi-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  app = await buildApi({
    ledger,
    producer,
    logger: createLogger({ name: 'openapi-test', level: 'silent' }),
    keys: [
      { clientId: 'shop', secret: SHOP_KEY, role: 'client' },
      { clientId: 'ops', secret: OPERATOR_KEY, role: 'operator' },
    ],
    rateLimitPerMinute: 1_000,
    bodyLimitBytes: 4_096,
    callbackTokens: ['callback-token-0123456789abcdef'],
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

type Operation = {
  tags?: string[];
  responses?: Record<
    string,
    { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }
  >;
  requestBody?: { content: Record<string, { example?: unknown; schema?: unknown }> };
};

async function document() {
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  return res.json() as { tags: { name: string }[]; paths: Record<string, Record<string, Operation>> };
}

function operations(doc: Awaited<ReturnType<typeof document>>) {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
}

describe('the OpenAPI document', () => {
  it('tags every route with a declared tag', async () => {
    const doc = await document();
    const declared = doc.tags.map((t) => t.name);
    expect(declared).toEqual(
      expect.arrayContaining(['recharges', 'batches', 'operators', 'callbacks', 'health']),
    );
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(10);
    for (const { path, method, op } of ops) {
      expect(op.tags, `${method} ${path}`).toHaveLength(1);
      expect(declared, `${method} ${path}`).toContain(op.tags?.[0]);
    }
    const tagOf = (path: string, method = 'get') => doc.paths[path]?.[method]?.tags?.[0];
    expect(tagOf('/v1/recharges', 'post')).toBe('recharges');
    expect(tagOf('/v1/batches', 'post')).toBe('batches');
    expect(tagOf('/v1/reconciliation')).toBe('operators');
    expect(tagOf('/healthz')).toBe('health');
    expect(tagOf('/callbacks/a1topup/{token}')).toBe('callbacks');
  });

  it('documents the 4xx answers of every API route with the error shape', async () => {
    const doc = await document();
    for (const { path, method, op } of operations(doc)) {
      if (path === '/healthz' || path === '/readyz') continue;
      const codes = Object.keys(op.responses ?? {});
      const clientErrors = codes.filter((c) => c.startsWith('4'));
      expect(clientErrors.length, `${method} ${path}`).toBeGreaterThan(0);
      if (path.startsWith('/v1/'))
        expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['400', '401', '429']));
      for (const code of clientErrors) {
        const schema = op.responses?.[code]?.content?.['application/json']?.schema;
        expect(Object.keys(schema?.properties ?? {}), `${method} ${path} ${code}`).toEqual([
          'error',
          'message',
          'issues',
        ]);
      }
    }
    expect(Object.keys(doc.paths['/v1/batches']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '202', '400', '413', '415', '429']),
    );
    expect(Object.keys(doc.paths['/v1/reconciliation']?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '429']),
    );
  });

  it('says what every answer means, and shows a real order as the example of an order', async () => {
    const doc = await document();
    for (const { path, method, op } of operations(doc)) {
      for (const [code, response] of Object.entries(op.responses ?? {})) {
        const description = (response as { description?: string }).description;
        // Without one, /docs shows "Default Response" for it.
        expect(description, `${method} ${path} ${code}`).toBeTruthy();
        expect(description, `${method} ${path} ${code}`).not.toBe('Default Response');
      }
    }
    // The schema's `examples` become the media type's `example`, which /docs shows as the answer.
    const media = doc.paths['/v1/recharges/{orderId}']?.get?.responses?.['200']?.content?.[
      'application/json'
    ] as { example?: { status: string; amount: number; history: unknown[] } } | undefined;
    expect(media?.example).toMatchObject({ status: 'success', amount: 10 });
    expect(media?.example?.history.length).toBeGreaterThan(1);
  });

  it('gives a recharge example that answers 202 when sent as is, and a CSV example for batches', async () => {
    const doc = await document();
    const example = doc.paths['/v1/recharges']?.post?.requestBody?.content['application/json']?.example;
    expect(example).toEqual(RECHARGE_EXAMPLE);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: { ...shop, 'content-type': 'application/json' },
      payload: JSON.stringify(example),
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ orderId: 'demo-1', status: 'queued' });
    const csv = doc.paths['/v1/batches']?.post?.requestBody?.content['text/csv']?.example;
    expect(csv).toBe(BATCH_CSV_EXAMPLE);
    expect(String(csv).split('\n')[0]).toBe('orderId,operator,circle,number,amount');
  });
});

describe('GET /v1/callbacks', () => {
  it('lists the callbacks of every outcome without `outcome`, only those of one with it', async () => {
    const at = new Date(Date.now() - 5_000).toISOString();
    const ids: Record<string, string> = {};
    for (const [txid, outcome] of [
      ['RFCB1', 'unknown_order'],
      ['RFCB2', 'applied'],
      ['RFCB3', 'ignored'],
    ] as const) {
      const { record } = await ledger.recordCallback({
        provider: 'a1topup',
        providerOrderId: txid,
        status: 'Success',
        receivedAt: at,
        raw: `txid=${txid}&status=Success`,
      });
      if (outcome !== record.outcome) await ledger.setCallbackOutcome(record.id, outcome, undefined, at);
      ids[outcome] = record.id;
    }
    const all = await app.inject({ method: 'GET', url: '/v1/callbacks', headers: operator });
    expect(all.statusCode).toBe(200);
    const listed = all.json().callbacks as { id: string; outcome: string }[];
    expect(new Set(listed.map((c) => c.outcome))).toEqual(new Set(['unknown_order', 'applied', 'ignored']));
    expect(listed.map((c) => c.id).sort()).toEqual(Object.values(ids).sort());

    const one = await app.inject({ method: 'GET', url: '/v1/callbacks?outcome=applied', headers: operator });
    expect(one.json().callbacks.map((c: { id: string }) => c.id)).toEqual([ids.applied]);

    const limited = await app.inject({ method: 'GET', url: '/v1/callbacks?limit=2', headers: operator });
    expect(limited.json().callbacks).toHaveLength(2);

    const bad = await app.inject({ method: 'GET', url: '/v1/callbacks?outcome=nope', headers: operator });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues[0].field).toBe('outcome');
  });
});

describe('GET /v1/reconciliation', () => {
  it('answers the current day (UTC) without from/to, with the balance drop, net spend and their difference', async () => {
    const now = Date.now();
    const dayStart = new Date(Math.floor(now / 86_400_000) * 86_400_000);
    const dayEnd = new Date(dayStart.getTime() + 86_400_000);
    await ledger.recordBalance({
      provider: 'a1topup',
      balance: 1_000_000,
      at: new Date(dayStart.getTime() - 60_000).toISOString(),
    });
    await ledger.recordBalance({
      provider: 'a1topup',
      balance: 990_000,
      at: new Date(now - 1_000).toISOString(),
    });
    const res = await app.inject({ method: 'GET', url: '/v1/reconciliation', headers: operator });
    expect(res.statusCode).toBe(200);
    const report = res.json();
    expect(report.from).toBe(dayStart.toISOString());
    expect(report.to).toBe(dayEnd.toISOString());
    const a1 = report.providers.find((p: { provider: string }) => p.provider === 'a1topup');
    expect(a1.balanceAtStart.balance).toBe(10_000);
    expect(a1.balanceAtEnd.balance).toBe(9_900);
    expect(a1.balanceDrop).toBe(100);
    expect(a1.netSpend).toBe(a1.success.amount - a1.reversed.amount);
    expect(a1.difference).toBe(100 - a1.netSpend);

    const window = await app.inject({
      method: 'GET',
      url: '/v1/reconciliation?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z',
      headers: operator,
    });
    expect(window.json()).toMatchObject({ from: '2020-01-01T00:00:00.000Z', to: '2020-01-02T00:00:00.000Z' });
    const old = window.json().providers.find((p: { provider: string }) => p.provider === 'a1topup');
    expect(old).toMatchObject({ balanceAtStart: null, balanceDrop: null, netSpend: 0, difference: null });
  });
});
