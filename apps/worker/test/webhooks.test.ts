import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Order } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import {
  checkSimulatorBooks,
  deleteByPrefix,
  freePort,
  type RunningPart,
  startApp,
  waitFor,
} from '@rechargeflow/testkit';
import { verifySignature } from '@rechargeflow/webhooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Signed webhooks end to end, as real processes: simulator (as A1Topup), the API and a worker on the
// real Redis, and three receivers on loopback in this process — one that takes everything, one that
// answers 500 twice per event before 200, and one whose port is closed for a while. Orders end
// success (amount 10) and failed (amount 13, the simulator's refusal), plus a CSV batch. A second
// API without WEBHOOK_ALLOW_PRIVATE refuses loopback URLs. The providers' books must agree with the
// ledger at the end, like every real-process test.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const PREFIX = `rf-test-webhooks-e2e-${run}`;
const API_KEY = `wh-key-${randomUUID()}`;
const PASSWORD = `wh-pw-${randomUUID()}`;
const SIGNING_KEY = `wh-signing-${randomUUID()}`;
const shared = {
  REDIS_URL,
  QUEUE_PREFIX: PREFIX,
  LEDGER_PREFIX: `${PREFIX}:ledger`,
  A1TOPUP_USERNAME: 'wh-user',
  A1TOPUP_PASSWORD: PASSWORD,
  WEBHOOK_SIGNING_SECRET: SIGNING_KEY,
};
const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const SUCCESS_IDS = Array.from({ length: 6 }, (_, i) => `wh-ok-${i}`);
const FAILED_IDS = Array.from({ length: 3 }, (_, i) => `wh-fail-${i}`);
const BATCH_IDS = ['wh-batch-0', 'wh-batch-1', 'wh-batch-2'];
const ORDER_IDS = [...SUCCESS_IDS, ...FAILED_IDS, ...BATCH_IDS];

interface Delivery {
  readonly raw: string;
  readonly eventId: string;
  readonly signature: string;
  readonly body: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
}

/** A receiver on loopback: what it got, and what it answers (500 for the first `failures` per event). */
class Receiver {
  readonly got: Delivery[] = [];
  readonly server: Server;
  readonly #seen = new Map<string, number>();
  readonly failures: number;

  constructor(failures = 0) {
    this.failures = failures;
    this.server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const eventId = String(request.headers['rechargeflow-event-id']);
        this.got.push({
          raw,
          eventId,
          signature: String(request.headers['rechargeflow-signature']),
          body: JSON.parse(raw) as Delivery['body'],
        });
        const seen = (this.#seen.get(eventId) ?? 0) + 1;
        this.#seen.set(eventId, seen);
        if (seen <= this.failures) response.writeHead(500).end('busy, try later');
        else response.writeHead(200).end('ok');
      });
    });
  }

  listen(port = 0): Promise<string> {
    return new Promise((resolve) =>
      this.server.listen(port, '127.0.0.1', () => {
        const address = this.server.address() as { port: number };
        resolve(`http://127.0.0.1:${address.port}`);
      }),
    );
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }

  /** Event ids received, each with how often. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const d of this.got) counts.set(d.eventId, (counts.get(d.eventId) ?? 0) + 1);
    return counts;
  }
}

const parts: RunningPart[] = [];
const all = new Receiver();
const flaky = new Receiver(2);
const late = new Receiver();
let latePort = 0;
let api = '';
let strictApi = '';
let sim = '';
let redis: Redis;
let ledger: LedgerStore;
const secrets: Record<string, string> = {};
const endpointIds: Record<string, string> = {};

/** An API answer, read field by field. */
interface Answer {
  readonly [field: string]: unknown;
  readonly id?: string;
  readonly secret?: string;
  readonly batchId?: string;
  readonly orderId?: string;
  readonly status?: string;
  readonly webhooks?: readonly unknown[];
  readonly deliveries?: readonly {
    readonly id: string;
    readonly eventId: string;
    readonly state: string;
    readonly attempts: readonly { status: number | null; error: string | null; body: string | null }[];
  }[];
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  type = 'application/json',
): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, 'content-type': type },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Answer };
}

