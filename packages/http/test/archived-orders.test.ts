import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisLedgerStore, type LedgerStore, runRetention } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { deleteByPrefix } from '@rechargeflow/testkit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/index.ts';

/**
 * Orders retention archived: GET answers them from the archive (`archived: true`), or `410` while
 * only the ledger's tombstone knows them; POST under an archived id is `409 order_archived`.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-archived-${randomUUID().slice(0, 8)}`;
const KEY = 'shop-secret-0123456789';
const auth = { authorization: `Bearer ${KEY}` };
const DAY_MS = 86_400_000;

let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let ledger: LedgerStore;
let dir: string;
const apps: FastifyInstance[] = [];

async function api(archiveDir: string | undefined): Promise<FastifyInstance> {
  const app = await buildApi({
    ledger,
    producer,
    logger: createLogger({ name: 'archived-test', level: 'silent' }),
    keys: [{ clientId: 'shop', secret: KEY, role: 'client' }],
    rateLimitPerMinute: 1_000,
    bodyLimitBytes: 4_096,
    readiness: async () => {},
    archiveDir,
  });
  await app.ready();
  apps.push(app);
  return app;
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'archived-test');
  ledger = createRedisLedgerStore({ redis, prefix: `${prefix}:ledger` });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
  dir = await mkdtemp(join(tmpdir(), 'rf-archived-api-'));
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await producer.close();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
  await queueRedis.quit();
  await rm(dir, { recursive: true, force: true });
});

describe('archived orders over HTTP', () => {
  it('are read back from the archive, refused as new orders, and known by their tombstone alone', async () => {
    const withArchive = await api(dir);
    const posted = await withArchive.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: { orderId: 'old-1', operator: 'A', circle: '5', number: '9800000000', amount: 10 },
    });
    expect(posted.statusCode).toBe(202);
    // The order settles, and its last change lies past the window (written with an old time).
    const at = new Date(Date.now() - 100 * DAY_MS).toISOString();
    const key = { clientId: 'shop', orderId: 'old-1' };
    await ledger.transition(key, {
      expect: { state: 'queued' },
      to: 'processing',
      entry: { at, source: 'worker' },
    });
    await ledger.transition(key, {
      expect: { state: 'processing' },
      to: 'success',
      entry: { at, source: 'worker' },
    });
    const live = (
      await withArchive.inject({ method: 'GET', url: '/v1/recharges/old-1', headers: auth })
    ).json();
    expect(live.archived).toBeUndefined();

    const report = await runRetention(ledger, { dir, retentionMs: 90 * DAY_MS });
    expect(report.removed).toBe(1);
    expect(await ledger.getOrder(key)).toBeNull();

    const read = await withArchive.inject({ method: 'GET', url: '/v1/recharges/old-1', headers: auth });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toStrictEqual({ ...live, archived: true });

    const again = await withArchive.inject({
      method: 'POST',
      url: '/v1/recharges',
      headers: auth,
      payload: { orderId: 'old-1', operator: 'A', circle: '5', number: '9800000000', amount: 10 },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      error: 'order_archived',
      message: expect.stringMatching(/use a new orderId/),
    });

    // An API that cannot read the archive still knows the order was archived: 410, not 404.
    const without = await api(undefined);
    const gone = await without.inject({ method: 'GET', url: '/v1/recharges/old-1', headers: auth });
    expect(gone.statusCode).toBe(410);
    expect(gone.json()).toMatchObject({
      error: 'order_archived',
      message: expect.stringMatching(/npm run archive/),
    });
    const unknown = await without.inject({ method: 'GET', url: '/v1/recharges/never-was', headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(
      (await withArchive.inject({ method: 'GET', url: '/v1/recharges/never-was', headers: auth })).statusCode,
    ).toBe(404);
  });
});
