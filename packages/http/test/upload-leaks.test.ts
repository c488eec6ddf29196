import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { createRedisLedgerStore, type LedgerStore } from '@rechargeflow/ledger';
import { createLogger } from '@rechargeflow/observability';
import { createRedisConnection, JobProducer } from '@rechargeflow/queue';
import { deleteByPrefix, waitFor } from '@rechargeflow/testkit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BatchLimits } from '../src/batch-routes.ts';
import { buildApi } from '../src/index.ts';

// Issue 13, finding 1: batch uploads must leave nothing behind in Redis. An upload that is refused,
// repeated or broken off is removed at once; one whose process dies lapses with its lease and the
// sweep; and one client cannot make the ledger hold more than its limit of bytes not yet imported.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-upload-leaks-${randomUUID().slice(0, 8)}`;
const LEDGER_PREFIX = `${prefix}:ledger`;
const MiB = 1024 * 1024;
const KEYS = {
  shop: `shop-secret-${randomUUID()}`,
  other: `other-secret-${randomUUID()}`,
} as const;
const LIMITS: BatchLimits = {
  maxBytes: 8 * MiB,
  maxRows: 1_000_000,
  maxRowBytes: 1_024,
  maxImportingPerClient: 3,
  maxPendingBytesPerClient: 16 * MiB,
  uploadLeaseMs: 60_000,
};

let redis: Redis;
let queueRedis: Redis;
let producer: JobProducer;
let ledger: LedgerStore;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  queueRedis = createRedisConnection(REDIS_URL, 'producer', 'upload-leaks-test');
  ledger = createRedisLedgerStore({ redis, prefix: LEDGER_PREFIX });
  await ledger.init();
  producer = new JobProducer(queueRedis, { prefix: `${prefix}:q` });
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await deleteByPrefix(redis, `${LEDGER_PREFIX}:`);
});

afterAll(async () => {
  await producer.close();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
  await queueRedis.quit();
});

async function api(limits: BatchLimits = LIMITS, store: LedgerStore = ledger): Promise<FastifyInstance> {
  const app = await buildApi({
    ledger: store,
    producer,
    logger: createLogger({ name: 'upload-leaks-test', level: 'silent' }),
    keys: [
      { clientId: 'shop', secret: KEYS.shop, role: 'client' },
      { clientId: 'other', secret: KEYS.other, role: 'client' },
    ],
    rateLimitPerMinute: 10_000,
    bodyLimitBytes: 4_096,
    batchLimits: limits,
    readiness: async () => {},
  });
  apps.push(app);
  await app.ready();
  return app;
}

const headers = (client: keyof typeof KEYS = 'shop') => ({
  authorization: `Bearer ${KEYS[client]}`,
  'content-type': 'text/csv',
});

