import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { Order } from '@rechargeflow/domain';
import { createRedisLedgerStore } from '@rechargeflow/ledger';
import { WORKER_PROCESSES, workerQueuesOf } from '@rechargeflow/runtime';
import { checkSimulatorBooks, freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// CSV batches through the real parts: API (upload, views, results.csv), worker (import job and
// recharges), poller (recovery of batches whose API died), simulator (A1Topup).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const KEY = `batch-key-${randomUUID()}`;
const shared = {
  REDIS_URL,
  QUEUE_PREFIX: `rf-test-batch-${run}`,
  LEDGER_PREFIX: `rf-test-batch-${run}:ledger`,
  A1TOPUP_USERNAME: 'batch-user',
  A1TOPUP_PASSWORD: `pw-${randomUUID()}`,
  SWEEP_INTERVAL_MS: '300',
  STRANDED_AFTER_MS: '1000',
};
const parts: RunningPart[] = [];
let api: RunningPart;
let worker: RunningPart;
let importer: RunningPart;
let simUrl = '';
let apiUrl = '';
let apiPort = 0;
const headers = { authorization: `Bearer ${KEY}` };

type View = {
  batchId: string;
  state: string;
  rows: { read: number; accepted: number; rejected: number; notRead: number; released: number };
  orders: Record<string, number>;
  error?: string | null;
};

/** 2,000 rows, 20 of them bad in different ways; order ids unique per call. */
function csv(tag: string): string {
  const lines = ['orderId,operator,circle,number,amount,value1,value2'];
  for (let i = 0; i < 2_000; i++) {
    const id = `${tag}-${i}`;
    const bad = i % 100 === 7 ? Math.floor(i / 100) % 5 : -1;
    if (bad === 0)
      lines.push(`${id},NOPE,5,9876500000,10,,`); // unknown operator
    else if (bad === 1)
      lines.push(`${id},A,5,12345,10,,`); // bad number
    else if (bad === 2)
      lines.push(`${id},A,5,9876500000,-3,,`); // bad amount
    else if (bad === 3)
      lines.push(`${id},LAT,,22334455,100,,`); // landline without STD code
    else if (bad === 4)
      lines.push(`${id},A,=1+2,9876500000,10,,`); // formula-looking circle
    else lines.push(`${id},A,5,${9876500000 + (i % 1000)},10,,`);
  }
  return `${lines.join('\n')}\n`;
}

async function upload(body: string, contentType = 'text/csv') {
  const res = await fetch(`${apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { ...headers, 'content-type': contentType },
    body,
  });
  return { status: res.status, body: (await res.json()) as View & { message?: string } };
}

async function view(batchId: string): Promise<View> {
  return (await (await fetch(`${apiUrl}/v1/batches/${batchId}`, { headers })).json()) as View;
}

function until(batchId: string, states: string[], timeoutMs = 60_000): Promise<View> {
  return waitFor(
    `batch ${batchId} in ${states.join('|')}`,
    async () => {
      const v = await view(batchId);
      return states.includes(v.state) ? v : undefined;
    },
    timeoutMs,
    250,
  );
}

function startApi(): RunningPart {
  const part = startApp('api', {
    ...shared,
    PORT: String(apiPort),
    API_KEYS: `shop:${KEY}`,
    BATCH_MAX_ROWS: '2500',
    // Short, so an upload cut off by a killed API lapses within the test.
    BATCH_UPLOAD_LEASE_MS: '2000',
  });
  parts.push(part);
  return part;
}

beforeAll(async () => {
  const simPort = await freePort();
  apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  const sim = `http://127.0.0.1:${simPort}`;
  simUrl = sim;
  parts.push(startApp('simulator', { ...shared, SIMULATOR_PORT: String(simPort) }));
  await waitFor('simulator', async () => ((await fetch(`${sim}/_sim/stats`)).ok ? true : undefined));
  api = startApi();
  // The worker and the importer as the project starts them (packages/runtime/src/worker-processes.ts).
  const process = (name: 'worker' | 'importer') =>
    startApp(
      'worker',
      {
        ...shared,
        A1TOPUP_BASE_URL: sim,
        A1TOPUP_CONCURRENCY: '50',
        WORKER_QUEUES: workerQueuesOf(name),
        // Small, so the 2,000-row batch fills the queue: its second chunk waits in the ledger and
        // the release job hands it over as the worker drains the first.
        BATCH_RELEASE_BACKLOG: '200',
      },
      name,
      { nodeFlags: WORKER_PROCESSES[name].nodeFlags },
    );
  worker = process('worker');
  importer = process('importer');
  parts.push(worker, importer);
  parts.push(startApp('poller', { ...shared, A1TOPUP_BASE_URL: sim }));
  await waitFor('api ready', async () => ((await fetch(`${apiUrl}/readyz`)).ok ? true : undefined));
}, 60_000);

afterAll(async () => {
  await Promise.all(parts.map((p) => p.stop()));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`rf-test-batch-${run}*`);
  for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
  await redis.quit();
});

