import { randomUUID } from 'node:crypto';
import { type Order, providerOrderId } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import {
  type BookLine,
  checkSimulatorBooks,
  deleteByPrefix,
  freePort,
  type RunningPart,
  startApp,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The small version of the chaos scenario `failover-race`, as real processes: a primary A1Topup
// that refuses every order while its Failure callback races the answer (before or after it, per
// order from the seed), a backup that charges (its Success callbacks racing too), the API, two
// workers and a poller. The ledger must agree with both providers' books.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const PREFIX = `rf-test-race-${run}`;
const KEY = `race-key-${randomUUID()}`;
const TOKEN = `race-cb-${randomUUID()}`;
const PASSWORD = `race-pw-${randomUUID()}`;
const ORDERS = 100;
const shared = {
  REDIS_URL,
  QUEUE_PREFIX: PREFIX,
  LEDGER_PREFIX: `${PREFIX}:ledger`,
  A1TOPUP_USERNAME: 'race-user',
  A1TOPUP_PASSWORD: PASSWORD,
  PROVIDERS: 'a1topup,a1topup_backup',
  // Refusals are a working provider; nothing here should open a breaker.
  BREAKER_FAILURE_THRESHOLD: '1000',
  PROVIDER_TIMEOUT_MS: '8000',
  STATUS_POLL_SCHEDULE: '1,1,2',
  SWEEP_INTERVAL_MS: '500',
  NOT_FOUND_GRACE: '3s',
};
const parts: RunningPart[] = [];
let api = '';
let primary = '';
let backup = '';
let redis: Redis;
let ledger: LedgerStore;

interface SimStats {
  duplicates: number;
  answerCallbacks: { before: number; after: number };
  callbacks: { sent: number; delivered: number; failed: number };
}

const stats = async (sim: string) => (await (await fetch(`${sim}/_sim/stats`)).json()) as SimStats;
const attempt = (orderId: string, n: number) => providerOrderId({ clientId: 'shop', orderId }, n);
const describeOrder = (o: Order) =>
  `${o.orderId}: ${o.history.map((h) => `${h.to}[${h.source}]`).join('>')} at ${o.provider}`;

beforeAll(async () => {
  const [pPrimary, pBackup, pApi] = [await freePort(), await freePort(), await freePort()];
  primary = `http://127.0.0.1:${pPrimary}`;
  backup = `http://127.0.0.1:${pBackup}`;
  api = `http://127.0.0.1:${pApi}`;
  const callbackUrl = `${api}/callbacks/a1topup/${TOKEN}`;
  // Callback and answer up to 50 ms apart either way: the callback job and the worker's answer
  // reach the ledger in both orders, and at the same moment.
  const sims = {
    SIM_ANSWER_CALLBACK: 'race',
    SIM_ANSWER_CALLBACK_GAP_MS: '50',
    SIM_CALLBACK_URL: callbackUrl,
    SIM_LATENCY_MS: '10',
  };
  parts.push(
    startApp(
      'simulator',
      { ...shared, ...sims, SIMULATOR_PORT: String(pPrimary), SIM_FAILURE_RATE: '1', SIM_SEED: '1201' },
      'sim-primary',
    ),
    startApp(
      'simulator',
      { ...shared, ...sims, SIMULATOR_PORT: String(pBackup), SIM_SEED: '1202' },
      'sim-backup',
    ),
  );
  for (const sim of [primary, backup])
    await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  const providers = {
    A1TOPUP_BASE_URL: primary,
    A1TOPUP_BACKUP_BASE_URL: backup,
    A1TOPUP_BACKUP_USERNAME: 'race-user',
    A1TOPUP_BACKUP_PASSWORD: PASSWORD,
  };
  parts.push(
    startApp('api', {
      ...shared,
      PORT: String(pApi),
      API_KEYS: `shop:${KEY}`,
      CALLBACK_TOKEN: TOKEN,
      ROUTING_TABLE: JSON.stringify({
        rules: [{ operators: ['A'], providers: ['a1topup', 'a1topup_backup'] }],
        default: ['a1topup'],
      }),
    }),
  );
  await waitFor('api ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined), 30_000);
  parts.push(
    startApp('worker', { ...shared, ...providers }, 'worker-1'),
    startApp('worker', { ...shared, ...providers }, 'worker-2'),
    startApp('poller', { ...shared, ...providers }, 'poller'),
  );
  await Promise.all(parts.slice(3).map((p) => p.waitForLine(/running/, 30_000)));
  redis = new Redis(REDIS_URL);
  ledger = createRedisLedgerStore({ redis, prefix: shared.LEDGER_PREFIX });
}, 60_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  if (redis) {
    await deleteByPrefix(redis, PREFIX);
    await ledger.close();
    redis.disconnect();
  }
});

describe('failover while the primary calls back around its refusals', () => {
  it(`${ORDERS} orders: every one success at the backup, 0 sent twice, 0 disagreements with either provider's books`, async () => {
    const ids = Array.from({ length: ORDERS }, (_, i) => `race-${i}`);
    for (let i = 0; i < ids.length; i += 20) {
      const answers = await Promise.all(
        ids.slice(i, i + 20).map(async (orderId, j) => {
          const body = {
            orderId,
            operator: 'A',
            circle: '5',
            number: String(9_450_000_000 + i + j),
            amount: 10,
          };
          const res = await fetch(`${api}/v1/recharges`, {
            method: 'POST',
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          await res.body?.cancel();
          return res.status;
        }),
      );
      expect(answers.every((s) => s === 202)).toBe(true);
    }
    // Final, every callback delivered and handled, and still final after that.
    const open = async () => {
      const counts = await Promise.all(
        (['queued', 'processing', 'pending'] as const).map((s) => ledger.countInState(s)),
      );
      return counts.reduce((sum, c) => sum + c.count, 0);
    };
    await waitFor('every order final', async () => ((await open()) === 0 ? true : undefined), 30_000, 200);
    await waitFor(
      'every callback delivered and handled',
      async () => {
        const both = await Promise.all([stats(primary), stats(backup)]);
        // One callback per answer (one sent after its answer may still be in its gap), all finished.
        const delivered = both.every(
          (s) =>
            s.callbacks.sent >= s.answerCallbacks.before + s.answerCallbacks.after &&
            s.callbacks.sent === s.callbacks.delivered + s.callbacks.failed,
        );
        const waiting = await ledger.findCallbacks(
          'received',
          new Date(Date.now() + 60_000).toISOString(),
          1,
        );
        return delivered && waiting.length === 0 ? true : undefined;
      },
      20_000,
      200,
    );
    await waitFor(
      'every order final again',
      async () => ((await open()) === 0 ? true : undefined),
      10_000,
      200,
    );

    const orders = (
      await Promise.all(ids.map((orderId) => ledger.getOrder({ clientId: 'shop', orderId })))
    ).filter((o): o is Order => o !== null);
    const { verdict, books } = await checkSimulatorBooks({
      simulators: { a1topup: primary, a1topup_backup: backup },
      orders,
      ledger,
    });
    const primaryBooks = books.a1topup ?? [];
    const [primaryStats, backupStats] = await Promise.all([stats(primary), stats(backup)]);
    const line = new Map<string, BookLine & { answerCallback?: string }>(
      primaryBooks.map((e) => [e.orderid, e]),
    );
    const notAtBackup = orders.filter(
      (o) =>
        !(
          o.state === 'success' &&
          o.provider === 'a1topup_backup' &&
          o.providerOrderId === attempt(o.orderId, 2)
        ),
    );
    console.log(
      `failover race: ${orders.length} orders; primary Failure callbacks ${JSON.stringify(primaryStats.answerCallbacks)}, ` +
        `backup Success callbacks ${JSON.stringify(backupStats.answerCallbacks)}; not success at the backup: ${notAtBackup.length} ` +
        `(their primary callback went ${JSON.stringify(
          notAtBackup.reduce<Record<string, number>>((t, o) => {
            const when = line.get(attempt(o.orderId, 1))?.answerCallback ?? 'none';
            t[when] = (t[when] ?? 0) + 1;
            return t;
          }, {}),
        )})`,
    );

    expect(orders).toHaveLength(ORDERS);
    // The race ran both ways, and every callback reached the API.
    expect(primaryStats.answerCallbacks.before).toBeGreaterThan(0);
    expect(primaryStats.answerCallbacks.after).toBeGreaterThan(0);
    expect(primaryStats.callbacks.failed + backupStats.callbacks.failed).toBe(0);
    // Each order was received once by the primary, refused, and never sent twice anywhere.
    for (const orderId of ids)
      expect(line.get(attempt(orderId, 1)), orderId).toMatchObject({ status: 'failed', submissions: 1 });
    expect(primaryStats.duplicates + backupStats.duplicates).toBe(0);
    expect(verdict.problems).toEqual([]);
    expect({
      notSuccessAtBackup: notAtBackup.length,
      eg: notAtBackup.slice(0, 3).map(describeOrder),
    }).toEqual({
      notSuccessAtBackup: 0,
      eg: [],
    });
    expect(verdict.charges).toBe(ORDERS);
  }, 60_000);
});
