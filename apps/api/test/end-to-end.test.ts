import { randomUUID } from 'node:crypto';
import { freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The whole system as real processes: simulator (as A1Topup), ingest API and worker, on the real
// Redis with a private key space. HTTP submit -> ledger -> BullMQ -> worker -> A1Topup -> ledger
// -> HTTP read.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const PASSWORD = `a1-pw-${randomUUID()}`;
const API_KEY = `e2e-key-${randomUUID()}`;
const NUMBER = '9876501234';
const env = {
  REDIS_URL,
  QUEUE_PREFIX: `rf-test-e2e-${run}`,
  LEDGER_PREFIX: `rf-test-e2e-${run}:ledger`,
  A1TOPUP_USERNAME: 'e2e-user',
  A1TOPUP_PASSWORD: PASSWORD,
  LOG_LEVEL: 'debug',
};
const parts: RunningPart[] = [];
let api = '';
let sim = '';

const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${api}/v1/recharges`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { status: string } };
}

async function get(orderId: string) {
  const res = await fetch(`${api}/v1/recharges/${orderId}`, { headers });
  return (await res.json()) as {
    status: string;
    providerOrderId: string;
    history: { to: string; note: string | null }[];
  };
}

function settled(orderId: string, states: string[]) {
  return waitFor(`${orderId} in ${states.join('|')}`, async () => {
    const order = await get(orderId);
    return states.includes(order.status) ? order : undefined;
  });
}

async function simOrder(providerOrderId: string) {
  const res = await fetch(`${sim}/_sim/orders/${providerOrderId}`);
  return res.status === 200 ? ((await res.json()) as { submissions: number }) : undefined;
}

beforeAll(async () => {
  const [simPort, apiPort] = [await freePort(), await freePort()];
  sim = `http://127.0.0.1:${simPort}`;
  api = `http://127.0.0.1:${apiPort}`;
  const simulator = startApp('simulator', { ...env, SIMULATOR_PORT: String(simPort), SIM_HOLD_MS: '5000' });
  parts.push(simulator);
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  parts.push(startApp('api', { ...env, PORT: String(apiPort), API_KEYS: `shop:${API_KEY}` }));
  parts.push(
    startApp('worker', {
      ...env,
      A1TOPUP_BASE_URL: sim,
      PROVIDER_TIMEOUT_MS: '1500',
      A1TOPUP_CONCURRENCY: '4',
    }),
  );
  await waitFor('api ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined));
  await parts[2]?.waitForLine(/recharge worker running/);
}, 60_000);

afterAll(async () => {
  const codes = await Promise.all(parts.map((p) => p.stop()));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`rf-test-e2e-${run}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  expect(codes).toEqual([0, 0, 0]);
});

describe('one recharge end to end', () => {
  it('reaches success; the same request again is 200 with the same order; another amount is 409', async () => {
    const body = { orderId: 'e2e-1', operator: 'A', circle: '5', number: NUMBER, amount: 10 };
    const created = await post(body);
    expect(created.status).toBe(202);
    const done = await settled('e2e-1', ['success', 'failed', 'pending']);
    expect(done.status).toBe('success');
    expect(done.history.map((h) => h.to)).toEqual(['queued', 'processing', 'success']);
    const again = await post(body);
    expect(again.status).toBe(200);
    expect(again.body.providerOrderId).toBe(created.body.providerOrderId);
    expect(again.body.status).toBe('success');
    const conflict = await post({ ...body, amount: 20 });
    expect(conflict.status).toBe(409);
    expect((await simOrder(done.providerOrderId))?.submissions).toBe(1);
  });

  it('answers 400 naming operator, number and amount for a body bad in all three', async () => {
    const res = await post({ orderId: 'e2e-bad', operator: 'ZZZ', number: 'abc', amount: 0 });
    expect(res.status).toBe(400);
    const fields = (res.body.issues as { field: string }[]).map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['operator', 'number', 'amount']));
  });

  it('a provider timeout after it recorded the order ends pending, submitted exactly once', async () => {
    await post({ orderId: 'e2e-timeout', operator: 'A', circle: '5', number: NUMBER, amount: 31 });
    const order = await settled('e2e-timeout', ['success', 'failed', 'pending']);
    expect(order.status).toBe('pending');
    expect((await simOrder(order.providerOrderId))?.submissions).toBe(1);
  });

  it('a garbage answer ends pending, submitted exactly once; a definite failure ends failed', async () => {
    await post({ orderId: 'e2e-garbage', operator: 'A', circle: '5', number: NUMBER, amount: 37 });
    await post({ orderId: 'e2e-failure', operator: 'A', circle: '5', number: NUMBER, amount: 13 });
    const garbage = await settled('e2e-garbage', ['success', 'failed', 'pending']);
    const failure = await settled('e2e-failure', ['success', 'failed', 'pending']);
    expect(garbage.status).toBe('pending');
    expect(failure.status).toBe('failed');
    expect((await simOrder(garbage.providerOrderId))?.submissions).toBe(1);
    expect((await simOrder(failure.providerOrderId))?.submissions).toBe(1);
  });

  it('keeps the provider password and full phone numbers out of every log line of the run', async () => {
    // Stop first so every line is flushed, then read all of them.
    await Promise.all(parts.map((p) => p.stop()));
    const lines = parts.flatMap((p) => p.lines.map((l) => `${p.name}: ${l}`));
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((l) => l.includes(PASSWORD))).toEqual([]);
    expect(lines.filter((l) => l.includes(NUMBER))).toEqual([]);
    expect(lines.filter((l) => l.includes(API_KEY))).toEqual([]);
  });
});