beforeAll(async () => {
  const [simPort, apiPort, strictPort] = [await freePort(), await freePort(), await freePort()];
  latePort = await freePort();
  sim = `http://127.0.0.1:${simPort}`;
  api = `http://127.0.0.1:${apiPort}`;
  strictApi = `http://127.0.0.1:${strictPort}`;
  parts.push(startApp('simulator', { ...shared, SIMULATOR_PORT: String(simPort) }));
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  parts.push(
    startApp('api', {
      ...shared,
      PORT: String(apiPort),
      API_KEYS: `shop:${API_KEY}`,
      WEBHOOK_ALLOW_PRIVATE: 'true',
    }),
    // The same deployment's settings without WEBHOOK_ALLOW_PRIVATE: loopback receivers are refused.
    startApp('api', { ...shared, PORT: String(strictPort), API_KEYS: `shop:${API_KEY}` }, 'api-strict'),
    startApp('worker', {
      ...shared,
      A1TOPUP_BASE_URL: sim,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_FIRST_MS: '200',
      WEBHOOK_TIMEOUT_MS: '2000',
    }),
  );
  for (const base of [api, strictApi])
    await waitFor('api ready', async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), 30_000);
  await parts[3]?.waitForLine(/recharge worker running/, 30_000);
  redis = new Redis(REDIS_URL);
  ledger = createRedisLedgerStore({ redis, prefix: shared.LEDGER_PREFIX });

  const allBase = await all.listen();
  const flakyBase = await flaky.listen();
  for (const [name, url, events] of [
    ['all', `${allBase}/hooks`, undefined],
    ['flaky', `${flakyBase}/hooks`, ['order.succeeded', 'order.failed']],
    // Nothing listens here yet.
    ['late', `http://127.0.0.1:${latePort}/hooks`, undefined],
  ] as const) {
    const res = await call(api, 'POST', '/v1/webhooks', events ? { url, events } : { url });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    secrets[name] = String(res.body.secret);
    endpointIds[name] = String(res.body.id);
  }
}, 90_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  await Promise.all([all.close(), flaky.close(), late.close()]);
  if (redis) {
    await deleteByPrefix(redis, PREFIX);
    await ledger.close();
    redis.disconnect();
  }
});

