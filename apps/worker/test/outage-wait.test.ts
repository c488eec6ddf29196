import { randomUUID } from 'node:crypto';
import { type Order, providerOrderId } from '@rechargeflow/domain';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import {
  checkSimulatorBooks,
  deleteByPrefix,
  freePort,
  parseCsv,
  type RunningPart,
  startApp,
  TcpProxy,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Orders wait out a provider outage, as real processes: two systems side by side (simulator as
// A1Topup behind a TCP proxy, API, worker), each on its own key space. The provider goes down for
// 60 s while 50 orders and a 303-row batch (21 bad rows) arrive, then comes back. With the default ORDER_MAX_WAIT
// (15 min) every order must end `success`, sent once; with ORDER_MAX_WAIT=20s, shorter than the
// outage, every order must end `failed` as never sent, with the reason, and nothing may reach the
// provider, even after it is back. Both end with the books check.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const OUTAGE_MS = 60_000;
const ORDERS = 50;
const BATCH_ROWS = 303;
/** Rows 3, 17, 31, ... of the batch: 21 bad rows (a number that is no mobile number). */
const isBad = (i: number) => i % 14 === 3 && i < 14 * 21;
const GOOD_ROWS = Array.from({ length: BATCH_ROWS }, (_, i) => i).filter((i) => !isBad(i));

interface Stack {
  readonly name: string;
  readonly prefix: string;
  readonly key: string;
  readonly proxy: TcpProxy;
  readonly parts: RunningPart[];
  api: string;
  sim: string;
  ledger: LedgerStore;
  redis: Redis;
}

const stacks: Stack[] = [];

async function startStack(name: string, workerEnv: Record<string, string>): Promise<Stack> {
  const run = randomUUID().slice(0, 8);
  const prefix = `rf-test-wait-${name}-${run}`;
  const key = `wait-key-${randomUUID()}`;
  const shared = {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    LEDGER_PREFIX: `${prefix}:ledger`,
    A1TOPUP_USERNAME: 'wait-user',
    A1TOPUP_PASSWORD: `wait-pw-${randomUUID()}`,
    // Three refused connections open the breaker; a probe every 4 s while it is open.
    BREAKER_FAILURE_THRESHOLD: '3',
    BREAKER_OPEN_MS: '4000',
  };
  const [simPort, apiPort] = [await freePort(), await freePort()];
  const proxy = new TcpProxy(simPort);
  await proxy.up();
  const redis = new Redis(REDIS_URL);
  const ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  const stack: Stack = {
    name,
    prefix,
    key,
    proxy,
    parts: [],
    api: `http://127.0.0.1:${apiPort}`,
    sim: `http://127.0.0.1:${simPort}`,
    ledger,
    redis,
  };
  stacks.push(stack);
  stack.parts.push(startApp('simulator', { ...shared, SIMULATOR_PORT: String(simPort) }, `sim-${name}`));
  await waitFor('simulator', async () => ((await fetch(`${stack.sim}/_sim/stats`)).ok ? true : undefined));
  stack.parts.push(
    startApp('api', { ...shared, PORT: String(apiPort), API_KEYS: `shop:${key}` }, `api-${name}`),
  );
  const worker = startApp(
    'worker',
    {
      ...shared,
      A1TOPUP_BASE_URL: proxy.url,
      PROVIDER_TIMEOUT_MS: '2000',
      A1TOPUP_CONCURRENCY: '8',
      ...workerEnv,
    },
    `worker-${name}`,
  );
  stack.parts.push(worker);
  await waitFor('api ready', async () => ((await fetch(`${stack.api}/readyz`)).ok ? true : undefined));
  await worker.waitForLine(/recharge worker running/);
  return stack;
}

function body(tag: string, i: number) {
  return {
    orderId: `${tag}-${i}`,
    operator: 'A',
    circle: '5',
    number: String(9_700_000_000 + i),
    amount: 10 + (i % 4) * 10,
  };
}

/** 50 orders one by one, and the CSV batch: answers the batch id. */
async function submitAll(stack: Stack): Promise<string> {
  const headers = { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' };
  for (let i = 0; i < ORDERS; i++) {
    const res = await fetch(`${stack.api}/v1/recharges`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body('o', i)),
    });
    expect(res.status).toBe(202);
  }
  const csv = [
    'orderId,operator,circle,number,amount',
    ...Array.from(
      { length: BATCH_ROWS },
      (_, i) => `b-${i},A,5,${isBad(i) ? '12345' : 9_600_000_000 + i},${10 + (i % 3) * 10}`,
    ),
  ].join('\n');
  const res = await fetch(`${stack.api}/v1/batches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'text/csv' },
    body: `${csv}\n`,
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { batchId: string }).batchId;
}

const orderIds = [...Array.from({ length: ORDERS }, (_, i) => `o-${i}`), ...GOOD_ROWS.map((i) => `b-${i}`)];

/** results.csv: every row has a status, every row that is not a success a reason. */
async function batchResults(stack: Stack, batchId: string) {
  const res = await fetch(`${stack.api}/v1/batches/${batchId}/results.csv`, {
    headers: { authorization: `Bearer ${stack.key}` },
  });
  expect(res.status).toBe(200);
  const [header = [], ...rows] = parseCsv(await res.text());
  const status = header.indexOf('status');
  const reason = header.indexOf('reason');
  expect(status).toBeGreaterThan(-1);
  expect(reason).toBeGreaterThan(-1);
  expect(rows).toHaveLength(BATCH_ROWS);
  for (const row of rows) {
    expect(row[status], row.join(',')).toBeTruthy();
    if (row[status] !== 'success') expect(row[reason], row.join(',')).toBeTruthy();
  }
  return rows.map((row) => ({ status: row[status] ?? '', reason: row[reason] ?? '' }));
}

async function readOrders(stack: Stack): Promise<Order[]> {
  const orders = await Promise.all(
    orderIds.map((orderId) => stack.ledger.getOrder({ clientId: 'shop', orderId })),
  );
  return orders.filter((o): o is Order => o !== null);
}

async function allFinal(stack: Stack, timeoutMs: number): Promise<Order[]> {
  return waitFor(
    `${stack.name}: every order final`,
    async () => {
      const orders = await readOrders(stack);
      const open = orders.filter((o) => ['queued', 'processing', 'pending'].includes(o.state));
      return orders.length === orderIds.length && open.length === 0 ? orders : undefined;
    },
    timeoutMs,
    500,
  );
}

async function books(stack: Stack, orders: readonly Order[]) {
  const { verdict, books } = await checkSimulatorBooks({
    simulators: { a1topup: stack.sim },
    orders,
    ledger: stack.ledger,
  });
  return {
    lines: books.a1topup ?? [],
    verdict,
  };
}

const waitNotes = (o: Order) => o.history.filter((h) => h.note?.startsWith('waiting for a provider'));

let patient: Stack;
let impatient: Stack;

beforeAll(async () => {
  [patient, impatient] = await Promise.all([
    startStack('patient', {}),
    startStack('impatient', { ORDER_MAX_WAIT: '20s' }),
  ]);
}, 90_000);

afterAll(async () => {
  for (const stack of stacks) {
    const codes = await Promise.all(stack.parts.map((p) => p.stop()));
    await stack.proxy.down();
    await deleteByPrefix(stack.redis, stack.prefix);
    await stack.redis.quit();
    expect(codes.every((c) => c === 0)).toBe(true);
  }
}, 60_000);

describe('a 60 s provider outage while 50 orders and a batch arrive', () => {
  it('every order waits and is sent once when the provider is back; with a shorter ORDER_MAX_WAIT none is sent', async () => {
    await Promise.all([patient.proxy.down(), impatient.proxy.down()]);
    const downAt = Date.now();
    const [patientBatch, impatientBatch] = await Promise.all([submitAll(patient), submitAll(impatient)]);

    // The impatient system gives up during the outage: every order failed, never sent.
    const gaveUp = await allFinal(impatient, OUTAGE_MS);
    expect(Date.now() - downAt).toBeLessThan(OUTAGE_MS);
    // Meanwhile the patient one has failed nothing: its orders wait, queued or unsent. A half-open
    // breaker's probe may be in flight at the moment of a read (processing + inFlight until the dead
    // proxy refuses it): read again until none is, every read's states checked.
    const notWaiting = new Set<string>();
    const waiting = await waitFor(
      'patient: no probe in flight',
      async () => {
        const orders = await readOrders(patient);
        for (const o of orders) {
          if (!['queued', 'processing'].includes(o.state)) notWaiting.add(`${o.orderId}: ${o.state}`);
        }
        return orders.some((o) => o.inFlight) ? undefined : orders;
      },
      10_000,
      100,
    );
    expect([...notWaiting]).toEqual([]);
    expect(waiting.every((o) => waitNotes(o).length === 1)).toBe(true);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + OUTAGE_MS - Date.now())));
    await Promise.all([patient.proxy.up(), impatient.proxy.up()]);

    const done = await allFinal(patient, 120_000);
    const notSuccess = done.filter((o) => o.state !== 'success');
    expect(notSuccess.map((o) => `${o.orderId}: ${o.state} ${o.history.at(-1)?.note}`)).toEqual([]);
    for (const order of done) {
      // One wait note per order, one attempt (one orderid) sent.
      expect(waitNotes(order), order.orderId).toHaveLength(1);
      expect(order.providerOrderId).toBe(providerOrderId(order, 1));
    }
    const patientBooks = await books(patient, done);
    expect(patientBooks.verdict.problems).toEqual([]);
    expect(patientBooks.lines).toHaveLength(ORDERS + GOOD_ROWS.length);
    const patientRows = await batchResults(patient, patientBatch);
    expect(patientRows.filter((r) => r.status === 'success')).toHaveLength(GOOD_ROWS.length);
    expect(patientRows.filter((r) => r.status === 'rejected')).toHaveLength(BATCH_ROWS - GOOD_ROWS.length);
    expect(patientBooks.lines.every((l) => l.submissions === 1 && l.charged)).toBe(true);

    for (const order of gaveUp) {
      expect(order.state, order.orderId).toBe('failed');
      expect(order.history.at(-1)?.note).toMatch(
        /^never sent: no provider could take it within ORDER_MAX_WAIT \(20 s, waiting since [^)]+\): (a1topup (circuit open|unreachable)|the wait was over before a1topup could be tried again)/,
      );
    }
    const impatientRows = await batchResults(impatient, impatientBatch);
    expect(impatientRows.filter((r) => r.status === 'failed')).toHaveLength(GOOD_ROWS.length);
    for (const row of impatientRows.filter((r) => r.status === 'failed'))
      expect(row.reason).toMatch(/never sent: no provider could take it within ORDER_MAX_WAIT/);
    // Back up for a while, the impatient provider still has received nothing.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const impatientBooks = await books(impatient, await readOrders(impatient));
    expect(impatientBooks.lines).toEqual([]);
    expect(impatientBooks.verdict.problems).toEqual([]);
    console.log(
      `outage wait: patient ${done.length} orders success after ${Math.round((Date.now() - downAt) / 1000)} s, ` +
        `impatient ${gaveUp.length} failed never sent`,
    );
  }, 240_000);
});
