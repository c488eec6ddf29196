import { randomUUID } from 'node:crypto';
import { freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// An order no enabled provider can take is refused at submit, through the real parts: the API (422,
// nothing written) and the worker's CSV import (the row rejected with the reason, the others recharged).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const KEY = `enabled-key-${randomUUID()}`;
const QUEUE_PREFIX = `rf-test-enabled-${run}`;
const LEDGER_PREFIX = `${QUEUE_PREFIX}:ledger`;
// One table for every deployment: ATV goes to the backup account, which this one does not run.
const ROUTING_TABLE = JSON.stringify({
  rules: [{ operators: ['ATV'], providers: ['a1topup_backup'] }],
  default: ['a1topup'],
});
const shared = {
  REDIS_URL,
  QUEUE_PREFIX,
  LEDGER_PREFIX,
  API_KEYS: `shop:${KEY}`,
  A1TOPUP_USERNAME: 'enabled-user',
  A1TOPUP_PASSWORD: `pw-${randomUUID()}`,
};
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const parts: RunningPart[] = [];
const urls = { plain: '', tabled: '', wide: '' };
let redis: Redis;

const TELGOO5_ORDER = {
  orderId: 'tg-off-1',
  operator: 'TELGOO5',
  number: '2065550123',
  amount: 12,
  telgoo5: {
    enrollmentId: 'AGKN4441',
    planCode: '12',
    topupType: 'ADDON',
    paymentToken: 'pm_9503946000062304',
    billingState: 'WA',
    billingCity: 'Seattle',
  },
};

async function post(base: string, body: unknown) {
  const res = await fetch(`${base}/v1/recharges`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function get(base: string, path: string) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: headers.authorization } });
  return { status: res.status, text: await res.text() };
}

async function keysLike(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Everything the ledger holds of orders, and every queue of a provider that is not enabled. */
async function orderFootprint() {
  return {
    orders: await keysLike(`${LEDGER_PREFIX}:order:*`),
    histories: await keysLike(`${LEDGER_PREFIX}:history:*`),
    providerOrders: await keysLike(`${LEDGER_PREFIX}:provider-order:*`),
    created: await redis.zcard(`${LEDGER_PREFIX}:client:shop:orders`),
    disabledQueues: [
      ...(await keysLike(`${QUEUE_PREFIX}:*telgoo5*`)),
      ...(await keysLike(`${QUEUE_PREFIX}:*a1topup_backup*`)),
    ],
  };
}

function startApi(label: string, env: Record<string, string>): string {
  const port = env.PORT!;
  parts.push(startApp('api', { ...shared, ...env }, label));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  const [simPort, plainPort, tabledPort, widePort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const sim = `http://127.0.0.1:${simPort}`;
  parts.push(startApp('simulator', { ...shared, SIMULATOR_PORT: String(simPort) }));
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  // The issue's case: no routing table, PROVIDERS as outside `npm start`.
  urls.plain = startApi('api-plain', { PORT: String(plainPort), PROVIDERS: 'a1topup' });
  urls.tabled = startApi('api-tabled', {
    PORT: String(tabledPort),
    PROVIDERS: 'a1topup',
    ROUTING_TABLE,
  });
  // The same table where the backup runs too (its worker is not part of this test).
  urls.wide = startApi('api-wide', {
    PORT: String(widePort),
    PROVIDERS: 'a1topup,a1topup_backup',
    ROUTING_TABLE,
  });
  parts.push(startApp('worker', { ...shared, PROVIDERS: 'a1topup', ROUTING_TABLE, A1TOPUP_BASE_URL: sim }));
  for (const base of Object.values(urls))
    await waitFor(`api ${base}`, async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined));
}, 60_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  const keys = await keysLike(`${QUEUE_PREFIX}*`);
  for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
  await redis.quit();
});

