import { randomUUID } from 'node:crypto';
import {
  checkBooks,
  deleteByPrefix,
  freePort,
  type LedgerOrder,
  parseCsv,
  type RunningPart,
  readBooks,
  startApp,
  waitFor,
} from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Batches explain every row, through the real parts: API, worker (import job and recharges), poller
// (status checks, callbacks, manual review), simulator (A1Topup, its magic amounts). A file that
// cannot be read to its end still gets one results.csv line per input row and a batch `stopped`;
// a batch whose orders fail, are reversed or go to a person says why on every row that is not a
// success. Ends with the books check: what the simulator received and charged against the ledger.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const PREFIX = `rf-test-reasons-${run}`;
const KEY = `reasons-key-${randomUUID()}`;
const TOKEN = `cb-token-${randomUUID()}`;
const shared = {
  REDIS_URL,
  QUEUE_PREFIX: PREFIX,
  LEDGER_PREFIX: `${PREFIX}:ledger`,
  A1TOPUP_USERNAME: 'reasons-user',
  A1TOPUP_PASSWORD: `pw-${randomUUID()}`,
  STATUS_POLL_SCHEDULE: '2,1',
};
const HEADER = 'orderId,operator,circle,number,amount,value1,value2';
/** The number whose order the simulator keeps pending (scripted): it goes to manual review. */
const HELD_NUMBER = '9810099999';
const parts: RunningPart[] = [];
let api = '';
let sim = '';
const headers = { authorization: `Bearer ${KEY}` };
/** Every order the tests made: the books check covers them all. */
const ordered: string[] = [];

type View = {
  batchId: string;
  state: string;
  rows: { read: number; accepted: number; rejected: number; notRead: number };
  orders: Record<string, number>;
  settled: boolean;
  stoppedReason: string | null;
  stoppedAtLine: number | null;
  error: string | null;
};

async function upload(body: string): Promise<View> {
  const res = await fetch(`${api}/v1/batches`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'text/csv' },
    body,
  });
  expect(res.status).toBe(202);
  return (await res.json()) as View;
}

async function view(batchId: string): Promise<View> {
  return (await (await fetch(`${api}/v1/batches/${batchId}`, { headers })).json()) as View;
}

/** results.csv as rows of cells, by column name. */
async function results(batchId: string): Promise<Record<string, string>[]> {
  const res = await fetch(`${api}/v1/batches/${batchId}/results.csv`, { headers });
  expect(res.status).toBe(200);
  const [header, ...rows] = parseCsv(await res.text());
  expect(header).toEqual([
    ...HEADER.split(','),
    'status',
    'providerOrderId',
    'providerRef',
    'error',
    'reason',
  ]);
  return rows.map((cells) => {
    expect(cells).toHaveLength(header!.length);
    return Object.fromEntries(header!.map((name, i) => [name, cells[i] ?? '']));
  });
}

interface OrderJson {
  orderId: string;
  status: string;
  provider: string;
  providerOrderId: string;
}

async function order(orderId: string): Promise<OrderJson> {
  const res = await fetch(`${api}/v1/recharges/${orderId}`, { headers });
  expect(res.status).toBe(200);
  return (await res.json()) as OrderJson;
}

/** The books check over the orders named: the simulator's books against the ledger, via the API. */
async function books(orderIds: readonly string[]) {
  const orders: LedgerOrder[] = (await Promise.all(orderIds.map(order))).map((o) => ({
    clientId: 'shop',
    orderId: o.orderId,
    state: o.status,
    provider: o.provider,
    providerOrderId: o.providerOrderId,
  }));
  const lines = await readBooks(sim);
  // One provider, one attempt per order: the books' orderids are the orders' current ones.
  const byId = new Map(orders.map((o) => [o.providerOrderId, o]));
  return checkBooks({
    books: { a1topup: lines },
    orders,
    byProviderOrderId: new Map(lines.map((l) => [l.orderid, byId.get(l.orderid) ?? null])),
  });
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
      SIM_CALLBACK_URL: `${api}/callbacks/a1topup/${TOKEN}`,
    }),
  );
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  parts.push(
    startApp('api', { ...shared, PORT: String(apiPort), API_KEYS: `shop:${KEY}`, CALLBACK_TOKEN: TOKEN }),
  );
  parts.push(startApp('worker', { ...shared, A1TOPUP_BASE_URL: sim }));
  parts.push(
    startApp('poller', {
      ...shared,
      A1TOPUP_BASE_URL: sim,
      SWEEP_INTERVAL_MS: '250',
      PENDING_MAX_AGE: '6s',
      REVERSAL_CONFIRM_WINDOW: '3s',
    }),
  );
  await waitFor('api ready', async () => ((await fetch(`${api}/readyz`)).ok ? true : undefined));
  for (const part of parts.slice(2)) await part.waitForLine(/running/);
}, 60_000);