describe('signed webhooks on every final order, as real processes', () => {
  it('registering a loopback or private URL without WEBHOOK_ALLOW_PRIVATE is refused (422)', async () => {
    for (const url of [
      `http://127.0.0.1:${latePort}/hooks`,
      `http://localhost:${latePort}/hooks`,
      'http://10.1.2.3/hooks',
    ]) {
      const res = await call(strictApi, 'POST', '/v1/webhooks', { url });
      expect(res.status, url).toBe(422);
      expect(res.body).toMatchObject({
        error: 'webhook_url_refused',
        issues: [{ field: 'url', rule: 'public_address' }],
      });
    }
    expect((await call(strictApi, 'GET', '/v1/webhooks')).body.webhooks).toHaveLength(3);
  });

  it('each receiver gets every event: once when it answers 2xx, three times after 500, 500; the late one once it is back', async () => {
    for (const [ids, amount] of [
      [SUCCESS_IDS, 10],
      [FAILED_IDS, 13],
    ] as const) {
      for (const [i, orderId] of ids.entries()) {
        const res = await call(api, 'POST', '/v1/recharges', {
          orderId,
          operator: 'A',
          circle: '5',
          number: String(9_800_100_000 + amount * 100 + i),
          amount,
        });
        expect(res.status).toBe(202);
      }
    }
    const csv = `orderId,operator,circle,number,amount\n${BATCH_IDS.map((id, i) => `${id},A,5,98002000${10 + i},10`).join('\n')}\n`;
    const batch = await call(api, 'POST', '/v1/batches', csv, 'text/csv');
    expect(batch.status).toBe(202);
    const batchId = String(batch.body.batchId);

    const finals = await waitFor(
      'every order final',
      async () => {
        const orders = await Promise.all(ORDER_IDS.map((id) => call(api, 'GET', `/v1/recharges/${id}`)));
        return orders.every((o) => o.status === 200 && ['success', 'failed'].includes(String(o.body.status)))
          ? new Map(orders.map((o) => [String(o.body.orderId), o.body]))
          : undefined;
      },
      30_000,
      200,
    );
    expect(SUCCESS_IDS.concat(BATCH_IDS).map((id) => finals.get(id)?.status)).toEqual(
      Array(9).fill('success'),
    );
    expect(FAILED_IDS.map((id) => finals.get(id)?.status)).toEqual(Array(3).fill('failed'));

    // The receiver that takes everything: one event per final order and one batch.completed.
    const expected = ORDER_IDS.length + 1;
    await waitFor(
      'every event at the receiver',
      async () => (all.counts().size >= expected ? true : undefined),
      30_000,
      100,
    );
    // The late one is still down: its deliveries wait, each attempt recorded as refused.
    const waiting = await waitFor(
      'an attempt at every late delivery',
      async () => {
        const res = await call(api, 'GET', `/v1/webhooks/${endpointIds.late}/deliveries?limit=100`);
        const deliveries = res.body.deliveries ?? [];
        return deliveries.length === expected && deliveries.every((d) => d.attempts.length > 0)
          ? deliveries
          : undefined;
      },
      20_000,
      100,
    );
    for (const d of waiting) {
      expect(d.state).toBe('pending');
      expect(d.attempts.map((a) => a.error)).toEqual(Array(d.attempts.length).fill('connection refused'));
    }
    expect(late.got).toEqual([]);
    // Down for a while longer, then back.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await late.listen(latePort);

    await waitFor(
      'three attempts per event at the flaky receiver',
      async () => {
        const counts = flaky.counts();
        return counts.size >= ORDER_IDS.length && [...counts.values()].every((n) => n >= 3)
          ? true
          : undefined;
      },
      30_000,
      100,
    );
    await waitFor(
      'every event at the late receiver',
      async () => (late.counts().size >= expected ? true : undefined),
      30_000,
      100,
    );
    // Nothing more arrives (no duplicate delivery in flight).
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    const orderEvents = (receiver: Receiver) =>
      new Map(
        receiver.got
          .filter((d) => d.body.type.startsWith('order.'))
          .map((d) => [String(d.body.data.orderId), d]),
      );
    for (const [name, receiver] of [
      ['all', all],
      ['late', late],
    ] as const) {
      expect([...receiver.counts().values()], name).toEqual(Array(expected).fill(1));
      for (const d of receiver.got) {
        expect(verifySignature(d.raw, d.signature, secrets[name]!), name).toBe(true);
        expect(d.body.id).toBe(d.eventId);
      }
      const byOrder = orderEvents(receiver);
      expect([...byOrder.keys()].sort(), name).toEqual([...ORDER_IDS].sort());
      for (const [orderId, d] of byOrder) {
        const order = finals.get(orderId)!;
        expect(d.body.type).toBe(order.status === 'success' ? 'order.succeeded' : 'order.failed');
        // `data` is exactly what GET /v1/recharges/:id answers.
        expect(d.body.data, orderId).toEqual(order);
      }
      const completed = receiver.got.filter((d) => d.body.type === 'batch.completed');
      expect(completed).toHaveLength(1);
      expect(completed[0]?.body.data).toMatchObject({ batchId, state: 'done', orders: { success: 3 } });
    }
    // The same event ids went to every endpoint, signed with each endpoint's own secret.
    expect([...late.counts().keys()].sort()).toEqual([...all.counts().keys()].sort());
    expect(verifySignature(all.got[0]!.raw, all.got[0]!.signature, secrets.late!)).toBe(false);

    // The flaky one: each order event three times with the same id; no batch event (not subscribed).
    expect([...flaky.counts().values()]).toEqual(Array(ORDER_IDS.length).fill(3));
    expect(flaky.got.every((d) => d.body.type !== 'batch.completed')).toBe(true);
    for (const d of flaky.got) expect(verifySignature(d.raw, d.signature, secrets.flaky!)).toBe(true);
    const flakyDeliveries = await call(api, 'GET', `/v1/webhooks/${endpointIds.flaky}/deliveries?limit=100`);
    expect(flakyDeliveries.body.deliveries).toHaveLength(ORDER_IDS.length);
    for (const d of flakyDeliveries.body.deliveries ?? []) {
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
      expect(d.attempts[0]?.body).toBe('busy, try later');
    }

    // A manual retry sends a delivered event again, with the same event id.
    const one = (await call(api, 'GET', `/v1/webhooks/${endpointIds.all}/deliveries?limit=1`)).body
      .deliveries?.[0];
    const retry = await call(api, 'POST', `/v1/webhooks/${endpointIds.all}/deliveries/${one?.id}/retry`);
    expect(retry.status).toBe(202);
    await waitFor(
      'resent',
      async () => (all.counts().get(String(one?.eventId)) === 2 ? true : undefined),
      10_000,
      100,
    );

    // The books: every order sent once, the providers' records and the ledger agree.
    const orders = (
      await Promise.all(ORDER_IDS.map((orderId) => ledger.getOrder({ clientId: 'shop', orderId })))
    ).filter((o): o is Order => o !== null);
    const { verdict } = await checkSimulatorBooks({ simulators: { a1topup: sim }, orders, ledger });
    expect(verdict.problems).toEqual([]);
    expect(verdict.received).toBe(ORDER_IDS.length);
    expect(verdict.charges).toBe(SUCCESS_IDS.length + BATCH_IDS.length);
  }, 120_000);

  it('keeps the signing key and every endpoint secret out of the logs', async () => {
    await Promise.all(parts.map((p) => p.stop()));
    const lines = parts.flatMap((p) => p.lines);
    expect(lines.length).toBeGreaterThan(10);
    for (const secret of [SIGNING_KEY, ...Object.values(secrets)])
      expect(lines.filter((l) => l.includes(secret))).toEqual([]);
  });
});