describe('CSV batches', () => {
  it('2,000 rows with 20 bad ones: 1,980 orders, 20 explained errors, results.csv with every row in order', async () => {
    const body = csv('b1');
    const created = await upload(body);
    expect(created.status).toBe(202);
    const batchId = created.body.batchId;
    const imported = await until(batchId, ['imported', 'done']);
    expect(imported.rows).toMatchObject({ read: 2_000, accepted: 1_980, rejected: 20, notRead: 0 });
    // Released as the queue drained (backlog 200 here): all of them once the batch is done.
    expect(imported.rows.released).toBeLessThanOrEqual(2_000);
    const done = await until(batchId, ['done'], 90_000);
    expect(done.orders.success).toBe(1_980);
    expect(done.rows.released).toBe(2_000);

    const res = await fetch(`${apiUrl}/v1/batches/${batchId}/results.csv`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await res.text()).trimEnd().split(/\r?\n/);
    expect(lines).toHaveLength(2_001);
    const header = lines[0]!.split(',');
    expect(header.slice(0, 7)).toEqual([
      'orderId',
      'operator',
      'circle',
      'number',
      'amount',
      'value1',
      'value2',
    ]);
    expect(header).toEqual(expect.arrayContaining(['status', 'error']));
    const errorAt = header.indexOf('error');
    for (let i = 1; i <= 2_000; i++) expect(lines[i]!.startsWith(`b1-${i - 1},`), `row ${i}`).toBe(true);
    const rejected = lines.slice(1).filter((l) => l.includes('rejected'));
    expect(rejected).toHaveLength(20);
    expect(lines[8]).toMatch(/operator/); // b1-7: unknown operator, explained
    // The formula-looking circle comes back neutralised, never as a live formula.
    const formula = lines.find((l) => l.startsWith('b1-407,'))!;
    expect(formula).toContain("'=1+2");
    expect(formula).not.toMatch(/,=1\+2/);
    expect(errorAt).toBeGreaterThan(6);
  }, 150_000);

  it('uploading the same file again creates nothing new', async () => {
    const again = await upload(csv('b1'));
    expect(again.status).toBe(200);
    const list = (await (await fetch(`${apiUrl}/v1/batches`, { headers })).json()) as { batches: View[] };
    expect(list.batches).toHaveLength(1);
    expect(again.body.batchId).toBe(list.batches[0]!.batchId);
  });

  it('refuses an upload over the row limit with 413 naming the limit', async () => {
    const big = [
      'orderId,operator,number,amount',
      ...Array.from({ length: 3_000 }, (_, i) => `big-${i},A,9876500000,10`),
    ].join('\n');
    const res = await upload(big);
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/2,?500/);
  });

  it('accepts a multipart file and refuses extra columns by name', async () => {
    const form = new FormData();
    form.append(
      'file',
      new Blob(['orderId,operator,number,amount,colour\nmp-1,A,9876500000,10,red\n'], { type: 'text/csv' }),
      'extra.csv',
    );
    const res = await fetch(`${apiUrl}/v1/batches`, { method: 'POST', headers, body: form });
    expect(res.status).toBe(202);
    const { batchId } = (await res.json()) as View;
    const stopped = await waitFor('the import to stop', async () => {
      const v = await view(batchId);
      return v.error ? v : undefined;
    });
    expect(stopped.error).toMatch(/colour/);
  });

  it('a batch whose API is killed right after the 202 still completes', async () => {
    const body = csv('b2').split('\n').slice(0, 301).join('\n');
    const created = await upload(body);
    expect(created.status).toBe(202);
    api.kill('SIGKILL');
    await api.exited;
    api = startApi();
    await waitFor('api back', async () => ((await fetch(`${apiUrl}/readyz`)).ok ? true : undefined));
    const done = await until(created.body.batchId, ['done'], 60_000);
    expect(done.rows.read).toBe(300);
    expect(done.rows.accepted + done.rows.rejected).toBe(300);
  }, 90_000);

  it('an upload cut off by a killed API lapses with its lease, and the poller sweeps what is left', async () => {
    const redis = new Redis(REDIS_URL);
    const ledger = shared.LEDGER_PREFIX;
    /** Upload chunks of no batch: what nothing but the lease would ever delete. */
    const orphans = async () => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${ledger}:batch:*:upload:*`, 'COUNT', 1_000);
        cursor = next;
        for (const key of keys) {
          if ((await redis.exists(key.slice(0, key.lastIndexOf(':upload:')))) === 0) found.push(key);
        }
      } while (cursor !== '0');
      return found;
    };
    try {
      const socket = connect(apiPort, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      // Long rows: more than two megabytes within the suite's BATCH_MAX_ROWS (2,500).
      const row = `cut-1,A,5,9876500000,10,${'x'.repeat(950)},\n`;
      socket.write(
        `POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n` +
          `Content-Type: text/csv\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`,
      );
      socket.write(`orderId,operator,circle,number,amount,value1,value2\n${row.repeat(2_400)}`);
      await waitFor(
        'two chunks stored',
        async () => ((await orphans()).length >= 2 ? true : undefined),
        10_000,
        50,
      );
      // The API dies mid-upload: nothing removes the chunks but their lease.
      api.kill('SIGKILL');
      await api.exited;
      socket.destroy();
      expect(await redis.zcard(`${ledger}:uploads:leases`)).toBe(1);
      await waitFor(
        'the lapsed upload swept',
        async () =>
          (await orphans()).length === 0 && (await redis.zcard(`${ledger}:uploads:leases`)) === 0
            ? true
            : undefined,
        15_000,
        100,
      );
      // The client's count holds batches only, nothing of the lapsed upload.
      const pending = await redis.hgetall(`${ledger}:client:shop:pending-uploads`);
      for (const field of Object.keys(pending))
        expect(await redis.exists(`${ledger}:batch:${field}`)).toBe(1);
    } finally {
      await redis.quit();
      api = startApi();
      await waitFor('api back', async () => ((await fetch(`${apiUrl}/readyz`)).ok ? true : undefined));
    }
  }, 60_000);

  it('imports ran in the importer alone, and the importer consumed no recharges', () => {
    const said = (part: RunningPart, msg: string) =>
      part.lines.filter((line) => line.includes(`"msg":"${msg}"`));
    expect(said(importer, 'batch import done').length).toBeGreaterThanOrEqual(3);
    expect(said(worker, 'batch import done')).toEqual([]);
    // The 2,000-row batch went through its release (the queue was full after its first chunk).
    expect(
      said(importer, 'batch released').some((line) => line.includes('"kind":"released","rows":2000')),
    ).toBe(true);
    expect(said(worker, 'batch released')).toEqual([]);
    const [importerUp] = said(importer, 'recharge worker running');
    expect(importerUp).toContain('"queues":["batches"]');
    expect(importerUp).toContain('"providers":{}');
    expect(said(worker, 'recharge worker running')[0]).toContain('"queues":["recharges","webhooks"]');
  });

  it("the books: every charge the simulator made is its order's success in the ledger; nothing sent twice", async () => {
    const redis = new Redis(REDIS_URL);
    const ledger = createRedisLedgerStore({ redis, prefix: shared.LEDGER_PREFIX });
    try {
      const everyOrder = async (): Promise<Order[]> => {
        const orders: Order[] = [];
        let cursor: string | undefined;
        do {
          const page = await ledger.listOrders('shop', { limit: 500, cursor });
          orders.push(...page.orders);
          cursor = page.nextCursor;
        } while (cursor);
        return orders;
      };
      // Every order of the run settled (none queued or being sent) before the books are read.
      const orders = await waitFor(
        'every order final',
        async () => {
          const all = await everyOrder();
          return all.length > 0 && all.every((o) => o.state !== 'queued' && o.state !== 'processing')
            ? all
            : undefined;
        },
        60_000,
      );
      const { verdict } = await checkSimulatorBooks({ simulators: { a1topup: simUrl }, orders, ledger });
      expect(verdict.problems).toEqual([]);
      expect(verdict.charges).toBeGreaterThanOrEqual(1_980);
      expect(verdict.sentTwice).toEqual([]);
    } finally {
      await redis.quit();
    }
  }, 90_000);
});
