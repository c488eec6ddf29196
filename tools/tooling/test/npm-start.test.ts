import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@rechargeflow/observability';
import { WORKER_PROCESSES } from '@rechargeflow/runtime';
import { freePort, REPO_ROOT, startProcess, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { prettyFactory } from 'pino-pretty';
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
    // The banner comes once every part is up, after their start-up lines; non-TTY output stays JSON.
    const bannerAt = start.lines.findIndex((line) => line.includes('Rechargeflow is running.'));
    for (const up of [
      'ingest API listening',
      'recharge worker running',
      'poller running',
      'Telgoo5 simulator listening',
    ]) {
      const at = start.lines.findIndex((line) => line.includes(`"msg":"${up}"`));
      expect(at, up).toBeGreaterThanOrEqual(0);
      expect(at, up).toBeLessThan(bannerAt);
    }
    // Two worker processes: recharges and webhooks, and CSV imports (packages/runtime/src/worker-processes.ts).
    for (const { queues } of Object.values(WORKER_PROCESSES)) {
      const up = start.lines
        .slice(0, bannerAt)
        .some(
          (line) =>
            line.includes('"msg":"recharge worker running"') &&
            line.includes(`"queues":${JSON.stringify(queues)}`),
        );
      expect(up, queues.join(',')).toBe(true);
    }
    const logLines = start.lines.slice(0, bannerAt).filter((line) => !line.startsWith('rechargeflow:'));
    expect(logLines.length).toBeGreaterThan(4);
    for (const line of logLines) expect(() => JSON.parse(line), line).not.toThrow();
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
    // Every part: api, worker, importer, poller, simulator.
    expect(out().match(/"shutdown complete"/g)?.length).toBe(5);
    expect(out()).not.toMatch(/forcing exit/);
  }, 90_000);

  it('--fresh removes only the demo prefix keys and says how many; LOG_FORMAT=pretty gives readable, scrubbed lines', async () => {
    const prefix = `rf-test-start-${run}-fresh`;
    const redis = new Redis(REDIS_URL);
    await redis.set(`${prefix}:recharge:old-job`, '1');
    await redis.set(`${prefix}:ledger:order:old`, '1');
    await redis.set(`${prefix}-foreign:keep`, '1');
    const [port, simPort] = [await freePort(), await freePort()];
    const token = `tok${randomUUID().replaceAll('-', '')}`;
    const start = startProcess({
      label: 'npm start -- --fresh',
      args: [resolve(REPO_ROOT, 'tools/tooling/src/start.ts'), '--fresh'],
      env: {
        REDIS_URL,
        PORT: String(port),
        SIMULATOR_PORT: String(simPort),
        QUEUE_PREFIX: prefix,
        LEDGER_PREFIX: `${prefix}:ledger`,
        API_KEYS: '',
        A1TOPUP_BASE_URL: '',
        CALLBACK_TOKEN: token,
        LOG_FORMAT: 'pretty',
      },
    });
    try {
      const said = await start.waitForLine(/--fresh: removed/, 30_000);
      expect(said).toMatch(/removed 2 Redis keys/);
      await start.waitForLine(/Ctrl-C stops every part/, 60_000);
      expect(await redis.exists(`${prefix}:recharge:old-job`, `${prefix}:ledger:order:old`)).toBe(0);
      expect(await redis.get(`${prefix}-foreign:keep`)).toBe('1');
      // A callback with the token in its path: the API logs the request, with the token cut out.
      await fetch(`http://127.0.0.1:${port}/callbacks/a1topup/${token}?x=1`);
      const listening = await start.waitForLine(/ingest API listening/);
      expect(listening).toMatch(/^\[[\d:.]+\] INFO \(api\): ingest API listening/);
      start.kill('SIGINT');
      expect(await start.closed).toBe(0);
      const bannerAt = start.lines.findIndex((line) => line.includes('Rechargeflow is running.'));
      const logLines = start.lines.filter(
        (line, i) => !line.startsWith('rechargeflow:') && (i < bannerAt || i > bannerAt + 20),
      );
      expect(logLines.some((line) => line.startsWith('{'))).toBe(false);
      expect(logLines.join('\n')).not.toContain(token);
      expect(start.lines.filter((line) => /INFO \(\w+\): shutdown complete/.test(line))).toHaveLength(5);
    } finally {
      if (start.running()) start.kill('SIGKILL');
      await redis.del(`${prefix}-foreign:keep`);
      await redis.quit();
    }
  }, 90_000);

  it('a pretty line is made from a part scrubbed JSON line: a secret never reaches it', () => {
    const token = `tok${randomUUID().replaceAll('-', '')}`;
    const written: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        written.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ name: 'api', secrets: [token], destination });
    logger.info({ url: `/callbacks/a1topup/${token}`, note: `key ${token}` }, `callback ${token}`);
    // The options start.ts uses on a terminal.
    const pretty = prettyFactory({
      colorize: false,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,part',
      singleLine: true,
    });
    const line = pretty(written.join('').trim());
    expect(line).toMatch(/INFO \(api\): callback/);
    expect(line).not.toContain(token);
  });
});
