import { randomUUID } from 'node:crypto';
import { deleteByPrefix, startApp } from '@rechargeflow/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

describe('worker start-up configuration', () => {
  it('names each bad provider variable', async () => {
    const part = startApp('worker', {
      A1TOPUP_BASE_URL: 'not a url',
      A1TOPUP_USERNAME: '',
      A1TOPUP_PASSWORD: '',
      PROVIDER_TIMEOUT_MS: '0',
      A1TOPUP_FORMAT: 'yaml',
      A1TOPUP_RECHARGE_KEEP_ALIVE_MS: '90000',
      TELGOO5_RECHARGE_KEEP_ALIVE_MS: 'soon',
      WORKER_QUEUES: 'recharges,batch',
    });
    expect(await part.exited).toBe(2);
    const text = part.lines.join('\n');
    for (const name of [
      'A1TOPUP_BASE_URL',
      'A1TOPUP_USERNAME',
      'A1TOPUP_PASSWORD',
      'PROVIDER_TIMEOUT_MS',
      'A1TOPUP_FORMAT',
      'A1TOPUP_RECHARGE_KEEP_ALIVE_MS',
      'TELGOO5_RECHARGE_KEEP_ALIVE_MS',
      'WORKER_QUEUES',
    ]) {
      expect(text).toContain(`${name}:`);
    }
    expect(text).toContain('A1TOPUP_RECHARGE_KEEP_ALIVE_MS: must be at most 60000');
    expect(text).toContain('TELGOO5_RECHARGE_KEEP_ALIVE_MS: must be a number');
    expect(text).toContain('WORKER_QUEUES: each must be recharges, webhooks or batches (not "batch")');
  });

  it('warns at start-up when the Redis ledger has no append-only file, and only then', async () => {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const admin = new Redis(redisUrl);
    const prefix = `rf-test-worker-aof-${randomUUID().slice(0, 8)}`;
    const part = startApp('worker', {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LEDGER_PREFIX: `${prefix}:ledger`,
      A1TOPUP_BASE_URL: 'http://127.0.0.1:9',
      A1TOPUP_USERNAME: 'u',
      A1TOPUP_PASSWORD: 'p',
    });
    try {
      await part.waitForLine(/recharge worker running/);
      const [, appendonly] = (await admin.config('GET', 'appendonly')) as string[];
      const warned = part.lines.some((l) => l.includes('the Redis ledger has no append-only file'));
      expect(warned).toBe(appendonly !== 'yes');
    } finally {
      expect(await part.stop()).toBe(0);
      await deleteByPrefix(admin, prefix);
      await admin.quit();
    }
  });

  it('refuses that Redis ledger unless ALLOW_LEDGER_WITHOUT_AOF is on, naming the setting', async () => {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const admin = new Redis(redisUrl);
    const [, appendonly] = (await admin.config('GET', 'appendonly')) as string[];
    const prefix = `rf-test-worker-noaof-${randomUUID().slice(0, 8)}`;
    const part = startApp('worker', {
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LEDGER_PREFIX: `${prefix}:ledger`,
      ALLOW_LEDGER_WITHOUT_AOF: 'off',
      A1TOPUP_BASE_URL: 'http://127.0.0.1:9',
      A1TOPUP_USERNAME: 'u',
      A1TOPUP_PASSWORD: 'p',
    });
    try {
      if (appendonly === 'yes') {
        await part.waitForLine(/recharge worker running/);
        return;
      }
      expect(await part.exited).toBe(1);
      expect(part.lines.join('\n')).toMatch(
        /worker: failed to start: .*appendonly no.*ALLOW_LEDGER_WITHOUT_AOF=on/,
      );
    } finally {
      await part.stop();
      await deleteByPrefix(admin, prefix);
      await admin.quit();
    }
  });
});