/** A CSV of about `bytes` bytes with unique order ids (so two tags are two different files). */
function csv(tag: string, bytes: number): string {
  const lines = ['orderId,operator,circle,number,amount,value1,value2'];
  let size = lines[0]!.length + 1;
  for (let i = 0; size < bytes; i += 1) {
    const line = `${tag}-${i},A,5,98${String(i % 100_000_000).padStart(8, '0')},10,,`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

async function scan(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Upload chunk keys under the ledger prefix. */
const chunkKeys = () => scan(`${LEDGER_PREFIX}:batch:*:upload:*`);

/** Upload chunk keys whose batch does not exist: bytes that nothing would ever delete. */
async function orphanChunks(): Promise<string[]> {
  const orphans: string[] = [];
  for (const key of await chunkKeys()) {
    const batchKey = key.slice(0, key.lastIndexOf(':upload:'));
    if ((await redis.exists(batchKey)) === 0) orphans.push(key);
  }
  return orphans;
}

describe('batch uploads leave nothing behind', () => {
  it('(a) 5 MB of blank lines: 400, and no upload chunk is left under the ledger prefix', async () => {
    const app = await api();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: headers(),
      // The probe: head -c 5242880 /dev/zero | tr '\0' '\n'
      payload: '\n'.repeat(5_242_880),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'empty_upload',
      message: expect.stringMatching(/the file is empty/),
    });
    expect(await chunkKeys()).toEqual([]);
    expect(await scan(`${LEDGER_PREFIX}:batch:*`)).toEqual([]);
    expect(await redis.zcard(`${LEDGER_PREFIX}:uploads:leases`)).toBe(0);
    expect(await ledger.pendingUploadBytes('shop')).toBe(0);
  });

  it('(b) the same file again: 200 with the first batch, and the second upload’s chunks are gone', async () => {
    const app = await api();
    const file = csv('dup', 1.5 * MiB);
    const first = await app.inject({ method: 'POST', url: '/v1/batches', headers: headers(), payload: file });
    expect(first.statusCode).toBe(202);
    const { batchId } = first.json() as { batchId: string };
    const own = [`${LEDGER_PREFIX}:batch:${batchId}:upload:0`, `${LEDGER_PREFIX}:batch:${batchId}:upload:1`];
    expect(await chunkKeys()).toEqual(own);

    const again = await app.inject({ method: 'POST', url: '/v1/batches', headers: headers(), payload: file });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ batchId });
    // Only the first upload's chunks, kept for good with their batch (no expiry).
    expect(await chunkKeys()).toEqual(own);
    for (const key of own) expect(await redis.pttl(key)).toBe(-1);
    expect(await redis.zcard(`${LEDGER_PREFIX}:uploads:leases`)).toBe(0);
    expect(await ledger.pendingUploadBytes('shop')).toBe(Buffer.byteLength(file));
  });

  it('(c) a client that disconnects mid-upload: the chunks it had sent are removed at once', async () => {
    const app = await api();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const body = Buffer.from(csv('gone', 2.5 * MiB));
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      [
        'POST /v1/batches HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${KEYS.shop}`,
        'Content-Type: text/csv',
        `Content-Length: ${4 * MiB}`,
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(body);
    // Two chunks are in the ledger while the request still waits for the rest of its body.
    await waitFor(
      'two chunks stored',
      async () => ((await chunkKeys()).length >= 2 ? true : undefined),
      10_000,
      25,
    );
    socket.destroy();
    await waitFor(
      'the chunks removed',
      async () => ((await chunkKeys()).length === 0 ? true : undefined),
      5_000,
      25,
    );
    expect(await orphanChunks()).toEqual([]);
    expect(await redis.zcard(`${LEDGER_PREFIX}:uploads:leases`)).toBe(0);
    expect(await ledger.pendingUploadBytes('shop')).toBe(0);
  });

  it('(c) a multipart upload broken off mid-file: its chunks are removed too', async () => {
    const app = await api();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const boundary = `----rf${randomUUID().slice(0, 8)}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="orders.csv"\r\nContent-Type: text/csv\r\n\r\n`,
    );
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      [
        'POST /v1/batches HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${KEYS.shop}`,
        `Content-Type: multipart/form-data; boundary=${boundary}`,
        `Content-Length: ${4 * MiB}`,
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(Buffer.concat([head, Buffer.from(csv('mp', 2.5 * MiB))]));
    await waitFor(
      'two chunks stored',
      async () => ((await chunkKeys()).length >= 2 ? true : undefined),
      10_000,
      25,
    );
    socket.destroy();
    await waitFor(
      'the chunks removed',
      async () => ((await chunkKeys()).length === 0 ? true : undefined),
      5_000,
      25,
    );
    expect(await ledger.pendingUploadBytes('shop')).toBe(0);
  });

  it('(c) what could not be removed at once (a process gone, a failed delete) lapses with its lease, and the sweep clears it', async () => {
    // The API cannot remove what it wrote (as if it died): only the lease is left to do it.
    const cannotDiscard = new Proxy(ledger, {
      get(target, property, receiver) {
        if (property === 'discardUpload') return async () => Promise.reject(new Error('Redis went away'));
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const app = await api({ ...LIMITS, uploadLeaseMs: 400 }, cannotDiscard);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/batches',
      headers: headers(),
      payload: '\n'.repeat(3 * MiB),
    });
    expect(res.statusCode).toBe(400);
    const left = await chunkKeys();
    expect(left).toHaveLength(3);
    for (const key of left) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(400);
    }
    // Not counted against the client once run out, even before the sweep.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await ledger.pendingUploadBytes('shop')).toBe(0);
    expect(await chunkKeys()).toEqual([]);
    // The poller's sweep (sweepUploads) clears what is left of it: the lease entries and the count.
    expect(await ledger.sweepUploads(500)).toBe(1);
    expect(await ledger.sweepUploads(500)).toBe(0);
    expect(await scan(`${LEDGER_PREFIX}:*`)).toEqual([]);
  });

  it('(d) a client over its bytes not yet imported gets 429 naming the limit; others and later uploads go on', async () => {
    const limits = { ...LIMITS, maxBytes: 2 * MiB, maxPendingBytesPerClient: 3 * MiB };
    const app = await api(limits);
    const post = (client: keyof typeof KEYS, payload: string) =>
      app.inject({ method: 'POST', url: '/v1/batches', headers: headers(client), payload });

    const stored = await post('shop', csv('cap-a', 1.5 * MiB));
    expect(stored.statusCode).toBe(202);
    const storedId = (stored.json() as { batchId: string }).batchId;

    // 1.5 MiB stored (no worker imports it here) + 1.6 MiB more would pass 3 MiB.
    const refused = await post('shop', csv('cap-b', 1.6 * MiB));
    expect(refused.statusCode).toBe(429);
    const body = refused.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error', 'message']);
    expect(body.error).toBe('upload_quota_exceeded');
    expect(body.message).toMatch(/past 3,145,728 bytes, the limit per client/);
    expect(body.message).toMatch(/wait for a batch to finish importing/);
    // Refused after its first megabyte was stored: that is gone too.
    expect(await orphanChunks()).toEqual([]);
    expect(await ledger.pendingUploadBytes('shop')).toBe(Buffer.byteLength(csv('cap-a', 1.5 * MiB)));

    // Another client has a count of its own.
    expect((await post('other', csv('cap-c', 1.6 * MiB))).statusCode).toBe(202);
    // Once the stored batch is imported it no longer counts, and the file goes in.
    await ledger.updateBatch(storedId, { state: 'importing' }, new Date().toISOString());
    expect((await post('shop', csv('cap-b', 1.6 * MiB))).statusCode).toBe(429);
    await ledger.updateBatch(storedId, { state: 'imported' }, new Date().toISOString());
    expect((await post('shop', csv('cap-b', 1.6 * MiB))).statusCode).toBe(202);
    expect(await orphanChunks()).toEqual([]);
  });
});
