import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type OrderKey,
  type OrderState,
  paise,
  providerOrderId,
  type RechargeRequest,
  requestFingerprint,
} from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore, type WebhookEventType } from '@rechargeflow/ledger';
import { toOrderView } from '@rechargeflow/orders';
import { JobProducer } from '@rechargeflow/queue';
import { deleteByPrefix, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWebhookSender,
  deliverWebhook,
  deliveryId,
  dispatchOutbox,
  endpointSecret,
  enqueueDeliveryNow,
  orderEventId,
  requeueStrandedDeliveries,
  startWebhookWorker,
  verifySignature,
  type WebhookWorker,
} from '../src/index.ts';

// The dispatcher and the delivery job in this process, on the real Redis ledger and BullMQ, with
// real loopback receivers: the outbox the ledger writes with each transition becomes one signed
// POST per subscribed endpoint, retried on the back-off until a 2xx.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `rf-test-webhooks-${randomUUID().slice(0, 8)}`;
const KEY = `signing-key-${randomUUID()}`;
const CLIENT = 'shop';
const REQUEST: RechargeRequest = { operator: 'A', circle: '5', number: '9876501234', amount: paise(1000) };

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: string;
  readonly at: number;
}
const received: Received[] = [];
/** Per path: how many requests to answer 500 before answering 200. */
const failFirst = new Map<string, number>();
let receiver: Server;
let base = '';
let redis: Redis;
let queueRedis: Redis;
let ledger: LedgerStore;
let producer: JobProducer;
let worker: WebhookWorker;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const path = request.url ?? '';
      received.push({
        path,
        headers: request.headers,
        raw: Buffer.concat(chunks).toString(),
        at: Date.now(),
      });
      const left = failFirst.get(path) ?? 0;
      if (left > 0) {
        failFirst.set(path, left - 1);
        response.writeHead(500).end('try later');
      } else response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  redis = new Redis(REDIS_URL);
  queueRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  ledger = createRedisLedgerStore({ redis, prefix: `${PREFIX}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: PREFIX });
  worker = startWebhookWorker(
    { redis: queueRedis, store: ledger, producer, log: silent },
    {
      signingKey: KEY,
      allowPrivate: true,
      retryForMs: 60_000,
      retryFirstMs: 150,
      timeoutMs: 2_000,
      concurrency: 4,
      prefix: PREFIX,
    },
  );
});

afterAll(async () => {
  await worker?.consumer?.close();
  await worker?.close();
  await producer?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  if (redis) {
    await deleteByPrefix(redis, PREFIX);
    await ledger.close();
    redis.disconnect();
    queueRedis.disconnect();
  }
});

/** A new order walked to `target` through the ledger's own transitions (each writes the outbox). */
async function orderIn(orderId: string, path: readonly OrderState[], store = ledger): Promise<OrderKey> {
  const key = { clientId: CLIENT, orderId };
  const created = await store.createOrder({
    ...key,
    providerOrderId: providerOrderId(key),
    provider: 'a1topup',
    request: REQUEST,
    fingerprint: requestFingerprint(REQUEST),
    now: new Date().toISOString(),
  });
  let state = created.order.state;
  for (const to of path) {
    const result = await store.transition(key, {
      expect: { state },
      to,
      entry: { at: new Date().toISOString(), source: 'worker' },
    });
    if (!result.applied) throw new Error(`${state} -> ${to}: ${result.reason}`);
    state = to;
  }
  return key;
}

async function endpoint(path: string, events?: WebhookEventType[], store = ledger) {
  const id = `we_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  const created = await store.createEndpoint(
    {
      id,
      clientId: CLIENT,
      url: `${base}${path}`,
      events: events ?? [
        'order.succeeded',
        'order.failed',
        'order.reversed',
        'order.manual_review',
        'batch.completed',
      ],
      createdAt: new Date().toISOString(),
    },
    10,
  );
  if (!created) throw new Error('endpoint not created');
  return { id, secret: endpointSecret(KEY, id) };
}

const at = (path: string) => received.filter((r) => r.path === path);

describe('webhooks from the outbox to the receiver', () => {
  it('one signed POST per final transition: the order as GET /v1/recharges/:id shows it', async () => {
    const hook = await endpoint('/all');
    const ok = await orderIn('w-ok', ['processing', 'success']);
    const failed = await orderIn('w-failed', ['processing', 'failed']);
    await waitFor('two events', async () => (at('/all').length >= 2 ? true : undefined), 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const events = at('/all').map((r) => ({ ...r, body: JSON.parse(r.raw) as Record<string, unknown> }));
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(verifySignature(event.raw, event.headers['rechargeflow-signature'] as string, hook.secret)).toBe(
        true,
      );
      expect(
        verifySignature(event.raw, event.headers['rechargeflow-signature'] as string, `${hook.secret}x`),
      ).toBe(false);
      expect(event.headers['content-type']).toBe('application/json');
      expect(event.headers['rechargeflow-event-id']).toBe(event.body.id);
      expect(Object.keys(event.body)).toEqual(['id', 'type', 'createdAt', 'data']);
    }
    const byOrder = new Map(events.map((e) => [(e.body.data as { orderId: string }).orderId, e.body]));
    const okOrder = await ledger.getOrder(ok);
    expect(byOrder.get('w-ok')).toEqual({
      id: orderEventId(CLIENT, 'w-ok', okOrder!.version),
      type: 'order.succeeded',
      createdAt: expect.any(String),
      data: JSON.parse(JSON.stringify(toOrderView(okOrder!))),
    });
    expect(byOrder.get('w-failed')?.type).toBe('order.failed');
    expect(byOrder.get('w-failed')?.data).toMatchObject({ status: 'failed' });
    const delivery = await ledger.getDelivery(
      deliveryId(orderEventId(CLIENT, 'w-failed', (await ledger.getOrder(failed))!.version), hook.id),
    );
    expect(delivery).toMatchObject({ state: 'delivered', attempts: [{ status: 200, body: 'ok' }] });
    await ledger.deleteEndpoint(CLIENT, hook.id);
  });

  it('answers 500, 500, then 200: three attempts with the same event id, on the back-off', async () => {
    const hook = await endpoint('/flaky', ['order.succeeded']);
    failFirst.set('/flaky', 2);
    const key = await orderIn('w-flaky', ['processing', 'success']);
    await waitFor('three attempts', async () => (at('/flaky').length >= 3 ? true : undefined), 10_000, 50);
    const attempts = at('/flaky');
    expect(new Set(attempts.map((a) => a.headers['rechargeflow-event-id'])).size).toBe(1);
    // Waits of 150 ms, then 300 ms (WEBHOOK_RETRY_FIRST_MS doubling).
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(140);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(290);
    const id = deliveryId(orderEventId(CLIENT, 'w-flaky', (await ledger.getOrder(key))!.version), hook.id);
    const delivery = await waitFor('delivered', async () => {
      const found = await ledger.getDelivery(id);
      return found?.state === 'delivered' ? found : undefined;
    });
    expect(delivery.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(delivery.attempts[0]?.body).toBe('try later');

    // A manual retry: reopened and sent again at once, with the same event id.
    await ledger.reopenDelivery(id);
    await enqueueDeliveryNow(producer, id);
    await waitFor('resent', async () => (at('/flaky').length >= 4 ? true : undefined), 10_000, 50);
    expect(at('/flaky')[3]?.headers['rechargeflow-event-id']).toBe(
      attempts[0]?.headers['rechargeflow-event-id'],
    );
    await ledger.deleteEndpoint(CLIENT, hook.id);
  });

  it('sends only the types an endpoint subscribed to', async () => {
    await endpoint('/failures', ['order.failed']);
    await orderIn('w-sub-ok', ['processing', 'success']);
    await orderIn('w-sub-failed', ['processing', 'failed']);
    await waitFor('the failure', async () => (at('/failures').length >= 1 ? true : undefined), 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(at('/failures').map((r) => (JSON.parse(r.raw) as { type: string }).type)).toEqual([
      'order.failed',
    ]);
  });

  it('several dispatchers at once create each delivery once, and the receiver gets it once', async () => {
    await endpoint('/once', ['order.reversed']);
    await orderIn('w-once', ['processing', 'success', 'reversed']);
    // The worker's own loop runs as well: four dispatchers race over the same outbox.
    const deps = { store: ledger, producer, log: silent };
    await Promise.all([dispatchOutbox(deps), dispatchOutbox(deps), dispatchOutbox(deps)]);
    await waitFor('the reversal', async () => (at('/once').length >= 1 ? true : undefined), 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(at('/once')).toHaveLength(1);
  });

  it('past WEBHOOK_RETRY_FOR a failed attempt ends the delivery failed; a deleted endpoint is dropped', async () => {
    // Subscribed to batches only: the dispatcher leaves this order's own event alone.
    const hook = await endpoint('/late', ['batch.completed']);
    failFirst.set('/late', 1);
    const key = await orderIn('w-late', ['processing', 'success']);
    const order = (await ledger.getOrder(key))!;
    const id = deliveryId(`evt_${'0'.repeat(32)}`, hook.id);
    const old = new Date(Date.now() - 2 * 3_600_000).toISOString();
    await ledger.createDelivery({
      id,
      endpointId: hook.id,
      clientId: CLIENT,
      eventId: `evt_${'0'.repeat(32)}`,
      type: 'order.succeeded',
      subject: { kind: 'order', orderId: order.orderId, version: order.version },
      createdAt: old,
      state: 'pending',
      attempts: [],
      updatedAt: old,
    });
    const sender = createWebhookSender({ timeoutMs: 2_000, allowPrivate: true });
    const outcomes: string[] = [];
    const deps = {
      store: ledger,
      sender,
      signingKey: KEY,
      retryForMs: 3_600_000,
      retryFirstMs: 150,
      log: silent,
      observer: { attempt: (outcome: string) => outcomes.push(outcome), outboxAge() {} },
    };
    expect(await deliverWebhook(deps, id)).toBe('failed');
    expect(await ledger.getDelivery(id)).toMatchObject({ state: 'failed', attempts: [{ status: 500 }] });
    // Delivered or failed: a second run of the same job sends nothing.
    expect(await deliverWebhook(deps, id)).toBe('skipped');
    await ledger.reopenDelivery(id);
    await ledger.deleteEndpoint(CLIENT, hook.id);
    expect(await deliverWebhook(deps, id)).toBe('dropped');
    expect((await ledger.getDelivery(id))?.attempts.at(-1)).toMatchObject({
      error: 'the endpoint was deleted',
    });
    expect(outcomes).toEqual(['failed', 'dropped']);
    await sender.close();
  });

  it('a run that lost its job while another delivered it records nothing over the delivery', async () => {
    const hook = await endpoint('/stale', ['batch.completed']);
    failFirst.set('/stale', 1);
    const key = await orderIn('w-stale', ['processing', 'success']);
    const order = (await ledger.getOrder(key))!;
    const id = deliveryId(`evt_${'1'.repeat(32)}`, hook.id);
    const now = new Date().toISOString();
    await ledger.createDelivery({
      id,
      endpointId: hook.id,
      clientId: CLIENT,
      eventId: `evt_${'1'.repeat(32)}`,
      type: 'order.succeeded',
      subject: { kind: 'order', orderId: order.orderId, version: order.version },
      createdAt: now,
      state: 'pending',
      attempts: [],
      updatedAt: now,
    });
    const real = createWebhookSender({ timeoutMs: 2_000, allowPrivate: true });
    const delivered = { at: new Date().toISOString(), status: 204, durationMs: 5 };
    // This run's POST is answered 500; meanwhile a second run (its job's lock lost) delivered it.
    const sender = {
      post: async (...args: Parameters<typeof real.post>) => {
        const result = await real.post(...args);
        await ledger.recordAttempt(id, delivered, 'delivered');
        return result;
      },
      close: () => real.close(),
    };
    const deps = {
      store: ledger,
      sender,
      signingKey: KEY,
      retryForMs: 3_600_000,
      retryFirstMs: 150,
      log: silent,
    };
    expect(await deliverWebhook(deps, id)).toBe('skipped');
    expect(await ledger.getDelivery(id)).toMatchObject({ state: 'delivered', attempts: [delivered] });
    await sender.close();
  });

  it('a delivery whose job failed for good is counted, and the poller sweep queues it again until delivered', async () => {
    // A ledger and queues of their own: no other dispatcher or consumer touches them.
    const store = createRedisLedgerStore({ redis, prefix: `${PREFIX}:stranded` });
    await store.init();
    const queues = `${PREFIX}-stranded`;
    const ownProducer = new JobProducer(queueRedis, { prefix: queues });
    let jobsFailed = 0;
    const own = startWebhookWorker(
      {
        redis: queueRedis,
        store,
        producer: ownProducer,
        log: silent,
        observer: { attempt() {}, outboxAge() {}, jobFailed: () => jobsFailed++ },
      },
      {
        signingKey: KEY,
        allowPrivate: true,
        retryForMs: 86_400_000,
        retryFirstMs: 150,
        timeoutMs: 2_000,
        concurrency: 1,
        prefix: queues,
      },
    );
    try {
      const hook = await endpoint('/stranded', ['batch.completed'], store);
      const key = await orderIn('w-stranded', ['processing', 'success'], store);
      const order = (await store.getOrder(key))!;
      const id = deliveryId(`evt_${'2'.repeat(32)}`, hook.id);
      const subject = { kind: 'order' as const, orderId: order.orderId, version: order.version };
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
      await store.createDelivery({
        id,
        endpointId: hook.id,
        clientId: CLIENT,
        eventId: `evt_${'2'.repeat(32)}`,
        type: 'order.succeeded',
        subject,
        createdAt: twoHoursAgo,
        state: 'pending',
        attempts: [],
        updatedAt: twoHoursAgo,
      });
      // Its job ends failed for good (the ledger answers what it cannot read), the outbox long acknowledged.
      const hash = `${PREFIX}:stranded:webhook:delivery:${id}`;
      await redis.hset(hash, 'subject', 'unreadable');
      await ownProducer.enqueueBulk('webhook.deliver', [{ payload: { deliveryId: id }, jobId: id }]);
      await waitFor('the job to fail', async () => (jobsFailed === 1 ? true : undefined), 10_000, 50);
      expect(await (await ownProducer.queue('webhooks').getJob(id))?.getState()).toBe('failed');
      expect(at('/stranded')).toHaveLength(0);

      // Readable again: the sweep finds it pending and unchanged for over an hour, and retries its job.
      await redis.hset(hash, 'subject', JSON.stringify(subject));
      const sweepDeps = { store, producer: ownProducer, log: silent };
      expect(await requeueStrandedDeliveries(sweepDeps, { limit: 100 })).toEqual({
        examined: 1,
        added: 0,
        retried: 1,
      });
      await waitFor(
        'the delivery',
        async () => ((await store.getDelivery(id))?.state === 'delivered' ? true : undefined),
        10_000,
        50,
      );
      expect(at('/stranded')).toHaveLength(1);
      // Delivered: no longer pending, nothing left to sweep.
      expect(await requeueStrandedDeliveries(sweepDeps, { limit: 100 })).toEqual({
        examined: 0,
        added: 0,
        retried: 0,
      });
      expect(jobsFailed).toBe(1);
    } finally {
      await own.consumer?.close();
      await own.close();
      await ownProducer.close();
    }
  });
});