afterAll(async () => {
  const codes = await Promise.all(parts.map((p) => p.stop()));
  const redis = new Redis(REDIS_URL);
  await deleteByPrefix(redis, PREFIX);
  await redis.quit();
  expect(codes.every((code) => code === 0)).toBe(true);
}, 60_000);

describe('batches explain every row', () => {
  it('an unclosed quote on row 2: row 1 recharged, every later row a not_read line, the batch stopped', async () => {
    const rest = Array.from({ length: 40 }, (_, i) => `q-${i + 3},A,5,${9_820_000_003 + i},10,,`);
    // Row 2's quote never closes; a blank line (not a row) and a CRLF line among the rest.
    const body = `${HEADER}\nq-1,A,5,9820000001,10,,\nq-2,A,5,"9820000002,10,,\n${rest.slice(0, 20).join('\n')}\n\n${rest.slice(20).join('\r\n')}\n`;
    const { batchId } = await upload(body);
    const stopped = await waitFor(
      'the import to stop',
      async () => {
        const v = await view(batchId);
        return v.state === 'stopped' ? v : undefined;
      },
      30_000,
      200,
    );
    expect(stopped).toMatchObject({
      rows: { read: 1, accepted: 1, rejected: 0, notRead: 41 },
      stoppedAtLine: 3,
      stoppedReason: expect.stringMatching(
        /^row 2: a cell starts with a double quote \("\) that is never closed/,
      ),
    });
    expect(stopped.error).toBe(stopped.stoppedReason);
    // Stopped stays stopped, never done, once row 1's order is settled too.
    const settled = await waitFor(
      'row 1 settled',
      async () => {
        const v = await view(batchId);
        return v.settled ? v : undefined;
      },
      30_000,
      200,
    );
    expect(settled).toMatchObject({ state: 'stopped', orders: { success: 1 } });
    const list = (await (await fetch(`${api}/v1/batches`, { headers })).json()) as { batches: View[] };
    expect(list.batches.find((b) => b.batchId === batchId)?.state).toBe('stopped');

    const rows = await results(batchId);
    expect(rows).toHaveLength(42); // 42 input rows: q-1, q-2 and 40 more
    expect(rows[0]).toMatchObject({ orderId: 'q-1', status: 'success', error: '', reason: '' });
    for (const row of rows.slice(1)) {
      expect(row.status).toBe('not_read');
      expect(row.orderId).toBe('');
      expect(row.reason).toMatch(
        /^not read: reading the file stopped at line 3: row 2: a cell starts with a double quote/,
      );
      expect(row.error).toBe(row.reason);
    }
    ordered.push('q-1');
    const verdict = await books(ordered);
    expect(verdict.problems).toEqual([]);
    expect(verdict.received).toBe(1);
  }, 90_000);

  it('bad rows and orders that fail, are reversed or held: every row has a state, every non-success row a reason', async () => {
    // Scripted: the order for this number stays pending at the provider, so it goes to a person.
    const scripted = await fetch(`${sim}/_sim/script`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        number: HELD_NUMBER,
        behaviour: 'pending_then_success',
        settleAfterMs: 600_000,
      }),
    });
    expect(scripted.status).toBeLessThan(300);

    const lines = [HEADER];
    const expected = new Map<string, { status: string; reason: RegExp }>();
    const bad = [
      { line: (id: string) => `${id},NOPE,5,9810000000,10,,`, reason: /^operator: / },
      { line: (id: string) => `${id},A,5,12345,10,,`, reason: /^number: / },
      { line: (id: string) => `${id},A,5,9810000000,-3,,`, reason: /^amount: must be more than 0/ },
      { line: (id: string) => `${id},LAT,,22334455,100,,`, reason: /^value1: is required/ },
    ];
    for (let i = 0; i < 40; i++) {
      const id = `r-${i}`;
      const number = String(9_810_000_000 + i);
      if (i % 10 === 1) {
        const kind = bad[(i - 1) / 10] as (typeof bad)[number];
        lines.push(kind.line(id));
        expected.set(id, { status: 'rejected', reason: kind.reason });
      } else if (i % 10 === 3) {
        lines.push(`${id},A,5,${number},13,,`); // refused by the provider at once
        expected.set(id, { status: 'failed', reason: /^a1topup refused: / });
      } else if (i % 10 === 5) {
        lines.push(`${id},A,5,${number},19,,`); // pending, then failed (status check or callback)
        expected.set(id, { status: 'failed', reason: /\S/ });
      } else if (i % 10 === 7) {
        lines.push(`${id},A,5,${number},23,,`); // success, then a dispute reversal
        expected.set(id, { status: 'reversed', reason: /reversal/ });
      } else if (i === 9) {
        lines.push(`${id},A,5,${HELD_NUMBER},10,,`);
        expected.set(id, { status: 'manual_review', reason: /\S/ });
      } else {
        lines.push(`${id},A,5,${number},10,,`);
        expected.set(id, { status: 'success', reason: /^$/ });
      }
    }
    lines.push('r-0,A,5,9810000000,10,,'); // the id of row 1 again
    expected.set('r-0 again', { status: 'rejected', reason: /already used by row 1/ });
    const count = (status: string) => [...expected.values()].filter((e) => e.status === status).length;

    const { batchId } = await upload(`${lines.join('\n')}\n`);
    const final = await waitFor(
      'every order of the batch final',
      async () => {
        const v = await view(batchId);
        const o = v.orders;
        return v.state === 'done' &&
          o.reversed === count('reversed') &&
          o.manual_review === count('manual_review') &&
          o.failed === count('failed')
          ? v
          : undefined;
      },
      60_000,
      250,
    );
    expect(final).toMatchObject({
      settled: true,
      rows: { read: 41, accepted: 36, rejected: 5, notRead: 0 },
      stoppedReason: null,
      orders: { success: count('success'), queued: 0, processing: 0, pending: 0 },
    });

    const rows = await results(batchId);
    expect(rows).toHaveLength(41);
    const seen = new Set<string>();
    for (const row of rows) {
      const key = seen.has(row.orderId as string) ? `${row.orderId} again` : (row.orderId as string);
      seen.add(row.orderId as string);
      const want = expected.get(key);
      expect(want, key).toBeDefined();
      expect(row.status, key).toBe(want?.status);
      expect(row.reason, `${key}: ${row.reason}`).toMatch(want?.reason as RegExp);
      // A state on every row, a reason on every row that is not a success.
      expect(row.status, key).not.toBe('');
      if (row.status !== 'success') expect(row.reason, key).not.toBe('');
      // Never the order's full number in the reason.
      if (/^\d{10}$/.test(row.number as string)) expect(row.reason, key).not.toContain(row.number);
    }
    console.log(
      `batch reasons: ${rows
        .filter((r) => r.status !== 'success')
        .map((r) => `${r.orderId} ${r.status}: ${r.reason}`)
        .join(' | ')}`,
    );

    // The held order: the provider settles it now (charged), so nothing is left pending there.
    const held = await order('r-9');
    expect(
      (await fetch(`${sim}/_sim/settle/${held.providerOrderId}`, { method: 'POST' })).status,
    ).toBeLessThan(300);
    ordered.push(...[...expected.keys()].filter((k) => expected.get(k)?.status !== 'rejected'));
    const verdict = await waitFor(
      'the books to agree',
      async () => {
        const v = await books(ordered);
        return v.problems.length === 0 ? v : undefined;
      },
      20_000,
      500,
    ).catch(async () => books(ordered));
    expect(verdict.problems).toEqual([]);
    // Every accepted row reached the provider once (q-1 of the first test too).
    expect(verdict.sentTwice).toEqual([]);
    expect(verdict.received).toBe(ordered.length);
  }, 150_000);
});