describe('an order whose route names no enabled provider', () => {
  it('TELGOO5 with PROVIDERS=a1topup and no table: 422 naming telgoo5 and PROVIDERS, nothing written', async () => {
    const before = await orderFootprint();
    const refused = await post(urls.plain, TELGOO5_ORDER);
    expect(refused.status).toBe(422);
    const message = 'TELGOO5 orders go to telgoo5, which is not enabled here (PROVIDERS=a1topup)';
    expect(refused.body).toEqual({
      error: 'provider_not_enabled',
      message: `operator: ${message}`,
      issues: [{ field: 'operator', rule: 'provider_enabled', message }],
    });
    // The same again: the same answer (nothing was stored to be found the second time).
    expect((await post(urls.plain, TELGOO5_ORDER)).status).toBe(422);
    expect((await get(urls.plain, '/v1/recharges/tg-off-1')).status).toBe(404);
    expect(JSON.parse((await get(urls.plain, '/v1/recharges')).text)).toEqual({
      orders: [],
      nextCursor: null,
    });
    expect(await orderFootprint()).toEqual(before);
    expect(before.created).toBe(0);
    // The route's document lists the 422 in the one error shape.
    const doc = JSON.parse((await get(urls.plain, '/docs/json')).text);
    const answer = doc.paths['/v1/recharges'].post.responses['422'];
    expect(answer.description).toMatch(/PROVIDERS/);
    expect(Object.keys(answer.content['application/json'].schema.properties)).toEqual([
      'error',
      'message',
      'issues',
    ]);
    // An A1Topup order on the same API is accepted as before.
    expect(
      (await post(urls.plain, { orderId: 'a-on-1', operator: 'A', number: '9800000000', amount: 10 })).status,
    ).toBe(202);
  });

  it('a table rule naming only a provider not enabled: 422 naming it; an order accepted where it was enabled stays idempotent', async () => {
    const atv = { orderId: 'atv-1', operator: 'ATV', circle: '5', number: '12345678', amount: 300 };
    const refused = await post(urls.tabled, atv);
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe(
      'operator: ATV orders go to a1topup_backup, which is not enabled here (PROVIDERS=a1topup)',
    );
    // TELGOO5 matches no rule of the table: telgoo5 only, refused the same way.
    expect((await post(urls.tabled, { ...TELGOO5_ORDER, orderId: 'tg-off-2' })).body.message).toMatch(
      /telgoo5, which is not enabled here \(PROVIDERS=a1topup\)/,
    );
    expect((await get(urls.tabled, '/v1/recharges/atv-1')).status).toBe(404);

    // Accepted by a deployment running the backup; repeated where it does not run: the same order (200),
    // and another body under its id is still the conflict it always was.
    const accepted = await post(urls.wide, atv);
    expect(accepted.status).toBe(202);
    expect(accepted.body.provider).toBe('a1topup_backup');
    const repeat = await post(urls.tabled, atv);
    expect(repeat.status).toBe(200);
    expect(repeat.body.providerOrderId).toBe(accepted.body.providerOrderId);
    expect((await post(urls.tabled, { ...atv, amount: 301 })).status).toBe(409);
  });

  it('a CSV row whose route names no enabled provider is rejected with the reason; the other rows are recharged', async () => {
    const csv = [
      'orderId,operator,circle,number,amount',
      'csv-1,A,5,9876500001,10',
      'csv-2,ATV,5,12345678,300',
      'csv-3,RC,5,9876500003,20',
    ].join('\n');
    const res = await fetch(`${urls.tabled}/v1/batches`, {
      method: 'POST',
      headers: { authorization: headers.authorization, 'content-type': 'text/csv' },
      body: `${csv}\n`,
    });
    expect(res.status).toBe(202);
    const { batchId } = (await res.json()) as { batchId: string };
    const done = await waitFor(
      'batch done',
      async () => {
        const view = JSON.parse((await get(urls.tabled, `/v1/batches/${batchId}`)).text);
        return view.state === 'done' ? view : undefined;
      },
      60_000,
      200,
    );
    expect(done.rows).toMatchObject({ read: 3, accepted: 2, rejected: 1 });
    expect(done.orders.success).toBe(2);

    const results = (await get(urls.tabled, `/v1/batches/${batchId}/results.csv`)).text
      .trimEnd()
      .split(/\r?\n/);
    expect(results).toHaveLength(4);
    const header = results[0]!.split(',');
    const rejected = results[2]!;
    expect(rejected.startsWith('csv-2,ATV,')).toBe(true);
    expect(rejected).toContain(
      'operator: ATV orders go to a1topup_backup, which is not enabled here (PROVIDERS=a1topup)',
    );
    expect(results[1]!.startsWith('csv-1,')).toBe(true);
    expect(results[3]!.startsWith('csv-3,')).toBe(true);
    for (const line of [results[1]!, results[3]!]) {
      expect(line.split(',')[header.indexOf('status')]).toBe('success');
    }
    expect((await get(urls.tabled, '/v1/recharges/csv-2')).status).toBe(404);
    expect(await keysLike(`${QUEUE_PREFIX}:*telgoo5*`)).toEqual([]);
  }, 90_000);
});
