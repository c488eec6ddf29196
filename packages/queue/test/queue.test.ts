import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RechargeflowError } from '@rechargeflow/domain';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertNoEviction,
  createJobConsumer,
  createRedisConnection,
  JobProducer,
  REDIS_KEEP_ALIVE_MS,
  RedisEvictionPolicyError,
  readAofEnabled,
  readQueueStats,
  rechargeJobId,
  waitForRedis,
} from '../src/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-queue-${randomUUID().slice(0, 8)}`;
const connections: Redis[] = [];

function connect(role: 'worker' | 'producer') {
  const c = createRedisConnection(REDIS_URL, role, 'queue-test');
  connections.push(c);
  return c;
}

afterAll(async () => {
  const admin = new Redis(REDIS_URL);
  // Every test's prefix starts with `prefix` (`${prefix}-retry`, ...).
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
  await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
});

describe('queue package on real Redis', () => {
  it('accepts the machine Redis (noeviction) and refuses another policy by name', async () => {
    await expect(assertNoEviction(connect('producer'))).resolves.toBeUndefined();
    const fake = { config: async () => ['maxmemory-policy', 'allkeys-lru'] } as unknown as Redis;
    await expect(assertNoEviction(fake)).rejects.toThrow(RedisEvictionPolicyError);
    await expect(assertNoEviction(fake)).rejects.toThrow(/allkeys-lru.*noeviction/);
  });

  it('turns TCP keepalive on for both roles, so a connection that died silently is found', async () => {
    for (const role of ['worker', 'producer'] as const) {
      const c = connect(role);
      await waitForRedis(c);
      expect(c.options.keepAlive).toBe(REDIS_KEEP_ALIVE_MS);
      // The kernel's own view of the socket: `ss -o` shows the keepalive timer, at most 30 s away
      // (without the option ioredis 5 leaves the kernel's 2 h: `keepalive,119min`).
      const port = c.stream.localPort;
      const ss = spawnSync('ss', ['-tnoH', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' });
      if (ss.error) continue; // no `ss` here: the option above is what ioredis applies
      expect(ss.stdout).toMatch(/timer:\(keepalive,([12]?\d|30)sec/);
    }
  });

  it('reads whether Redis keeps an append-only file: as CONFIG says on the machine Redis, yes on a private one with AOF', async () => {
    const machine = connect('producer');
    await waitForRedis(machine);
    // This machine's Redis runs without AOF; whatever it runs with, INFO must agree with CONFIG.
    const [, appendonly] = (await machine.config('GET', 'appendonly')) as string[];
    expect(await readAofEnabled(machine)).toBe(appendonly === 'yes');
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    expect(spawnSync('redis-server', ['--version']).error, 'redis-server must be installed').toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'rf-aof-'));
    const server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir],
      { stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => server.once('exit', resolve));
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
    client.on('error', () => undefined); // refused until the server listens
    try {
      const deadline = Date.now() + 10_000;
      while ((await client.ping().catch(() => null)) !== 'PONG') {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await readAofEnabled(client)).toBe(true);
    } finally {
      client.disconnect();
      server.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adds one job per order key however often it is enqueued, and the consumer gets the parsed payload', async () => {
    const producer = new JobProducer(connect('producer'), { prefix });
    const key = { clientId: 'shop1', orderId: 'o-1' };
    const jobId = rechargeJobId(key, 'a1topup');
    await producer.enqueue('recharge', key, jobId, 'a1topup');
    await producer.enqueue('recharge', key, jobId, 'a1topup');
    await producer.enqueue('recharge', key, jobId, 'a1topup');
    expect(await producer.queue('recharges', 'a1topup').getJobCounts('waiting')).toEqual({ waiting: 1 });

    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      const worker = createJobConsumer(
        'recharges',
        {
          recharge: async (payload, ctx) => {
            seen.push({ payload, ctx });
            resolve();
          },
        },
        connect('worker'),
        { prefix, concurrency: 1, partition: 'a1topup' },
      );
      connections.push({ quit: () => worker.close() } as unknown as Redis);
    });
    await done;
    expect(seen).toEqual([
      { payload: key, ctx: { jobId, attempt: 1, maxAttempts: 6, isFinalAttempt: false } },
    ]);
    await producer.close();
  });

  it('refuses a payload that does not match the catalogue, before and after Redis', async () => {
    const producer = new JobProducer(connect('producer'), { prefix: `${prefix}-bad` });
    await expect(
      producer.enqueue('recharge', { clientId: 'a', orderId: 'x', number: '9800000000' } as never, 'j1'),
    ).rejects.toThrow();

    // A job written by something else with a bad payload fails once, without retries.
    const raw = new Queue('recharges', { connection: connect('producer'), prefix: `${prefix}-bad` });
    await raw.add('recharge', { clientId: '', orderId: 7 }, { jobId: 'bad-1', attempts: 5 });
    const failed = new Promise<Error>((resolve) => {
      const worker = createJobConsumer(
        'recharges',
        {
          recharge: async () => {
            throw new Error('handler must not run');
          },
        },
        connect('worker'),
        { prefix: `${prefix}-bad`, concurrency: 1, onFailed: (_id, error) => resolve(error) },
      );
      connections.push({ quit: () => worker.close() } as unknown as Redis);
    });
    expect((await failed).message).toMatch(/invalid recharge payload/);
    const job = await raw.getJob('bad-1');
    expect(job?.attemptsMade).toBe(1);
    await raw.close();
    await producer.close();
  });

  it('retries only errors marked retryable', async () => {
    const p = `${prefix}-retry`;
    const producer = new JobProducer(connect('producer'), { prefix: p });
    const key = { clientId: 'shop1', orderId: 'retry-1' };
    const runs: number[] = [];
    const observed: string[] = [];
    const observer = {
      ran: (queue: string, outcome: string, seconds: number) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        observed.push(`${queue}:${outcome}`);
      },
      stalled: (queue: string) => observed.push(`${queue}:stalled`),
    };
    const gaveUp: string[] = [];
    const finished = new Promise<void>((resolve) => {
      const worker = createJobConsumer(
        'recharges',
        {
          recharge: async (_payload, ctx) => {
            runs.push(ctx.attempt);
            if (ctx.attempt === 1) throw new RechargeflowError('not sent', { retryable: true });
            throw new Error('definite');
          },
        },
        connect('worker'),
        {
          prefix: p,
          concurrency: 1,
          observer,
          onFailed: (_id, e) => e.message === 'definite' && resolve(),
          // Told once, when the job ends failed: not for the run that is retried.
          onGaveUp: (id, e) => gaveUp.push(`${id}:${e.message}`),
        },
      );
      connections.push({ quit: () => worker.close() } as unknown as Redis);
    });
    // Shorter back-off for the test: add the job directly with the catalogue's name.
    await producer.queue('recharges').add('recharge', key, { jobId: 'r1', attempts: 6, backoff: 10 });
    await finished;
    expect(runs).toEqual([1, 2]);
    expect(observed).toEqual(['recharges:retry', 'recharges:failed']);
    await expect.poll(() => gaveUp).toEqual(['r1:definite']);
    await producer.close();
  });

  it('waits without spending an attempt when a retryable error asks for a time (retryAfterMs)', async () => {
    const p = `${prefix}-wait`;
    const producer = new JobProducer(connect('producer'), { prefix: p });
    const key = { clientId: 'shop1', orderId: 'wait-1' };
    const runs: { attempt: number; final: boolean; at: number }[] = [];
    const observed: string[] = [];
    const observer = {
      ran: (queue: string, outcome: string) => observed.push(`${queue}:${outcome}`),
      stalled: () => undefined,
    };
    const finished = new Promise<void>((resolve) => {
      const worker = createJobConsumer(
        'recharges',
        {
          recharge: async (_payload, ctx) => {
            runs.push({ attempt: ctx.attempt, final: ctx.isFinalAttempt, at: Date.now() });
            // Four waits of 150 ms, on a job of 2 attempts: none of them may count as one.
            if (runs.length <= 4)
              throw new RechargeflowError('waiting', { retryable: true, retryAfterMs: 150 });
            resolve();
          },
        },
        connect('worker'),
        { prefix: p, concurrency: 1, observer },
      );
      connections.push({ quit: () => worker.close() } as unknown as Redis);
    });
    await producer.queue('recharges').add('recharge', key, { jobId: 'w1', attempts: 2, backoff: 10 });
    await finished;
    expect(runs.map((r) => [r.attempt, r.final])).toEqual(Array(5).fill([1, false]));
    // Each run came no sooner than the time asked for.
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.at - runs[i - 1]!.at).toBeGreaterThanOrEqual(140);
    // The handler returned; the consumer tells the observer just after.
    await expect.poll(() => observed).toEqual([...Array(4).fill('recharges:waiting'), 'recharges:completed']);
    await producer.close();
  });

  it('reads job counts by state and live workers of every queue, recharges per provider', async () => {
    const p = `${prefix}-stats`;
    const producer = new JobProducer(connect('producer'), { prefix: p });
    await producer.enqueue('recharge', { clientId: 'shop1', orderId: 'w1' }, 'w1', 'a1topup');
    await producer.enqueue('recharge', { clientId: 'shop1', orderId: 'w2' }, 'w2', 'a1topup');
    await producer.enqueue('recharge', { clientId: 'shop1', orderId: 't1' }, 't1', 'telgoo5');
    const before = await readQueueStats(producer, ['a1topup', 'telgoo5']);
    const byName = new Map(before.map((stats) => [stats.queue, stats]));
    expect([...byName.keys()].sort()).toEqual([
      'batches',
      'callbacks',
      'poller',
      'recharges-a1topup',
      'recharges-telgoo5',
      'webhooks',
    ]);
    expect(byName.get('recharges-a1topup')?.jobs).toMatchObject({ waiting: 2, active: 0, failed: 0 });
    expect(byName.get('recharges-telgoo5')?.jobs.waiting).toBe(1);
    expect(byName.get('callbacks')?.jobs.waiting).toBe(0);
    expect(byName.get('recharges-a1topup')?.workers).toBe(0);

    // A worker on one partition shows there; its finished jobs are removed at once (jobOptions).
    let ran = 0;
    const worker = createJobConsumer(
      'recharges',
      {
        recharge: async () => {
          ran += 1;
        },
      },
      connect('worker'),
      { prefix: p, concurrency: 1, partition: 'a1topup' },
    );
    try {
      let stats = await readQueueStats(producer, ['a1topup', 'telgoo5']);
      for (let i = 0; i < 100; i++) {
        stats = await readQueueStats(producer, ['a1topup', 'telgoo5']);
        const jobs = stats.find((s) => s.queue === 'recharges-a1topup')?.jobs;
        if (ran === 2 && jobs?.waiting === 0 && jobs.active === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const a1 = stats.find((s) => s.queue === 'recharges-a1topup');
      expect(ran).toBe(2);
      expect(a1?.jobs).toMatchObject({ waiting: 0, active: 0, completed: 0 });
      expect(a1?.workers).toBeGreaterThanOrEqual(1);
      expect(stats.find((s) => s.queue === 'recharges-telgoo5')?.workers).toBe(0);
    } finally {
      await worker.close();
      await producer.close();
    }
  });
});
