import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { freePort, REPO_ROOT, startProcess, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

// What a person does first: run the start script, copy the printed curl, see the order succeed,
// press Ctrl-C. (`npm start` is tools/tooling/src/start.ts behind scripts/bootstrap.sh.)
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`rf-test-start-${run}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('npm start', () => {
  it('prints a working API key and curl line; the printed order succeeds; SIGINT stops every part cleanly', async () => {
    const [port, simPort] = [await freePort(), await freePort()];
    const start = startProcess({
      label: 'npm start',
      args: [resolve(REPO_ROOT, 'tools/tooling/src/start.ts')],
      env: {
        REDIS_URL,
        PORT: String(port),
        SIMULATOR_PORT: String(simPort),
        QUEUE_PREFIX: `rf-test-start-${run}`,
        LEDGER_PREFIX: `rf-test-start-${run}:ledger`,
        API_KEYS: '',
        A1TOPUP_BASE_URL: '',
      },
    });
    const out = () => start.lines.join('\n');

    const banner = await waitFor(
      'the banner',
      async () => (/Ctrl-C stops every part/.test(out()) ? out() : undefined),
      60_000,
    );
    const key = /API key:\s+(\S+)/.exec(banner)?.[1];
    const curl = /-d '(\{.*\})'/.exec(banner)?.[1];
    expect(banner).toContain(`http://127.0.0.1:${port}`);
    // On a Redis without an append-only file the parts start only because the demo allows it, and
    // the banner says so.
    const admin = new Redis(REDIS_URL);
    const [, appendonly] = (await admin.config('GET', 'appendonly')) as string[];
    await admin.quit();
    if (appendonly === 'no') expect(banner).toMatch(/demo without persistence/);
    else expect(banner).not.toMatch(/without persistence/);
    expect(key).toBeTruthy();
    expect(curl).toBeTruthy();
    const body = JSON.parse(curl!) as { orderId: string };
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const created = await fetch(`http://127.0.0.1:${port}/v1/recharges`, {
      method: 'POST',
      headers,
      body: curl,
    });
    expect(created.status).toBe(202);
    const order = await waitFor('success', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/recharges/${body.orderId}`, { headers });
      const json = (await res.json()) as { status: string };
      return json.status === 'success' ? json : undefined;
    });
    expect(order.status).toBe('success');

    // The printed operator key opens the queue board the way a browser logs in (Basic, key as password).
    const operatorKey = /operator:\s+(\S+)/.exec(banner)?.[1];
    expect(operatorKey).toBeTruthy();
    const board = await fetch(`http://127.0.0.1:${port}/admin/queues`, {
      headers: { authorization: `Basic ${Buffer.from(`ops:${operatorKey}`).toString('base64')}` },
    });
    expect(board.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/admin/queues`, { headers })).status).toBe(403);

    start.kill('SIGINT');
    // `closed`: the script and every part have exited and all they wrote has been read.
    expect(await start.closed).toBe(0);
    expect(out().match(/"shutdown complete"/g)?.length).toBe(4);
    expect(out()).not.toMatch(/forcing exit/);
  }, 90_000);
});
