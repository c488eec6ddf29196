import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rechargeflow/observability';
import { freePort, waitFor } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LedgerDurabilityError,
  openStorage,
  type StorageSettings,
  storageShutdownSteps,
} from '../src/index.ts';

// Each case runs its own redis-server: the machine Redis's persistence is not this test's to choose.
interface PrivateRedis {
  readonly port: number;
  readonly admin: Redis;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startRedis(args: readonly string[]): Promise<PrivateRedis> {
  expect(spawnSync('redis-server', ['--version']).error, 'redis-server must be installed').toBeUndefined();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rf-durability-'));
  const server: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...args],
    { stdio: 'ignore' },
  );
  const exited = once(server, 'exit');
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
  admin.on('error', () => undefined); // refused until the server listens
  cleanups.push(async () => {
    admin.disconnect();
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(`redis-server on ${port}`, async () => ((await admin.ping()) === 'PONG' ? true : undefined));
  return { port, admin };
}

function capturedLogger() {
  const lines: { level: number; msg: string; appendfsync?: string }[] = [];
  const logger = createLogger({
    name: 'durability-test',
    level: 'info',
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

const WARN = 40;

function settings(url: string, allow: boolean): StorageSettings {
  return {
    REDIS_URL: url,
    QUEUE_PREFIX: 'rf-durability',
    LEDGER_PREFIX: 'rf-durability:ledger',
    ALLOW_LEDGER_WITHOUT_AOF: allow,
  };
}

async function close(storage: Awaited<ReturnType<typeof openStorage>>): Promise<void> {
  for (const step of storageShutdownSteps(storage)) await step.run();
}

/** The connections a part opened (named `rechargeflow:<part>…`) that are still open. */
async function partConnections(admin: Redis): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return [...list.matchAll(/name=(rechargeflow:\S*)/g)].map((m) => m[1] as string);
}

describe('openStorage: the Redis ledger must survive a Redis restart', () => {
  it('refuses a Redis with appendonly no, naming the setting and the way out, unless ALLOW_LEDGER_WITHOUT_AOF is on', async () => {
    const redis = await startRedis(['--appendonly', 'no']);
    const url = `redis://127.0.0.1:${redis.port}`;

    const refused = capturedLogger();
    const attempt = openStorage(settings(url, false), 'api', 'producer', refused.logger);
    await expect(attempt).rejects.toBeInstanceOf(LedgerDurabilityError);
    await expect(attempt).rejects.toThrow(
      /appendonly no.*appendonly yes.*MONGO_URL.*ALLOW_LEDGER_WITHOUT_AOF=on/,
    );
    // A refused part leaves no connection open behind it.
    await waitFor('the refused part to close its connections', async () =>
      (await partConnections(redis.admin)).length === 0 ? true : undefined,
    );

    const allowed = capturedLogger();
    const storage = await openStorage(settings(url, true), 'api', 'producer', allowed.logger);
    try {
      expect(storage.ledger.kind).toBe('redis');
      const warning = allowed.lines.find((l) => /appendonly no/.test(l.msg));
      expect(warning?.level).toBe(WARN);
    } finally {
      await close(storage);
    }
  });

  it('starts on a Redis with an append-only file without the flag, and logs the appendfsync it has (a warning for no)', async () => {
    const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    const url = `redis://127.0.0.1:${redis.port}`;
    const seen: Record<string, { level: number; msg: string } | undefined> = {};
    for (const fsync of ['always', 'everysec', 'no'] as const) {
      await redis.admin.config('SET', 'appendfsync', fsync);
      const { logger, lines } = capturedLogger();
      const storage = await openStorage(settings(url, false), 'worker', 'worker', logger);
      await close(storage);
      seen[fsync] = lines.find((l) => l.appendfsync !== undefined && l.appendfsync === fsync);
    }
    expect(seen.always).toMatchObject({ level: 30, msg: expect.stringMatching(/loses nothing/) });
    expect(seen.everysec).toMatchObject({ level: 30, msg: expect.stringMatching(/last second/) });
    expect(seen.no).toMatchObject({
      level: WARN,
      msg: expect.stringMatching(/appendfsync always or everysec/),
    });
  });

  it("asks the ledger's own Redis (LEDGER_REDIS_URL), not the queue side's, and puts each role where it is told", async () => {
    const withAof = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    const withoutAof = await startRedis(['--appendonly', 'no']);
    const aofUrl = `redis://127.0.0.1:${withAof.port}`;
    const plainUrl = `redis://127.0.0.1:${withoutAof.port}`;
    // Queues on the Redis without AOF, ledger on the one with it: no flag needed.
    const split = {
      ...settings('redis://127.0.0.1:1', false),
      LEDGER_REDIS_URL: aofUrl,
      QUEUE_REDIS_URL: plainUrl,
    };
    const { logger, lines } = capturedLogger();
    const storage = await openStorage(split, 'worker', 'worker', logger);
    try {
      expect(lines.find((l) => l.appendfsync === 'always')?.msg).toMatch(/loses nothing/);
      expect(await partConnections(withAof.admin)).toEqual(['rechargeflow:worker:ledger']);
      expect(await partConnections(withoutAof.admin)).toEqual(['rechargeflow:worker']);
    } finally {
      await close(storage);
    }
    // The other way round the ledger would sit on a Redis without AOF: refused.
    const swapped = { ...split, LEDGER_REDIS_URL: plainUrl, QUEUE_REDIS_URL: aofUrl };
    await expect(openStorage(swapped, 'api', 'producer', capturedLogger().logger)).rejects.toBeInstanceOf(
      LedgerDurabilityError,
    );
  });

  it('starts where an ACL refuses CONFIG: AOF read from INFO, appendfsync logged as unknown', async () => {
    const redis = await startRedis(['--appendonly', 'yes']);
    await redis.admin.call(
      'ACL',
      'SETUSER',
      'app',
      'on',
      '>app-password-0123456789',
      '~*',
      '&*',
      '+@all',
      '-config',
    );
    const url = `redis://app:app-password-0123456789@127.0.0.1:${redis.port}`;
    const { logger, lines } = capturedLogger();
    const storage = await openStorage(settings(url, false), 'poller', 'worker', logger);
    await close(storage);
    expect(lines.find((l) => l.appendfsync === 'unknown')?.msg).toMatch(/appendfsync unknown/);
  });
});
