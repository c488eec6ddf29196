import { randomUUID } from 'node:crypto';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { deleteByPrefix } from '@rechargeflow/testkit';
import { deliveryId, endpointSecret } from '@rechargeflow/webhooks';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

// The webhook routes on a real listener's router (inject), the real Redis ledger and BullMQ: what a
// client may register, what it sees, and the refusals in the one error shape.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `rf-test-webhook-routes-${randomUUID().slice(0, 8)}`;
const SIGNING_KEY = `webhook-signing-key-${randomUUID()}`;
const SHOP = { authorization: 'Bearer shop-secret-0123456789', 'content-type': 'application/json' };
const OTHER = { authorization: 'Bearer other-secret-0123456789', 'content-type': 'application/json' };
const PUBLIC_URL = 'https://93.184.215.14/hooks/rechargeflow?token=abc';

let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let app: FastifyInstance;
let unconfigured: FastifyInstance;

async function build(webhooks: Parameters<typeof buildApi>[0]['webhooks']) {
  const api = await buildApi({
    ledger,
    producer,
    logger: createLogger({ name: 'webhook-routes-test', level: 'silent' }),
    keys: [
      { clientId: 'shop', secret: 'shop-secret-0123456789', role: 'client' },
      { clientId: 'other', secret: 'other-secret-0123456789', role: 'client' },
    ],
    rateLimitPerMinute: 10_000,
    bodyLimitBytes: 16_384,
    readiness: async () => {},
    webhooks,
  });
  await api.ready();
  return api;
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'webhook-routes-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${PREFIX}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: PREFIX });
  app = await build({ signingKey: SIGNING_KEY, allowPrivate: false, maxEndpointsPerClient: 3 });
  unconfigured = await build(undefined);
});

afterAll(async () => {
  await app?.close();
  await unconfigured?.close();
  await producer?.close();
  await deleteByPrefix(redis, PREFIX);
  await ledger.close();
  redis.disconnect();
  queueRedis.disconnect();
});

const register = (body: unknown, headers = SHOP, api = app) =>
  api.inject({ method: 'POST', url: '/v1/webhooks', headers, payload: JSON.stringify(body) });

describe('POST /v1/webhooks', () => {
  it('registers an endpoint: 201 with its secret, derived from the key and the id, shown this once', async () => {
    const res = await register({
      url: PUBLIC_URL,
      events: ['order.failed', 'order.succeeded', 'order.failed'],
    });
    expect(res.statusCode).toBe(201);
    const body = res.json() as {
      id: string;
      url: string;
      events: string[];
      secret: string;
      createdAt: string;
    };
    expect(body).toEqual({
      id: expect.stringMatching(/^we_[a-f0-9]{24}$/),
      url: PUBLIC_URL,
      events: ['order.failed', 'order.succeeded'],
      secret: endpointSecret(SIGNING_KEY, body.id),
      createdAt: expect.any(String),
    });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const list = await app.inject({ method: 'GET', url: '/v1/webhooks', headers: SHOP });
    expect(list.json()).toEqual({
      webhooks: [
        {
          id: body.id,
          url: PUBLIC_URL,
          events: ['order.failed', 'order.succeeded'],
          createdAt: body.createdAt,
        },
      ],
    });
    expect(list.body).not.toContain('whsec_');
    // Nothing in the ledger signs: the stored endpoint has no secret.
    expect(JSON.stringify(await ledger.getEndpoint('shop', body.id))).not.toContain('whsec_');
    // Without events: every type.
    const all = await register({ url: 'https://93.184.215.14/all' });
    expect((all.json() as { events: string[] }).events).toEqual([
      'order.succeeded',
      'order.failed',
      'order.reversed',
      'order.manual_review',
      'batch.completed',
    ]);
  });

  it('refuses a bad body with 400, naming each field and rule', async () => {
    const res = await register({
      url: 'ftp://shop.example/x',
      events: ['order.succeeded', 'order.shipped'],
      secret: 'x',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'validation_failed' });
    expect(
      (res.json() as { issues: { field: string; rule: string }[] }).issues.map((i) => `${i.field}:${i.rule}`),
    ).toEqual(['secret:unknown_field', 'url:protocol', 'events.1:event_type']);
    const rules = async (body: unknown) =>
      ((await register(body)).json() as { issues: { field: string; rule: string }[] }).issues.map(
        (i) => `${i.field}:${i.rule}`,
      );
    expect(await rules({})).toEqual(['url:required']);
    expect(await rules({ url: 'https://u:p@shop.example/x' })).toEqual(['url:no_userinfo']);
    expect(await rules({ url: `https://shop.example/${'a'.repeat(2_100)}` })).toEqual(['url:max_length']);
    expect(await rules({ url: PUBLIC_URL, events: [] })).toEqual(['events:min_items']);
    expect(await rules({ url: PUBLIC_URL, events: 'order.failed' })).toEqual(['events:type']);
    expect(await rules([])).toEqual(['(body):json_object']);
  });

  it('refuses loopback, private and link-local destinations with 422 (WEBHOOK_ALLOW_PRIVATE off)', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost:8080/hook',
      'http://[::1]/hook',
      'http://[::ffff:10.0.0.1]/hook',
      'http://192.168.1.20/hook',
      'http://169.254.169.254/latest/meta-data/',
    ]) {
      const res = await register({ url });
      expect(res.statusCode, url).toBe(422);
      expect(res.json(), url).toMatchObject({
        error: 'webhook_url_refused',
        issues: [{ field: 'url', rule: 'public_address' }],
      });
    }
  });

  it('answers 503 in the error shape where webhooks are not configured', async () => {
    const res = await register({ url: PUBLIC_URL }, SHOP, unconfigured);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      error: 'webhooks_not_configured',
      message: expect.stringContaining('WEBHOOK_SIGNING_SECRET'),
    });
  });

  it('caps the endpoints of one client (409); other clients are not affected', async () => {
    const before = (
      (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: SHOP })).json() as {
        webhooks: unknown[];
      }
    ).webhooks.length;
    for (let i = before; i < 3; i++)
      expect((await register({ url: `${PUBLIC_URL}&n=${i}` })).statusCode).toBe(201);
    const over = await register({ url: `${PUBLIC_URL}&n=over` });
    expect(over.statusCode).toBe(409);
    expect(over.json()).toMatchObject({ error: 'too_many_webhooks' });
    expect((await register({ url: PUBLIC_URL }, OTHER)).statusCode).toBe(201);
  });
});

