import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paise, providerOrderId, requestFingerprint } from '@rechargeflow/domain';
import { createRedisLedgerStore, findArchived } from '@rechargeflow/ledger';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { deleteByPrefix, freePort, type RunningPart, startApp, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The poller's ledger.retention job, in a real poller process: a run archives the final orders past
// LEDGER_RETENTION into LEDGER_ARCHIVE_DIR, removes them from the ledger and counts them in /metrics.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomUUID().slice(0, 8);
const QUEUE_PREFIX = `rf-test-retention-${run}`;
const LEDGER_PREFIX = `${QUEUE_PREFIX}:ledger`;
const DAY_MS = 86_400_000;
const REQUEST = { operator: 'A', circle: 'DL', number: '9876543210', amount: paise(1000) };

let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let poller: RunningPart;
let dir: string;
let metricsPort: number;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'retention-test');
  producer = new JobProducer(queueRedis, { prefix: QUEUE_PREFIX });
  dir = mkdtempSync(join(tmpdir(), 'rf-poller-archive-'));
  metricsPort = await freePort();
  poller = startApp('poller', {
    REDIS_URL,
    QUEUE_PREFIX,
    LEDGER_PREFIX,
    A1TOPUP_USERNAME: 'retention-user',
    A1TOPUP_PASSWORD: `pw-${randomUUID()}`,
    A1TOPUP_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    LEDGER_ARCHIVE_DIR: dir,
    LEDGER_RETENTION: '30d',
    METRICS_PORT: String(metricsPort),
  });
  await poller.waitForLine(/poller running/, 30_000);
}, 60_000);

afterAll(async () => {
  const code = await poller?.stop();
  await producer.close();
  await deleteByPrefix(redis, QUEUE_PREFIX);
  await redis.quit();
  await queueRedis.quit();
  rmSync(dir, { recursive: true, force: true });
  expect(code).toBe(0);
});

describe('the ledger.retention job', () => {
  it('archives and removes the final orders past the window, and counts them', async () => {
    expect(poller.lines.find((line) => line.includes('poller running'))).toMatch(/"retentionMs":2592000000/);
    const store = createRedisLedgerStore({ redis, prefix: LEDGER_PREFIX });
    await store.init();
    const keys = ['old-1', 'old-2', 'recent-1'].map((orderId) => ({ clientId: 'shop-1', orderId }));
    for (const key of keys) {
      const at = new Date(Date.now() - (key.orderId.startsWith('old') ? 40 : 1) * DAY_MS).toISOString();
      await store.createOrder({
        ...key,
        providerOrderId: providerOrderId(key),
        provider: 'a1topup',
        request: REQUEST,
        fingerprint: requestFingerprint(REQUEST),
        now: at,
      });
      await store.transition(key, {
        expect: { state: 'queued' },
        to: 'processing',
        entry: { at, source: 'worker' },
      });
      await store.transition(key, {
        expect: { state: 'processing' },
        to: 'success',
        entry: { at, source: 'worker' },
      });
    }
    const [old1, old2, recent] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];
    const before = await store.getOrder(old1);

    // The scheduler's next run is up to an hour away; the job it adds is the same as this one.
    await producer.enqueue('ledger.retention', {}, `retention-${run}`);
    await waitFor('the old orders to leave the ledger', async () =>
      (await store.getOrder(old1)) === null && (await store.getOrder(old2)) === null ? true : undefined,
    );
    expect((await findArchived(dir, old1))?.order).toStrictEqual(before);
    expect(await findArchived(dir, old2)).not.toBeNull();
    expect(await store.getOrder(recent)).not.toBeNull();
    await poller.waitForLine(/ledger retention/, 10_000);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^rechargeflow_ledger_archived_orders_total\{[^}]*\} 2$/m);
    expect(metrics).toMatch(/^rechargeflow_ledger_retention_runs_total\{[^}]*outcome="ok"[^}]*\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^rechargeflow_ledger_retention_last_success_timestamp_seconds\{[^}]*\} [1-9]/m);
  }, 60_000);
});
