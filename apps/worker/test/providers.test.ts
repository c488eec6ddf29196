import { randomUUID } from 'node:crypto';
import { providerOrderId } from '@rechargeflow/domain';
import { freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Several providers as real processes: simulator A plays A1Topup and Telgoo5, simulator B a backup
// A1Topup-protocol provider; the API routes, three workers share Telgoo5's single-use tokens.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const KEY = `prov-key-${randomUUID()}`;
const A1_PASSWORD = `a1-pw-${randomUUID()}`;
const TG_PASSWORD = `tg-pw-${randomUUID()}`;
const TG_PIN = '987654';
const CARD = '4111111111111111';
const telgoo5Creds = {
  TELGOO5_VENDOR_ID: 'vendor-x',
  TELGOO5_USERNAME: 'tg-user',
  TELGOO5_PASSWORD: TG_PASSWORD,
  TELGOO5_PIN: TG_PIN,
  TELGOO5_AGENT_ID: 'agent-x',
};
const shared = {
  REDIS_URL,
  QUEUE_PREFIX: `rf-test-prov-${run}`,
  LEDGER_PREFIX: `rf-test-prov-${run}:ledger`,
  A1TOPUP_USERNAME: 'a1-user',
  A1TOPUP_PASSWORD: A1_PASSWORD,
  ...telgoo5Creds,
  PROVIDERS: 'a1topup,a1topup_backup,telgoo5',
  ROUTING_TABLE: JSON.stringify({
    rules: [{ operators: ['V'], providers: ['a1topup', 'a1topup_backup'] }],
    default: ['a1topup'],
  }),
  PROVIDER_TIMEOUT_MS: '1500',
  BREAKER_FAILURE_THRESHOLD: '3',
  BREAKER_OPEN_MS: '3000',
};
const parts: RunningPart[] = [];
let api = '';
let simA = '';
let simB = '';

const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
type View = {
  status: string;
  provider: string;
  providerOrderId: string;
  history: { note: string | null; to: string }[];
};

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${api}/v1/recharges`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function final(orderId: string, timeoutMs = 20_000): Promise<View> {
  return waitFor(
    `${orderId} to settle`,
    async () => {
      const res = await fetch(`${api}/v1/recharges/${orderId}`, { headers });
      const view = (await res.json()) as View;
      return ['success', 'failed', 'pending', 'manual_review'].includes(view.status) ? view : undefined;
    },
    timeoutMs,
  );
}

const telgoo5Body = (orderId: string, mdn: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  operator: 'TELGOO5',
  number: mdn,
  amount: 12,
  telgoo5: {
    enrollmentId: 'AGKN4441',
    planCode: '12',
    topupType: 'ADDON',
    paymentToken: 'pm_9503946000062304',
    billingState: 'WA',
    billingCity: 'Seattle',
    ...extra,
  },
});

async function json<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

beforeAll(async () => {
  const [pA, pB, pApi] = [await freePort(), await freePort(), await freePort()];
  simA = `http://127.0.0.1:${pA}`;
  simB = `http://127.0.0.1:${pB}`;
  api = `http://127.0.0.1:${pApi}`;
  parts.push(startApp('simulator', { ...shared, SIMULATOR_PORT: String(pA), SIM_HOLD_MS: '3000' }, 'sim-a'));
  parts.push(
    startApp('simulator', { ...shared, SIMULATOR_PORT: String(pB), SIM_MAGIC_AMOUNTS: 'off' }, 'sim-b'),
  );
  for (const sim of [simA, simB])
    await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  const providerUrls = {
    A1TOPUP_BASE_URL: simA,
    TELGOO5_BASE_URL: `${simA}/telgoo5`,
    A1TOPUP_BACKUP_BASE_URL: simB,
    A1TOPUP_BACKUP_USERNAME: 'a1-user',
    A1TOPUP_BACKUP_PASSWORD: A1_PASSWORD,
  };
  parts.push(startApp('api', { ...shared, PORT: String(pApi), API_KEYS: `shop:${KEY}` }));
  for (const name of ['w1', 'w2', 'w3'])
    parts.push(startApp('worker', { ...shared, ...providerUrls, TELGOO5_CONCURRENCY: '10' }, name));
  await waitFor('api ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined));
  for (const w of parts.slice(3)) await w.waitForLine(/recharge worker running/);
}, 60_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`rf-test-prov-${run}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('Telgoo5 with single-use tokens across three workers', () => {
  it('40 concurrent top-ups are each applied exactly once, no token is reused, and sequential ones need no new login', async () => {
    const mdns = Array.from({ length: 40 }, (_, i) => String(2065550100 + i));
    const answers = await Promise.all(mdns.map((mdn, i) => post(telgoo5Body(`tg-${i}`, mdn))));
    expect(answers.map((a) => a.status)).toEqual(mdns.map(() => 202));
    const views = await Promise.all(mdns.map((_, i) => final(`tg-${i}`, 30_000)));
    expect(views.map((v) => v.status)).toEqual(mdns.map(() => 'success'));
    expect(views.every((v) => v.provider === 'telgoo5')).toBe(true);

    type Stats = {
      authentications: number;
      topupsApplied: number;
      tokenRejections: Record<string, number>;
      cardFieldViolations: number;
    };
    const stats = await json<Stats>(`${simA}/_sim/telgoo5/stats`);
    expect(stats.topupsApplied).toBe(40);
    expect(stats.tokenRejections).toEqual({ invalid: 0, used: 0, expired: 0, access: 0 });
    expect(stats.cardFieldViolations).toBe(0);
    expect(stats.authentications).toBeGreaterThanOrEqual(1);
    expect(stats.authentications).toBeLessThanOrEqual(40);
    console.log(
      `telgoo5: 40 concurrent top-ups over 3 workers needed ${stats.authentications} authentications`,
    );
    for (const mdn of mdns) {
      const { count } = await json<{ count: number }>(`${simA}/_sim/telgoo5/topups?mdn=${mdn}`);
      expect(count, mdn).toBe(1);
    }
    for (let i = 0; i < 5; i++) {
      await post(telgoo5Body(`tg-seq-${i}`, String(2065550300 + i)));
      expect((await final(`tg-seq-${i}`)).status).toBe('success');
    }
    const after = await json<Stats>(`${simA}/_sim/telgoo5/stats`);
    expect(after.authentications).toBe(stats.authentications);
    expect(after.tokenRejections.used).toBe(0);
  }, 60_000);

  it('an ambiguous add_topup goes to manual_review with what an operator needs, never resent', async () => {
    await post({ ...telgoo5Body('tg-amb', '2065550600'), amount: 31 });
    const done = await final('tg-amb');
    expect(done.status).toBe('manual_review');
    expect(done.history.at(-1)?.note).toMatch(/no status API.*20\*{6}00.*AGKN4441.*ADDON.*31/);
    // The full number is in the order (done.number), never in a note listed to every operator.
    expect(done.history.map((h) => h.note).join(' ')).not.toContain('2065550600');
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await json<{ count: number }>(`${simA}/_sim/telgoo5/topups?mdn=2065550600`)).count).toBe(1);
  });

  it('refuses raw card data with 400, wherever it is put', async () => {
    const nested = await post(telgoo5Body('card-1', '2065550400', { cardNumber: CARD, cvv: '123' }));
    expect(nested.status).toBe(400);
    const fields = (nested.body.issues as { field: string; rule: string }[])
      .filter((i) => i.rule === 'card_data_refused')
      .map((i) => i.field);
    expect(fields.sort()).toEqual(['telgoo5.cardNumber', 'telgoo5.cvv']);
    const top = await post({ ...telgoo5Body('card-2', '2065550401'), card_number: CARD });
    expect(top.status).toBe(400);
    expect((top.body.issues as { rule: string }[]).map((i) => i.rule)).toContain('card_data_refused');
  });
});

describe('routing and failover', () => {
  it('an A1Topup order and a Telgoo5 order side by side each reach their own provider', async () => {
    await Promise.all([
      post({ orderId: 'side-a1', operator: 'A', circle: '5', number: '9876543210', amount: 10 }),
      post(telgoo5Body('side-tg', '2065550500')),
    ]);
    const [a1, tg] = await Promise.all([final('side-a1'), final('side-tg')]);
    expect(a1).toMatchObject({ status: 'success', provider: 'a1topup' });
    expect(tg).toMatchObject({ status: 'success', provider: 'telgoo5' });
    expect(
      (await json<{ submissions: number }>(`${simA}/_sim/orders/${a1.providerOrderId}`)).submissions,
    ).toBe(1);
    expect((await json<{ count: number }>(`${simA}/_sim/telgoo5/topups?mdn=2065550500`)).count).toBe(1);
    expect((await fetch(`${simB}/_sim/orders/${a1.providerOrderId}`)).status).toBe(404);
  });

  it('an order refused definitely by the first provider succeeds on the second, with its own orderid', async () => {
    await post({ orderId: 'fo-1', operator: 'V', circle: '5', number: '9876543211', amount: 13 });
    const done = await final('fo-1');
    expect(done).toMatchObject({ status: 'success', provider: 'a1topup_backup' });
    const first = providerOrderId({ clientId: 'shop', orderId: 'fo-1' }, 1);
    expect(done.providerOrderId).toBe(providerOrderId({ clientId: 'shop', orderId: 'fo-1' }, 2));
    expect(await json<{ submissions: number; status: string }>(`${simA}/_sim/orders/${first}`)).toMatchObject(
      { submissions: 1, status: 'failed' },
    );
    expect(
      (await json<{ submissions: number }>(`${simB}/_sim/orders/${done.providerOrderId}`)).submissions,
    ).toBe(1);
    expect(done.history.some((h) => /failing over to a1topup_backup/.test(h.note ?? ''))).toBe(true);
  });

  it('an order whose first provider answers ambiguously is NOT sent to the second', async () => {
    await post({ orderId: 'amb-1', operator: 'V', circle: '5', number: '9876543212', amount: 37 });
    const done = await final('amb-1');
    expect(done).toMatchObject({ status: 'pending', provider: 'a1topup' });
    await new Promise((r) => setTimeout(r, 1_000));
    const second = providerOrderId({ clientId: 'shop', orderId: 'amb-1' }, 2);
    expect((await fetch(`${simB}/_sim/orders/${second}`)).status).toBe(404);
    expect(
      (await json<{ submissions: number }>(`${simA}/_sim/orders/${done.providerOrderId}`)).submissions,
    ).toBe(1);
  });

  it('consecutive failures open the breaker: orders route around the provider, then one probe closes it', async () => {
    for (let i = 0; i < 3; i++) {
      await post({ orderId: `brk-bad-${i}`, operator: 'A', circle: '5', number: '9876543213', amount: 37 });
      await final(`brk-bad-${i}`);
    }
    const providers = (await (await fetch(`${api}/v1/providers`, { headers })).json()) as {
      providers: { name: string; health: string; breaker: { state: string } }[];
    };
    expect(providers.providers.find((p) => p.name === 'a1topup')).toMatchObject({
      health: 'down',
      breaker: { state: 'open' },
    });
    expect(providers.providers.find((p) => p.name === 'a1topup_backup')).toMatchObject({ health: 'up' });

    await post({ orderId: 'brk-route', operator: 'V', circle: '5', number: '9876543214', amount: 10 });
    const routed = await final('brk-route');
    expect(routed).toMatchObject({ status: 'success', provider: 'a1topup_backup' });
    expect(routed.history.some((h) => /routed to a1topup_backup/.test(h.note ?? ''))).toBe(true);
    const never = providerOrderId({ clientId: 'shop', orderId: 'brk-route' }, 1);
    expect((await fetch(`${simA}/_sim/orders/${never}`)).status).toBe(404);

    await new Promise((r) => setTimeout(r, 3_200));
    await post({ orderId: 'brk-probe', operator: 'V', circle: '5', number: '9876543215', amount: 10 });
    expect(await final('brk-probe')).toMatchObject({ status: 'success', provider: 'a1topup' });
    const healed = (await (await fetch(`${api}/v1/providers`, { headers })).json()) as {
      providers: { name: string; health: string }[];
    };
    expect(healed.providers.find((p) => p.name === 'a1topup')?.health).toBe('up');
  }, 40_000);

  it('no token, password, pin or card number appears in any log line of the run', async () => {
    await Promise.all(parts.map((p) => p.stop()));
    const lines = parts.flatMap((p) => p.lines);
    expect(lines.length).toBeGreaterThan(50);
    for (const secret of [A1_PASSWORD, TG_PASSWORD, TG_PIN, CARD, KEY, 'pm_9503946000062304']) {
      expect(
        lines.filter((l) => l.includes(secret)),
        secret.slice(0, 6),
      ).toEqual([]);
    }
    // Telgoo5 tokens are JWTs: nothing shaped like one may be logged.
    expect(lines.filter((l) => /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(l))).toEqual([]);
  });
});
