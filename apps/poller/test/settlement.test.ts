import { randomUUID } from 'node:crypto';
import { freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Pending orders settled by the provider's own books: the whole system as real processes
// (simulator, API, worker, two pollers), schedules compressed to seconds.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const TOKEN = `cb-token-${randomUUID()}`;
const CLIENT_KEY = `client-key-${randomUUID()}`;
const OPERATOR_KEY = `operator-key-${randomUUID()}`;
const PASSWORD = `pw-${randomUUID()}`;
const NUMBER = '9876512345';
const SCHEDULE = '2,1';
const shared = {
  REDIS_URL,
  QUEUE_PREFIX: `rf-test-settle-${run}`,
  LEDGER_PREFIX: `rf-test-settle-${run}:ledger`,
  A1TOPUP_USERNAME: 'settle-user',
  A1TOPUP_PASSWORD: PASSWORD,
  STATUS_POLL_SCHEDULE: SCHEDULE,
  PROVIDER_TIMEOUT_MS: '1500',
};
const poller = {
  ...shared,
  SWEEP_INTERVAL_MS: '250',
  PENDING_MAX_AGE: '8s',
  NOT_FOUND_GRACE: '2s',
  REVERSAL_CONFIRM_WINDOW: '3s',
};
const parts: RunningPart[] = [];
let api = '';
let sim = '';
const startedAt = new Date(Date.now() - 1_000).toISOString();

type View = {
  status: string;
  providerOrderId: string;
  history: { from: string | null; to: string; source: string; note: string | null; actor: string | null }[];
};

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

async function submit(orderId: string, amount: number, number = NUMBER): Promise<View> {
  const res = await fetch(`${api}/v1/recharges`, {
    method: 'POST',
    headers: auth(CLIENT_KEY),
    body: JSON.stringify({ orderId, operator: 'A', circle: '5', number, amount }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as View;
}

async function order(orderId: string): Promise<View> {
  return (await (
    await fetch(`${api}/v1/recharges/${orderId}`, { headers: auth(CLIENT_KEY) })
  ).json()) as View;
}

function until(orderId: string, state: string, timeoutMs = 20_000): Promise<View> {
  return waitFor(
    `${orderId} to be ${state}`,
    async () => {
      const o = await order(orderId);
      return o.status === state ? o : undefined;
    },
    timeoutMs,
  );
}

function callback(params: Record<string, string>, token = TOKEN) {
  return fetch(`${api}/callbacks/a1topup/${token}?${new URLSearchParams(params)}`);
}

async function simOrder(providerOrderId: string) {
  const res = await fetch(`${sim}/_sim/orders/${providerOrderId}`);
  return res.ok ? ((await res.json()) as { submissions: number; statusChecks: number }) : undefined;
}

async function simControl(path: string, body: unknown) {
  const res = await fetch(`${sim}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, `${path}: ${await res.clone().text()}`).toBeLessThan(300);
  return res.json();
}

beforeAll(async () => {
  const [simPort, apiPort] = [await freePort(), await freePort()];
  sim = `http://127.0.0.1:${simPort}`;
  api = `http://127.0.0.1:${apiPort}`;
  parts.push(
    startApp('simulator', {
      ...shared,
      SIMULATOR_PORT: String(simPort),
      SIM_SETTLE_AFTER_MS: '1000',
      SIM_HOLD_MS: '3000',
      SIM_CALLBACK_URL: `${api}/callbacks/a1topup/${TOKEN}`,
    }),
  );
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  parts.push(
    startApp('api', {
      ...shared,
      PORT: String(apiPort),
      API_KEYS: `shop:${CLIENT_KEY},ops:${OPERATOR_KEY}:operator`,
      CALLBACK_TOKEN: TOKEN,
    }),
  );
  parts.push(startApp('worker', { ...shared, A1TOPUP_BASE_URL: sim }));
  parts.push(startApp('poller', { ...poller, A1TOPUP_BASE_URL: sim }, 'poller-1'));
  parts.push(startApp('poller', { ...poller, A1TOPUP_BASE_URL: sim }, 'poller-2'));
  await waitFor('api ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined));
  for (const p of parts.slice(2)) await p.waitForLine(/running/);
}, 60_000);

afterAll(async () => {
  const codes = await Promise.all(parts.map((p) => p.stop()));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`rf-test-settle-${run}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  expect(codes.every((c) => c === 0)).toBe(true);
});

describe('pending orders settled', () => {
  it('a timed-out send is settled by the status API with exactly one submission', async () => {
    const created = await submit('to-1', 31);
    await until('to-1', 'pending');
    const done = await until('to-1', 'success');
    expect(done.history.at(-1)).toMatchObject({ from: 'pending', to: 'success', source: 'poller' });
    expect((await simOrder(created.providerOrderId))?.submissions).toBe(1);
  }, 30_000);

  it('pending -> success by polling when no callback comes', async () => {
    await simControl('/_sim/config', { callbackUrl: null });
    try {
      await submit('poll-1', 17);
      await until('poll-1', 'pending');
      const done = await until('poll-1', 'success');
      expect(done.history.at(-1)).toMatchObject({ to: 'success', source: 'poller' });
    } finally {
      await simControl('/_sim/config', { callbackUrl: `${api}/callbacks/a1topup/${TOKEN}` });
    }
  }, 30_000);

  it('pending -> failed by callback', async () => {
    await submit('cb-fail-1', 19);
    const done = await until('cb-fail-1', 'failed');
    expect(done.history.at(-1)).toMatchObject({ from: 'pending', to: 'failed', source: 'callback' });
  }, 30_000);

  it('success -> reversed by a verified reversal callback, with the amount in the reconciliation report', async () => {
    await submit('rev-1', 23);
    await until('rev-1', 'success');
    const reversed = await until('rev-1', 'reversed');
    expect(reversed.history.at(-1)).toMatchObject({ from: 'success', to: 'reversed', source: 'callback' });
    expect(reversed.history.at(-1)?.note).toMatch(/confirmed by the status API/);
    const res = await fetch(
      `${api}/v1/reconciliation?from=${encodeURIComponent(startedAt)}&to=${encodeURIComponent(new Date(Date.now() + 1_000).toISOString())}`,
      { headers: auth(OPERATOR_KEY) },
    );
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      providers: { provider: string; reversed: { count: number; amount: number } }[];
    };
    const a1 = report.providers.find((p) => p.provider === 'a1topup');
    expect(a1?.reversed.count).toBeGreaterThanOrEqual(1);
    expect(a1?.reversed.amount).toBeGreaterThanOrEqual(23);
    const client = await fetch(
      `${api}/v1/reconciliation?from=${encodeURIComponent(startedAt)}&to=${encodeURIComponent(new Date().toISOString())}`,
      {
        headers: auth(CLIENT_KEY),
      },
    );
    expect(client.status).toBe(403);
  }, 30_000);

  it('5 identical callbacks in parallel make exactly one transition', async () => {
    const created = await submit('dup-1', 31);
    await until('dup-1', 'pending', 10_000);
    const params = { txid: created.providerOrderId, status: 'Success', opid: 'OPDUP1' };
    const answers = await Promise.all(Array.from({ length: 5 }, () => callback(params)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const done = await until('dup-1', 'success');
    const transitions = done.history.filter((h) => h.from === 'pending');
    expect(transitions).toHaveLength(1);
  }, 30_000);

  it('out-of-order callbacks (the reversal before the late success) apply exactly once', async () => {
    const created = await submit('ooo-1', 10);
    await until('ooo-1', 'success');
    await simControl(`/_sim/reverse/${created.providerOrderId}`, { callback: false });
    expect((await callback({ txid: created.providerOrderId, status: 'Failure', opid: 'REV1' })).status).toBe(
      200,
    );
    const reversed = await until('ooo-1', 'reversed');
    expect((await callback({ txid: created.providerOrderId, status: 'Success', opid: 'OK1' })).status).toBe(
      200,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const after = await order('ooo-1');
    expect(after.status).toBe('reversed');
    // Applied once; the late Success is kept in the history as a fact, not applied.
    expect(after.history.slice(0, reversed.history.length)).toEqual(reversed.history);
    expect(after.history.slice(reversed.history.length)).toMatchObject([
      { from: 'reversed', to: 'reversed', source: 'callback', providerStatus: 'Success' },
    ]);
  }, 30_000);

  it('a reversal the status API does not confirm is asked about again, then kept for an operator, who can record it', async () => {
    const created = await submit('unconfirmed-1', 10);
    await until('unconfirmed-1', 'success');
    const sent = Date.now();
    expect((await callback({ txid: created.providerOrderId, status: 'Failure', opid: 'OPREV' })).status).toBe(
      200,
    );
    const stored = await waitFor(
      'the callback outcome',
      async () => {
        const res = await fetch(`${api}/v1/callbacks?outcome=reversal_not_confirmed`, {
          headers: auth(OPERATOR_KEY),
        });
        const { callbacks } = (await res.json()) as {
          callbacks: { id: string; providerOrderId: string; note: string }[];
        };
        return callbacks.find((c) => c.providerOrderId === created.providerOrderId);
      },
      25_000,
    );
    // Asked again for REVERSAL_CONFIRM_WINDOW (3 s) before giving up: more than one status check.
    expect(Date.now() - sent).toBeGreaterThanOrEqual(3_000);
    expect((await simOrder(created.providerOrderId))?.statusChecks).toBeGreaterThanOrEqual(2);
    expect(stored.note).toMatch(/still reports success .* record it with POST/);
    expect((await order('unconfirmed-1')).status).toBe('success');

    // The operator checked with the provider: the reversal is real. Recorded with who and why.
    const reverse = (key: string, body: unknown, orderId = 'unconfirmed-1') =>
      fetch(`${api}/v1/recharges/${orderId}/reverse`, {
        method: 'POST',
        headers: auth(key),
        body: JSON.stringify(body),
      });
    expect((await reverse(CLIENT_KEY, { reason: 'mine now' })).status).toBe(403);
    const bad = await reverse(OPERATOR_KEY, { clientId: 'shop', callbackId: 'nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: { field: string }[] }).issues.map((i) => i.field).sort()).toEqual(
      ['callbackId', 'reason'],
    );
    const done = await reverse(OPERATOR_KEY, {
      clientId: 'shop',
      callbackId: stored.id,
      reason: 'A1Topup support confirmed the dispute (ticket 4411)',
    });
    expect(done.status).toBe(200);
    const view = (await done.json()) as View & { reversal: { amount: number; callbackId: string } };
    expect(view.status).toBe('reversed');
    expect(view.reversal).toMatchObject({ amount: 10, callbackId: stored.id });
    expect(view.history.at(-1)).toMatchObject({
      from: 'success',
      to: 'reversed',
      source: 'operator',
      actor: 'ops (operator)',
    });
    expect(view.history.at(-1)?.note).toContain('ticket 4411');
    const applied = await fetch(`${api}/v1/callbacks?outcome=applied`, { headers: auth(OPERATOR_KEY) });
    const appliedList = ((await applied.json()) as { callbacks: { id: string; note: string }[] }).callbacks;
    expect(appliedList.find((c) => c.id === stored.id)?.note).toMatch(/^applied by ops \(operator\)/);
    const again = await reverse(OPERATOR_KEY, { clientId: 'shop', reason: 'twice?' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'not_success' });
    expect((await reverse(OPERATOR_KEY, { clientId: 'shop', reason: 'who?' }, 'no-such-order')).status).toBe(
      404,
    );
  }, 45_000);

  it('a forged token changes nothing and gets 404; unknown orderids are kept for an operator', async () => {
    const created = await submit('forge-1', 10);
    await until('forge-1', 'success');
    const forged = await callback(
      { txid: created.providerOrderId, status: 'Failure', opid: 'X' },
      `wrong-${TOKEN}`,
    );
    expect(forged.status).toBe(404);
    await new Promise((r) => setTimeout(r, 800));
    expect((await order('forge-1')).status).toBe('success');

    expect((await callback({ txid: 'RFUNKNOWN000', status: 'Success', opid: 'Y' })).status).toBe(200);
    const unknown = await waitFor('the unknown callback', async () => {
      const res = await fetch(`${api}/v1/callbacks?outcome=unknown_order`, { headers: auth(OPERATOR_KEY) });
      const { callbacks } = (await res.json()) as { callbacks: { providerOrderId: string }[] };
      return callbacks.find((c) => c.providerOrderId === 'RFUNKNOWN000');
    });
    expect(unknown).toBeTruthy();
    const missing = await callback({ status: 'Success' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ issues: [{ field: 'txid' }] });
  }, 30_000);

  it('two pollers never check one order twice in an interval; never-settled orders reach manual_review; an operator resolves one', async () => {
    const number = '9876599999';
    await simControl('/_sim/script', {
      number,
      behaviour: 'pending_then_success',
      settleAfterMs: 3_600_000,
      times: 4,
    });
    const ids = ['stuck-1', 'stuck-2', 'stuck-3', 'stuck-4'];
    const created = await Promise.all(ids.map((id) => submit(id, 10, number)));
    const start = Date.now();
    for (const id of ids) await until(id, 'manual_review', 30_000);
    const elapsedS = (Date.now() - start) / 1000;
    // Schedule 2,1: first check 2 s after pending, then every second: at most 1 + (elapsed - 2) checks.
    const bound = 1 + Math.ceil(elapsedS - 2);
    for (const c of created) {
      const checks = (await simOrder(c.providerOrderId))?.statusChecks ?? 0;
      expect(checks).toBeGreaterThanOrEqual(2);
      expect(checks).toBeLessThanOrEqual(bound);
      expect((await simOrder(c.providerOrderId))?.submissions).toBe(1);
    }
    const queue = await fetch(`${api}/v1/manual-review`, { headers: auth(OPERATOR_KEY) });
    const listed = ((await queue.json()) as { orders: { orderId: string }[] }).orders.map((o) => o.orderId);
    expect(listed).toEqual(expect.arrayContaining(ids));
    const forbidden = await fetch(`${api}/v1/recharges/stuck-1/resolve`, {
      method: 'POST',
      headers: auth(CLIENT_KEY),
      body: JSON.stringify({ status: 'success', reason: 'checked with A1Topup' }),
    });
    expect(forbidden.status).toBe(403);
    const resolved = await fetch(`${api}/v1/recharges/stuck-1/resolve`, {
      method: 'POST',
      headers: auth(OPERATOR_KEY),
      body: JSON.stringify({
        status: 'success',
        reason: 'confirmed on the A1Topup portal',
        clientId: 'shop',
      }),
    });
    expect(resolved.status).toBe(200);
    const view = (await resolved.json()) as View;
    expect(view.history.at(-1)).toMatchObject({
      from: 'manual_review',
      to: 'success',
      source: 'operator',
      actor: 'ops (operator)',
      note: 'confirmed on the A1Topup portal',
    });
    const again = await fetch(`${api}/v1/recharges/stuck-1/resolve`, {
      method: 'POST',
      headers: auth(OPERATOR_KEY),
      body: JSON.stringify({ status: 'failed', reason: 'second thoughts', clientId: 'shop' }),
    });
    expect(again.status).toBe(409);
  }, 60_000);

  it('keeps the callback token, the provider password and full numbers out of every log line', async () => {
    await Promise.all(parts.map((p) => p.stop()));
    const lines = parts.flatMap((p) => p.lines);
    expect(lines.length).toBeGreaterThan(20);
    for (const secret of [TOKEN, PASSWORD, NUMBER, CLIENT_KEY, OPERATOR_KEY, '9876599999']) {
      expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});