describe('an endpoint of its own only', () => {
  it('lists, deletes and reads deliveries of its own endpoints; another client gets 404', async () => {
    const mine = (
      (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: OTHER })).json() as {
        webhooks: { id: string }[];
      }
    ).webhooks[0]!.id;
    for (const [method, url] of [
      ['DELETE', `/v1/webhooks/${mine}`],
      ['GET', `/v1/webhooks/${mine}/deliveries`],
      ['POST', `/v1/webhooks/${mine}/deliveries/wd_${'0'.repeat(32)}/retry`],
    ] as const) {
      const res = await app.inject({ method, url, headers: { authorization: SHOP.authorization } });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toMatchObject({ error: 'webhook_not_found' });
    }
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${mine}`,
      headers: { authorization: OTHER.authorization },
    });
    expect(deleted.statusCode).toBe(204);
    const again = await app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${mine}`,
      headers: { authorization: OTHER.authorization },
    });
    expect(again.statusCode).toBe(404);
  });

  it('pages deliveries with their attempts, and a retry reopens one and queues it (202)', async () => {
    const hook = (
      (await app.inject({ method: 'GET', url: '/v1/webhooks', headers: SHOP })).json() as {
        webhooks: { id: string }[];
      }
    ).webhooks[0]!.id;
    const read = (query = '') =>
      app.inject({
        method: 'GET',
        url: `/v1/webhooks/${hook}/deliveries${query}`,
        headers: { authorization: SHOP.authorization },
      });
    expect((await read()).json()).toEqual({ deliveries: [], nextCursor: null });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const eventId = `evt_${String(i).repeat(32)}`;
      const id = deliveryId(eventId, hook);
      ids.push(id);
      const at = new Date(Date.now() - (3 - i) * 60_000).toISOString();
      await ledger.createDelivery({
        id,
        endpointId: hook,
        clientId: 'shop',
        eventId,
        type: 'order.failed',
        subject: { kind: 'order', orderId: `o-${i}`, version: 3 },
        createdAt: at,
        state: 'pending',
        attempts: [],
        updatedAt: at,
      });
    }
    await ledger.recordAttempt(
      ids[2]!,
      { at: new Date().toISOString(), status: 500, durationMs: 12, body: 'oops' },
      'failed',
    );
    const first = (await read('?limit=2')).json() as {
      deliveries: { id: string; state: string; attempts: unknown[] }[];
      nextCursor: string | null;
    };
    expect(first.deliveries.map((d) => d.id)).toEqual([ids[2], ids[1]]);
    expect(first.deliveries[0]).toMatchObject({
      state: 'failed',
      type: 'order.failed',
      eventId: `evt_${'2'.repeat(32)}`,
      subject: { kind: 'order', orderId: 'o-2', version: 3 },
      attempts: [{ status: 500, error: null, durationMs: 12, body: 'oops' }],
    });
    const second = (await read(`?limit=2&cursor=${first.nextCursor}`)).json() as {
      deliveries: { id: string }[];
      nextCursor: string | null;
    };
    expect(second).toEqual({ deliveries: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    expect((await read('?limit=0')).statusCode).toBe(400);
    expect(((await read('?page=2')).json() as { issues: { field: string }[] }).issues[0]?.field).toBe('page');

    const retry = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${hook}/deliveries/${ids[2]}/retry`,
      headers: { authorization: SHOP.authorization },
    });
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ id: ids[2], state: 'pending' });
    const job = await producer.queue('webhooks').getJob(ids[2]!);
    expect(job?.name).toBe('webhook.deliver');
    expect(job?.data).toEqual({ deliveryId: ids[2] });
    const unknown = await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${hook}/deliveries/wd_${'f'.repeat(32)}/retry`,
      headers: { authorization: SHOP.authorization },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'delivery_not_found' });
  });
});

describe('the webhook routes in the OpenAPI document', () => {
  it('are tagged webhooks, with every status code they answer', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      tags: { name: string }[];
      paths: Record<string, Record<string, { tags: string[]; responses: Record<string, unknown> }>>;
    };
    expect(doc.tags.map((t) => t.name)).toContain('webhooks');
    const post = doc.paths['/v1/webhooks']?.post;
    expect(post?.tags).toEqual(['webhooks']);
    expect(Object.keys(post?.responses ?? {}).sort()).toEqual(
      ['201', '400', '401', '409', '413', '415', '422', '429', '503'].sort(),
    );
    expect(Object.keys(doc.paths['/v1/webhooks/{webhookId}']?.delete?.responses ?? {}).sort()).toEqual(
      ['204', '400', '401', '404', '429', '503'].sort(),
    );
    expect(
      doc.paths['/v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry']?.post?.responses,
    ).toHaveProperty('202');
  });
});
